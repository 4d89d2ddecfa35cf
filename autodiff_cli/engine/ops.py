"""THE op table: every op of the engine and the expression language, one `OpSpec` each (see spec.py).

Read an entry as: its engine name, PyTorch's node name, the numpy forward, one VJP per input
`(F, g, ans, *inputs, **params)`, then where it shows up (language names, Tensor methods and
operators, its SymPy form, its non-differentiable points). build.py turns the table into the
engine's functions; nothing else lists ops.

`F` is numpy during an ordinary backward and the engine's own functions under `create_graph=True`,
so formulas only use functions both provide (sin, cos, where, sum, reshape, broadcast_to,
expand_dims, swapaxes, matmul, ...) and every formula is itself differentiable. Masks are taken
from raw values (`raw(x) > 0`): they are constants, as in PyTorch.

Forwards of arithmetic use Python operators rather than np.add etc.: the same numpy arithmetic, but
numpy's operator path on float64 scalars is ten times faster than calling the ufunc.
"""
import math
import operator

import numpy as np

from . import cas_forms as sym
from .forward import diagonal, linear
from .graph import Tensor, defop, raw
from .spec import Kink, Node, OpSpec, Pole

__all__ = ["OPS"]


# --- formulas that need more than one line -------------------------------------------------------

def _pow_vjp_base(F, g, ans, x, y):
    if type(y) is float:                        # the compiled path's float run (engine/tape.py)
        return g * 0.0 if y == 0 else g * (y * x ** (y - 1))
    if not isinstance(y, Tensor) and not np.any(y):   # x**0 is constant: every derivative is 0, not 0*inf
        return g * 0.0
    if np.ndim(raw(y)) == 0 and raw(y) != 0:   # one nonzero exponent: no mask needed; ** is numpy's
        if raw(y) == 2 and not isinstance(y, Tensor):   # fast path for x**2 (a constant exponent:
            return g * (y * x)                 # y*x is not y*x**(y-1) as a function of y); x**1 would be
                                               # a copy of x: one array pass fewer, the same numbers
        return g * (y * x ** (y - 1))
    return F.where(raw(y) == 0, 0.0, g * y * F.power(x, y - 1))


def _pow_vjp_exponent(F, g, ans, x, y):
    return F.where((raw(x) == 0) & (raw(y) >= 0), 0.0, g * ans * F.log(x))


def _as_constant(value):
    return np.float64(value) if np.ndim(value) == 0 else np.asarray(value, np.float64)


def _power_at_a_kink(ans, x, y):
    """Base 0 with an exponent that is not a whole number >= 1: x**2 is smooth at 0 in both x and
    y (0**y is 0 for every y > 0), x**0.5, x**0 and x**y at y = 0 take PyTorch's convention."""
    y = np.asarray(y)
    return (np.asarray(x) == 0) & ~((y >= 1) & (y == np.round(y)))


def _power_front(F, nodes):
    both, number_exponent, number_base = nodes["PowBackward1"], nodes["PowBackward0"], nodes["PowBackward2"]

    def power(x, y):
        """x ** y, named as PyTorch names it: PowBackward0 (exponent a number), 1 (both tensors), 2 (base a number)."""
        if not isinstance(y, Tensor):
            return number_exponent(x, exponent=_as_constant(y))
        if isinstance(x, Tensor):
            return both(x, y)
        return number_base(y, base=_as_constant(x))
    return power


def _div_front(F, nodes):
    quotient = nodes["DivBackward0"]

    def div(a, b):
        """a / b; a number over a tensor is reciprocal(b) * a, as PyTorch records it (then the second
        derivative of 1/x at 0 is inf, where the quotient rule's -g*a/(b*b) would give 0/0)."""
        if isinstance(a, Tensor) or not isinstance(b, Tensor):
            return quotient(a, b)
        return F.mul(F.reciprocal(b), a)
    return div


def _tie_share(a, b):
    """1 where a wins, 1/2 on a tie, 0 where it loses: PyTorch's split for maximum/minimum."""
    return (a > b) + 0.5 * (a == b)


def _tie_gap(a, b):
    """a - b, and 0 wherever a == b (infinite ties too, where a - b is nan)."""
    return np.where(np.equal(a, b), 0.0, np.subtract(a, b))


# Reductions: `axis` is None or a sorted tuple of non-negative axes by the time a node sees it.

def _normalize_axis(axis, ndim):
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {a} is out of bounds for array of dimension {ndim}")
    return tuple(sorted(a % ndim for a in axes))


def _reduction_front(over_all, over_axes):
    """The engine function picks PyTorch's node: one for a whole-array reduction, one for given axes."""
    def front(F, nodes):
        whole, along = nodes[over_all], nodes[over_axes]

        def reduce(x, axis=None, keepdims=False):
            if axis is None:
                return whole(x, keepdims=keepdims)
            return along(x, axis=_normalize_axis(axis, np.ndim(raw(x))), keepdims=keepdims)
        return reduce
    return front


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
    return F.broadcast_to(_keep_reduced_dims(F, g / count, x, axis, keepdims), shape)   # divide before spreading


def _extremum_winners(ans, x, axis, keepdims):
    return x == _keep_reduced_dims(np, ans, x, axis, keepdims)


def _extremum_share(ans, x, axis, keepdims):
    """1/k at each of the k elements that attain the max (min), 0 elsewhere: PyTorch's split of ties."""
    winners = _extremum_winners(ans, x, axis, keepdims)
    return winners / np.sum(winners, axis=axis, keepdims=True)


def _extremum_vjp(F, g, ans, x, axis=None, keepdims=False):
    """Ties share the gradient evenly (PyTorch's max()/amax())."""
    return _keep_reduced_dims(F, g, x, axis, keepdims) * _extremum_share(raw(ans), raw(x), axis, keepdims)


def _extremum_jvp(F, tangents, ans, x, axis=None, keepdims=False):
    return np.sum(tangents[0] * _extremum_share(ans, x, axis, keepdims), axis=axis, keepdims=keepdims)


def _extremum_tied(ans, x, axis=None, keepdims=False):
    """More winners than outputs: some output has tied maxima (axis as the language gives it: an int)."""
    axis = None if axis is None else _normalize_axis(axis, np.ndim(x))
    return np.sum(_extremum_winners(np.asarray(ans), np.asarray(x), axis, keepdims)) > np.size(ans)


def _mean(x, axis=None, keepdims=False):
    """np.mean without its 'Mean of empty slice' warning: an empty mean is 0/0 = nan, quietly."""
    count = np.prod([np.shape(x)[a] for a in axis]) if axis is not None else np.size(x)
    return np.sum(x, axis=axis, keepdims=keepdims) / count


def _whole(reduce):
    """A whole-array forward (its node gets axis=None)."""
    return lambda x, axis=None, keepdims=False: reduce(x, keepdims=keepdims)


def _extremum(name, node_all, node_dim, forward, which):
    return OpSpec(name, node_all, _whole(forward), (_extremum_vjp,), jvp=_extremum_jvp, language=(name,), axis=True,
                  variants=(Node(node_dim, forward, jvp=_extremum_jvp),), front=_reduction_front(node_all, node_dim),
                  aliases=("a" + name,), methods=(name, "a" + name),
                  sympy=sym.reduction(sym.extreme(which)), domain=("distinct",), torch=name,
                  kink=Kink(_extremum_tied, "has ties",
                            "(the gradient split evenly among the tied elements)"))


def _elementwise_extremum(name, node, forward, winner_first, sympy_name):
    """maximum/minimum; `winner_first(a, b)` orders a pair for _tie_share: (a, b) for maximum."""
    return OpSpec(name, node, forward,
                  (lambda F, g, ans, a, b: g * _tie_share(*winner_first(raw(a), raw(b))),
                   lambda F, g, ans, a, b: g * _tie_share(*winner_first(raw(b), raw(a)))), jvp=diagonal,
                  language=(name[:3],), methods=(name,), torch=name, domain=("lattice", "lattice_half"),
                  sympy=sym.elementwise(lambda sp, a, b: getattr(sp, sympy_name)(a, b), 2),
                  kink=Kink(None, "has tied arguments", "(half the gradient to each side)", where=_tie_gap,
                            text=f"{name[:3]} with tied arguments"), elementwise=True)


# Products: numpy's matmul rules (1-D operands are vectors, leading dimensions broadcast).

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


def _matmul_front(F, nodes):
    by_ndims = {(1, 1): nodes["DotBackward0"], (2, 1): nodes["MvBackward0"], (2, 2): nodes["MmBackward0"]}
    batched = nodes["MatmulBackward0"]

    def matmul(a, b):
        """a @ b, recorded as PyTorch does: Dot (vector . vector), Mv, Mm, else Matmul (batched, vector @ matrix)."""
        ndims = (np.ndim(raw(a)), np.ndim(raw(b)))
        if 0 in ndims:
            raise ValueError("matmul: input operand does not have enough dimensions (scalars cannot be "
                             "matrix-multiplied; use *)")
        return by_ndims.get(ndims, batched)(a, b)
    return matmul


def _argument_front(node, convert):
    """An engine function that turns its arguments into the node's `(inputs, params)` first."""
    def front(F, nodes):
        primitive = nodes[node]

        def function(*args, **kwargs):
            inputs, params = convert(*args, **kwargs)
            return primitive(*inputs, **params)
        return function
    return front


def _argument(x):
    return x


def _at_zero(convention, text):
    return Kink(None, "is evaluated where its argument is 0", convention, where=_argument, text=text)


def _infinite_slope_at_one(name):
    """asin/acos at ±1: marked by the plot; the forward pass notes nothing there (at: never), the
    check reports the infinite derivative as a non-finite value."""
    return Kink(lambda ans, x: False, "is evaluated at ±1", f"{name}'(±1) = inf",
                where=lambda x: 1 - np.square(x), text=f"{name} at ±1 (infinite slope)")


def _power_base(steep_or_pole):
    """The base where the exponent makes 0 a kink (0 < y < 1: infinite slope) or a pole (y < 0), else nan."""
    def where(base, exponent):
        base, exponent = np.broadcast_arrays(base, exponent)
        return np.where(steep_or_pole(exponent), base, np.nan)
    return where


def _unary(name, node, forward, vjp, sympy, domain="any", saves_inputs=True, saves_output=True, kink=None,
           pole=None, operators=(), torch=None, scalar=None):
    """The common case: an elementwise function of one argument, also a Tensor method.

    scalar: the float forward; default the `math` function of the same name, if there is one."""
    return OpSpec(name, node, forward, (vjp,), jvp=diagonal, language=(name,), methods=(name,), operators=operators,
                  sympy=sympy, domain=(domain,), torch=torch or name, saves_inputs=saves_inputs,
                  saves_output=saves_output, kink=kink, pole=pole, elementwise=True,
                  scalar=scalar or getattr(math, name, None))


def _softplus_scalar(x):
    """np.logaddexp(0, x) on a float, the way numpy computes it (no overflow)."""
    if x == 0.0:
        return math.log(2.0)
    if x < 0.0:
        return math.log1p(math.exp(x))
    if x > 0.0:
        return x + math.log1p(math.exp(-x))
    return x   # nan


# Stacking, indexing, softmax, logsumexp: the language's array forms.

def _stack_forward(*xs):
    return np.stack(xs)


def _stack_vjps(count):
    return tuple((lambda F, g, ans, *xs, i=i: g[i]) for i in range(count))


STACK_PRIMITIVES = []    # the stack primitives made so far for more than one element
STACK_MADE = []          # callbacks told of every stack primitive made from now on (testing.wrong_derivative)


def _stack_front(F, nodes):
    """stack(tensors) with one VJP per element: a primitive per number of elements, made on first use
    (`stack.by_count` holds them)."""
    by_count = {1: nodes["StackBackward0"]}

    def stack(tensors):
        """Stack equal-shaped tensors along a new first axis (torch.stack(tensors, 0))."""
        tensors = tuple(tensors)
        primitive = by_count.get(len(tensors))
        if primitive is None:
            primitive = by_count[len(tensors)] = defop(
                "StackBackward0", _stack_forward, *_stack_vjps(len(tensors)), jvp=linear(_stack_forward),
                saves_inputs=False, saves_output=False, function_name="stack")
            STACK_PRIMITIVES.append(primitive)
            for made in STACK_MADE:
                made(primitive)
        return primitive(*tensors)
    stack.by_count = by_count
    return stack


def _has_integer(key):
    return any(not isinstance(k, slice) for k in key)


def _index_key(key):
    key = key if isinstance(key, tuple) else (key,)
    for k in key:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer, slice)):
            raise TypeError(f"only integers and slices can index a Tensor, not {type(k).__name__}")
    return key


def _index_front(F, nodes):
    def index(x, key):
        """x[key], numpy's basic indexing (integers and slices), recorded as PyTorch does:
        SelectBackward0 when the key holds an integer, else SliceBackward0."""
        key = _index_key(key)
        return nodes["SelectBackward0" if _has_integer(key) else "SliceBackward0"](x, key=key)
    return index


def _index_backward_front(F, nodes):
    def index_backward(g, shape, key):
        """Zeros of `shape` with g at [key]: indexing's VJP, differentiable in its turn."""
        key = _index_key(key)
        node = "SelectBackwardBackward0" if _has_integer(key) else "SliceBackwardBackward0"
        return nodes[node](g, shape=tuple(shape), key=key)
    return index_backward


def _index_vjp(F, g, ans, x, key):
    """Scatter g into zeros of x's shape (PyTorch's select/slice backward)."""
    if F is np:
        return _scatter_forward(g, x.shape, key)
    return F.index_backward(g, x.shape, key=key)


def _scatter_forward(g, shape, key):
    out = np.zeros(shape)
    out[key] = g
    return out


def _softmax_forward(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))       # shifted: exp never overflows
    return e / np.sum(e, axis=axis, keepdims=True)


def _softmax_vjp(F, g, ans, x, axis=-1):
    return ans * (g - F.sum(g * ans, axis=axis, keepdims=True))


def _softmax_jvp(F, tangents, ans, x, axis=-1):
    return ans * (tangents[0] - np.sum(ans * tangents[0], axis=axis, keepdims=True))


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


def _logsumexp_arguments(x, axis=None, keepdims=False):
    ndim = np.ndim(raw(x))
    axes = tuple(range(ndim)) if axis is None else _normalize_axis(axis, ndim)
    return (x,), {"axis": axes, "keepdims": bool(keepdims)}


# --- the table -----------------------------------------------------------------------------------

OPS = (
    # arithmetic: the language's operators
    OpSpec("add", "AddBackward0", lambda a, b: a + b,
           (lambda F, g, ans, a, b: g, lambda F, g, ans, a, b: g),
           language=("+",), operators=("__add__", "__radd__"), sympy=sym.operator(lambda a, b: a + b),
           saves_inputs=False, saves_output=False, domain=("any", "any"), torch="add", jvp=diagonal, elementwise=True,
           scalar=operator.add, ufunc=np.add),
    OpSpec("sub", "SubBackward0", lambda a, b: a - b,
           (lambda F, g, ans, a, b: g, lambda F, g, ans, a, b: -g),
           variants=(Node("RsubBackward1"),),     # number - tensor
           language=("-",), operators=("__sub__", "__rsub__:RsubBackward1"),
           sympy=sym.operator(lambda a, b: a - b), saves_inputs=False, saves_output=False,
           domain=("any", "any"), torch="sub", jvp=diagonal, elementwise=True,
           scalar=operator.sub, ufunc=np.subtract),
    OpSpec("mul", "MulBackward0", lambda a, b: a * b,
           (lambda F, g, ans, a, b: g * b, lambda F, g, ans, a, b: g * a),
           language=("*",), operators=("__mul__", "__rmul__"), sympy=sym.operator(lambda a, b: a * b),
           saves_output=False, domain=("any", "any"), torch="mul", jvp=diagonal, elementwise=True,
           scalar=operator.mul, ufunc=np.multiply),
    OpSpec("div", "DivBackward0", lambda a, b: a / b,
           (lambda F, g, ans, a, b: g / b, lambda F, g, ans, a, b: -g * ((a / b) / b)),   # PyTorch's order: inf, not 0*inf, at b = 0
           front=_div_front, language=("/",), operators=("__truediv__", "__rtruediv__"),
           sympy=sym.operator(lambda a, b: a / b), saves_output=False, domain=("any", "nonzero"),
           pole=Pole(lambda a, b: b, "division by zero"), torch="div", jvp=diagonal, elementwise=True,
           scalar=operator.truediv, ufunc=np.true_divide),
    OpSpec("neg", "NegBackward0", lambda x: -x, (lambda F, g, ans, x: -g,),
           language=("-",), operators=("__neg__",), sympy=sym.operator(lambda a: -a),
           saves_inputs=False, saves_output=False, domain=("any",), torch="neg", jvp=diagonal, elementwise=True,
           scalar=operator.neg, ufunc=np.negative),
    OpSpec("reciprocal", "ReciprocalBackward0", lambda x: 1.0 / x, (lambda F, g, ans, x: -g * ans * ans,),
           saves_inputs=False, domain=("nonzero",), torch="reciprocal", jvp=diagonal,
           scalar=lambda x: 1.0 / x),
    OpSpec("power", "PowBackward1", lambda x, y: x ** y, (_pow_vjp_base, _pow_vjp_exponent),
           variants=(Node("PowBackward0", lambda x, exponent: x ** exponent,
                          (lambda F, g, ans, x, exponent: _pow_vjp_base(F, g, ans, x, exponent),),
                          jvp=diagonal, saves_output=False, scalar=lambda x, exponent: math.pow(x, exponent)),
                     Node("PowBackward2", lambda y, base: base ** y,
                          (lambda F, g, ans, y, base: _pow_vjp_exponent(F, g, ans, base, y),), jvp=diagonal,
                          scalar=lambda y, base: math.pow(base, y))),
           scalar=math.pow,
           front=_power_front, aliases=("pow",), language=("pow", "**"), methods=("pow",),
           operators=("__pow__", "__rpow__"), sympy=sym.elementwise(sym.power, 2),
           kink=Kink(_power_at_a_kink, "has base 0",
                     "(d/dy x**y = 0 where x == 0, d/dx x**y = 0 where y == 0)",
                     where=_power_base(lambda y: (y > 0) & (y < 1)), text="a power with base 0"),   # x**0.5
           pole=Pole(_power_base(lambda y: y < 0), "a power with base 0"),                          # x**-1
           domain=("pos", "nonzero"), torch="pow", jvp=diagonal, elementwise=True),

    # elementwise functions
    _unary("sin", "SinBackward0", np.sin, lambda F, g, ans, x: g * F.cos(x), sym.named("sin"),
           saves_output=False),
    _unary("cos", "CosBackward0", np.cos, lambda F, g, ans, x: -g * F.sin(x), sym.named("cos"),
           saves_output=False),
    _unary("tan", "TanBackward0", np.tan, lambda F, g, ans, x: g * (1.0 + ans * ans), sym.named("tan"),
           domain="small", saves_inputs=False, pole=Pole(np.cos, "tan at an odd multiple of pi/2")),
    _unary("asin", "AsinBackward0", np.arcsin, lambda F, g, ans, x: g / F.sqrt(1.0 - x * x),
           sym.named("asin"), domain="unit", saves_output=False, kink=_infinite_slope_at_one("asin")),
    _unary("acos", "AcosBackward0", np.arccos, lambda F, g, ans, x: -g / F.sqrt(1.0 - x * x),
           sym.named("acos"), domain="unit", saves_output=False, kink=_infinite_slope_at_one("acos")),
    _unary("atan", "AtanBackward0", np.arctan, lambda F, g, ans, x: g / (1.0 + x * x), sym.named("atan"),
           saves_output=False),
    _unary("sinh", "SinhBackward0", np.sinh, lambda F, g, ans, x: g * F.cosh(x), sym.named("sinh"),
           domain="small", saves_output=False),
    _unary("cosh", "CoshBackward0", np.cosh, lambda F, g, ans, x: g * F.sinh(x), sym.named("cosh"),
           domain="small", saves_output=False),
    _unary("tanh", "TanhBackward0", np.tanh, lambda F, g, ans, x: g * (1.0 - ans * ans), sym.named("tanh"),
           saves_inputs=False),
    _unary("exp", "ExpBackward0", np.exp, lambda F, g, ans, x: g * ans, sym.named("exp"),
           domain="small", saves_inputs=False),
    _unary("log", "LogBackward0", np.log, lambda F, g, ans, x: g / x, sym.named("log"),
           domain="pos", saves_output=False, pole=Pole(_argument, "log of 0")),
    _unary("log1p", "Log1PBackward0", np.log1p, lambda F, g, ans, x: g / (1.0 + x),
           sym.elementwise(lambda sp, x: sp.log(1 + x)), domain="gt_m1", saves_output=False,
           pole=Pole(lambda x: x + 1, "log1p of -1")),
    _unary("expm1", "Expm1Backward0", np.expm1, lambda F, g, ans, x: g * (ans + 1.0),
           sym.elementwise(lambda sp, x: sp.exp(x) - 1), domain="small", saves_inputs=False),
    _unary("sqrt", "SqrtBackward0", np.sqrt, lambda F, g, ans, x: g / (2.0 * ans), sym.named("sqrt"),
           domain="pos", saves_inputs=False, kink=_at_zero("sqrt'(0) = inf", "sqrt of 0 (infinite slope)")),
    _unary("abs", "AbsBackward0", np.abs, lambda F, g, ans, x: g * np.sign(raw(x)), sym.named("Abs"),
           domain="nonzero", saves_output=False, kink=_at_zero("abs'(0) = 0", "abs of 0"), operators=("__abs__",),
           scalar=math.fabs),
    _unary("sigmoid", "SigmoidBackward0", lambda x: 0.5 * (1.0 + np.tanh(0.5 * x)),   # no overflow for any x
           # SymPy form in tanh's form too: its derivative (1 - tanh(x/2)**2)/4 then has terms of size 1
           # where the engine's ans*(1 - ans) rounds, and the cross-check's tolerance sees them
           lambda F, g, ans, x: g * ans * (1.0 - ans), sym.elementwise(lambda sp, x: (1 + sp.tanh(x / 2)) / 2),
           saves_inputs=False, scalar=lambda x: 0.5 * (1.0 + math.tanh(0.5 * x))),
    # Piecewise rather than Max(0, x): its derivative at 0 is 0 (PyTorch's relu'(0)), while
    # Max's derivative is Heaviside(x), which SymPy evaluates to 1/2 at 0.
    _unary("relu", "ReluBackward0", lambda x: np.maximum(x, 0.0), lambda F, g, ans, x: g * (raw(ans) > 0),
           sym.elementwise(lambda sp, x: sp.Piecewise((x, x > 0), (0, True))), domain="nonzero",
           saves_inputs=False, kink=_at_zero("relu'(0) = 0", "relu of 0"), scalar=lambda x: x if not x <= 0.0 else 0.0),
    _unary("softplus", "SoftplusBackward0", lambda x: np.logaddexp(0.0, x),   # log(1 + e^x), no overflow
           lambda F, g, ans, x: g * F.exp(x - ans),                       # sigmoid(x), no overflow either
           sym.elementwise(lambda sp, x: sp.log(1 + sp.exp(x))), torch="nn.functional.softplus",
           scalar=_softplus_scalar),
    _elementwise_extremum("maximum", "MaximumBackward0", np.maximum, lambda a, b: (a, b), "Max"),
    _elementwise_extremum("minimum", "MinimumBackward0", np.minimum, lambda a, b: (b, a), "Min"),

    # reductions (axis=None|int|tuple, keepdims)
    OpSpec("sum", "SumBackward0", _whole(np.sum), (_sum_vjp,), variants=(Node("SumBackward1", np.sum, jvp=linear),),
           front=_reduction_front("SumBackward0", "SumBackward1"), language=("sum",), axis=True,
           methods=("sum",), sympy=sym.reduction(sym.add_all), saves_inputs=False, saves_output=False,
           domain=("any",), torch="sum", jvp=linear),
    OpSpec("mean", "MeanBackward0", _mean, (_mean_vjp,), variants=(Node("MeanBackward1"),),
           front=_reduction_front("MeanBackward0", "MeanBackward1"), language=("mean",), axis=True,
           methods=("mean",), sympy=sym.reduction(sym.mean_of), saves_inputs=False, saves_output=False,
           domain=("any",), torch="mean", jvp=linear),
    _extremum("max", "MaxBackward1", "AmaxBackward0", np.max, "maximum"),
    _extremum("min", "MinBackward1", "AminBackward0", np.min, "minimum"),

    # products
    OpSpec("matmul", "MatmulBackward0", np.matmul, (_matmul_vjp_a, _matmul_vjp_b),
           variants=(Node("DotBackward0"), Node("MvBackward0"), Node("MmBackward0")), front=_matmul_front,
           aliases=("dot",), language=("dot", "matmul", "@"), methods=("matmul", "dot"),
           operators=("__matmul__", "__rmatmul__"), sympy=sym.operator(np.matmul), torch="matmul",
           domain=("any", "any"), jvp=_matmul_jvp),

    # shapes and selection: engine only (the language has no syntax for them)
    OpSpec("where", "WhereBackward0", lambda a, b, cond: np.where(cond, a, b),
           (lambda F, g, ans, a, b, cond: F.where(cond, g, 0.0),
            lambda F, g, ans, a, b, cond: F.where(cond, 0.0, g)),
           front=_argument_front("WhereBackward0",
                                 lambda cond, a, b: ((a, b), {"cond": np.asarray(raw(cond), dtype=bool)})),
           saves_inputs=False, saves_output=False, jvp=diagonal),
    OpSpec("reshape", "ViewBackward0", lambda x, shape: np.reshape(x, shape),
           (lambda F, g, ans, x, shape: F.reshape(g, x.shape),),
           front=_argument_front("ViewBackward0",
                                 lambda x, shape: ((x,), {"shape": tuple(shape) if np.ndim(shape) else (int(shape),)})),
           language=("reshape",), sizes=True, sympy=sym.reshape, domain=("any",), torch="reshape",
           examples=((((2, 3),), {"shape": (3, 2)}), (((6,),), {"shape": (2, -1)})),
           saves_inputs=False, saves_output=False, jvp=linear),
    OpSpec("expand_dims", "ViewBackward0", lambda x, axis: np.expand_dims(x, axis),
           (lambda F, g, ans, x, axis: F.reshape(g, x.shape),),
           front=_argument_front("ViewBackward0", lambda x, axis: ((x,), {"axis": axis})),
           examples=((((2, 3),), {"axis": 1}),), saves_inputs=False, saves_output=False, jvp=linear),
    OpSpec("broadcast_to", "ExpandBackward0", lambda x, shape: np.broadcast_to(x, shape),
           (lambda F, g, ans, x, shape: g,),   # the engine sums g back to x's shape
           front=_argument_front("ExpandBackward0", lambda x, shape: ((x,), {"shape": tuple(shape)})),
           examples=((((3,),), {"shape": (2, 3)}), (((2, 1),), {"shape": (2, 3)})),
           saves_inputs=False, saves_output=False, jvp=linear),
    OpSpec("transpose", "PermuteBackward0", lambda x, axes: np.transpose(x, axes),
           (lambda F, g, ans, x, axes: F.transpose(g, tuple(np.argsort(axes))),),
           front=_argument_front("PermuteBackward0", lambda x, axes=None: (
               (x,), {"axes": tuple(reversed(range(np.ndim(raw(x))))) if axes is None else tuple(axes)})),
           language=("transpose",), methods=("transpose",), sympy=sym.operator(np.transpose), domain=("any",),
           torch="t", saves_inputs=False, saves_output=False, jvp=linear),
    OpSpec("swapaxes", "TransposeBackward0", lambda x, axis1, axis2: np.swapaxes(x, axis1, axis2),
           (lambda F, g, ans, x, axis1, axis2: F.swapaxes(g, axis1, axis2),),
           front=_argument_front("TransposeBackward0",
                                 lambda x, axis1, axis2: ((x,), {"axis1": axis1, "axis2": axis2})),
           examples=((((2, 3, 4),), {"axis1": 0, "axis2": 2}),),
           methods=("swapaxes",), saves_inputs=False, saves_output=False, jvp=linear),

    # the language's array forms: stacking literals [a, b] and indexing x[i, j:k] (syntax, not names)
    OpSpec("stack", "StackBackward0", _stack_forward, _stack_vjps(1), jvp=linear, front=_stack_front,
           sympy=sym.stack, saves_inputs=False, saves_output=False, torch="stack",
           examples=((((3,), (3,), (3,)), {}), (((), ()), {}), (((2, 2),), {}))),
    OpSpec("index", "SelectBackward0", lambda x, key: x[key], (_index_vjp,), jvp=linear,
           variants=(Node("SliceBackward0"),), front=_index_front, operators=("__getitem__",),
           sympy=sym.index, saves_inputs=False, saves_output=False,
           examples=((((4,),), {"key": (1,)}), (((2, 3),), {"key": (slice(None), 0)}),
                     (((5,),), {"key": (slice(None, None, -2),)}), (((2, 3),), {"key": (1, slice(0, 2))}))),
    OpSpec("index_backward", "SelectBackwardBackward0", _scatter_forward,
           (lambda F, g, ans, small, shape, key: g[key],), jvp=linear,
           variants=(Node("SliceBackwardBackward0"),), front=_index_backward_front,
           saves_inputs=False, saves_output=False,
           examples=((((),), {"shape": (4,), "key": (1,)}), (((2,),), {"shape": (2, 3), "key": (slice(None), 0)}))),
    OpSpec("softmax", "SoftmaxBackward0", _softmax_forward, (_softmax_vjp,), jvp=_softmax_jvp,
           language=("softmax",), axis=True, keepdims=False, methods=("softmax",), sympy=sym.softmax,
           domain=("any",), torch="softmax", saves_inputs=False,
           examples=((((4,),), {}), (((2, 3),), {"axis": 0}), (((2, 3, 2),), {"axis": -2}))),
    OpSpec("logsumexp", "LogsumexpBackward0", _logsumexp_forward, (_logsumexp_vjp,), jvp=_logsumexp_jvp,
           front=_argument_front("LogsumexpBackward0", _logsumexp_arguments), language=("logsumexp",), axis=True,
           methods=("logsumexp",), sympy=sym.reduction(sym.log_sum_exp), domain=("any",), torch="logsumexp"),
)
