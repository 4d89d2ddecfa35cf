"""The engine against PyTorch (float64, CPU): grad_fn names and graph shapes, kinks and non-finite
values, and random compositions of ops -> values, gradients, Hessian-vector products (double backward)
and full Hessians (torch.autograd.functional.hessian). Skipped when torch is not installed."""
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

torch = pytest.importorskip("torch")

import autodiff_cli.engine as ad  # noqa: E402
from autodiff_cli.engine import Tensor  # noqa: E402

F64 = torch.float64
RTOL, ATOL = 1e-10, 1e-10
SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                           HealthCheck.data_too_large])


def tt(a, requires_grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=F64, requires_grad=requires_grad)


def to_np(t):
    if t is None:
        return None
    if isinstance(t, Tensor):
        return np.asarray(t.data, dtype=np.float64)
    return t.detach().numpy(force=True).astype(np.float64)   # force: torch may return a ZeroTensor


def assert_same(got, want, what, rtol=RTOL, atol=ATOL):
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape} vs torch {want.shape}"
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, equal_nan=True, err_msg=what)


# --- names ---------------------------------------------------------------------------------------

# (label, engine fn, torch fn); both take (x, y, m, n, s): vectors x, y (3,), matrices m (2,3), n (3,2),
# scalar s; all require grad.
NAME_CASES = [
    ("x+y", lambda x, y, m, n, s: x + y, lambda x, y, m, n, s: x + y),
    ("x+1", lambda x, y, m, n, s: x + 1, lambda x, y, m, n, s: x + 1),
    ("1+x", lambda x, y, m, n, s: 1 + x, lambda x, y, m, n, s: 1 + x),
    ("x-y", lambda x, y, m, n, s: x - y, lambda x, y, m, n, s: x - y),
    ("x-1", lambda x, y, m, n, s: x - 1, lambda x, y, m, n, s: x - 1),
    ("1-x", lambda x, y, m, n, s: 1 - x, lambda x, y, m, n, s: 1 - x),
    ("x*y", lambda x, y, m, n, s: x * y, lambda x, y, m, n, s: x * y),
    ("2*x", lambda x, y, m, n, s: 2 * x, lambda x, y, m, n, s: 2 * x),
    ("x*s", lambda x, y, m, n, s: x * s, lambda x, y, m, n, s: x * s),
    ("x/y", lambda x, y, m, n, s: x / y, lambda x, y, m, n, s: x / y),
    ("x/2", lambda x, y, m, n, s: x / 2, lambda x, y, m, n, s: x / 2),
    ("2/x", lambda x, y, m, n, s: 2 / x, lambda x, y, m, n, s: 2 / x),
    ("x**2", lambda x, y, m, n, s: x ** 2, lambda x, y, m, n, s: x ** 2),
    ("x**0.5", lambda x, y, m, n, s: x ** 0.5, lambda x, y, m, n, s: x ** 0.5),
    ("x**y", lambda x, y, m, n, s: x ** y, lambda x, y, m, n, s: x ** y),
    ("2**x", lambda x, y, m, n, s: 2 ** x, lambda x, y, m, n, s: 2 ** x),
    ("pow(x,2)", lambda x, y, m, n, s: ad.pow(x, 2), lambda x, y, m, n, s: torch.pow(x, 2)),
    ("pow(x,y)", lambda x, y, m, n, s: ad.pow(x, y), lambda x, y, m, n, s: torch.pow(x, y)),
    ("-x", lambda x, y, m, n, s: -x, lambda x, y, m, n, s: -x),
    ("neg", lambda x, y, m, n, s: ad.neg(x), lambda x, y, m, n, s: torch.neg(x)),
    ("add", lambda x, y, m, n, s: ad.add(x, y), lambda x, y, m, n, s: torch.add(x, y)),
    ("mul", lambda x, y, m, n, s: ad.mul(x, y), lambda x, y, m, n, s: torch.mul(x, y)),
    ("sub", lambda x, y, m, n, s: ad.sub(x, y), lambda x, y, m, n, s: torch.sub(x, y)),
    ("div", lambda x, y, m, n, s: ad.div(x, y), lambda x, y, m, n, s: torch.div(x, y)),
] + [
    (name, (lambda f: lambda x, y, m, n, s: f(x))(getattr(ad, name)),
     (lambda f: lambda x, y, m, n, s: f(x))(getattr(torch, name)))
    for name in ["sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "exp", "log", "log1p",
                 "expm1", "sqrt", "abs", "sigmoid", "relu"]
] + [
    ("sum", lambda x, y, m, n, s: ad.sum(x), lambda x, y, m, n, s: torch.sum(x)),
    ("sum axis", lambda x, y, m, n, s: ad.sum(m, axis=0), lambda x, y, m, n, s: torch.sum(m, dim=0)),
    ("sum axis keepdims", lambda x, y, m, n, s: ad.sum(m, axis=1, keepdims=True),
     lambda x, y, m, n, s: torch.sum(m, dim=1, keepdim=True)),
    ("sum axis tuple", lambda x, y, m, n, s: ad.sum(m, axis=(0, 1)), lambda x, y, m, n, s: torch.sum(m, dim=(0, 1))),
    ("mean", lambda x, y, m, n, s: ad.mean(x), lambda x, y, m, n, s: torch.mean(x)),
    ("mean axis", lambda x, y, m, n, s: ad.mean(m, axis=1), lambda x, y, m, n, s: torch.mean(m, dim=1)),
    ("max", lambda x, y, m, n, s: ad.max(m), lambda x, y, m, n, s: torch.max(m)),
    ("min", lambda x, y, m, n, s: ad.min(x), lambda x, y, m, n, s: torch.min(x)),
    ("max of scalar", lambda x, y, m, n, s: ad.max(s), lambda x, y, m, n, s: torch.max(s)),
    # max/min over an axis split ties evenly, which is torch.amax/amin (torch.max(dim) picks one index)
    ("max axis", lambda x, y, m, n, s: ad.max(m, axis=0), lambda x, y, m, n, s: torch.amax(m, dim=0)),
    ("min axis", lambda x, y, m, n, s: ad.min(m, axis=1), lambda x, y, m, n, s: torch.amin(m, dim=1)),
    ("maximum", lambda x, y, m, n, s: ad.maximum(x, y), lambda x, y, m, n, s: torch.maximum(x, y)),
    ("minimum", lambda x, y, m, n, s: ad.minimum(x, y), lambda x, y, m, n, s: torch.minimum(x, y)),
    ("dot", lambda x, y, m, n, s: ad.dot(x, y), lambda x, y, m, n, s: torch.dot(x, y)),
    ("vec@vec", lambda x, y, m, n, s: x @ y, lambda x, y, m, n, s: x @ y),
    ("matmul vec vec", lambda x, y, m, n, s: ad.matmul(x, y), lambda x, y, m, n, s: torch.matmul(x, y)),
    ("mat@vec", lambda x, y, m, n, s: m @ x, lambda x, y, m, n, s: m @ x),
    ("mat@mat", lambda x, y, m, n, s: m @ n, lambda x, y, m, n, s: m @ n),
    ("matmul mat mat", lambda x, y, m, n, s: ad.matmul(m, n), lambda x, y, m, n, s: torch.matmul(m, n)),
    # (vector @ matrix and batched matmul are left out: torch names them after internal
    # squeeze/view steps, SqueezeBackward4 / UnsafeViewBackward0, which no single node here mirrors)
    ("reshape", lambda x, y, m, n, s: ad.reshape(m, (3, 2)), lambda x, y, m, n, s: torch.reshape(m, (3, 2))),
    ("transpose (numpy .T / permute)", lambda x, y, m, n, s: ad.transpose(m), lambda x, y, m, n, s: m.permute(1, 0)),
    ("broadcast_to", lambda x, y, m, n, s: ad.broadcast_to(x, (2, 3)), lambda x, y, m, n, s: torch.broadcast_to(x, (2, 3))),
    ("where", lambda x, y, m, n, s: ad.where(np.array([True, False, True]), x, y),
     lambda x, y, m, n, s: torch.where(torch.tensor([True, False, True]), x, y)),
]


def _name_inputs():
    base = {"x": [0.2, 0.5, 0.7], "y": [0.3, 0.4, 0.9], "m": np.arange(6.0).reshape(2, 3) / 10,
            "n": np.arange(6.0).reshape(3, 2) / 10, "s": 0.5}
    e = [Tensor(v, requires_grad=True) for v in base.values()]
    t = [tt(v, True) for v in base.values()]
    return e, t


@pytest.mark.parametrize("label,efn,tfn", NAME_CASES, ids=[c[0] for c in NAME_CASES])
def test_grad_fn_name_matches_torch(label, efn, tfn):
    e, t = _name_inputs()
    eo, to = efn(*e), tfn(*t)
    want = to.grad_fn.name()
    assert type(eo.grad_fn).__name__ == want, f"{label}: {type(eo.grad_fn).__name__} vs torch {want}"
    assert eo.grad_fn.name() == want
    assert_same(to_np(eo), to_np(to), f"{label} value")


from custom_functions import MyExp  # noqa: E402  (the engine's; torch's twin is below)


def _torch_my_exp():
    class MyExp(torch.autograd.Function):   # same class name as the engine's
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * y
    return MyExp


def test_custom_function_node_name_matches_torch():
    eo = MyExp.apply(Tensor([1.0], requires_grad=True))
    to = _torch_my_exp().apply(tt([1.0], True))
    assert to.grad_fn.name() == "MyExpBackward"
    assert eo.grad_fn.name() == to.grad_fn.name()
    assert type(eo.grad_fn).__name__ == type(to.grad_fn).__name__


def _signature(node, leaves):
    """The graph below a grad_fn as nested (name, children); AccumulateGrad shows which leaf it is."""
    if node is None:
        return None
    name = type(node).__name__   # (torch's AccumulateGrad.name() is "torch::autograd::AccumulateGrad")
    if name == "AccumulateGrad":
        return ("AccumulateGrad", next(i for i, v in enumerate(leaves) if v is node.variable))
    return (name, tuple(_signature(n, leaves) for n, _ in node.next_functions))


GRAPH_CASES = [
    ("x*y + sin(x)", lambda M, x, y, c: x * y + M.sin(x)),
    ("sum(exp(x) * c)", lambda M, x, y, c: M.sum(M.exp(x) * c)),
    ("mean(x**2 - y) / 3", lambda M, x, y, c: M.mean(x ** 2 - y) / 3),
    ("maximum(x, y) * x + c", lambda M, x, y, c: M.maximum(x, y) * x + c),
    ("tanh(x @ y) * log(y)", lambda M, x, y, c: M.tanh(x @ y) * M.log(y)),
    ("sqrt(abs(-x)) ** y", lambda M, x, y, c: M.sqrt(M.abs(-x)) ** y),
]


@pytest.mark.parametrize("label,fn", GRAPH_CASES, ids=[c[0] for c in GRAPH_CASES])
def test_graph_structure_matches_torch(label, fn):
    ev = [Tensor([0.2, 0.5, 0.7], requires_grad=True), Tensor([0.3, 0.4, 0.9], requires_grad=True),
          Tensor([1.0, 2.0, 3.0])]
    tv = [tt([0.2, 0.5, 0.7], True), tt([0.3, 0.4, 0.9], True), tt([1.0, 2.0, 3.0])]
    eo, to = fn(ad, *ev), fn(torch, *tv)
    assert _signature(eo.grad_fn, ev) == _signature(to.grad_fn, tv)


# --- kinks, ties and non-finite values -----------------------------------------------------------

KINK_CASES = [
    ("abs", lambda M, x: M.abs(x), [[-1.0, 0.0, 2.0]]),
    ("relu", lambda M, x: M.relu(x), [[-1.0, 0.0, 2.0]]),
    ("sqrt", lambda M, x: M.sqrt(x), [[0.0, -1.0, 4.0]]),
    ("max ties", lambda M, x: M.max(x), [[1.0, 3.0, 3.0, 2.0]]),
    ("min ties", lambda M, x: M.min(x), [[1.0, 1.0, 3.0, 1.0]]),
    ("max all equal 2d", lambda M, x: M.max(x), [[[2.0, 2.0], [2.0, 2.0]]]),
    ("maximum tie", lambda M, x, y: M.maximum(x, y), [[1.0, 2.0, 5.0], [1.0, 3.0, 4.0]]),
    ("minimum tie", lambda M, x, y: M.minimum(x, y), [[1.0, 2.0, 5.0], [1.0, 3.0, 4.0]]),
    ("maximum broadcast tie", lambda M, x, y: M.maximum(x, y), [2.0, [2.0, 2.0, 1.0]]),
    ("x**y at x=0", lambda M, x, y: x ** y, [[0.0, 0.0, 0.0, 0.0, 2.0], [2.0, 0.5, 0.0, -1.0, 1.0]]),
    ("x**2 at 0", lambda M, x: x ** 2, [[0.0]]),
    ("x**0.5 at 0", lambda M, x: x ** 0.5, [[0.0]]),
    ("x**0 at 0", lambda M, x: x ** 0, [[0.0, 1.0]]),
    ("x**1 at 0", lambda M, x: x ** 1, [[0.0]]),
    ("x**-1 at 0", lambda M, x: x ** -1, [[0.0]]),
    ("x**-2 at 0", lambda M, x: x ** -2, [[0.0]]),
    ("0**x", lambda M, x: 0.0 ** x, [[1.0, 2.0, 0.0, -1.0]]),
    ("(-2)**y", lambda M, x, y: x ** y, [[-2.0, -2.0], [2.0, 0.5]]),
    ("log", lambda M, x: M.log(x), [[0.0, -1.0, 1.0]]),
    ("log1p", lambda M, x: M.log1p(x), [[-1.0, -2.0]]),
    ("exp overflow", lambda M, x: M.exp(x), [[1000.0, -1000.0]]),
    ("asin edge", lambda M, x: M.asin(x), [[2.0, 1.0, -1.0]]),
    ("acos edge", lambda M, x: M.acos(x), [[1.0, -1.0, 1.5]]),
    ("sigmoid saturated", lambda M, x: M.sigmoid(x), [[-1000.0, 1000.0, 0.0]]),
    ("tanh saturated", lambda M, x: M.tanh(x), [[-1000.0, 1000.0]]),
    ("cosh/sinh overflow", lambda M, x: M.cosh(x) + M.sinh(x), [[1000.0, -1000.0]]),
    ("expm1 overflow", lambda M, x: M.expm1(x), [[1000.0, -1000.0]]),
    ("div by zero", lambda M, x, y: x / y, [[1.0, 0.0, -1.0], [0.0, 0.0, 0.0]]),
    ("tan at pi/2", lambda M, x: M.tan(x), [[math.pi / 2]]),
    ("atan large", lambda M, x: M.atan(x), [[1e200, -1e200]]),
    ("mean of inf", lambda M, x: M.mean(x * x), [[1e200, 1.0]]),
]


def _run(M, fn, values, make):
    xs = [make(v) for v in values]
    out = fn(M, *xs)
    seed = np.linspace(0.5, 1.5, int(np.prod(np.shape(to_np(out))))).reshape(np.shape(to_np(out)))
    if M is torch:
        grads = torch.autograd.grad(out, xs, tt(seed), allow_unused=True)
    else:
        grads = ad.grad([out], xs, grad_outputs=[Tensor(seed)], allow_unused=True)
    return to_np(out), [to_np(g) for g in grads]


@pytest.mark.parametrize("label,fn,values", KINK_CASES, ids=[c[0] for c in KINK_CASES])
def test_kinks_and_non_finite_values_match_torch(label, fn, values):
    import warnings
    tv, tg = _run(torch, fn, values, lambda v: tt(v, True))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ev, eg = _run(ad, fn, values, lambda v: Tensor(v, requires_grad=True))
    assert_same(ev, tv, f"{label} value", rtol=1e-13, atol=0)
    for i, (e, t) in enumerate(zip(eg, tg)):
        assert_same(e, t, f"{label} gradient {i}", rtol=1e-13, atol=0)



# Issue 29, finding 5: higher derivatives at the edge of a domain are +-inf as in PyTorch, not nan
# (the quotient rule's -g*a/(b*b) met b*b's derivative as inf*0 at b = 0; PyTorch's -g*((a/b)/b)
# does not). Nested autograd.grad(create_graph=True) in both libraries, order 1 to 5.
EDGE_CASES = [
    ("sqrt at 0", lambda M, x: M.sqrt(x), 0.0),
    ("sqrt at -0", lambda M, x: M.sqrt(x), -0.0),
    ("log at 0", lambda M, x: M.log(x), 0.0),
    ("asin at 1", lambda M, x: M.asin(x), 1.0),
    ("asin at -1", lambda M, x: M.asin(x), -1.0),
    ("acos at -1", lambda M, x: M.acos(x), -1.0),
    ("acos at 1", lambda M, x: M.acos(x), 1.0),
    ("log1p at -1", lambda M, x: M.log1p(x), -1.0),
    ("1/x at 0", lambda M, x: 1.0 / x, 0.0),
    ("a/x at 0, a a tensor", lambda M, x: (tt(3.0) if M is torch else Tensor(3.0)) / x, 0.0),
    ("sqrt(sqrt) at 0", lambda M, x: M.sqrt(M.sqrt(x)), 0.0),
    ("log(x)/x at 0", lambda M, x: M.log(x) / x, 0.0),
]


def _nested_derivatives(M, fn, x0, order):
    x = tt(x0, True) if M is torch else Tensor(np.float64(x0), requires_grad=True)
    y, found = fn(M, x), []
    for _ in range(order):
        (y,) = (torch.autograd.grad(y, x, create_graph=True) if M is torch
                else ad.grad([y], [x], create_graph=True))
        found.append(float(to_np(y)))
    return found


@pytest.mark.parametrize("label,fn,x0", EDGE_CASES, ids=[c[0] for c in EDGE_CASES])
def test_higher_derivatives_at_a_domain_edge_match_torch(label, fn, x0):
    want = _nested_derivatives(torch, fn, x0, 5)
    assert not all(math.isnan(w) for w in want), want          # the case does test infinities
    assert_same(_nested_derivatives(ad, fn, x0, 5), want, label, rtol=1e-13, atol=0)


def test_derivatives_mode_at_a_domain_edge_matches_torch():
    """The CLI's `derivatives "sqrt(x)" x=0 --order 4` route (engine/higher.py)."""
    from autodiff_cli.api import evaluate
    for text, fn, x0 in [("sqrt(x)", torch.sqrt, 0.0), ("log(x)", torch.log, 0.0), ("asin(x)", torch.asin, 1.0),
                         ("acos(x)", torch.acos, -1.0), ("log1p(x)", torch.log1p, -1.0)]:
        result = evaluate(text, {"x": x0}, mode="derivatives", order=4, check=False)
        got = [float(_deep(result.derivatives[k])) for k in range(1, 5)]
        assert_same(got, _nested_derivatives(torch, lambda M, x: fn(x), x0, 4), text, rtol=1e-13, atol=0)


def _deep(value):
    while isinstance(value, dict):
        value = value["x"]
    return value


# --- random compositions -------------------------------------------------------------------------
# An expression tree over the inputs; each op name maps to the same composition in both libraries.

UNARY = {
    "sin": lambda M, a: M.sin(a),
    "cos": lambda M, a: M.cos(a),
    "tan": lambda M, a: M.tan(0.9 * M.atan(a)),
    "asin": lambda M, a: M.asin(0.9 * M.tanh(a)),
    "acos": lambda M, a: M.acos(0.9 * M.tanh(a)),
    "atan": lambda M, a: M.atan(a),
    "sinh": lambda M, a: M.sinh(a),
    "cosh": lambda M, a: M.cosh(a),
    "tanh": lambda M, a: M.tanh(a),
    "exp": lambda M, a: M.exp(a),
    "log": lambda M, a: M.log(1.0 + a * a),
    "log1p": lambda M, a: M.log1p(a * a),
    "expm1": lambda M, a: M.expm1(a),
    "sqrt": lambda M, a: M.sqrt(a * a + 0.5),
    "abs": lambda M, a: M.abs(a),
    "sigmoid": lambda M, a: M.sigmoid(a),
    "relu": lambda M, a: M.relu(a),
    "neg": lambda M, a: -a,
    "square": lambda M, a: a ** 2,
    "cube": lambda M, a: a ** 3,
    "pow_half": lambda M, a: (a * a + 1.0) ** 0.5,
    "pow_neg": lambda M, a: (1.0 + a * a) ** -1.5,
    "rpow": lambda M, a: 2.0 ** a,
    "rdiv": lambda M, a: 1.0 / (1.0 + a * a),
    "rsub": lambda M, a: 2.0 - a,
    "scale": lambda M, a: a * 0.5 + 1.0,
}
BINARY = {
    "add": lambda M, a, b: a + b,
    "sub": lambda M, a, b: a - b,
    "mul": lambda M, a, b: a * b,
    "div": lambda M, a, b: a / (1.0 + b * b),
    "pow": lambda M, a, b: (1.0 + a * a) ** M.tanh(b),
    "maximum": lambda M, a, b: M.maximum(a, b),
    "minimum": lambda M, a, b: M.minimum(a, b),
}


def _reduce(M, kind, a, r):
    """kind over all elements, or over axis r % ndim with keepdims (stays broadcastable)."""
    if M is torch:
        if r is None or a.dim() == 0:
            return {"sum": torch.sum, "mean": torch.mean, "max": torch.max, "min": torch.min}[kind](a)
        axis = r % a.dim()
        return {"sum": lambda t: torch.sum(t, dim=axis, keepdim=True),
                "mean": lambda t: torch.mean(t, dim=axis, keepdim=True),
                "max": lambda t: torch.amax(t, dim=axis, keepdim=True),
                "min": lambda t: torch.amin(t, dim=axis, keepdim=True)}[kind](a)
    fn = getattr(ad, kind)
    if r is None or a.ndim == 0:
        return fn(a)
    return fn(a, axis=r % a.ndim, keepdims=True)


def trees(n_inputs):
    leaves = st.one_of(
        st.tuples(st.just("var"), st.integers(0, n_inputs - 1)),
        st.tuples(st.just("const"), st.sampled_from([0.5, -1.5, 2.0, 3.0])),
    )

    def extend(children):
        return st.one_of(
            st.tuples(st.just("unary"), st.sampled_from(sorted(UNARY)), children),
            st.tuples(st.just("binary"), st.sampled_from(sorted(BINARY)), children, children),
            st.tuples(st.just("reduce"), st.sampled_from(["sum", "mean", "max", "min"]),
                      st.one_of(st.none(), st.integers(0, 2)), children),
        )

    return st.recursive(st.tuples(st.just("var"), st.integers(0, n_inputs - 1)) | leaves, extend, max_leaves=6)


def evaluate(M, tree, xs):
    kind = tree[0]
    if kind == "var":
        return xs[tree[1]]
    if kind == "const":
        return tree[1]
    if kind == "unary":
        a = evaluate(M, tree[2], xs)
        if not isinstance(a, (Tensor, torch.Tensor)):
            a = Tensor(a) if M is ad else tt(a)
        return UNARY[tree[1]](M, a)
    if kind == "binary":
        a, b = evaluate(M, tree[2], xs), evaluate(M, tree[3], xs)
        if not isinstance(a, (Tensor, torch.Tensor)) and not isinstance(b, (Tensor, torch.Tensor)):
            a = Tensor(a) if M is ad else tt(a)
        if tree[1] in ("maximum", "minimum", "pow"):   # need tensors on both sides
            a = a if isinstance(a, (Tensor, torch.Tensor)) else (Tensor(a) if M is ad else tt(a))
            b = b if isinstance(b, (Tensor, torch.Tensor)) else (Tensor(b) if M is ad else tt(b))
        return BINARY[tree[1]](M, a, b)
    a = evaluate(M, tree[3], xs)
    if not isinstance(a, (Tensor, torch.Tensor)):
        a = Tensor(a) if M is ad else tt(a)
    return _reduce(M, tree[1], a, tree[2])


SHAPE_SETS = [
    [(), ()], [(3,), (3,)], [(2, 3), (3,)], [(3, 1), (1, 2)], [(2, 3), ()],
    [(), (), ()], [(3,), (), (2, 3)], [(2, 1), (1, 3), (2, 3)], [(2, 2), (2, 2), (2, 2)],
]
VALUES = st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False)


def _finite(*arrays, bound=1e6):
    return all(a is None or (np.all(np.isfinite(a)) and np.all(np.abs(a) < bound)) for a in arrays)


def _case(data):
    shapes = data.draw(st.sampled_from(SHAPE_SETS), label="shapes")
    tree = data.draw(trees(len(shapes)), label="tree")
    arrays = [data.draw(hnp.arrays(np.float64, s, elements=VALUES), label=f"x{i}") for i, s in enumerate(shapes)]
    return shapes, tree, arrays


def _as_tensor_out(M, out):
    if isinstance(out, (Tensor, torch.Tensor)):
        return out
    return Tensor(out) if M is ad else tt(out)


@SETTINGS
@given(data=st.data())
def test_random_compositions_values_gradients_and_hvp_match_torch(data):
    shapes, tree, arrays = _case(data)
    txs = [tt(a, True) for a in arrays]
    tout = _as_tensor_out(torch, evaluate(torch, tree, txs))
    assume(tout.requires_grad)
    tval = to_np(tout)
    assume(_finite(tval))
    seed = data.draw(hnp.arrays(np.float64, tval.shape, elements=st.floats(-1, 1)), label="seed")
    ws = [data.draw(hnp.arrays(np.float64, s, elements=st.floats(-1, 1)), label="w") for s in shapes]
    tgrads = torch.autograd.grad(tout, txs, tt(seed), create_graph=True, allow_unused=True)
    assume(_finite(*[to_np(g) for g in tgrads]))
    ts = sum((g * tt(w)).sum() for g, w in zip(tgrads, ws) if g is not None)
    if isinstance(ts, torch.Tensor) and ts.requires_grad:
        thv = [to_np(h) for h in torch.autograd.grad(ts, txs, allow_unused=True)]
    else:
        thv = [None] * len(txs)
    thv = [np.zeros(s) if h is None else h for h, s in zip(thv, shapes)]
    assume(_finite(*thv))

    exs = [Tensor(a, requires_grad=True) for a in arrays]
    eout = _as_tensor_out(ad, evaluate(ad, tree, exs))
    assert eout.requires_grad
    assert_same(to_np(eout), tval, f"value of {tree}")
    egrads = ad.grad([eout], exs, grad_outputs=[Tensor(seed)], create_graph=True, allow_unused=True)
    assert [g is None for g in egrads] == [g is None for g in tgrads], "unused inputs differ from torch"
    for i, (e, t) in enumerate(zip(egrads, tgrads)):
        if t is not None:
            assert e.shape == tuple(t.shape)
            assert_same(to_np(e), to_np(t), f"gradient {i} of {tree}")
    es = None
    for g, w in zip(egrads, ws):
        if g is not None:
            term = ad.sum(g * Tensor(w))
            es = term if es is None else es + term
    if es is not None and es.requires_grad:
        ehv = [to_np(h) for h in ad.grad([es], exs, allow_unused=True)]
    else:
        ehv = [None] * len(exs)
    ehv = [np.zeros(s) if h is None else h for h, s in zip(ehv, shapes)]
    for i, (e, t) in enumerate(zip(ehv, thv)):
        assert_same(e, t, f"Hessian-vector product {i} of {tree}", atol=1e-9)


def _engine_hessian(f, arrays):
    """Full Hessian blocks H[i][j] (shape xi.shape + xj.shape) by double backward, row by row."""
    xs = [Tensor(a, requires_grad=True) for a in arrays]
    out = f(xs)
    firsts = ad.grad([out], xs, create_graph=True, allow_unused=True)
    blocks = [[np.zeros(a.shape + b.shape) for b in arrays] for a in arrays]
    for i, g in enumerate(firsts):
        if g is None or not g.requires_grad:
            continue
        for k in np.ndindex(arrays[i].shape):
            onehot = np.zeros(arrays[i].shape)
            onehot[k] = 1.0
            row = ad.grad([g], xs, grad_outputs=[Tensor(onehot)], retain_graph=True, allow_unused=True)
            for j, r in enumerate(row):
                if r is not None:
                    blocks[i][j][k] = r.data
    return to_np(out), blocks


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
@given(data=st.data())
def test_random_compositions_full_hessian_matches_torch_functional_hessian(data):
    shapes, tree, arrays = _case(data)
    probe = _as_tensor_out(torch, evaluate(torch, tree, [tt(a, True) for a in arrays]))
    assume(probe.requires_grad)
    out_shape = tuple(probe.shape)
    weight = data.draw(hnp.arrays(np.float64, out_shape, elements=st.floats(-1, 1)), label="weight")

    def tf(*xs):
        return (_as_tensor_out(torch, evaluate(torch, tree, list(xs))) * tt(weight)).sum()

    def ef(xs):
        return ad.sum(_as_tensor_out(ad, evaluate(ad, tree, xs)) * Tensor(weight))

    tinputs = tuple(tt(a) for a in arrays)
    tval = to_np(tf(*tinputs))
    th = torch.autograd.functional.hessian(tf, tinputs)
    th = [[to_np(th[i][j]) for j in range(len(arrays))] for i in range(len(arrays))]
    assume(_finite(tval, *[b for row in th for b in row]))
    eval_, eh = _engine_hessian(ef, arrays)
    assert_same(eval_, tval, f"value of {tree}")
    for i in range(len(arrays)):
        for j in range(len(arrays)):
            assert_same(eh[i][j], th[i][j], f"Hessian block ({i}, {j}) of {tree}", atol=1e-9)


# --- products, shapes and selections against torch -----------------------------------------------

LINEAR_CASES = [
    ("tanh(A@v)·w", [(2, 3), (3,)], lambda M, A, v: M.sum(M.tanh(A @ v) * M.sin(A @ v))),
    ("sum((A@B)**2)", [(2, 3), (3, 4)], lambda M, A, B: M.sum((A @ B) ** 2)),
    ("v@B then sin", [(3,), (3, 4)], lambda M, v, B: M.sum(M.sin(v @ B) * (v @ B))),
    ("dot(exp(a), b)^2", [(3,), (3,)], lambda M, a, b: M.dot(M.exp(a), b) ** 2),
    ("batched", [(2, 2, 3), (3, 2)], lambda M, A, B: M.sum(M.tanh(M.matmul(A, B)) * M.matmul(A, B))),
    ("batched broadcast", [(2, 2, 3), (1, 3, 2)], lambda M, A, B: M.sum(M.matmul(A, B) ** 3)),
    ("reshape/transpose", [(2, 3), (3, 2)],
     lambda M, A, B: M.sum(M.reshape(A, (3, 2)) * _T(M, A) * M.cos(B))),
    ("broadcast_to", [(3,), (2, 3)], lambda M, a, B: M.sum(M.broadcast_to(a, (2, 3)) ** 2 * B)),
    ("where", [(2, 3), (2, 3)],
     lambda M, A, B: M.sum(M.where(_cond(M), A * B, M.sin(A)) ** 2)),
    ("max axis of product", [(2, 3), (3, 3)], lambda M, A, B: M.sum(_amax(M, A @ B, 1) ** 2)),
]


def _T(M, A):
    return A.permute(1, 0) if M is torch else ad.transpose(A)


def _cond(M):
    c = np.array([[True, False, True], [False, True, False]])
    return torch.tensor(c) if M is torch else c


def _amax(M, a, axis):
    return torch.amax(a, dim=axis) if M is torch else ad.max(a, axis=axis)


@pytest.mark.parametrize("label,shapes,fn", LINEAR_CASES, ids=[c[0] for c in LINEAR_CASES])
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_linear_algebra_and_shape_ops_gradients_and_hessians_match_torch(label, shapes, fn, data):
    arrays = [data.draw(hnp.arrays(np.float64, s, elements=VALUES)) for s in shapes]
    tinputs = tuple(tt(a, True) for a in arrays)
    tout = fn(torch, *tinputs)
    tgrads = torch.autograd.grad(tout, tinputs)
    th = torch.autograd.functional.hessian(lambda *xs: fn(torch, *xs), tuple(tt(a) for a in arrays))
    exs = [Tensor(a, requires_grad=True) for a in arrays]
    eout = fn(ad, *exs)
    assert_same(to_np(eout), to_np(tout), f"{label} value")
    egrads = ad.grad([eout], exs)
    for i, (e, t) in enumerate(zip(egrads, tgrads)):
        assert_same(to_np(e), to_np(t), f"{label} gradient {i}")
    _, eh = _engine_hessian(lambda xs: fn(ad, *xs), arrays)
    for i in range(len(arrays)):
        for j in range(len(arrays)):
            assert_same(eh[i][j], to_np(th[i][j]), f"{label} Hessian ({i},{j})", atol=1e-9)


# --- retain_grad with the functional grad() --------------------------------------------------------

def test_retain_grad_tensors_get_grad_from_functional_grad_like_torch():
    """torch.autograd.grad leaves leaves' .grad alone but still fills .grad of retain_grad() tensors."""
    results = []
    for M, make in [(torch, lambda v: tt(v, True)), (ad, lambda v: Tensor(v, requires_grad=True))]:
        x = make(2.0)
        z = x * 3
        z.retain_grad()
        w = z * z
        (gx,) = (torch.autograd.grad(w, [x]) if M is torch else ad.grad(w, [x]))
        results.append((to_np(gx), x.grad, None if z.grad is None else to_np(z.grad)))
    (tgx, tleaf, tz), (egx, eleaf, ez) = results
    assert_same(egx, tgx, "grad")
    assert tleaf is None and eleaf is None
    assert (ez is None) == (tz is None), f"retained .grad after grad(): engine {ez}, torch {tz}"
    if tz is not None:
        assert_same(ez, tz, "retained grad")
