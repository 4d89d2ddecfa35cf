"""Derivatives for people, after the verdict: formulas (index form, exact numbers, LaTeX) and closed
matrix forms, made from the CAS expressions the verifier derived. Nothing here changes a verdict.

    describe(report, program, result, seed, latex=..., simplify=...)    fills report.symbolic / .latex
"""
from ..verify import import_sympy, prepare as prepare_cas
from ..verify.reference import backend

_prepared = False


def prepare():
    """The CAS and SymPy imported, and every step of the display run once (idempotent), with every
    deadline held: call it before arming a timer, or let `describe` call it on first use."""
    global _prepared
    if not _prepared:
        cas = prepare_cas()
        import_sympy()
        if cas is not None:
            from .formulas import prepare as warm_up
            warm_up(backend().module)
        _prepared = True


def describe(report, program, result, seed, *, latex=False, simplify=False):
    """The report's derivatives as the record's `symbolic` (and `latex`) entries; a formula too long
    to read is None. Display has its own budget and never slows the verdict."""
    if not report.derivatives:           # not derived symbolically: nothing to show
        return
    shown = {name: d for name, d in report.derivatives.items() if d is not None}
    prepare()
    from .formulas import describe_all
    symbolic, shown_latex = describe_all(program, result, seed, shown, latex=latex, simplify=simplify)
    report.symbolic = {name: symbolic.get(name) for name in result.wrt}
    if latex:
        report.latex = {name: shown_latex.get(name) for name in result.wrt}
