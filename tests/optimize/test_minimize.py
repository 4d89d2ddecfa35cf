"""minimize(): known minima of classic functions, stopping rules, trajectory thinning, bad input,
and step-for-step agreement of the whole loop (clipping included) with a PyTorch training loop."""
import math

import numpy as np
import pytest

from autodiff_cli.optimize.minimize import minimize

HIMMELBLAU = "(x**2 + y - 11)**2 + (x + y**2 - 7)**2"
HIMMELBLAU_MINIMA = [(3.0, 2.0), (-2.805118, 3.131312), (-3.779310, -3.283186), (3.584428, -1.848126)]
ROSENBROCK = "(1 - x)**2 + 100*(y - x**2)**2"


def point(result):
    return tuple(float(result.point[name]) for name in result.wrt)


def test_a_shifted_quadratic_reaches_its_minimum_and_stops_on_tol():
    result = minimize("(x - 3)**2 + 2*(y + 1)**2 + 5", {"x": 0, "y": 0})
    assert (result.status, result.stopped, result.exit_code) == ("ok", "tol", 0)
    assert point(result) == pytest.approx((3.0, -1.0), abs=1e-9)
    assert result.value == pytest.approx(5.0, abs=1e-15) and result.grad_norm <= 1e-10
    assert result.steps < 1000 and len(result.values) == result.steps + 1


def test_rosenbrock_from_the_classic_start_with_adam():
    result = minimize(ROSENBROCK, {"x": -1.2, "y": 1}, optimizer="adam", lr=0.01, steps=20000)
    assert result.stopped == "tol"
    assert point(result) == pytest.approx((1.0, 1.0), abs=1e-8)
    assert result.value < 1e-16


@pytest.mark.parametrize("optimizer,lr", [("sgd", 0.01), ("adam", 0.05)])
@pytest.mark.parametrize("start", [(0, 0), (-1, 1), (-4, -4), (4, -4), (1, 4), (-2, -2), (0.5, -3)])
def test_himmelblau_from_several_starts_reaches_one_of_its_four_minima(optimizer, lr, start):
    result = minimize(HIMMELBLAU, {"x": start[0], "y": start[1]}, optimizer=optimizer, lr=lr, steps=5000)
    assert result.stopped == "tol"
    assert min(math.dist(point(result), m) for m in HIMMELBLAU_MINIMA) < 1e-5
    assert result.value < 1e-15


def test_array_variables_and_wrt_keep_the_others_fixed():
    result = minimize("sum((x - y)**2) + mean(x)", {"x": "zeros(3)", "y": "[1, 2, 3]"}, wrt="x")
    assert result.wrt == ["x"] and list(result.point) == ["x"]
    np.testing.assert_allclose(result.point["x"], [1 - 1 / 6, 2 - 1 / 6, 3 - 1 / 6], atol=1e-9)
    record = result.as_dict()
    assert record["point"]["x"] == pytest.approx([5 / 6, 11 / 6, 17 / 6], abs=1e-9)


def test_stops_after_the_given_steps():
    result = minimize("x**4", {"x": 1.0}, lr=0.01, steps=7)
    assert (result.stopped, result.steps, len(result.values)) == ("steps", 7, 8)
    zero_steps = minimize("x**2", {"x": 2.0}, steps=0)
    assert (zero_steps.stopped, zero_steps.steps, zero_steps.value) == ("steps", 0, 4.0)


def test_a_constant_or_flat_expression_stops_at_once():
    result = minimize("0*x + 2*y + 1", {"x": 1.0, "y": 3.0}, wrt="x")
    assert (result.stopped, result.steps, result.grad_norm, result.value) == ("tol", 0, 0.0, 7.0)


def test_divergence_is_reported_with_its_step():
    result = minimize(ROSENBROCK, {"x": -1.2, "y": 1}, optimizer="sgd", lr=0.1)
    assert (result.status, result.stopped, result.exit_code) == ("diverged", "diverged", 1)
    assert 0 < result.steps < 20 and not math.isfinite(result.value)
    assert any(f"at step {result.steps}" in w for w in result.warnings)
    record = result.as_dict()
    assert record["stopped"] == "diverged" and record["value"] in ("inf", "nan")
    assert record["trajectory"][-1]["step"] == result.steps


def test_a_non_finite_gradient_is_divergence_too():
    result = minimize("sqrt(x)", {"x": 0.0})      # d/dx sqrt(x) = inf at 0: nothing to step with
    assert (result.stopped, result.steps) == ("diverged", 0)
    assert "gradient" in result.warnings[0]


@pytest.mark.parametrize("trace", [0, 1, 2, 5, 10, 100])
def test_the_trajectory_is_thinned_to_at_most_trace_entries(trace):
    result = minimize("(x - 1)**2 + y**2", {"x": 0, "y": 3}, lr=0.01, momentum=0, steps=777, trace=trace)
    steps = [entry["step"] for entry in result.trajectory]
    assert len(steps) <= trace
    if trace:
        assert steps[-1] == 777 and steps == sorted(set(steps))
    if trace >= 2:
        assert steps[0] == 0
    if trace >= 12:     # room for the first three steps
        assert steps[:3] == [0, 1, 2] and len(steps) >= trace // 2
    for entry in result.trajectory:   # each entry is the run's own value at that step
        assert entry["value"] == result.values[entry["step"]]


def test_a_short_run_keeps_every_step():
    result = minimize("x**2", {"x": 1}, lr=0.1, momentum=0, steps=4, trace=100)
    assert [e["step"] for e in result.trajectory] == [0, 1, 2, 3, 4]
    assert [float(e["point"]["x"]) for e in result.trajectory] == pytest.approx([1, 0.8, 0.64, 0.512, 0.4096])


def test_clip_norm_bounds_each_sgd_move_and_clip_value_each_coordinate():
    clipped = minimize("10*x**2 + 10*y**2", {"x": 3, "y": -4}, lr=0.01, momentum=0, steps=5, clip_norm=1.0)
    xs = [np.array([float(e["point"]["x"]), float(e["point"]["y"])]) for e in clipped.trajectory]
    moves = [np.linalg.norm(b - a) for a, b in zip(xs, xs[1:])]
    assert moves == pytest.approx([0.01 * 1.0 / (1 + 1e-6 / 1.0)] * 5, rel=1e-5)
    by_value = minimize("10*x**2 + 10*y**2", {"x": 3, "y": -4}, lr=0.01, momentum=0, steps=1, clip_value=0.5)
    assert [float(v) for v in by_value.point.values()] == pytest.approx([3 - 0.005, -4 + 0.005])


@pytest.mark.parametrize("kwargs,kind,words", [
    ({"lr": 0}, "usage", "--lr must be a finite number > 0"),
    ({"lr": -1}, "usage", "--lr must be a finite number > 0"),
    ({"lr": float("nan")}, "usage", "--lr must be a finite number"),
    ({"lr": float("inf")}, "usage", "--lr must be a finite number"),
    ({"lr": "fast"}, "usage", "--lr must be a number"),
    ({"clip_value": 1, "clip_norm": 1}, "usage", "cannot be used together"),
    ({"clip_norm": 0}, "usage", "--clip-norm must be a finite number > 0"),
    ({"steps": 10**9}, "limit", "AUTODIFF_MAX_MINIMIZE_STEPS"),
    ({"steps": 2.5}, "usage", "--steps must be a whole number"),
    ({"tol": -1}, "usage", "--tol must be >= 0"),
    ({"optimizer": "lbfgs"}, "usage", "unknown optimizer"),
    ({"optimizer": "adam", "momentum": 0.5}, "usage", "SGD option"),
    ({"wrt": "z"}, "usage", "not an input variable"),
])
def test_bad_options_are_one_line_errors(kwargs, kind, words):
    result = minimize("x**2", {"x": 1}, **kwargs)
    assert (result.status, result.exit_code, result.error.kind) == ("error", 2, kind)
    assert words in str(result.error) and "\n" not in str(result.error)
    assert result.as_dict()["error"]["kind"] == kind


def test_a_non_scalar_output_or_a_bad_expression_is_an_error():
    result = minimize("x*2", {"x": "[1, 2]"})
    assert result.error.kind == "shape" and "scalar" in str(result.error)
    assert minimize("x +", {"x": 1}).error.kind == "parse"
    assert minimize("x*y", {"x": 1}).error.kind == "name"
    nothing = minimize("2 + 3", {})
    assert nothing.error.kind == "usage" and "no variables" in str(nothing.error)


def test_the_steps_limit_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("AUTODIFF_MAX_MINIMIZE_STEPS", "10")
    assert minimize("x**2", {"x": 1}, steps=10).status == "ok"
    assert minimize("x**2", {"x": 1}, steps=11).error.kind == "limit"


def test_the_json_record_is_strict_json():
    import json
    result = minimize("(x - 3)**2", {"x": 0}, trace=4)
    record = json.loads(json.dumps(result.as_dict(), allow_nan=False))
    assert set(record) >= {"status", "optimizer", "steps", "stopped", "value", "point", "grad_norm", "trajectory"}
    assert set(record["trajectory"][0]) == {"step", "value", "grad_norm", "point"}


# --- the whole loop against a PyTorch training loop ----------------------------------------------------

@pytest.mark.parametrize("optimizer,extra", [("sgd", {}), ("adam", {}), ("sgd", {"clip_norm": 0.5}),
                                             ("adam", {"clip_value": 0.1})])
def test_each_step_matches_a_pytorch_training_loop(optimizer, extra):
    torch = pytest.importorskip("torch")
    expr = "sin(3*x)*cos(y) + 0.1*x**2 + 0.2*y**2"
    result = minimize(expr, {"x": 0.7, "y": -0.4}, optimizer=optimizer, lr=0.05, steps=50, tol=0, trace=100,
                      **extra)
    x = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    y = torch.tensor(-0.4, dtype=torch.float64, requires_grad=True)
    opt = (torch.optim.SGD([x, y], lr=0.05, momentum=0.9, foreach=False) if optimizer == "sgd"
           else torch.optim.Adam([x, y], lr=0.05, foreach=False))
    for entry in result.trajectory:
        opt.zero_grad()
        value = torch.sin(3 * x) * torch.cos(y) + 0.1 * x**2 + 0.2 * y**2
        value.backward()
        assert entry["value"] == pytest.approx(value.item(), rel=1e-12, abs=1e-15)
        assert float(entry["point"]["x"]) == pytest.approx(x.item(), rel=1e-12)
        assert float(entry["point"]["y"]) == pytest.approx(y.item(), rel=1e-12)
        if "clip_norm" in extra:
            torch.nn.utils.clip_grad_norm_([x, y], extra["clip_norm"], foreach=False)
        if "clip_value" in extra:
            torch.nn.utils.clip_grad_value_([x, y], extra["clip_value"], foreach=False)
        opt.step()
