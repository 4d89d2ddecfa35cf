"""Helpers for testing code that relies on the engine's derivatives.

    from autodiff_cli.testing import wrong_derivative
    with wrong_derivative("sin"):
        result = evaluate("sin(x) * y", {"x": 1, "y": 2})
    assert result.status == "mismatch"          # the cross-check must notice

A check that never fails proves nothing: this makes one op's derivative wrong on purpose.
"""
import contextlib

from .engine.graph import Tensor, defop
from .engine.ops import OPS, STACK_MADE, STACK_PRIMITIVES

__all__ = ["wrong_derivative"]


def _scale(value, factor):
    """value * factor, recorded (under create_graph) by a node of its own, never by a table op: the
    scaling must not itself be scaled when the op made wrong is `*`."""
    return _scaled_node(value, factor=factor) if isinstance(value, Tensor) else value * factor


_scaled_node = defop("MulBackward0", lambda x, factor: x * factor,
                     lambda F, g, ans, x, factor: _scale(g, factor),
                     saves_inputs=False, saves_output=False, function_name="scale")


def _scaled(rule, factor):
    """A VJP or JVP returning `factor` times what `rule` returns."""
    def wrong(*args, **params):
        return _scale(rule(*args, **params), factor)
    return wrong


# Ops written as syntax, not names: indexing x[i, j:k] and list literals [a, b] (stacking).
SYNTAX = {"index": ("index", "index_backward"), "stack": ("stack",)}


@contextlib.contextmanager
def wrong_derivative(op, factor=1.5):
    """Inside the block, every derivative the engine computes through `op` is `factor` times the right one.

    op: a name of the expression language: a function ("sin", "sum", "softplus", "max") or an
    operator ("*", "**", "@", "-"); every table entry with that name is affected (for "-": subtraction
    and negation; for "max": the reduction and the elementwise maximum), in every node it records;
    "index" (indexing and slicing, and their VJP's own node) and "stack" (list literals, whatever
    their length) name the ops written as syntax.
    First and higher derivatives, for every input, in backward (VJPs) and forward mode (JVPs), on the
    compiled tape and the Tensor engine; forward values are unchanged. Everything is restored on
    exit, also on an exception.
    (A higher derivative through a formula that itself uses `op`, e.g. the Hessian through `*`,
    is scaled once per use.)
    """
    specs = [spec for spec in OPS if op in spec.language or spec.name in SYNTAX.get(op, ())]
    if not specs:
        names = sorted({name for spec in OPS for name in spec.language} | set(SYNTAX))
        raise ValueError(f"unknown op {op!r}: expected one of {', '.join(names)}")
    node_classes = [primitive.node_class for spec in specs for primitive in spec.primitives.values()]
    if op == "stack":
        node_classes += [primitive.node_class for primitive in STACK_PRIMITIVES]
    saved = []

    def make_wrong(cls):
        saved.append((cls, cls.vjps, cls.jvp))          # (jvp: a staticmethod's function)
        cls.vjps = tuple(_scaled(vjp, factor) for vjp in cls.vjps)
        if cls.jvp is not None:
            cls.jvp = staticmethod(_scaled(cls.jvp, factor))

    made = lambda primitive: make_wrong(primitive.node_class)
    try:
        for cls in node_classes:
            make_wrong(cls)
        if op == "stack":
            STACK_MADE.append(made)                     # stacks of a new length made inside the block
        yield
    finally:
        if made in STACK_MADE:
            STACK_MADE.remove(made)
        for cls, vjps, jvp in reversed(saved):
            cls.vjps, cls.jvp = vjps, (staticmethod(jvp) if jvp is not None else None)
