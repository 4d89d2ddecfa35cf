"""What the cross-check says: a verdict per variable and overall, and which entries it could not judge."""
from dataclasses import dataclass, field

import numpy as np

from ..result import json_number


@dataclass
class VariableCheck:
    error: float | None
    passed: bool | None
    note: str | None = None


@dataclass
class Excused:
    """A derivative entry the check did not judge, and why (a kink, a tie, a pole, a non-finite value)."""
    entry: str          # "z", "W[0,1]", "x/y" (a Hessian entry), "f[2]/x" (a Jacobian entry)
    why: str


@dataclass
class CheckReport:
    method: str                      # "sympy" (symbolic) | "finite-difference" | "none"
    passed: bool | None
    max_abs_error: float | None
    symbolic: dict = field(default_factory=dict)      # var -> derivative for people (formulas.describe), or None
    per_variable: dict = field(default_factory=dict)  # var -> VariableCheck
    notes: list = field(default_factory=list)
    excused: list = field(default_factory=list)       # [Excused]
    judged: int = 0                                   # entries compared
    latex: dict = field(default_factory=dict)         # var -> the same as LaTeX (when asked for)
    derivatives: dict = field(default_factory=dict)   # var -> (shape, [expressions], indexed by var) to show
    derivation: object = None                         # the reference.Derivation judged against (display caches
                                                      # the derivatives' text on it: made once per shape)
    value_check: VariableCheck | None = None          # the forward value against the reference's (None: not judged)

    def conclude(self):
        """The overall verdict from the variables': a mismatch if any failed, None if none was judged."""
        verdicts = [v.passed for v in self.per_variable.values() if v.passed is not None]
        if self.value_check is not None and self.value_check.passed is False:
            verdicts.append(False)        # a wrong value fails the check; a right one alone judges nothing
        self.passed = all(verdicts) if verdicts else None
        if self.judged == 0:
            self.max_abs_error = None

    def as_dict(self):
        error = None if self.max_abs_error is None else json_number(float(self.max_abs_error))
        record = {"method": self.method, "passed": self.passed, "max_abs_error": error}
        if self.excused:
            record["excused"] = [{"entry": e.entry, "why": e.why} for e in self.excused]
        return record


def unjudged(method, note, wrt=()):
    """A report for a problem the check cannot judge at all."""
    return CheckReport(method, None, None, {n: None for n in wrt},
                       {n: VariableCheck(None, None, note) for n in wrt}, [note])
