"""One judge for all five modes (issue 24, part 1): derivatives and jvp are judged entry by entry like
grad, hessian and jacobian; excuses are earned (a nan where the derivative is finite, a wrong value at a
tie, a tie that decides nothing); the forward value is judged; the finite-difference fallback uses
forward passes only; the symbolic route refuses what it could not finish within its budget."""
import contextlib
import math
import types

import numpy as np
import pytest

from autodiff_cli import evaluate
from autodiff_cli.calculus import MODES
from autodiff_cli.engine.ops import OPS
from autodiff_cli.language import compile as compile_module
from autodiff_cli.language.compile import parsed
from autodiff_cli.settings import deadline, limits
from autodiff_cli.testing import wrong_derivative
from autodiff_cli import verify
from autodiff_cli.verify import reference


@pytest.fixture(autouse=True)
def fresh_derivations():
    reference.forget()
    yield
    reference.forget()


# --- the examples of the issue's first table ---------------------------------------------------------

TABLE = [
    ("sin(x)*y", {"x": 0.7, "y": 1.3}, {"mode": "derivatives", "order": 3}),
    ("sin(x)*y + abs(z)", {"x": 0.7, "y": 1.3, "z": 0.0}, {"mode": "derivatives", "order": 2}),
    ("sin(x)*y + relu(z)", {"x": 0.7, "y": 1.3, "z": 0.0}, {"mode": "derivatives", "order": 3}),
    ("sin(x)*y + abs(z)", {"x": 0.7, "y": 1.3, "z": 0.0}, {"mode": "jvp", "tangents": {"x": 1, "y": 1}}),
    ("sum(sin(v))*y + max(z, w)", {"v": [0.2, 0.9], "y": 1.3, "z": 1.0, "w": 1.0},
     {"mode": "jvp", "tangents": {"v": [1, -1], "y": 1}}),
]


@pytest.mark.parametrize("expr, bindings, options", TABLE)
def test_the_issue_examples_are_caught_next_to_kinks_and_ties(expr, bindings, options):
    right = evaluate(expr, bindings, **options)
    assert right.status == "ok" and right.check.method == "sympy", right.to_json()
    assert right.check.passed is True              # the entries through sin are judged, and right
    with wrong_derivative("sin"):
        wrong = evaluate(expr, bindings, **options)
    assert wrong.status == "mismatch", wrong.to_json()


def test_every_order_of_differentiation_is_compared_with_the_one_reference():
    result = evaluate("sin(x)*exp(y)", {"x": 0.3, "y": -0.2}, mode="derivatives", order=3)
    assert result.status == "ok" and result.check.judged == 9       # 2 + 3 + 4 distinct partials
    result.derivatives[3]["y"]["x"]["x"] += 1e-3                    # one order of d3/dx2dy only
    report = verify.cross_check(parsed(result.expression), result, MODES["derivatives"])
    assert report.passed is False


def test_a_high_order_is_judged_without_enumerating_permutations():
    # 2**1 + ... + 2**12 = 8190 reported numbers; one reference entry per sorted multi-index (90)
    result = evaluate("x*y + x**3", {"x": 1.0, "y": 2.0}, mode="derivatives", order=12)
    assert result.status == "ok" and result.check.passed is True and result.check.judged == 90
    assert evaluate("x", {"x": 1.0}, mode="derivatives", order=12).check.passed is True


def test_a_pole_is_excused_in_derivatives_as_in_grad():
    for mode, options in (("grad", {}), ("derivatives", {"order": 2})):
        result = evaluate("1/x", {"x": 0.0}, mode=mode, **options)
        assert result.status == "ok" and {e.entry for e in result.check.excused} >= {"x"}, result.to_json()


@pytest.mark.parametrize("mode, options", [("derivatives", {"order": 3, "wrt": ["x", "y"]}),
                                           ("jvp", {"tangents": {"x": 1.0}, "wrt": ["x", "y"]}),
                                           ("jvp", {"tangents": {"x": 1.0, "y": 2.0}})])
def test_a_non_finite_value_elsewhere_is_no_false_alarm(mode, options):
    bindings = {"x": 0.7, "y": 1.3, "w": [0.0, 1.0]}
    right = evaluate("sin(x)*y + sum(log(w))", bindings, mode=mode, **options)
    assert right.status == "ok", right.to_json()
    if "w" not in right.wrt:     # w differentiated: its tangent 0 times inf makes J.t nan (in PyTorch too)
        with wrong_derivative("sin"):
            assert evaluate("sin(x)*y + sum(log(w))", bindings, mode=mode, **options).status == "mismatch"


def test_jvp_gives_constants_no_tangent():
    """As torch.func.jvp: a constant at a pole does not make J.t nan (0 * inf)."""
    result = evaluate("sin(x)*y + sum(log(w))", {"x": 0.7, "y": 1.3, "w": [0.0, 1.0]}, mode="jvp",
                      tangents={"x": 1.0}, wrt=["x", "y"])
    assert result.jvp == pytest.approx(math.cos(0.7) * 1.3) and result.check.passed is True


# --- excuses that are earned ----------------------------------------------------------------------------

@contextlib.contextmanager
def vjp_replaced(op, vjp):
    """The VJP of the op's first node replaced (a mutant written into the table)."""
    spec = next(s for s in OPS if s.name == op)
    cls = spec.primitives[spec.node].node_class
    saved = cls.vjps
    cls.vjps = (vjp,) + tuple(saved[1:])
    compile_module.clear_cache()
    try:
        yield
    finally:
        cls.vjps = saved
        compile_module.clear_cache()


def test_a_nan_where_the_derivative_is_finite_is_a_mismatch():
    # exp's VJP as an unsimplified formula: g * ans * x / x, nan at x = 0 where exp'(0) = 1
    with vjp_replaced("exp", lambda F, g, ans, x: g * ans * x / x):
        result = evaluate("exp(x)*y + sin(z)", {"x": 0.0, "y": 2.0, "z": 1.0})
    assert np.isnan(result.gradients["x"])
    assert result.status == "mismatch" and result.check.per_variable["x"].passed is False
    assert any("nan where the derivative is finite" in note for note in result.check.notes)
    assert not result.check.excused


def test_a_tie_that_decides_nothing_excuses_nothing():
    bindings = {"x": [0.5, 0.5, -0.3], "y": 2.0}
    right = evaluate("min(x)*y", bindings)
    assert right.status == "ok" and not right.check.excused and right.check.judged == 4
    with wrong_derivative("min"):
        assert evaluate("min(x)*y", bindings).status == "mismatch"


@pytest.mark.parametrize("factor", [-1.0, 1.5])
@pytest.mark.parametrize("expr, bindings, op", [
    ("max(x, y)*w", {"x": 1.0, "y": 1.0, "w": 2.0}, "max"),
    ("max(v)*w", {"v": [1.0, 3.0, 3.0], "w": 2.0}, "max"),
    ("max(z, 0)*w + z", {"z": 0.0, "w": 2.0}, "max"),
])
def test_at_a_kink_the_engine_must_give_a_value_a_convention_allows(expr, bindings, op, factor):
    right = evaluate(expr, bindings)
    assert right.status == "ok" and right.check.excused, right.to_json()      # listed: no derivative exists
    with wrong_derivative(op, factor=factor):
        wrong = evaluate(expr, bindings)
    assert wrong.status == "mismatch", wrong.to_json()
    assert any("none of the values a convention may give" in note for note in wrong.check.notes)


def test_a_tie_rule_that_gives_every_tied_argument_the_whole_gradient_is_caught():
    """`>` changed to `>=` in maximum's VJPs: each entry alone is a branch's value, together no convention's."""
    from autodiff_cli.engine.graph import raw
    tie_rule = (lambda F, g, ans, a, b: g * (raw(a) >= raw(b)), lambda F, g, ans, a, b: g * (raw(b) >= raw(a)))
    spec = next(s for s in OPS if s.name == "maximum")
    cls = spec.primitives[spec.node].node_class
    saved = cls.vjps
    assert evaluate("max(x, y)*w", {"x": 1.0, "y": 1.0, "w": 2.0}).status == "ok"
    cls.vjps = tie_rule
    compile_module.clear_cache()
    try:
        wrong = evaluate("max(x, y)*w", {"x": 1.0, "y": 1.0, "w": 2.0})
    finally:
        cls.vjps = saved
        compile_module.clear_cache()
    assert wrong.gradients["x"] == wrong.gradients["y"] == 2.0
    assert wrong.status == "mismatch" and any("different convention" in note for note in wrong.check.notes)


def test_the_value_is_judged():
    sinh = compile_module._direct_ops()["sinh"][1]       # sinh's float forward on the compiled tape
    saved = sinh.scalar
    object.__setattr__(sinh, "scalar", lambda x: math.sinh(x) * 2)      # forgot the /2
    compile_module.clear_cache()
    try:
        result = evaluate("sinh(x)*y", {"x": 0.7, "y": 1.0})
    finally:
        object.__setattr__(sinh, "scalar", saved)
        compile_module.clear_cache()
    assert result.value == pytest.approx(2 * math.sinh(0.7))
    assert result.status == "mismatch" and result.check.value_check.passed is False
    assert any("the forward pass is wrong" in note for note in result.check.notes)
    for mode, options in (("jvp", {"tangents": {"x": 1}}), ("derivatives", {"order": 2}), ("hessian", {})):
        result = evaluate("sinh(x)*y", {"x": 0.7, "y": 1.0}, mode=mode, **options)
        assert result.status == "ok"
        result.value = result.value * 1.001
        assert verify.cross_check(parsed(result.expression), result, MODES[mode]).passed is False


def test_a_value_the_cas_simplifies_is_not_called_wrong():
    for expr in ("0 / (x + -1)", "x / 0.0"):
        assert evaluate(expr, {"x": 1.0}).status == "ok"


# --- an independent fallback ----------------------------------------------------------------------------

def test_the_finite_difference_fallback_of_derivatives_uses_forward_passes_only(monkeypatch):
    monkeypatch.setattr(limits, "SYMPY_MAX_DERIVATIVES", 0)
    from autodiff_cli.engine import higher
    result = evaluate("sin(x)*exp(y)*z", {"x": 0.3, "y": -0.2, "z": 0.9}, mode="derivatives", order=3)
    assert result.check.method == "finite-difference" and result.check.passed is True
    calls = []
    result.derivatives[3]["x"]["y"]["z"] = 0.0          # every third derivative 0: the issue's case
    result.derivatives[3]["z"]["x"]["y"] = 0.0
    with monkeypatch.context() as patched:
        patched.setattr(higher, "derivatives", lambda *a, **k: calls.append(1))
        report = verify.cross_check(parsed(result.expression), result, MODES["derivatives"])
    assert report.passed is False and not calls
    with wrong_derivative("sin"):
        wrong = evaluate("sin(x)*exp(y)*z", {"x": 0.3, "y": -0.2, "z": 0.9}, mode="derivatives", order=3)
    assert wrong.check.method == "finite-difference" and wrong.status == "mismatch"


def test_an_order_differences_cannot_judge_is_left_unjudged(monkeypatch):
    monkeypatch.setattr(limits, "SYMPY_MAX_DERIVATIVES", 0)
    result = evaluate("exp(x)*sin(x)", {"x": 0.4}, mode="derivatives", order=12)
    assert result.check.method == "finite-difference" and result.status == "ok"
    unjudged = {e.entry for e in result.check.excused}
    assert "/".join(["x"] * 12) in unjudged and "x" not in unjudged
    assert any("could not be judged reliably" in note for note in result.check.notes)


def test_the_jvp_fallback_catches_a_wrong_forward_rule(monkeypatch):
    monkeypatch.setattr(limits, "SYMPY_MAX_ELEMENTS", 0)
    args = ("softmax(W) * W", {"W": [[1, 2], [3, 4]]})
    right = evaluate(*args, mode="jvp", tangents={"W": [[1, 0], [0, 1]]})
    assert right.check.method == "finite-difference" and right.check.passed is True
    with wrong_derivative("softmax"):
        assert evaluate(*args, mode="jvp", tangents={"W": [[1, 0], [0, 1]]}).status == "mismatch"


# --- bounded work -----------------------------------------------------------------------------------------

def test_a_derivation_too_large_to_compile_in_time_is_refused_up_front():
    expr = "x"
    for _ in range(60):
        expr = f"sqrt({expr}*0.9+0.1)"
    result = evaluate(expr, {"x": 0.3})
    assert result.status == "ok" and result.check.method == "finite-difference"
    assert any("too large to compile" in note for note in result.check.notes)


def test_an_alarm_is_not_raised_while_a_deadline_is_being_left():
    leaving = types.SimpleNamespace(f_code=deadline.Deadline.__exit__.__code__)
    with deadline.time_limit(1000.0) as limit:
        limit.expiry = 0.0                         # due: an alarm now would raise...
        deadline._on_alarm(14, leaving)            # ...but not inside __exit__: it asks again later
        with pytest.raises(deadline.TimeLimitExceeded):
            deadline._on_alarm(14, None)
