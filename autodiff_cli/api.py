"""`evaluate()`: from expression text and bindings to the contract's result record, in one straight line.

    parse -> bind -> the mode computes -> diagnose -> verify -> describe -> Result

Each step takes what the one before gave and none reaches back: the mode (calculus/) computes from
the bound program, diagnosis reads what the forward pass recorded, the verifier judges the finished
numbers, the display writes the formulas after the verdict, and the Result is assembled once at the
end. A user's mistake never raises here: it comes back as a Result with status "error".
"""
import time
from contextlib import contextmanager

import numpy as np

from .calculus import MODES, Bound, diagnose, options_for
from .engine import quiet_numpy
from .errors import AutodiffError
from .inputs import bind, differentiated
from .language.compile import parsed
from .language.nodes import paused_gc
from .result import Result, Step  # noqa: F401  (re-exported: `from autodiff_cli.api import Result`)


def evaluate(expr, bindings=None, *, wrt=None, gradient=None, mode="grad", check=True, random_seed=None,
             trace=False, latex=False, simplify=False, order=None, tangents=None):
    """Evaluate `expr` at `bindings` and differentiate it; see docs/ARCHITECTURE.md for the Result."""
    started = time.perf_counter()
    expression = expr if isinstance(expr, str) else str(expr)
    warnings = []
    failed = Result(expression=expression, mode=mode, random_seed=random_seed, warnings=warnings)
    result = failed
    # The graph holds no reference cycles and is freed by reference counting when the modes
    # return, so the cyclic collector has nothing to find here: pausing it saves it rescanning
    # hundreds of thousands of live nodes (a third of a big run).
    with errors_into(failed, expr), quiet_numpy(), paused_gc():
        result = _evaluate(expr, bindings or {}, warnings, wrt=wrt, mode=mode, options={
            "gradient": gradient, "order": order, "tangents": tangents}, check=check, random_seed=random_seed,
            trace=trace, latex=latex, simplify=simplify)
    result.elapsed = time.perf_counter() - started    # a Result made by this call: set, not copied
    return result


def _evaluate(expr, bindings, warnings, *, wrt, mode, options, check, random_seed, trace, latex, simplify):
    if mode not in MODES:
        raise AutodiffError("usage", f"unknown mode {mode!r}: expected one of {', '.join(MODES)}")
    mode = MODES[mode]
    options = options_for(mode, options)
    if not isinstance(expr, str):
        raise AutodiffError("usage", "the expression must be a string")
    if random_seed is not None and (isinstance(random_seed, bool) or not isinstance(random_seed, (int, np.integer))
                                    or random_seed < 0):
        raise AutodiffError("usage", f"the random seed must be a whole number >= 0, not {random_seed!r}")

    program = parsed(expr)
    rng = np.random.default_rng(random_seed)
    values, binding_warnings = bind(program, bindings, rng)
    warnings.extend(binding_warnings)
    bound = Bound(program, values, differentiated(program, wrt), rng, trace=trace, check=check)

    computed = mode.compute(bound, **options)

    warnings.extend(diagnose.non_finite_warnings(program, values, computed))
    result = Result(expression=expr, mode=mode.name, value=computed.value, inputs=values, wrt=bound.wrt,
                    gradients=computed.gradients, payload=computed.payload, warnings=warnings,
                    steps=computed.steps, output=computed.output, leaves=computed.leaves, random_seed=random_seed)
    if not check:
        return result

    from . import display, verify          # the CAS is imported only on this path
    kinks = diagnose.kinks(program.source, computed.visited, computed.data) if computed.visited is not None else []
    report = verify.cross_check(program, result, mode, seed=computed.seed, kinks=kinks, rng=rng)
    display.describe(report, program, result, computed.seed, latex=latex, simplify=simplify)
    result.check, result.status = report, "mismatch" if report.passed is False else "ok"
    return result


@contextmanager
def errors_into(result, expr):
    """A user's mistake (an AutodiffError) or running out of memory inside the block becomes
    result.status "error" with result.error, instead of an exception."""
    try:
        yield
    except MemoryError:
        result.status = "error"
        result.error = AutodiffError("limit", "out of memory: the arrays of this computation do not fit "
                                              "(lower AUTODIFF_MAX_ELEMENTS to be stopped earlier)")
    except AutodiffError as err:
        if err.source is None and isinstance(expr, str) and err.position is not None:
            err.source = expr
        result.status, result.error = "error", err
