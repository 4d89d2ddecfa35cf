"""`minimize()`: walk downhill on an expression's scalar value with SGD or Adam.

    result = minimize("(x-3)**2 + (y+1)**2", {"x": 0, "y": 0}, optimizer="adam", lr=0.1)
    result.stopped, result.point, result.value          # "tol", {"x": 3.0, "y": -1.0}, 0.0

The expression is parsed once; every step lowers the parsed program onto the engine again at the
current point (a fresh graph), runs backward, optionally clips the gradient, and steps the
optimizer, exactly as a PyTorch training loop does:

    step k:  value, gradient at the point  ->  record  ->  stop?  ->  clip  ->  optimizer.step()

It stops after `steps` updates ("steps"), as soon as the gradient's 2-norm is <= `tol` ("tol"), or
when the value or the gradient stops being finite ("diverged", exit code 1). The CLI (`autodiff
minimize`) and batch records with "mode": "minimize" both call this; bad input comes back as a
result with status "error" (exit code 2), never as an exception.
"""
import math
import time
from dataclasses import dataclass, field

import numpy as np

from ..settings import limits
from ..engine import Tensor, quiet_numpy
from ..errors import AutodiffError
from ..api import errors_into
from ..inputs import bind, differentiated   # the binding and --wrt rules of grad
from ..language import lower_to_engine, parse
from ..optim import SGD, Adam
from ..result import INPUT_ECHO_LIMIT, dumps, error_record, input_echo, json_array
from ..utils import clip_grad_norm_, clip_grad_value_, get_total_norm

OPTIMIZERS = ("sgd", "adam")
DEFAULTS = {"optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "steps": 1000, "tol": 1e-10, "trace": 100}
_FIRST_STEPS = 3     # the trajectory always keeps the first few steps (when --trace leaves room)


@dataclass
class MinimizeResult:
    expression: str
    status: str = "ok"                 # "ok" | "diverged" | "error"
    optimizer: str = DEFAULTS["optimizer"]
    stopped: str | None = None         # "tol" | "steps" | "diverged"
    steps: int = 0                     # optimizer updates made (the step the last values belong to)
    value: float | None = None
    point: dict = field(default_factory=dict)       # {name: ndarray} where it stopped
    grad_norm: float | None = None
    wrt: list = field(default_factory=list)
    options: dict = field(default_factory=dict)     # the checked options (lr, momentum, tol, clipping, ...)
    trajectory: list = field(default_factory=list)  # [{"step", "value", "grad_norm", "point"}], thinned
    values: list = field(default_factory=list)      # value at every step (for plots)
    grad_norms: list = field(default_factory=list)  # gradient norm at every step
    error: AutodiffError | None = None
    warnings: list = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def exit_code(self):
        return {"ok": 0, "diverged": 1}.get(self.status, 2)

    def as_dict(self):
        """The JSON record of `autodiff minimize --json` (strict JSON: non-finite numbers as strings)."""
        if self.error is not None:
            record = error_record(self.expression, self.error)
        else:
            record = {"expression": self.expression, "status": self.status, "mode": "minimize"}
            record.update({
                "optimizer": self.optimizer, "steps": self.steps, "stopped": self.stopped,
                "value": json_array(self.value), "point": _jsonable_point(self.point),
                "grad_norm": json_array(self.grad_norm),
                "trajectory": [dict(entry, value=json_array(entry["value"]),
                                    grad_norm=json_array(entry["grad_norm"]),
                                    point=_jsonable_point(entry["point"])) for entry in self.trajectory]})
        if self.warnings:
            record["warnings"] = list(self.warnings)
        return record


    def to_json(self):
        return dumps(self.as_dict(), separators=(", ", ": "))


def _jsonable_point(point):
    """{name: value}; a trajectory entry's large parameter is already a summary dict."""
    return {name: value if isinstance(value, dict) else json_array(value) for name, value in point.items()}


def minimize(expr, bindings=None, *, wrt=None, optimizer=DEFAULTS["optimizer"], lr=DEFAULTS["lr"],
             momentum=None, steps=DEFAULTS["steps"], tol=DEFAULTS["tol"], clip_value=None, clip_norm=None,
             trace=DEFAULTS["trace"], random_seed=None, on_step=None, full=False):
    """Minimize the scalar value of `expr` over the `wrt` variables, starting at `bindings`.

    optimizer: "sgd" (with `momentum`, default 0.9) or "adam" (betas 0.9, 0.999); lr: step size.
    clip_value / clip_norm: clip the gradient by value or by total 2-norm before each step (not both).
    trace: at most this many trajectory entries are kept (first steps, every k-th, the last), at most
    limits.MAX_TRACE_ENTRIES; a parameter of more than INPUT_ECHO_LIMIT elements is kept in them as a
    summary (shape, min, max, norm) unless `full` (then trace x its elements must stay within
    AUTODIFF_MAX_ELEMENTS, checked before the first step).
    on_step: optional `on_step(step)` after every evaluated step (a progress bar).
    """
    started = time.perf_counter()
    result = MinimizeResult(expression=expr if isinstance(expr, str) else str(expr),
                            optimizer=optimizer if isinstance(optimizer, str) else str(optimizer))
    with errors_into(result, expr):
        options = result.options = _checked_options(optimizer, lr, momentum, steps, tol, clip_value, clip_norm,
                                                    trace)
        with quiet_numpy():
            _run(result, expr, bindings or {}, wrt, options, random_seed, on_step, bool(full))
    result.elapsed = time.perf_counter() - started
    return result


def _checked_options(optimizer, lr, momentum, steps, tol, clip_value, clip_norm, trace):
    """The options as numbers, or an AutodiffError saying which one is wrong and why."""
    if optimizer not in OPTIMIZERS:
        raise AutodiffError("usage", f"unknown optimizer {optimizer!r}: expected one of {', '.join(OPTIMIZERS)}")
    lr = _number("--lr", lr)
    if not lr > 0:
        raise AutodiffError("usage", f"--lr must be a finite number > 0, got {lr:g}")
    if momentum is not None and optimizer != "sgd":
        raise AutodiffError("usage", "--momentum is an SGD option (Adam's momentum is its beta1, 0.9)")
    momentum = _number("--momentum", DEFAULTS["momentum"] if momentum is None else momentum)
    if momentum < 0:
        raise AutodiffError("usage", f"--momentum must be >= 0, got {momentum:g}")
    steps = _count("--steps", steps)
    if steps > limits.max_minimize_steps():
        raise AutodiffError("limit", f"--steps {steps} is over the limit of {limits.max_minimize_steps()} "
                                     "(set AUTODIFF_MAX_MINIMIZE_STEPS to raise it)")
    tol = _number("--tol", tol)
    if tol < 0:
        raise AutodiffError("usage", f"--tol must be >= 0, got {tol:g}")
    if clip_value is not None and clip_norm is not None:
        raise AutodiffError("usage", "--clip-value and --clip-norm cannot be used together: choose one")
    for name, clip in (("--clip-value", clip_value), ("--clip-norm", clip_norm)):
        if clip is not None and not _number(name, clip) > 0:
            raise AutodiffError("usage", f"{name} must be a finite number > 0, got {clip}")
    return {"optimizer": optimizer, "lr": lr, "momentum": momentum, "steps": steps, "tol": tol,
            "clip_value": None if clip_value is None else float(clip_value),
            "clip_norm": None if clip_norm is None else float(clip_norm), "trace": _trace(trace)}


def _trace(value):
    trace = _count("--trace", value)
    if trace > limits.MAX_TRACE_ENTRIES:
        raise AutodiffError("limit", f"--trace {value} is over the limit of {limits.MAX_TRACE_ENTRIES} "
                                     "trajectory entries")
    return trace


def _number(name, value):
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise AutodiffError("usage", f"{name} must be a number, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise AutodiffError("usage", f"{name} must be a finite number, got {value!r}")
    return float(value)


def _count(name, value):
    number = _number(name, value)
    if number < 0 or not number.is_integer():
        raise AutodiffError("usage", f"{name} must be a whole number >= 0, got {value!r}")
    return int(number)


def _run(result, expr, bindings, wrt, options, random_seed, on_step, full):
    if not isinstance(expr, str):
        raise AutodiffError("usage", "the expression must be a string")
    program = parse(expr)
    values, warnings = bind(program, bindings, np.random.default_rng(random_seed))
    result.warnings.extend(warnings)
    result.wrt = differentiated(program, wrt)
    if not result.wrt:
        raise AutodiffError("usage", "the expression has no variables to minimize over",
                            hint="bind one, e.g. autodiff minimize \"(x-1)**2\" x=0")
    env = {name: Tensor(values[name], requires_grad=name in result.wrt) for name in program.inputs}
    params = [env[name] for name in result.wrt]
    if options["optimizer"] == "sgd":
        optimizer = SGD(params, lr=options["lr"], momentum=options["momentum"])
    else:
        optimizer = Adam(params, lr=options["lr"])
    if full:     # every kept entry holds a copy of the parameters: bounded like any array, up front
        kept = options["trace"] * sum(limits.counted_elements(np.shape(values[n])) for n in result.wrt)
        if kept > limits.max_elements():
            raise AutodiffError("limit", f"--full keeps the parameters whole in up to {options['trace']} trajectory "
                                         f"entries: {kept} elements, over the limit of {limits.max_elements()} "
                                         "(lower --trace, drop --full, or set AUTODIFF_MAX_ELEMENTS)")
    trajectory = _Trajectory(options["trace"], full)

    for step in range(options["steps"] + 1):
        optimizer.zero_grad()
        output, _ = lower_to_engine(program, env)
        if output.size != 1:
            raise AutodiffError("shape", f"minimize needs a scalar output, and the output has shape "
                                         f"{tuple(output.shape)}", hint="reduce it with sum() or mean()")
        if output.requires_grad:
            output.backward(np.ones_like(output.data))
        value = float(output.data.reshape(()))
        gradients = [p.grad.data if p.grad is not None else np.zeros_like(p.data) for p in params]
        grad_norm = get_total_norm(gradients).item()
        point = {name: env[name].data for name in result.wrt}   # a step gives parameters new arrays
        result.values.append(value)
        result.grad_norms.append(grad_norm)
        trajectory.add(step, value, grad_norm, point)
        if on_step is not None:
            on_step(step)

        result.steps, result.value, result.grad_norm, result.point = step, value, grad_norm, point
        if not (math.isfinite(value) and all(np.isfinite(g).all() for g in gradients)):
            result.status = result.stopped = "diverged"
            what = "the value" if not math.isfinite(value) else "the gradient"
            result.warnings.append(f"{what} became non-finite at step {step} (value {value:g}); "
                                   "try a smaller --lr or --clip-norm")
            break
        if grad_norm <= options["tol"]:
            result.stopped = "tol"
            break
        if step == options["steps"]:
            result.stopped = "steps"
            break
        if options["clip_value"] is not None:
            clip_grad_value_(params, options["clip_value"])
        elif options["clip_norm"] is not None:
            clip_grad_norm_(params, options["clip_norm"])
        optimizer.step()
    result.trajectory = trajectory.entries()


class _Trajectory:
    """At most `limit` entries of the run: the first steps, every k-th (k doubling as needed), the last.

    Points are kept only for the entries shown, so memory stays bounded on long runs of big arrays.
    """

    def __init__(self, limit, full=False):
        self.limit = limit
        self.full = full
        self.first = min(_FIRST_STEPS, limit // 4)
        self.stride = 1
        self.kept = {}
        self.last = None

    def add(self, step, value, grad_norm, point):
        entry = {"step": step, "value": value, "grad_norm": grad_norm, "point": point}
        self.last = entry
        room = self.limit - 1          # one place stays free for the last step
        if room <= 0 or not (step < self.first or step % self.stride == 0):
            return
        self.kept[step] = self._summarised(entry)
        while len(self.kept) > room:
            self.stride *= 2
            self.kept = {k: e for k, e in self.kept.items() if k < self.first or k % self.stride == 0}

    def _summarised(self, entry):
        """The entry with each parameter of more than INPUT_ECHO_LIMIT elements as a summary
        (shape, elements, min, max, norm; `input_echo`), unless full: a run of w=ones(10^6) kept
        100 copies of w (2.7 GB, a 589 MB record)."""
        if self.full or all(np.size(v) <= INPUT_ECHO_LIMIT for v in entry["point"].values()):
            return entry
        point = {name: v if np.size(v) <= INPUT_ECHO_LIMIT else input_echo(v) for name, v in entry["point"].items()}
        return dict(entry, point=point)

    def entries(self):
        if self.limit == 0 or self.last is None:
            return []
        kept = dict(self.kept)
        kept[self.last["step"]] = self._summarised(self.last)
        return [kept[k] for k in sorted(kept)]
