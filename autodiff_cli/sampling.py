"""Sample an expression over a range of one variable (or a grid of two) for `autodiff plot`.

    samples = sample("sin(x)*x", {"x": "-6:6"}, order=2)
    samples.axes[0], samples.value, samples.derivatives["x"], samples.second_derivative

The values and derivatives are the engine's, computed in one vectorised pass: the swept variable
is bound to the whole grid and, because an elementwise f gives d/dx_i sum_j f(x_j) = f'(x_i), one
backward pass with a seed of ones yields f' at every point (and a second one, f''). An expression
that is not elementwise in the swept variables (a reduction or matrix product of them, or an
array-valued constant beside them) is evaluated point by point instead, and a note says so.

Along the way it finds where the function is not differentiable or not finite: the arguments of
abs/relu/sqrt/max/min/pow changing sign between grid points (kinks), denominators and the
arguments of log/tan crossing their singular value (poles), and the nodes where nan/inf first
appear (the engine's rule for non-finite origins, applied point by point). The derivatives are
then checked along the whole curve: SymPy's derivative lambdified once over the grid, or central
finite differences of the forward pass when SymPy cannot serve in its time budget.

Nothing here draws: `ui/plot.py` does.
"""
import math
import re
from dataclasses import dataclass, field

import numpy as np

from . import engine, limits
from .bindings import parse_value, value_from_json
from .check import ATOL, FD_TOL, RTOL, SYMPY_MAX_ELEMENTS, SYMPY_MAX_NODES
from .engine import Tensor, quiet_numpy
from .errors import AutodiffError
from .language import lower_to_engine, lower_to_sympy, parse
from .language.lowering import postorder
from .language.nodes import Binary, Call, Name, Num, Unary, children, column

DEFAULT_POINTS = 200          # points of a one-variable sweep without an explicit count
DEFAULT_POINTS_2D = 81        # points per axis of a two-variable grid (odd: a symmetric range hits 0)
DEFAULT_RANGE = (-5.0, 5.0)   # the sweep of a variable that is left unbound
MAX_SWEPT = 2
MAX_MARKS = 2000              # singular points kept (a 2-D kink line has about one per grid row)
FD2_TOL = 1e-3                # second differences: h**2 truncation and eps/h**2 rounding

# Ops that act element by element: with x bound to a grid, node i only sees point i. Anything
# else that touches a swept variable (sum, mean, max(a), dot, @, ...) means point by point.
_ELEMENTWISE_CALLS = {"sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "exp", "log",
                      "log1p", "expm1", "sqrt", "abs", "sigmoid", "relu", "pow"}
_ELEMENTWISE_BINARY = {"+", "-", "*", "/", "**"}

_RANGE = re.compile(r"^\s*([^:]+):([^:]+)(?::([^:]+))?\s*$")
_LINSPACE = re.compile(r"^\s*linspace\s*\((.*)\)\s*$", re.DOTALL)


# --- what is swept ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Sweep:
    """One swept variable: `count` evenly spaced points from `start` to `stop` (both included)."""
    name: str
    start: float
    stop: float
    count: int

    def points(self):
        return np.linspace(self.start, self.stop, self.count)


def parse_sweep(name, text, *, default_count=DEFAULT_POINTS):
    """`a:b`, `a:b:n` or `linspace(a, b[, n])` -> Sweep; None when `text` is not a range."""
    match = _RANGE.match(text)
    if match:
        parts = match.groups()
    else:
        match = _LINSPACE.match(text)
        if not match:
            return None
        parts = [p for p in match.group(1).split(",")]
        if len(parts) not in (2, 3):
            _fail(name, text, "linspace takes (start, stop) or (start, stop, count)")
        parts = parts + [None] * (3 - len(parts))
    start, stop = (_bound(name, text, part) for part in parts[:2])
    count = default_count if parts[2] is None else _count(name, text, parts[2])
    if not start < stop:
        _fail(name, text, f"the range must go up: start {start:g} is not below stop {stop:g}")
    if count < 2:
        _fail(name, text, f"a range needs at least 2 points, not {count}")
    if count > limits.max_elements():
        raise AutodiffError("limit", f"{name}={text}: {count} points; the limit is {limits.max_elements()} "
                                     f"(set AUTODIFF_MAX_ELEMENTS to raise it)")
    return Sweep(name, start, stop, count)


def _fail(name, text, message):
    raise AutodiffError("binding", f"{name}={text.strip()}: {message}")


def _bound(name, text, part):
    try:
        value = parse_value(part.strip(), name=name)
    except AutodiffError:
        value = None
    if value is None or value.shape != () or not np.isfinite(value):
        _fail(name, text, f"'{part.strip()}' is not a finite number (a range is start:stop or start:stop:count)")
    return float(value)


def _count(name, text, part):
    token = part.strip()
    if not re.fullmatch(r"[+-]?\d+", token):
        _fail(name, text, f"the number of points '{token}' is not a whole number")
    if len(token.lstrip("+-")) > 18:
        raise AutodiffError("limit", f"{name}={text.strip()}: {token[:20]}... points is far beyond the "
                                     f"element limit {limits.max_elements()} (set AUTODIFF_MAX_ELEMENTS to raise it)")
    return int(token)


# --- the result ------------------------------------------------------------------------------

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
        from .evaluate import to_jsonable
        record = {"expression": self.expression, "variables": list(self.variables)}
        for name, axis in zip(self.variables, self.axes):
            record[name] = to_jsonable(axis)
        record["value"] = to_jsonable(self.value)
        if len(self.variables) == 1:
            record["derivative"] = to_jsonable(self.derivatives[self.variables[0]])
            record["second_derivative"] = to_jsonable(self.second_derivative)
        else:
            record["gradient"] = {name: to_jsonable(g) for name, g in self.derivatives.items()}
        record["bindings"] = {name: to_jsonable(v) for name, v in self.fixed.items()}
        record["vectorised"] = self.vectorised
        record["marks"] = [dict(zip(self.variables, to_jsonable(mark.at)), kind=mark.kind, reason=mark.reason)
                           for mark in self.marks]
        record["check"] = self._check_dict()
        record["notes"] = list(self.notes)
        return record

    def _check_dict(self):
        from .evaluate import to_jsonable
        check = self.check
        if check is None:
            return {"method": "none", "passed": None, "max_abs_error": None, "failed_at": [], "formulas": {},
                    "notes": []}
        failed_at = []
        if check.failed is not None:
            grids = np.meshgrid(*self.axes) if len(self.axes) == 2 else self.axes
            failed_at = [to_jsonable([g[index] for g in grids]) for index in zip(*np.nonzero(check.failed))]
            failed_at = [p[0] if len(p) == 1 else p for p in failed_at]
        return {"method": check.method, "passed": check.passed, "max_abs_error": to_jsonable(check.max_abs_error),
                "failed_at": failed_at, "formulas": dict(check.formulas), "notes": list(check.notes)}


# --- sampling --------------------------------------------------------------------------------

def sample(expr, bindings, *, order=1, points=None, check=True, random_seed=None):
    """Sample `expr` over the swept variables of `bindings` ({name: text or value}); see the module doc.

    A binding whose text is a range (`-3:3`, `0:1:11`, `linspace(0,1,5)`) is swept; a variable
    left unbound is swept over DEFAULT_RANGE; at most two are swept. `points` replaces the default
    count of a range that gives none. Raises AutodiffError for bad input.
    """
    if order not in (1, 2):
        raise AutodiffError("usage", f"--order must be 1 or 2, not {order}")
    if points is not None and not 2 <= points <= limits.max_elements():
        raise AutodiffError("usage" if points < 2 else "limit",
                            f"--points {points}: a range needs at least 2 points" if points < 2 else
                            f"--points {points}: the limit is {limits.max_elements()} (set AUTODIFF_MAX_ELEMENTS "
                            f"to raise it)")
    program = parse(expr)
    rng = np.random.default_rng(random_seed)
    sweeps, fixed, notes = _split_bindings(program, bindings, points, rng)
    if len(sweeps) == 2 and order == 2:
        raise AutodiffError("usage", "--order 2 plots f'' of one variable; with two variables the plot shows "
                                     "the gradient field")
    grid_size = math.prod(s.count for s in sweeps)
    if grid_size > limits.max_elements():
        raise AutodiffError("limit", f"the grid would have {grid_size} points; the limit is {limits.max_elements()} "
                                     f"(set AUTODIFF_MAX_ELEMENTS to raise it)")
    with quiet_numpy():
        sampler = _Sampler(program, sweeps, fixed)
        samples = sampler.run(order)
        samples.notes[:0] = notes
        samples.marks = _singular_marks(program, sampler, samples)
        if check:
            samples.check = check_curve(program, sampler, samples)
            samples.marks.extend(_failure_marks(samples))
    return samples


def _split_bindings(program, bindings, points, rng):
    """(sweeps, fixed values, notes): ranges and unbound variables are swept, the rest are fixed."""
    texts = {name: value for name, value in bindings.items()}
    ranges = {}
    for name, value in texts.items():
        if isinstance(value, str):
            sweep = parse_sweep(name, value, default_count=points or DEFAULT_POINTS)
            if sweep is not None:
                ranges[name] = sweep
    notes = []
    unbound = [name for name in program.inputs if name not in texts]
    swept = [name for name in program.inputs if name in ranges] + unbound
    for name in ranges:
        if name not in program.inputs:
            raise AutodiffError("binding", f"{name} is swept but the expression does not use it "
                                           f"(its variables: {', '.join(program.inputs) or 'none'})")
    if len(swept) > MAX_SWEPT:
        names = ", ".join(swept)
        raise AutodiffError("usage", f"plot sweeps one or two variables, and {len(swept)} are free ({names})",
                            hint=f"bind the others to numbers, e.g. {swept[-1]}=1")
    if not swept:
        raise AutodiffError("usage", "nothing to plot against: bind a variable to a range",
                            hint=f"e.g. {(program.inputs or ['x'])[0]}=-3:3")
    default = points or (DEFAULT_POINTS if len(swept) == 1 else DEFAULT_POINTS_2D)
    sweeps = []
    for name in swept:
        if name in ranges:
            sweep = ranges[name]
            if len(swept) == 2 and points is None and sweep.count == DEFAULT_POINTS and not _has_count(texts[name]):
                sweep = Sweep(name, sweep.start, sweep.stop, DEFAULT_POINTS_2D)
        else:
            sweep = Sweep(name, *DEFAULT_RANGE, default)
            notes.append(f"{name} is not bound: swept over {DEFAULT_RANGE[0]:g}:{DEFAULT_RANGE[1]:g}")
        sweeps.append(sweep)
    fixed = {name: value_from_json(value, rng=rng, name=name)
             for name, value in texts.items() if name not in ranges and name in program.inputs}
    return sweeps, fixed, notes


def _has_count(text):
    match = _RANGE.match(text)
    return bool(match.group(3)) if match else text.count(",") == 2


class _Sampler:
    """Runs the program over the grid: vectorised when it is elementwise in the swept variables,
    else point by point. Keeps every node's values (grid-shaped leading axes) for the analysis."""

    def __init__(self, program, sweeps, fixed):
        self.program, self.sweeps, self.fixed = program, sweeps, fixed
        self.names = [s.name for s in sweeps]
        self.axes = [s.points() for s in sweeps]
        self.grids = np.meshgrid(*self.axes) if len(sweeps) == 2 else list(self.axes)
        self.shape = self.grids[0].shape
        self.why_not_vectorised = _not_elementwise(program, self.names, fixed)
        self.vectorised = self.why_not_vectorised is None
        self.node_values = {}       # id(node) -> array with the grid's shape as leading axes

    def run(self, order):
        if self.vectorised:
            value, firsts, second = self._vectorised(order)
            notes = []
        else:
            value, firsts, second = self._point_by_point(order)
            notes = [f"{self.why_not_vectorised}: evaluated point by point ({value.size} graphs)"]
        return Samples(self.program.source, self.names, self.axes, value, dict(zip(self.names, firsts)),
                       second, dict(self.fixed), self.vectorised, notes=notes)

    def forward(self, grids):
        """f on grids shaped like self.grids (no graph): for the finite-difference check."""
        with engine.no_grad():
            if self.vectorised:
                return self._grid_shaped(self._lower(grids)[0].data)
            value = np.empty(self.shape)
            for index in np.ndindex(*self.shape):
                out, _ = self._lower([g[index] for g in grids])
                value[index] = self._scalar(out)
            return value

    def _lower(self, point_values, on_node=None, requires_grad=False):
        leaves = {name: Tensor(v, requires_grad=requires_grad) for name, v in zip(self.names, point_values)}
        leaves.update({name: Tensor(v) for name, v in self.fixed.items()})
        out, _ = lower_to_engine(self.program, leaves, on_node=on_node)
        return out, leaves

    def _grid_shaped(self, data):
        data = np.asarray(data, dtype=np.float64)
        if data.shape not in ((), self.shape):
            raise AutodiffError("shape", f"the output has shape {data.shape} over a grid of {self.shape}: "
                                         f"plot needs one number per point", hint="reduce it with sum() or mean()")
        return np.broadcast_to(data, self.shape).copy()

    def _scalar(self, out):
        if out.size != 1:
            raise AutodiffError("shape", f"the output has shape {out.shape} at each point: plot needs one number "
                                         f"per point", hint="reduce it with sum() or mean()")
        return float(out.data.reshape(()))

    def _derivatives(self, out, leaves, order, seed):
        """First derivatives w.r.t. the swept leaves (and f'' for one variable), seeded with `seed`."""
        wanted = [leaves[name] for name in self.names]
        zeros = [np.zeros(np.shape(leaf.data)) for leaf in wanted]
        if not out.requires_grad:
            return zeros, (zeros[0] if order == 2 else None)
        firsts = engine.grad(out, wanted, grad_outputs=seed, create_graph=order == 2, allow_unused=True)
        second = None
        if order == 2:
            g = firsts[0]
            second = zeros[0]
            if g is not None and g.requires_grad:
                (h,) = engine.grad(g, [wanted[0]], grad_outputs=np.ones(np.shape(g.data)), allow_unused=True)
                second = zeros[0] if h is None else np.asarray(h.data)
        return [z if g is None else np.asarray(g.data) for g, z in zip(firsts, zeros)], second

    def _record(self, node, tensor):
        self.node_values[id(node)] = (node, tensor.data)

    def _vectorised(self, order):
        out, leaves = self._lower(self.grids, on_node=self._record, requires_grad=True)
        value = self._grid_shaped(out.data)
        self.node_values = {k: (node, np.broadcast_to(v, self.shape)) for k, (node, v) in self.node_values.items()}
        seed = np.ones(np.shape(out.data))
        firsts, second = self._derivatives(out, leaves, order, seed)
        firsts = [np.broadcast_to(g, self.shape).copy() for g in firsts]
        return value, firsts, (None if second is None else np.broadcast_to(second, self.shape).copy())

    def _point_by_point(self, order):
        value = np.empty(self.shape)
        firsts = [np.empty(self.shape) for _ in self.names]
        second = np.empty(self.shape) if order == 2 else None
        per_node = {}
        for index in np.ndindex(*self.shape):
            self.node_values = {}
            out, leaves = self._lower([g[index] for g in self.grids], on_node=self._record, requires_grad=True)
            value[index] = self._scalar(out)
            grads, h = self._derivatives(out, leaves, order, None)
            for array, g in zip(firsts, grads):
                array[index] = g
            if second is not None:
                second[index] = h
            for key, (node, v) in self.node_values.items():
                per_node.setdefault(key, (node, []))[1].append(np.asarray(v))
        self.node_values = {}
        for key, (node, values) in per_node.items():
            if len(values) == value.size and len({v.shape for v in values}) == 1:
                self.node_values[key] = (node, np.stack(values).reshape(self.shape + values[0].shape))
        return value, firsts, second


def _not_elementwise(program, swept, fixed):
    """Why the program is not elementwise in the swept variables (a short phrase), or None."""
    for name, value in fixed.items():
        if np.shape(value) != ():
            return f"{name} is an array of shape {np.shape(value)}"
    depends = set(swept)
    for statement in program.statements:
        touched = set()
        for node in postorder(statement.expr):
            if isinstance(node, Name):
                if node.id in depends:
                    touched.add(id(node))
                continue
            if not any(id(child) in touched for child in children(node)):
                continue
            touched.add(id(node))
            elementwise = (isinstance(node, Unary)
                           or (isinstance(node, Binary) and node.op in _ELEMENTWISE_BINARY)
                           or (isinstance(node, Call) and (node.func in _ELEMENTWISE_CALLS
                                                           or (node.func in ("max", "min") and len(node.args) == 2)
                                                           ) and getattr(node, "axis", None) is None))
            if not elementwise:
                what = node.func if isinstance(node, Call) else f"'{node.op}'"
                return f"{what} at column {column(node)} is not elementwise in {' and '.join(swept)}"
        if statement.name is not None and id(statement.expr) in touched:
            depends.add(statement.name)
    return None


# --- kinks, poles and non-finite values ------------------------------------------------------

def _singular_argument(node, args):
    """(kind, array whose zeros are where `node` is not differentiable or has a pole, why) or None.

    PyTorch's conventions give a number at these points (abs'(0) = 0, half the gradient to each
    side of a tie); the plot marks them so that nobody mistakes that number for a derivative.
    """
    if isinstance(node, Binary) and node.op == "/":
        return "pole", args[1], "division by zero"
    is_power = (isinstance(node, Binary) and node.op == "**") or (isinstance(node, Call) and node.func == "pow")
    if is_power:
        base, exponent = np.broadcast_arrays(*args)
        pole, steep = exponent < 0, (exponent > 0) & (exponent < 1)
        kind = "pole" if np.any(pole) else "kink"
        return kind, np.where(pole | steep, base, np.nan), "a power with base 0"
    if not isinstance(node, Call):
        return None
    if node.func in ("abs", "relu"):
        return "kink", args[0], f"{node.func} of 0"
    if node.func == "sqrt":
        return "kink", args[0], "sqrt of 0 (infinite slope)"
    if node.func in ("max", "min") and len(args) == 2:
        a, b = np.broadcast_arrays(*args)
        return "kink", a - b, f"{node.func} with tied arguments"
    if node.func == "log":
        return "pole", args[0], "log of 0"
    if node.func == "log1p":
        return "pole", args[0] + 1, "log1p of -1"
    if node.func == "tan":
        return "pole", np.cos(args[0]), "tan at an odd multiple of pi/2"
    if node.func in ("asin", "acos"):
        return "kink", 1 - np.square(args[0]), f"{node.func} at ±1 (infinite slope)"
    return None


def _crossings(s, axes):
    """Grid coordinates where the array `s` (grid axes first, then any element axes) is 0 or
    changes sign between neighbours: linear interpolation between the two points."""
    grid_ndim = len(axes)
    s = np.asarray(s, dtype=np.float64)
    points = []
    zero = np.any((s == 0).reshape(s.shape[:grid_ndim] + (-1,)), axis=-1)
    grids = np.meshgrid(*axes) if grid_ndim == 2 else axes
    for index in zip(*np.nonzero(zero)):
        points.append(tuple(float(g[index]) for g in grids))
    # 1-D: the only axis is x; 2-D grid (ny, nx): numpy axis 1 runs along x, axis 0 along y
    for numpy_axis, variable in ((0, 0),) if grid_ndim == 1 else ((1, 0), (0, 1)):
        flat = s.reshape(s.shape[:grid_ndim] + (-1,))     # element axes flattened into one
        left = np.take(flat, range(flat.shape[numpy_axis] - 1), axis=numpy_axis)
        right = np.take(flat, range(1, flat.shape[numpy_axis]), axis=numpy_axis)
        for index in zip(*np.nonzero(left * right < 0)):
            fraction = left[index] / (left[index] - right[index])
            grid_index = index[:grid_ndim]
            step = [0] * grid_ndim
            step[numpy_axis] = 1
            after = tuple(i + d for i, d in zip(grid_index, step))
            point = [float(g[grid_index]) for g in grids]
            point[variable] += fraction * float(grids[variable][after] - grids[variable][grid_index])
            points.append(tuple(point))
    return points


def _singular_marks(program, sampler, samples):
    """Kinks and poles from the recorded node values; notes for where nan/inf first appear."""
    marks = []
    values = sampler.node_values
    for key, (node, out) in values.items():
        args = [values[id(c)][1] for c in children(node) if id(c) in values]
        if len(args) != len(children(node)):
            continue
        found = _singular_argument(node, args)
        if found is None:
            continue
        kind, s, why = found
        snippet = program.source[node.start:node.end]
        for point in _crossings(s, sampler.axes):
            # rounding of the interpolation: 1e-18 where the crossing is at 0; + 0.0 turns -0.0 into 0
            point = tuple(0.0 if abs(p) < 1e-12 * (a[-1] - a[0]) else float(p) + 0.0
                          for p, a in zip(point, sampler.axes))
            marks.append(Mark(kind, point, f"{why}: {snippet} at column {column(node)}"))
    marks = _deduplicate(marks, sampler.axes)
    if len(marks) > MAX_MARKS:
        samples.notes.append(f"{len(marks)} singular points found; the first {MAX_MARKS} are marked")
        marks = marks[:MAX_MARKS]
    samples.notes.extend(_non_finite_notes(program, sampler, samples))
    return marks


def _deduplicate(marks, axes):
    tolerance = [1e-9 * (a[-1] - a[0]) for a in axes]
    kept = []
    for mark in sorted(marks, key=lambda m: m.at):
        if kept and kept[-1].kind == mark.kind and all(
                abs(p - q) <= t for p, q, t in zip(kept[-1].at, mark.at, tolerance)):
            continue
        kept.append(mark)
    return kept


def _non_finite_notes(program, sampler, samples):
    """Where nan/inf first appear, point by point: nodes whose inputs are finite and output is not."""
    grid_ndim = len(sampler.axes)
    values = sampler.node_values
    notes = []

    def finite_at(array):
        array = np.asarray(array)
        return np.all(np.isfinite(array).reshape(array.shape[:grid_ndim] + (-1,)), axis=-1)

    for node, out in values.values():
        if isinstance(node, (Name, Num)):
            continue
        origin = ~finite_at(out)
        for child in children(node):
            if id(child) in values:
                origin &= finite_at(values[id(child)][1])
        if origin.any():
            what = node.func if isinstance(node, Call) else node.op
            where = _where_text(samples, origin)
            notes.append(f"{what} at column {column(node)} ({program.source[node.start:node.end]}) is not "
                         f"finite at {int(origin.sum())} of {origin.size} points{where}")
    bad_derivative = np.zeros(sampler.shape, dtype=bool)
    for g in list(samples.derivatives.values()) + [samples.second_derivative]:
        if g is not None:
            bad_derivative |= ~np.isfinite(g) & np.isfinite(samples.value)
    if bad_derivative.any():
        notes.append(f"the derivative is not finite at {int(bad_derivative.sum())} points where the value is"
                     f"{_where_text(samples, bad_derivative)}")
    return notes


def _where_text(samples, mask):
    if len(samples.axes) != 1:
        return ""
    x = samples.axes[0][mask]
    name = samples.variables[0]
    return f" ({name} = {x[0]:.4g})" if x.size == 1 else f" ({name} from {x.min():.4g} to {x.max():.4g})"


# --- the check along the curve ---------------------------------------------------------------

def check_curve(program, sampler, samples):
    """Compare the engine's derivatives with SymPy's (lambdified once, evaluated over the grid), or
    with central finite differences of the forward pass when SymPy cannot serve."""
    notes = []
    found = _sympy_within_budget(program, sampler, samples, notes)
    if found is not None:
        return _judge(samples, found[0], "sympy", found[1], notes)
    return _judge(samples, _finite_difference_references(sampler, samples), "finite-difference", {}, notes)


def _sympy_within_budget(program, sampler, samples, notes):
    """(references, formulas) from SymPy, or None with the reason appended to `notes`."""
    from .timeouts import TimeLimitExceeded, time_limit
    budget = limits.check_time_budget()
    try:
        _require_small_for_sympy(program, sampler)
        with time_limit(budget):
            return _sympy_references(program, sampler, samples)
    except _Unsuitable as why:
        reason = f"SymPy not used: {why}"
    except TimeLimitExceeded:
        reason = f"SymPy needed more than {budget:g} s (AUTODIFF_CHECK_SECONDS)"
    # NameError: a function lambdify cannot print for numpy; the others: SymPy giving up
    except (NameError, TypeError, ValueError, NotImplementedError, ZeroDivisionError, OverflowError,
            RecursionError, AutodiffError) as err:
        reason = f"SymPy could not serve this ({type(err).__name__})"
    notes.append(f"{reason}; finite differences used instead")
    return None


class _Unsuitable(Exception):
    """SymPy is not used for this problem; the message says why."""


def _require_small_for_sympy(program, sampler):
    elements = sum(int(np.size(v)) for v in sampler.fixed.values())
    if elements > SYMPY_MAX_ELEMENTS:
        raise _Unsuitable(f"the fixed bindings have {elements} elements (SymPy is used up to {SYMPY_MAX_ELEMENTS})")
    nodes = sum(len(postorder(statement.expr)) for statement in program.statements)
    if nodes > SYMPY_MAX_NODES:
        raise _Unsuitable(f"the expression has {nodes} nodes (SymPy is used up to {SYMPY_MAX_NODES})")


def _sympy_references(program, sampler, samples):
    """{quantity: grid array} from SymPy's derivatives, and their formulas as text."""
    import sympy as sp
    from .language.functions import as_object_array

    symbols = [sp.Symbol(name, real=True) for name in sampler.names]
    env = {name: as_object_array(s) for name, s in zip(sampler.names, symbols)}
    exact = lambda v: sp.Integer(int(v)) if float(v).is_integer() and abs(v) < 2**53 else sp.Float(float(v))
    for name, value in sampler.fixed.items():
        env[name] = as_object_array(np.frompyfunc(exact, 1, 1)(np.asarray(value, dtype=np.float64)))
    output, _ = lower_to_sympy(program, env)
    if np.size(output) != 1:
        raise _Unsuitable(f"the SymPy output has shape {np.shape(output)}")
    f = np.ravel(output)[0]
    wanted = {name: sp.diff(f, s) for name, s in zip(sampler.names, symbols)}
    if samples.second_derivative is not None:
        wanted[f"{sampler.names[0]},{sampler.names[0]}"] = sp.diff(wanted[sampler.names[0]], symbols[0])
    # the derivative of a kink is a DiracDelta at the kink: 0 everywhere numpy can evaluate it (the
    # kink itself is marked and not judged)
    modules = [{"DiracDelta": lambda x, *order: np.zeros(np.shape(x))}, "numpy"]
    references, formulas = {}, {}
    for key, derivative in wanted.items():
        text = str(derivative)
        formulas[key] = text if len(text) <= 400 else None
        function = sp.lambdify(symbols, derivative, modules=modules)
        with np.errstate(all="ignore"):
            reference = np.asarray(function(*sampler.grids), dtype=np.complex128)
        # a real symbol's formula can still go complex in numpy (sqrt of a negative): not a real number
        reference = np.where(np.abs(reference.imag) > 0, np.nan, reference.real)
        references[key] = np.broadcast_to(reference, sampler.shape).astype(np.float64)
    return references, formulas


def _finite_difference_references(sampler, samples):
    """Central differences of the engine's forward pass over the whole grid (one pass per shift)."""
    references = {}
    for k, name in enumerate(sampler.names):
        h = 1e-6 * np.maximum(1.0, np.abs(sampler.grids[k]))
        plus = [g + h if i == k else g for i, g in enumerate(sampler.grids)]
        minus = [g - h if i == k else g for i, g in enumerate(sampler.grids)]
        references[name] = (sampler.forward(plus) - sampler.forward(minus)) / (2 * h)
    if samples.second_derivative is not None:
        x = sampler.grids[0]
        h = 1e-4 * np.maximum(1.0, np.abs(x))
        name = sampler.names[0]
        references[f"{name},{name}"] = (sampler.forward([x + h]) - 2 * samples.value + sampler.forward([x - h])) / h**2
    return references


def _judge(samples, references, method, formulas, notes):
    """Per point: agree, disagree, or cannot judge (value not finite, or next to a singular point)."""
    engine_values = dict(samples.derivatives)
    if samples.second_derivative is not None:
        name = samples.variables[0]
        engine_values[f"{name},{name}"] = samples.second_derivative
    failed = np.zeros(samples.value.shape, dtype=bool)
    worst = 0.0
    excused = ~np.isfinite(samples.value) | _near_marks(samples)
    for key, reference in references.items():
        a, b = engine_values[key], reference
        both_nan = np.isnan(a) & np.isnan(b)
        same_inf = np.isinf(a) & (a == b)
        diff = np.where(both_nan | same_inf, 0.0, np.abs(a - b))
        diff = np.where(np.isnan(diff), np.inf, diff)
        scale = np.maximum(np.abs(np.where(np.isfinite(a), a, 0)), np.abs(np.where(np.isfinite(b), b, 0)))
        if method == "sympy":
            ok = diff <= ATOL + RTOL * scale
        else:
            ok = diff <= (FD2_TOL if "," in key else FD_TOL) * np.maximum(1.0, scale)
        if method != "sympy":
            excused |= ~np.isfinite(b)   # a difference across nan/inf says nothing
        judged = ~excused
        failed |= ~ok & judged
        if judged.any():
            worst = max(worst, float(np.max(np.where(judged, diff, 0.0))))
    passed = None if excused.all() else not bool(failed.any())
    skipped = int(excused.sum())
    if skipped:
        notes.append(f"{skipped} of {excused.size} points not judged (value not finite, or next to a kink or pole)")
    return CurveCheck(method, passed, worst, failed, formulas, notes)


def _near_marks(samples):
    """Grid points next to a kink or pole: a symbolic or numerical derivative there is not comparable."""
    near = np.zeros(samples.value.shape, dtype=bool)
    for mark in samples.marks:
        index = []
        for axis, coordinate in zip(samples.axes, mark.at):
            i = int(np.clip(np.searchsorted(axis, coordinate), 0, axis.size - 1))
            index.append(slice(max(i - 1, 0), i + 1))
        near[tuple(reversed(index)) if len(index) == 2 else tuple(index)] = True
    return near


def _failure_marks(samples):
    if samples.check is None or samples.check.failed is None or not samples.check.failed.any():
        return []
    grids = np.meshgrid(*samples.axes) if len(samples.axes) == 2 else samples.axes
    return [Mark("check failed", tuple(float(g[index]) for g in grids),
                 f"the engine's derivative and the {samples.check.method} check disagree here")
            for index in list(zip(*np.nonzero(samples.check.failed)))[:MAX_MARKS]]
