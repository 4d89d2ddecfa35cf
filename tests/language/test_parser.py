"""The expression language's parser: precedence, programs, every kind of rejection, limits, fuzzing."""
import os
import sys

import pytest
from hypothesis import given, settings, strategies as st

from autodiff_cli.errors import AutodiffError
from autodiff_cli.language import Binary, Call, Name, Num, Unary, parse
from autodiff_cli.language.nodes import children


def show(node):
    """Fully parenthesised text of a tree (iterative, like everything that walks trees)."""
    out = {}
    stack = [(node, False)]
    while stack:
        n, done = stack.pop()
        if not done:
            stack.append((n, True))
            stack.extend((k, False) for k in children(n))
            continue
        if isinstance(n, Num):
            out[id(n)] = n.constant or (str(int(n.value)) if n.value.is_integer() else repr(n.value))
        elif isinstance(n, Name):
            out[id(n)] = n.id
        elif isinstance(n, Unary):
            out[id(n)] = f"({n.op}{out[id(n.operand)]})"
        elif isinstance(n, Binary):
            out[id(n)] = f"({out[id(n.left)]} {n.op} {out[id(n.right)]})"
        else:
            args = ", ".join(out[id(a)] for a in n.args)
            axis = f", axis={n.axis}" if n.axis is not None else ""
            out[id(n)] = f"{n.func}({args}{axis})"
    return out[id(node)]


@pytest.mark.parametrize("text, expected", [
    ("1 + 2 * 3", "(1 + (2 * 3))"),
    ("1 - 2 - 3", "((1 - 2) - 3)"),
    ("8 / 4 / 2", "((8 / 4) / 2)"),
    ("2**3**2", "(2 ** (3 ** 2))"),
    ("2^3^2", "(2 ** (3 ** 2))"),
    ("-x**2", "(-(x ** 2))"),
    ("-2**2", "(-(2 ** 2))"),
    ("x**-y", "(x ** (-y))"),
    ("x**-y**2", "(x ** (-(y ** 2)))"),
    ("2**-x*3", "((2 ** (-x)) * 3)"),
    ("-x*y", "((-x) * y)"),
    ("--x", "(-(-x))"),
    ("+-+x", "(+(-(+x)))"),
    ("a @ b * c", "((a @ b) * c)"),
    ("a * b @ c", "((a * b) @ c)"),
    ("a @ b @ c", "((a @ b) @ c)"),
    ("a + b @ c", "(a + (b @ c))"),
    ("(a + b) * c", "((a + b) * c)"),
    ("x * y ** 2 / z", "((x * (y ** 2)) / z)"),
    ("sin(x)**2", "(sin(x) ** 2)"),
    ("-sin(x)", "(-sin(x))"),
    ("max(x, y)", "max(x, y)"),
    ("sum(x, axis=-1)", "sum(x, axis=-1)"),
    ("mean(x,axis=0)", "mean(x, axis=0)"),
    ("max(x, axis = 1)", "max(x, axis=1)"),
    ("pow(x, 2)", "pow(x, 2)"),
    ("2*pi*e", "((2 * pi) * e)"),
    ("sin (x)", "sin(x)"),
    ("1e-3 + .5 + 2. + 1_000", "(((0.001 + 0.5) + 2) + 1000)"),
    ("x # a comment", "x"),
    ("sum(x,\n    axis=0)", "sum(x, axis=0)"),
])
def test_precedence_and_associativity(text, expected):
    assert show(parse(text).output) == expected


def test_numbers_are_float64_and_big_literals_are_inf():
    assert parse("1e999").output.value == float("inf")
    node = parse("9**9**9**9").output
    assert isinstance(node, Binary) and all(isinstance(n, (Binary, Num)) for n in children(node))
    assert parse("3").output.value == 3.0 and isinstance(parse("3").output.value, float)


def test_spans_and_columns():
    p = parse("a + sin(b * 2)")
    call = p.output.right
    assert isinstance(call, Call)
    assert p.source[call.start:call.end] == "sin(b * 2)"
    product = call.args[0]
    assert (product.start, product.end, product.op_start) == (8, 13, 10)
    # Parentheses widen the node they enclose, so enclosing snippets stay balanced.
    p = parse("(x + 1) * 2")
    assert p.source[p.output.start:p.output.end] == "(x + 1) * 2"
    assert p.source[p.output.left.start:p.output.left.end] == "(x + 1)"


def test_seed_program():
    p = parse("y = x + 1; z = 2*y**2; f = mean(z)")
    assert p.inputs == ["x"]
    assert p.intermediates == ["y", "z"]
    assert p.output_name == "f"
    assert [s.name for s in p.statements] == ["y", "z", "f"]
    assert show(p.output) == "mean(z)"
    assert p.source[p.statements[1].start:p.statements[1].end] == "z = 2*y**2"


@pytest.mark.parametrize("text, inputs, intermediates, output_name", [
    ("x*y + z", ["x", "y", "z"], [], None),
    ("b + a + b", ["b", "a"], [], None),
    ("z = x*y; w = z + x", ["x", "y"], ["z"], "w"),
    ("z = x*y; z + x", ["x", "y"], ["z"], None),
    ("z = x*y\nw = z + x\n", ["x", "y"], ["z"], "w"),
    ("z = x*y;\n\n;w = z + x;;\n", ["x", "y"], ["z"], "w"),
    ("a = 1; b = a*x; c = b + y; c*a", ["x", "y"], ["a", "b", "c"], None),
    ("x = 2", [], [], "x"),
])
def test_programs(text, inputs, intermediates, output_name):
    p = parse(text)
    assert (p.inputs, p.intermediates, p.output_name) == (inputs, intermediates, output_name)


def rejected(text, kind="parse"):
    with pytest.raises(AutodiffError) as info:
        parse(text)
    err = info.value
    assert err.kind == kind
    assert err.source == text or kind == "limit"
    return err


@pytest.mark.parametrize("text, column, words", [
    # missing operators, with a hint
    ("2x", 2, "missing operator"),
    ("2 (x+1)", 3, "missing operator"),
    ("x y", 3, "missing operator"),
    ("(x)(y)", 4, "missing operator"),
    # brackets
    ("(x + 1", 1, "never closed"),
    ("sin(x", 4, "never closed"),
    ("((x) + (y)", 1, "never closed"),
    ("x + 1)", 6, "unmatched ')'"),
    ("x)(", 2, "unmatched ')'"),
    ("()", 1, "empty parentheses"),
    # unexpected end / operands
    ("x +", 4, "unexpected end"),
    ("x * * y", 5, "expected an expression"),
    ("* x", 1, "expected an expression"),
    ("x = ", 5, "unexpected end"),
    ("x = ; y", 5, "expected an expression"),
    ("sin(x,)", 7, "argument after ','"),
    ("sin(,x)", 5, "expected an expression"),
    # unsupported constructs
    ("a.b", 2, "attribute access"),
    ("x.T + 1", 2, "attribute access"),
    ("np.sin(x)", 3, "attribute access"),
    ("x[1.5]", 3, "integers or slices"),
    ("[]", 1, "empty list"),
    ("'abc'", 1, "strings"),
    ("\"abc\"", 1, "strings"),
    ("f'{x}'", 1, "f-strings"),
    ("x + rb'a'", 5, "strings"),
    ("lambda x: x", 1, "lambda"),
    ("[x for x in y]", 4, "comprehensions"),
    ("(x for x in y)", 4, "comprehensions"),
    ("x if y else z", 3, "conditionals"),
    ("x and y", 3, "boolean"),
    ("not x", 1, "boolean"),
    ("import os", 1, "import"),
    ("None", 1, "None"),
    ("x == 1", 3, "comparison '=='"),
    ("x < 1", 3, "comparison '<'"),
    ("x != 1", 3, "comparison '!='"),
    ("x // 2", 3, "floor division"),
    ("x % 2", 3, "modulo"),
    ("x & y", 3, "bitwise"),
    ("x += 1", 3, "augmented assignment"),
    ("x **= 2", 3, "augmented assignment"),
    ("(y := 2)", 4, ":="),
    ("{x}", 1, "braces"),
    ("x, y", 2, "','"),
    ("(x, y)", 3, "tuples"),
    ("y = 1, 2", 6, "','"),
    ("0x1F", 1, "hexadecimal"),
    ("2j", 1, "complex"),
    ("x \\\n + 1", 3, "backslash"),
    ("x ? y", 3, "'?'"),
    ("x $ y", 3, "'$'"),
    # assignments and names
    ("pi = 3", 1, "constant 'pi'"),
    ("e = 3; e", 1, "constant 'e'"),
    ("sin = 2", 1, "function name"),
    ("y = 1; y = 2", 8, "assigned twice"),
    ("y = z; z = 1", 5, "used before it is assigned"),
    ("x = x + 1", 5, "used before it is assigned"),
    ("x + 1 = 2", 7, "cannot assign"),
    ("f(x) = 2", 1, "unknown function 'f'"),
    ("x = y = 2", 7, "cannot assign"),
    ("x + 1; y = 2", 1, "only the last statement"),
    ("sin + 1", 1, "'sin' is a function"),
    ("pi(2)", 1, "constant"),
    ("", 1, "empty"),
    (" ;\n; ", 1, "empty"),
    # calls
    ("sin()", 1, "takes 1 argument (0 given)"),
    ("sin(x, y)", 1, "takes 1 argument (2 given)"),
    ("pow(x)", 1, "takes 2 arguments (1 given)"),
    ("max(a, b, c)", 1, "takes 1 or 2 arguments (3 given)"),
    ("sum(x, 1)", 1, "takes 1 argument (2 given)"),
    ("sum(x, keepdim=1)", 8, "unknown keyword argument 'keepdim'"),
    ("sin(x, axis=0)", 8, "takes no keyword arguments"),
    ("max(a, b, axis=0)", 11, "takes no axis="),
    ("sum(x, axis=1.5)", 13, "axis must be an integer"),
    ("sum(x, axis=y)", 13, "axis must be an integer"),
    ("sum(x, axis=0, 1)", 14, "must be the last argument"),
    ("sum(axis=0, x)", 11, "must be the last argument"),
    ("x(2)", 1, "unknown function 'x'"),
    ("sum(x, (axis=1))", 13, "unexpected '='"),
])
def test_errors_name_the_column(text, column, words):
    err = rejected(text)
    assert err.position == column, (str(err), err.position)
    assert words in err.message, err.message


@pytest.mark.parametrize("text, hint", [
    ("2x", "write 2*x"),
    ("3.5y + 1", "write 3.5*y"),
    ("sine(x)", "did you mean 'sin'?"),
    ("sqr(x)", "did you mean 'sqrt'?"),
    ("maxx(x)", "did you mean 'max'?"),
    ("sum(x, 1)", "sum(x, axis=k)"),
    ("π*x", "write pi"),
    ("2×x", "write *"),
    ("x²", "write **2"),
    ("np.exp(x)", "write exp(...) without a prefix"),
])
def test_helpful_hints(text, hint):
    err = rejected(text)
    assert hint in err.hint, err.hint
    assert err.hint in str(err)


def test_unexpected_unicode_character_is_named():
    err = rejected("x + ∂y")
    assert err.position == 5
    assert "'∂'" in err.message and "U+2202" in err.message


def test_error_positions_count_characters_across_lines():
    err = rejected("y = x\nz = y +")
    assert err.position == len("y = x\nz = y +") + 1
    err = rejected("y = x\nz = y $ 2")
    assert err.position == 13


@pytest.mark.parametrize("text", [
    "__import__('os').system('touch /tmp/pwned')",
    "__import__(\"os\")",
    "().__class__.__bases__[0].__subclasses__()",
    "x.__class__",
    "open('/etc/passwd')",
    "exec('1')",
    "eval('1')",
    "(lambda: 1)()",
    "[c for c in ().__class__.__base__.__subclasses__()]",
    "f'{__import__(\"os\").system(\"touch /tmp/pwned\")}'",
    "globals()['x']",
    "x[__import__('os')]",
    "breakpoint()",
])
def test_security_cases_are_rejected_and_nothing_runs(text, tmp_path):
    marker = "/tmp/pwned"
    existed = os.path.exists(marker)
    imported_before = set(sys.modules)
    err = rejected(text)
    assert err.position is not None
    assert os.path.exists(marker) == existed
    assert "os" not in set(sys.modules) - imported_before


def test_import_is_reported_as_unknown_function():
    err = rejected("__import__('os').system('touch /tmp/pwned')")
    assert err.message == "unknown function '__import__'" and err.position == 1


def test_length_limit(monkeypatch):
    monkeypatch.setenv("AUTODIFF_MAX_EXPR_LENGTH", "10")
    parse("x+y")
    err = rejected("x+y+z+w+v+u", kind="limit")
    assert "11 characters" in err.message


def test_long_number_literal_is_a_limit_error():
    err = rejected("x + " + "1" * 500, kind="limit")
    assert err.position == 5
    parse("1" * 300)                                   # long but sensible: fine (it is 1.1e299)


def test_nesting_depth_limit_is_an_error_not_a_recursion_error():
    depth = 10_000
    err = rejected("(" * depth + "x" + ")" * depth, kind="limit")
    assert err.position == 1001
    err = rejected("sin(" * depth + "x" + ")" * depth, kind="limit")
    assert "deeper than 1000" in err.message
    rejected("-" * depth + "x", kind="limit")
    rejected("x" + "**-x" * depth, kind="limit")
    parse("(" * 999 + "x" + ")" * 999)


def test_nesting_depth_limit_follows_the_environment(monkeypatch):
    monkeypatch.setenv("AUTODIFF_MAX_DEPTH", "3")
    parse("((x))")
    parse("-(-x)")
    rejected("(((-x)))", kind="limit")


def test_long_exponent_chains_and_sums_do_not_recurse():
    # Right-leaning (**) and left-leaning (+) chains far deeper than Python's recursion limit.
    p = parse("**".join(["x"] * 20_000))
    assert p.inputs == ["x"]
    p = parse("x" + "-x" * 20_000)
    assert p.output.op == "-"


def _calls_to_parse(text):
    """The Python and C function calls made while parsing `text`: the parser's work, counted
    (the same on any machine, loaded or not), where a timing would measure the machine."""
    calls = [0]

    def count(frame, event, arg):
        if event in ("call", "c_call"):
            calls[0] += 1
    sys.setprofile(count)
    try:
        program = parse(text)
    finally:
        sys.setprofile(None)
    return program, calls[0]


def test_flat_sum_of_200000_terms_parses_in_linear_work():
    program, small = _calls_to_parse("+".join(["x"] * 20_000))
    program, large = _calls_to_parse("+".join(["x"] * 200_000))
    assert program.inputs == ["x"]
    assert large <= 10.5 * small, (small, large)      # ten times the terms: ten times the work


# --- fuzzing: any text either parses or is an AutodiffError ------------------------------------

def parses_or_rejects(text):
    try:
        program = parse(text)
    except AutodiffError as err:
        assert err.kind in ("parse", "limit")
        assert err.position is None or 1 <= err.position <= len(text) + 1
        assert err.message
        return None
    assert program.statements
    return program


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=60))
def test_fuzz_random_text(text):
    parses_or_rejects(text)


TOKENS = ["x", "y", "z", "pi", "e", "1", "2.5", "1e3", ".5", "+", "-", "*", "/", "**", "^", "@", "(", ")",
          ",", "=", ";", "\n", " ", "sin", "max", "sum", "pow", "axis", "axis=", "axis=-1", "a.b", "[", "]",
          "'", "\"", "lambda", "for", "if", "==", "//", "%", "#", "\\", "π", "__import__", "0x", "j", ":",
          "{", "}", "2x", "+=", "sigmoid", "dot", "matmul", "1" * 450]


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=25), st.booleans())
def test_fuzz_token_soup(parts, spaced):
    parses_or_rejects((" " if spaced else "").join(parts))
