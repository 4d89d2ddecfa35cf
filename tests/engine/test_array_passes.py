"""Large arrays: the shortcuts that save passes over the array (graph.UniformOne for a gradient of ones,
sums into buffers of our own, x**2's VJP without x**1) give PyTorch's numbers exactly, on both paths,
and never write into or hand out the caller's arrays.

The arrays are longer than graph._FORGET_ABOVE: below it the shortcuts are not taken.
"""
import numpy as np
import pytest

import autodiff_cli as ad
from autodiff_cli.engine.graph import _FORGET_ABOVE, UniformOne, uniform_one
from autodiff_cli.api import evaluate
from autodiff_cli.testing import wrong_derivative

torch = pytest.importorskip("torch")
# atol: the terms of a gradient are summed in another order than PyTorch sums them (a few ulps of 2 or so)

N = _FORGET_ABOVE + 7
EXPRESSIONS = [
    ("sum(sin(x)*exp(-x**2) + x*log1p(x**2) + y)",
     lambda x, y: (x.sin() * (-x ** 2).exp() + x * (x ** 2).log1p() + y).sum()),
    ("sum(x*y)", lambda x, y: (x * y).sum()),
    ("sum(x*x + y/x - x)", lambda x, y: (x * x + y / x - x).sum()),
    ("mean(x*y) + sum(x**2)*2", lambda x, y: (x * y).mean() + (x ** 2).sum() * 2),
    ("sum(-x*y + x**3)", lambda x, y: (-x * y + x ** 3).sum()),
    ("sum(1/x + y)", lambda x, y: (1 / x + y).sum()),
]


def _inputs():
    rng = np.random.default_rng(5)
    return rng.uniform(0.5, 2.0, N), rng.uniform(-2.0, 2.0, N)


def _torch_gradients(fn, x, y):
    tx, ty = (torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (x, y))
    out = fn(tx, ty)
    out.backward()
    return out.item(), tx.grad.numpy(), ty.grad.numpy()


@pytest.mark.parametrize("expr, fn", EXPRESSIONS, ids=[e for e, _ in EXPRESSIONS])
def test_both_paths_give_torch_numbers_and_leave_inputs_alone(expr, fn):
    x, y = _inputs()
    x0, y0 = x.copy(), y.copy()
    value, want_x, want_y = _torch_gradients(fn, x, y)
    result = evaluate(expr, {"x": x, "y": y}, check=False)
    tx, ty = ad.Tensor(x, requires_grad=True), ad.Tensor(y, requires_grad=True)
    out = fn(tx, ty)
    out.backward()
    for got_x, got_y, path in ((result.gradients["x"], result.gradients["y"], "tape"), (tx.grad.data, ty.grad.data, "tensor")):
        np.testing.assert_allclose(got_x, want_x, rtol=2e-15, atol=1e-14, err_msg=f"{path} d/dx")
        np.testing.assert_allclose(got_y, want_y, rtol=2e-15, atol=1e-14, err_msg=f"{path} d/dy")
        for gradient in (got_x, got_y):
            assert type(gradient) is np.ndarray
            assert not any(np.shares_memory(gradient, a) for a in (x, y)), path
    np.testing.assert_allclose(float(result.value), value, rtol=1e-12)   # summation orders differ
    assert np.array_equal(x, x0) and np.array_equal(y, y0)


def test_a_gradient_of_ones_skips_the_multiply_and_computes_like_ones():
    ones = uniform_one(np.broadcast_to(np.float64(1.0), (N,)))
    a = np.linspace(-3.0, 3.0, N)
    assert type(ones) is UniformOne
    assert ones * a is a and a * ones is a                     # no pass: the same numbers as 1.0 * a
    assert np.array_equal(ones / a, 1.0 / a)
    assert np.array_equal(-ones, -np.ones(N))
    assert type(ones * 2.0) is np.ndarray and np.array_equal(ones * 2.0, np.full(N, 2.0))
    assert type(np.sin(ones)) is np.ndarray and np.array_equal(np.sin(ones), np.sin(np.ones(N)))
    assert type(uniform_one(np.ones(N))) is np.ndarray         # a real array of ones stays as it is
    assert type(uniform_one(np.broadcast_to(np.float64(2.0), (N,)))) is np.ndarray
    assert uniform_one(np.zeros(0)).size == 0


def test_wrong_derivative_still_reaches_the_shortcut_paths():
    x, y = _inputs()
    with wrong_derivative("*", factor=2.0):
        doubled = evaluate("sum(x*y)", {"x": x, "y": y}, check=False).gradients["x"]
    np.testing.assert_array_equal(doubled, 2.0 * y)


def test_a_declared_ufunc_is_the_forward():
    """The compiled path computes with `ufunc(..., out=)` where the table says the forward is that ufunc."""
    from autodiff_cli.engine.ops import OPS
    rng = np.random.default_rng(8)
    declared = [(spec.name, node) for spec in OPS for node in spec.nodes() if node.ufunc is not None]
    assert {"add", "sub", "mul", "div", "neg", "sin", "exp", "log1p"} <= {name for name, _ in declared}
    for name, node in declared:
        args = [rng.uniform(0.1, 0.9, 50) for _ in range(node.ufunc.nin)]
        out = np.empty(50)
        assert np.array_equal(node.ufunc(*args, out=out), node.forward(*args), equal_nan=True), name


def test_a_forward_into_a_dropped_array_leaves_views_of_it_alone():
    """t = x*2 is dropped after t + y, which may take its array, unless a view of t (reshape) lives on."""
    from autodiff_cli.engine.build import SPECS
    from autodiff_cli.engine.tape import Tape

    def instruction(op, node=None):
        spec = SPECS[op]
        node = node or spec.node
        return spec.primitives[node].node_class, next(n for n in spec.nodes() if n.name == node)

    x, y = _inputs()
    x0 = x.copy()
    tape = Tape(2)
    tape.shapes += [(N,), (N,)]
    two = tape.constant(np.float64(2.0))
    t = tape.add(*instruction("mul"), 0, two, {}, (N,))
    view = tape.add(*instruction("reshape"), t, -1, {"shape": (N,)}, (N,))
    u = tape.add(*instruction("add"), t, 1, {}, (N,))
    w = tape.add(*instruction("mul"), view, u, {}, (N,))
    tape.output = tape.add(*instruction("sum"), w, -1, {"keepdims": False}, ())
    tape.finish(False)
    values, grads, _ = tape.run([x, y], [0, 1])
    np.testing.assert_allclose(values[tape.output], np.sum((x0 * 2) * (x0 * 2 + y)), rtol=1e-12)
    np.testing.assert_allclose(grads[0], 2 * (x0 * 2 + y) + 2 * (x0 * 2), rtol=1e-14)
    assert np.array_equal(x, x0)
