"""ui/tables.py: render_result for every mode shows the result's numbers in the one number format,
at the View's precision, and never cuts a number with an ellipsis, however narrow the terminal."""
import io
import re

import numpy as np
import pytest
from rich.console import Console

from autodiff_cli.api import evaluate
from autodiff_cli.ui import tables
from autodiff_cli.ui.arrays import View, number

BINDINGS = {"x": [1.23456789, -2.5, 3.14159265], "y": 0.7071067811865476}
RESULTS = {}


@pytest.fixture(autouse=True)
def generous_check_budget(monkeypatch):
    """The results are checked with SymPy however loaded the machine is (no fallback to finite
    differences halfway through the module)."""
    monkeypatch.setenv("AUTODIFF_CHECK_SECONDS", "300")


def result_of(mode):
    """One real result per mode (evaluated once per test session)."""
    if mode not in RESULTS:
        expr, options = {
            "grad": ("sum(sin(x)*y) + y**3", {}),
            "hessian": ("sum(x**3)*y", {}),
            "jacobian": ("sin(x)*y", {}),
            "derivatives": ("sin(y)*exp(y)", {"order": 3}),
            "jvp": ("sin(x)*y", {"tangents": {"x": [1, 2, 3], "y": 0.5}}),
        }[mode]
        bindings = {"y": BINDINGS["y"]} if mode == "derivatives" else BINDINGS
        result = evaluate(expr, bindings, mode=mode, **options)
        assert result.status == "ok", result.error
        RESULTS[mode] = result
    return RESULTS[mode]


def text_of(result, width, precision):
    console = Console(file=io.StringIO(), width=width)
    console.print(tables.render_result(result, View(width=width, precision=precision)))
    return console.file.getvalue()


def numbers_of(result, mode):
    """Every number the mode's tables show (as arrays), besides the value."""
    shown = [result.value]
    if mode in ("grad", "hessian", "derivatives"):
        shown += list(result.gradients.values()) + list(result.inputs.values())
    if mode == "hessian":
        shown += [block for row in result.hessian.values() for block in row.values()]
    if mode == "jacobian":
        shown += list(result.jacobian.values())
    if mode == "derivatives":
        def leaves(node):
            return [node] if not isinstance(node, dict) else [x for v in node.values() for x in leaves(v)]
        shown += leaves(result.derivatives)
    if mode == "jvp":
        shown += [result.jvp] + list(result.tangents.values())
    return [float(v) for a in shown for v in np.ravel(a)]


MODES = ["grad", "hessian", "jacobian", "derivatives", "jvp"]
# a number (alone, or starting an array or shape) cut short: "0.7071…", "[1.23…", "1.8e…"; not a
# formula's index "x[0…" (formulas are not numbers)
CUT_NUMBER = re.compile(r"(?<!\S)[\[(]?[-+]?[0-9.][0-9.e+-]*(…|\.\.\.)")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("precision", [3, 6, 17])
def test_every_number_is_rendered_in_full_at_the_views_precision(mode, precision):
    result = result_of(mode)
    text = text_of(result, 160, precision)
    for v in numbers_of(result, mode):
        assert number(v, precision) in text, (mode, v)
    assert not CUT_NUMBER.search(text), text


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("width", [40, 60, 80, 100])
@pytest.mark.parametrize("precision", [6, 9, 17])
def test_no_ellipsis_inside_a_number_at_any_width(mode, width, precision):
    text = text_of(result_of(mode), width, precision)
    assert not CUT_NUMBER.search(text), text


def test_precision_changes_the_digits_shown():
    result = result_of("grad")
    three, twelve = text_of(result, 160, 3), text_of(result, 160, 12)
    assert "0.707" in three and "0.7071" not in three
    assert "0.707106781187" in twelve and "0.7071067811865" not in twelve
    assert "value      " + number(result.value, 3) in three


def test_each_mode_has_its_own_part():
    assert "Gradients" in text_of(result_of("grad"), 160, 6)
    assert "Hessian (4 x 4)" in text_of(result_of("hessian"), 160, 6)
    assert "Jacobian (3 x 4)" in text_of(result_of("jacobian"), 160, 6)
    derivatives = text_of(result_of("derivatives"), 160, 6)
    assert "Derivatives by order" in derivatives and "∂³f/∂y³" in derivatives
    jvp = text_of(result_of("jvp"), 160, 6)
    assert "J·t" in jvp and "tangent x" in jvp and "[1, 2, 3]" in jvp


def test_the_verdict_line_ends_the_rendering():
    text = text_of(result_of("grad"), 160, 6).rstrip()
    assert text.splitlines()[-1].startswith("checked with SymPy: agrees")
