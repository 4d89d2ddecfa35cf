"""The engine's Tensor API and PyTorch semantics: graph structure, backward rules, kinks, errors,
graph freeing, deep graphs, custom Functions and gradcheck. (Per-op calculus is in test_engine_ops.py,
comparisons with PyTorch in test_engine_vs_torch.py.)"""
import gc
import math
import re
import sys
import warnings
import weakref

import numpy as np
import pytest

import autodiff_cli
import autodiff_cli.engine as ad
from autodiff_cli.engine import Function, Tensor, gradcheck, no_grad


def leaf(value):
    return Tensor(value, requires_grad=True)


def close(a, b, rtol=1e-12, atol=1e-12):
    a = a.data if isinstance(a, Tensor) else a
    np.testing.assert_allclose(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64),
                               rtol=rtol, atol=atol)


@pytest.fixture
def no_warnings():
    """Any Python warning (numpy RuntimeWarning, DeprecationWarning, ...) becomes an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="warn"):   # make sure numpy would warn if the engine did not silence it
            yield


# --- the public surface --------------------------------------------------------------------------

def test_top_level_reexports_the_engine():
    for name in ["Tensor", "Function", "no_grad", "grad", "gradcheck"]:
        assert getattr(autodiff_cli, name) is getattr(ad, name)
    for name in ["add", "sub", "mul", "div", "neg", "pow", "matmul", "dot", "sin", "cos", "tan", "asin",
                 "acos", "atan", "sinh", "cosh", "tanh", "exp", "log", "log1p", "expm1", "sqrt", "abs",
                 "sigmoid", "relu", "sum", "mean", "max", "min", "maximum", "minimum", "reshape",
                 "transpose", "broadcast_to", "where"]:
        assert callable(getattr(ad, name)), name
        assert getattr(autodiff_cli, name) is getattr(ad, name), name


def test_tensor_basics():
    t = Tensor([[1, 2, 3], [4, 5, 6]])
    assert isinstance(t.data, np.ndarray) and t.data.dtype == np.float64
    assert t.shape == (2, 3) and t.ndim == 2 and t.size == 6
    assert t.grad is None and t.requires_grad is False and t.is_leaf and t.grad_fn is None
    close(t.numpy(), [[1, 2, 3], [4, 5, 6]])
    s = Tensor(3)
    assert s.shape == () and s.data.dtype == np.float64 and s.item() == 3.0 and isinstance(s.item(), float)
    x = leaf([1.0, 2.0])
    assert x.requires_grad and x.is_leaf and x.grad_fn is None and x.grad is None
    assert Tensor(np.float32(1.5)).data.dtype == np.float64
    assert Tensor(np.arange(3)).data.dtype == np.float64   # ints become float64


def test_tensor_constructor_does_not_alias_the_callers_list_or_mutate_it():
    a = np.array([1.0, 2.0])
    t = Tensor(a, requires_grad=True)
    (t * t).backward(gradient=Tensor([1.0, 1.0]))
    close(a, [1.0, 2.0])
    close(t.grad, [2.0, 4.0])


def test_item_on_single_element_tensors_of_any_rank(no_warnings):
    assert Tensor(2.5).item() == 2.5
    assert Tensor([2.5]).item() == 2.5          # torch: any one-element tensor
    assert Tensor([[2.5]]).item() == 2.5
    with pytest.raises((ValueError, TypeError, RuntimeError)):
        Tensor([1.0, 2.0]).item()


def test_grad_is_a_tensor_shaped_like_the_leaf():
    x = leaf([[1.0, 2.0], [3.0, 4.0]])
    ad.sum(x * x).backward()
    assert isinstance(x.grad, Tensor)
    assert x.grad.shape == (2, 2) and x.grad.requires_grad is False
    close(x.grad, [[2, 4], [6, 8]])


def test_operators_and_reflected_forms():
    x = leaf(2.0)
    cases = {
        "x+3": (x + 3, 5, 1), "3+x": (3 + x, 5, 1), "x-3": (x - 3, -1, 1), "3-x": (3 - x, 1, -1),
        "x*3": (x * 3, 6, 3), "3*x": (3 * x, 6, 3), "x/4": (x / 4, 0.5, 0.25), "4/x": (4 / x, 2, -1),
        "x**3": (x ** 3, 8, 12), "3**x": (3 ** x, 9, 9 * math.log(3)), "-x": (-x, -2, -1), "+x": (+x, 2, 1),
        "x*x": (x * x, 4, 4), "x/x": (x / x, 1, 0), "x-x": (x - x, 0, 0), "x**x": (x ** x, 4, 4 * (math.log(2) + 1)),
    }
    for name, (y, value, slope) in cases.items():
        x.grad = None
        assert isinstance(y, Tensor), name
        close(y, value)
        y.backward()
        close(x.grad, slope, rtol=1e-12)


def test_reflected_operators_with_numpy_arrays_return_tensors():
    x = leaf([1.0, 2.0, 3.0])
    a = np.array([2.0, 3.0, 4.0])
    for y, dy in [(a * x, a), (a + x, 1), (a - x, -1), (a / x, -a / x.data ** 2), (a ** x, a ** x.data * np.log(a))]:
        assert isinstance(y, Tensor)
        x.grad = None
        y.backward(gradient=Tensor(np.ones(3)))
        close(x.grad, np.broadcast_to(dy, (3,)), rtol=1e-12)
    m = np.arange(6.0).reshape(2, 3)
    y = m @ x
    assert isinstance(y, Tensor) and y.shape == (2,)
    x.grad = None
    ad.sum(y).backward()
    close(x.grad, m.sum(axis=0))


def test_functions_accept_numbers_and_arrays():
    close(ad.sin(0.5), math.sin(0.5))
    close(ad.add(np.array([1.0, 2.0]), 3), [4.0, 5.0])
    close(ad.maximum([1.0, 5.0], [3.0, 2.0]), [3.0, 5.0])
    r = ad.mul(2.0, 3.0)
    assert isinstance(r, Tensor) and r.grad_fn is None and not r.requires_grad


def test_constants_get_no_gradient_and_do_not_require_grad():
    x = leaf([1.0, 2.0])
    c = Tensor([3.0, 4.0])
    y = ad.sum(x * c)
    y.backward()
    assert c.grad is None
    close(x.grad, [3, 4])
    z = c * c
    assert z.requires_grad is False and z.grad_fn is None and z.is_leaf


def test_broadcasting_reduces_gradients_to_each_input_shape():
    a, b = leaf(np.ones((3, 1))), leaf(np.ones((1, 4)))
    ad.sum(a * b * 2.0).backward()
    assert a.grad.shape == (3, 1) and b.grad.shape == (1, 4)
    close(a.grad, np.full((3, 1), 8.0))
    close(b.grad, np.full((1, 4), 6.0))
    s, m = leaf(2.0), leaf(np.arange(6.0).reshape(2, 3))
    ad.sum(s * m).backward()
    assert s.grad.shape == () and m.grad.shape == (2, 3)
    close(s.grad, 15.0)
    close(m.grad, np.full((2, 3), 2.0))
    v = leaf([1.0, 2.0, 3.0])
    ad.sum(m + v).backward()
    assert v.grad.shape == (3,)
    close(v.grad, [2, 2, 2])
    one = leaf([5.0])   # shape (1,) against (2, 3)
    ad.sum(one * m).backward()
    assert one.grad.shape == (1,)
    close(one.grad, [15.0])


def test_reductions_with_axis_and_keepdims_values_and_shapes():
    x = leaf(np.arange(24.0).reshape(2, 3, 4))
    for fn, ref in [(ad.sum, np.sum), (ad.mean, np.mean), (ad.max, np.max), (ad.min, np.min)]:
        for axis in [None, 0, 1, -1, (0, 2), (0, 1, 2)]:
            for keepdims in [False, True]:
                y = fn(x, axis=axis, keepdims=keepdims)
                want = ref(x.data, axis=axis, keepdims=keepdims)
                assert y.shape == want.shape, (fn, axis, keepdims)
                close(y, want)
    x.grad = None
    ad.sum(ad.mean(x, axis=1)).backward()
    close(x.grad, np.full((2, 3, 4), 1 / 3))


def test_matmul_and_dot_shapes():
    a, b = leaf(np.arange(6.0).reshape(2, 3)), leaf(np.arange(12.0).reshape(3, 4))
    v = leaf([1.0, -1.0, 2.0])
    assert (a @ b).shape == (2, 4) and (a @ v).shape == (2,) and (v @ b).shape == (4,)
    assert (v @ v).shape == () and ad.dot(v, v).shape == ()
    close(ad.dot(v, v), 6.0)
    ad.dot(v, v).backward()
    close(v.grad, [2.0, -2.0, 4.0])


def test_reshape_and_transpose():
    x = leaf(np.arange(6.0).reshape(2, 3))
    y = ad.reshape(x, (3, 2))
    assert y.shape == (3, 2)
    t = ad.transpose(x)
    assert t.shape == (3, 2)
    close(t, x.data.T)
    ad.sum(y * Tensor(np.arange(6.0).reshape(3, 2)) + t * Tensor(np.ones((3, 2)))).backward()
    close(x.grad, np.arange(6.0).reshape(2, 3) + 1)


# --- graph structure -----------------------------------------------------------------------------

def test_grad_fn_names_and_next_functions():
    x, y = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    c = Tensor([5.0, 6.0])
    z = x * y
    assert type(z.grad_fn).__name__ == "MulBackward0" and z.grad_fn.name() == "MulBackward0"
    (n0, i0), (n1, i1) = z.grad_fn.next_functions
    assert i0 == 0 and i1 == 0
    assert type(n0).__name__ == "AccumulateGrad" and n0.name().endswith("AccumulateGrad")
    assert n0.variable is x and n1.variable is y
    w = z + x
    assert w.grad_fn.name() == "AddBackward0"
    assert w.grad_fn.next_functions[0][0] is z.grad_fn
    assert w.grad_fn.next_functions[1][0].variable is x
    # one AccumulateGrad per leaf: both uses of x reach the same node
    assert w.grad_fn.next_functions[1][0] is z.grad_fn.next_functions[0][0]
    sq = x * x
    assert sq.grad_fn.next_functions[0][0] is sq.grad_fn.next_functions[1][0]
    # inputs that need no gradient: None
    k = x * c
    assert k.grad_fn.next_functions[0][0].variable is x
    assert k.grad_fn.next_functions[1] == (None, 0)
    k2 = 2.0 * x
    assert [e[0] is None for e in k2.grad_fn.next_functions] == [True, False]
    k3 = x * 2.0
    assert [e[0] is None for e in k3.grad_fn.next_functions] == [False, True]
    s = ad.sin(x)
    assert len(s.grad_fn.next_functions) == 1 and s.grad_fn.next_functions[0][0].variable is x


EXPECTED_NAMES = [
    ("x + y", lambda x, y, m, n: x + y, "AddBackward0"),
    ("x - y", lambda x, y, m, n: x - y, "SubBackward0"),
    ("x * y", lambda x, y, m, n: x * y, "MulBackward0"),
    ("x / y", lambda x, y, m, n: x / y, "DivBackward0"),
    ("x ** 2", lambda x, y, m, n: x ** 2, "PowBackward0"),
    ("x ** y", lambda x, y, m, n: x ** y, "PowBackward1"),
    ("-x", lambda x, y, m, n: -x, "NegBackward0"),
    ("sin", lambda x, y, m, n: ad.sin(x), "SinBackward0"),
    ("exp", lambda x, y, m, n: ad.exp(x), "ExpBackward0"),
    ("log1p", lambda x, y, m, n: ad.log1p(x), "Log1PBackward0"),
    ("sum", lambda x, y, m, n: ad.sum(x), "SumBackward0"),
    ("sum axis", lambda x, y, m, n: ad.sum(m, axis=0), "SumBackward1"),
    ("mean", lambda x, y, m, n: ad.mean(x), "MeanBackward0"),
    ("mean axis", lambda x, y, m, n: ad.mean(m, axis=1), "MeanBackward1"),
    ("max", lambda x, y, m, n: ad.max(x), "MaxBackward1"),
    ("min", lambda x, y, m, n: ad.min(x), "MinBackward1"),
    ("maximum", lambda x, y, m, n: ad.maximum(x, y), "MaximumBackward0"),
    ("relu", lambda x, y, m, n: ad.relu(x), "ReluBackward0"),
    ("sigmoid", lambda x, y, m, n: ad.sigmoid(x), "SigmoidBackward0"),
    ("vec @ vec", lambda x, y, m, n: x @ y, "DotBackward0"),
    ("dot", lambda x, y, m, n: ad.dot(x, y), "DotBackward0"),
    ("mat @ vec", lambda x, y, m, n: n @ x, "MvBackward0"),
    ("mat @ mat", lambda x, y, m, n: m @ n, "MmBackward0"),
]


@pytest.mark.parametrize("label,fn,name", EXPECTED_NAMES, ids=[c[0] for c in EXPECTED_NAMES])
def test_grad_fn_names_like_pytorch(label, fn, name):
    x, y = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    m, n = leaf(np.ones((3, 2))), leaf(np.ones((2, 2)))
    out = fn(x, y, m, n)
    assert type(out.grad_fn).__name__ == name
    assert out.grad_fn.name() == name


def test_is_leaf_and_requires_grad_propagation():
    x = leaf(1.0)
    y = x * 2
    assert not y.is_leaf and y.requires_grad
    d = y.detach()
    assert d.is_leaf and not d.requires_grad and d.grad_fn is None
    close(d, 2.0)


# --- backward semantics --------------------------------------------------------------------------

def test_implicit_gradient_only_for_scalar_outputs():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="scalar"):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match="scalar"):
        ad.grad(x * 2, [x])
    # a one-element output counts as a scalar, as in PyTorch
    one = leaf([3.0])
    (one * one).backward()
    close(one.grad, [6.0])


def test_explicit_gradient_seed():
    x = leaf([1.0, 2.0, 3.0])
    (x * x).backward(gradient=Tensor([1.0, 0.1, 0.01]))
    close(x.grad, [2.0, 0.4, 0.06])


def test_gradient_seed_of_wrong_shape_is_an_error():
    x = leaf([1.0, 2.0, 3.0])
    with pytest.raises(RuntimeError):
        (x * x).backward(gradient=Tensor([1.0, 1.0]))


def test_backward_of_tensor_without_grad_is_an_error():
    with pytest.raises(RuntimeError):
        ad.sum(Tensor([1.0, 2.0])).backward()


def test_gradients_accumulate_across_backward_calls():
    x = leaf([1.0, 2.0])
    ad.sum(x * x).backward()
    ad.sum(x * x).backward()
    close(x.grad, [4.0, 8.0])
    ad.sum(3 * x).backward()
    close(x.grad, [7.0, 11.0])
    x.grad = None   # reset, as in PyTorch
    ad.sum(3 * x).backward()
    close(x.grad, [3.0, 3.0])


def test_gradient_is_not_aliased_to_the_seed_or_across_leaves():
    x, y = leaf([1.0, 2.0]), leaf([1.0, 2.0])
    seed = Tensor([1.0, 1.0])
    (x + y).backward(gradient=seed)
    assert not np.shares_memory(x.grad.data, y.grad.data)
    assert not np.shares_memory(x.grad.data, seed.data) and not np.shares_memory(y.grad.data, seed.data)
    (x + y).backward(gradient=seed)   # accumulation must not write into the seed
    close(seed, [1.0, 1.0])


def test_second_backward_through_freed_graph_raises():
    x = leaf([1.0, 2.0])
    y = ad.sum(ad.sin(x) * x)
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = leaf([1.0, 2.0])
    y = ad.sum(ad.sin(x) * x)
    y.backward(retain_graph=True)
    first = x.grad.data.copy()
    y.backward()
    close(x.grad, 2 * first)
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


def test_grad_frees_graph_unless_retained():
    x = leaf(2.0)
    y = x * x * x
    (g,) = ad.grad(y, [x], retain_graph=True)
    close(g, 12.0)
    (g,) = ad.grad(y, [x])
    close(g, 12.0)
    assert x.grad is None   # grad() does not touch .grad
    with pytest.raises(RuntimeError, match="retain_graph"):
        ad.grad(y, [x])


def test_backward_on_a_scalar_leaf_and_grad_wrt_an_intermediate():
    x = leaf(2.0)
    x.backward()
    close(x.grad, 1.0)
    x = leaf(2.0)
    z = x * 3
    w = z * z
    (gz,) = ad.grad(w, [z], retain_graph=True)
    close(gz, 12.0)
    (gx, gz) = ad.grad(w, [x, z])
    close(gx, 36.0)
    close(gz, 12.0)


def test_create_graph_implies_retain_graph():
    x = leaf(2.0)
    y = x ** 3
    y.backward(create_graph=True)
    y.backward()   # retain_graph defaults to create_graph, as in torch
    close(x.grad, 24.0)


def test_non_leaf_grad_is_none_unless_retained():
    x, y = leaf(2.0), leaf(3.0)
    z = x * y
    w = z + x
    w.backward()
    assert z.grad is None
    close(x.grad, 4.0)
    close(y.grad, 2.0)


def test_retain_grad_on_non_leaf_accumulates():
    x, y = leaf(2.0), leaf(3.0)
    z = x * y
    z.retain_grad()
    w = z * z + x          # dw/dz = 2z = 12
    w.backward(retain_graph=True)
    assert isinstance(z.grad, Tensor)
    close(z.grad, 12.0)
    close(x.grad, 2 * 6 * 3 + 1)
    w.backward()
    close(z.grad, 24.0)
    retained_leaf = leaf(1.0)
    retained_leaf.retain_grad()   # no-op on leaves
    (retained_leaf * 2).backward()
    close(retained_leaf.grad, 2.0)


def test_shared_intermediate_gradient_is_summed():
    x = leaf([1.0, 2.0])
    z = ad.sin(x)
    z.retain_grad()
    y = ad.sum(z * z + 3 * z + ad.exp(z))
    y.backward()
    close(z.grad, 2 * np.sin([1.0, 2.0]) + 3 + np.exp(np.sin([1.0, 2.0])))
    close(x.grad, z.grad.data * np.cos([1.0, 2.0]))


def test_multiple_outputs_via_grad_and_grad_outputs():
    x = leaf([1.0, 2.0])
    a, b = x * x, ad.sin(x)
    ga, = ad.grad([a, b], [x], grad_outputs=[Tensor([1.0, 1.0]), Tensor([2.0, 0.0])])
    close(ga, 2 * x.data + np.array([2 * math.cos(1.0), 0.0]))


def test_grad_allow_unused():
    x, y = leaf(1.0), leaf(2.0)
    z = x * 3
    with pytest.raises(RuntimeError):
        ad.grad(z, [x, y], retain_graph=True)
    gx, gy = ad.grad(z, [x, y], allow_unused=True)
    close(gx, 3.0)
    assert gy is None


def test_grad_requires_inputs_that_require_grad():
    x = leaf(1.0)
    c = Tensor(2.0)
    with pytest.raises(RuntimeError):
        ad.grad(x * c, [c])


def test_grad_create_graph_gives_differentiable_gradients():
    x = leaf(1.5)
    y = x ** 4
    (g,) = ad.grad(y, [x], create_graph=True)
    assert g.requires_grad and g.grad_fn is not None
    close(g, 4 * 1.5 ** 3)
    (h,) = ad.grad(g, [x], create_graph=True)
    close(h, 12 * 1.5 ** 2)
    (t,) = ad.grad(h, [x])
    close(t, 24 * 1.5)


def test_backward_create_graph_then_backward_again():
    x = leaf(2.0)
    y = x ** 3
    y.backward(create_graph=True)
    assert x.grad.requires_grad
    close(x.grad, 12.0)
    g = x.grad
    x.grad = None
    g.backward()
    close(x.grad, 12.0)   # d(3x^2)/dx at 2


def test_hessian_of_design_card_by_double_backward():
    x, y = leaf(2.0), leaf(1.0)
    f = 3 * x ** 2 + 2 * x * y + y ** 2
    gx, gy = ad.grad(f, [x, y], create_graph=True)
    close(gx, 14.0)
    close(gy, 6.0)
    hxx, hxy = ad.grad(gx, [x, y], retain_graph=True)
    hyx, hyy = ad.grad(gy, [x, y])
    close([[hxx.data, hxy.data], [hyx.data, hyy.data]], [[6.0, 2.0], [2.0, 2.0]])


def test_no_grad_stops_recording_and_restores_state():
    x = leaf([1.0, 2.0])
    with no_grad():
        y = x * 2
        z = ad.sin(x) + x
    assert not y.requires_grad and y.grad_fn is None and y.is_leaf
    assert not z.requires_grad and z.grad_fn is None
    close(y, [2.0, 4.0])
    w = x * 2
    assert w.requires_grad and w.grad_fn is not None
    with pytest.raises(ZeroDivisionError):
        with no_grad():
            raise ZeroDivisionError
    assert (x * 2).requires_grad   # restored after an exception too
    with no_grad():
        with no_grad():
            pass
        assert not (x * 2).requires_grad   # nested exit restores the outer state
    with pytest.raises(RuntimeError):
        y.backward(gradient=Tensor([1.0, 1.0]))


def test_detach_cuts_the_graph():
    x = leaf([1.0, 2.0, 3.0])
    d = x.detach()
    assert not d.requires_grad and d.is_leaf and d.grad_fn is None
    close(d, x.data)
    ad.sum(d * x).backward()
    close(x.grad, [1.0, 2.0, 3.0])   # not 2x: d is a constant
    h = ad.sin(x)
    hd = h.detach()
    assert hd.grad_fn is None and not hd.requires_grad
    close(hd, np.sin([1.0, 2.0, 3.0]))


# --- graph freeing -------------------------------------------------------------------------------

def _graph_with_big_intermediate(n=200_000):
    x = leaf(np.linspace(-1.0, 1.0, n))
    h = ad.exp(x) * 2.0          # a big intermediate that mul/sin below must save
    out = ad.sum(ad.sin(h) * h)
    return x, h, out


def test_saved_tensors_are_freed_after_backward():
    x, h, out = _graph_with_big_intermediate()
    h_ref, h_data_ref = weakref.ref(h), weakref.ref(h.data)
    del h
    gc.collect()
    assert h_ref() is not None, "before backward the graph must keep the intermediate alive"
    out.backward()
    gc.collect()
    assert h_ref() is None, "the intermediate Tensor survived a backward without retain_graph"
    assert h_data_ref() is None, "the intermediate's array survived a backward without retain_graph"
    assert out.grad_fn is not None   # the graph structure itself may stay; only saved values go


def test_saved_tensors_survive_with_retain_graph_then_are_freed():
    x, h, out = _graph_with_big_intermediate()
    h_ref = weakref.ref(h)
    del h
    out.backward(retain_graph=True)
    gc.collect()
    assert h_ref() is not None
    out.backward()
    gc.collect()
    assert h_ref() is None


def test_grad_frees_saved_tensors_too():
    x, h, out = _graph_with_big_intermediate(1000)
    h_ref = weakref.ref(h)
    del h
    ad.grad(out, [x])
    gc.collect()
    assert h_ref() is None


def test_graph_is_released_when_the_output_is_dropped():
    x, h, out = _graph_with_big_intermediate(1000)
    h_ref = weakref.ref(h)
    del h, out
    gc.collect()
    assert h_ref() is None


# --- deep and shared graphs ----------------------------------------------------------------------

@pytest.fixture
def default_recursion_limit():
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


class _Applies:
    count = 0
    limit = 10**7


@pytest.fixture
def counted_applies(monkeypatch):
    """Counts the node VJP applications of the test's backward passes: their work, counted, not
    timed (the machine may be loaded). Past `limit` the pass fails at once instead of running on
    (an exponential blow-up would never end)."""
    from autodiff_cli.engine import graph
    counter, real = _Applies(), graph.Node.apply

    def apply(self, g, create_graph):
        counter.count += 1
        assert counter.count <= counter.limit, "the backward pass does more work than its graph has nodes"
        return real(self, g, create_graph)
    monkeypatch.setattr(graph.Node, "apply", apply)
    return counter


def test_200k_node_chain_backward_is_iterative_and_linear(default_recursion_limit, counted_applies):
    n = 200_000
    x = leaf(1.0)
    y = x
    for _ in range(n // 2):
        y = y * 1.0000001 + 0.0       # two nodes per step
    y.backward()
    close(x.grad, 1.0000001 ** (n // 2), rtol=1e-9)
    assert counted_applies.count == n      # each node once: linear work, whatever the machine's speed
    del y
    gc.collect()   # tearing down a deep graph must not crash either


def test_200k_sin_chain(default_recursion_limit, counted_applies):
    n = 200_000
    x = leaf(0.5)
    values = np.empty(n)
    y = x
    for i in range(n):
        values[i] = y.data
        y = ad.sin(y)
    y.backward()
    assert counted_applies.count == n
    close(y, np.sin(values[-1]))
    close(x.grad, np.prod(np.cos(values)), rtol=1e-8)
    del y
    gc.collect()


def test_deep_chain_double_backward(default_recursion_limit):
    x = leaf(0.3)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    y = y * y
    (g,) = ad.grad(y, [x], create_graph=True)
    (h,) = ad.grad(g, [x])
    k = 1.0001 ** 5000
    close(g, 2 * k * k * 0.3, rtol=1e-9)
    close(h, 2 * k * k, rtol=1e-9)


def test_shared_subexpressions_do_not_blow_up(default_recursion_limit, counted_applies):
    x = leaf(1.0)
    y = x
    for _ in range(60):
        y = y + y
    counted_applies.limit = 60          # one application per node, not one per path (2**60)
    y.backward()
    assert counted_applies.count == 60
    assert x.grad.item() == 2.0 ** 60
    counted_applies.limit = 10**7
    x2 = leaf(1.0)
    y2 = x2
    for _ in range(60):
        y2 = y2 * 1.0 + y2 * 1.0
    (g,) = ad.grad(y2, [x2], create_graph=True)
    assert g.item() == 2.0 ** 60


# --- kinks and non-finite values -----------------------------------------------------------------

def _grads(fn, *values):
    xs = [leaf(v) for v in values]
    out = fn(*xs)
    ad.sum(out).backward()
    return out.data, [x.grad.data for x in xs]


def test_kinks_match_pytorch(no_warnings):
    assert _grads(ad.abs, 0.0)[1][0] == 0.0
    assert _grads(ad.relu, 0.0)[1][0] == 0.0
    assert _grads(ad.sqrt, 0.0)[1][0] == math.inf
    close(_grads(ad.abs, [-2.0, 0.0, 3.0])[1][0], [-1.0, 0.0, 1.0])
    close(_grads(ad.relu, [-2.0, 0.0, 3.0])[1][0], [0.0, 0.0, 1.0])


def test_max_min_full_reduction_split_ties_evenly():
    close(_grads(ad.max, [1.0, 3.0, 3.0, 2.0])[1][0], [0.0, 0.5, 0.5, 0.0])
    close(_grads(ad.min, [1.0, 1.0, 3.0, 1.0])[1][0], [1 / 3, 1 / 3, 0.0, 1 / 3])
    close(_grads(ad.max, [[2.0, 2.0], [2.0, 2.0]])[1][0], np.full((2, 2), 0.25))


def test_max_min_axis_reduction_ties_split_evenly_like_amax():
    close(_grads(lambda x: ad.max(x, axis=0), [[1.0, 3.0], [1.0, 2.0]])[1][0], [[0.5, 1.0], [0.5, 0.0]])
    close(_grads(lambda x: ad.min(x, axis=1), [[1.0, 1.0], [0.0, 2.0]])[1][0], [[0.5, 0.5], [1.0, 0.0]])


def test_maximum_minimum_give_half_to_each_side_on_ties():
    _, (ga, gb) = _grads(ad.maximum, [1.0, 2.0, 5.0], [1.0, 3.0, 4.0])
    close(ga, [0.5, 0.0, 1.0])
    close(gb, [0.5, 1.0, 0.0])
    _, (ga, gb) = _grads(ad.minimum, [1.0, 2.0, 5.0], [1.0, 3.0, 4.0])
    close(ga, [0.5, 1.0, 0.0])
    close(gb, [0.5, 0.0, 1.0])
    # broadcasting tie: the scalar collects half from each tied element
    _, (ga, gb) = _grads(ad.maximum, 2.0, [2.0, 2.0, 1.0])
    close(ga, 2.0)
    close(gb, [0.5, 0.5, 0.0])


def test_pow_at_zero_base_like_pytorch(no_warnings):
    # d(x**y)/dy is 0 where x == 0 (y >= 0); d/dx as torch
    _, (gx, gy) = _grads(lambda x, y: x ** y, [0.0, 0.0, 0.0, 2.0], [2.0, 0.5, 0.0, 1.0])
    close(gx, [0.0, math.inf, 0.0, 1.0])
    close(gy, [0.0, 0.0, 0.0, 2 * math.log(2.0)])
    assert _grads(lambda x: x ** 2, 0.0)[1][0] == 0.0
    assert _grads(lambda x: x ** 0.5, 0.0)[1][0] == math.inf
    assert _grads(lambda x: x ** 0, 0.0)[1][0] == 0.0
    assert _grads(lambda x: x ** 1, 0.0)[1][0] == 1.0
    assert _grads(lambda x: x ** 3, 0.0)[1][0] == 0.0
    assert _grads(lambda x: x ** -1, 0.0)[1][0] == -math.inf
    # number base 0: torch gives 0, not 0 * log(0) = nan
    close(_grads(lambda x: 0.0 ** x, [1.0, 2.0, 0.0])[1][0], [0.0, 0.0, 0.0])
    close(_grads(lambda x: ad.pow(0.0, x), [1.0, 2.0])[1][0], [0.0, 0.0])


def test_second_derivative_of_constant_powers_at_zero(no_warnings):
    """torch: the gradient of x**0 is a constant 0, so its derivative is 0 (not nan)."""
    for c, want in [(0, 0.0), (1, 0.0), (2, 2.0), (3, 0.0)]:
        x = leaf(0.0)
        (g,) = ad.grad(x ** c, [x], create_graph=True)
        if g.requires_grad:
            (h,) = ad.grad(g, [x], allow_unused=True)
            h = 0.0 if h is None else h.item()
        else:
            h = 0.0
        assert h == want, f"d2/dx2 x**{c} at 0: {h} != {want}"


def test_domain_errors_and_overflow_give_nan_inf_without_warnings(no_warnings):
    cases = [
        (ad.log, [0.0, -1.0], [-math.inf, math.nan], [math.inf, -1.0]),
        (ad.sqrt, [-1.0, 0.0], [math.nan, 0.0], [math.nan, math.inf]),
        (ad.exp, [1000.0], [math.inf], [math.inf]),
        (ad.asin, [2.0, 1.0], [math.nan, math.pi / 2], [math.nan, math.inf]),
        (ad.acos, [1.0], [0.0], [-math.inf]),
        (ad.log1p, [-1.0, -2.0], [-math.inf, math.nan], [math.inf, -1.0]),
        (ad.sigmoid, [-1000.0, 1000.0], [0.0, 1.0], [0.0, 0.0]),
        (ad.tanh, [-1000.0, 1000.0], [-1.0, 1.0], [0.0, 0.0]),
        (ad.cosh, [1000.0], [math.inf], [math.inf]),
        (lambda x: x ** 0.5, [-1.0], [math.nan], [math.nan]),
        (lambda x: 1.0 / x, [0.0], [math.inf], [-math.inf]),
    ]
    for fn, xs, want_value, want_grad in cases:
        value, (g,) = _grads(fn, xs)
        np.testing.assert_array_equal(value, want_value, err_msg=f"{fn} value")
        np.testing.assert_array_equal(g, want_grad, err_msg=f"{fn} gradient")
    value, (gx, gy) = _grads(lambda x, y: x / y, [1.0, 0.0], [0.0, 0.0])
    np.testing.assert_array_equal(value, [math.inf, math.nan])
    np.testing.assert_array_equal(gx, [math.inf, math.inf])
    np.testing.assert_array_equal(gy, [-math.inf, math.nan])
    # double backward through overflow must not warn either
    x = leaf([1000.0, -1000.0])
    (g,) = ad.grad(ad.sum(ad.exp(x) * ad.log(x)), [x], create_graph=True)
    ad.grad(ad.sum(g), [x])


def test_no_warnings_from_ordinary_ops(no_warnings):
    x = leaf([[0.0, -1.0], [2.0, 1e308]])
    y = ad.sum(ad.log(x) + ad.sqrt(x) + x * x + ad.exp(x) + x / (x - x) + ad.asin(x) + x ** x)
    y.backward()
    assert np.isnan(x.grad.data).any() or np.isinf(x.grad.data).any()


# --- custom Functions and gradcheck --------------------------------------------------------------

from custom_functions import BuggyMulConstant, MulConstant, MyExp  # noqa: E402



class WeightedProduct(Function):
    """Two tensor inputs and a keyword-ish non-tensor in the middle."""

    @staticmethod
    def forward(ctx, a, scale, b):
        ctx.save_for_backward(a, b)
        ctx.scale = scale
        return a * b * scale

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return g * b * ctx.scale, None, g * a * ctx.scale


def test_custom_function_forward_and_backward():
    x = leaf([1.0, 2.0, 3.0])
    y = MulConstant.apply(x, 3.0)
    assert isinstance(y, Tensor) and y.requires_grad and y.grad_fn is not None
    close(y, [3.0, 6.0, 9.0])
    z = ad.sum(y * y)   # inside a larger graph
    z.backward()
    close(x.grad, 18 * x.data)
    # the forward's own ops are not recorded: the node leads straight to x
    edges = [e for e, _ in y.grad_fn.next_functions if e is not None]
    assert len(edges) == 1 and edges[0].variable is x


def test_custom_function_save_for_backward():
    x = leaf([0.0, 1.0, -1.0])
    y = MyExp.apply(x)
    close(y, np.exp(x.data))
    ad.sum(y * Tensor([1.0, 2.0, 3.0])).backward()
    close(x.grad, np.exp(x.data) * [1.0, 2.0, 3.0])


def test_custom_function_two_tensor_inputs_and_non_tensor_arg():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 5.0])
    out = WeightedProduct.apply(a, 0.5, b)
    close(out, [1.5, 5.0])
    ad.sum(out).backward()
    close(a.grad, [1.5, 2.5])
    close(b.grad, [0.5, 1.0])
    c = Tensor([3.0, 5.0])   # an input that needs no grad
    a.grad = None
    out = WeightedProduct.apply(a, 2.0, c)
    ad.sum(out).backward()
    close(a.grad, [6.0, 10.0])
    assert c.grad is None


def test_custom_function_without_grad_inputs_or_under_no_grad():
    y = MulConstant.apply(Tensor([1.0]), 2.0)
    assert not y.requires_grad and y.grad_fn is None
    x = leaf([1.0])
    with no_grad():
        y = MulConstant.apply(x, 2.0)
    assert not y.requires_grad and y.grad_fn is None


def test_custom_function_second_backward_needs_retain_graph():
    x = leaf([1.0, 2.0])
    y = ad.sum(MyExp.apply(x))
    y.backward(retain_graph=True)
    y.backward()
    close(x.grad, 2 * np.exp([1.0, 2.0]))
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


class SaveBig(Function):
    @staticmethod
    def forward(ctx, x):
        y = ad.exp(x)
        ctx.save_for_backward(y)
        return y * 1.0

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y


def test_custom_function_saved_tensors_are_freed_after_backward():
    x = leaf(np.linspace(0.0, 1.0, 100_000))
    out = SaveBig.apply(x)
    saved = out.grad_fn is not None
    assert saved
    import itertools   # noqa: F401  (keep the frame free of stray references)
    loss = ad.sum(out)
    probe = []

    class Probe(Function):   # record a weak reference to what forward saved
        @staticmethod
        def forward(ctx, a):
            y = ad.exp(a)
            ctx.save_for_backward(y)
            probe.append(weakref.ref(y))
            return y * 1.0

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * y

    loss2 = ad.sum(Probe.apply(x))
    gc.collect()
    assert probe[0]() is not None
    loss2.backward(retain_graph=True)
    gc.collect()
    assert probe[0]() is not None, "retain_graph=True must keep the saved tensors"
    loss2.backward()
    gc.collect()
    assert probe[0]() is None, "a custom Function's saved tensors survived backward without retain_graph"
    loss.backward()
    close(x.grad, 3 * np.exp(x.data))


def test_custom_function_returning_the_wrong_number_of_gradients_is_an_error():
    class Bad(Function):
        @staticmethod
        def forward(ctx, x, c):
            return x * c

        @staticmethod
        def backward(ctx, g):
            return g   # two forward arguments, one gradient

    with pytest.raises(RuntimeError):
        Bad.apply(leaf(2.0), 2.0).backward()


def test_gradcheck_passes_correct_functions():
    x = leaf([0.3, -1.2, 2.0])
    y = leaf([[0.5], [1.5]])
    assert gradcheck(lambda a: MulConstant.apply(a, 3.0), (x,)) is True
    assert gradcheck(lambda a, b: ad.sin(a) * b + a ** 2 / (1.0 + b * b), (x, y)) is True
    assert gradcheck(lambda a: ad.sum(ad.exp(a)), (x,)) is True
    assert gradcheck(lambda a: MyExp.apply(a), (x,)) is True


def _gradcheck_outcome(fn, inputs):
    """(passed, message): gradcheck raises (torch default) or returns False on failure."""
    try:
        ok = gradcheck(fn, inputs)
    except Exception as exc:   # noqa: BLE001 - any exception type, the message matters
        return False, str(exc)
    return ok is True, ""


def test_gradcheck_catches_the_unscaled_mul_constant_bug():
    x = leaf([0.3, -1.2, 2.0])
    passed, message = _gradcheck_outcome(lambda a: BuggyMulConstant.apply(a, 3.0), (x,))
    assert not passed
    passed, _ = _gradcheck_outcome(lambda a: MulConstant.apply(a, 3.0), (x,))
    assert passed


class WrongAtOneElement(Function):
    @staticmethod
    def forward(ctx, x):
        return x * 1.0

    @staticmethod
    def backward(ctx, g):
        factor = np.ones((2, 3))
        factor[1, 2] = 7.0
        return g * Tensor(factor)


def test_gradcheck_names_the_worst_element():
    x = leaf(np.arange(6.0).reshape(2, 3) / 10)
    passed, message = _gradcheck_outcome(lambda a: ad.sum(WrongAtOneElement.apply(a) * Tensor(np.ones((2, 3)))), (x,))
    assert not passed
    assert message, "gradcheck must explain the failure"
    # the worst element is the input's element (1, 2): flat index 5
    assert re.search(r"\(1, 2\)|\[1, 2\]|\b5\b", message), message
    assert "7" in message and "1" in message   # analytical 7 vs numerical 1


def test_large_intermediates_no_vjp_reads_are_freed_during_forward():
    """neg and exp never read their input's values: a big x**2 is freed before backward."""
    import gc
    import weakref
    x = ad.Tensor(np.full(10_000, 0.5), requires_grad=True)
    square = x ** 2
    alive = weakref.ref(square)
    y = ad.sum(ad.exp(-square))
    del square
    gc.collect()
    assert alive() is None
    y.backward()
    np.testing.assert_allclose(x.grad.data, -2 * 0.5 * np.exp(-0.25) * np.ones(10_000), rtol=1e-12)


def test_small_inputs_are_kept_and_second_derivatives_still_work():
    x = ad.Tensor(np.linspace(0.1, 1.0, 5), requires_grad=True)
    (g,) = ad.grad(ad.sum(ad.exp(-x ** 2)), [x], create_graph=True)
    (h,) = ad.grad(ad.sum(g), [x])
    xs = np.linspace(0.1, 1.0, 5)
    np.testing.assert_allclose(h.data, (4 * xs ** 2 - 2) * np.exp(-xs ** 2), rtol=1e-12)
