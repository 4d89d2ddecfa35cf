"""Derivatives for people, after the verdict: formulas (index form, exact numbers, LaTeX) and closed
matrix forms, made from the CAS expressions the verifier derived. Nothing here changes a verdict.

    describe(report, program, result, seed, latex=..., simplify=...)    fills report.symbolic / .latex
"""
from ..verify import prepare as prepare_cas
from ..verify.reference import backend

_prepared = set()      # what prepare() has done: "cas", "sympy"


def prepare(sympy=False):
    """The check's CAS imported and every step of the plain display run once (idempotent), with
    every deadline held: call it before arming a timer, or let `describe` call it on first use.
    `sympy`: SymPy too (LaTeX, simplification, matrix forms; a forked pool's workers share it);
    without it SymPy is imported only when a formula needs it (formulas._import_sympy)."""
    wanted = {"cas", "sympy"} if sympy else {"cas"}
    if wanted <= _prepared:
        return
    cas = prepare_cas()
    if cas is not None:
        from .formulas import prepare as warm_up
        warm_up(backend().module, sympy=sympy)
    if sympy:
        from .formulas import _import_sympy
        _import_sympy()
    _prepared.update(wanted)


def describe(report, program, result, seed, *, latex=False, simplify=False):
    """The report's derivatives as the record's `symbolic` (and `latex`) entries; a formula too long
    to read is None. Display has its own budget and never slows the verdict.

    A record's plain text (no LaTeX, no simplification) is made once per Derivation when no input
    is shown as its number (the same text at every point) and kept on it (`Derivation.texts`)."""
    if not report.derivatives:           # not derived symbolically: nothing to show
        return
    derivation = report.derivation
    cache = (derivation.texts if derivation is not None and not derivation.parameters and not latex
             and not simplify else None)
    if cache is not None and "symbolic" in cache:
        report.symbolic = dict(cache["symbolic"])
        return
    shown = {name: d for name, d in report.derivatives.items() if d is not None}
    prepare()
    from .formulas import describe_all
    symbolic, shown_latex = describe_all(program, result, seed, shown, latex=latex, simplify=simplify)
    report.symbolic = {name: symbolic.get(name) for name in result.wrt}
    if latex:
        report.latex = {name: shown_latex.get(name) for name in result.wrt}
    if cache is not None:
        cache["symbolic"] = dict(report.symbolic)
