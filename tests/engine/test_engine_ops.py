"""Every engine op against central finite differences: first derivatives and double backward.

Shapes and values are drawn by hypothesis (0-d, 1-d, 2-d, 3-d, broadcasting pairs); values are kept
away from kinks and domain edges so that finite differences are meaningful there. Forward values are
also compared with a plain numpy reference.
"""
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import autodiff_cli.engine as ad
from autodiff_cli.engine import Tensor
from op_domains import DOMAINS, fd_gradient

SETTINGS = settings(max_examples=12, deadline=None, derandomize=False,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SETTINGS_2ND = settings(max_examples=6, deadline=None,
                        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# --- comparison (finite differences: tests/support/op_domains.py) --------------------------------------

def assert_close(got, want, rtol=1e-5, atol=1e-6, what=""):
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=what)


# --- value domains (tests/support/op_domains.py) ---------------------------------------------------------

def draw_array(data, domain, shape):
    elems = st.floats(-1.0, 1.0, allow_nan=False, allow_infinity=False)
    if domain == "distinct":   # max/min reductions: all values distinct, gaps >= 0.3
        size = int(np.prod(shape, dtype=int))
        perm = np.array(data.draw(st.permutations(range(size))), dtype=np.float64)
        noise = data.draw(hnp.arrays(np.float64, (size,), elements=st.floats(0.0, 0.2)))
        return (0.5 * perm + noise - 0.25 * size).reshape(shape)
    u = data.draw(hnp.arrays(np.float64, shape, elements=elems))
    n = data.draw(hnp.arrays(np.float64, shape, elements=elems))
    return np.asarray(DOMAINS[domain](u, n), dtype=np.float64).reshape(shape)


# --- the op table --------------------------------------------------------------------------------

S0, S1, S2, S3 = (), (3,), (2, 3), (2, 1, 3)
UNARY_SHAPES = [(S0,), (S1,), (S2,), (S3,), ((1,),)]
BINARY_SHAPES = [
    (S0, S0), (S1, S1), (S2, S2),
    ((3, 1), (1, 4)), (S0, S2), (S2, S0), (S1, S2), (S2, S1), ((2, 1), S2), ((1,), S1), ((1, 3), (2, 1)),
    (S3, S2), ((4, 1), S1),
]
ARR3 = np.array([0.7, -1.3, 2.1])   # a numpy constant for the reflected-with-array forms


@dataclass
class Op:
    name: str
    fn: Callable            # engine: fn(*tensors, **params)
    ref: Callable           # numpy:  ref(*arrays, **params)
    domains: tuple
    shapes: list
    draw_params: Callable = field(default=None)   # (data, shapes) -> dict of keyword params

    def __repr__(self):
        return self.name


def unary(name, fn, ref, domain="any", shapes=UNARY_SHAPES):
    return Op(name, fn, ref, (domain,), shapes)


def binary(name, fn, ref, d1="any", d2="any", shapes=BINARY_SHAPES):
    return Op(name, fn, ref, (d1, d2), shapes)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _axis_params(data, shapes):
    shape = shapes[0]
    nd = len(shape)
    choices = [None]
    if nd:
        choices += list(range(nd)) + [-1]
    if nd >= 2:
        choices += [(0, nd - 1), tuple(range(nd))]
    axis = data.draw(st.sampled_from(choices), label="axis")
    keepdims = data.draw(st.booleans(), label="keepdims")
    return {"axis": axis, "keepdims": keepdims}


REDUCE_SHAPES = [(S0,), ((4,),), (S2,), ((2, 3, 2),), ((1, 3),)]

OPS = [
    # elementwise unary functions
    unary("sin", ad.sin, np.sin),
    unary("cos", ad.cos, np.cos),
    unary("tan", ad.tan, np.tan, "small"),
    unary("asin", ad.asin, np.arcsin, "unit"),
    unary("acos", ad.acos, np.arccos, "unit"),
    unary("atan", ad.atan, np.arctan),
    unary("sinh", ad.sinh, np.sinh, "small"),
    unary("cosh", ad.cosh, np.cosh, "small"),
    unary("tanh", ad.tanh, np.tanh),
    unary("exp", ad.exp, np.exp, "small"),
    unary("log", ad.log, np.log, "pos"),
    unary("log1p", ad.log1p, np.log1p, "gt_m1"),
    unary("expm1", ad.expm1, np.expm1, "small"),
    unary("sqrt", ad.sqrt, np.sqrt, "pos"),
    unary("abs", ad.abs, np.abs, "nonzero"),
    unary("sigmoid", ad.sigmoid, _sigmoid),
    unary("relu", ad.relu, lambda x: np.maximum(x, 0.0), "nonzero"),
    unary("neg_fn", ad.neg, np.negative),
    unary("neg_op", lambda x: -x, np.negative),
    unary("pos_op", lambda x: +x, lambda x: +x),
    # powers with constant exponents, and constant bases
    unary("pow_2", lambda x: x ** 2, lambda x: x ** 2.0),
    unary("pow_3", lambda x: x ** 3, lambda x: x ** 3.0),
    unary("pow_m2", lambda x: x ** -2, lambda x: x ** -2.0, "nonzero"),
    unary("pow_half", lambda x: x ** 0.5, lambda x: x ** 0.5, "pos"),
    unary("pow_m1.5", lambda x: x ** -1.5, lambda x: x ** -1.5, "pos"),
    unary("pow_0", lambda x: x ** 0, lambda x: x ** 0.0),
    unary("pow_1", lambda x: x ** 1, lambda x: x ** 1.0),
    unary("pow_fn_const", lambda x: ad.pow(x, 2.5), lambda x: x ** 2.5, "pos"),
    unary("rpow_num", lambda x: 2.0 ** x, lambda x: 2.0 ** x),
    unary("rpow_num_small", lambda x: 0.5 ** x, lambda x: 0.5 ** x),
    unary("pow_fn_const_base", lambda x: ad.pow(3.0, x), lambda x: 3.0 ** x),
    # reflected arithmetic with numbers
    unary("add_num", lambda x: x + 2.5, lambda x: x + 2.5),
    unary("radd_num", lambda x: 2.5 + x, lambda x: 2.5 + x),
    unary("sub_num", lambda x: x - 2.5, lambda x: x - 2.5),
    unary("rsub_num", lambda x: 2.5 - x, lambda x: 2.5 - x),
    unary("mul_num", lambda x: x * -1.5, lambda x: x * -1.5),
    unary("rmul_num", lambda x: -1.5 * x, lambda x: -1.5 * x),
    unary("div_num", lambda x: x / 1.5, lambda x: x / 1.5),
    unary("rdiv_num", lambda x: 1.5 / x, lambda x: 1.5 / x, "nonzero"),
    unary("rmul_int", lambda x: 3 * x, lambda x: 3.0 * x),
    # reflected arithmetic with numpy arrays (broadcasting against the array)
    unary("radd_arr", lambda x: ARR3 + x, lambda x: ARR3 + x, shapes=[(S0,), (S1,), (S2,)]),
    unary("rsub_arr", lambda x: ARR3 - x, lambda x: ARR3 - x, shapes=[(S0,), (S1,), (S2,)]),
    unary("rmul_arr", lambda x: ARR3 * x, lambda x: ARR3 * x, shapes=[(S0,), (S1,), (S2,)]),
    unary("rdiv_arr", lambda x: ARR3 / x, lambda x: ARR3 / x, "nonzero", shapes=[(S0,), (S1,), (S2,)]),
    unary("mul_arr", lambda x: x * ARR3, lambda x: x * ARR3, shapes=[(S0,), (S1,), (S2,)]),
    # binary, operators and functions, with broadcasting
    binary("add_op", lambda a, b: a + b, np.add),
    binary("add_fn", ad.add, np.add),
    binary("sub_op", lambda a, b: a - b, np.subtract),
    binary("sub_fn", ad.sub, np.subtract),
    binary("mul_op", lambda a, b: a * b, np.multiply),
    binary("mul_fn", ad.mul, np.multiply),
    binary("div_op", lambda a, b: a / b, np.divide, "any", "nonzero"),
    binary("div_fn", ad.div, np.divide, "any", "nonzero"),
    # (exponent kept away from 0: there torch, the reference, masks d/dx of x**y to 0, so the mixed
    #  second derivative is not symmetric; test_engine_vs_torch covers that point against torch)
    binary("pow_op", lambda a, b: a ** b, np.power, "pos", "nonzero"),
    binary("pow_fn", ad.pow, np.power, "pos", "nonzero"),
    binary("maximum", ad.maximum, np.maximum, "lattice", "lattice_half"),
    binary("maximum_swapped", ad.maximum, np.maximum, "lattice_half", "lattice"),
    binary("minimum", ad.minimum, np.minimum, "lattice", "lattice_half"),
    binary("minimum_swapped", ad.minimum, np.minimum, "lattice_half", "lattice"),
    # the same input used twice
    unary("x_times_x", lambda x: x * x, lambda x: x * x),
    unary("x_over_sin_plus", lambda x: x / (ad.sin(x) + 2.0), lambda x: x / (np.sin(x) + 2.0)),
    # reductions
    Op("sum", ad.sum, np.sum, ("any",), REDUCE_SHAPES, _axis_params),
    Op("mean", ad.mean, np.mean, ("any",), REDUCE_SHAPES, _axis_params),
    Op("max", ad.max, np.max, ("distinct",), REDUCE_SHAPES, _axis_params),
    Op("min", ad.min, np.min, ("distinct",), REDUCE_SHAPES, _axis_params),
    Op("sum_default", lambda x: ad.sum(x), np.sum, ("any",), REDUCE_SHAPES),
    Op("mean_default", lambda x: ad.mean(x), np.mean, ("any",), REDUCE_SHAPES),
    Op("max_default", lambda x: ad.max(x), np.max, ("distinct",), REDUCE_SHAPES),
    Op("min_default", lambda x: ad.min(x), np.min, ("distinct",), REDUCE_SHAPES),
    # products
    Op("matmul_op", lambda a, b: a @ b, np.matmul, ("any", "any"),
       [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)), ((1, 3), (3, 1))]),
    Op("matmul_fn", ad.matmul, np.matmul, ("any", "any"),
       [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4))]),
    Op("matmul_batched", ad.matmul, np.matmul, ("any", "any"),
       [((2, 2, 3), (3, 4)), ((2, 2, 3), (2, 3, 4)), ((2, 3), (2, 3, 2)), ((1, 2, 3), (2, 3, 2)),
        ((2, 2, 3), (3,))]),
    Op("rmatmul_arr", lambda b: np.arange(6.0).reshape(2, 3) @ b,
       lambda b: np.arange(6.0).reshape(2, 3) @ b, ("any",), [((3,),), ((3, 2),)]),
    Op("dot", ad.dot, np.dot, ("any", "any"), [((3,), (3,)), ((1,), (1,)), ((5,), (5,))]),
    # shape ops
    Op("reshape", lambda x, shape: ad.reshape(x, shape), lambda x, shape: np.reshape(x, shape), ("any",),
       [((2, 3),), ((6,),), ((3, 2, 1),)],
       lambda data, shapes: {"shape": data.draw(st.sampled_from([(6,), (3, 2), (1, 6), (2, 3), (6, 1)]))}),
    Op("reshape_0d", lambda x: ad.reshape(x, (1, 1)), lambda x: np.reshape(x, (1, 1)), ("any",), [((),)]),
    Op("transpose", ad.transpose, np.transpose, ("any",), [((2, 3),), ((3,),), ((2, 3, 4),), ((),)]),
    Op("transpose_axes", lambda x: ad.transpose(x, (1, 0, 2)), lambda x: np.transpose(x, (1, 0, 2)),
       ("any",), [((2, 3, 4),)]),
    Op("broadcast_to", lambda x, shape: ad.broadcast_to(x, shape), lambda x, shape: np.broadcast_to(x, shape),
       ("any",), [((),), ((3,),), ((1, 3),), ((2, 1),)],
       lambda data, shapes: {"shape": (2, 3)}),
    Op("where", lambda a, b: ad.where(WHERE_COND, a, b), lambda a, b: np.where(WHERE_COND, a, b),
       ("any", "any"), [((2, 3), (2, 3)), ((3,), (2, 3)), ((), (2, 3)), ((2, 1), ())]),
]
WHERE_COND = np.array([[True, False, True], [False, False, True]])


def _ids(ops):
    return [op.name for op in ops]


def _draw_case(data, op):
    shapes = data.draw(st.sampled_from(op.shapes), label="shapes")
    arrays = [draw_array(data, dom, shp) for dom, shp in zip(op.domains, shapes)]
    params = op.draw_params(data, shapes) if op.draw_params else {}
    return shapes, arrays, params


def _forward_values(op, arrays, params):
    with ad.no_grad():
        return np.asarray(op.fn(*[Tensor(a) for a in arrays], **params).data, dtype=np.float64)


def _engine_grads(op, arrays, params, v):
    xs = [Tensor(a, requires_grad=True) for a in arrays]
    out = op.fn(*xs, **params)
    out.backward(gradient=Tensor(v))
    return out, xs


@pytest.mark.parametrize("op", OPS, ids=_ids(OPS))
@SETTINGS
@given(data=st.data())
def test_op_value_and_gradient_match_finite_differences(op, data):
    shapes, arrays, params = _draw_case(data, op)
    want = np.asarray(op.ref(*arrays, **params), dtype=np.float64)
    v = data.draw(hnp.arrays(np.float64, want.shape, elements=st.floats(-1, 1)), label="seed")

    out, xs = _engine_grads(op, arrays, params, v)
    assert isinstance(out, Tensor)
    assert out.data.dtype == np.float64
    assert out.shape == want.shape
    assert_close(out.data, want, rtol=1e-12, atol=1e-12, what=f"{op.name} value")
    assert out.requires_grad
    if not any(out is x for x in xs):   # (+x may return x itself, as torch does)
        assert not out.is_leaf and out.grad_fn is not None

    def scalarized(arrs):
        return float(np.sum(_forward_values(op, arrs, params) * v))

    for i, x in enumerate(xs):
        assert isinstance(x.grad, Tensor), f"{op.name}: input {i} got no Tensor gradient"
        assert x.grad.shape == x.shape, f"{op.name}: gradient shape {x.grad.shape} != input shape {x.shape}"
        assert_close(x.grad.data, fd_gradient(scalarized, arrays, i), what=f"{op.name} d/dinput{i}")


def _first_grads(op, arrays, params, v):
    xs = [Tensor(a, requires_grad=True) for a in arrays]
    out = op.fn(*xs, **params)
    out.backward(gradient=Tensor(v))
    return [x.grad.data for x in xs]


@pytest.mark.parametrize("op", OPS, ids=_ids(OPS))
@SETTINGS_2ND
@given(data=st.data())
def test_op_double_backward_matches_finite_differences_of_gradient(op, data):
    """create_graph=True, then grad of sum(grad * w) w.r.t. the inputs: a Hessian-vector product."""
    shapes, arrays, params = _draw_case(data, op)
    out_shape = np.shape(op.ref(*arrays, **params))
    v = data.draw(hnp.arrays(np.float64, out_shape, elements=st.floats(-1, 1)), label="seed")
    ws = [data.draw(hnp.arrays(np.float64, a.shape, elements=st.floats(-1, 1)), label="w") for a in arrays]

    xs = [Tensor(a, requires_grad=True) for a in arrays]
    out = op.fn(*xs, **params)
    gs = ad.grad([out], xs, grad_outputs=[Tensor(v)], create_graph=True)
    assert len(gs) == len(xs)
    s = None
    for g, w, x in zip(gs, ws, xs):
        assert isinstance(g, Tensor) and g.shape == x.shape
        term = ad.sum(g * Tensor(w))
        s = term if s is None else s + term
    if s.requires_grad:
        hv = ad.grad([s], xs, allow_unused=True)
        hv = [np.zeros_like(a) if h is None else h.data for h, a in zip(hv, arrays)]
    else:   # the gradient is constant in the inputs
        hv = [np.zeros_like(a) for a in arrays]

    def directional(arrs):
        return float(sum(np.sum(g * w) for g, w in zip(_first_grads(op, arrs, params, v), ws)))

    for i in range(len(arrays)):
        assert_close(hv[i], fd_gradient(directional, arrays, i), rtol=1e-5, atol=1e-5,
                     what=f"{op.name} second derivative w.r.t. input {i}")


# --- a few compositions, including the first derivative of a deep mixed expression ----------------

@SETTINGS
@given(data=st.data())
def test_composite_expression_gradient_and_hessian(data):
    x0 = draw_array(data, "pos", (3,))
    y0 = draw_array(data, "any", (2, 1))

    def f(x, y):
        return ad.sum(ad.log(x) * ad.tanh(y) + x ** 2 / (1.0 + y * y) - ad.exp(ad.sin(x * y)))

    def fnum(arrs):
        with ad.no_grad():
            return f(Tensor(arrs[0]), Tensor(arrs[1])).item()

    x, y = Tensor(x0, requires_grad=True), Tensor(y0, requires_grad=True)
    gx, gy = ad.grad(f(x, y), [x, y], create_graph=True)
    assert_close(gx.data, fd_gradient(fnum, [x0, y0], 0))
    assert_close(gy.data, fd_gradient(fnum, [x0, y0], 1))
    # second derivatives: d/d(x, y) of sum(gx * wx)
    wx = np.array([0.3, -0.2, 0.9])
    hx, hy = ad.grad(ad.sum(gx * Tensor(wx)), [x, y])

    def dir_grad(arrs):
        xx, yy = Tensor(arrs[0], requires_grad=True), Tensor(arrs[1], requires_grad=True)
        g = ad.grad(f(xx, yy), [xx])[0]
        return float(np.sum(g.data * wx))

    assert_close(hx.data, fd_gradient(dir_grad, [x0, y0], 0), atol=1e-5)
    assert_close(hy.data, fd_gradient(dir_grad, [x0, y0], 1), atol=1e-5)


def test_fd_helper_itself_is_sound():
    """Guard against a broken helper making every comparison vacuous."""
    g = fd_gradient(lambda a: float(np.sum(a[0] ** 3) + a[1] * np.sum(a[0])), [np.array([1.0, 2.0]), np.array(3.0)], 0)
    np.testing.assert_allclose(g, [3.0 + 3.0, 12.0 + 3.0], rtol=1e-8)
    g = fd_gradient(lambda a: float(np.sum(a[0] ** 3) + a[1] * np.sum(a[0])), [np.array([1.0, 2.0]), np.array(3.0)], 1)
    np.testing.assert_allclose(g, 3.0, rtol=1e-8)
