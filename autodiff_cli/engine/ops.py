"""Every op of the engine, its forward and its derivative, in one table.

Read each entry as `name = defop("PyTorchNodeName", forward, vjp_for_input_0, vjp_for_input_1, ...)`.
A VJP `(F, g, ans, *inputs, **params)` returns the gradient for its input, given `g`, the gradient
of the op's output `ans`. `F` is numpy during an ordinary backward and this module under
`create_graph=True`, so formulas only use functions both provide (sin, cos, where, sum, reshape,
broadcast_to, expand_dims, swapaxes, matmul, ...) and every formula is itself differentiable.
Masks are taken from raw values (`raw(x) > 0`): they are constants, as in PyTorch.

Conventions at non-differentiable points follow PyTorch: abs'(0) = 0, relu'(0) = 0, sqrt'(0) = inf,
max/min reductions split the gradient evenly among ties, maximum/minimum give half to each side on
a tie, d(x**y)/dy = 0 where x == 0 and y >= 0, d(x**y)/dx = 0 where y == 0.
"""
import numpy as np

from . import forward
from .graph import Tensor, defop, raw

# --- arithmetic ----------------------------------------------------------------------------------
# Forwards use Python operators rather than np.add etc.: the same numpy arithmetic, but numpy's
# operator path on float64 scalars is ten times faster than calling the ufunc.
add = defop("AddBackward0", lambda a, b: a + b,
            lambda F, g, ans, a, b: g,
            lambda F, g, ans, a, b: g, saves_inputs=False, saves_output=False, jvp=forward.diagonal)
sub = defop("SubBackward0", lambda a, b: a - b,
            lambda F, g, ans, a, b: g,
            lambda F, g, ans, a, b: -g, saves_inputs=False, saves_output=False, jvp=forward.diagonal)
_rsub = defop("RsubBackward1", lambda a, b: a - b,          # number - tensor
              lambda F, g, ans, a, b: g,
              lambda F, g, ans, a, b: -g, saves_inputs=False, saves_output=False, jvp=forward.diagonal)
mul = defop("MulBackward0", lambda a, b: a * b,
            lambda F, g, ans, a, b: g * b,
            lambda F, g, ans, a, b: g * a, saves_output=False, jvp=forward.diagonal)
_div = defop("DivBackward0", lambda a, b: a / b,
             lambda F, g, ans, a, b: g / b,
             lambda F, g, ans, a, b: -g * a / (b * b), saves_output=False, jvp=forward.diagonal)
neg = defop("NegBackward0", lambda x: -x,
            lambda F, g, ans, x: -g, saves_inputs=False, saves_output=False, jvp=forward.diagonal)
reciprocal = defop("ReciprocalBackward0", lambda x: 1.0 / x,
                   lambda F, g, ans, x: -g * ans * ans, saves_inputs=False, jvp=forward.diagonal)


def div(a, b):
    """a / b; a number over a tensor is reciprocal(b) * a, as PyTorch records it (then the second
    derivative of 1/x at 0 is inf, where the quotient rule's -g*a/(b*b) would give 0/0)."""
    if isinstance(a, Tensor) or not isinstance(b, Tensor):
        return _div(a, b)
    return mul(reciprocal(b), a)


def _pow_vjp_base(F, g, ans, x, y):
    if not isinstance(y, Tensor) and not np.any(y):   # x**0 is constant: every derivative is 0, not 0*inf
        return g * 0.0
    if np.ndim(raw(y)) == 0 and raw(y) != 0:   # one nonzero exponent: no mask needed; ** is numpy's
        return g * (y * x ** (y - 1))          # fast path for x**1, x**2, x**0.5
    return F.where(raw(y) == 0, 0.0, g * y * F.power(x, y - 1))


def _pow_vjp_exponent(F, g, ans, x, y):
    return F.where((raw(x) == 0) & (raw(y) >= 0), 0.0, g * ans * F.log(x))


_pow_tensor_tensor = defop("PowBackward1", lambda x, y: x ** y, _pow_vjp_base, _pow_vjp_exponent, jvp=forward.diagonal)
# With a number on one side PyTorch records one input only, the number being a parameter of the node.
_pow_tensor_number = defop("PowBackward0", lambda x, exponent: x ** exponent,
                           lambda F, g, ans, x, exponent: _pow_vjp_base(F, g, ans, x, exponent),
                           saves_output=False, jvp=forward.diagonal)
_pow_number_tensor = defop("PowBackward2", lambda y, base: base ** y,
                           lambda F, g, ans, y, base: _pow_vjp_exponent(F, g, ans, base, y), jvp=forward.diagonal)


def power(x, y):
    """x ** y, named as PyTorch names it: PowBackward0 (exponent a number), 1 (both tensors), 2 (base a number)."""
    if not isinstance(y, Tensor):
        return _pow_tensor_number(x, exponent=np.float64(y) if np.ndim(y) == 0 else np.asarray(y, np.float64))
    if isinstance(x, Tensor):
        return _pow_tensor_tensor(x, y)
    return _pow_number_tensor(y, base=np.float64(x) if np.ndim(x) == 0 else np.asarray(x, np.float64))


pow = power

# --- elementwise functions -----------------------------------------------------------------------
sin = defop("SinBackward0", np.sin, lambda F, g, ans, x: g * F.cos(x), saves_output=False, jvp=forward.diagonal)
cos = defop("CosBackward0", np.cos, lambda F, g, ans, x: -g * F.sin(x), saves_output=False, jvp=forward.diagonal)
tan = defop("TanBackward0", np.tan, lambda F, g, ans, x: g * (1.0 + ans * ans), saves_inputs=False, jvp=forward.diagonal)
asin = defop("AsinBackward0", np.arcsin, lambda F, g, ans, x: g / F.sqrt(1.0 - x * x), saves_output=False, jvp=forward.diagonal)
acos = defop("AcosBackward0", np.arccos, lambda F, g, ans, x: -g / F.sqrt(1.0 - x * x), saves_output=False, jvp=forward.diagonal)
atan = defop("AtanBackward0", np.arctan, lambda F, g, ans, x: g / (1.0 + x * x), saves_output=False, jvp=forward.diagonal)
sinh = defop("SinhBackward0", np.sinh, lambda F, g, ans, x: g * F.cosh(x), saves_output=False, jvp=forward.diagonal)
cosh = defop("CoshBackward0", np.cosh, lambda F, g, ans, x: g * F.sinh(x), saves_output=False, jvp=forward.diagonal)
tanh = defop("TanhBackward0", np.tanh, lambda F, g, ans, x: g * (1.0 - ans * ans), saves_inputs=False, jvp=forward.diagonal)
exp = defop("ExpBackward0", np.exp, lambda F, g, ans, x: g * ans, saves_inputs=False, jvp=forward.diagonal)
expm1 = defop("Expm1Backward0", np.expm1, lambda F, g, ans, x: g * (ans + 1.0), saves_inputs=False, jvp=forward.diagonal)
log = defop("LogBackward0", np.log, lambda F, g, ans, x: g / x, saves_output=False, jvp=forward.diagonal)
log1p = defop("Log1PBackward0", np.log1p, lambda F, g, ans, x: g / (1.0 + x), saves_output=False, jvp=forward.diagonal)
sqrt = defop("SqrtBackward0", np.sqrt, lambda F, g, ans, x: g / (2.0 * ans), saves_inputs=False, jvp=forward.diagonal)
abs = defop("AbsBackward0", np.abs, lambda F, g, ans, x: g * np.sign(raw(x)), saves_output=False, jvp=forward.diagonal)
sigmoid = defop("SigmoidBackward0", lambda x: 0.5 * (1.0 + np.tanh(0.5 * x)),   # no overflow for any x
                lambda F, g, ans, x: g * ans * (1.0 - ans), saves_inputs=False, jvp=forward.diagonal)
relu = defop("ReluBackward0", lambda x: np.maximum(x, 0.0), lambda F, g, ans, x: g * (raw(ans) > 0),
             saves_inputs=False, jvp=forward.diagonal)


def _tie_share(a, b):
    """1 where a wins, 1/2 on a tie, 0 where it loses: PyTorch's split for maximum/minimum."""
    return (a > b) + 0.5 * (a == b)


maximum = defop("MaximumBackward0", np.maximum,
                lambda F, g, ans, a, b: g * _tie_share(raw(a), raw(b)),
                lambda F, g, ans, a, b: g * _tie_share(raw(b), raw(a)), jvp=forward.diagonal)
minimum = defop("MinimumBackward0", np.minimum,
                lambda F, g, ans, a, b: g * _tie_share(raw(b), raw(a)),
                lambda F, g, ans, a, b: g * _tie_share(raw(a), raw(b)), jvp=forward.diagonal)
_where = defop("WhereBackward0", lambda a, b, cond: np.where(cond, a, b),
               lambda F, g, ans, a, b, cond: F.where(cond, g, 0.0),
               lambda F, g, ans, a, b, cond: F.where(cond, 0.0, g), saves_inputs=False, saves_output=False, jvp=forward.diagonal)


def where(cond, a, b):
    """a where cond else b; cond is a constant mask (no gradient flows into it)."""
    return _where(a, b, cond=np.asarray(raw(cond), dtype=bool))

# --- shapes --------------------------------------------------------------------------------------
_reshape = defop("ViewBackward0", lambda x, shape: np.reshape(x, shape),
                 lambda F, g, ans, x, shape: F.reshape(g, x.shape), saves_inputs=False, saves_output=False, jvp=forward.linear)
_broadcast_to = defop("ExpandBackward0", lambda x, shape: np.broadcast_to(x, shape),
                      lambda F, g, ans, x, shape: g,   # the engine sums g back to x's shape
                      saves_inputs=False, saves_output=False, jvp=forward.linear)
_permute = defop("PermuteBackward0", lambda x, axes: np.transpose(x, axes),
                 lambda F, g, ans, x, axes: F.transpose(g, tuple(np.argsort(axes))),
                 saves_inputs=False, saves_output=False, jvp=forward.linear)
_swapaxes = defop("TransposeBackward0", lambda x, a1, a2: np.swapaxes(x, a1, a2),
                  lambda F, g, ans, x, a1, a2: F.swapaxes(g, a1, a2), saves_inputs=False, saves_output=False, jvp=forward.linear)


def reshape(x, shape):
    return _reshape(x, shape=tuple(shape) if np.ndim(shape) else (int(shape),))


def broadcast_to(x, shape):
    return _broadcast_to(x, shape=tuple(shape))


def expand_dims(x, axis):
    shape = np.expand_dims(np.empty(np.shape(raw(x)), dtype=bool), axis).shape
    return _reshape(x, shape=shape)


def transpose(x, axes=None):
    axes = tuple(reversed(range(np.ndim(raw(x))))) if axes is None else tuple(axes)
    return _permute(x, axes=axes)


def swapaxes(x, axis1, axis2):
    return _swapaxes(x, a1=axis1, a2=axis2)


# --- reductions ----------------------------------------------------------------------------------
def _normalize_axis(axis, ndim):
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {a} is out of bounds for array of dimension {ndim}")
    return tuple(sorted(a % ndim for a in axes))


def _keep_reduced_dims(F, g, x, axis, keepdims):
    """g reshaped so it broadcasts against x (the reduced axes put back as size 1)."""
    if keepdims or axis is None:
        return g
    return F.expand_dims(g, axis)


def _sum_vjp(F, g, ans, x, axis=None, keepdims=False):
    return F.broadcast_to(_keep_reduced_dims(F, g, x, axis, keepdims), x.shape)


def _mean_vjp(F, g, ans, x, axis=None, keepdims=False):
    shape = x.shape
    count = np.prod([shape[a] for a in axis]) if axis is not None else np.prod(shape)
    return F.broadcast_to(_keep_reduced_dims(F, g, x, axis, keepdims), shape) / count


def _extremum_share(ans, x, axis, keepdims):
    """1/k at each of the k elements that attain the max (min), 0 elsewhere: PyTorch's split of ties."""
    winners = x == _keep_reduced_dims(np, ans, x, axis, keepdims)
    return winners / np.sum(winners, axis=axis, keepdims=True)


def _extremum_vjp(F, g, ans, x, axis=None, keepdims=False):
    """Ties share the gradient evenly (PyTorch's max()/amax())."""
    return _keep_reduced_dims(F, g, x, axis, keepdims) * _extremum_share(raw(ans), raw(x), axis, keepdims)


def _extremum_jvp(F, tangents, ans, x, axis=None, keepdims=False):
    return np.sum(tangents[0] * _extremum_share(ans, x, axis, keepdims), axis=axis, keepdims=keepdims)


_sum_all = defop("SumBackward0", lambda x, axis=None, keepdims=False: np.sum(x, keepdims=keepdims), _sum_vjp,
                 saves_inputs=False, saves_output=False, jvp=forward.linear)
_sum_dim = defop("SumBackward1", np.sum, _sum_vjp, saves_inputs=False, saves_output=False, jvp=forward.linear)
def _mean(x, axis=None, keepdims=False):
    """np.mean without its 'Mean of empty slice' warning: an empty mean is 0/0 = nan, quietly."""
    count = np.prod([np.shape(x)[a] for a in axis]) if axis is not None else np.size(x)
    return np.sum(x, axis=axis, keepdims=keepdims) / count


_mean_all = defop("MeanBackward0", _mean, _mean_vjp, saves_inputs=False, saves_output=False, jvp=forward.linear)
_mean_dim = defop("MeanBackward1", _mean, _mean_vjp, saves_inputs=False, saves_output=False, jvp=forward.linear)
_max_all = defop("MaxBackward1", lambda x, axis=None, keepdims=False: np.max(x, keepdims=keepdims), _extremum_vjp, jvp=_extremum_jvp)
_max_dim = defop("AmaxBackward0", np.max, _extremum_vjp, jvp=_extremum_jvp)
_min_all = defop("MinBackward1", lambda x, axis=None, keepdims=False: np.min(x, keepdims=keepdims), _extremum_vjp, jvp=_extremum_jvp)
_min_dim = defop("AminBackward0", np.min, _extremum_vjp, jvp=_extremum_jvp)


def _reduction(over_all, over_axes):
    def reduce(x, axis=None, keepdims=False):
        if axis is None:
            return over_all(x, keepdims=keepdims)
        return over_axes(x, axis=_normalize_axis(axis, np.ndim(raw(x))), keepdims=keepdims)
    reduce.__name__ = over_all.__name__
    return reduce


sum = _reduction(_sum_all, _sum_dim)
mean = _reduction(_mean_all, _mean_dim)
max = _reduction(_max_all, _max_dim)
min = _reduction(_min_all, _min_dim)
amax, amin = max, min

# --- products ------------------------------------------------------------------------------------
def _matmul_vjp_a(F, g, ans, a, b):
    if np.ndim(raw(a)) == 1 and np.ndim(raw(b)) == 1:
        return g * b
    if np.ndim(raw(b)) == 1:                      # (..., n, k) @ (k,) -> (..., n)
        return F.expand_dims(g, -1) * b
    if np.ndim(raw(a)) == 1:                      # (k,) @ (..., k, m) -> (..., m)
        return F.reshape(F.matmul(F.expand_dims(g, -2), F.swapaxes(b, -1, -2)), np.shape(raw(g))[:-1] + np.shape(raw(a)))
    return F.matmul(g, F.swapaxes(b, -1, -2))


def _matmul_vjp_b(F, g, ans, a, b):
    if np.ndim(raw(a)) == 1 and np.ndim(raw(b)) == 1:
        return g * a
    if np.ndim(raw(a)) == 1:                      # (k,) @ (..., k, m)
        return F.expand_dims(a, -1) * F.expand_dims(g, -2)
    if np.ndim(raw(b)) == 1:                      # (..., n, k) @ (k,)
        return F.reshape(F.matmul(F.swapaxes(a, -1, -2), F.expand_dims(g, -1)), np.shape(raw(a))[:-2] + np.shape(raw(b)))
    return F.matmul(F.swapaxes(a, -1, -2), g)


def _matmul_jvp(F, tangents, ans, a, b):
    ta, tb = tangents
    return (0.0 if ta is None else np.matmul(ta, b)) + (0.0 if tb is None else np.matmul(a, tb))


_dot = defop("DotBackward0", np.matmul, _matmul_vjp_a, _matmul_vjp_b, jvp=_matmul_jvp)     # vector . vector
_mv = defop("MvBackward0", np.matmul, _matmul_vjp_a, _matmul_vjp_b, jvp=_matmul_jvp)       # matrix @ vector
_mm = defop("MmBackward0", np.matmul, _matmul_vjp_a, _matmul_vjp_b, jvp=_matmul_jvp)       # matrix @ matrix
_matmul = defop("MatmulBackward0", np.matmul, _matmul_vjp_a, _matmul_vjp_b, jvp=_matmul_jvp)  # batched / vector @ matrix


def matmul(a, b):
    """a @ b with numpy's rules (1-D operands are vectors, leading dimensions broadcast)."""
    ndims = (np.ndim(raw(a)), np.ndim(raw(b)))
    if 0 in ndims:
        raise ValueError("matmul: input operand does not have enough dimensions (scalars cannot be matrix-multiplied; use *)")
    op = {(1, 1): _dot, (2, 1): _mv, (2, 2): _mm}.get(ndims, _matmul)
    return op(a, b)


dot = matmul


# --- stacking, indexing, softmax, logsumexp ------------------------------------------------------
_STACKS = {}     # number of inputs -> the stack op of that arity (one VJP per input)


def stack(tensors):
    """Stack equal-shaped tensors along a new first axis (torch.stack(tensors, 0))."""
    tensors = tuple(tensors)
    op = _STACKS.get(len(tensors))
    if op is None:
        vjps = [(lambda F, g, ans, *xs, i=i: g[i]) for i in range(len(tensors))]
        op = _STACKS[len(tensors)] = defop("StackBackward0", lambda *xs: np.stack(xs), *vjps,
                                           saves_inputs=False, saves_output=False, jvp=forward.linear)
    return op(*tensors)


def _scatter(F, g, shape, key):
    """Zeros of `shape` with g at [key]: the VJP of indexing (PyTorch's select/slice backward)."""
    if F is np:
        out = np.zeros(shape)
        out[key] = g
        return out
    return (_select_backward if _has_integer(key) else _slice_backward)(g, shape=shape, key=key)


def _has_integer(key):
    return any(not isinstance(k, slice) for k in key)


def _scatter_forward(g, shape, key):
    out = np.zeros(shape)
    out[key] = g
    return out


def _index_vjp(F, g, ans, x, key):
    return _scatter(F, g, x.shape, key)


def _scatter_vjp(F, g, ans, small, shape, key):
    return g[key]


_select = defop("SelectBackward0", lambda x, key: x[key], _index_vjp, saves_inputs=False, saves_output=False, jvp=forward.linear)
_slice = defop("SliceBackward0", lambda x, key: x[key], _index_vjp, saves_inputs=False, saves_output=False, jvp=forward.linear)
_select_backward = defop("SelectBackwardBackward0", _scatter_forward, _scatter_vjp,
                         saves_inputs=False, saves_output=False, jvp=forward.linear)
_slice_backward = defop("SliceBackwardBackward0", _scatter_forward, _scatter_vjp,
                        saves_inputs=False, saves_output=False, jvp=forward.linear)


def index(x, key):
    """x[key] with numpy's basic indexing: key an int, a slice, or a tuple of them (no arrays, no bools)."""
    key = key if isinstance(key, tuple) else (key,)
    for k in key:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer, slice)):
            raise TypeError(f"only integers and slices can index a Tensor, not {type(k).__name__}")
    return (_select if _has_integer(key) else _slice)(x, key=key)


def _softmax_forward(x, axis):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))       # shifted: exp never overflows
    return e / np.sum(e, axis=axis, keepdims=True)


def _softmax_vjp(F, g, ans, x, axis):
    return ans * (g - F.sum(g * ans, axis=axis, keepdims=True))


def _softmax_jvp(F, tangents, ans, x, axis):
    return ans * (tangents[0] - np.sum(ans * tangents[0], axis=axis, keepdims=True))


_softmax = defop("SoftmaxBackward0", _softmax_forward, _softmax_vjp, saves_inputs=False, jvp=_softmax_jvp)


def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) along `axis` (the last by default), computed without overflow."""
    return _softmax(x, axis=int(axis))


def _logsumexp_forward(x, axis, keepdims):
    peak = np.max(x, axis=axis, keepdims=True)
    peak = np.where(np.isfinite(peak), peak, 0.0)             # all -inf (or an inf): no shift
    out = np.log(np.sum(np.exp(x - peak), axis=axis, keepdims=True)) + peak
    return out if keepdims else np.squeeze(out, axis=axis)


def _logsumexp_vjp(F, g, ans, x, axis, keepdims):
    """g * softmax(x): exp(x - logsumexp(x)) is at most 1, so no overflow either."""
    return _keep_reduced_dims(F, g, x, axis, keepdims) * F.exp(x - _keep_reduced_dims(F, ans, x, axis, keepdims))


def _logsumexp_jvp(F, tangents, ans, x, axis, keepdims):
    weights = np.exp(x - _keep_reduced_dims(np, ans, x, axis, keepdims))     # softmax(x), at most 1
    return np.sum(tangents[0] * weights, axis=axis, keepdims=keepdims)


_logsumexp = defop("LogsumexpBackward0", _logsumexp_forward, _logsumexp_vjp, jvp=_logsumexp_jvp)


def logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))) over all elements or along `axis`, computed without overflow."""
    ndim = np.ndim(raw(x))
    axes = tuple(range(ndim)) if axis is None else _normalize_axis(axis, ndim)
    return _logsumexp(x, axis=axes, keepdims=bool(keepdims))


# --- Python operators on Tensor ------------------------------------------------------------------
def _reflected(op):
    return lambda self, other: op(other, self)


Tensor.__add__, Tensor.__radd__ = add, _reflected(add)
Tensor.__sub__, Tensor.__rsub__ = sub, _reflected(_rsub)
Tensor.__mul__, Tensor.__rmul__ = mul, _reflected(mul)
Tensor.__truediv__, Tensor.__rtruediv__ = div, _reflected(div)
Tensor.__pow__, Tensor.__rpow__ = power, _reflected(power)
Tensor.__matmul__, Tensor.__rmatmul__ = matmul, _reflected(matmul)
Tensor.__neg__ = neg
Tensor.__pos__ = lambda self: self
Tensor.__abs__ = abs
Tensor.__getitem__ = index

# Method forms, as PyTorch users write them: x.sum(), x.exp(), x.reshape(2, 3)
for _name in ("sin cos tan asin acos atan sinh cosh tanh exp expm1 log log1p sqrt abs sigmoid relu "
              "sum mean max min amax amin transpose swapaxes maximum minimum matmul dot pow softmax logsumexp").split():
    setattr(Tensor, _name, globals()[_name])
Tensor.reshape = lambda self, *shape: reshape(self, shape[0] if len(shape) == 1 else shape)
Tensor.T = property(lambda self: transpose(self))
