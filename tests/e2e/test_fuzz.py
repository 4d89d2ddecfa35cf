"""Property-based fuzzing of every layer that reads user text: the expression parser, the binding
grammar (text and JSON), `evaluate()` and the batch reader. Whatever the input, only
`AutodiffError` may come out (or a result); `evaluate()` never raises and its record is strict
JSON. Bounded: the whole file runs in well under a minute (deadline=None: CI machines are slow).
"""
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from autodiff_cli.inputs.bindings import parse_binding_arg
from autodiff_cli.inputs.bindings import parse_gradient_seed
from autodiff_cli.inputs.bindings import parse_value
from autodiff_cli.inputs.bindings import value_from_json
from autodiff_cli.errors import AutodiffError
from autodiff_cli.api import evaluate
from autodiff_cli.language import parse
from autodiff_cli.language.nodes import postorder

batch = pytest.importorskip("autodiff_cli.batch")

FAST = settings(max_examples=1000, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
SLOW = settings(max_examples=300, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
CHECKED = settings(max_examples=400, deadline=None, database=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def _reject_constant(name):
    raise ValueError(f"non-standard JSON constant {name}")


# --- strategies ---------------------------------------------------------------------------------

FUNCS = ["sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "exp", "log", "log1p",
         "expm1", "sqrt", "abs", "sigmoid", "relu", "pow", "sum", "mean", "max", "min", "dot", "matmul",
         "foo", "__import__", "eval", "open", "exec", "lambda"]
TOKENS = (["x", "y", "z", "w", "pi", "e", "0", "1", "2.5", "1e308", "1e-3", "0.0", "9**9**9", "+", "-", "*",
           "/", "**", "^", "@", "(", ")", ",", "=", ";", "\n", " ", "axis=0", "axis=-1", "axis=7", "[", "]",
           ".", "'", '"', "#", "{", "}", ":", "<", "==", "\\", "\x00", "\u200b", "\u202e", "\U0001F600",
           "\ufeff", "\x1b", "_"] + FUNCS + [f + "(" for f in FUNCS])

token_soup = st.lists(st.sampled_from(TOKENS), max_size=40).map("".join)
junk_text = st.text(max_size=80)
expression_text = st.one_of(token_soup, junk_text,
                            st.text(alphabet="xy()+-*/^@,;=. 0123456789e", max_size=60))


@st.composite
def expressions(draw, depth=0):
    """Mostly well-formed expressions over x, y (vectors or scalars) with every function."""
    if depth > 4 or draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from(["x", "y", "1", "0", "2.5", "-1", "pi", "e", "1e308", "0.0"]))
    kind = draw(st.integers(0, 3))
    a = draw(expressions(depth + 1))
    if kind == 0:
        return f"({a})"
    if kind == 1:
        b = draw(expressions(depth + 1))
        return f"({a} {draw(st.sampled_from(['+', '-', '*', '/', '**', '@', '^']))} {b})"
    if kind == 2:
        func = draw(st.sampled_from(FUNCS[:18] + ["sum", "mean", "max", "min"]))
        if func == "pow":
            return f"pow({a}, {draw(expressions(depth + 1))})"
        return f"{func}({a})"
    func = draw(st.sampled_from(["sum", "mean", "max", "min", "dot", "matmul", "max", "min"]))
    if func in ("dot", "matmul", "max", "min") and draw(st.booleans()):
        return f"{func}({a}, {draw(expressions(depth + 1))})"
    return f"{func}({a}, axis={draw(st.integers(-3, 3))})"


finite_or_not = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64),
                          st.integers(-10**6, 10**6))
small_arrays = st.one_of(
    finite_or_not,
    st.lists(finite_or_not, min_size=0, max_size=4),
    st.lists(st.lists(finite_or_not, min_size=2, max_size=2), min_size=1, max_size=3),
)
binding_values = st.one_of(
    small_arrays,
    st.sampled_from(["rand(3)", "randn(2,2)", "ones(2)", "zeros(3)", "eye(2)", "arange(3)",
                     "linspace(0,1,3)", "nan", "inf", "-inf", "[1,2", "@/etc/passwd", "rand(-1)",
                     "ones(10**9)", "__import__('os')", "[[1],[2,3]]", "", "pi", "1e999"]),
    st.text(max_size=20),
    st.none(), st.booleans(),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
              st.text(max_size=12)),
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.text(max_size=5), children, max_size=4)),
    max_leaves=20)


# --- the parser ---------------------------------------------------------------------------------

@FAST
@given(expression_text)
@example("(" * 3000 + "x" + ")" * 3000)
@example("-" * 3000 + "x")
@example("x" + "**x" * 3000)
@example("sin(" * 2000 + "x" + ")" * 2000)
@example("1" * 500)
@example("")
@example("\x00")
@example("x = ")
def test_parse_only_raises_autodiff_error(text):
    try:
        program = parse(text)
    except AutodiffError as err:
        assert isinstance(err.kind, str) and isinstance(err.message, str)
        assert err.position is None or (isinstance(err.position, int) and 1 <= err.position <= len(text) + 1)
        return
    assert program.statements
    assert all(isinstance(name, str) and name.isidentifier() for name in program.inputs)
    _assert_recorded_postorder(program)


def _assert_recorded_postorder(program):
    """The post-order the parser records while building is the tree's post-order, node for node."""
    for statement in program.statements:
        assert statement.nodes is not None
        assert [id(n) for n in statement.nodes] == [id(n) for n in postorder(statement.expr)]


@FAST
@given(st.one_of(expressions(), st.lists(expressions(), min_size=1, max_size=4).map(
    lambda exprs: "; ".join(f"t{i} = {e}" for i, e in enumerate(exprs[:-1])) + ("; " if len(exprs) > 1 else "")
    + exprs[-1])))
@example("a[0] + [x, y][1] * -+x")
@example("reshape(x, 2, -1) + sum(A, axis=0, keepdims=1)")
def test_parse_generated_expressions(text):
    try:
        program = parse(text)
    except AutodiffError:
        return
    _assert_recorded_postorder(program)


# --- the binding grammar ------------------------------------------------------------------------

value_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet="[]0123456789.,-+eE@ ()infapdrsoluzxwgk", max_size=40),
    st.lists(st.sampled_from(["[", "]", ",", "1", "-2.5", "nan", "inf", "1e999", " ", "rand(", "ones(",
                              "arange(", "linspace(", "eye(", ")", "@", ".npy", ".csv", "9" * 30, "pi"]),
             max_size=20).map("".join),
)


@FAST
@given(value_text)
@example("[" * 40 + "1" + "]" * 40)
@example("ones(" + "9" * 5000 + ")")
@example("arange(0, 1e308, 1e-308)")
@example("linspace(0,1," + "9" * 40 + ")")
@example("rand(" + ",".join(["100"] * 32) + ")")
def test_parse_value_only_raises_autodiff_error(text):
    try:
        value = parse_value(text, rng=np.random.default_rng(0), max_elements=10_000)
    except AutodiffError as err:
        assert isinstance(err.message, str)
        return
    assert isinstance(value, np.ndarray) and value.dtype == np.float64
    assert value.size <= 10_000


@FAST
@given(st.text(max_size=30))
def test_parse_binding_arg_only_raises_autodiff_error(text):
    try:
        name, value = parse_binding_arg(text)
    except AutodiffError:
        return
    assert name.isidentifier()


@FAST
@given(json_values)
@example([[1, 2], [3]])
@example([[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]])
@example(float("nan"))
@example(True)
@example({"a": 1})
def test_value_from_json_only_raises_autodiff_error(obj):
    try:
        value = value_from_json(obj, rng=np.random.default_rng(0), max_elements=10_000)
    except AutodiffError:
        return
    assert isinstance(value, np.ndarray) and value.dtype == np.float64


def test_value_from_json_huge_int():
    with pytest.raises(AutodiffError):
        value_from_json(10**5000)


def test_evaluate_huge_int_binding():
    _assert_result(evaluate("x", {"x": 10**5000}))


@FAST
@given(st.one_of(value_text, json_values), st.sampled_from([(), (2,), (2, 2), (0,)]))
def test_gradient_seed_only_raises_autodiff_error(value, shape):
    try:
        seed = parse_gradient_seed(value, shape, rng=np.random.default_rng(0), max_elements=10_000)
    except AutodiffError:
        return
    assert seed.shape == shape


# --- evaluate -----------------------------------------------------------------------------------

def _evaluate(*args, **kwargs):
    return evaluate(*args, **kwargs)   # any exception at all fails the fuzz test


def _assert_result(result):
    assert result.status in ("ok", "mismatch", "error")
    if result.status == "error":
        assert isinstance(result.error, AutodiffError)
    record = json.loads(result.to_json(), parse_constant=_reject_constant)
    assert record["status"] == result.status
    if result.status == "error":
        assert set(record["error"]) == {"kind", "message", "position"}


@SLOW
@given(st.one_of(expressions(), expression_text),
       st.dictionaries(st.sampled_from(["x", "y", "z", "w", "q"]), binding_values, max_size=3),
       st.sampled_from(["grad", "hessian", "jacobian", "bogus"]),
       st.one_of(st.none(), st.sampled_from(["x", "y", "x,y", "", "q", ["x"], ["x", "x"], ",,"])),
       st.one_of(st.none(), st.sampled_from(["ones", "[1,2]", "1", "garbage"]), small_arrays))
def test_evaluate_never_raises(expr, bindings, mode, wrt, gradient):
    result = _evaluate(expr, bindings, mode=mode, wrt=wrt, gradient=gradient, check=False, random_seed=0)
    _assert_result(result)


def test_a_formula_sympy_cannot_convert_is_not_shown_and_the_check_stands():
    """SymPy recursed without end converting SymEngine's Piecewise for this max (found by hypothesis)."""
    result = _evaluate("(x - (max((x - (x * y)), ((x * y) ** -1))))", {"x": 0.5, "y": 2.0}, gradient="ones")
    assert result.status == "ok" and result.check.passed is True


def test_evaluate_checked_division_by_zero():
    """Was a KeyError ('ComplexInfinity') in the SymPy check; fixed in fa5a739."""
    _assert_result(evaluate("x/0", {"x": 0.5}, check=True))


def test_evaluate_jacobian_of_empty_reduction():
    _assert_result(evaluate("sum(x, axis=0)", {"x": []}, mode="jacobian", check=False))


def test_evaluate_wrt_not_strings():
    _assert_result(evaluate("x", {"x": 1}, wrt=[5]))


@SLOW
@given(expressions(), st.sampled_from([{"x": 0.5, "y": 2.0}, {"x": [0.5, -1.0], "y": 2.0},
                                       {"x": [[1.0, 2.0], [3.0, 4.0]], "y": [1.0, 0.0]},
                                       {"x": 0.0, "y": -1.0}, {"x": [], "y": 1.0}]))
def test_evaluate_generated_expressions(expr, bindings):
    for mode in ("grad", "jacobian"):
        result = _evaluate(expr, bindings, mode=mode, gradient="ones" if mode == "grad" else None, check=False)
        _assert_result(result)


@CHECKED
@given(expressions(), st.sampled_from([{"x": 0.5, "y": 2.0}, {"x": [0.5, -1.0], "y": 2.0}, {"x": 0.0, "y": 0.0}]))
def test_evaluate_with_check_never_raises(expr, bindings):
    result = _evaluate(expr, bindings, mode="grad", gradient="ones", check=True)
    _assert_result(result)


@SLOW
@given(st.one_of(st.integers(), st.floats(), st.none(), st.lists(st.integers(), max_size=3), st.binary(max_size=5)))
def test_evaluate_non_text_expression(expr):
    _assert_result(_evaluate(expr, {"x": 1}))


# --- the batch reader ---------------------------------------------------------------------------

def _json_lines():
    record = st.fixed_dictionaries(
        {"expr": st.one_of(expression_text, st.integers(), st.none())},
        optional={"bindings": st.one_of(st.dictionaries(st.text(max_size=3), json_values, max_size=3), json_values),
                  "gradient": json_values, "wrt": json_values, "id": json_values,
                  "mode": st.one_of(st.sampled_from(["grad", "hessian", "jacobian"]), json_values),
                  "junk": json_values})
    return record.map(lambda r: json.dumps(r))


line_strategy = st.one_of(
    _json_lines(),
    st.text(max_size=60),
    st.binary(max_size=60),
    st.lists(st.sampled_from(["x**2", " | ", "x=1", "y=[1, 2]", "--wrt", "x,y", "--mode", "hessian", "-g",
                              "ones", "--id", '"a b"', "'", '"', "#", "--bogus", "=", "|", "\t", "\ufeff",
                              "\r", "{", "}"]), max_size=12).map("".join),
)


def _check_records(lines):
    count = 0
    for number, record in batch.read_records(lines):
        count += 1
        assert isinstance(number, int) and number >= 1
        if isinstance(record, AutodiffError):
            assert isinstance(record, batch.RecordError)
            assert isinstance(str(record), str)
        else:
            assert isinstance(record, dict) and isinstance(record["expr"], str)
            assert set(record) == set(batch.JSON_KEYS)
    return count


@FAST
@given(st.lists(line_strategy, max_size=8))
def test_read_records_only_yields_records_or_record_errors(lines):
    encoded = [line.encode("utf-8", "surrogatepass") if isinstance(line, str) else line for line in lines]
    _check_records(lines)
    _check_records(encoded)


@FAST
@given(st.text(max_size=80))
def test_parse_text_record_only_raises_record_error(line):
    try:
        record = batch.parse_text_record(line)
    except batch.RecordError:
        return
    assert isinstance(record["expr"], str) and record["expr"]


@FAST
@given(st.one_of(_json_lines(), st.text(max_size=60).map(lambda t: "{" + t)))
def test_parse_json_record_only_raises_record_error(line):
    try:
        batch.parse_json_record(line)
    except batch.RecordError:
        pass


def test_parse_json_record_huge_integer():
    line = '{"expr": "x", "bindings": {"x": ' + "1" * 5000 + "}}"
    try:
        batch.parse_json_record(line)
    except batch.RecordError:
        pass


def test_read_records_counts_every_line():
    lines = [b'{"expr": "x"}\n', b"\xff\xfe\n", b"x | x=1\n", b"# c\n", b"\n", b"{bad\n", "\ufeffx\r\n"]
    assert _check_records(lines) == 5
