"""Central finite differences of the forward pass, one variable at a time.

For each differentiated variable, along a few random directions v over its elements: the engine's
J v against D(h) = (f(x+hv) - f(x-hv)) / 2h. The tolerance is what rounding and truncation explain:
  rounding   ROUNDING * eps * |f| * (nodes + log2(elements)) / h   (|f| the largest value seen:
             f = 1e6 + sum(x) has rounding errors of ~1e-10 whatever its derivative; each node of
             the expression and the pairwise sums over many elements add theirs)
  truncation |D(h) - D(2h)|, three times D(h)'s own truncation error (only computed when the
             rounding tolerance alone does not explain the difference: it costs two more passes)
The step h is cbrt(eps * that rounding factor) times the variable's magnitude, which balances the two.
A variable reached by a kink of the forward pass, or with non-finite values near the point, is
excused as a whole (its entries' derivatives are not what differences measure); others are judged.
In Hessian mode the engine's gradient is checked against the forward pass first, then its Hessian
against differences of its gradient. Under a time budget, variables not reached in time are not judged.
"""
import numpy as np

from ..deadline import TimeLimitExceeded, time_limit
from ..engine import Tensor, no_grad
from ..engine import grad as engine_grad
from ..language import lower_to_engine
from .report import CheckReport, Excused, VariableCheck

DIRECTIONS = 3
EPS = np.finfo(np.float64).eps
ROUNDING = 16


def _forward(program, values):
    with no_grad():
        out, _ = lower_to_engine(program, {n: Tensor(v) for n, v in values.items()})
    return np.asarray(out.data, dtype=np.float64)


def _gradient_at(program, values, wrt):
    leaves = {n: Tensor(v, requires_grad=n in wrt) for n, v in values.items()}
    out, _ = lower_to_engine(program, leaves)
    if not out.requires_grad:
        return [np.zeros(np.shape(values[n])) for n in wrt]
    grads = engine_grad(out, [leaves[n] for n in wrt], allow_unused=True)
    return [np.zeros(np.shape(values[n])) if g is None else np.asarray(g.data) for n, g in zip(wrt, grads)]


def finite_difference_check(program, result, seed, rng, reasons, *, nodes, budget=None):
    wrt = result.wrt
    sizes = [int(np.size(result.inputs[n])) for n in wrt]
    starts = np.concatenate([[0], np.cumsum(sizes)])
    x0 = np.concatenate([np.ravel(result.inputs[n]) for n in wrt]).astype(np.float64)

    def at(x):
        values = dict(result.inputs)
        for name, start, size in zip(wrt, starts, sizes):
            values[name] = x[start:start + size].reshape(np.shape(result.inputs[name]))
        return values

    weights = np.ones(np.shape(result.value)) if seed is None else np.asarray(seed)
    value_of = lambda x: np.array([np.sum(weights * _forward(program, at(x)))])
    gradient_row = np.concatenate([np.ravel(result.gradients[n]) for n in wrt])[None, :] if result.gradients else None
    if result.mode == "grad":
        problems = [(value_of, gradient_row)]
    elif result.mode == "hessian":
        gradient_of = lambda x: np.concatenate([np.ravel(g) for g in _gradient_at(program, at(x), wrt)])
        hessian = np.concatenate([np.concatenate([np.reshape(result.hessian[r][c], (np.size(result.inputs[r]), -1))
                                                  for c in wrt], axis=1) for r in wrt], axis=0)
        problems = [(value_of, gradient_row), (gradient_of, hessian)]
    else:
        jacobian = np.concatenate([np.reshape(result.jacobian[n], (np.size(result.value), -1)) for n in wrt], axis=1)
        problems = [(lambda x: np.ravel(_forward(program, at(x))), jacobian)]

    report = CheckReport("finite-difference", None, 0.0, {n: None for n in wrt})
    rounding = nodes + np.log2(1.0 + sum(int(np.size(v)) for v in result.inputs.values()))
    pending = list(zip(wrt, starts, sizes))
    try:
        with time_limit(budget):
            while pending:
                name, start, size = pending[0]
                _judge_variable(report, name, slice(start, start + size), size, problems, x0, rounding, rng,
                                reasons.kinks_reaching({name}))
                pending.pop(0)
    except TimeLimitExceeded:
        for name, _, _ in pending:
            why = f"finite differences over their time budget ({budget:.3g} s, half what is left of the time limit)"
            report.excused.append(Excused(name, why))
            report.per_variable[name] = VariableCheck(None, None, why)
    report.conclude()
    report.notes.append(f"central differences along up to {DIRECTIONS} random directions per variable")
    return report


def _judge_variable(report, name, columns, size, problems, x0, rounding, rng, kinks):
    why = "; ".join(kinks) if kinks else None
    worst, ok = 0.0, True
    for fn, matrix in problems:
        if why is not None:
            break
        block = matrix[:, columns]
        if not np.isfinite(block).all():
            why = "the engine's derivative is not finite here"
            break
        h = np.cbrt(EPS * rounding) * max(1.0, float(np.max(np.abs(x0[columns]))))
        for _ in range(min(DIRECTIONS, size)):
            v = np.zeros(x0.size)
            v[columns] = rng.standard_normal(size)
            v /= np.linalg.norm(v) or 1.0
            error, within, why = _compare_along(fn, block @ v[columns], x0, v, h, rounding)
            if why is not None:
                break
            worst, ok = max(worst, error), ok and within
        if why is not None:
            break
    if why is not None:
        report.excused.append(Excused(name, why))
        report.per_variable[name] = VariableCheck(None, None, why)
        return
    report.judged += size
    report.max_abs_error = max(report.max_abs_error, worst)
    report.per_variable[name] = VariableCheck(worst, ok, f"central differences along random directions over {name}")


def _compare_along(fn, analytic, x0, v, h, rounding):
    """(largest error, within tolerance, why not judged) of the engine's J v against differences."""
    with np.errstate(all="ignore"):
        seen = [fn(x0 + h * v), fn(x0 - h * v)]
        numeric = (seen[0] - seen[1]) / (2 * h)
        error = np.abs(numeric - analytic)
        tolerance = ROUNDING * EPS * rounding * np.max(np.abs(seen), axis=0) / h
        if not (error <= tolerance).all():          # truncation may explain it: estimate it from 2h
            seen += [fn(x0 + 2 * h * v), fn(x0 - 2 * h * v)]
            tolerance = (ROUNDING * EPS * rounding * np.max(np.abs(seen), axis=0) / h
                         + np.abs(numeric - (seen[2] - seen[3]) / (4 * h)))
    if not all(np.isfinite(s).all() for s in seen):
        return None, None, "values near this point are not finite, so differences cannot judge"
    within = bool((error <= tolerance).all())
    if not within:                                  # a kink within h of the point (not at it) explains
        at = fn(x0)                                 # the difference if the one-sided slopes differ more
        with np.errstate(all="ignore"):
            jump = np.abs((seen[0] - at) - (at - seen[1])) / h
        if (jump >= error).all():
            return None, None, "the function is not smooth within the difference step of this point"
    return float(error.max(initial=0.0)), within, None
