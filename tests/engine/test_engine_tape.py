"""engine/tape.py: a Tape made by language.compile.compiled runs forward and backward as the Tensor
engine computes (on Python floats for scalar programs, in numpy otherwise); a float failure reruns
in numpy so nan/inf come out as numpy's; tapes are cached by expression text and input shapes."""
import math

import numpy as np
import pytest

from autodiff_cli.engine import Tensor
from autodiff_cli.language import compile as compile_module
from autodiff_cli.language import lower_to_engine
from autodiff_cli.language.compile import compiled, parsed


@pytest.fixture(autouse=True)
def empty_cache():
    compile_module.clear_cache()
    with np.errstate(all="ignore"):        # as evaluate() runs the tape (quiet_numpy)
        yield
    compile_module.clear_cache()


def engine_run(program, values, wrt, seed=None):
    """The Tensor engine's value and gradients (None where no gradient arrives)."""
    leaves = {n: Tensor(values[n], requires_grad=n in wrt) for n in program.inputs}
    output, _ = lower_to_engine(program, leaves)
    output.backward(None if seed is None else Tensor(seed))
    return output.data, {n: None if leaves[n].grad is None else leaves[n].grad.data for n in wrt}


def tape_run(expr, values, wrt=None, seed=None, **options):
    program = parsed(expr)
    wrt = list(program.inputs) if wrt is None else wrt
    arrays = {n: np.asarray(v, dtype=np.float64) for n, v in values.items()}
    tape = compiled(program, arrays)
    slot_values, grads, needs = tape.run([arrays[n] for n in program.inputs],
                                         [program.inputs.index(n) for n in wrt], seed, **options)
    gradients = {n: grads[program.inputs.index(n)] for n in wrt}
    return tape, slot_values[tape.output], gradients, needs


SCALAR_PROGRAMS = [
    ("sin(x)*y + exp(x/y)", {"x": 0.7, "y": -1.3}),
    ("a = x**3 - 2*x*y; b = tanh(a) + log1p(y*y); a*b + sqrt(x)", {"x": 1.5, "y": 0.25}),
    ("1/x + x**y + 2**x", {"x": 2.5, "y": 1.5}),
]


@pytest.mark.parametrize("expr, values", SCALAR_PROGRAMS)
def test_scalar_programs_run_on_floats_and_agree_with_the_engine(expr, values):
    tape, value, gradients, _ = tape_run(expr, values)
    assert tape.scalar
    assert type(value) is float               # the float loop ran, not numpy
    program = parsed(expr)
    arrays = {n: np.asarray(v, dtype=np.float64) for n, v in values.items()}
    want_value, want_gradients = engine_run(program, arrays, list(program.inputs))
    assert value == pytest.approx(float(want_value), rel=1e-13)
    for name in program.inputs:
        assert gradients[name] == pytest.approx(float(want_gradients[name]), rel=1e-12, abs=1e-300)


def test_scalar_gradients_by_hand():
    tape, value, gradients, _ = tape_run("x*x*y + sin(y)", {"x": 3.0, "y": 2.0})
    assert value == 18.0 + math.sin(2.0)
    assert gradients == {"x": 12.0, "y": 9.0 + math.cos(2.0)}


ARRAY_PROGRAMS = [
    ("sum(tanh(W@x) * b)", {"W": np.arange(6.0).reshape(2, 3) / 7, "x": [0.5, -1.0, 2.0], "b": [1.0, -3.0]}),
    ("h = x * y; mean(h**2) + sum(exp(h) / (1 + x))", {"x": [0.1, 0.2, 0.3], "y": 2.0}),
    ("logsumexp(W, axis=1) + max(W, axis=0)[0:2]",
     {"W": np.array([[0.3, -1.0, 2.0], [1.5, 0.25, -0.5]])}),
]


@pytest.mark.parametrize("expr, values", ARRAY_PROGRAMS)
def test_array_programs_run_in_numpy_and_agree_with_the_engine(expr, values):
    program = parsed(expr)
    arrays = {n: np.asarray(v, dtype=np.float64) for n, v in values.items()}
    tape = compiled(program, arrays)
    assert not tape.scalar
    out_shape = tape.shapes[tape.output]
    seed = None if out_shape == () else np.linspace(-1.0, 2.0, int(np.prod(out_shape))).reshape(out_shape)
    want_value, want_gradients = engine_run(program, arrays, list(program.inputs), seed)
    for fresh in (False, True):     # the compiling pass's values serve the first run; then a real forward
        inputs = [arrays[n].copy() if fresh else arrays[n] for n in program.inputs]
        slot_values, grads, _ = tape.run(inputs, list(range(len(inputs))), seed)
        np.testing.assert_allclose(slot_values[tape.output], want_value, rtol=1e-13)
        for k, name in enumerate(program.inputs):
            assert grads[k].shape == arrays[name].shape
            np.testing.assert_allclose(grads[k], want_gradients[name], rtol=1e-12, atol=1e-15)


def test_only_wrt_inputs_get_gradients_and_needs_follows_dependence():
    program = parsed("a = x * 2; b = y + 1; a + b")
    tape, value, gradients, needs = tape_run("a = x * 2; b = y + 1; a + b", {"x": 1.0, "y": 5.0}, wrt=["x"])
    assert value == 8.0 and gradients == {"x": 2.0}
    y_slot = program.inputs.index("y")
    assert needs[program.inputs.index("x")] and not needs[y_slot]
    assert needs[tape.named["a"]] and not needs[tape.named["b"]]
    _, grads_slots, _ = tape.run([1.0, 5.0], [program.inputs.index("x")])
    assert grads_slots[y_slot] is None and grads_slots[tape.named["b"]] is None


def test_seed_scales_the_gradients():
    _, _, plain, _ = tape_run("x**2 * y", {"x": 3.0, "y": 2.0})
    _, _, seeded, _ = tape_run("x**2 * y", {"x": 3.0, "y": 2.0}, seed=-2.5)
    assert seeded == {"x": -2.5 * plain["x"], "y": -2.5 * plain["y"]} == {"x": -30.0, "y": -22.5}
    _, _, arrays, _ = tape_run("x * y", {"x": [1.0, 2.0], "y": [3.0, 4.0]}, seed=np.array([10.0, -1.0]))
    np.testing.assert_array_equal(arrays["x"], [30.0, -4.0])
    np.testing.assert_array_equal(arrays["y"], [10.0, -2.0])


@pytest.mark.parametrize("expr, x, value, gradient", [
    ("log(x)", 0.0, -np.inf, np.inf),                 # math.log raises ValueError
    ("sqrt(x)", -1.0, np.nan, np.nan),
    ("1/x", 0.0, np.inf, -np.inf),                     # ZeroDivisionError
    ("exp(x)", 1000.0, np.inf, np.inf),                # OverflowError
])
def test_a_float_failure_reruns_in_numpy_with_numpys_nan_and_inf(expr, x, value, gradient):
    tape, got_value, gradients, _ = tape_run(expr, {"x": x})
    assert tape.scalar                                  # it would run on floats...
    assert type(got_value) is not float                 # ...but numpy computed it
    np.testing.assert_array_equal(got_value, value)
    np.testing.assert_array_equal(gradients["x"], gradient)
    program = parsed(expr)
    want_value, want_gradients = engine_run(program, {"x": np.asarray(x)}, ["x"])
    np.testing.assert_array_equal(got_value, want_value)
    np.testing.assert_array_equal(gradients["x"], want_gradients["x"])
    np.testing.assert_array_equal(tape.value([np.asarray(x)]), value)
    # the same tape still runs on floats where floats work
    assert type(tape.run([np.asarray(2.0)], [0])[0][tape.output]) is float


def test_value_and_values_at_agree_with_run():
    program = parsed("sin(x) * y + x / y")
    arrays = {"x": np.asarray(0.5), "y": np.asarray(2.0)}
    tape = compiled(program, arrays)
    points = [[0.5, 2.0], [1.0, -3.0], [-2.0, 0.25]]
    at = tape.values_at(points)
    assert at == [tape.value([np.asarray(a), np.asarray(b)]) for a, b in points]
    assert at == [math.sin(a) * b + a / b for a, b in points]
    assert tape.values_at([[1.0, 2.0], [1.0, 0.0]]) is None     # y = 0 fails in floats: ask point by point
    assert np.isinf(tape.value([np.asarray(1.0), np.asarray(0.0)]))


def test_values_at_is_none_for_numpy_tapes():
    tape = compiled(parsed("sum(x)"), {"x": np.ones(3)})
    assert tape.values_at([[np.ones(3)]]) is None
    assert tape.value([np.array([1.0, 2.0, 4.0])]) == 7.0


def test_keep_values_keeps_every_slot():
    program = parsed("a = exp(x); b = a * x; sum(b * a)")
    x = np.array([0.5, 1.0])
    tape = compiled(program, {"x": x})
    slot_values, _, _ = tape.run([x.copy()], [0], keep_values=True)
    assert all(v is not None for v in slot_values)
    np.testing.assert_allclose(slot_values[tape.named["b"]], np.exp(x) * x)


def test_the_gradient_of_an_input_is_not_a_view_of_an_input_value():
    # d(sum(x*y))/dy is x: the caller must get its own array, not x's (it may write into it)
    x, y = np.arange(1.0, 2.0e5 + 1), np.ones(int(2e5))
    tape = compiled(parsed("sum(x*y)"), {"x": x, "y": y})
    _, grads, _ = tape.run([x, y], [0, 1])
    np.testing.assert_array_equal(grads[1], x)
    assert not np.shares_memory(grads[1], x) and not np.shares_memory(grads[0], y)


def test_tapes_are_cached_by_text_and_input_shapes():
    program = parsed("x * y + 1")
    assert parsed("x * y + 1") is program
    scalar = compiled(program, {"x": np.asarray(1.0), "y": np.asarray(2.0)})
    assert compiled(program, {"x": np.asarray(7.0), "y": np.asarray(-3.0)}) is scalar
    vector = compiled(program, {"x": np.ones(2), "y": np.asarray(2.0)})
    assert vector is not scalar and compiled(program, {"x": np.zeros(2), "y": np.asarray(0.0)}) is vector
    assert sorted(compile_module._cache[program.source][1]) == [((), ()), ((2,), ())]
    # a cached tape computes at the new point, not the one it was compiled at
    _, grads, _ = vector.run([np.array([5.0, 6.0]), np.asarray(3.0)], [0, 1])
    np.testing.assert_array_equal(grads[0], [3.0, 3.0])
    assert float(grads[1]) == 11.0
    compile_module.clear_cache()
    assert compiled(program, {"x": np.asarray(1.0), "y": np.asarray(2.0)}) is not scalar


def test_a_visiting_compile_replaces_a_tape_without_visits():
    program = parsed("abs(x) + x")
    plain = compiled(program, {"x": np.asarray(1.0)})
    assert not plain.has_visited and plain.visited == []
    visiting = compiled(program, {"x": np.asarray(1.0)}, visit=True)
    assert visiting is not plain and visiting.has_visited and visiting.visited
    assert compiled(program, {"x": np.asarray(2.0)}) is visiting        # serves both from now on


def test_cache_is_bounded_in_entries_and_instructions(monkeypatch):
    monkeypatch.setattr(compile_module, "CACHE_ENTRIES", 2)
    for k in range(4):
        compiled(parsed(f"x + {k}"), {"x": np.asarray(1.0)})
    assert list(compile_module._cache) == ["x + 2", "x + 3"]
    compile_module.clear_cache()
    monkeypatch.setattr(compile_module, "CACHE_ENTRIES", 100)
    monkeypatch.setattr(compile_module, "CACHE_INSTRUCTIONS", 10)
    big = compiled(parsed("x" + " + x" * 20), {"x": np.asarray(1.0)})     # 20 instructions: never cached
    assert big.size == 20
    assert compile_module._cache["x" + " + x" * 20][1] == {}
    assert compile_module._cache_size == 0
    for k in range(6):
        compiled(parsed(f"x * {k} + 1"), {"x": np.asarray(1.0)})           # 2 instructions + 1 each
    assert compile_module._cache_size <= 10
    assert "x * 5 + 1" in compile_module._cache and "x * 0 + 1" not in compile_module._cache
