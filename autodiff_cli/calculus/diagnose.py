"""What the forward pass tells about the point: kinks it went through, and where nan/inf first appeared.

    kinks(source, visited, data) -> [(tree node, text)]      the verifier excuses the entries under each
    non_finite_origins(program, computed) -> [text]           warnings for a nan or inf value or gradient

`visited` is (tree node, x) in evaluation order; data(x) is x's value (x.data for a Tensor, a slot's
value for the compiled tape). plot/singular.py asks the same questions of whole grids of points.
"""
import numpy as np

from .. import engine
from ..engine import Tensor
from ..language import lower_to_engine
from ..language.lowering import overload_of
from ..language.nodes import Binary, Call, Name, Num, Unary, children, column, label

MAX_ORIGINS = 5


def tensor_data(tensor):
    return tensor.data


def kinks(source, visited, data=None):
    """Non-differentiable points the forward pass went through, as the op table describes them:
    (tree node, description) pairs (the check excuses the derivative entries under the node)."""
    data = data or tensor_data
    values = None            # tree node id -> its x, built only if some op has kinks
    found = []
    for node, x in visited:
        if not isinstance(node, (Binary, Unary, Call)):
            continue
        spec = overload_of(node)
        if spec is None or spec.kink is None:
            continue
        if values is None:
            values = {id(n): t for n, t in visited}
        params = {"axis": node.axis} if isinstance(node, Call) and node.axis is not None else {}
        if isinstance(node, Call) and node.keepdims:
            params["keepdims"] = True
        arguments = (np.asarray(data(values[id(c)])) for c in children(node))
        if np.any(spec.kink.found(np.asarray(data(x)), *arguments, **params)):
            name = node.func if isinstance(node, Call) else f"'{node.op}'"
            found.append((node, f"{name} at column {column(node)} ({source[node.start:node.end]}) "
                                f"{spec.kink.situation}; PyTorch's convention {spec.kink.convention} was used"))
    return found


def non_finite_warnings(program, values, computed):
    """Warnings for a value or gradient that is not finite: where nan/inf first appeared, and which
    gradients are not finite (none: [])."""
    bad_gradients = [name for name, g in computed.gradients.items() if not np.isfinite(g).all()]
    if not bad_gradients and np.isfinite(computed.value).all():
        return []
    shown = (_as_values(computed.visited, computed.data) if computed.visited is not None
             else _replay(program, values))
    return (_non_finite_origins(program.source, shown)
            + [f"the gradient of {name} is not finite" for name in bad_gradients])


def _as_values(visited, data):
    """(tree node, value) pairs from (tree node, x) pairs, each x's value read once."""
    data = data or tensor_data
    cache = {}
    out = []
    for node, x in visited:
        key = x if isinstance(x, int) else id(x)
        if key not in cache:
            cache[key] = np.asarray(data(x))
        out.append((node, cache[key]))
    return out


def _replay(program, values):
    """The forward pass again, recording every node: only needed to explain a nan or inf.
    (Values are read per Tensor by _as_values, so a name of an intermediate shares its value's
    identity: a 0-d result's data is a numpy scalar, and np.asarray makes a new array per call.)"""
    visited = []
    with engine.no_grad():
        lower_to_engine(program, {n: Tensor(v) for n, v in values.items()},
                        on_node=lambda node, t: visited.append((node, t)))
    return _as_values(visited, None)


def _non_finite_origins(source, visited):
    """Where nan/inf first appeared: the nodes whose inputs were finite but whose output is not."""
    finite, value_of = {}, {}
    found = []
    computed = set()   # values some node computed: a name referring to one is not an origin
    for node, value in visited:
        ok = bool(np.isfinite(value).all())
        finite[id(node)] = ok
        value_of[id(node)] = value
        if not isinstance(node, Name):
            computed.add(id(value))
        if ok or not all(finite.get(id(c), True) for c in children(node)):
            continue
        if isinstance(node, Num):
            found.append(f"the number at column {column(node)} is {describe_value(value)}")
            continue
        if isinstance(node, Name):   # an input given as nan/inf (an intermediate was reported where computed)
            message = f"the input {node.id} is {describe_value(value)}"
            if id(value) not in computed and message not in found:
                found.append(message)
            continue
        args = ", ".join(describe_value(value_of[id(c)]) for c in children(node) if id(c) in value_of)
        found.append(f"{label(node, quote=False)} at column {column(node)} ({source[node.start:node.end]}) "
                     f"produced {describe_value(value)}" + (f" from {args}" if args else ""))
        if len(found) >= MAX_ORIGINS:
            break
    return found


def describe_value(value):
    """A number as %g, or an array by its shape and whether it holds nan or inf."""
    array = np.asarray(value)
    if array.size == 1:
        return f"{array.item():g}"
    kinds = [k for k, bad in (("nan", np.isnan(array)), ("inf", np.isinf(array))) if bad.any()]
    return f"an array of shape {array.shape}" + (f" with {' and '.join(kinds)}" if kinds else "")
