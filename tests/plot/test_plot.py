"""`autodiff plot`: sampling (values and derivatives over a grid, kinks, poles, the check along the
curve), the terminal plot, the image, and the JSON data.

Oracles: `evaluate()` point by point (the engine through the ordinary pipeline), closed-form
derivatives, and for images the pixels themselves mapped back to data coordinates.
"""
import json
import re
from pathlib import Path

import numpy as np
import pytest

from autodiff_cli import evaluate
from autodiff_cli.errors import AutodiffError
from autodiff_cli.plot import DEFAULT_POINTS
from autodiff_cli.plot import DEFAULT_POINTS_2D
from autodiff_cli.plot import parse_sweep
from autodiff_cli.plot import sample
from autodiff_cli.testing import wrong_derivative

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(autouse=True)
def generous_check_budget(monkeypatch):
    """SymPy's budget is wall-clock time: on a busy machine 2 s may pass before it is done, and the
    finite-difference fallback would change what these tests see (the CLI inherits the variable)."""
    monkeypatch.setenv("AUTODIFF_CHECK_SECONDS", "120")


@pytest.fixture
def wrong_sin_derivative():
    """The engine's derivative of sin is 1.5 cos: the check must notice."""
    with wrong_derivative("sin"):
        yield


# --- ranges --------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,expected", [
    ("-3:3", (-3.0, 3.0, DEFAULT_POINTS)),
    ("0:1:11", (0.0, 1.0, 11)),
    ("-pi:pi:5", (-np.pi, np.pi, 5)),
    (" 1e-3 : 2 ", (1e-3, 2.0, DEFAULT_POINTS)),
    ("linspace(0, 2, 7)", (0.0, 2.0, 7)),
    ("linspace(0,2)", (0.0, 2.0, DEFAULT_POINTS)),
])
def test_ranges(text, expected):
    sweep = parse_sweep("x", text)
    assert (sweep.start, sweep.stop, sweep.count) == pytest.approx(expected)
    assert sweep.points()[[0, -1]] == pytest.approx(expected[:2])


@pytest.mark.parametrize("text", ["3", "[1,2]", "rand(3)", "@f.npy"])
def test_other_bindings_are_not_ranges(text):
    assert parse_sweep("x", text) is None


@pytest.mark.parametrize("text,fragment", [
    ("3:-3", "must go up"), ("1:1", "must go up"), ("0:1:1", "at least 2 points"), ("0:1:-4", "at least 2"),
    ("0:1:2.5", "not a whole number"), ("a:1", "not a finite number"), ("0:inf", "not a finite number"),
    ("linspace(0)", "linspace takes"),
])
def test_bad_ranges(text, fragment):
    with pytest.raises(AutodiffError) as info:
        parse_sweep("x", text)
    assert fragment in str(info.value) and f"x={text}" in str(info.value)


def test_points_beyond_the_element_limit(monkeypatch):
    monkeypatch.setenv("AUTODIFF_MAX_ELEMENTS", "1000")
    with pytest.raises(AutodiffError, match="1001 points; the limit is 1000") as info:
        parse_sweep("x", "0:1:1001")
    assert info.value.kind == "limit"
    with pytest.raises(AutodiffError, match="the grid would have 1024 points"):
        sample("x*y", {"x": "0:1:32", "y": "0:1:32"})
    with pytest.raises(AutodiffError, match="far beyond"):
        parse_sweep("x", "0:1:" + "9" * 30)


# --- values and derivatives ------------------------------------------------------------------------

@pytest.mark.parametrize("expr,bindings", [
    ("sin(x)*x", {"x": "-6:6:41"}),
    ("z = x**2; w = exp(-z) + log1p(z) * a", {"x": "-2:2:33", "a": "1.5"}),
    ("max(x, 0.3) + relu(x - 1) / (1 + x**2)", {"x": "-2:2:29"}),
    ("sum(w * sin(x))", {"x": "-1:1:9", "w": "[1, 2, 3]"}),          # point by point
    ("x**2 * y + sin(y) / (1 + x**2)", {"x": "-1:2:7", "y": "0:3:5"}),
])
def test_samples_equal_the_engine_at_every_point(expr, bindings):
    samples = sample(expr, bindings, check=False, order=2 if len(samples_swept(bindings)) == 1 else 1)
    grids = np.meshgrid(*samples.axes) if len(samples.axes) == 2 else samples.axes
    fixed = {k: v for k, v in bindings.items() if k not in samples.variables}
    for index in np.ndindex(*samples.value.shape):
        point = {name: float(g[index]) for name, g in zip(samples.variables, grids)}
        mode = "hessian" if samples.second_derivative is not None else "grad"
        result = evaluate(expr, {**fixed, **point}, wrt=samples.variables, mode=mode, check=False)
        assert result.status == "ok", result.error
        assert samples.value[index] == pytest.approx(float(result.value), rel=1e-12, abs=1e-12)
        for name in samples.variables:
            assert samples.derivatives[name][index] == pytest.approx(float(result.gradients[name]), rel=1e-12,
                                                                     abs=1e-12)
        if mode == "hessian":
            x = samples.variables[0]
            assert samples.second_derivative[index] == pytest.approx(float(result.hessian[x][x]), rel=1e-12,
                                                                     abs=1e-12)


def samples_swept(bindings):
    return [k for k, v in bindings.items() if ":" in v]


@pytest.mark.parametrize("expr,f,df,d2f", [
    ("sin(x)", np.sin, np.cos, lambda x: -np.sin(x)),
    ("exp(x)", np.exp, np.exp, np.exp),
    ("x**3", lambda x: x**3, lambda x: 3 * x**2, lambda x: 6 * x),
])
def test_closed_forms(expr, f, df, d2f):
    samples = sample(expr, {"x": "-3:3"}, order=2)
    x = samples.axes[0]
    assert x.size == DEFAULT_POINTS and samples.vectorised
    np.testing.assert_allclose(samples.value, f(x), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(samples.derivatives["x"], df(x), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(samples.second_derivative, d2f(x), rtol=1e-13, atol=1e-13)
    assert samples.check.method == "sympy" and samples.check.passed is True


def test_two_variables_grid_layout():
    samples = sample("x**2 + 3*y**2", {"x": "-2:2:5", "y": "-1:1:3"})
    assert samples.value.shape == (3, 5)                     # rows follow y, columns x
    x, y = samples.axes
    np.testing.assert_allclose(samples.value, x[None, :]**2 + 3 * y[:, None]**2)
    np.testing.assert_allclose(samples.derivatives["x"], np.broadcast_to(2 * x[None, :], (3, 5)))
    np.testing.assert_allclose(samples.derivatives["y"], np.broadcast_to(6 * y[:, None], (3, 5)))
    assert sample("x*y", {"x": "0:1", "y": "0:1"}).value.shape == (DEFAULT_POINTS_2D, DEFAULT_POINTS_2D)


def test_vectorised_and_point_by_point_agree():
    fast = sample("sin(x)*x + abs(x)", {"x": "-2:2:25"}, order=2)
    slow = sample("sum(w * (sin(x)*x + abs(x)))", {"x": "-2:2:25", "w": "[1]"}, order=2)
    assert fast.vectorised and not slow.vectorised
    assert any("point by point (25 graphs)" in note for note in slow.notes)
    for a, b in ((fast.value, slow.value), (fast.derivatives["x"], slow.derivatives["x"]),
                 (fast.second_derivative, slow.second_derivative)):
        np.testing.assert_allclose(a, b, rtol=1e-14, atol=1e-14)
    assert [(m.kind, m.at) for m in fast.marks] == [(m.kind, m.at) for m in slow.marks]


@pytest.mark.parametrize("expr,vectorised", [
    ("sin(x)", True), ("z = x*2; sum(z)", False), ("mean(x) + x", False), ("max(x)", False),
    ("max(x, 1)", True), ("x @ x", False), ("dot(x, x)", False), ("sum(a) * x", True),
])
def test_what_counts_as_elementwise(expr, vectorised):
    bindings = {"x": "0:1:4"}
    if "a" in expr:
        bindings["a"] = "3"
    if "@" in expr or "dot" in expr:
        with pytest.raises(AutodiffError):    # x is a scalar per point: no matrix product
            sample(expr, bindings)
        return
    assert sample(expr, bindings).vectorised is vectorised


def test_unbound_variables_are_swept_over_the_default_range():
    samples = sample("x**2", {})
    assert samples.axes[0][[0, -1]] == pytest.approx([-5, 5])
    assert "x is not bound: swept over -5:5" in samples.notes


@pytest.mark.parametrize("expr,bindings,fragment", [
    ("x*y*z", {}, "plot sweeps one or two variables, and 3 are free (x, y, z)"),
    ("x*y*z", {"x": "0:1"}, "3 are free"),
    ("x*w", {"x": "0:1", "w": "[1,2]"}, "the output has shape (2,) at each point"),
    ("x", {"x": "1"}, "nothing to plot against"),
    ("x", {"x": "0:1", "y": "0:1"}, "y is swept but the expression does not use it"),
    ("sin(x)*y", {"x": "0:1", "y": "0:1", "order": 2}, "--order 2 plots f'' of one variable"),
    ("x", {"x": "0:1", "order": 3}, "--order must be 1 or 2"),
    ("x +", {"x": "0:1"}, "expected"),
])
def test_bad_input(expr, bindings, fragment):
    order = bindings.pop("order", 1)
    with pytest.raises(AutodiffError) as info:
        sample(expr, bindings, order=order)
    assert fragment in str(info.value)


# --- kinks, poles, non-finite values ----------------------------------------------------------------

def test_kink_between_grid_points_is_located():
    samples = sample("abs(x - 0.3)", {"x": "-1:1:20"})
    (mark,) = samples.marks
    assert mark.kind == "kink" and mark.at == pytest.approx((0.3,))
    assert "abs of 0: abs(x - 0.3) at column 1" in mark.reason


def test_pole_and_non_finite_origins():
    samples = sample("1/x + sqrt(x + 1)", {"x": "-2:2:41"})
    kinds = {(m.kind, round(m.at[0], 9)) for m in samples.marks}
    assert ("pole", 0.0) in kinds and ("kink", -1.0) in kinds
    assert any(note.startswith("sqrt at column 7 (sqrt(x + 1)) is not finite at 10 of 41 points (x from -2 to -1.1)")
               for note in samples.notes), samples.notes
    assert samples.check.passed is True          # the nan half and the pole's neighbours are not judged


def test_kink_lines_in_two_variables():
    samples = sample("abs(x - y)", {"x": "-1:1:11", "y": "-1:1:11"})
    kinks = np.array([m.at for m in samples.marks if m.kind == "kink"])
    assert len(kinks) >= 11
    np.testing.assert_allclose(kinks[:, 0], kinks[:, 1], atol=1e-12)      # all on the line x == y


# --- the check along the curve ---------------------------------------------------------------------

def test_check_marks_where_a_wrong_derivative_disagrees(wrong_sin_derivative):
    samples = sample("sin(x)", {"x": "0:3:31"})
    assert samples.check.method == "sympy" and samples.check.passed is False
    failed_x = [m.at[0] for m in samples.marks if m.kind == "check failed"]
    expected = samples.axes[0]          # 1.5 cos(x) != cos(x) at every point of the grid
    np.testing.assert_allclose(failed_x, expected)
    data = samples.as_dict()
    assert data["check"]["passed"] is False and data["check"]["failed_at"] == pytest.approx(list(expected))


@pytest.mark.parametrize("order", [1, 2])
def test_finite_difference_check_when_sympy_is_not_used(monkeypatch, order):
    monkeypatch.setattr("autodiff_cli.plot.curve_check.SYMPY_MAX_NODES", 1)
    samples = sample("sin(x)*exp(x/3)", {"x": "-3:3"}, order=order)
    assert samples.check.method == "finite-difference" and samples.check.passed is True
    assert "SymPy not used" in samples.check.notes[0]
    with wrong_derivative("sin"):
        bad = sample("sin(x)*exp(x/3)", {"x": "-3:3"}, order=order)
    assert bad.check.method == "finite-difference" and bad.check.passed is False


def test_finite_difference_check_in_two_variables(monkeypatch):
    monkeypatch.setattr("autodiff_cli.plot.curve_check.SYMPY_MAX_NODES", 1)
    samples = sample("sin(x)*cos(y)", {"x": "-2:2:15", "y": "-2:2:13"})
    assert samples.check.method == "finite-difference" and samples.check.passed is True


def test_json_data_is_strict():
    data = json.loads(json.dumps(sample("log(x)", {"x": "-1:1:5"}, order=2).as_dict(), allow_nan=False))
    assert data["x"] == [-1.0, -0.5, 0.0, 0.5, 1.0]
    assert data["value"][:3] == ["nan", "nan", "-inf"] and data["value"][4] == 0.0
    assert data["derivative"][3:] == [2.0, 1.0] and data["second_derivative"][4] == -1.0
    assert data["check"]["formulas"] == {"x": "1/x", "x,x": "-1/x**2"}
    two = sample("x*y", {"x": "0:1:3", "y": "0:2:2"}).as_dict()
    assert two["variables"] == ["x", "y"] and two["value"] == [[0.0, 0.0, 0.0], [0.0, 1.0, 2.0]]
    assert two["gradient"]["x"] == [[0.0, 0.0, 0.0], [2.0, 2.0, 2.0]]


# --- drawing ---------------------------------------------------------------------------------------

def test_terminal_snapshot_at_80_columns():
    pytest.importorskip("plotext")
    from autodiff_cli.ui.charts import terminal_plot
    text = terminal_plot(sample("sin(x)*x", {"x": "-6:6"}), width=80, height=24)
    assert "\x1b" not in text
    assert max(len(line) for line in text.splitlines()) <= 80 and len(text.splitlines()) == 24
    assert text == (DATA / "plot_sin_x_times_x.txt").read_text(encoding="utf-8")


def test_terminal_plot_marks_and_legend():
    pytest.importorskip("plotext")
    from autodiff_cli.ui.charts import terminal_plot
    text = terminal_plot(sample("1/x + abs(x - 1)", {"x": "-3:3"}, order=2))
    legend = text.splitlines()[-1]
    assert legend == "⣿ f(x)   · f'(x)   + f''(x)   X not differentiable / pole"
    assert text.count("X") >= 2 + 1


def test_heat_map_snapshot():
    from autodiff_cli.ui.charts import terminal_plot
    text = terminal_plot(sample("x**2 + 3*y**2", {"x": "-2:2", "y": "-2:2"}), width=80, height=24)
    assert text == (DATA / "plot_heat_map.txt").read_text(encoding="utf-8")


def test_missing_plot_libraries_say_how_to_install(monkeypatch):
    from autodiff_cli.ui import charts as plot
    monkeypatch.setitem(__import__("sys").modules, "plotext", None)
    monkeypatch.setitem(__import__("sys").modules, "matplotlib", None)
    samples = sample("x", {"x": "0:1:3"})
    for draw in (lambda: plot.terminal_plot(samples), lambda: plot.write_image(samples, "f.png")):
        with pytest.raises(AutodiffError) as info:
            draw()
        assert 'pip install "autodiff-cli[plot]"' in str(info.value)


@pytest.mark.parametrize("extension,signature", [
    ("png", b"\x89PNG\r\n\x1a\n"), ("svg", b"<?xml"), ("pdf", b"%PDF-"),
])
def test_image_files(tmp_path, extension, signature):
    pytest.importorskip("matplotlib")
    from autodiff_cli.ui.charts import write_image
    path = tmp_path / f"f.{extension}"
    write_image(sample("sin(x)*x", {"x": "-6:6"}, order=2), str(path))
    data = path.read_bytes()
    assert data.startswith(signature) and 10_000 < len(data) < 2_000_000
    if extension == "svg":
        assert b"<svg" in data[:2000] and b"sin(x)*x" in data
    if extension == "png":
        import matplotlib.image
        assert matplotlib.image.imread(str(path)).shape[:2] == (500, 800)


def test_bad_image_name():
    pytest.importorskip("matplotlib")
    from autodiff_cli.ui.charts import write_image
    with pytest.raises(AutodiffError, match="use a name ending in .png, .svg or .pdf"):
        write_image(sample("x", {"x": "0:1:3"}), "plot.jpg")


def _pixels_in_data_coordinates(figure, ax, colour, tolerance=40):
    """Data coordinates of the rendered pixels whose colour is near `colour` (inside the axes)."""
    import matplotlib.colors
    figure.canvas.draw()
    image = np.asarray(figure.canvas.buffer_rgba())[:, :, :3].astype(int)
    target = (np.array(matplotlib.colors.to_rgb(colour)) * 255).astype(int)
    rows, cols = np.nonzero(np.abs(image - target).sum(axis=2) < tolerance)
    height = image.shape[0]
    display = np.column_stack([cols + 0.5, height - rows - 0.5])      # display y grows upwards
    inside = ax.bbox.contains
    keep = np.array([inside(*p) for p in display], dtype=bool)
    return ax.transData.inverted().transform(display[keep]), ax.transData


def test_image_curves_are_where_the_data_says():
    pytest.importorskip("matplotlib")
    from autodiff_cli.ui.charts import draw_figure
    figure = draw_figure(sample("x", {"x": "0:1:50"}))
    ax = figure.axes[0]
    ax.get_legend().remove()        # its sample lines have the curves' colours
    f_line, d_line = ax.get_lines()[:2]
    points, to_display = _pixels_in_data_coordinates(figure, ax, f_line.get_color())
    assert len(points) > 300
    # f(x) = x: every pixel of its colour lies on the diagonal, within the line's half-width
    pixel_size = np.abs(to_display.inverted().transform([[1, 1]]) - to_display.inverted().transform([[0, 0]]))[0]
    assert np.all(np.abs(points[:, 1] - points[:, 0]) < 4 * pixel_size.max())
    assert points[:, 0].min() < 0.05 and points[:, 0].max() > 0.95          # ...from end to end
    # f'(x) = 1: its (dashed) pixels lie on the horizontal line y = 1
    dashed, _ = _pixels_in_data_coordinates(figure, ax, d_line.get_color())
    assert len(dashed) > 100 and np.all(np.abs(dashed[:, 1] - 1) < 4 * pixel_size[1])
    import matplotlib.pyplot as plt
    plt.close(figure)


def test_two_variable_image_has_contours_and_arrows(tmp_path):
    pytest.importorskip("matplotlib")
    from matplotlib.contour import ContourSet
    from matplotlib.quiver import Quiver
    from autodiff_cli.ui.charts import draw_figure
    samples = sample("x**2 + 3*y**2", {"x": "-2:2", "y": "-2:2"})
    figure = draw_figure(samples)
    ax = figure.axes[0]
    (quiver,) = [c for c in ax.collections if isinstance(c, Quiver)]
    # arrows follow the gradient: at (x, y) the arrow is (2x, 6y)
    u, v = np.asarray(quiver.U), np.asarray(quiver.V)
    offsets = quiver.get_offsets()
    np.testing.assert_allclose(u, 2 * offsets[:, 0])
    np.testing.assert_allclose(v, 6 * offsets[:, 1])
    assert ax.get_xlabel() == "x" and ax.get_ylabel() == "y" and "x**2 + 3*y**2" in ax.get_title()
    contours = [c for c in ax.collections if isinstance(c, ContourSet) and not c.filled]
    assert contours and 0 <= contours[0].levels.min() and contours[0].levels.max() <= 16
    import matplotlib.pyplot as plt
    plt.close(figure)


# --- the command ------------------------------------------------------------------------------------

from test_cli import assert_clean_error, invoke, run, strict_json  # noqa: E402  (the CLI test helpers)


def test_command_draws_in_the_terminal():
    pytest.importorskip("plotext")
    result = run(["plot", "sin(x)*x", "x=-6:6"], env={"COLUMNS": "80", "LINES": "24"})
    assert result.returncode == 0, result.stderr
    snapshot = (DATA / "plot_sin_x_times_x.txt").read_text(encoding="utf-8")
    assert result.stdout.startswith(snapshot)
    assert result.stdout[len(snapshot):].splitlines() == [
        "f(x) = sin(x)*x: 200 points, x in [-6, 6]",
        "engine derivatives vs SymPy: agree at every judged point (max error 0.0e+00)"]
    assert result.stderr == ""


def test_command_writes_an_image(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "f.png"
    result = run(["plot", "sin(x)*x", "x=-6:6", "--order", "2", "--out", str(path)])
    assert result.returncode == 0, result.stderr
    assert path.read_bytes().startswith(b"\x89PNG") and f"wrote {path}" in result.stderr
    assert "f(x) = sin(x)*x: 200 points" in result.stdout and "┌" not in result.stdout


def test_command_two_variables(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "field.svg"
    result = run(["plot", "x**2 + 3*y**2", "x=-2:2", "y=-2:2", "--out", str(path)])
    assert result.returncode == 0, result.stderr
    assert b"<svg" in path.read_bytes()[:2000]
    terminal = run(["plot", "x**2 + 3*y**2", "x=-2:2", "y=-2:2"], env={"COLUMNS": "80", "LINES": "24"})
    assert terminal.stdout.startswith((DATA / "plot_heat_map.txt").read_text(encoding="utf-8"))


def test_command_json():
    result = run(["plot", "a*x**3", "x=-1:1:5", "a=2", "--order", "2", "--json"])
    assert result.returncode == 0, result.stderr
    record = strict_json(result.stdout)
    assert record["x"] == [-1.0, -0.5, 0.0, 0.5, 1.0]
    assert record["value"] == [-2.0, -0.25, 0.0, 0.25, 2.0]
    assert record["derivative"] == [6.0, 1.5, 0.0, 1.5, 6.0]
    assert record["second_derivative"] == [-12.0, -6.0, 0.0, 6.0, 12.0]
    assert record["bindings"] == {"a": 2.0} and record["check"]["passed"] is True
    assert record["check"]["formulas"] == {"x": "6*x**2", "x,x": "12*x"}


@pytest.mark.parametrize("args,fragment", [
    (["x", "x=3:-3"], "x=3:-3: the range must go up"),
    (["x", "x=0:1:1"], "at least 2 points"),
    (["x", "x=0:1", "--points", "1"], "--points 1: a range needs at least 2 points"),
    (["x", "x=0:1:2001"], "2001 points; the limit is 2000"),
    (["x*y", "x=0:1", "y=0:1", "--points", "50"], "the grid would have 2500 points"),
    (["x*y*z"], "3 are free (x, y, z)"),
    (["x*w", "x=0:1", "w=[1,2]"], "the output has shape (2,) at each point"),
    (["x", "x=0:1", "--out", "f.gif"], "use a name ending in .png, .svg or .pdf"),
    (["x", "x=0:1", "--order", "3"], "--order must be 1 or 2"),
])
def test_command_bad_input(args, fragment):
    result = run(["plot", *args], env={"AUTODIFF_MAX_ELEMENTS": "2000"})
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert_clean_error(result.stderr, fragment)
    assert len(result.stderr.splitlines()) == 1
    as_json = run(["plot", *args, "--json"], env={"AUTODIFF_MAX_ELEMENTS": "2000"})
    assert as_json.returncode == 2 and strict_json(as_json.stdout)["status"] == "error"


def test_command_exit_code_1_when_the_check_disagrees(wrong_sin_derivative):
    result = invoke(["plot", "sin(x)", "x=0:3:31", "--json"])
    assert result.exit_code == 1
    assert strict_json(result.stdout)["check"]["passed"] is False
    assert "cross-check mismatch" in result.stderr


def test_command_without_the_plot_extra(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "plotext", None)
    result = invoke(["plot", "sin(x)", "x=0:3"])
    assert result.exit_code == 2
    assert_clean_error(result.stderr, 'the terminal plot needs plotext, which is not installed: '
                                      'pip install "autodiff-cli[plot]"')
    assert invoke(["plot", "sin(x)", "x=0:3", "--json"]).exit_code == 0     # the data needs no plotting library


# --- properties and an independent oracle ----------------------------------------------------------

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

_UNARY = ["sin", "cos", "exp", "tanh", "sigmoid", "abs", "relu", "sqrt", "log", "atan"]


def _expressions():
    """Expression texts built from x, a and numbers with the elementwise functions and operators."""
    def combine(inner):
        return st.one_of(
            st.tuples(st.sampled_from(_UNARY), inner).map(lambda t: f"{t[0]}({t[1]})"),
            st.tuples(inner, st.sampled_from(["+", "-", "*", "/"]), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            st.tuples(inner, st.sampled_from(["2", "3"])).map(lambda t: f"{t[0]}**{t[1]}"),
            st.tuples(inner, inner).map(lambda t: f"max({t[0]}, {t[1]})"))
    return st.recursive(st.sampled_from(["x", "x", "2", "0.5", "a"]), combine, max_leaves=6)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(expr=_expressions().filter(lambda e: re.search(r"\bx\b", e)), start=st.floats(-3, 1), width=st.floats(0.5, 4))
def test_vectorised_sampling_equals_the_engine_point_by_point(expr, start, width):
    samples = sample(expr, {"x": f"{start!r}:{start + width!r}:7", "a": "1.5"}, order=2, check=False)
    assert samples.vectorised
    for i, x in enumerate(samples.axes[0]):
        result = evaluate(expr, {"x": float(x), "a": 1.5}, mode="hessian", check=False)
        for sampled, engine_value in ((samples.value, result.value), (samples.derivatives["x"], result.gradients["x"]),
                                      (samples.second_derivative, result.hessian["x"]["x"])):
            np.testing.assert_allclose(sampled[i], float(engine_value), rtol=1e-12, atol=1e-12, equal_nan=True)


def test_derivatives_over_a_grid_match_torch():
    torch = pytest.importorskip("torch")
    samples = sample("sin(x)*exp(-x**2/4) + sigmoid(3*x)*log1p(x**2)", {"x": "-4:4:101"}, order=2, check=False)
    x = torch.tensor(samples.axes[0], dtype=torch.float64, requires_grad=True)
    f = torch.sin(x) * torch.exp(-x**2 / 4) + torch.sigmoid(3 * x) * torch.log1p(x**2)
    (df,) = torch.autograd.grad(f.sum(), x, create_graph=True)
    (d2f,) = torch.autograd.grad(df.sum(), x)
    np.testing.assert_allclose(samples.value, f.detach().numpy(), rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(samples.derivatives["x"], df.detach().numpy(), rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(samples.second_derivative, d2f.numpy(), rtol=1e-12, atol=1e-13)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(expr=_expressions().filter(lambda e: re.search(r"\bx\b", e)), start=st.floats(-3, 1),
       width=st.floats(0.5, 4), finite_differences=st.booleans())
def test_the_check_along_the_curve_never_blames_a_correct_engine(monkeypatch, expr, start, width,
                                                                  finite_differences):
    monkeypatch.setattr("autodiff_cli.plot.curve_check.SYMPY_MAX_NODES", 1 if finite_differences else 400)
    samples = sample(expr, {"x": f"{start!r}:{start + width!r}:50", "a": "1.5"}, order=2)
    assert samples.check.passed is not False, (samples.check.method, [m.at for m in samples.marks])


def test_a_sign_change_through_a_pole_is_not_a_zero():
    marks = sample("abs(1/x) + relu(2/x + 1)", {"x": "-3:3:40"}).marks
    # 1/x and 2/x jump from -inf to +inf at 0: a pole there, but no "abs of 0" or "relu of 0";
    # 2/x + 1 really passes through 0 at x = -2
    assert sorted((m.kind, m.reason.split(":")[0]) for m in marks) == [("kink", "relu of 0"),
                                                                          ("pole", "division by zero")]
    assert sorted(m.at[0] for m in marks) == pytest.approx([-2, 0], abs=0.01)     # linear interpolation


def test_terminal_plot_marks_check_failures(wrong_sin_derivative):
    pytest.importorskip("plotext")
    from autodiff_cli.ui.charts import terminal_plot
    text = terminal_plot(sample("sin(x)", {"x": "0:3:31"}))
    assert text.splitlines()[-1] == "⣿ f(x)   · f'(x)   ! check failed"
    assert text.count("!") > 10


def _elementwise_language_forms():
    from autodiff_cli.engine.ops import OPS
    for spec in OPS:
        for name in spec.language if spec.elementwise else ():
            if spec.language_arity == 1:
                yield f"{name}(x)" if name.isidentifier() else f"{name}x"
            else:
                yield f"{name}(x, 0.7)" if name.isidentifier() else f"x {name} 0.7"


@pytest.mark.parametrize("expr", list(_elementwise_language_forms()))
def test_every_elementwise_op_of_the_table_is_sampled_in_one_pass(expr):
    samples = sample(expr, {"x": "0.1:0.9:9"}, order=2, check=False)
    assert samples.vectorised
    for i, x in enumerate(samples.axes[0]):
        result = evaluate(expr, {"x": float(x)}, mode="hessian", check=False)
        assert samples.value[i] == pytest.approx(float(result.value), rel=1e-13)
        assert samples.derivatives["x"][i] == pytest.approx(float(result.gradients["x"]), rel=1e-13)
        assert samples.second_derivative[i] == pytest.approx(float(result.hessian["x"]["x"]), rel=1e-13, abs=1e-15)


@pytest.mark.parametrize("args", [
    ["x*1e308", "x=-1.7:1.7"], ["x", "x=-1e308:1e308"], ["1e-320*x", "x=0:1"],
    ["x*1e308 + y", "x=-1.7:1.7", "y=0:1"], ["1e-320*x + 0*y", "x=0:1", "y=0:1"],
])
def test_values_whose_spread_overflows_or_is_subnormal_are_drawn(tmp_path, args):
    """issue 29, finding 15: finite values whose spread overflows (max - min = inf) or is
    subnormal crashed the terminal plot, the heat map and the image, and numpy's or matplotlib's
    RuntimeWarning (with its source line) reached stderr. Now they are drawn scaled by a power of
    ten that the axis label names."""
    pytest.importorskip("matplotlib")
    terminal = run(["plot", *args])
    assert terminal.returncode == 0, terminal.stderr
    assert terminal.stderr == "" and "(×1e" in terminal.stdout
    path = tmp_path / "f.png"
    image = run(["plot", *args, "--out", str(path)])
    assert image.returncode == 0, image.stderr
    assert image.stderr == f"wrote {path}\n"
    assert path.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("args,note", [
    (["sum(a*x)", "x=0:1:5000", "a=ones(100000)"], "point by point"),
    (["abs(0*x)", "x=-1:1:1000000"], "singular points found; the first 2000 are marked"),
])
def test_plot_keeps_only_what_the_marks_need(args, note):
    """issue 29, finding 8: point by point, every node's value was kept at every point
    (sum(a*x) over 5000 points with a of 10^5 elements: MemoryError), and abs(0*x) at 10^6 points
    built a mark per crossing before keeping 2000 (897 MB). In 512 MiB of address space now."""
    from test_hostile import run_cli
    proc = run_cli(["plot", *args, "--json", "--no-check"], address_space=512 * 1024**2, timeout=300)
    err = proc.stderr.decode()
    assert proc.returncode == 0, err
    assert note in err and "error" not in err
    assert json.loads(proc.stdout)["variables"] == ["x"]


def test_sympy_is_imported_before_the_check_budget_starts():
    """issue 29, finding 20: plot imported SymPy inside the check's time budget (2 s), so on a
    loaded machine even plot "x**2" fell back to finite differences, and the alarm could interrupt
    the import half-way. In a fresh process (SymPy not yet imported): when the budget's timer is
    armed, SymPy is already there."""
    import subprocess
    import sys
    script = """if True:
        import sys
        import autodiff_cli.settings.deadline as deadline
        seen = []
        real = deadline.time_limit
        def spy(seconds):
            seen.append("sympy" in sys.modules)
            return real(seconds)
        deadline.time_limit = spy
        from autodiff_cli.plot import sample
        samples = sample("x**2", {"x": "0:1:5"})
        assert samples.check.method == "sympy", samples.check.notes
        print(seen)
    """
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[True]"
