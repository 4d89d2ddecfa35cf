"""grad: the value and the gradient of every variable, by reverse mode (PyTorch's backward).

The fast path runs the compiled tape (language/compile.py, engine/tape.py): no graph is built. The
Tensor engine runs it when a trace is asked for (--steps, --graph, --dot) or the tape cannot record
an op (a list literal: stack)."""
import collections.abc
import functools
from dataclasses import dataclass, field

import numpy as np

from ..engine.ops import OPS
from ..inputs import gradient_seed
from ..language.compile import NotCompilable, compiled
from ..language.nodes import Name, column
from ..result import Payload, Step, json_array, json_number
from ..utils import get_total_norm
from .mode import Computed, Mode, forward_pass, gradient_row


@dataclass
class GradPayload(Payload):
    grad_norm: float | None = None       # the 2-norm of all the gradients together
    intermediates: collections.abc.Mapping = field(default_factory=dict)   # {name: {"value", "gradient"}}

    def record(self, result):
        record = {"grad_norm": None if self.grad_norm is None else json_number(self.grad_norm)}
        if self.intermediates:
            record["intermediates"] = {k: {"value": json_array(v["value"]), "gradient": json_array(v["gradient"])}
                                       for k, v in self.intermediates.items()}
        return record

    def scalar_gradients(self, result):
        return result.gradients


class Grad(Mode):
    name = "grad"
    summary = "Value and gradient of EXPR (reverse mode), cross-checked."
    options = {"gradient": None}
    shows = ("steps", "graph", "dot")
    examples = ('autodiff grad "3*x**2 + 2*x*y + y**2" x=2 y=1',
                'autodiff grad "x**2 + x" "x=[[1,2,3],[4,5,6]]" --gradient ones',
                'autodiff grad "dot(X, W) + b" "X=[1.5,2.5]" "W=randn(2)" b=0.1 --wrt W,b --random-seed 0',
                'autodiff grad "z = x**2; y = z**3; L = log(y)" x=2 --steps',
                'autodiff grad "sin(x)*exp(x)" x=1 --graph --dot graph.svg',
                'autodiff grad -- "-x**2" x=1        (an expression starting with \'-\' also works without \'--\')')

    def compute(self, bound, *, gradient):
        if not bound.trace:
            try:
                return _on_tape(bound, gradient)
            except NotCompilable:
                pass                 # an op the tape cannot record (stack): the Tensor engine runs it
        return _on_engine(bound, gradient)

    def entries(self, result):
        return np.concatenate([np.ravel(result.gradients[name]) for name in result.wrt])

    def symbolic_functions(self, outputs, seed_symbols, add):
        if seed_symbols is None:
            return outputs[:1]
        return [add(*[w * o for w, o in zip(seed_symbols, outputs)])]     # the seeded backward's function

    def reference_entries(self, name, functions, by, labels, out_labels, wrt, **_):
        found = by(name, functions[0])
        return found, [(label, {name}) for label in labels[name]], [d for d, _ in found]

    def finite_difference_problems(self, result, value_of, forward, gradient_of):
        return [(value_of, gradient_row(result))]


MODE = Grad()


@functools.lru_cache(maxsize=None)
def _kink_node_names():
    """The names of the nodes that ops with kinks record (abs, relu, max, **, ...)."""
    return frozenset(node.name for spec in OPS if spec.kink is not None for node in spec.nodes())


def _may_have_kinks(tape):
    """Does the tape run an op with kinks? (If not, the check needs no tree node's value: a big sum
    of products keeps no per-node record.)"""
    return not {node.name for node in set(tape.spec_nodes)}.isdisjoint(_kink_node_names())


def _on_tape(bound, gradient):
    program, values = bound.program, bound.values
    tape = compiled(program, values)
    visits = bound.check and _may_have_kinks(tape)
    if visits and not tape.has_visited:
        tape = compiled(program, values, visit=True)    # kinks are told by tree node
    output = tape.output
    seed = gradient_seed(gradient, tape.shapes[output] if isinstance(output, int) else (), bound.rng)
    inputs = [values[name] for name in program.inputs]
    wrt_slots = [program.inputs.index(name) for name in bound.wrt]
    slot_values, grads, needs = tape.run(inputs, wrt_slots, seed, keep_values=visits)

    def value_of(slot):
        return np.asarray(slot_values[slot] if isinstance(slot, int) else slot, dtype=np.float64)

    gradients = {}
    for name, slot in zip(bound.wrt, wrt_slots):
        g = grads[slot]
        gradients[name] = np.zeros(np.shape(values[name])) if g is None else np.asarray(g, np.float64)
    payload = GradPayload(get_total_norm(list(gradients.values())).item(),
                          _TapeIntermediates(tape, slot_values, grads, needs))
    return Computed(value_of(output), gradients, payload, seed=seed,
                    visited=tape.visited if visits else None, data=value_of if visits else None)


class _TapeIntermediates(collections.abc.Mapping):
    """The intermediates after a tape run: {name: {"value": array, "gradient": array or None}},
    each entry made when it is read. A 100,000-statement program has 100,000 intermediates; making
    them all up front was a twentieth of its run, for callers that mostly read none."""

    def __init__(self, tape, values, grads, needs):
        self._named, self._shapes = tape.named, tape.shapes
        self._values, self._grads, self._needs = values, grads, needs

    def __getitem__(self, name):
        slot = self._named[name]
        if not isinstance(slot, int):                     # an intermediate that is a plain number
            return {"value": np.asarray(slot, dtype=np.float64), "gradient": None}
        grad = None
        if self._needs[slot]:
            g = self._grads[slot]
            grad = np.zeros(self._shapes[slot]) if g is None else np.asarray(g, np.float64)
        return {"value": np.asarray(self._values[slot], dtype=np.float64), "gradient": grad}

    def __iter__(self):
        return iter(self._named)

    def __len__(self):
        return len(self._named)


def _on_engine(bound, gradient):
    output, leaves, named, visited = forward_pass(bound)
    seed = gradient_seed(gradient, np.shape(output.data), bound.rng)
    for tensor in named.values():
        if tensor.requires_grad:
            tensor.retain_grad()
    if bound.trace:
        for _, tensor in visited:
            if tensor.grad_fn is not None:
                tensor.retain_grad()
    if output.requires_grad:
        output.backward(seed, retain_graph=bound.trace)
    gradients = {}
    for name in bound.wrt:
        g = leaves[name].grad
        gradients[name] = np.zeros(np.shape(leaves[name].data)) if g is None else np.asarray(g.data)
    intermediates = {}
    for name, tensor in named.items():
        grad = None
        if tensor.requires_grad:
            grad = tensor.grad.data if tensor.grad is not None else np.zeros(np.shape(tensor.data))
        intermediates[name] = {"value": np.asarray(tensor.data), "gradient": grad}
    payload = GradPayload(get_total_norm(list(gradients.values())).item(), intermediates)
    steps = _steps(bound.program.source, visited, output, seed) if bound.trace else []
    return Computed(np.asarray(output.data, dtype=np.float64), gradients, payload, seed=seed, visited=visited,
                    steps=steps, output=output if bound.trace else None, leaves=leaves if bound.trace else {})


def _steps(source, visited, output, seed):
    """One Step per distinct tensor of the forward pass, with its gradient: the chain rule, node by node."""
    steps, seen = [], set()
    for node, tensor in visited:
        if id(tensor) in seen:
            continue
        seen.add(id(tensor))
        if tensor.grad_fn is not None:
            op = tensor.grad_fn.name()
        else:
            op = "input" if isinstance(node, Name) else "constant"
        grad = tensor.grad.data if tensor.grad is not None else None
        if tensor is output and grad is None and output.requires_grad:
            grad = np.ones(np.shape(output.data)) if seed is None else seed
        steps.append(Step(source[node.start:node.end], op, column(node), np.asarray(tensor.data), grad))
    return steps
