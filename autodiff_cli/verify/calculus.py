"""The cross-check of modes `derivatives` (every order) and `jvp` (forward mode).

derivatives: SymPy differentiates the program once more per order, along each sorted multi-index,
    and every value the record reports (each order of differentiation) is compared with it; where
    SymPy does not serve, order k is compared with central differences of the engine's order k-1
    along random directions (order 1 with differences of the value), and the reported orders of
    differentiation with each other.
jvp: J.t against the SymPy Jacobian times t; else against (f(x + h t) - f(x - h t)) / 2h.
At a kink of the forward pass a disagreement is not a mismatch (PyTorch's convention was used).
"""
import itertools
import math

import numpy as np

from ..settings import limits
from .report import CheckReport, VariableCheck
from ..engine import Tensor, higher, no_grad
from ..language import lower_to_engine, lower_to_sympy
from ..settings.deadline import TimeLimitExceeded, time_limit

RTOL, ATOL = 1e-7, 1e-9          # SymPy against the engine: both exact up to rounding
FD_TOL = 1e-5                    # finite differences: truncation and rounding
FD_DIRECTIONS = 3
SYMPY_MAX_DERIVATIVES = 120      # distinct symbolic derivatives of all orders
SYMPY_MAX_ELEMENTS = 64          # input elements that get symbols


def check_calculus(program, result, *, kinks=(), rng=None):
    """The CheckReport of a derivatives or jvp result."""
    rng = rng if rng is not None else np.random.default_rng(0)
    notes, report = [], None
    why_not = _too_big_for_sympy(result)
    if why_not:
        notes.append(f"SymPy not used: {why_not}")
    else:
        try:
            with time_limit(limits.check_time_budget()):
                report = _sympy_check(program, result)
        except TimeLimitExceeded:
            notes.append(f"SymPy took longer than {limits.check_time_budget():g} s (set AUTODIFF_CHECK_SECONDS "
                         "to give it longer); finite differences used instead")
        except (TypeError, ValueError, AttributeError, NotImplementedError, ZeroDivisionError, OverflowError,
                RecursionError) as err:
            notes.append(f"SymPy could not differentiate this ({type(err).__name__}); finite differences used instead")
    if report is None:
        report = _fd_jvp(program, result) if _is_jvp(result) else _fd_derivatives(program, result, rng)
    report.notes[:0] = notes
    kink_texts = [k if isinstance(k, str) else k[1] for k in kinks]
    report.notes.extend(kink_texts)
    if kink_texts and report.passed is False:      # PyTorch's convention there, no mismatch
        _not_judged_at_kinks(report)
    return report


def _not_judged_at_kinks(report):
    report.passed = None
    report.notes.append("at this non-differentiable point the engine follows PyTorch's convention, "
                        "which the check does not have to match: not judged")
    for name, verdict in report.per_variable.items():
        if verdict.passed is False:
            report.per_variable[name] = VariableCheck(verdict.error, None, "non-differentiable point")


def _is_jvp(result):
    """A jvp result (J.t) rather than a derivatives one (every order)."""
    return result.jvp is not None


def _too_big_for_sympy(result):
    elements = sum(int(np.size(v)) for v in result.inputs.values())
    if elements > SYMPY_MAX_ELEMENTS:
        return f"the inputs have {elements} elements (SymPy is used up to {SYMPY_MAX_ELEMENTS})"
    if not _is_jvp(result):
        count = sum(math.comb(len(result.wrt) + k - 1, k) for k in range(1, result.order + 1))
        if count > SYMPY_MAX_DERIVATIVES:
            return f"{count} distinct derivatives are too many to expand symbolically"
    return None


# --- the engine's values, and comparing -----------------------------------------------------------

def _derivative_of(result, index):
    """The engine's derivative for a multi-index of positions in result.wrt, from result.derivatives."""
    node = result.derivatives[len(index)]
    for i in index:
        node = node[result.wrt[i]]
    return node


def _reported(result, index):
    """Every value reported for this derivative: one per distinct order of differentiation."""
    return [_derivative_of(result, order) for order in sorted(set(itertools.permutations(index)))]


def _sorted_indices(count, order):
    return list(itertools.combinations_with_replacement(range(count), order))


def _agree(got, want, rtol, atol):
    """(max abs error, agreement): nan == nan and equal infinities agree."""
    got, want = np.asarray(got, dtype=np.float64), np.broadcast_to(np.asarray(want, dtype=np.float64), np.shape(got))
    same = (np.isnan(got) & np.isnan(want)) | (np.isinf(got) & (got == want))
    diff = np.where(same, 0.0, np.abs(got - want))
    diff = np.where(np.isnan(diff), np.inf, diff)
    scale = np.maximum(np.abs(np.where(np.isfinite(got), got, 0)), np.abs(np.where(np.isfinite(want), want, 0)))
    return (float(diff.max(initial=0.0)), bool((diff <= atol + rtol * scale).all()))


def _by_variable(method, result, errors, note=None):
    """A CheckReport from (multi-index, error, ok) triples; each variable gets the worst entry it is in."""
    report = CheckReport(method, True, 0.0, {name: None for name in result.wrt})
    for position, name in enumerate(result.wrt):
        mine = [(e, ok) for index, e, ok in errors if position in index]
        report.per_variable[name] = VariableCheck(max((e for e, _ in mine), default=0.0),
                                                  all(ok for _, ok in mine), note)
    report.judged = len(errors)
    report.max_abs_error = max((e for _, e, _ in errors), default=0.0)
    report.passed = all(ok for _, _, ok in errors)
    if note:
        report.notes.append(note)
    return report


# --- SymPy ----------------------------------------------------------------------------------------

def _sympy_check(program, result):
    import sympy as sp
    env, symbols = {}, {}
    for name, value in result.inputs.items():
        shape = np.shape(value)
        if name in result.wrt:
            flat = [sp.Symbol(name if shape == () else f"{name}[{','.join(map(str, i))}]", real=True)
                    for i in np.ndindex(*shape)]
            env[name] = symbols[name] = np.array(flat + [None], dtype=object)[:-1].reshape(shape)
        else:
            env[name] = np.vectorize(lambda v: sp.Float(float(v)), otypes=[object])(np.asarray(value)) \
                if shape else np.array(sp.Float(float(value)), dtype=object)
    output, _ = lower_to_sympy(program, env)
    point = {s: sp.Float(float(v)) for name in result.wrt
             for s, v in zip(symbols[name].ravel(), np.ravel(result.inputs[name]))}
    if _is_jvp(result):
        return _sympy_jvp(sp, output, symbols, point, result)
    return _sympy_derivatives(sp, output, symbols, point, result)


def _at(sp, expressions, point):
    """Float values of SymPy expressions at a point (substitution and evalf)."""
    values = []
    for expression in expressions:
        value = sp.sympify(expression).xreplace(point).evalf()
        try:
            values.append(float(value))
        except (TypeError, ValueError):   # zoo, nan, a complex result
            values.append(float("inf") if value in (sp.zoo, sp.oo) else float("-inf") if value == -sp.oo
                          else float("nan"))
    return values


def _sympy_derivatives(sp, output, symbols, point, result):
    variables = [symbols[name][()] for name in result.wrt]
    level, errors, symbolic = {(): output.ravel()[0]}, [], {}
    for k in range(1, result.order + 1):
        level = {index + (j,): sp.diff(expression, variables[j])
                 for index, expression in level.items() for j in range(index[-1] if index else 0, len(variables))}
        for (index, _), expected in zip(level.items(), _at(sp, list(level.values()), point)):
            errors.append((index,) + _agree(_reported(result, index), expected, RTOL, ATOL))
        if k == 1:
            symbolic = {name: str(level[(j,)]) for j, name in enumerate(result.wrt)}
    report = _by_variable("sympy", result, errors)
    report.symbolic = {name: text if len(text) <= 400 else None for name, text in symbolic.items()}
    return report


def _sympy_jvp(sp, output, symbols, point, result):
    """J.t from the SymPy Jacobian: the sum over every variable element s of d(output)/ds * t[s]."""
    directional = [sp.Add(*[sp.diff(element, s) * sp.Float(float(t)) for name in result.wrt
                            for s, t in zip(symbols[name].ravel(), np.ravel(result.tangents[name])) if t != 0])
                   for element in output.ravel()]
    error, ok = _agree(np.ravel(result.jvp), _at(sp, directional, point), RTOL, ATOL)
    report = _by_variable("sympy", result, [(tuple(range(len(result.wrt))), error, ok)])
    return report


# --- finite differences ---------------------------------------------------------------------------

def _forward(program, values):
    with no_grad():
        out, _ = lower_to_engine(program, {n: Tensor(v) for n, v in values.items()})
    return np.asarray(out.data, dtype=np.float64)


def _step(x0, direction):
    scale = max(1.0, float(np.max(np.abs(x0)))) if np.size(x0) else 1.0
    return 1e-6 * scale / (np.linalg.norm(direction) or 1.0)


def _not_finite(result):
    note = "values near this point are not finite; finite differences cannot judge"
    return CheckReport("finite-difference", None, None, {n: None for n in result.wrt},
                       {n: VariableCheck(None, None, note) for n in result.wrt}, [note])


def _fd_derivatives(program, result, rng):
    """Order k against central differences of the engine's order k-1 along random directions."""
    count = len(result.wrt)
    x0 = np.array([float(result.inputs[name]) for name in result.wrt])

    def table_at(x, order):
        """The engine's derivatives of `order` at x (order 0: the value), as {sorted index: float}."""
        values = dict(result.inputs)
        values.update({name: np.float64(v) for name, v in zip(result.wrt, x)})
        if order == 0:
            return {(): float(np.ravel(_forward(program, values))[0])}
        leaves = {n: Tensor(v, requires_grad=n in result.wrt) for n, v in values.items()}
        out, _ = lower_to_engine(program, leaves)
        if not out.requires_grad:
            return dict.fromkeys(_sorted_indices(count, order), 0.0)
        return higher.derivatives(out, [leaves[n] for n in result.wrt], order)[order]

    errors = []
    with np.errstate(all="ignore"):
        for k in range(1, result.order + 1):
            for _ in range(FD_DIRECTIONS):
                v = rng.standard_normal(count)
                h = _step(x0, v)
                plus, minus = table_at(x0 + h * v, k - 1), table_at(x0 - h * v, k - 1)
                for index in plus:
                    numeric = (plus[index] - minus[index]) / (2 * h)
                    analytic = sum(_derivative_of(result, tuple(sorted(index + (j,)))) * v[j] for j in range(count))
                    if not (np.isfinite(numeric) and np.isfinite(analytic)):
                        return _not_finite(result)
                    errors.append((index + tuple(range(count)),) + _agree(analytic, numeric, FD_TOL, FD_TOL))
            for index in _sorted_indices(count, k):     # the other orders of differentiation agree
                reported = _reported(result, index)
                errors.append((index,) + _agree(reported, reported[0], RTOL, ATOL))
    note = f"order k against central differences of order k-1, along {FD_DIRECTIONS} random directions per order"
    return _by_variable("finite-difference", result, errors, note)


def _fd_jvp(program, result):
    """J.t against the central difference (f(x + h t) - f(x - h t)) / 2h."""
    x0 = np.concatenate([np.ravel(result.inputs[n]) for n in result.wrt] or [np.zeros(0)])
    t = np.concatenate([np.ravel(result.tangents[n]) for n in result.wrt] or [np.zeros(0)])
    h = _step(x0, t)

    def at(sign):
        values = dict(result.inputs)
        for name in result.wrt:
            values[name] = result.inputs[name] + sign * h * result.tangents[name]
        return _forward(program, values)

    with np.errstate(all="ignore"):
        numeric = (at(1) - at(-1)) / (2 * h)
    if not (np.isfinite(numeric).all() and np.isfinite(result.jvp).all()):
        return _not_finite(result)
    error, ok = _agree(result.jvp, numeric, FD_TOL, FD_TOL)
    return _by_variable("finite-difference", result, [(tuple(range(len(result.wrt))), error, ok)],
                        "central differences along the tangent")
