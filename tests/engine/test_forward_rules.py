"""Forward-mode rules, generated from the op table (engine/ops.py): every node of every op has a
jvp rule, and each rule agrees with the same op's reverse mode, u.(J t) == (J^T u).t, and with
central finite differences of the forward. A new table entry is covered without writing a line
(an op its arity and axis flag do not describe carries `examples` in its entry)."""
import numpy as np
import pytest

from autodiff_cli.engine import FUNCTIONS, Tensor, grad, jvp
from autodiff_cli.engine.forward import build_rule
from autodiff_cli.engine.ops import OPS
from op_domains import sample

ELEMENTWISE_SHAPES = {1: [((),), ((3,),), ((2, 3),)],
                      2: [((), ()), ((2, 3), (2, 3)), ((2, 3), (3,)), ((2, 1), (1, 3))]}
REDUCTION_CASES = [((4,), None, False), ((2, 3), 0, True), ((2, 3), -1, False), ((2, 3, 2), (0, 2), False),
                   ((2, 3), None, True)]
MATMUL_SHAPES = [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)), ((2, 2, 3), (3, 4))]


def _domains(spec, count):
    return list(spec.domain) if spec.domain else ["any"] * count


def cases(spec, rng):
    """(arrays, params) at which to compare the forward rule of `spec` with its reverse mode: the
    entry's examples, else shapes by arity (elementwise ops broadcast) or reductions along axes."""
    if spec.examples:
        for shapes, params in spec.examples:
            yield [sample(d, s, rng) for d, s in zip(_domains(spec, len(shapes)), shapes)], dict(params)
    elif spec.axis:
        for shape, axis, keepdims in REDUCTION_CASES:
            yield [sample(_domains(spec, 1)[0], shape, rng)], {"axis": axis, "keepdims": keepdims}
    elif spec.name == "where":                          # where(cond, a, b): cond is a constant mask
        yield [rng.uniform(-1, 1, (2, 3)) > 0, sample("any", (), rng), sample("any", (2, 3), rng)], {}
    else:
        shapes = MATMUL_SHAPES if spec.name == "matmul" else ELEMENTWISE_SHAPES[len(spec.vjps)]
        for shape_set in shapes:
            yield [sample(d, s, rng) for d, s in zip(_domains(spec, len(shape_set)), shape_set)], {}


def _call(spec, params):
    function = FUNCTIONS[spec.name]
    if spec.name == "stack":
        return lambda *xs: function(xs, **params)
    return lambda *xs: function(*xs, **params)


@pytest.mark.parametrize("spec", OPS, ids=[s.name for s in OPS])
def test_every_node_of_every_op_has_a_forward_rule(spec):
    for node in spec.nodes():
        assert build_rule(node.jvp, node.forward, node.vjps) is not None, f"{node.name} has no jvp rule"


@pytest.mark.parametrize("spec", OPS, ids=[s.name for s in OPS])
def test_forward_rule_agrees_with_reverse_mode_and_finite_differences(spec):
    rng = np.random.default_rng(7)
    tested = 0
    for arrays, params in cases(spec, rng):
        call = _call(spec, params)
        constant = [a for a in arrays if a.dtype == bool]                 # where's mask
        values = [a for a in arrays if a.dtype != bool]
        f = (lambda *xs: call(*constant, *xs))
        tangents = [rng.standard_normal(np.shape(a)) for a in values]
        _, jt = jvp(f, tuple(values), tuple(tangents))
        leaves = [Tensor(a, requires_grad=True) for a in values]
        out = f(*leaves)
        u = rng.standard_normal(out.shape)
        grads = grad(out, leaves, grad_outputs=u, allow_unused=True)
        reverse = sum(float(np.sum(g.data * t)) for g, t in zip(grads, tangents) if g is not None)
        assert float(np.sum(u * jt.data)) == pytest.approx(reverse, rel=1e-9, abs=1e-9), (spec.name, params)
        h = 1e-6                                                          # J t by central differences
        numeric = (f(*[a + h * t for a, t in zip(values, tangents)]).data
                   - f(*[a - h * t for a, t in zip(values, tangents)]).data) / (2 * h)
        np.testing.assert_allclose(jt.data, numeric, rtol=1e-5, atol=1e-6, err_msg=f"{spec.name} {params}")
        tested += 1
    assert tested, f"no case for {spec.name}"
