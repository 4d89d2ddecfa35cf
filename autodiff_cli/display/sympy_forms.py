"""SymPy expressions from what the check's CAS built, shared by the formulas and the matrix forms."""
import functools


@functools.lru_cache(maxsize=4096)
def real_symbol(name):
    import sympy as sp
    return sp.Symbol(name, real=True)


@functools.lru_cache(maxsize=4096)
def plain_symbol(name):
    import sympy as sp
    return sp.Symbol(name)


def as_sympy(expr):
    """A SymPy expression (SymEngine's and plain numbers converted; SymEngine's symbols become
    real SymPy symbols, as the check's SymPy back end makes them)."""
    import sympy as sp
    if isinstance(expr, sp.Basic):
        return expr
    expr = sp.sympify(expr)
    return expr.xreplace({s: real_symbol(s.name) for s in expr.free_symbols if not s.is_real})
