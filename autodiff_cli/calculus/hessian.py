"""hessian: every second derivative of a scalar output, by double backward (and the gradient)."""
from dataclasses import dataclass, field

import numpy as np

from .. import engine
from ..result import Payload, element_labels, json_array
from ..settings import limits
from .mode import Computed, Mode, forward_pass, traced, gradient_row, require_room, require_scalar, unit_seeds


@dataclass
class HessianPayload(Payload):
    hessian: dict = field(default_factory=dict)     # {row name: {column name: block}}
    shapes: dict = field(default_factory=dict)      # {name: shape}

    def matrix(self):
        """(element labels, the full Hessian as one matrix in that order) from the nested blocks."""
        names = list(self.hessian)
        sizes = [int(np.prod(self.shapes[n], dtype=int)) for n in names]
        labels = [label for n in names for label in element_labels(n, self.shapes[n])]
        rows = [np.concatenate([np.reshape(self.hessian[r][c], (size, -1)) for c in names], axis=1)
                for r, size in zip(names, sizes)]
        return labels, (np.concatenate(rows, axis=0) if rows else np.zeros((0, 0)))

    def record(self, result):
        labels, matrix = self.matrix()
        return {"hessian": {r: {c: json_array(b) for c, b in row.items()} for r, row in self.hessian.items()},
                "hessian_variables": labels, "hessian_matrix": json_array(matrix)}


class Hessian(Mode):
    name = "hessian"
    summary = "All second derivatives of a scalar EXPR (double backward)."
    shows = ("graph", "dot")
    examples = ('autodiff hessian "x**2*y + y**3" x=1 y=2',
                'autodiff hessian "sum(x**3)" "x=[1,2,3]" --json')

    def compute(self, bound):
        output, leaves, _, visited = forward_pass(bound)
        require_scalar(output.data, "the Hessian needs a scalar output",
                       "reduce it with sum()/mean(), or use the jacobian command")
        wanted = [leaves[n] for n in bound.wrt]
        require_room("Hessian", sum(leaf.size for leaf in wanted) ** 2)
        first = (engine.grad(output, wanted, create_graph=True, allow_unused=True)
                 if output.requires_grad else [None] * len(wanted))
        hessian, gradients = {}, {}
        for row, g in zip(bound.wrt, first):
            row_shape = np.shape(leaves[row].data)
            blocks = {col: np.zeros(row_shape + np.shape(leaves[col].data)) for col in bound.wrt}
            if g is not None and g.requires_grad and g.size and all(leaf.size for leaf in wanted):
                for k, seed in enumerate(unit_seeds(row_shape)):
                    second = engine.grad(g, wanted, grad_outputs=seed, retain_graph=True, allow_unused=True)
                    for col, s in zip(bound.wrt, second):
                        if s is not None:
                            blocks[col].reshape((-1,) + np.shape(leaves[col].data))[k] = s.data
            hessian[row] = blocks
            gradients[row] = np.zeros(row_shape) if g is None else np.asarray(g.data)
        payload = HessianPayload(hessian, {n: np.shape(bound.values[n]) for n in bound.wrt})
        return Computed(np.asarray(output.data, dtype=np.float64), gradients, payload, visited=visited,
                        **traced(bound, output, leaves))

    def entries(self, result):
        """Per variable: its gradient, then its rows of the Hessian (as the reference derives them)."""
        parts = []
        for name in result.wrt:
            parts.append(np.ravel(result.gradients[name]))
            rows = int(np.size(result.inputs[name]))
            parts.append(np.concatenate([np.reshape(result.hessian[name][col], (rows, -1)) for col in result.wrt],
                                        axis=1).ravel())
        return np.concatenate(parts)

    def reference_entries(self, name, functions, by, labels, out_labels, wrt, **_):
        found = by(name, functions[0])          # the first derivatives are judged too
        shown = [d for d, _ in found]
        names = [(label, {name}) for label in labels[name]]
        for (d, _), row in zip(list(found), labels[name]):
            for col_name in wrt:
                found += by(col_name, d)
                names += [(f"{row}/{col}", {name, col_name}) for col in labels[col_name]]
        return found, names, shown

    def finite_difference_problems(self, result, value_of, forward, gradient_of):
        labels, matrix = result.payload.matrix()
        return [(value_of, gradient_row(result)), (gradient_of, matrix)]

    def symbolic_size_problem(self, result):
        elements = sum(int(np.size(result.inputs[n])) for n in result.wrt)
        if elements > limits.SYMPY_MAX_SECOND_ORDER:
            return f"a Hessian in {elements} variables is too large to expand symbolically"
        return None


MODE = Hessian()
