"""Symbolic derivatives as people read them: simplified, once in index form when every element
has the same formula up to its index, exact numbers exact, and as LaTeX on request.

    describe("x", (3,), [2*x0*cos(x0**2), 2*x1*cos(x1**2), 2*x2*cos(x2**2)])
    -> {"kind": "index", "variable": "x[i]", "text": "2*x[i]*cos(x[i]**2)"}, ...

What `describe` returns is the record's `symbolic` entry for one variable (docs/result.schema.json):
a string for a scalar variable, nested lists of strings shaped like the variable (a Jacobian's
block: the output's shape, then the variable's), or {"kind": "index", "variable", "text"}.

Two routes:
  - plain (`plain`): the check's CAS prints its own expressions (SymEngine's C++ printer), whole
    floats made integers, the index form found on the printed text. No SymPy: this is every
    `--json` and batch record's route, and the human output's wherever nothing is simplified.
  - SymPy (`describe`): LaTeX, simplification (expressions of SIMPLIFY_MIN_OPS to SIMPLIFY_MAX_OPS
    operations) and expressions SymPy built (the check's SymPy back end); SymPy is imported on
    first use, with every deadline held.

Display must never slow the check down or hang: simplification is tried only on small expressions
and under a time budget for the whole result (after which the formulas are shown as derived), and
the result of each simplification is cached by expression.
"""
import functools
import itertools
import math
import re
import time
from collections import OrderedDict

import numpy as np

from ..settings import limits
from ..settings.deadline import TimeLimitExceeded, time_limit
from .sympy_forms import as_sympy, plain_symbol, real_symbol

SIMPLIFY_MIN_OPS = 8           # smaller expressions are shown as derived (simplify's first call alone
                               # costs most of a second: spent only where it can help)
SIMPLIFY_MAX_OPS = 60          # larger expressions are shown as derived
FORMULA_MAX_CHARS = 4000       # a variable's formulas longer than this in all are not shown (None)
CACHE_SIZE = 512
INDEX_LETTERS = "ijkl"
_ELEMENT = re.compile(r"^(.+)\[([0-9a-z,]+)\]$")     # the name of an element symbol: W[0,1]

_simplified = OrderedDict()     # str(expr) -> simplified expr


def describe_all(program, result, seed, derivatives, *, latex=False, simplify=False):
    """({name: symbolic entry}, {name: LaTeX entry}) of a checked result, from `derivatives`
    {name: (shape, [the check's CAS expressions], indexed_by_variable)}: with `simplify` (for
    people: it costs up to AUTODIFF_DISPLAY_SECONDS twice), a closed matrix form where one is found
    (matrix_form.py; a scalar output only) and simplified formulas; else the index form and exact
    numbers only (batch throughput). Formulas neither simplified nor in LaTeX are printed by the
    CAS itself (`plain`: no SymPy). A variable's entry is None when too long to show."""
    forms = {}
    first_derivatives = all(by_variable for _, _, by_variable in derivatives.values())
    if simplify and first_derivatives and seed is None and any(
            np.ndim(result.inputs[name]) in (1, 2) for name in derivatives):   # else no matrix form to find
        _import_sympy()
        from .matrix_form import matrix_gradients
        try:
            with time_limit(limits.display_time_budget()):
                forms = matrix_gradients(program, result.inputs, result.wrt,
                                         {name: exprs for name, (_, exprs, _) in derivatives.items()})
        except TimeLimitExceeded:
            forms = {}
    symbolic, latexes = {}, {}
    for name, (shape, exprs, by_variable) in derivatives.items():
        if name in forms:
            form_text, form_latex = forms[name]
            symbolic[name] = {"kind": "matrix", "variable": name, "text": form_text}
            latexes[name] = {"kind": "matrix", "variable": name, "text": form_latex}
        else:
            try:
                if not latex and _plain_enough(exprs, shape, by_variable, simplify):
                    symbolic[name], latexes[name] = plain(name, shape, exprs, indexed_by_variable=by_variable), None
                    continue
                _import_sympy()
                symbolic[name], latexes[name] = describe(name, shape, exprs, latex=latex,
                                                         indexed_by_variable=by_variable,
                                                         budget=None if simplify else 0)
            except (TypeError, ValueError, RecursionError):
                # SymPy refuses what SymEngine built (max(x, zoo)), or recurses without end turning
                # SymEngine's Piecewise of max(x - x*y, (x*y)**-1) into its own: not shown
                symbolic[name], latexes[name] = None, None
    return symbolic, (latexes if latex else {})


def prepare(cas_module, sympy=True):
    """Run every step of `plain` (and with `sympy`, of `describe`, importing SymPy) once on a tiny
    example built with the check's CAS (display.prepare calls this before any timer): a record's
    time limit then never interrupts an import half-way, which would leave SymPy broken for the
    records after it."""
    x = [cas_module.Symbol("x[0]"), cas_module.Symbol("x[1]")]
    examples = [[2.0 * x[0] * cas_module.cos(x[0]), 2.0 * x[1] * cas_module.cos(x[1])], [x[0] + 0.5, x[1] ** 2]]
    if _is_symengine(examples[0]):
        for exprs in examples:
            plain("x", (2,), exprs)
    if sympy:
        for exprs in examples:
            describe("x", (2,), exprs, latex=True, budget=0)


def _import_sympy():
    """SymPy imported and warmed up (once), every deadline held meanwhile (see prepare)."""
    global _sympy_ready
    if not _sympy_ready:
        from ..settings.deadline import held
        from ..verify import import_sympy
        import_sympy()
        with held():
            import sympy as sp
            x = real_symbol("x[0]")
            describe("x", (), [2.0 * x * sp.cos(x) + 0.5], latex=True, budget=0)
        _sympy_ready = True


_sympy_ready = False


# --- the plain route: the CAS's own printer, no SymPy ----------------------------------------------

def _is_symengine(exprs):
    return bool(exprs) and type(exprs[0]).__module__.startswith("symengine")


def plain(name, shape, expressions, *, indexed_by_variable=True):
    """The symbolic entry of `describe` (budget 0, no LaTeX) for SymEngine expressions, printed by
    SymEngine: whole floats as integers (4*x, not 4.0*x), the index form read off the printed
    formulas. SymEngine orders terms and writes some forms its own way (0.3 + y, 0 < x - 1,
    (1 + x)**(-1)) where SymPy writes y + 0.3, x - 1 > 0, 1/(x + 1): the same expressions."""
    flat = [str(_exact_cas(e)) for e in expressions]
    if len(flat) == 1 and shape == ():
        return None if len(flat[0]) > FORMULA_MAX_CHARS else flat[0]
    indexed = _index_text(flat, shape) if indexed_by_variable else None
    if indexed is not None:
        template, letters, _ = indexed
        return None if len(template) > FORMULA_MAX_CHARS else {
            "kind": "index", "variable": f"{name}[{','.join(letters)}]", "text": template}
    if sum(map(len, flat)) > FORMULA_MAX_CHARS:
        return None
    return np.array(flat, dtype=object).reshape(shape).tolist()


def _plain_enough(exprs, shape, by_variable, simplify):
    """Whether a variable's formulas are shown by the plain route: SymEngine's expressions that
    simplification would leave as derived (with `simplify`: each under SIMPLIFY_MIN_OPS operations,
    or one over SIMPLIFY_MAX_OPS, which shows them all as derived), as `describe` decides."""
    if not _is_symengine(exprs):
        return False
    if not simplify:
        return True
    candidates = exprs
    if by_variable and len(shape) and len(exprs) >= 2:
        indexed = _index_text([str(_exact_cas(e)) for e in exprs], shape)
        if indexed is not None:
            candidates = [exprs[indexed[2]]]        # the index form's template is simplified alone
    counts = [_count_ops(e) for e in candidates]
    return all(c < SIMPLIFY_MIN_OPS for c in counts) or max(counts) > SIMPLIFY_MAX_OPS


def _count_ops(expr):
    """Operations in a SymEngine expression, counted as SymPy's count_ops counts them (close
    enough to choose what to simplify): n - 1 per sum or product of n terms, one per power,
    function, condition, negative number or fraction."""
    count, stack = 0, [expr]
    while stack:
        e = stack.pop()
        args = e.args
        if not args:
            if e.is_Number:
                try:
                    value = float(e)
                    count += value < 0 or not value.is_integer()
                except (RuntimeError, TypeError, ValueError, OverflowError):
                    pass
            continue
        count += len(args) - 1 if e.is_Add or e.is_Mul else 1
        stack.extend(args)
    return count


def _exact_cas(expr):
    """SymEngine's floats that are whole numbers become integers, infinities oo (as _exact does)."""
    module = _se()
    floats = {}
    for f in expr.atoms(module.RealDouble):
        value = float(f)
        if math.isfinite(value):
            if value.is_integer() and abs(value) < 2**53:
                floats[f] = module.Integer(int(value))
        elif not math.isnan(value):
            floats[f] = module.oo if value > 0 else -module.oo
    return expr.xreplace(floats) if floats else expr


@functools.cache
def _se():
    import symengine
    return symengine


def _index_text(texts, shape):
    """(template text, index letters, the element it was read off) when every element's printed
    formula is the same up to its own index (see index_form), else None."""
    if len(shape) == 0 or len(texts) < 2 or len(texts) != int(np.prod(shape)):
        return None
    letters = _letters(shape)
    indices = list(np.ndindex(*shape))
    distinct = (k for k in reversed(range(len(indices))) if len(set(indices[k])) == len(shape))
    for k in itertools.islice(distinct, 2):      # the last two such elements (the highest index values)
        names = {str(value): letter for value, letter in zip(indices[k], letters)}
        template = _SUBSCRIPT.sub(_subscripts(names), texts[k])
        if all(_SUBSCRIPT.sub(_subscripts(_values(letters, index)), template) == t for t, index in zip(texts, indices)):
            return template, letters, k
    return None


def _letters(shape):
    return list(INDEX_LETTERS[:len(shape)]) if len(shape) <= len(INDEX_LETTERS) else [
        f"i{d}" for d in range(len(shape))]


def describe(name, shape, expressions, *, latex=False, budget=None, indexed_by_variable=True):
    """(symbolic entry, LaTeX entry or None) for the derivatives `expressions` (flat, C order) of
    one variable; `shape` is the shape they take: the variable's, or (a Jacobian's block, with
    indexed_by_variable=False: no index form) the output's and then the variable's."""
    exprs = [_exact(as_sympy(e)) for e in expressions]
    flat = [text(e) for e in exprs]
    indexed = index_form(exprs, shape, flat) if indexed_by_variable else None
    simplify = _Simplifier(limits.display_time_budget() if budget is None else budget)
    if indexed is not None:
        indexed = (simplify.one(indexed[0]), indexed[1])
    else:
        simpler = simplify.all(exprs)
        if simpler is not exprs:
            exprs, flat = simpler, [text(e) for e in simpler]
    if len(exprs) == 1 and shape == ():
        return (None, None) if len(flat[0]) > FORMULA_MAX_CHARS else (flat[0], to_latex(exprs[0]) if latex else None)
    if indexed is not None:
        template, letters = indexed
        variable = f"{name}[{','.join(letters)}]"
        entry = {"kind": "index", "variable": variable, "text": text(template)}
        if len(entry["text"]) > FORMULA_MAX_CHARS:
            return None, None
        return entry, ({"kind": "index", "variable": _latex_name(variable), "text": to_latex(template)}
                       if latex else None)
    if sum(map(len, flat)) > FORMULA_MAX_CHARS:
        return None, None
    texts = np.array(flat, dtype=object).reshape(shape).tolist()
    latexes = np.array([to_latex(e) for e in exprs], dtype=object).reshape(shape).tolist() if latex else None
    return texts, latexes


def text(expr):
    """SymPy's text for an expression, floats in their shortest form (0.1, not 0.100000000000000)."""
    return _printer().doprint(expr)


@functools.cache
def _printer():
    from sympy.printing.str import StrPrinter
    return StrPrinter({"full_prec": False})      # one printer: setting one up per call costs more than printing


def to_latex(expr):
    """LaTeX by SymPy's printer, element symbols as subscripts: W[0,1] -> W_{0,1}."""
    import sympy as sp
    names = {s: _latex_name(s.name) for s in expr.free_symbols if _ELEMENT.match(s.name)}
    return sp.latex(expr, symbol_names=names, full_prec=False)


def _latex_name(name):
    match = _ELEMENT.match(name)
    return f"{match.group(1)}_{{{match.group(2)}}}" if match else name


def index_form(exprs, shape, texts=None):
    """(template, index letters) when every element's formula is the same up to its own index, else None.

    The template is read off one element whose index values are all different (an index value
    in a symbol's subscript becomes the letter of its position: for element (2,3), W[2,0] ->
    W[i,0] and x[3] -> x[j]); it is kept only if it gives back every element's formula exactly.
    The comparison is on the printed formulas (`texts`, printed here if not given), where an
    element symbol is its name: far cheaper than rebuilding every SymPy expression.
    """
    if len(shape) == 0 or len(exprs) < 2 or len(exprs) != int(np.prod(shape)):
        return None
    if len({len(e.free_symbols) for e in exprs}) > 1:        # cheap: such formulas cannot match
        return None
    found = _index_text([text(e) for e in exprs] if texts is None else texts, shape)
    if found is None:
        return None
    _, letters, k = found
    names = {str(value): letter for value, letter in zip(list(np.ndindex(*shape))[k], letters)}
    return _rename(exprs[k], lambda part: names.get(part, part)), letters


_SUBSCRIPT = re.compile(r"(?<![\w\]])([A-Za-z_]\w*)\[([0-9a-z,]+)\]")     # W[2,0] in a printed formula


def _subscripts(replacement):
    return lambda m: f"{m.group(1)}[{','.join(replacement.get(p, p) for p in m.group(2).split(','))}]"


def _values(letters, index):
    return {letter: str(value) for letter, value in zip(letters, index)}


def _rename(expr, subscript):
    """expr with every element symbol v[a,b] renamed to v[subscript(a),subscript(b)]."""
    mapping = {}
    for symbol in expr.free_symbols:
        match = _ELEMENT.match(symbol.name)
        if match:
            parts = ",".join(subscript(part) for part in match.group(2).split(","))
            mapping[symbol] = real_symbol(f"{match.group(1)}[{parts}]") if symbol.is_real else plain_symbol(
                f"{match.group(1)}[{parts}]")
    return expr.xreplace(mapping)


class _Simplifier:
    """simplify() for display, bounded: small expressions only, one time budget for all of them."""

    def __init__(self, seconds):
        self.enabled = seconds > 0         # off: every formula as derived, whatever was cached
        self.deadline = time.monotonic() + seconds

    def all(self, exprs):
        """Every expression simplified, or (out of time or too large) every one as derived: the
        elements of one variable are shown in one style."""
        if not self.enabled:
            return exprs
        simpler = []
        for expr in exprs:
            result = self.one(expr, fallback=None)
            if result is None:
                return exprs
            simpler.append(result)
        return simpler

    def one(self, expr, fallback=""):
        import sympy as sp
        fallback = expr if fallback == "" else fallback
        if not self.enabled:
            return expr
        key = str(expr)
        if key in _simplified:
            _simplified.move_to_end(key)
            return _simplified[key]
        left = self.deadline - time.monotonic()
        ops = sp.count_ops(expr)
        if ops < SIMPLIFY_MIN_OPS:
            return expr
        if left <= 0.01 or ops > SIMPLIFY_MAX_OPS:
            return fallback
        try:
            with time_limit(left):
                simpler = sp.simplify(expr)
        except TimeLimitExceeded:
            return fallback
        except Exception:  # noqa: BLE001 - display only: the derivative as derived is still right
            return fallback
        if sp.count_ops(simpler) > sp.count_ops(expr):
            simpler = expr
        _simplified[key] = simpler
        while len(_simplified) > CACHE_SIZE:
            _simplified.popitem(last=False)
        return simpler


def _exact(expr):
    """Floats that are whole numbers become integers (a seed of 2 gives 4*x, not 4.0*x)."""
    import sympy as sp
    floats = {f: sp.Integer(int(f)) for f in expr.atoms(sp.Float)
              if math.isfinite(float(f)) and float(f).is_integer() and abs(float(f)) < 2**53}
    return expr.xreplace(floats) if floats else expr
