"""jvp: the value and J.t in one forward pass (forward mode, as torch.func.jvp)."""
from dataclasses import dataclass, field

import numpy as np

from ..engine import Tensor, forward
from ..errors import AutodiffError
from ..inputs import value_of_shape
from ..language import lower_to_engine
from ..result import Payload, json_array
from ..verify.finite_difference import Stencil
from .mode import Computed, OutputShaped


@dataclass
class JvpPayload(Payload):
    tangents: dict = field(default_factory=dict)      # {var: ndarray}, zeros where not given
    jvp: np.ndarray | None = None                     # J.t, shaped like the value

    def record(self, result):
        return {"tangents": {k: json_array(v) for k, v in self.tangents.items()}, "jvp": json_array(self.jvp)}


class Jvp(OutputShaped):
    name = "jvp"
    summary = "Forward mode: the Jacobian-vector product J.t in one forward pass."
    options = {"tangents": None}
    examples = ('autodiff jvp "sin(x)*y" x=1 y=2 --tangent x=1 --tangent y=0',
                'autodiff jvp "softmax(W)" "W=[[1,2],[3,4]]" --tangent "W=[[1,0],[0,1]]" --json',
                '(a variable without --tangent has tangent zero)')

    def compute(self, bound, *, tangents):
        tangents = _tangents(tangents, bound.values, bound.wrt, bound.rng)
        # Only the differentiated variables are primals (as with torch.func.jvp, the rest are
        # constants of the function, with no tangent): a constant at a pole (log(w) at w = 0) would
        # otherwise give 0 * inf = nan in every element of J.t.
        names = [name for name in bound.program.inputs if name in bound.wrt]
        constants = {name: Tensor(value) for name, value in bound.values.items() if name not in bound.wrt}
        visited = [] if (bound.trace or bound.check) else None
        on_node = (lambda node, t: visited.append((node, t))) if visited is not None else None

        def program_output(*tensors):
            output, _ = lower_to_engine(bound.program, {**constants, **dict(zip(names, tensors))}, on_node=on_node)
            return output

        given = [tangents[name] for name in names]
        output, tangent = forward.jvp(program_output, [bound.values[n] for n in names], given)
        payload = JvpPayload(tangents, np.asarray(tangent.data, dtype=np.float64))
        return Computed(np.asarray(output.data, dtype=np.float64), {}, payload, visited=visited)


    # The check: every element of J.t is an entry (all of them in the first variable's block, each
    # involving every variable); the tangents are symbols, as grad's seed is, so that one derivation
    # serves every point and every tangent.

    def entries(self, result):
        return np.ravel(result.jvp)

    def symbolic_parameters(self, result, seed):
        return np.concatenate([np.ravel(result.tangents[name]) for name in result.wrt]).astype(np.float64)

    def symbolic_functions(self, outputs, seed_symbols, add):
        return outputs

    def reference_entries(self, name, functions, by, labels, out_labels, wrt, *, result, parameters):
        shown = [d for f in functions for d, _ in by(name, f)]        # the Jacobian's columns of `name`
        if name != wrt[0]:
            return [], [], shown
        tangent, start = {}, 0
        for n in wrt:
            count = len(labels[n])
            tangent[n] = parameters[start:start + count]
            start += count
        found = []
        for f in functions:
            terms, sizes = [], []
            for n in wrt:
                for (d, size), t in zip(by(n, f), tangent[n]):
                    terms.append(d * t)
                    sizes.append(size * abs(t))
            found.append((sum(terms[1:], terms[0]), sum(sizes[1:], sizes[0])))
        return found, [(label, set(wrt)) for label in out_labels], shown

    def finite_difference_problems(self, result, value_of, forward, gradient_of):
        t = np.concatenate([np.ravel(result.tangents[n]) for n in result.wrt]).astype(np.float64)
        labels = [f"f{list(i)}".replace(" ", "") for i in np.ndindex(*np.shape(result.value))] or ["f"]
        if np.shape(result.value) == ():
            labels = ["f"]
        moved = {n for n in result.wrt if np.any(result.tangents[n] != 0)}
        return [Stencil(labels, moved, np.ravel(result.jvp)[:, None], [(t, 1)])]


MODE = Jvp()


def _tangents(tangents, values, wrt, rng):
    """The tangent of every differentiated variable: given ones checked against its shape, zeros for the rest."""
    given = tangents or {}
    if not isinstance(given, dict):
        raise AutodiffError("usage", "tangents must map variable names to values, e.g. {\"x\": 1}")
    for name in given:
        if name not in wrt:
            known = ", ".join(wrt) or "none"
            raise AutodiffError("usage", f"a tangent is given for {name!r}, which is not a variable being "
                                         f"differentiated (those are: {known})")
    out = {}
    for name in wrt:
        if name not in given:
            out[name] = np.zeros(np.shape(values[name]))
            continue
        out[name] = value_of_shape(given[name], np.shape(values[name]), rng=rng, name=f"tangent of {name}",
                                   must=f"{name} has shape {np.shape(values[name])}",
                                   hint="a tangent has its variable's shape")   # refused before it is built
    return out
