"""Judge derivative entries one by one: excused (and why) or compared within a rounding tolerance.

An entry is excused, and only that entry, when
  - the engine's value is not finite (a pole, an overflow: nothing to compare),
  - the symbolic value is not finite (log(0), 0**-1, an overflow), or its terms overflow,
  - one of its switches is at 0 (within rounding) between branches of different values: the
    derivative is taken at a kink or a tie, where the engine follows PyTorch's convention, which
    no other derivative has to agree with.
Every other entry must agree within ROUNDING * eps * (its terms in absolute value, plus those of
the largest entry of the same variable): the scale of the rounding error either side can make,
whatever cancels in the exact result.
"""
import numpy as np

from .report import CheckReport, Excused, VariableCheck

EPS = np.finfo(np.float64).eps
ROUNDING = 256          # eps-multiples of an entry's term magnitude it may be off (~6e-14 relative)
SWITCH_ROUNDING = 16    # a switch within this many eps-multiples of its magnitude is taken to be at 0
BLOCK_FLOOR = 1.0       # an entry may be off by rounding at the scale of the largest of its variable's
                        # (the engine's formulas are not the CAS's: sigmoid(u)' at saturation is 0 there)


def judge_entries(engine, reference, scale, switches, derivation, reasons):
    """A CheckReport from the engine's and the symbolic entries (numpy warnings are off: evaluate()).
    switches: rows of switch values, their scales, the spreads of their branches, the spreads' scales."""
    finite = np.isfinite(engine) & np.isfinite(reference) & np.isfinite(scale)
    starts = [block.start for block in derivation.blocks.values()]
    floors = np.maximum.reduceat(np.where(finite, scale, 0.0), starts)       # one per variable
    scale = scale + BLOCK_FLOOR * np.repeat(floors, np.diff(starts + [len(scale)]))
    error = np.abs(engine - reference)
    within = error <= ROUNDING * EPS * scale
    suspect = ~finite
    at_kink = None
    if switches.size:
        value, value_scale, spread, spread_scale = switches
        at_kink = (~(np.abs(value) > SWITCH_ROUNDING * EPS * value_scale)            # nan counts as at a kink
                   & ~(spread <= ROUNDING * EPS * spread_scale))                      # branches that differ
        if at_kink.any():
            suspect |= np.array([bool(at_kink[k].any()) for k in derivation.switches], dtype=bool)
    report = CheckReport("sympy", None, 0.0)
    judged = np.ones(len(engine), dtype=bool)
    for i in np.flatnonzero(suspect):
        why = _why_excused(engine[i], reference[i], scale[i], derivation.switches[i], at_kink,
                           derivation, derivation.variables[i], reasons)
        if why is not None:
            report.excused.append(Excused(derivation.labels[i], why))
            judged[i] = False
    for name, block in derivation.blocks.items():
        mine = judged[block]
        if mine.any():
            report.per_variable[name] = VariableCheck(float(error[block][mine].max()), bool(within[block][mine].all()))
        else:
            report.per_variable[name] = VariableCheck(
                None, None, "every entry excused (kink, tie, pole or non-finite value)")
    report.judged = int(judged.sum())
    report.max_abs_error = float(error[judged].max()) if report.judged else 0.0
    report.conclude()
    return report


def _why_excused(engine, reference, scale, switches, at_kink, derivation, variables, reasons):
    if not np.isfinite(engine):
        return f"the engine's value is {_name(engine)} here"
    if at_kink is not None and switches.size and at_kink[switches].any():
        kinks = reasons.kinks_reaching(variables)
        if kinks:
            return "; ".join(kinks)
        texts = [derivation.switch_text[k] for k in switches[at_kink[switches]][:2]]
        return f"the derivative is piecewise and {' and '.join(texts)} is 0 here (a kink or a tie)"
    if not np.isfinite(reference):
        return f"the symbolic derivative is {_name(reference)} here (a pole, 0**y or an overflow)"
    if not np.isfinite(scale):
        return "the derivative's terms overflow float64 here"
    return None


def _name(value):
    return "nan" if np.isnan(value) else "inf" if value > 0 else "-inf"
