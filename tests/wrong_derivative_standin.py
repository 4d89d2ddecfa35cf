"""A stand-in for autodiff_cli.testing.wrong_derivative until the op table lands (see test_check_mutations)."""
from contextlib import contextmanager

from autodiff_cli.engine import ops

_NODES = {
    "+": ["add"], "-": ["sub", "_rsub", "neg"], "*": ["mul"], "/": ["_div", "reciprocal"],
    "**": ["_pow_tensor_tensor", "_pow_tensor_number", "_pow_number_tensor"], "pow": None,
    "@": ["_dot", "_mv", "_mm", "_matmul"], "dot": None, "matmul": None,
    "sum": ["_sum_all", "_sum_dim"], "mean": ["_mean_all", "_mean_dim"],
    "max": ["_max_all", "_max_dim", "maximum"], "min": ["_min_all", "_min_dim", "minimum"],
}


@contextmanager
def wrong_derivative(op):
    names = _NODES.get(op, [op])
    if names is None:
        names = _NODES["**" if op == "pow" else "@"]
    saved = []
    for name in names:
        node = getattr(ops, name).node_class
        saved.append((node, node.vjps))
        node.vjps = tuple((lambda vjp: lambda *a, **k: 1.5 * vjp(*a, **k))(v) for v in node.vjps)
    try:
        yield
    finally:
        for node, vjps in saved:
            node.vjps = vjps
