"""Forward mode: Jacobian-vector products J.t in one forward pass (torch.func.jvp).

    value, tangent = jvp(lambda x, y: sin(x) * y, (1.0, 2.0), (1.0, 0.0))   # tangent = cos(1) * 2

While `jvp` runs `fn`, every op computes its output's tangent right beside its value, from the
tangents of its inputs and the op's forward rule `jvp(F, tangents, ans, *inputs, **params)`
(`tangents` holds one array per input, None where the input carries none; F is numpy). No graph
is walked and nothing runs backward: one pass, at about twice the cost of the plain forward.

Tangents live in the active `_Level` (tensor id -> tangent; graph.FORWARD_LEVEL, per thread), which
holds each tensor it knows so that ids stay unique while it is active; leaving `jvp` drops them all.
"""
import numpy as np

from .graph import FORWARD_LEVEL, Tensor, raw

__all__ = ["jvp", "diagonal", "linear"]


class _Level:
    __slots__ = ("tangents",)

    def __init__(self):
        self.tangents = {}           # id(tensor) -> (tensor, tangent array)

    def tangent_of(self, x):
        entry = self.tangents.get(id(x))
        return None if entry is None else entry[1]

    def give(self, rule, name, inputs, arrays, out, params):
        """Compute one op's output tangent from its inputs' and keep it (nothing when no input
        carries a tangent). Called by every op while a jvp runs."""
        tangents = tuple(self.tangent_of(x) for x in inputs)
        if all(t is None for t in tangents):
            return
        if rule is None:
            raise NotImplementedError(f"{name} has no forward-mode (jvp) rule")
        t = rule(np, tangents, out.data, *arrays, **params)
        self.tangents[id(out)] = (out, np.array(np.broadcast_to(t, out.data.shape), dtype=np.float64))


def jvp(fn, primals, tangents):
    """(fn(*primals), J.tangents) in one forward pass, as `torch.func.jvp(fn, primals, tangents)`.

    primals, tangents: tuples of the same length (numbers, arrays or Tensors); each tangent has its
    primal's shape. fn returns a Tensor or a tuple of Tensors; so does each half of the result.
    """
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    inputs = tuple(Tensor(raw(p)) for p in primals)       # fresh leaves: tangents attach to these
    level = _Level()
    for i, (x, t) in enumerate(zip(inputs, tangents)):
        t = np.asarray(raw(t), dtype=np.float64)
        if t.shape != x.shape:
            raise ValueError(f"jvp: tangent {i} has shape {t.shape} but its primal has shape {x.shape}")
        level.tangents[id(x)] = (x, t)
    token = FORWARD_LEVEL.set(level)
    try:
        out = fn(*inputs)
    finally:
        FORWARD_LEVEL.reset(token)
    outputs = out if isinstance(out, tuple) else (out,)
    outputs = tuple(o if isinstance(o, Tensor) else Tensor(o) for o in outputs)
    results = tuple(Tensor._result(_tangent_or_zeros(level, o), None) for o in outputs)
    return (outputs, results) if isinstance(out, tuple) else (outputs[0], results[0])


def _tangent_or_zeros(level, tensor):
    t = level.tangent_of(tensor)
    return np.zeros(tensor.shape) if t is None else t


# --- building forward rules ----------------------------------------------------------------------
# An op entry may give, instead of a rule, one of these two builders: the engine then builds the
# rule from the op's own VJPs (`diagonal`) or its own forward (`linear`).

def diagonal(*vjps):
    """The forward rule of an elementwise op (broadcasting allowed): its Jacobian is diagonal in
    each input, so J.t is the VJP formula applied to t instead of g, summed over the inputs."""
    def rule(F, tangents, ans, *inputs, **params):
        total = None
        for vjp, t in zip(vjps, tangents):
            if t is not None:
                part = vjp(F, t, ans, *inputs, **params)
                total = part if total is None else total + part
        return total
    return rule


def linear(forward):
    """The forward rule of an op linear in its inputs (sum, reshape, indexing, stack, ...): the op
    itself applied to the tangents, zeros standing in for inputs without one."""
    def rule(F, tangents, ans, *inputs, **params):
        filled = [np.zeros(np.shape(x)) if t is None else t for t, x in zip(tangents, inputs)]
        return forward(*filled, **params)
    return rule


diagonal.from_vjps = True
linear.from_forward = True


def build_rule(jvp, forward, vjps):
    """The op's forward rule: `jvp` itself, or what the builder `diagonal`/`linear` makes of the op."""
    if getattr(jvp, "from_vjps", False):
        return jvp(*vjps)
    if getattr(jvp, "from_forward", False):
        return jvp(forward)
    return jvp
