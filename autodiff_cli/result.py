"""The result of one evaluation, and the one JSON encoder for results and error records.

Strict JSON has no nan or inf: every non-finite number is written as the string "nan", "inf" or
"-inf" (docs/cli-contract.md). `json_value` does that for numpy arrays and plain Python values,
`error_record` builds the contract's error record, and `dumps` writes a record as one line;
the CLI and batch mode use these and nothing else.
"""
import json
import math
import types
from dataclasses import dataclass, field

import numpy as np

from .errors import AutodiffError


@dataclass
class Step:
    """One node of the forward pass, for `--steps`: the chain rule made visible."""
    label: str            # the source snippet this node computes
    op: str               # grad_fn name (MulBackward0), or "input" / "constant"
    column: int
    value: np.ndarray
    gradient: np.ndarray | None   # d(output)/d(this node), seeded as the backward pass was


class Payload:
    """What a mode adds to the common fields of a Result (calculus/<mode>.py defines one per mode).

    `record(result)` gives the mode's keys of the JSON record; `scalar_gradients(result)` the
    `"gradients"` of the record, when the mode has them. The attributes below are the empty values a
    Result shows for another mode's fields (`result.hessian` of a grad result is {}), as before modes
    had payloads."""
    intermediates = hessian = jacobian = derivatives = tangents = types.MappingProxyType({})
    order = jvp = None

    def record(self, result):
        return {}

    def scalar_gradients(self, result):
        return result.gradients or None


@dataclass
class Result:
    """One evaluation: the fields every mode has, and the mode's own in `payload` (read through as
    attributes: `result.hessian` is `result.payload.hessian`)."""
    expression: str
    mode: str = "grad"
    status: str = "ok"
    value: np.ndarray | None = None
    inputs: dict = field(default_factory=dict)
    wrt: list = field(default_factory=list)
    gradients: dict = field(default_factory=dict)
    payload: Payload = field(default_factory=Payload)
    check: object = None            # verify.CheckReport, or None when not checked
    error: AutodiffError | None = None
    warnings: list = field(default_factory=list)
    steps: list = field(default_factory=list)
    output: object = None           # the graph root Tensor (trace=True)
    leaves: dict = field(default_factory=dict)
    elapsed: float = 0.0
    random_seed: int | None = None

    def __getattr__(self, name):
        if name.startswith("__") or name == "payload":
            raise AttributeError(name)
        return getattr(self.payload, name)

    @property
    def exit_code(self):
        return EXIT_CODES.get(self.status, EXIT_CODES["error"])

    def as_dict(self, full=False):
        """The contract's JSON record, as plain Python (strict-JSON-safe) values (docs/result.schema.json).

        Inputs larger than INPUT_ECHO_LIMIT elements are echoed as a summary with their shape
        unless `full`."""
        if self.error is not None:
            record = error_record(self.expression, self.error)
            if self.warnings:
                record["warnings"] = list(self.warnings)
            return record
        record = {"expression": self.expression, "status": self.status, "mode": self.mode,
                  "value": json_array(self.value), "shape": list(np.shape(self.value))}
        record["shapes"] = {"value": list(np.shape(self.value)),
                            "inputs": {k: list(np.shape(v)) for k, v in self.inputs.items()}}
        record["inputs"] = {k: input_echo(v, full) for k, v in self.inputs.items()}
        if self.random_seed is not None:
            record["random_seed"] = self.random_seed
        gradients = self.payload.scalar_gradients(self)
        if gradients is not None:
            record["gradients"] = {k: json_array(v) for k, v in gradients.items()}
        record.update(self.payload.record(self))
        if self.check is not None and self.check.method != "none":
            record["symbolic"] = dict(self.check.symbolic)
            if getattr(self.check, "latex", None):
                record["latex"] = dict(self.check.latex)
        record["check"] = (self.check.as_dict() if self.check is not None
                           else {"method": "none", "passed": None, "max_abs_error": None})
        if self.warnings:
            record["warnings"] = list(self.warnings)
        return record

    def to_json(self, full=False):
        return dumps(self.as_dict(full=full), separators=(", ", ": "))


EXIT_CODES = {"ok": 0, "mismatch": 1, "error": 2}   # a result's status -> the process's exit code


INPUT_ECHO_LIMIT = 1000     # inputs with more elements are echoed as a summary (unless full)


def element_labels(name, shape):
    """`x` for a scalar, else `x[0]`, `x[0,1]`, ... in C order."""
    if len(shape) == 0:
        return [name]
    return [f"{name}[{','.join(map(str, idx))}]" for idx in np.ndindex(*shape)]


def input_echo(value, full=False):
    """A bound input for the record: its values, or (large, not full) a summary with its shape."""
    array = np.asarray(value, dtype=np.float64)
    if full or array.size <= INPUT_ECHO_LIMIT:
        return json_array(array)
    return json_value({"summary": True, "shape": list(array.shape), "elements": int(array.size),
                       **finite_stats(array)})


def finite_stats(array):
    """{"min", "max", "norm"} of the finite elements of an array (None when there are none);
    no copy of the array unless it holds nan or inf (arrays here may be most of memory)."""
    flat = np.ravel(array)
    with np.errstate(all="ignore"):
        finite = flat if np.isfinite(flat).all() else flat[np.isfinite(flat)]
        if not finite.size:
            return {"min": None, "max": None, "norm": None}
        return {"min": float(finite.min()), "max": float(finite.max()), "norm": float(np.linalg.norm(finite))}


# --- the encoder -------------------------------------------------------------------------------

def json_number(x):
    """A float for strict JSON: itself when finite, else "nan", "inf" or "-inf"."""
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def json_array(value):
    """A numpy value (or anything np.asarray takes) as a JSON number or nested lists of them;
    non-finite numbers as json_number spells them. None stays None."""
    if value is None:
        return None
    array = np.asarray(value, dtype=np.float64)
    if np.isfinite(array).all():
        return array.tolist()
    if array.ndim == 0:
        return json_number(float(array))
    flat = [json_number(v) for v in array.ravel().tolist()]
    for n in reversed(array.shape[1:]):   # regroup without recursion
        flat = [flat[i:i + n] for i in range(0, len(flat), n)]
    return flat if array.shape[0:1] != (0,) else []


def json_value(value):
    """A copy of a record with every float strict-JSON-safe (json_number) and numpy values as
    json_array gives them; other values unchanged."""
    if isinstance(value, float):
        return json_number(value)
    if isinstance(value, (np.ndarray, np.floating)):
        return json_array(value)
    if isinstance(value, dict):
        return {k: json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    return value


def error_record(expression, error, message=None, **extra):
    """The contract's record for a rejection: `error` is an AutodiffError, or a kind with its
    `message` (position None); `extra` adds keys after "error" (batch: "line", "id")."""
    if isinstance(error, AutodiffError):
        body = error.to_dict()
    else:
        body = {"kind": error, "message": message, "position": None}
    return {"expression": expression, "status": "error", "error": body, **extra}


def dumps(record, **options):
    """One record as one line of strict JSON; any non-finite float a caller left in is written
    as json_number spells it, and anything not JSON by nature as its str()."""
    try:
        return json.dumps(record, allow_nan=False, **options)
    except (ValueError, TypeError):
        return json.dumps(json_value(record), allow_nan=False, default=str, **options)
