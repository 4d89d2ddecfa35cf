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

Cost: the points of every variable are evaluated together, a batch per round (the +-h points, then the
+-2h points and x0 of the differences rounding does not explain); a compiled tape on floats runs a
batch in one pass (Tape.values_at), so a 400,000-op scalar program is not interpreted 2 x variables times.
"""
import math
from dataclasses import dataclass

import numpy as np

from ..settings.deadline import TimeLimitExceeded, time_limit
from ..engine import Tensor, no_grad
from ..engine import grad as engine_grad
from ..language import lower_to_engine
from ..language.compile import NotCompilable, compiled
from .report import CheckReport, Excused, VariableCheck

DIRECTIONS = 3
EPS = np.finfo(np.float64).eps
ROUNDING = 16
# Points worth one batched pass (Tape.values_at) rather than a run each: on a 400,000-op sum a batch
# costs about 6 single runs plus a tenth of a run per point (its per-instruction overhead).
BATCH_POINTS = 8


def _tape(program, values):
    """The program's compiled tape at inputs of these shapes (from the cache), or None."""
    try:
        return compiled(program, values)
    except NotCompilable:
        return None


def _forward_at(program, tape, points):
    """The forward value at each point ({name: value}); a tape that runs on floats takes many
    points in one pass."""
    if tape is not None and len(points) >= BATCH_POINTS:
        outputs = tape.values_at([[point[n] for n in program.inputs] for point in points])
        if outputs is not None:
            return [np.float64(v) for v in outputs]
    if tape is not None:
        return [tape.value([point[n] for n in program.inputs]) for point in points]
    results = []
    for point in points:
        with no_grad():
            out, _ = lower_to_engine(program, {n: Tensor(v) for n, v in point.items()})
        results.append(np.asarray(out.data, dtype=np.float64))
    return results


def _gradient_at(program, values, wrt):
    leaves = {n: Tensor(v, requires_grad=n in wrt) for n, v in values.items()}
    out, _ = lower_to_engine(program, leaves)
    if not out.requires_grad:
        return [np.zeros(np.shape(values[n])) for n in wrt]
    grads = engine_grad(out, [leaves[n] for n in wrt], allow_unused=True)
    return [np.zeros(np.shape(values[n])) if g is None else np.asarray(g.data) for n, g in zip(wrt, grads)]


def finite_difference_check(program, result, mode, seed, rng, reasons, *, nodes, budget=None):
    wrt = result.wrt
    sizes = [int(np.size(result.inputs[n])) for n in wrt]
    starts = np.concatenate([[0], np.cumsum(sizes)])
    x0 = np.concatenate([np.ravel(result.inputs[n]) for n in wrt]).astype(np.float64)

    def at(x):
        values = dict(result.inputs)
        for name, start, size in zip(wrt, starts, sizes):
            values[name] = x[start:start + size].reshape(np.shape(result.inputs[name]))
        return values

    tape = _tape(program, result.inputs)
    forward = lambda xs: _forward_at(program, tape, [at(x) for x in xs])
    weights = np.ones(np.shape(result.value)) if seed is None else np.asarray(seed)
    value_of = lambda xs: [np.array([np.sum(weights * y)]) for y in forward(xs)]
    gradient_of = lambda xs: [np.concatenate([np.ravel(g) for g in _gradient_at(program, at(x), wrt)]) for x in xs]
    problems = mode.finite_difference_problems(result, value_of, forward, gradient_of)
    if problems and all(isinstance(p, Stencil) for p in problems):
        return stencil_check(problems, x0, lambda xs: [np.ravel(y) for y in forward(xs)], reasons, wrt,
                             budget=budget)

    report = CheckReport("finite-difference", None, 0.0, {n: None for n in wrt})
    rounding = nodes + np.log2(1.0 + sum(int(np.size(v)) for v in result.inputs.values()))
    variables = [(name, slice(start, start + size), size) for name, start, size in zip(wrt, starts, sizes)]
    # All variables in one round of batches where a batch of points costs about one forward pass
    # (a tape on floats); else one variable at a time, so a time limit still leaves some judged.
    pending = [variables] if tape is not None and tape.scalar else [[v] for v in variables]
    try:
        with time_limit(budget):
            while pending:
                _judge_variables(report, pending[0], problems, x0, rounding, rng, reasons)
                pending.pop(0)
    except TimeLimitExceeded:
        for name, _, _ in (v for group in pending for v in group):
            why = f"finite differences over their time budget ({budget:.3g} s, half what is left of the time limit)"
            report.excused.append(Excused(name, why))
            report.per_variable[name] = VariableCheck(None, None, why)
    report.conclude()
    report.notes.append(f"central differences along up to {DIRECTIONS} random directions per variable")
    return report


class _Difference:
    """One comparison: the engine's J v (`analytic`) against central differences of problem
    `problem` along direction v with step h; `seen` fills with f(x0 + h v), f(x0 - h v) (then
    f(x0 + 2h v), f(x0 - 2h v) if rounding alone does not explain the difference)."""

    def __init__(self, problem, analytic, v, h):
        self.problem, self.analytic, self.v, self.h = problem, analytic, v, h
        self.seen = []
        self.error = self.tolerance = None

    def points(self, x0):
        scale = len(self.seen) // 2 + 1           # h first, then 2h
        return [x0 + scale * self.h * self.v, x0 - scale * self.h * self.v]


def _judge_variables(report, variables, problems, x0, rounding, rng, reasons):
    """Judge these variables: every difference they need is evaluated in one batch per problem and round."""
    plans = []          # per variable: its comparisons, in order, and a reason met before them (or None)
    for name, columns, size in variables:
        kinks = reasons.kinks_reaching({name})
        steps, why = [], "; ".join(kinks) if kinks else None
        h = np.cbrt(EPS * rounding) * max(1.0, float(np.max(np.abs(x0[columns]))))
        for k, (_, matrix) in enumerate(problems):
            if why is not None:
                break
            block = matrix[:, columns]
            if not np.isfinite(block).all():
                why = "the engine's derivative is not finite here"
                break
            for _ in range(min(DIRECTIONS, size)):
                v = np.zeros(x0.size)
                v[columns] = rng.standard_normal(size)
                v /= np.linalg.norm(v) or 1.0
                steps.append(_Difference(k, block @ v[columns], v, h))
        plans.append((name, size, steps, why))
    differences = [d for _, _, steps, _ in plans for d in steps]
    with np.errstate(all="ignore"):
        _evaluate(problems, x0, differences)
        for d in differences:
            d.error = np.abs((d.seen[0] - d.seen[1]) / (2 * d.h) - d.analytic)
            d.tolerance = ROUNDING * EPS * rounding * np.max(np.abs(d.seen), axis=0) / d.h
        unexplained = [d for d in differences if not (d.error <= d.tolerance).all()]
        centre = _evaluate(problems, x0, unexplained, centre=True)   # truncation may explain it: from 2h
        for d in unexplained:
            numeric = (d.seen[0] - d.seen[1]) / (2 * d.h)
            d.tolerance = (ROUNDING * EPS * rounding * np.max(np.abs(d.seen), axis=0) / d.h
                           + np.abs(numeric - (d.seen[2] - d.seen[3]) / (4 * d.h)))
    for name, size, steps, why in plans:
        worst, ok = 0.0, True
        for d in steps:
            if why is not None:
                break
            error, within, why = _verdict(d, centre)
            if why is None:
                worst, ok = max(worst, error), ok and within
        if why is not None:
            report.excused.append(Excused(name, why))
            report.per_variable[name] = VariableCheck(None, None, why)
            continue
        report.judged += size
        report.max_abs_error = max(report.max_abs_error, worst)
        report.per_variable[name] = VariableCheck(worst, ok, f"central differences along random directions over {name}")


def _evaluate(problems, x0, differences, centre=False):
    """Add the next pair of points' values to each difference's `seen`, in one batch per problem;
    with `centre`, f(x0) of each such problem too (what the jump test needs), returned by problem."""
    at_x0 = {}
    for k, (fn, _) in enumerate(problems):
        mine = [d for d in differences if d.problem == k]
        if not mine:
            continue
        values = fn([x for d in mine for x in d.points(x0)] + ([x0] if centre else []))
        for i, d in enumerate(mine):
            d.seen += values[2 * i:2 * i + 2]
        if centre:
            at_x0[k] = values[-1]
    return at_x0


def _verdict(d, centre):
    """(largest error, within tolerance, why not judged) of one difference."""
    if not all(np.isfinite(s).all() for s in d.seen):
        return None, None, "values near this point are not finite, so differences cannot judge"
    within = bool((d.error <= d.tolerance).all())
    if not within:                                  # a kink within h of the point (not at it) explains
        at = centre[d.problem]                      # the difference if the one-sided slopes differ more
        with np.errstate(all="ignore"):
            jump = np.abs((d.seen[0] - at) - (at - d.seen[1])) / d.h
        if (jump >= d.error).all():
            return None, None, "the function is not smooth within the difference step of this point"
    return float(d.error.max(initial=0.0)), within, None


# --- one entry at a time: mixed partials and directional derivatives of the forward pass ---------------

@dataclass
class Stencil:
    """One derivative to approximate from forward passes only: d^(a1+...+am) f / d v1^a1 ... d vm^am,
    the v being directions over the differentiated variables' elements (flat, in `wrt` order), for
    every element of the output (`labels`); `engine` holds, per output element, every number the
    engine reports for it (derivatives: each order of differentiation of a mixed partial)."""
    labels: list                # output element -> the entry's label
    variables: set              # the variables it differentiates by (their kinks excuse it)
    engine: np.ndarray          # (output elements, reports)
    directions: list            # [(direction, count)]


RELIABLE = 0.05        # a difference whose error bound is more than this fraction of the derivative cannot judge
STENCILS_PER_ROUND = 16


def _stencil_points(stencil, x0, h):
    """[(point, coefficient)] of the tensor-product central difference with steps h (one per direction)."""
    points = [(x0, 1.0)]
    for (v, count), step in zip(stencil.directions, h):
        nxt = []
        for j in range(count + 1):
            coefficient = (-1) ** j * math.comb(count, j) / step ** count
            offset = (count / 2 - j) * step * v
            nxt.extend((p + offset, c * coefficient) for p, c in points)
        points = nxt
    return points


def stencil_check(stencils, x0, f, reasons, wrt, *, budget=None):
    """Judge every Stencil by central differences of `f` (points -> flat outputs) at three step sizes
    with Richardson extrapolation; each entry is judged only where the differences' error bound is
    small beside the derivative (else it is left unjudged, with a note)."""
    report = CheckReport("finite-difference", None, 0.0, {n: None for n in wrt})
    verdicts = {n: [] for n in wrt}          # name -> [(error, passed)]
    unreliable = []
    pending = list(stencils)
    try:
        with time_limit(budget):
            while pending:
                batch = pending[:STENCILS_PER_ROUND]
                _judge_stencils(batch, x0, f, reasons, report, verdicts, unreliable)
                del pending[:len(batch)]
    except TimeLimitExceeded:
        why = f"finite differences over their time budget ({budget:.3g} s, half what is left of the time limit)"
        report.excused.extend(Excused(label, why) for s in pending for label in s.labels)
    for name in wrt:
        mine = verdicts[name]
        if mine:
            report.per_variable[name] = VariableCheck(max(e for e, _ in mine), all(ok for _, ok in mine),
                                                      "differences of the forward pass, entry by entry")
        else:
            report.per_variable[name] = VariableCheck(None, None, "no entry of this variable could be judged")
    if unreliable:
        report.notes.append(f"{len(unreliable)} entr{'y' if len(unreliable) == 1 else 'ies'} of order up to "
                            f"{max(unreliable)} could not be judged reliably by differences (rounding or "
                            "truncation too large beside the derivative): not judged")
    report.notes.append("central differences of the forward pass at three steps with Richardson extrapolation, "
                        "entry by entry")
    report.conclude()
    return report


def _judge_stencils(batch, x0, f, reasons, report, verdicts, unreliable):
    plans, points = [], {}
    for stencil in batch:
        kinks = reasons.kinks_reaching(stencil.variables)
        if kinks:
            report.excused.extend(Excused(label, "; ".join(kinks)) for label in stencil.labels)
            continue
        order = sum(count for _, count in stencil.directions)
        base = EPS ** (1.0 / (order + 4))
        h = []
        for v, _ in stencil.directions:
            support = np.abs(v) > 0
            size = float(np.max(np.abs(v))) if support.any() else 1.0
            h.append(base * max(1.0, float(np.max(np.abs(x0[support]), initial=0.0))) / size)
        h = np.array(h)
        sets = [_stencil_points(stencil, x0, h * scale) for scale in (1, 2, 4)]
        for p, _ in (pc for s in sets for pc in s):
            points.setdefault(p.tobytes(), p)
        plans.append((stencil, order, h, sets))
    keys = list(points)
    values = dict(zip(keys, f([points[k] for k in keys]))) if keys else {}
    with np.errstate(all="ignore"):
        for stencil, order, h, sets in plans:
            seen = [[values[p.tobytes()] for p, _ in s] for s in sets]
            if not all(np.isfinite(v).all() for s in seen for v in s):
                why = "values near this point are not finite, so differences cannot judge"
                report.excused.extend(Excused(label, why) for label in stencil.labels)
                continue
            d = [sum(c * v for (_, c), v in zip(s, vals)) for s, vals in zip(sets, seen)]
            r1, r2 = (4 * d[0] - d[1]) / 3, (4 * d[1] - d[2]) / 3
            size = max(float(np.max(np.abs(v))) for s in seen for v in s)
            rounding = 16 * EPS * 2 ** order * max(size, 1e-300) / np.prod(h ** [c for _, c in stencil.directions])
            tolerance = 4 * np.abs(r1 - r2) + rounding
            absolute = 1e-6 * max(size, 1.0)      # small beside the function itself (a derivative that is 0)
            engine = np.asarray(stencil.engine, dtype=np.float64).reshape(len(stencil.labels), -1)
            for k, label in enumerate(stencil.labels):
                reported = engine[k]
                error = float(np.max(np.abs(reported - r1[k]))) if np.isfinite(reported).all() else np.inf
                bound = float(tolerance[k])
                largest = max(abs(float(r1[k])), float(np.min(np.abs(reported))) if np.isfinite(reported).all() else 0.0)
                reliable = bound <= RELIABLE * largest or bound <= absolute
                if error <= bound and reliable:
                    passed = True
                elif error > bound and (reliable or bound <= RELIABLE * error):
                    passed = False
                    report.notes.append(f"{label}: the engine's {reported[np.argmax(np.abs(reported - r1[k]))]:.10g} "
                                        f"differs from differences of the forward pass ({float(r1[k]):.10g} +- {bound:.2g})")
                else:
                    unreliable.append(order)
                    report.excused.append(Excused(label, f"order {order} cannot be judged reliably by differences here"))
                    continue
                report.judged += 1
                report.max_abs_error = max(report.max_abs_error, error)
                for name in stencil.variables:
                    if name in verdicts:
                        verdicts[name].append((error, passed))
