"""ui/tables.py, ui/graph.py, ui/errors.py: pure functions from a result (or a graph) to text people read.

Hand-made Result-like objects (SimpleNamespace) pin the layout independently of evaluate();
a few tests render real results and real engine graphs, including a 200,000-node-deep one."""
import io
import re
from types import SimpleNamespace

import numpy as np
from rich.console import Console

from autodiff_cli import Tensor
from autodiff_cli import evaluate
from autodiff_cli.ui import arrays, tables
from autodiff_cli.ui import error_line as errors
from autodiff_cli.ui import graph_drawing as graph
from autodiff_cli.errors import AutodiffError


def text_of(renderable, width=120, **options):
    console = Console(file=io.StringIO(), width=width, **options)
    console.print(renderable)
    return console.file.getvalue()


def check_report(method="sympy", passed=True, error=0.0, symbolic=None, per_variable=None, notes=()):
    return SimpleNamespace(method=method, passed=passed, max_abs_error=error, symbolic=symbolic or {},
                           per_variable=per_variable or {}, notes=list(notes))


def variable_check(error=0.0, passed=True, note=None):
    return SimpleNamespace(error=error, passed=passed, note=note)


def fake_result(**fields):
    base = dict(expression="3*x**2+2*x*y+y**2", mode="grad", status="ok", value=np.array(17.0),
                inputs={"x": np.array(2.0), "y": np.array(1.0)}, wrt=["x", "y"],
                gradients={"x": np.array(14.0), "y": np.array(6.0)}, intermediates={}, hessian={},
                jacobian={}, check=check_report(symbolic={"x": "6*x + 2*y", "y": "2*x + 2*y"},
                                                per_variable={"x": variable_check(), "y": variable_check()}),
                error=None, warnings=[], steps=[], output=None, leaves={})
    base.update(fields)
    return SimpleNamespace(**base)


# --- numbers and arrays ------------------------------------------------------------------------

def test_format_number():
    assert arrays.number(17.0) == "17"
    assert arrays.number(-0.0) == "0"
    assert arrays.number(3.5000000000000004) == "3.5"
    assert arrays.number(float("nan")) == "nan"
    assert arrays.number(float("-inf")) == "-inf"
    assert arrays.number(1e-20) == "1e-20"
    assert arrays.number(0.123456789) == "0.123457" and arrays.number(0.123456789, 3) == "0.123"


VIEW = arrays.View(width=80)


def test_small_arrays_print_aligned_with_their_shape():
    lines = arrays.array_lines(np.array([[1.0, 2.0], [3.0, 4.5]]), VIEW)
    assert lines == ["     0    1", "0    1    2", "1    3  4.5"]
    assert arrays.array_lines(np.array(2.5), VIEW) == ["2.5"]
    assert arrays.inline(np.array([1.0, np.nan]), VIEW) == "[1, nan]"
    text = text_of(tables.render_result(fake_result(value=np.array([[1.0, 2.0], [3.0, 4.5]]))))
    assert "value, shape (2, 2):" in text


def test_wide_arrays_are_shown_in_column_blocks_that_fit():
    a = np.arange(40, dtype=float).reshape(2, 20) * 1000.123
    lines = arrays.array_lines(a, VIEW)
    assert all(len(line) <= 80 for line in lines)
    blocks = [line for line in lines if line.startswith("column")]
    assert blocks == ["columns 0-7", "columns 8-15", "columns 16-19"]
    shown = " ".join(lines)
    assert all(arrays.number(v) in shown for v in a.ravel())        # every element, none cut
    assert "…" not in shown


def test_large_arrays_are_summarised():
    a = np.arange(1000, dtype=float)
    a[3] = np.nan
    text = "\n".join(arrays.array_lines(a, VIEW))
    assert "shape (1000,)" in text
    assert "min 0, max 999" in text and "norm" in text and "1 nan" in text
    assert "largest: [3] nan, [999] 999, [998] 998" in text
    assert "--full" in text and "--json" in text
    assert len(text.splitlines()) <= 6
    assert "shape (20, 50), 1000 elements" in "\n".join(arrays.array_lines(np.zeros((20, 50)), VIEW))
    full = arrays.array_lines(a, arrays.View(width=80, full=True))
    assert len(full) > 100


def test_the_largest_entries_break_ties_by_index():
    """Among equal magnitudes the summary lists the lowest indices, largest first, whatever order
    np.argpartition leaves ties in (it differs between numpy versions and array sizes)."""
    rng = np.random.default_rng(0)
    cases = [np.ones(1000), 2 * np.eye(50).ravel(), np.tile([1.0, -3.0, 3.0, 2.0], 300),
             np.array([np.inf, 1.0, np.nan, -np.inf] * 100), rng.integers(-3, 4, 5000).astype(float)]
    for a in cases:
        magnitude = np.abs(a)
        magnitude[np.isnan(a)] = np.inf
        expected = np.lexsort((np.arange(a.size), -magnitude))[:arrays.LARGEST_SHOWN].tolist()
        assert arrays._largest(a) == expected, a
    text = "\n".join(arrays.array_lines(np.ones((30, 30)), VIEW))
    assert "largest: [0,0] 1, [0,1] 1, [0,2] 1, [0,3] 1, [0,4] 1" in text


def test_element_labels():
    assert arrays.element_labels("x", ()) == ["x"]
    assert arrays.element_labels("x", (2,)) == ["x[0]", "x[1]"]
    assert arrays.element_labels("W", (2, 2)) == ["W[0,0]", "W[0,1]", "W[1,0]", "W[1,1]"]


# --- errors --------------------------------------------------------------------------------------

def test_caret_picture_points_at_the_column():
    picture = errors.caret_picture("x + * 2", 5)
    line, caret = picture.splitlines()
    assert line == "  x + * 2"
    assert caret.index("^") == line.index("*")


def test_caret_picture_multiline_and_long_sources():
    picture = errors.caret_picture("z = x*y\nw = z $ x", 15)
    line, caret = picture.splitlines()
    assert line.strip() == "w = z $ x" and line[caret.index("^")] == "$"
    long = "x+" * 200 + "?" + "+x" * 200
    line, caret = errors.caret_picture(long, 401).splitlines()
    assert len(line) < 120 and line[caret.index("^")] == "?"
    assert errors.caret_picture(None, 3) is None
    assert errors.caret_picture("x", None) is None


def test_error_text():
    err = AutodiffError("parse", "unexpected '*'", 5, hint="write 2*x", source="x + * 2")
    text = errors.error_text(err)
    lines = text.splitlines()
    assert lines[0] == "error: unexpected '*' at column 5 (write 2*x)"
    assert lines[2].index("^") == lines[1].index("*")
    assert errors.error_text(AutodiffError("name", "unbound variable 'y'")) == "error: unbound variable 'y'"


# --- results ---------------------------------------------------------------------------------------

def test_design_card_layout():
    text = text_of(tables.render_result(fake_result()))
    assert "3*x**2+2*x*y+y**2" in text and "x = 2, y = 1" in text
    assert re.search(r"value\s+17", text)
    assert re.search(r"x\s+2\s+14\s+6\*x \+ 2\*y\s+✓\s*$", text, re.M)
    assert re.search(r"y\s+1\s+6\s+2\*x \+ 2\*y\s+✓", text)
    assert "checked with SymPy: agrees" in text


def test_no_colour_without_a_terminal_or_with_no_color(monkeypatch):
    result = fake_result(status="mismatch", check=check_report(
        passed=False, error=0.6, per_variable={"x": variable_check(0.6, False), "y": variable_check()}))
    assert "\x1b[" not in text_of(tables.render_result(result))     # a StringIO is not a terminal
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b[31" not in text_of(tables.render_result(result), force_terminal=True)


def test_mismatch_is_a_red_row():
    result = fake_result(status="mismatch", check=check_report(
        passed=False, error=0.6, symbolic={"x": "6*x + 2*y", "y": "2*x + 2*y"},
        per_variable={"x": variable_check(0.6, False), "y": variable_check()}))
    text = text_of(tables.render_result(result), force_terminal=True, color_system="standard")
    x_row = next(line for line in text.splitlines() if "6*x + 2*y" in line)
    y_row = next(line for line in text.splitlines() if "2*x + 2*y" in line and "6*x" not in line)
    assert "\x1b[31m" in x_row or "\x1b[1;31m" in x_row
    assert "✗ 6.0e-01" in x_row
    assert "\x1b[31m" not in y_row
    plain = text_of(tables.render_result(result))
    assert "MISMATCH" in plain


def test_an_agreeing_check_shows_no_rounding_noise():
    """An error within the check's tolerance is noise (8.9e-16 here, 4.4e-16 on another machine):
    the human output says "agrees" without the figure, so snapshots do not pin it; a mismatch
    keeps its figures (--json keeps them all)."""
    for method in ("sympy", "finite-difference"):
        agreeing = fake_result(check=check_report(method=method, error=8.9e-16, per_variable={
            "x": variable_check(8.9e-16), "y": variable_check(4.4e-16)}))
        text = text_of(tables.render_result(agreeing))
        assert "agrees" in text and "e-16" not in text and "error" not in text
        assert re.search(r"^\s*x\s.*✓\s*$", text, re.M) and re.search(r"^\s*y\s.*✓\s*$", text, re.M)
    wrong = fake_result(status="mismatch", check=check_report(passed=False, error=0.6, per_variable={
        "x": variable_check(0.6, False), "y": variable_check(4.4e-16)}))
    text = text_of(tables.render_result(wrong))
    assert "MISMATCH (max abs error 0.6)" in text and "✗ 6.0e-01" in text and "e-16" not in text


def test_check_methods_and_notes():
    fd = fake_result(check=check_report(
        method="finite-difference", error=1e-9, symbolic={},
        per_variable={"x": variable_check(1e-9, True, "central differences along 3 random directions")},
        notes=["central differences along 3 random directions (all variables together)"]))
    text = text_of(tables.render_result(fd))
    assert "checked with central finite differences: agrees" in text
    assert "3 random directions" in text
    assert "derivative (SymPy)" not in text          # no symbolic column when nothing was formed
    none = text_of(tables.render_result(fake_result(check=None)))
    assert "not checked" in none and "✓" not in none
    kink = fake_result(check=check_report(per_variable={
        "x": variable_check(0.5, None, "non-differentiable point: PyTorch's convention"), "y": variable_check()}))
    text = text_of(tables.render_result(kink))
    assert "non-differentiable point: PyTorch's convention" in text


def test_intermediates():
    result = fake_result(expression="z = x*y; w = z + x", intermediates={
        "z": {"value": np.array(6.0), "gradient": np.array(1.0)}})
    text = text_of(tables.render_result(result))
    assert "Named intermediates" in text and re.search(r"z\s+6\s+1", text)


def test_hessian_is_a_labelled_matrix():
    result = fake_result(mode="hessian", expression="sum(x**3)*y", value=np.array(27.0),
                         inputs={"x": np.array([1.0, 2.0]), "y": np.array(3.0)}, gradients={},
                         hessian={"x": {"x": np.diag([18.0, 36.0]), "y": np.array([3.0, 12.0])},
                                  "y": {"x": np.array([3.0, 12.0]), "y": np.array(0.0)}})
    text = text_of(tables.render_result(result))
    assert re.search(r"x\[0\]\s+x\[1\]\s+y", text)
    assert re.search(r"x\[0\]\s+18\s+0\s+3", text)
    assert re.search(r"x\[1\]\s+0\s+36\s+12", text)
    assert re.search(r"\by\s+3\s+12\s+0", text)


def test_jacobian_is_a_labelled_table():
    result = fake_result(mode="jacobian", expression="x*y", value=np.array([3.0, 6.0]),
                         inputs={"x": np.array([1.0, 2.0]), "y": np.array(3.0)}, gradients={},
                         jacobian={"x": np.diag([3.0, 3.0]), "y": np.array([1.0, 2.0])})
    text = text_of(tables.render_result(result))
    assert re.search(r"x\[0\]\s+x\[1\]\s+y", text)
    assert re.search(r"f\[0\]\s+3\s+0\s+1", text)
    assert re.search(r"f\[1\]\s+0\s+3\s+2", text)


def test_big_hessian_is_summarised_with_its_largest_entries():
    n = 50
    result = fake_result(mode="hessian", expression="sum(x**2)", value=np.array(1.0), gradients={},
                         inputs={"x": np.zeros(n)}, hessian={"x": {"x": 2 * np.eye(n)}})
    text = text_of(tables.render_result(result))
    assert "Hessian (50 x 50)" in text and "shape (50, 50)" in text
    assert "largest: x[0],x[0] 2, x[1],x[1] 2" in text
    assert len(text.splitlines()) < 40


# --- steps, graph, dot -----------------------------------------------------------------------------

def test_steps_table_from_a_real_result():
    result = evaluate("z = x*y; w = sin(z) + x", {"x": "2", "y": "3"}, check=False, trace=True)
    text = text_of(tables.render_steps(result))
    ops_in_order = [op for op in re.findall(r"\b(\w+Backward\d)\b", text)]
    assert ops_in_order == ["MulBackward0", "SinBackward0", "AddBackward0"]
    assert "dL/dnode" in text


def _chain(depth):
    x = Tensor(1.0, requires_grad=True)
    y = x
    for _ in range(depth):
        y = y * 1.0
    return x, y


def test_graph_tree_of_a_small_graph():
    x, y = Tensor(2.0, requires_grad=True), Tensor(1.0, requires_grad=True)
    out = x * x + y
    text = text_of(graph.render_graph(out, {"x": x, "y": y}))
    names = re.findall(r"(AddBackward0|MulBackward0|AccumulateGrad\(\w\))", text)
    assert names == ["AddBackward0", "MulBackward0", "AccumulateGrad(x)", "AccumulateGrad(x)", "AccumulateGrad(y)"]
    assert "(shared, above)" in text and "4 nodes" in text


def test_graph_of_a_leaf():
    x = Tensor(2.0)
    assert "no graph" in text_of(graph.render_graph(x, {"x": x}))
    assert "digraph" in graph.graph_to_dot(x)


def test_deep_graph_is_walked_iteratively_and_capped():
    x, out = _chain(200_000)
    text = text_of(graph.render_graph(out, {"x": x}, max_depth=30, max_nodes=100))
    assert len(text.splitlines()) < 120
    assert "200001 nodes" in text and "not shown" in text
    dot = graph.graph_to_dot(out, {"x": x})
    assert dot.count(" -> ") == 200_000
    assert "AccumulateGrad(x)" in dot


def test_dot_quotes_labels():
    x = Tensor(1.0, requires_grad=True)
    dot = graph.graph_to_dot(x * 2.0, {'a"b': x}, title='say "hi"')
    assert 'label="say \\"hi\\""' in dot
    assert 'AccumulateGrad(a\\"b)' in dot


def test_long_programs_show_capped_steps():
    expr = "+".join(["sin(x)"] * 400)
    result = evaluate(expr, {"x": "1"}, check=False, trace=True)
    assert len(result.steps) == 800
    text = text_of(tables.render_steps(result, max_rows=20))
    assert "780 steps not shown" in text
    assert re.search(r"^\s+800\s", text, re.MULTILINE)          # the output's row is kept
    assert all(len(line) <= 120 for line in text.splitlines())


def test_shorten():
    assert tables.shorten("x+y") == "x+y"
    long = "sin(x)+" * 50 + "tail"
    short = tables.shorten(long, 40)
    assert len(short) <= 40 and short.startswith("sin(x)") and short.endswith("tail") and " ... " in short


# --- text from input: escaped, never markup -----------------------------------------------------

def test_escape_text_shows_control_and_bidi_characters():
    from autodiff_cli.ui.console import escape_text
    assert escape_text("x**2 + sin(y) # café") == "x**2 + sin(y) # café"
    assert escape_text("\x1b[2A\x1b[2K") == "\\x1b[2A\\x1b[2K"
    assert escape_text("a\u202eb\u2066c\u200bd") == "a\\u202eb\\u2066c\\u200bd"
    assert escape_text("a\nb\tc\r\x00\x85") == "a\\nb\\tc\\r\\x00\\x85"
    assert escape_text("\ud800 \u2028 \U000e0001") == "\\ud800 \\u2028 \\U000e0001"
    assert escape_text(escape_text("\x1b")) == "\\x1b"          # escaping twice changes nothing


def test_input_text_in_tables_is_not_markup():
    result = evaluate("(x # [/red]\n + 1)*2", {"x": 1}, check=False, trace=True)
    steps = text_of(tables.render_steps(result))
    assert "(x # [/red]\\n + 1)*2" in steps
    header = text_of(tables.render_result(fake_result(expression="x # [bold]\x1b[2J\u202e")))
    assert "[bold]\\x1b[2J\\u202e" in header and "\x1b" not in header


def test_error_text_escapes_the_message():
    text = errors.error_text(AutodiffError("parse", "unexpected character '\x1b'", 2, source="x\x1b"))
    assert "'\\x1b'" in text and "\x1b" not in text
