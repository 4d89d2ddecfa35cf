"""Derivatives of every order of a scalar, by repeated double backward (`create_graph=True`).

    f = x**4 * y
    d = derivatives(f, [x, y], order=3)
    d[2][(0, 1)]          # d2f/dx dy, a float
    d[3][(0, 0, 0)]       # d3f/dx3

Each order differentiates the graph of the order before it, exactly as nested
`torch.autograd.grad(..., create_graph=True)` calls do. Mixed partials of a smooth function do not
depend on the order of differentiation, so each is computed once, for its sorted multi-index
(C(n+k-1, k) backward passes at order k instead of n**k); `entry(d, index)` looks any index up.
"""
import numpy as np

from .graph import Tensor, grad, raw


def derivatives(output, inputs, order):
    """{k: {sorted index tuple: float}} for k = 1..order: d^k output / d inputs[i1] ... d inputs[ik].

    output: a Tensor with one element; inputs: scalar Tensors that require grad; order >= 1.
    """
    if not isinstance(output, Tensor) or output.size != 1:
        raise ValueError(f"derivatives need a scalar output, got shape {np.shape(raw(output))}")
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor) or t.size != 1:
            raise ValueError(f"derivatives need scalar inputs; input {i} has shape {np.shape(raw(t))}")
    if int(order) != order or order < 1:
        raise ValueError(f"the order must be a whole number >= 1, got {order!r}")
    table = {}
    level = {(): output}                      # index -> the derivative Tensor of the order before
    for k in range(1, int(order) + 1):
        create_graph = k < order              # the last order is not differentiated again
        following = {}
        for index, tensor in level.items():
            first = index[-1] if index else 0  # sorted indices only: differentiate by inputs[first:]
            targets = inputs[first:]
            if tensor is None or not tensor.requires_grad:
                grads = (None,) * len(targets)        # a constant: every further derivative is 0
            else:
                grads = grad(tensor, targets, retain_graph=True, create_graph=create_graph, allow_unused=True)
            for j, g in enumerate(grads, first):
                following[index + (j,)] = g
        table[k] = {index: 0.0 if g is None else float(np.reshape(g.data, -1)[0])
                    for index, g in following.items()}
        level = following
    return table


def entry(table, index):
    """The derivative for any multi-index (in any order of differentiation)."""
    return table[len(index)][tuple(sorted(index))]
