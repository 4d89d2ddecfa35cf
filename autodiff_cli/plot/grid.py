"""Run a program over a grid of points: vectorised when it is elementwise in the swept variables,
else point by point; of every node's values only what the marks need is kept (the arguments of
kinks and poles whole, of the other nodes where they are finite). `point_cost` is what a grid point
costs, for the budget checked before sampling (AUTODIFF_MAX_PLOT_VALUES)."""
import numpy as np

from .. import engine
from ..engine import Tensor
from ..errors import AutodiffError
from ..language import lower_to_engine
from ..language.lowering import overload_of
from ..language.nodes import Binary, Call, Name, Unary, children, column, label
from .samples import Samples


POINT_VALUES = 64        # numbers a vectorised pass keeps per grid point beside its nodes (grids, f, f', f'',
                         # the check's references, the drawing's copies): ~0.5 KB, as measured
NODE_VALUES = 2          # vectorised: a node's value and gradient at each point
GRAPH_NODE_COST = 1000   # point by point: one graph node per point costs the Python work of ~1000 values


def point_cost(program, fixed, vectorised):
    """What one grid point costs, in stored values: the budget of a plot is AUTODIFF_MAX_PLOT_VALUES
    of them (limits.max_plot_values, checked before sampling). Point by point, a graph of the program is built at every point,
    and the arguments of kinks and poles (all the marks need of a node's values) are kept whole."""
    nodes = sum(len(statement.postorder()) for statement in program.statements)
    if vectorised:
        return POINT_VALUES + NODE_VALUES * nodes
    largest = max([int(np.size(v)) for v in fixed.values()] + [1])
    return POINT_VALUES + GRAPH_NODE_COST * nodes + largest * len(marked_arguments(program))


def marked_arguments(program):
    """ids of the nodes whose values the marks need whole: the arguments of ops with a kink or a
    pole (their `where` is computed from them). Of every other node only finiteness is needed."""
    wanted = set()
    for statement in program.statements:
        for node in statement.postorder():
            spec = overload_of(node) if isinstance(node, (Binary, Unary, Call)) else None
            if spec is not None and any(what is not None and what.where is not None for what in (spec.kink, spec.pole)):
                wanted.update(id(child) for child in children(node))
    return wanted


class Sampler:
    """Runs the program over the grid: vectorised when it is elementwise in the swept variables,
    else point by point. Keeps every node's values (grid-shaped leading axes) for the analysis."""

    def __init__(self, program, sweeps, fixed):
        self.program, self.sweeps, self.fixed = program, sweeps, fixed
        self.names = [s.name for s in sweeps]
        self.axes = [s.points() for s in sweeps]
        self.grids = np.meshgrid(*self.axes) if len(sweeps) == 2 else list(self.axes)
        self.shape = self.grids[0].shape
        self.why_not_vectorised = not_elementwise(program, self.names, fixed)
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
        wanted = marked_arguments(self.program)      # kept whole; of the others only finiteness
        self.node_values = {k: (node, np.broadcast_to(v if k in wanted else _finiteness(v), self.shape))
                            for k, (node, v) in self.node_values.items()}
        seed = np.ones(np.shape(out.data))
        firsts, second = self._derivatives(out, leaves, order, seed)
        firsts = [np.broadcast_to(g, self.shape).copy() for g in firsts]
        return value, firsts, (None if second is None else np.broadcast_to(second, self.shape).copy())

    def _point_by_point(self, order):
        value = np.empty(self.shape)
        firsts = [np.empty(self.shape) for _ in self.names]
        second = np.empty(self.shape) if order == 2 else None
        per_node = {}
        wanted = marked_arguments(self.program)      # kept whole; of the others only finiteness
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
                v = np.asarray(v)
                kept = v if key in wanted else (0.0 if np.isfinite(v).all() else np.nan, v.shape)
                per_node.setdefault(key, (node, []))[1].append(kept)
            del out, leaves
        self.node_values = {}
        for key, (node, values) in per_node.items():
            if len(values) != value.size:
                continue
            if key in wanted:
                if len({v.shape for v in values}) == 1:
                    self.node_values[key] = (node, np.stack(values).reshape(self.shape + values[0].shape))
            elif len({shape for _, shape in values}) == 1:
                self.node_values[key] = (node, np.array([f for f, _ in values]).reshape(self.shape))
        return value, firsts, second


def _finiteness(values):
    """A stand-in for a node's values keeping what the marks need of it: 0 where finite, else nan."""
    return np.where(np.isfinite(values), 0.0, np.nan) if np.ndim(values) else (0.0 if np.isfinite(values) else np.nan)


def not_elementwise(program, swept, fixed):
    """Why the program is not elementwise in the swept variables (a short phrase), or None."""
    for name, value in fixed.items():
        if np.shape(value) != ():
            return f"{name} is an array of shape {np.shape(value)}"
    depends = set(swept)
    for statement in program.statements:
        touched = set()
        for node in statement.postorder():
            if isinstance(node, Name):
                if node.id in depends:
                    touched.add(id(node))
                continue
            if not any(id(child) in touched for child in children(node)):
                continue
            touched.add(id(node))
            # the op table says which ops act element by element (with x bound to a grid, node i
            # then sees only point i); sum, mean, max(a), dot, @ ... touching x mean point by point
            spec = overload_of(node)           # None: unary plus, the identity
            if spec is not None and not spec.elementwise:
                what = label(node)
                return f"{what} at column {column(node)} is not elementwise in {' and '.join(swept)}"
        if statement.name is not None and id(statement.expr) in touched:
            depends.add(statement.name)
    return None
