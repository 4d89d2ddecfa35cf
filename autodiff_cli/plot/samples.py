"""What `sample()` returns: the sampled grid, the engine's values and derivatives, marks, the check."""
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Mark:
    """A point where the curve is not differentiable (kind "kink"), has a pole ("pole"), or where
    the check disagrees with the engine ("check failed"). `at` has one coordinate per variable."""
    kind: str
    at: tuple
    reason: str


@dataclass
class CurveCheck:
    method: str                    # "sympy" | "finite-difference" | "none"
    passed: bool | None
    max_abs_error: float | None
    failed: np.ndarray | None = None          # grid-shaped bool: where a derivative disagrees
    formulas: dict = field(default_factory=dict)   # "x" / "x,x" -> SymPy derivative text
    notes: list = field(default_factory=list)


@dataclass
class Samples:
    expression: str
    variables: list                # the swept names (1 or 2)
    axes: list                     # their grid coordinates, one 1-D array each
    value: np.ndarray              # 1-D: (n,); 2-D: (ny, nx), value[j, i] = f(x[i], y[j])
    derivatives: dict              # {name: array shaped like value}: the first partial derivatives
    second_derivative: np.ndarray | None = None   # one variable, --order 2
    fixed: dict = field(default_factory=dict)     # the other bindings {name: ndarray}
    vectorised: bool = True
    check: CurveCheck | None = None
    marks: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    def as_dict(self):
        """Strict-JSON-safe data (non-finite numbers as "nan"/"inf"/"-inf"); see docs/cli-contract.md."""
        from ..result import json_value
        record = {"expression": self.expression, "variables": list(self.variables)}
        record.update(zip(self.variables, self.axes))
        record["value"] = self.value
        if len(self.variables) == 1:
            record["derivative"] = self.derivatives[self.variables[0]]
            record["second_derivative"] = self.second_derivative
        else:
            record["gradient"] = dict(self.derivatives)
        record["bindings"] = dict(self.fixed)
        record["vectorised"] = self.vectorised
        record["marks"] = [dict(zip(self.variables, mark.at), kind=mark.kind, reason=mark.reason)
                           for mark in self.marks]
        record["check"] = self._check_dict()
        record["notes"] = list(self.notes)
        return json_value(record)

    def _check_dict(self):
        check = self.check
        if check is None:
            return {"method": "none", "passed": None, "max_abs_error": None, "failed_at": [], "formulas": {},
                    "notes": []}
        failed_at = []
        if check.failed is not None:
            grids = np.meshgrid(*self.axes) if len(self.axes) == 2 else self.axes
            failed_at = [[float(g[index]) for g in grids] for index in zip(*np.nonzero(check.failed))]
            failed_at = [p[0] if len(p) == 1 else p for p in failed_at]
        return {"method": check.method, "passed": check.passed, "max_abs_error": check.max_abs_error,
                "failed_at": failed_at, "formulas": dict(check.formulas), "notes": list(check.notes)}
