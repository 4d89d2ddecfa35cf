"""jacobian: d output / d input for any output shape, one backward per output element."""
from dataclasses import dataclass, field

import numpy as np

from .. import engine
from ..result import Payload, json_array
from .mode import Computed, OutputShaped, forward_pass, require_room, traced, unit_seeds


@dataclass
class JacobianPayload(Payload):
    jacobian: dict = field(default_factory=dict)      # {name: array of shape output + input}

    def record(self, result):
        return {"jacobian": {k: json_array(v) for k, v in self.jacobian.items()}}

    def scalar_gradients(self, result):
        """A scalar output's Jacobian is its gradient."""
        if np.size(result.value) != 1:
            return None
        return {k: np.reshape(v, np.shape(result.inputs[k])) for k, v in self.jacobian.items()}


class Jacobian(OutputShaped):
    name = "jacobian"
    summary = "The full Jacobian of EXPR (any output shape) w.r.t. its input variables."
    shows = ("graph", "dot")
    examples = ('autodiff jacobian "x*y" "x=[1,2]" y=3',
                'autodiff jacobian "A @ x" "A=[[1,2],[3,4]]" "x=[1,1]" --wrt x',
                'autodiff jacobian "[x*y, x+y, sin(x)]" x=1 y=2')

    def compute(self, bound):
        output, leaves, _, visited = forward_pass(bound)
        out_shape = np.shape(output.data)
        wanted = [leaves[n] for n in bound.wrt]
        require_room("Jacobian", output.size * sum(leaf.size for leaf in wanted))
        blocks = {n: np.zeros(out_shape + np.shape(leaves[n].data)) for n in bound.wrt}
        if output.requires_grad and output.size and all(leaf.size for leaf in wanted):
            for k, seed in enumerate(unit_seeds(out_shape)):
                row = engine.grad(output, wanted, grad_outputs=seed, retain_graph=True, allow_unused=True)
                for name, g in zip(bound.wrt, row):
                    if g is not None:
                        blocks[name].reshape((-1,) + np.shape(leaves[name].data))[k] = g.data
        return Computed(np.asarray(output.data, dtype=np.float64), {}, JacobianPayload(blocks), visited=visited,
                        **traced(bound, output, leaves))

    def entries(self, result):
        return np.concatenate([np.ravel(result.jacobian[name]) for name in result.wrt])

    def symbolic_functions(self, outputs, seed_symbols, add):
        return outputs

    def reference_entries(self, name, functions, by, labels, out_labels, wrt, **_):
        found, names = [], []
        for f, out_label in zip(functions, out_labels):
            found += by(name, f)
            names += [(f"{out_label}/{label}", {name}) for label in labels[name]]
        return found, names, [d for d, _ in found]

    def finite_difference_problems(self, result, value_of, forward, gradient_of):
        jacobian = np.concatenate([np.reshape(result.jacobian[n], (np.size(result.value), -1)) for n in result.wrt],
                                  axis=1)
        return [(lambda xs: [np.ravel(y) for y in forward(xs)], jacobian)]


MODE = Jacobian()
