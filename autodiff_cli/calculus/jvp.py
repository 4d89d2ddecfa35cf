"""jvp: the value and J.t in one forward pass (forward mode, as torch.func.jvp)."""
from dataclasses import dataclass, field

import numpy as np

from ..engine import forward
from ..errors import AutodiffError
from ..inputs import value_of_shape
from ..language import lower_to_engine
from ..result import Payload, json_array
from .mode import Computed, Mode


@dataclass
class JvpPayload(Payload):
    tangents: dict = field(default_factory=dict)      # {var: ndarray}, zeros where not given
    jvp: np.ndarray | None = None                     # J.t, shaped like the value

    def record(self, result):
        return {"tangents": {k: json_array(v) for k, v in self.tangents.items()}, "jvp": json_array(self.jvp)}


class Jvp(Mode):
    name = "jvp"
    summary = "Forward mode: the Jacobian-vector product J.t in one forward pass."
    options = {"tangents": None}
    examples = ('autodiff jvp "sin(x)*y" x=1 y=2 --tangent x=1 --tangent y=0',
                'autodiff jvp "softmax(W)" "W=[[1,2],[3,4]]" --tangent "W=[[1,0],[0,1]]" --json',
                '(a variable without --tangent has tangent zero)')
    verified_per_entry = False

    def compute(self, bound, *, tangents):
        tangents = _tangents(tangents, bound.values, bound.wrt, bound.rng)
        names = list(bound.program.inputs)
        visited = [] if (bound.trace or bound.check) else None
        on_node = (lambda node, t: visited.append((node, t))) if visited is not None else None

        def program_output(*tensors):
            output, _ = lower_to_engine(bound.program, dict(zip(names, tensors)), on_node=on_node)
            return output

        given = [tangents.get(name, np.zeros(np.shape(bound.values[name]))) for name in names]
        output, tangent = forward.jvp(program_output, [bound.values[n] for n in names], given)
        payload = JvpPayload(tangents, np.asarray(tangent.data, dtype=np.float64))
        return Computed(np.asarray(output.data, dtype=np.float64), {}, payload, visited=visited)


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
