"""The one table of what the language can compute: functions and operators.

For every function name and arity (and every operator) it says
  - which `autodiff_cli.engine` function computes it (`engine`),
  - how to build the same thing out of SymPy expressions (`sympy`),
  - whether it accepts `axis=k` (`axis`), `keepdims=1` (`keepdims`), integer sizes (`sizes`, reshape).
The parser reads it to validate calls; both lowerings read it to compute them. Adding a function
means adding one line here (and the engine function it names). `STACK` and `INDEX` compute the
two forms of syntax that are not calls: `[a, b]` and `x[0, 1:3]`.

SymPy builders take `(sp, *arrays, **options)`, the options being those of the call (`axis`,
`keepdims`, `shape` for reshape, `key` for indexing): `sp` is the sympy module (passed in, so that
importing this file does not import sympy), the arrays are numpy object arrays of SymPy
expressions (0-d for scalars), and they return such an array. Numpy's object-array machinery gives
us broadcasting, `sum`/`dot`/`matmul` shapes and axis handling for free.
"""
from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Overload:
    engine: str                 # name of the autodiff_cli.engine function
    sympy: Callable             # (sp, *object_arrays, **options) -> object ndarray
    axis: bool = False          # accepts the keyword axis=k
    keepdims: bool = False      # accepts the keyword keepdims=0|1
    sizes: bool = False         # takes integer sizes after the array: reshape(x, 2, 3)


# --- helpers for SymPy object arrays ---------------------------------------------------------

def as_object_array(value):
    """Wrap a result as a numpy object array; scalars become 0-d arrays.

    Needed because numpy hands back bare objects, not 0-d arrays, from operations on 0-d arrays.
    """
    if isinstance(value, np.ndarray):
        return value if value.dtype == object else value.astype(object)
    out = np.empty((), dtype=object)
    out[()] = value
    return out


def _elementwise(scalar_fn, nin=1):
    """Builder applying `scalar_fn(sp, *scalars)` element by element, with broadcasting."""
    def build(sp, *arrays):
        ufunc = np.frompyfunc(lambda *xs: _float64(sp, scalar_fn(sp, *xs)), nin, 1)
        return as_object_array(ufunc(*arrays))
    return build


def _float64(sp, value):
    """Round a SymPy floating-point number to float64 (inf beyond its range), as the engine would.

    SymPy Floats have an unbounded exponent: exp(exp(exp(exp(3.0)))) would be computed with an
    exponent of hundreds of millions of digits, which never finishes. Rounding after every
    function keeps numbers float64-sized. Exact numbers (exp(3), sqrt(2)) stay symbolic.
    """
    if getattr(value, "is_Float", False):
        return sp.Float(float(value))
    return value


def _operator(array_fn):
    """Builder for a numpy operation that already works on object arrays (`a + b`, `np.matmul`)."""
    def build(sp, *arrays, **options):
        return as_object_array(array_fn(*arrays, **options))
    return build


def _reduction(combine):
    """Builder reducing along `axis` (None = all elements) with `combine(sp, list_of_elements)`.

    We reduce with one `combine` call per output element (e.g. one `sp.Add(*terms)`) rather than
    numpy's pairwise `+`, which would rebuild a growing SymPy sum n times.
    """
    def build(sp, array, axis=None, keepdims=False):
        if axis is None:
            out = as_object_array(combine(sp, list(array.flat)))
            return out.reshape((1,) * array.ndim) if keepdims else out
        _check_axis(axis, array.ndim)
        moved = np.moveaxis(array, axis, -1)
        rows = moved.reshape(-1, moved.shape[-1])
        out = np.empty(len(rows), dtype=object)
        for i, row in enumerate(rows):
            out[i] = combine(sp, list(row))
        out = out.reshape(moved.shape[:-1])
        return np.expand_dims(out, axis) if keepdims else out
    return build


def _check_axis(axis, ndim):
    if not -ndim <= axis < ndim:
        # Same wording as numpy's AxisError, which the engine raises for the same mistake.
        raise ValueError(f"axis {axis} is out of bounds for array of dimension {ndim}")


def _logsumexp(sp, elements):
    # No max-shift needed: SymPy numbers have an unbounded exponent, so exp(1000) does not overflow.
    return _float64(sp, sp.log(sp.Add(*[sp.exp(e) for e in elements])))


def _softmax(sp, array, axis=-1):
    """exp(x) / sum(exp(x)) along `axis`, each element rounded to float64 as the engine's would be."""
    _check_axis(axis, array.ndim)
    exps = np.frompyfunc(sp.exp, 1, 1)(array)
    totals = _reduction(_sum)(sp, exps, axis=axis, keepdims=True)
    return as_object_array(np.frompyfunc(lambda a, b: _float64(sp, a / b), 2, 1)(exps, totals))


def _stack(sp, *arrays):
    shapes = {np.shape(a) for a in arrays}
    if len(shapes) > 1:
        raise ValueError("all input arrays must have the same shape")   # numpy's words, as the engine's
    return np.stack(arrays)


def _index(sp, array, key):
    return as_object_array(array[key])


def _reshape(sp, array, shape):
    return array.reshape(shape)


def _sum(sp, elements):
    return sp.Add(*elements)


def _mean(sp, elements):
    return sp.Add(*elements) / sp.Integer(len(elements))   # 0/0 is nan, as numpy's mean of nothing


def _extreme(which):
    def combine(sp, elements):
        if not elements:
            raise ValueError(f"zero-size array to reduction operation {which} which has no identity")
        return (sp.Max if which == "maximum" else sp.Min)(*elements)
    return combine


def _pow(sp, base, exponent):
    """`base ** exponent`, but never an exact power with millions of digits.

    SymPy evaluates `Integer(9) ** Integer(387420489)` exactly, and `Float(9) ** Float(1e300)`
    with an exponent field of 300 digits: both take forever. Small exact powers stay exact
    (`2**10` reads 1024); any other power of two numbers is computed in float64, exactly as the
    engine does it (inf on overflow, nan for a negative base and a fractional exponent).
    """
    if base.is_Number and exponent.is_Number:
        if base.is_Rational and exponent.is_Integer:
            if max(abs(base.p), abs(base.q)).bit_length() * abs(int(exponent)) <= 4096:
                return base ** exponent
        with np.errstate(all="ignore"):
            return sp.Float(float(np.power(np.float64(base), np.float64(exponent))))
    return base ** exponent


def _relu(sp, x):
    # Piecewise rather than Max(0, x): its derivative at 0 is 0 (PyTorch's relu'(0)), while
    # Max's derivative is Heaviside(x), which SymPy evaluates to 1/2 at 0.
    return sp.Piecewise((x, x > 0), (0, True))


def _elementwise_named(sympy_name):
    return _elementwise(lambda sp, x: getattr(sp, sympy_name)(x))


# --- the tables --------------------------------------------------------------------------------

FUNCTIONS: dict[str, dict[int, Overload]] = {
    "sin": {1: Overload("sin", _elementwise_named("sin"))},
    "cos": {1: Overload("cos", _elementwise_named("cos"))},
    "tan": {1: Overload("tan", _elementwise_named("tan"))},
    "asin": {1: Overload("asin", _elementwise_named("asin"))},
    "acos": {1: Overload("acos", _elementwise_named("acos"))},
    "atan": {1: Overload("atan", _elementwise_named("atan"))},
    "sinh": {1: Overload("sinh", _elementwise_named("sinh"))},
    "cosh": {1: Overload("cosh", _elementwise_named("cosh"))},
    "tanh": {1: Overload("tanh", _elementwise_named("tanh"))},
    "exp": {1: Overload("exp", _elementwise_named("exp"))},
    "log": {1: Overload("log", _elementwise_named("log"))},
    "log1p": {1: Overload("log1p", _elementwise(lambda sp, x: sp.log(1 + x)))},
    "expm1": {1: Overload("expm1", _elementwise(lambda sp, x: sp.exp(x) - 1))},
    "sqrt": {1: Overload("sqrt", _elementwise_named("sqrt"))},
    "abs": {1: Overload("abs", _elementwise_named("Abs"))},
    "sigmoid": {1: Overload("sigmoid", _elementwise(lambda sp, x: 1 / (1 + sp.exp(-x))))},
    "relu": {1: Overload("relu", _elementwise(_relu))},
    "pow": {2: Overload("pow", _elementwise(_pow, 2))},
    "sum": {1: Overload("sum", _reduction(_sum), axis=True, keepdims=True)},
    "mean": {1: Overload("mean", _reduction(_mean), axis=True, keepdims=True)},
    "max": {1: Overload("max", _reduction(_extreme("maximum")), axis=True, keepdims=True),
            2: Overload("maximum", _elementwise(lambda sp, a, b: sp.Max(a, b), 2))},
    "min": {1: Overload("min", _reduction(_extreme("minimum")), axis=True, keepdims=True),
            2: Overload("minimum", _elementwise(lambda sp, a, b: sp.Min(a, b), 2))},
    "logsumexp": {1: Overload("logsumexp", _reduction(_logsumexp), axis=True, keepdims=True)},
    "softmax": {1: Overload("softmax", _softmax, axis=True)},
    "transpose": {1: Overload("transpose", _operator(np.transpose))},
    "reshape": {1: Overload("reshape", _reshape, sizes=True)},
    "dot": {2: Overload("dot", _operator(np.matmul))},     # the engine's dot is matmul too
    "matmul": {2: Overload("matmul", _operator(np.matmul))},
}

BINARY_OPERATORS: dict[str, Overload] = {
    "+": Overload("add", _operator(lambda a, b: a + b)),
    "-": Overload("sub", _operator(lambda a, b: a - b)),
    "*": Overload("mul", _operator(lambda a, b: a * b)),
    "/": Overload("div", _operator(lambda a, b: a / b)),
    "**": Overload("pow", _elementwise(_pow, 2)),
    "@": Overload("matmul", _operator(np.matmul)),
}

# Unary plus is the identity and has no entry: the lowerings return the operand itself.
UNARY_OPERATORS: dict[str, Overload] = {
    "-": Overload("neg", _operator(lambda a: -a)),
}

STACK = Overload("stack", _stack)          # [a, b, ...]
INDEX = Overload("index", _index)          # x[key]

CONSTANTS = {"pi": np.pi, "e": np.e}


def arity_text(name):
    """'1 argument', '2 arguments' or '1 or 2 arguments', for error messages."""
    counts = sorted(FUNCTIONS[name])
    words = " or ".join(str(n) for n in counts)
    return f"{words} argument{'s' if counts[-1] != 1 else ''}"
