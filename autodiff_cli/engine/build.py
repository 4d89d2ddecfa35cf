"""The engine's functions, generated from the op table: `FUNCTIONS` (name -> function), Tensor's
operators and methods, and the namespace VJP formulas use under create_graph.

For each OpSpec: one primitive per node it can record (`defop`: the arity-specialised function
that runs the numpy forward and records the node), then the engine function, which is the
primitive itself or what the entry's `front` makes of its primitives.
"""
from .forward import build_rule
from .graph import DIFFERENTIABLE, Tensor, defop
from .ops import OPS

__all__ = ["FUNCTIONS", "SPECS"]


def _primitives(spec):
    """{node name: primitive} for every node the op records."""
    primitives = {}
    for node in spec.nodes():
        primitives[node.name] = defop(node.name, node.forward, *node.vjps,
                                      jvp=build_rule(node.jvp, node.forward, node.vjps),
                                      saves_inputs=node.saves_inputs, saves_output=node.saves_output,
                                      function_name=spec.name)
    return primitives


def _engine_function(spec):
    spec.primitives.update(_primitives(spec))
    if spec.front is None:
        return spec.primitives[spec.node]
    function = spec.front(DIFFERENTIABLE, spec.primitives)
    function.__name__ = function.__qualname__ = spec.name
    function.node_class = spec.primitives[spec.node].node_class
    return function


def _reflected(function):
    return lambda self, other: function(other, self)


def _attach_to_tensor(spec, function):
    for method in spec.methods:
        setattr(Tensor, method, function)
    for operator in spec.operators:
        dunder, _, node = operator.partition(":")
        target = spec.primitives[node] if node else function
        reflected = dunder.startswith("__r")          # __radd__: the Tensor is the right operand
        setattr(Tensor, dunder, _reflected(target) if reflected else target)


SPECS = {spec.name: spec for spec in OPS}            # engine name -> OpSpec
FUNCTIONS = {}                                        # engine name (and alias) -> function
for _spec in OPS:
    _function = _engine_function(_spec)
    _attach_to_tensor(_spec, _function)
    for _name in (_spec.name,) + _spec.aliases:
        FUNCTIONS[_name] = _function
vars(DIFFERENTIABLE).update(FUNCTIONS)

# What the table cannot say in one word: varargs reshape, the .T property and unary plus.
Tensor.reshape = lambda self, *shape: FUNCTIONS["reshape"](self, shape[0] if len(shape) == 1 else shape)
Tensor.T = property(lambda self: FUNCTIONS["transpose"](self))
Tensor.__pos__ = lambda self: self
