"""The cross-check: is the engine's derivative right? Asked of someone who does not use the engine's VJPs.

1. Symbolically, where the problem is small (reference.py): the same parse tree lowered to a CAS
   (SymEngine, else SymPy), differentiated once per expression shape, compiled, and evaluated in
   float64 at each point; every derivative entry is compared on its own (judge.py).
2. Otherwise (too large, unsupported, over the time budget): central finite differences of the
   forward pass along random directions, one variable at a time, or, for a mode that gives
   `Stencil`s (derivatives of every order, jvp), each entry by differences of the forward pass with
   Richardson extrapolation (finite_difference.py). Never the engine's own derivatives.

Soundness is per entry: a kink (abs/relu at 0, a max/min tie, 0**y), a pole or a non-finite value
excuses only the entries it reaches, and the report lists them with the reason; every other entry
is judged, and one wrong entry makes the whole check a mismatch. The forward value is judged too.

Which numbers are judged, and how each is derived, is the mode's to say (calculus/<mode>.py): the
verifier is handed the Mode object and never imports a mode, nor the display.

Call `prepare()` before arming any timer: it imports the CAS, so that the import is neither
interrupted by a record's time limit nor charged to it. SymPy is imported only where it is needed
(`import_sympy`, with every deadline held, so a time limit cannot interrupt it half-way): a batch of
only huge records, checked by finite differences, never imports it.
"""
import importlib
import signal
import warnings

import numpy as np

from ..settings import limits
from ..settings.deadline import held
from ..errors import AutodiffError
from ..language.nodes import Name, children
from .finite_difference import finite_difference_check
from .judge import judge_entries, reduce_to_worst
from .report import CheckReport, Excused, VariableCheck, unjudged
from .reference import Unsuitable, backend, derive

__all__ = ["cross_check", "prepare", "import_sympy", "CheckReport", "VariableCheck", "Excused"]

_prepared = None      # the CAS's name once prepared


def prepare():
    """Import and warm up the CAS now (idempotent); returns its name, or None if there is none.
    SymPy, which shows the derivatives, is display's to prepare (display.prepare)."""
    global _prepared
    if _prepared is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")      # SymPy's own deprecation warnings, from its import
            try:
                cas = backend()
            except Unsuitable:
                return None
            importlib.import_module("numpy.random")   # the finite differences' directions
            x = cas.symbol("x")
            cas.compile([x], [cas.diff(cas.namespace.sin(x) * x, x)])(np.array([0.5]))
            _prepared = cas.name
    return _prepared


def import_sympy():
    """Import SymPy once, with every deadline held (deadline.held): a record's time limit that falls
    due meanwhile fires right after, never half-way through an import (which would leave SymPy
    broken for the records after it)."""
    with held(), warnings.catch_warnings():
        warnings.simplefilter("ignore")          # SymPy's own deprecation warnings, from its import
        return importlib.import_module("sympy")


def cross_check(program, result, mode, *, seed=None, kinks=(), rng=None):
    """Judge result's numbers, entry by entry; returns a CheckReport (call it as evaluate() does,
    with numpy's floating-point warnings off). `mode` (a calculus.Mode) says which numbers are its
    entries and how each is derived; its `derivatives` are the CAS expressions to show (display/).

    kinks: the non-differentiable points the forward pass went through, as (tree node, text) pairs
    (a bare text is taken to reach every variable).
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    if not result.wrt:
        return CheckReport("none", None, None, notes=["no variables to differentiate"])
    if not all(np.isfinite(v).all() for v in result.inputs.values()):
        return CheckReport("none", None, None, notes=["an input is not finite; nothing to check against"])
    if any(np.size(result.inputs[name]) == 0 for name in result.wrt):
        return CheckReport("none", None, None, notes=["an input is empty; nothing to check"])
    kinks = [(None, k) if isinstance(k, str) else k for k in kinks]
    reasons = _Reasons(program, kinks)
    notes, report, budget = [], None, _budget(limits.check_time_budget())
    parameters = mode.symbolic_parameters(result, seed)     # grad's seed, jvp's tangents: symbols too
    try:
        prepare()
        derivation = derive(program, result, mode, parameters, require=_require_small, budget=budget,
                            cacheable_timeout=budget >= limits.check_time_budget())
        report = _symbolic_check(derivation, result, mode, parameters, reasons)
    except Unsuitable as why:
        notes.append(f"symbolic check not used: {why}")
    except (NotImplementedError, OverflowError, ZeroDivisionError, RecursionError, MemoryError,
            AutodiffError) as err:   # the CAS's own limits; a bug of ours (TypeError, ...) is not hidden
        notes.append(f"the CAS could not differentiate this ({type(err).__name__}); finite differences used instead")
    if report is None:
        try:
            report = finite_difference_check(program, result, mode, seed, rng, reasons, nodes=node_count(program),
                                             budget=_budget(None))
        except MemoryError:
            report = unjudged("none", "out of memory in the finite-difference check: not judged", result.wrt)
    report.notes[:0] = notes
    report.notes.extend(text for _, text in kinks)
    if report.excused:
        report.notes.append(_excused_note(report.excused, [text for _, text in kinks]))
    return report


def _excused_note(excused, kink_texts):
    """One line naming the entries not judged, a kink already noted being referred to, not repeated."""
    def why(entry):
        text = entry.why
        for kink in kink_texts:
            text = text.replace(kink, "the kink noted above")
        return text
    shown = "; ".join(f"{e.entry}: {why(e)}" for e in excused[:3]) + (" ..." if len(excused) > 3 else "")
    return f"{len(excused)} entr{'y' if len(excused) == 1 else 'ies'} not judged: {shown}"


def _budget(budget):
    """`budget` seconds (None: no limit), but at most half of what is left of an outer time limit (a
    batch record's): the check gives up before the record would be stopped, and the engine's
    result is kept."""
    remaining = signal.getitimer(signal.ITIMER_REAL)[0] if hasattr(signal, "getitimer") else 0.0
    if remaining <= 0:
        return budget
    return remaining / 2 if budget is None else min(budget, remaining / 2)


def node_count(program):
    """The parse tree's nodes over all statements (the parser recorded them: no walk)."""
    return sum(len(statement.postorder()) for statement in program.statements)


def _require_small(program, result, mode):
    elements = sum(int(np.size(v)) for v in result.inputs.values())
    if elements > limits.SYMPY_MAX_ELEMENTS:
        raise Unsuitable(f"the inputs have {elements} elements (symbols are used up to {limits.SYMPY_MAX_ELEMENTS})")
    nodes = node_count(program)
    if nodes > limits.SYMPY_MAX_NODES:
        raise Unsuitable(f"the expression has {nodes} nodes (symbolic derivatives are used up to {limits.SYMPY_MAX_NODES})")
    too_big = mode.symbolic_size_problem(result)
    if too_big:
        raise Unsuitable(too_big)


def _symbolic_check(derivation, result, mode, seed, reasons):
    at = derivation.evaluate(result.inputs, seed)
    entries = np.asarray(mode.entries(result), dtype=np.float64)
    owners = mode.entry_owners(result)
    if owners is not None:                    # several numbers report one entry: the farthest is judged
        entries = reduce_to_worst(entries, owners, at.reference)
    report = judge_entries(entries, at, derivation, reasons, values=result.value)
    report.derivation = derivation
    for name in result.wrt:
        exprs = _shown(derivation, name, result, seed)
        if exprs is None:
            report.derivatives[name] = None
        else:
            shape, indexed_by_variable = mode.shown_shape(result, name)
            report.derivatives[name] = (shape, exprs, indexed_by_variable)
    return report


def _shown(derivation, name, result, seed):
    """The first derivatives by `name`, the inputs not differentiated (and the seed) written as
    their numbers; None when there are too many to show."""
    exprs = derivation.display.get(name)
    if exprs is None or not derivation.parameters:
        return exprs
    values = derivation.point(result.inputs, seed)
    cas = backend()
    number = lambda v: cas.module.Integer(int(v)) if v.is_integer() and abs(v) < 2**53 else cas.module.Float(v)
    point = {symbol: number(float(values[i])) for symbol, _, i in derivation.parameters}
    return [cas.substitute(e, point) for e in exprs]


class _Reasons:
    """Why an entry may be excused: the kinks of the forward pass that reach its variables."""

    def __init__(self, program, kinks):
        self.kinks = [(self._reached(program, node), text) for node, text in kinks]

    def kinks_reaching(self, variables):
        return [text for names, text in self.kinks if names is None or names & variables]

    @staticmethod
    def _reached(program, node):
        """The input names under `node`, through the intermediates it uses (None: unknown, all)."""
        if node is None:
            return None
        assigned = {s.name: s.expr for s in program.statements if s.name is not None}
        names, stack, seen = set(), [node], set()
        while stack:
            n = stack.pop()
            if isinstance(n, Name):
                if n.id in assigned and n.id not in seen:
                    seen.add(n.id)
                    stack.append(assigned[n.id])
                elif n.id not in assigned:
                    names.add(n.id)
            stack.extend(children(n))
        return names
