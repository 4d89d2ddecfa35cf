"""Builders for the table's SymPy forms (`OpSpec.sympy`), for the symbolic cross-check.

A builder takes `(sp, *arrays, **params)` (the op's params: `axis`, `keepdims`, `shape`, `key`): `sp` is the sympy module (passed in, so that the engine
never imports SymPy), the arrays are numpy object arrays of SymPy expressions (0-d for scalars), and
it returns such an array. Numpy's object-array machinery gives us broadcasting, `sum`/`dot`/`matmul`
shapes and axis handling for free.
"""
import numpy as np


def as_object_array(value):
    """Wrap a result as a numpy object array; scalars become 0-d arrays.

    Needed because numpy hands back bare objects, not 0-d arrays, from operations on 0-d arrays.
    """
    if isinstance(value, np.ndarray):
        return value if value.dtype == object else value.astype(object)
    out = np.empty((), dtype=object)
    out[()] = value
    return out


def elementwise(scalar_fn, nin=1):
    """Builder applying `scalar_fn(sp, *scalars)` element by element, with broadcasting."""
    def build(sp, *arrays, axis=None):
        ufunc = np.frompyfunc(lambda *xs: _float64(sp, scalar_fn(sp, *xs)), nin, 1)
        return as_object_array(ufunc(*arrays))
    return build


def named(sympy_name):
    """Builder for a function SymPy has under that name (`sp.sin`, `sp.Abs`)."""
    return elementwise(lambda sp, x: getattr(sp, sympy_name)(x))


def _float64(sp, value):
    """Round a SymPy floating-point number to float64 (inf beyond its range), as the engine would.

    SymPy Floats have an unbounded exponent: exp(exp(exp(exp(3.0)))) would be computed with an
    exponent of hundreds of millions of digits, which never finishes. Rounding after every
    function keeps numbers float64-sized. Exact numbers (exp(3), sqrt(2)) stay symbolic.
    """
    if getattr(value, "is_Float", False):
        return sp.Float(float(value))
    return value


def operator(array_fn):
    """Builder for a numpy operation that already works on object arrays (`a + b`, `np.matmul`)."""
    def build(sp, *arrays, axis=None):
        return as_object_array(array_fn(*arrays))
    return build


def reduction(combine):
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


def add_all(sp, elements):
    return sp.Add(*elements)


def mean_of(sp, elements):
    return sp.Add(*elements) / sp.Integer(len(elements))   # 0/0 is nan, as numpy's mean of nothing


def extreme(which):
    """combine() for max/min reductions; `which` is "maximum" or "minimum" (numpy's wording)."""
    def combine(sp, elements):
        if not elements:
            raise ValueError(f"zero-size array to reduction operation {which} which has no identity")
        return (sp.Max if which == "maximum" else sp.Min)(*elements)
    return combine


def power(sp, base, exponent):
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


def log_sum_exp(sp, elements):
    """combine() for logsumexp: no max-shift needed, SymPy numbers have an unbounded exponent."""
    return _float64(sp, sp.log(sp.Add(*[sp.exp(e) for e in elements])))


def softmax(sp, array, axis=-1):
    """exp(x) / sum(exp(x)) along `axis`, each element rounded to float64 as the engine's would be."""
    _check_axis(axis, array.ndim)
    exps = np.frompyfunc(sp.exp, 1, 1)(array)
    totals = reduction(add_all)(sp, exps, axis=axis, keepdims=True)
    return as_object_array(np.frompyfunc(lambda a, b: _float64(sp, a / b), 2, 1)(exps, totals))


def stack(sp, *arrays):
    if len({np.shape(a) for a in arrays}) > 1:
        raise ValueError("all input arrays must have the same shape")   # numpy's words, as the engine's
    return np.stack(arrays)


def index(sp, array, key):
    return as_object_array(array[key])


def reshape(sp, array, shape):
    return array.reshape(shape)
