"""calculus/mode.py: what every mode starts from (Bound, forward_pass) and its small helpers
(require_scalar, require_room, unit_seeds, gradient_row, traced), and the Mode interface's defaults."""
import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest

from autodiff_cli.calculus.mode import (Bound, Computed, Mode, forward_pass, gradient_row, require_room,
                                        require_scalar, traced, unit_seeds)
from autodiff_cli.errors import AutodiffError
from autodiff_cli.language import parse


def bound(expr, values, wrt, **options):
    return Bound(parse(expr), {n: np.asarray(v, dtype=np.float64) for n, v in values.items()}, wrt,
                 np.random.default_rng(0), **options)


def test_bound_is_frozen_and_checks_by_default():
    b = bound("x", {"x": 1.0}, ["x"])
    assert b.check is True and b.trace is False
    with pytest.raises(dataclasses.FrozenInstanceError):
        b.wrt = []


def test_computed_defaults_are_not_shared():
    a, b = Computed(np.asarray(1.0), {}, None), Computed(np.asarray(2.0), {}, None)
    a.steps.append("step")
    a.leaves["x"] = 1
    assert b.steps == [] and b.leaves == {}


def test_forward_pass_requires_grad_only_for_wrt_and_visits_when_checking():
    output, leaves, named, visited = forward_pass(bound("y = x * z; y + 1", {"x": 2.0, "z": 3.0}, ["x"]))
    assert float(output.data) == 7.0
    assert leaves["x"].requires_grad and not leaves["z"].requires_grad
    assert float(named["y"].data) == 6.0
    assert [type(node).__name__ for node, _ in visited][-1] == "Binary"
    assert len(visited) >= 5                          # x, z, x*z, y, 1, y+1
    *_, not_visited = forward_pass(bound("x + 1", {"x": 2.0}, ["x"], check=False))
    assert not_visited is None
    *_, traced_visits = forward_pass(bound("x + 1", {"x": 2.0}, ["x"], check=False, trace=True))
    assert traced_visits
    _, no_grad_leaves, _, _ = forward_pass(bound("x + 1", {"x": 2.0}, ["x"]), requires_grad=False)
    assert not no_grad_leaves["x"].requires_grad


@pytest.mark.parametrize("shape", [(), (1,), (1, 1)])
def test_require_scalar_accepts_one_element(shape):
    require_scalar(np.zeros(shape), "what", "hint")


def test_require_scalar_refuses_more_elements():
    with pytest.raises(AutodiffError) as caught:
        require_scalar(np.zeros((2, 1)), "a Hessian needs a scalar output", "reduce it with sum()")
    assert caught.value.kind == "shape"
    assert caught.value.message == "a Hessian needs a scalar output, and the output has shape (2, 1)"
    assert caught.value.hint == "reduce it with sum()"


def test_require_room(monkeypatch):
    monkeypatch.setenv("AUTODIFF_MAX_ELEMENTS", "1000")
    require_room("Hessian", 1000)
    with pytest.raises(AutodiffError) as caught:
        require_room("Hessian", 1001)
    assert caught.value.kind == "limit"
    assert caught.value.message.startswith("the Hessian would have 1001 elements; the limit is 1000")


def test_unit_seeds_are_one_hot_in_c_order():
    seeds = list(unit_seeds((2, 2)))
    assert len(seeds) == 4
    for k, seed in enumerate(seeds):
        assert seed.shape == (2, 2) and seed.sum() == 1.0 and seed.flat[k] == 1.0
    assert [s.item() for s in unit_seeds(())] == [1.0]


def test_gradient_row_follows_wrt_order():
    result = SimpleNamespace(wrt=["b", "a"], gradients={"a": np.array([1.0, 2.0]), "b": np.array(3.0)})
    np.testing.assert_array_equal(gradient_row(result), [[3.0, 1.0, 2.0]])


def test_traced_keeps_the_graph_only_when_tracing():
    assert traced(bound("x", {"x": 1.0}, ["x"]), "out", {"x": 1}) == {}
    assert traced(bound("x", {"x": 1.0}, ["x"], trace=True), "out", {"x": 1}) == {"output": "out", "leaves": {"x": 1}}


def test_mode_interface_defaults():
    mode = Mode()
    with pytest.raises(NotImplementedError):
        mode.compute(None)
    with pytest.raises(NotImplementedError):
        mode.entries(None)
    assert mode.checked_options(order=3) == {"order": 3}
    assert mode.symbolic_functions(["f", "g"], None, None) == ["f"]
    assert mode.symbolic_size_problem(None) is None
    assert mode.shown_shape(SimpleNamespace(inputs={"W": np.zeros((2, 3))}), "W") == ((2, 3), True)
