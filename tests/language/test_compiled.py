"""The compiled path (language/compile.py + engine/tape.py) against the Tensor engine: same numbers.

`evaluate(..., trace=True)` runs the Tensor engine (it records the graph `--steps` shows);
`evaluate(...)` in grad mode runs the tape. Every oracle example, every op of the table and the fuzz
strategies' expressions must agree to a few ulps, with identical nan/inf patterns.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autodiff_cli.engine.ops import OPS
from autodiff_cli.api import evaluate
from autodiff_cli.language import compile as compile_module
from autodiff_cli.language import parse
from autodiff_cli.language.compile import NotCompilable, compile_program
from autodiff_cli.testing import wrong_derivative
from op_domains import sample
from seeds import seed_cases
from test_fuzz import expressions

ULPS = 8
SETTINGS = settings(max_examples=400, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def assert_same_numbers(got, want, what, propagated=0.0):
    """Equal to ULPS ulps, with identical nan/inf patterns. `propagated`: an absolute allowance for
    rounding differences upstream that the computation magnifies (see running_error_bound)."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, what
    assert np.array_equal(np.isnan(got), np.isnan(want)), f"{what}: nan pattern {got} vs {want}"
    assert np.array_equal(np.isposinf(got), np.isposinf(want)), f"{what}: +inf pattern {got} vs {want}"
    assert np.array_equal(np.isneginf(got), np.isneginf(want)), f"{what}: -inf pattern {got} vs {want}"
    finite = np.isfinite(want)
    scale = np.maximum(np.abs(got[finite]), np.abs(want[finite]))
    tolerance = ULPS * np.spacing(scale) + propagated + 1e-300
    assert np.all(np.abs(got[finite] - want[finite]) <= tolerance), f"{what}: {got} vs {want}"


def running_error_bound(result):
    """ULPS ulps of every node's value, carried to the output by its adjoint: sum |dout/dv| |v| eps.

    The float path calls `math` where the engine calls numpy, and the two may round an elementary
    function 1 ulp apart; cancellation downstream can make that many ulps of the output
    (`sin(x - sinh(y))` at y = 2: sin of -3.1269, near -pi). Only a scalar output has a bound here."""
    if np.ndim(result.value) != 0:
        return 0.0
    total = 0.0
    for step in result.steps:
        if step.gradient is not None and np.all(np.isfinite(step.value)) and np.all(np.isfinite(step.gradient)):
            total += float(np.sum(np.abs(step.gradient) * np.abs(step.value)))
    return ULPS * np.finfo(np.float64).eps * total


def assert_paths_agree(expr, bindings, **kwargs):
    compiled = evaluate(expr, bindings, check=False, **kwargs)
    engine = evaluate(expr, bindings, check=False, trace=True, **kwargs)
    assert compiled.status == engine.status, (expr, compiled.error, engine.error)
    if engine.status == "error":
        assert str(compiled.error) == str(engine.error)
        return compiled
    assert_same_numbers(compiled.value, engine.value, f"{expr}: value", running_error_bound(engine))
    assert compiled.gradients.keys() == engine.gradients.keys()
    for name in engine.gradients:
        assert_same_numbers(compiled.gradients[name], engine.gradients[name], f"{expr}: d/d{name}")
    for name, entry in engine.intermediates.items():
        assert_same_numbers(compiled.intermediates[name]["value"], entry["value"], f"{expr}: {name}")
        if entry["gradient"] is None:
            assert compiled.intermediates[name]["gradient"] is None
        else:
            assert_same_numbers(compiled.intermediates[name]["gradient"], entry["gradient"], f"{expr}: d/d{name}")
    assert compiled.warnings == engine.warnings
    return compiled


@pytest.mark.parametrize("case", seed_cases(), ids=lambda c: c["id"])
def test_oracle_examples_agree(case):
    assert_paths_agree(case["expr"], case["bindings"], wrt=case.get("wrt"), gradient=case.get("gradient"))


LANGUAGE_OPS = [(spec, name) for spec in OPS for name in spec.language]


@pytest.mark.parametrize("spec,name", LANGUAGE_OPS, ids=[f"{s.name}-{n}" for s, n in LANGUAGE_OPS])
@pytest.mark.parametrize("shape", [(), (3,)])
def test_every_language_op_agrees(spec, name, shape):
    rng = np.random.default_rng(7)
    arity = spec.language_arity
    names = ["x", "y", "z"][:arity]
    args = {n: sample(domain, shape, rng) for n, domain in zip(names, spec.domain or ("any",) * arity)}
    if name.isidentifier():
        expr = f"{name}({', '.join(names)})"
    elif arity == 2:
        expr = f"x {name} y"
    else:
        expr = f"{name}x"
    if shape != () and name not in ("@", "dot", "matmul"):
        expr = f"sum({expr})"
    assert_paths_agree(expr, args)


@pytest.mark.parametrize("expr", ["2/x", "x**2", "2**x", "x**(1+1)", "x**-2", "(2*1)**x", "x**0", "0**x",
                                  "sum(x, axis=0) * 1", "max(x, axis=-1)", "c = 2; f = x**c", "y = x; f = y*y",
                                  "y = x*3; z = y + 1; f = 2", "log(x - x)", "sqrt(x - x)", "1/(x - x)",
                                  "exp(1000*x)", "(x - 4)**0.5", "asin(x)", "x @ x"])
@pytest.mark.parametrize("x", [2.0, 0.0, -1.5, [1.0, 2.0, -3.0], [[1.0, 0.0], [2.0, 5.0]]])
def test_special_cases_agree(expr, x):
    assert_paths_agree(expr, {"x": x}, gradient="ones")


@SETTINGS
@given(expressions(), st.sampled_from([{"x": 0.5, "y": 2.0}, {"x": [0.5, -1.0], "y": 2.0}, {"x": 0.0, "y": 0.0},
                                       {"x": -3.0, "y": 1e-300}, {"x": [[1.0, 2.0], [3.0, 0.0]], "y": [1.0, -1.0]}]))
def test_fuzz_expressions_agree(expr, bindings):
    assert_paths_agree(expr, bindings, gradient="ones")


def test_a_libm_ulp_magnified_by_cancellation_is_allowed_and_no_more():
    assert_paths_agree("sin(x - sinh(y))", {"x": 0.5, "y": 2.0}, gradient="ones")
    engine = evaluate("sin(x - sinh(y))", {"x": 0.5, "y": 2.0}, check=False, trace=True)
    with pytest.raises(AssertionError):     # a real difference (here 1e-13) is still far outside it
        assert_same_numbers(engine.value + 1e-13, engine.value, "value", running_error_bound(engine))


def test_scalar_programs_run_on_floats_and_arrays_on_numpy():
    program = parse("sin(x)*y + x**2")
    assert compile_program(program, {"x": np.asarray(1.0), "y": np.asarray(2.0)}).scalar
    assert not compile_program(program, {"x": np.ones(3), "y": np.asarray(2.0)}).scalar
    assert not compile_program(parse("sum(x) + x"), {"x": np.asarray(1.0)}).scalar   # sum has no float form


def test_a_float_failure_reruns_in_numpy():
    result = assert_paths_agree("log(x) + 1/y + exp(z)", {"x": 0.0, "y": 0.0, "z": 1000.0})
    assert np.isneginf(result.value) or np.isnan(result.value)


def test_programs_are_compiled_once_per_text_and_shapes():
    compile_module.clear_cache()
    evaluate("x*y + 1", {"x": 1, "y": 2}, check=False)
    evaluate("x*y + 1", {"x": 3, "y": 4}, check=False)
    evaluate("x*y + 1", {"x": [3, 1], "y": 4}, check=False)
    (program, tapes), = compile_module._cache.values()
    assert sorted(tapes) == [((), ()), ((2,), ())]
    assert evaluate("x*y + 1", {"x": 3, "y": 4}, check=False).gradients["x"] == 4.0


def test_cache_is_bounded(monkeypatch):
    compile_module.clear_cache()
    monkeypatch.setattr(compile_module, "CACHE_ENTRIES", 3)
    for k in range(10):
        evaluate(f"x + {k}", {"x": 1}, check=False)
    assert len(compile_module._cache) == 3
    assert list(compile_module._cache)[-1] == "x + 9"


def test_wrong_derivative_reaches_cached_tapes():
    evaluate("sin(x)", {"x": 1.0}, check=False)
    with wrong_derivative("sin"):
        wrong = evaluate("sin(x)", {"x": 1.0}, check=False)
    assert wrong.gradients["x"] == pytest.approx(1.5 * np.cos(1.0))
    assert evaluate("sin(x)", {"x": 1.0}, check=False).gradients["x"] == pytest.approx(np.cos(1.0))


LANG_CASES = ["sum(W[0]*W[1])", "W[1, 0]**2", "sum(W[:, 1:])", "sum(v[1:]*v[:3])", "sum(transpose(W) @ W)",
              "sum(reshape(v, 2, 2)*W)", "sum(W - mean(W, axis=0, keepdims=1))", "sum(max(W, axis=1, keepdims=1))",
              "sum(softmax(W, axis=1)*W)", "logsumexp(v)", "sum(logsumexp(W, axis=0, keepdims=1))",
              "sum(softmax(v)*v)"]
STACK_CASES = ["sum([v[0], v[1]]*v[2])", "[s, 2*s][1]*s", "sum([[s, 1], [2, s]] @ W)", "sum([v, 2*v])"]


@pytest.mark.parametrize("expr", LANG_CASES)
def test_array_language_runs_on_the_tape_and_agrees(expr):
    bindings = {"W": [[1.0, -2.0], [0.5, 3.0]], "v": [0.3, -1.2, 2.0, 0.7], "s": 1.5}
    program = parse(expr)
    values = {n: np.asarray(bindings[n], dtype=np.float64) for n in program.inputs}
    assert compile_program(program, values) is not None        # recorded on the tape, no fallback
    assert_paths_agree(expr, bindings)


@pytest.mark.parametrize("expr", STACK_CASES)
def test_stack_falls_back_to_the_tensor_engine_and_agrees(expr):
    bindings = {"W": [[1.0, -2.0], [0.5, 3.0]], "v": [0.3, -1.2, 2.0], "s": 1.5}
    program = parse(expr)
    values = {n: np.asarray(bindings[n], dtype=np.float64) for n in program.inputs}
    with pytest.raises(NotCompilable):
        compile_program(program, values)
    assert_paths_agree(expr, bindings)
    assert evaluate(expr, bindings).check.passed          # the check's finite differences fall back too
