"""The cross-check: is the engine's derivative right? Asked of someone who does not use the engine's VJPs.

1. Symbolically, where the problem is small (symbolic.py): the same parse tree lowered to a CAS
   (SymEngine, else SymPy), differentiated once per expression shape, compiled, and evaluated in
   float64 at each point; every derivative entry is compared on its own (judge.py).
2. Otherwise (too large, unsupported, over the time budget): central finite differences of the
   forward pass along random directions, one variable at a time (finite_difference.py).

Soundness is per entry: a kink (abs/relu at 0, a max/min tie, 0**y), a pole or a non-finite value
excuses only the entries it reaches, and the report lists them with the reason; every other entry
is judged, and one wrong entry makes the whole check a mismatch.

Call `prepare()` before arming any timer: it imports the CAS (and SymPy, which shows the
derivatives), so that the import is neither interrupted by a record's time limit nor charged to it.
`prepare(sympy=False)` leaves SymPy to the first record that needs it (one whose derivatives are
shown, or a derivatives/jvp record): it is then imported with every deadline held, so a time limit
still cannot interrupt it (it fires right after). A batch of only huge records, checked
by finite differences, never imports SymPy.
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
from .judge import judge_entries
from .report import CheckReport, Excused, VariableCheck, unjudged
from .reference import Unsuitable, backend, derive

__all__ = ["cross_check", "prepare", "CheckReport", "VariableCheck", "Excused"]

_prepared = None      # the CAS's name once prepared
_sympy_prepared = False


def prepare(sympy=True):
    """Import and warm up the CAS now (idempotent); with `sympy`, SymPy's display too (else see
    _prepare_sympy). Returns the CAS's name, or None if there is none."""
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
    if sympy:
        _prepare_sympy()
    return _prepared


def _prepare_sympy():
    """Import SymPy and warm up every step of the display (formulas.prepare), once, with every
    deadline held (deadline.held): a record's time limit that falls due meanwhile fires right
    after, never half-way through an import (which would leave SymPy broken for the records after it)."""
    global _sympy_prepared
    if _sympy_prepared:
        return
    with held(), warnings.catch_warnings():
        warnings.simplefilter("ignore")          # SymPy's own deprecation warnings, from its import
        from ..display.formulas import prepare as prepare_display
        prepare_display(backend().module)        # the derivatives for people are shown with SymPy
    _sympy_prepared = True


def cross_check(program, result, *, seed=None, kinks=(), rng=None, latex=False, simplify=False):
    """Check result's gradients / Hessian / Jacobian; returns a CheckReport (call it as evaluate()
    does, with numpy's floating-point warnings off) with the symbolic derivatives for people: as
    LaTeX if `latex`, simplified and in matrix form if `simplify`.

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
    if result.mode in ("derivatives", "jvp"):          # every order, and forward mode: check_calculus.py
        prepare()                                        # check_calculus works in SymPy
        from .calculus import check_calculus
        return check_calculus(program, result, kinks=kinks, rng=rng)
    reasons = _Reasons(program, kinks)
    notes, report, budget = [], None, _budget(limits.check_time_budget())
    try:
        prepare(sympy=False)                              # SymPy only if the derivatives are shown
        derivation = derive(program, result, seed, require=_require_small, budget=budget,
                            cacheable_timeout=budget >= limits.check_time_budget())
        report = _symbolic_check(derivation, result, seed, reasons)
    except Unsuitable as why:
        notes.append(f"symbolic check not used: {why}")
    except (NotImplementedError, OverflowError, ZeroDivisionError, RecursionError, MemoryError,
            AutodiffError) as err:   # the CAS's own limits; a bug of ours (TypeError, ...) is not hidden
        notes.append(f"the CAS could not differentiate this ({type(err).__name__}); finite differences used instead")
    if report is not None:
        prepare()
        _describe(report, program, result, seed, latex=latex, simplify=simplify)
    else:
        try:
            report = finite_difference_check(program, result, seed, rng, reasons, nodes=node_count(program),
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


def _require_small(program, result):
    elements = sum(int(np.size(v)) for v in result.inputs.values())
    if elements > limits.SYMPY_MAX_ELEMENTS:
        raise Unsuitable(f"the inputs have {elements} elements (symbols are used up to {limits.SYMPY_MAX_ELEMENTS})")
    nodes = node_count(program)
    if nodes > limits.SYMPY_MAX_NODES:
        raise Unsuitable(f"the expression has {nodes} nodes (symbolic derivatives are used up to {limits.SYMPY_MAX_NODES})")
    wrt_elements = sum(int(np.size(result.inputs[n])) for n in result.wrt)
    if result.mode == "hessian" and wrt_elements > limits.SYMPY_MAX_SECOND_ORDER:
        raise Unsuitable(f"a Hessian in {wrt_elements} variables is too large to expand symbolically")
    if result.mode == "jacobian" and np.size(result.value) * wrt_elements > limits.SYMPY_MAX_JACOBIAN_ENTRIES:
        raise Unsuitable(f"a Jacobian of {np.size(result.value) * wrt_elements} entries is too large")


def engine_entries(result):
    """The engine's derivative entries, flat, in the order of a Derivation's entries."""
    parts = []
    for name in result.wrt:
        if result.mode == "grad":
            parts.append(np.ravel(result.gradients[name]))
        elif result.mode == "hessian":
            parts.append(np.ravel(result.gradients[name]))
            rows = int(np.size(result.inputs[name]))
            parts.append(np.concatenate([np.reshape(result.hessian[name][col], (rows, -1)) for col in result.wrt],
                                        axis=1).ravel())
        else:
            parts.append(np.ravel(result.jacobian[name]))
    return np.concatenate(parts).astype(np.float64)


def _symbolic_check(derivation, result, seed, reasons):
    reference, scale, switches = derivation.evaluate(result.inputs, seed)
    report = judge_entries(engine_entries(result), reference, scale, switches, derivation, reasons)
    for name in result.wrt:
        exprs = _shown(derivation, name, result, seed)
        shape = np.shape(result.inputs[name])
        if exprs is None:
            report.derivatives[name] = None
        elif result.mode == "jacobian":
            report.derivatives[name] = (np.shape(result.value) + shape, exprs, False)
        else:
            report.derivatives[name] = (shape, exprs, True)
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


def _describe(report, program, result, seed, *, latex, simplify):
    """The derivatives for people (formulas.describe_all), after the check and outside its time
    budget: display has its own budget and never slows the verdict; a formula too long to read
    is None."""
    from ..display.formulas import describe_all
    shown = {name: d for name, d in report.derivatives.items() if d is not None}
    symbolic, shown_latex = describe_all(program, result, seed, shown, latex=latex, simplify=simplify)
    report.symbolic = {name: symbolic.get(name) for name in result.wrt}
    if latex:
        report.latex = {name: shown_latex.get(name) for name in result.wrt}


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
