"""Builders for the table's SymPy forms (`OpSpec.sympy`), for the symbolic cross-check.

A builder takes `(sp, *arrays, axis=None)`: `sp` is the sympy module (passed in, so that the engine
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
    def build(sp, array, axis=None):
        if axis is None:
            return as_object_array(combine(sp, list(array.flat)))
        if not -array.ndim <= axis < array.ndim:
            # Same wording as numpy's AxisError, which the engine raises for the same mistake.
            raise ValueError(f"axis {axis} is out of bounds for array of dimension {array.ndim}")
        moved = np.moveaxis(array, axis, -1)
        rows = moved.reshape(-1, moved.shape[-1])
        out = np.empty(len(rows), dtype=object)
        for i, row in enumerate(rows):
            out[i] = combine(sp, list(row))
        return out.reshape(moved.shape[:-1])
    return build


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
