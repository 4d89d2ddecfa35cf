"""Where a sampled function is not differentiable or not finite, found from the recorded node values.

Kinks and poles: the op table's `kink.where` / `pole.where` of each node's argument values (abs's
argument, a max's a - b, a denominator, ...) changing sign between grid points or hitting 0 on one;
non-finite origins: nodes whose inputs are finite and output is not, point by point
(the engine's rule, per point).
"""
import itertools

import numpy as np

from ..language.lowering import overload_of
from ..language.nodes import Binary, Call, Name, Num, Unary, children, column, label
from .samples import Mark

MAX_MARKS = 2000              # singular points kept (a 2-D kink line has about one per grid row)


def _singular_arguments(node, args):
    """[(kind, array whose zeros are where `node` is not differentiable or has a pole, why)], from the
    `kink` and `pole` entries of its op in the op table (engine/ops.py).

    PyTorch's conventions give a number at these points (abs'(0) = 0, half the gradient to each
    side of a tie); the plot marks them so that nobody mistakes that number for a derivative.
    """
    spec = overload_of(node) if isinstance(node, (Binary, Unary, Call)) else None
    if spec is None:
        return []
    return [(kind, what.where(*args), what.text) for kind, what in (("kink", spec.kink), ("pole", spec.pole))
            if what is not None and what.where is not None]


def _crossings(s, axes, limit=None):
    """Where the array `s` (grid axes first, then any element axes) is 0 or changes sign between
    neighbours: ([(edges, point)], how many there are), the point interpolated linearly, `edges`
    the grid edges it lies on (an edge: (numpy axis, index of its first point)); an exact 0 touches
    the edges around it. At most `limit` are made (abs(0*x) at 10^6 points has 10^6 of them)."""
    grid_ndim = len(axes)
    flat = np.asarray(s, dtype=np.float64)
    flat = flat.reshape(flat.shape[:grid_ndim] + (-1,))          # element axes flattened into one
    grids = np.meshgrid(*axes) if grid_ndim == 2 else axes
    # 1-D: the only axis is x; 2-D grid (ny, nx): numpy axis 1 runs along x, axis 0 along y
    directions = ((0, 0),) if grid_ndim == 1 else ((1, 0), (0, 1))
    found = []
    zeros = np.nonzero(np.any(flat == 0, axis=-1))
    total = int(zeros[0].size)
    for index in itertools.islice(zip(*zeros), limit):
        edges = [(axis, _step(index, axis, -1)) for axis, _ in directions if index[axis] > 0]
        edges += [(axis, index) for axis, _ in directions if index[axis] < flat.shape[axis] - 1]
        found.append((edges, tuple(float(g[index]) for g in grids)))
    for axis, variable in directions:
        left = np.take(flat, range(flat.shape[axis] - 1), axis=axis)
        right = np.take(flat, range(1, flat.shape[axis]), axis=axis)
        changes = np.nonzero(left * right < 0)
        total += int(changes[0].size)
        room = None if limit is None else max(limit - len(found), 0)
        for index in itertools.islice(zip(*changes), room):
            fraction = left[index] / (left[index] - right[index])
            start = index[:grid_ndim]
            point = [float(g[start]) for g in grids]
            point[variable] += fraction * float(grids[variable][_step(start, axis, 1)] - grids[variable][start])
            found.append(([(axis, start)], tuple(point)))
    return found, total


def _step(index, axis, by):
    return tuple(i + by if k == axis else i for k, i in enumerate(index))


def singular_marks(program, sampler, samples):
    """Kinks and poles from the recorded node values; notes for where nan/inf first appear.

    An argument that jumps through a pole (1/x at 0) changes sign without passing through 0, so a
    sign change on a grid edge where some input of the node has a pole is not taken for a zero:
    abs(1/x) has no kink at 0.
    """
    marks = []
    values = sampler.node_values
    statement_of = {s.name: s.expr for s in program.statements if s.name is not None}
    pole_edges = {}          # id(node) -> edges where the node or anything it is computed from has a pole
    unmade = 0               # crossings past the cap, never made into marks
    for key, (node, out) in values.items():
        inputs = list(children(node)) + ([statement_of[node.id]] if isinstance(node, Name) and
                                         node.id in statement_of else [])
        inherited = set().union(*(pole_edges.get(id(c), set()) for c in inputs))
        pole_edges[key] = inherited
        args = [values[id(c)][1] for c in children(node) if id(c) in values]
        found = _singular_arguments(node, args) if len(args) == len(children(node)) else []
        snippet = program.source[node.start:node.end]
        for kind, s, why in found:
            crossings, total = _crossings(s, sampler.axes, limit=2 * MAX_MARKS)
            unmade += total - len(crossings)
            for edges, point in crossings:
                if inherited.intersection(edges):
                    continue
                if kind == "pole":
                    pole_edges[key] = pole_edges[key] | set(edges)
                # rounding of the interpolation: 1e-18 where the crossing is at 0; + 0.0 turns -0.0 into 0
                point = tuple(0.0 if abs(p) < 1e-12 * (a[-1] - a[0]) else float(p) + 0.0
                              for p, a in zip(point, sampler.axes))
                marks.append(Mark(kind, point, f"{why}: {snippet} at column {column(node)}"))
    marks = _deduplicate(marks, sampler.axes)
    if len(marks) > MAX_MARKS or unmade:
        samples.notes.append(f"{len(marks) + unmade}{' or so' if unmade else ''} singular points found; "
                             f"the first {min(MAX_MARKS, len(marks))} are marked")
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
            what = label(node, quote=False)
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
