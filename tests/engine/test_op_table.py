"""Tests generated from the op table (engine/ops.py): every entry that names a test `domain` is
checked against finite differences (first and second order), against torch float64 (values,
gradients, node names), and its SymPy form against its numpy forward. A new table entry is tested
here without writing a line. Also: the table's consistency, and the docs' function lists."""
import functools
import re
from pathlib import Path

import numpy as np
import pytest

import autodiff_cli.engine as ad
from autodiff_cli.engine import FUNCTIONS, Tensor
from autodiff_cli.engine.ops import OPS
from autodiff_cli.language import BINARY_OPERATORS, FUNCTIONS as LANGUAGE_FUNCTIONS, UNARY_OPERATORS
from op_domains import fd_gradient, sample

try:    # imported first: a SymPy import cut short by a check's time limit elsewhere must not break torch's
    import torch
except ImportError:
    torch = None

ROOT = Path(__file__).resolve().parents[2]
TESTED = [spec for spec in OPS if spec.domain]
LANGUAGE = [spec for spec in OPS if spec.language]

# Shapes each test draws: elementwise ops also broadcast; products and reductions need their own.
SHAPES = {
    1: [((),), ((3,),), ((2, 3),)],
    2: [((), ()), ((2, 3), (2, 3)), ((2, 3), (3,)), ((2, 1), (1, 3))],
    "matmul": [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)), ((2, 2, 3), (3, 4))],
    "reduction": [((4,),), ((2, 3),), ((2, 3, 2),)],
}
AXES = [None, 0, -1, (0, 1)]


def _ids(specs):
    return [spec.name for spec in specs]


def cases(spec, seed=0):
    """(arrays, params) to test `spec` at: every shape set, every axis choice for reductions, or the
    entry's own examples (softmax, reshape, stack, indexing)."""
    rng = np.random.default_rng(seed)
    if spec.examples:
        for shapes, params in spec.examples:
            domains = spec.domain or ("any",) * len(shapes)
            yield [sample(domains[min(i, len(domains) - 1)], shape, rng) for i, shape in enumerate(shapes)], dict(params)
        return
    if spec.axis:
        for (shape,) in SHAPES["reduction"]:
            for axis in AXES:
                if axis is None or len(np.atleast_1d(axis)) <= len(shape):
                    yield [sample(spec.domain[0], shape, rng)], {"axis": axis, "keepdims": axis == 0}
        return
    for shapes in SHAPES.get(spec.name, SHAPES[len(spec.vjps)]):
        yield [sample(domain, shape, rng) for domain, shape in zip(spec.domain, shapes)], {}


def _function(spec):
    return FUNCTIONS[spec.name]


def test_every_language_op_is_tested_and_has_a_sympy_form():
    for spec in LANGUAGE:
        assert spec.domain and len(spec.domain) == len(spec.vjps), spec.name
        assert spec.sympy is not None and spec.torch is not None, spec.name


def test_language_views_are_the_table():
    assert all(spec in LANGUAGE for arities in LANGUAGE_FUNCTIONS.values() for spec in arities.values())
    assert set(BINARY_OPERATORS) == {"+", "-", "*", "/", "**", "@"} and set(UNARY_OPERATORS) == {"-"}
    assert LANGUAGE_FUNCTIONS["max"][1].name == "max" and LANGUAGE_FUNCTIONS["max"][2].name == "maximum"
    names = {name for spec in LANGUAGE for name in spec.language}
    assert names == set(LANGUAGE_FUNCTIONS) | set(BINARY_OPERATORS) | set(UNARY_OPERATORS)


def test_engine_exports_and_names_come_from_the_table():
    for spec in OPS:
        for name in (spec.name,) + spec.aliases:
            assert getattr(ad, name) is FUNCTIONS[name]
        assert FUNCTIONS[spec.name].__name__ == spec.name
        for method in spec.methods:
            assert hasattr(Tensor, method), (spec.name, method)
    assert ad.add.__name__ == "add" and ad.sum.__name__ == "sum"
    star = {}
    exec("from autodiff_cli.engine import *", star)
    exec("from autodiff_cli import *", star)
    assert not {"sum", "max", "min", "abs", "pow"} & set(star), "import * must not shadow built-ins"
    assert "sin" in star and "Tensor" in star


@pytest.mark.parametrize("spec", TESTED, ids=_ids(TESTED))
def test_vjps_match_finite_differences(spec):
    rng = np.random.default_rng(1)
    for arrays, params in cases(spec):
        xs = [Tensor(a, requires_grad=True) for a in arrays]
        out = _function(spec)(*xs, **params)
        v = rng.standard_normal(out.shape)
        out.backward(v)
        scalar = lambda arrs: float(np.sum(v * _function(spec)(*arrs, **params).data))  # noqa: E731
        for i, x in enumerate(xs):
            np.testing.assert_allclose(x.grad.data, fd_gradient(scalar, arrays, i), rtol=1e-5, atol=1e-6,
                                       err_msg=f"{spec.name} input {i} {[a.shape for a in arrays]} {params}")


@pytest.mark.parametrize("spec", TESTED, ids=_ids(TESTED))
def test_second_derivatives_match_finite_differences_of_the_gradient(spec):
    """Hessian-vector products by double backward (the VJPs run on the engine's own functions)."""
    rng = np.random.default_rng(2)
    for arrays, params in cases(spec):
        out_shape = np.shape(_function(spec)(*arrays, **params).data)
        v = rng.standard_normal(out_shape)
        u = [rng.standard_normal(np.shape(a)) for a in arrays]

        def directional(arrs):
            xs = [Tensor(a, requires_grad=True) for a in arrs]
            grads = ad.grad(_function(spec)(*xs, **params), xs, grad_outputs=v, create_graph=True)
            return sum(ad.sum(g * w) for g, w in zip(grads, u))   # the built-in sum, over Tensors

        xs = [Tensor(a, requires_grad=True) for a in arrays]
        first = ad.grad(_function(spec)(*xs, **params), xs, grad_outputs=v, create_graph=True)
        inner = sum(ad.sum(g * w) for g, w in zip(first, u))
        if not inner.requires_grad:            # linear op: every second derivative is 0
            continue
        second = ad.grad(inner, xs, allow_unused=True)
        for i, s in enumerate(second):
            want = fd_gradient(lambda arrs: directional(arrs).item(), arrays, i)
            got = np.zeros_like(arrays[i]) if s is None else s.data
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=f"{spec.name} input {i}")


# torch spellings that differ from the engine's (dim= for axis=, no default axes)
TORCH_CALLS = {
    "softmax": lambda t, axis=-1: torch.softmax(t, axis),
    "logsumexp": lambda t, axis=None, keepdims=False: torch.logsumexp(
        t, dim=tuple(range(t.ndim)) if axis is None else axis, keepdim=keepdims),
    "reshape": lambda t, shape: t.reshape(shape),
    "transpose": lambda t: t.permute(tuple(reversed(range(t.ndim)))),
}


def _torch_function(spec):
    if spec.name in TORCH_CALLS:
        return TORCH_CALLS[spec.name]
    return functools.reduce(getattr, spec.torch.split("."), torch)


@pytest.mark.parametrize("spec", [s for s in TESTED if s.torch], ids=_ids([s for s in TESTED if s.torch]))
def test_values_gradients_and_node_names_match_torch(spec):
    if torch is None:
        pytest.skip("torch is not installed")
    rng = np.random.default_rng(3)
    for k, (arrays, params) in enumerate(cases(spec)):
        if params.get("axis") is not None:
            continue                        # torch spells axis reductions differently (dim=, amax)
        xs = [Tensor(a, requires_grad=True) for a in arrays]
        ts = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
        out = _function(spec)(*xs, **params)
        tout = _torch_function(spec)(*ts, **(params if spec.name in TORCH_CALLS else {}))
        np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-12, atol=1e-12, err_msg=spec.name)
        if k == 0:
            assert type(out.grad_fn).__name__ == type(tout.grad_fn).__name__
        v = rng.standard_normal(out.shape)
        out.backward(v)
        tout.backward(torch.tensor(v))
        for x, t in zip(xs, ts):
            np.testing.assert_allclose(x.grad.data, t.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=spec.name)


@pytest.mark.parametrize("spec", LANGUAGE, ids=_ids(LANGUAGE))
def test_sympy_form_matches_the_numpy_forward(spec):
    sp = pytest.importorskip("sympy")
    for arrays, params in cases(spec):
        axis = params.get("axis")
        if isinstance(axis, tuple) or params.get("keepdims"):
            continue                        # the language gives one int axis, never keepdims
        objects = [np.vectorize(sp.Float, otypes=[object])(a) if a.ndim else np.array(sp.Float(float(a)), dtype=object)
                   for a in arrays]
        params = {k: v for k, v in params.items() if v is not None and k != "keepdims"}
        symbolic = spec.sympy(sp, *objects, **params)
        want = _function(spec)(*arrays, **params).data
        got = np.vectorize(float)(symbolic) if np.ndim(symbolic) else float(np.asarray(symbolic)[()])
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12, err_msg=spec.name)


# --- the docs list what the table has -------------------------------------------------------------

def _documented_functions(text, heading):
    """The backticked names in the paragraph (or list item) that starts with `heading`."""
    paragraph = re.split(r"\n\n|\n- ", text.split(heading, 1)[1], maxsplit=1)[0]
    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", " ".join(re.findall(r"`([^`]*)`", paragraph))))


def test_readme_expression_list_names_every_language_function():
    documented = _documented_functions((ROOT / "README.md").read_text(), "**Expressions**")
    assert set(LANGUAGE_FUNCTIONS) <= documented, set(LANGUAGE_FUNCTIONS) - documented
    assert documented - set(LANGUAGE_FUNCTIONS) <= {"pi", "e", "axis", "keepdims", "k", "a", "b", "x", "y", "z", "w"}


def test_architecture_lists_every_engine_function():
    documented = _documented_functions((ROOT / "docs" / "ARCHITECTURE.md").read_text(), "- Functions")
    assert set(FUNCTIONS) <= documented, set(FUNCTIONS) - documented
    assert documented - set(FUNCTIONS) <= {"axis", "None", "int", "tuple", "keepdims", "False"}


# --- softplus: what the generated tests do not cover ----------------------------------------------

def test_softplus_is_stable_far_from_zero():
    x = Tensor([-1000.0, -30.0, 0.0, 30.0, 1000.0], requires_grad=True)
    y = ad.softplus(x)
    y.backward(np.ones(5))
    tail = np.log1p(np.exp(-30.0))                    # log(1 + e^-30), about e^-30
    np.testing.assert_allclose(y.data, [0.0, tail, np.log(2.0), 30.0 + tail, 1000.0], rtol=1e-15, atol=0)
    np.testing.assert_allclose(x.grad.data, [0.0, np.exp(-30.0), 0.5, 1.0, 1.0], rtol=1e-13, atol=0)
    assert type(y.grad_fn).__name__ == "SoftplusBackward0"


def test_softplus_in_the_language_is_cross_checked_symbolically(monkeypatch):
    from autodiff_cli import evaluate
    monkeypatch.setenv("AUTODIFF_CHECK_SECONDS", "600")     # a loaded machine must not turn this into FD
    result = evaluate("softplus(x) * y", {"x": 0.5, "y": 2.0})
    assert result.status == "ok" and result.check.method == "sympy"
    sp = pytest.importorskip("sympy")          # SymEngine prints log(1 + exp(x)), SymPy log(exp(x) + 1)
    assert sp.sympify(result.check.symbolic["y"]) == sp.log(sp.exp(sp.Symbol("x")) + 1)
    assert float(result.gradients["x"]) == pytest.approx(2.0 / (1.0 + np.exp(-0.5)))
