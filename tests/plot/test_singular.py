"""`autodiff plot` marks every kink and pole the op table declares (engine/ops.py: `kink.where`,
`pole`), found between grid points, and nothing on a grid where the ops are smooth."""
import math

import pytest

from autodiff_cli.engine.ops import OPS
from autodiff_cli.plot import sample

# Independent of the table: where each op's singular points are. A new op with a kink or pole
# must add its crossing here (test_every_declared_singular_op_has_a_crossing).
CROSSINGS = {    # op -> [(expression, range of x crossing the point between grid points, x there, kind)]
    "div": [("1/(x - 0.3)", "-1:1.37:14", 0.3, "pole")],
    "power": [("(x - 0.3)**0.5", "-1:1.37:14", 0.3, "kink"), ("(x - 0.3)**(-1)", "-1:1.37:14", 0.3, "pole")],
    "tan": [("tan(x)", "1:2.03:12", math.pi / 2, "pole")],
    "asin": [("asin(x)", "0.5:1.53:12", 1.0, "kink"), ("asin(x)", "-1.53:-0.5:12", -1.0, "kink")],
    "acos": [("acos(x)", "0.5:1.53:12", 1.0, "kink")],
    "log": [("log(x - 0.3)", "-1:1.37:14", 0.3, "pole")],
    "log1p": [("log1p(x)", "-2:0.37:14", -1.0, "pole")],
    "sqrt": [("sqrt(x - 0.3)", "-1:1.37:14", 0.3, "kink")],
    "abs": [("abs(x - 0.3)", "-1:1.37:14", 0.3, "kink")],
    "relu": [("relu(x - 0.3)", "-1:1.37:14", 0.3, "kink")],
    "maximum": [("max(x, 0.3)", "-1:1.37:14", 0.3, "kink")],
    "minimum": [("min(2*x, 0.6)", "-1:1.37:14", 0.3, "kink")],
}


def _declares_singular_points(spec):
    return spec.pole is not None or (spec.kink is not None and spec.kink.where is not None)


def test_every_declared_singular_op_has_a_crossing():
    assert {spec.name for spec in OPS if _declares_singular_points(spec)} == set(CROSSINGS)


@pytest.mark.parametrize("name", [spec.name for spec in OPS if _declares_singular_points(spec)])
def test_declared_kinks_and_poles_are_marked_between_grid_points(name):
    for expr, sweep, x, kind in CROSSINGS[name]:
        samples = sample(expr, {"x": sweep}, check=False)
        step = samples.axes[0][1] - samples.axes[0][0]
        assert x not in samples.axes[0]                           # between grid points, not on one
        marked = [m.at[0] for m in samples.marks if m.kind == kind]
        assert any(abs(at - x) < step for at in marked), (expr, kind, samples.marks)
        assert {m.kind for m in samples.marks} == {kind}, (expr, samples.marks)


def _smooth_expression(spec):
    """The op applied to x (and 0.5), as the language writes it."""
    name, arity = spec.language[0], spec.language_arity
    if name.isidentifier():
        return f"{name}(x)" if arity == 1 else f"{name}(x, 0.5)"
    return f"{name}x" if arity == 1 else f"x {name} 0.5"


SMOOTH = [spec for spec in OPS if spec.elementwise and spec.language and not _declares_singular_points(spec)]


@pytest.mark.parametrize("spec", SMOOTH, ids=[s.name for s in SMOOTH])
def test_smooth_ops_are_not_marked(spec):
    samples = sample(_smooth_expression(spec), {"x": "0.2:0.7:11"}, check=False)
    assert samples.marks == [], (spec.name, samples.marks)


def test_smooth_ops_are_tested():
    assert {"add", "sub", "mul", "neg", "sin", "exp", "atan", "softplus"} <= {s.name for s in SMOOTH}
