"""The check along the curve: the engine's derivatives against SymPy's, lambdified once and
evaluated over the whole grid, or against central finite differences of the forward pass."""
import numpy as np

from ..settings import limits
from ..settings.limits import SYMPY_MAX_ELEMENTS, SYMPY_MAX_NODES
from ..errors import AutodiffError
from ..language import lower_to_sympy
from .samples import CurveCheck, Mark
from .singular import MAX_MARKS

RTOL, ATOL = 1e-7, 1e-9       # SymPy vs engine: both exact up to rounding
FD_TOL = 1e-5                 # first differences: truncation and rounding error
FD2_TOL = 1e-3                # second differences: h**2 truncation and eps/h**2 rounding


def check_curve(program, sampler, samples):
    """Compare the engine's derivatives with SymPy's (lambdified once, evaluated over the grid), or
    with central finite differences of the forward pass when SymPy cannot serve."""
    notes = []
    found = _sympy_within_budget(program, sampler, samples, notes)
    if found is not None:
        return _judge(samples, found[0], "sympy", found[1], notes)
    return _judge(samples, _finite_difference_references(sampler, samples), "finite-difference", {}, notes)


def _sympy_within_budget(program, sampler, samples, notes):
    """(references, formulas) from SymPy, or None with the reason appended to `notes`."""
    from ..settings.deadline import TimeLimitExceeded, time_limit
    budget = limits.check_time_budget()
    try:
        _require_small_for_sympy(program, sampler)
        prepare_sympy()                  # outside the budget: an import is not the check's time
        with time_limit(budget):
            return _sympy_references(program, sampler, samples)
    except _Unsuitable as why:
        reason = f"SymPy not used: {why}"
    except TimeLimitExceeded:
        reason = f"SymPy needed more than {budget:g} s (AUTODIFF_CHECK_SECONDS)"
    # NameError: a function lambdify cannot print for numpy; the others: SymPy giving up
    except (NameError, TypeError, ValueError, NotImplementedError, ZeroDivisionError, OverflowError,
            RecursionError, AutodiffError) as err:
        reason = f"SymPy could not serve this ({type(err).__name__})"
    notes.append(f"{reason}; finite differences used instead")
    return None


_prepared = False


def prepare_sympy():
    """Import SymPy and warm up what the check along the curve uses (diff, lambdify to numpy) once,
    with every deadline held: check.prepare() (as the CLI and the batch do) and a first lambdify.
    On a loaded machine the import alone took the 2 s budget (then finite differences were used),
    and an alarm could interrupt it half-way (a half-imported module stays broken)."""
    global _prepared
    if _prepared:
        return
    from ..verify import prepare
    from ..settings.deadline import held
    prepare()
    with held():
        import sympy as sp
        x = sp.Symbol("x", real=True)
        modules = [{"DiracDelta": lambda v, *order: np.zeros(np.shape(v))}, "numpy"]
        sp.lambdify([x], sp.diff(sp.sin(x) * sp.Abs(x), x), modules=modules)(np.array([0.5]))
    _prepared = True


class _Unsuitable(Exception):
    """SymPy is not used for this problem; the message says why."""


def _require_small_for_sympy(program, sampler):
    elements = sum(int(np.size(v)) for v in sampler.fixed.values())
    if elements > SYMPY_MAX_ELEMENTS:
        raise _Unsuitable(f"the fixed bindings have {elements} elements (SymPy is used up to {SYMPY_MAX_ELEMENTS})")
    nodes = sum(len(statement.postorder()) for statement in program.statements)
    if nodes > SYMPY_MAX_NODES:
        raise _Unsuitable(f"the expression has {nodes} nodes (SymPy is used up to {SYMPY_MAX_NODES})")


def _sympy_references(program, sampler, samples):
    """{quantity: grid array} from SymPy's derivatives, and their formulas as text."""
    import sympy as sp
    from ..language.functions import as_object_array

    symbols = [sp.Symbol(name, real=True) for name in sampler.names]
    env = {name: as_object_array(s) for name, s in zip(sampler.names, symbols)}
    exact = lambda v: sp.Integer(int(v)) if float(v).is_integer() and abs(v) < 2**53 else sp.Float(float(v))
    for name, value in sampler.fixed.items():
        env[name] = as_object_array(np.frompyfunc(exact, 1, 1)(np.asarray(value, dtype=np.float64)))
    output, _ = lower_to_sympy(program, env)
    if np.size(output) != 1:
        raise _Unsuitable(f"the SymPy output has shape {np.shape(output)}")
    f = np.ravel(output)[0]
    wanted = {name: sp.diff(f, s) for name, s in zip(sampler.names, symbols)}
    if samples.second_derivative is not None:
        wanted[f"{sampler.names[0]},{sampler.names[0]}"] = sp.diff(wanted[sampler.names[0]], symbols[0])
    # the derivative of a kink is a DiracDelta at the kink: 0 everywhere numpy can evaluate it (the
    # kink itself is marked and not judged)
    modules = [{"DiracDelta": lambda x, *order: np.zeros(np.shape(x))}, "numpy"]
    references, formulas = {}, {}
    for key, derivative in wanted.items():
        text = str(derivative)
        formulas[key] = text if len(text) <= 400 else None
        function = sp.lambdify(symbols, derivative, modules=modules)
        with np.errstate(all="ignore"):
            reference = np.asarray(function(*sampler.grids), dtype=np.complex128)
        # a real symbol's formula can still go complex in numpy (sqrt of a negative): not a real number
        reference = np.where(np.abs(reference.imag) > 0, np.nan, reference.real)
        references[key] = np.broadcast_to(reference, sampler.shape).astype(np.float64)
    return references, formulas


def _finite_difference_references(sampler, samples):
    """Central differences of the engine's forward pass over the whole grid (one pass per shift)."""
    references = {}
    for k, name in enumerate(sampler.names):
        h = 1e-6 * np.maximum(1.0, np.abs(sampler.grids[k]))
        plus = [g + h if i == k else g for i, g in enumerate(sampler.grids)]
        minus = [g - h if i == k else g for i, g in enumerate(sampler.grids)]
        above, below = sampler.forward(plus), sampler.forward(minus)
        # A stencil that straddles a kink outside the grid (max(x, 2*x) at x=1e-6) has one-sided
        # slopes that disagree: no difference there is comparable, so it is not judged (nan).
        right, left = (above - samples.value) / h, (samples.value - below) / h
        straddles = np.abs(right - left) > 1e-3 * np.maximum(1.0, np.maximum(np.abs(right), np.abs(left)))
        references[name] = np.where(straddles, np.nan, (above - below) / (2 * h))
    if samples.second_derivative is not None:
        x = sampler.grids[0]
        h = 1e-4 * np.maximum(1.0, np.abs(x))
        name = sampler.names[0]
        second = lambda h: (sampler.forward([x + h]) - 2 * samples.value + sampler.forward([x - h])) / h**2
        coarse, fine = second(h), second(h / 2)
        # Across a kink the second difference grows like 1/h; on a smooth curve it does not move.
        straddles = np.abs(coarse - fine) > 1e-2 * np.maximum(1.0, np.abs(coarse))
        references[f"{name},{name}"] = np.where(straddles, np.nan, coarse)
    return references


def _judge(samples, references, method, formulas, notes):
    """Per point: agree, disagree, or cannot judge (value not finite, or next to a singular point)."""
    engine_values = dict(samples.derivatives)
    if samples.second_derivative is not None:
        name = samples.variables[0]
        engine_values[f"{name},{name}"] = samples.second_derivative
    failed = np.zeros(samples.value.shape, dtype=bool)
    worst = 0.0
    excused = ~np.isfinite(samples.value) | _near_marks(samples)
    for key, reference in references.items():
        a, b = engine_values[key], reference
        both_nan = np.isnan(a) & np.isnan(b)
        same_inf = np.isinf(a) & (a == b)
        diff = np.where(both_nan | same_inf, 0.0, np.abs(a - b))
        diff = np.where(np.isnan(diff), np.inf, diff)
        scale = np.maximum(np.abs(np.where(np.isfinite(a), a, 0)), np.abs(np.where(np.isfinite(b), b, 0)))
        if method == "sympy":
            ok = diff <= ATOL + RTOL * scale
        else:
            ok = diff <= (FD2_TOL if "," in key else FD_TOL) * np.maximum(1.0, scale)
        if method != "sympy":
            excused |= ~np.isfinite(b)   # a difference across nan/inf says nothing
        judged = ~excused
        failed |= ~ok & judged
        if judged.any():
            worst = max(worst, float(np.max(np.where(judged, diff, 0.0))))
    passed = None if excused.all() else not bool(failed.any())
    skipped = int(excused.sum())
    if skipped:
        notes.append(f"{skipped} of {excused.size} points not judged (value not finite, or next to a kink or pole)")
    return CurveCheck(method, passed, worst, failed, formulas, notes)


def _near_marks(samples):
    """Grid points next to a kink or pole: a symbolic or numerical derivative there is not comparable."""
    near = np.zeros(samples.value.shape, dtype=bool)
    for mark in samples.marks:
        index = []
        for axis, coordinate in zip(samples.axes, mark.at):
            i = int(np.clip(np.searchsorted(axis, coordinate), 0, axis.size - 1))
            index.append(slice(max(i - 1, 0), i + 1))
        near[tuple(reversed(index)) if len(index) == 2 else tuple(index)] = True
    return near


def failure_marks(samples):
    if samples.check is None or samples.check.failed is None or not samples.check.failed.any():
        return []
    grids = np.meshgrid(*samples.axes) if len(samples.axes) == 2 else samples.axes
    return [Mark("check failed", tuple(float(g[index]) for g in grids),
                 f"the engine's derivative and the {samples.check.method} check disagree here")
            for index in list(zip(*np.nonzero(samples.check.failed)))[:MAX_MARKS]]
