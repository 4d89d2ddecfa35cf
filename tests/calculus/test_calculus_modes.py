"""Modes `derivatives` (any order) and `jvp` (forward mode) through evaluate(), the library's
`derivatives` and `jvp`, their limits and errors, and the cross-check's power to catch a wrong answer."""
import math

import numpy as np
import pytest

import autodiff_cli as ad
from autodiff_cli import verify as check
from autodiff_cli.calculus import MODES
from autodiff_cli.settings import limits
from autodiff_cli import evaluate
from autodiff_cli.engine import Tensor


def test_derivatives_json_is_nested_by_variable_name():
    record = evaluate("x**4*y", {"x": 2, "y": 1}, mode="derivatives", order=3).as_dict()
    assert record["status"] == "ok" and record["order"] == 3 and record["check"]["passed"] is True
    d = record["derivatives"]
    assert d["1"] == {"x": 32.0, "y": 16.0}
    assert d["2"] == {"x": {"x": 48.0, "y": 32.0}, "y": {"x": 32.0, "y": 0.0}}
    assert d["3"]["x"]["x"]["x"] == 48.0 and d["3"]["x"]["y"]["x"] == 48.0 and d["3"]["y"]["y"]["y"] == 0.0


def test_derivatives_default_order_is_3_and_wrt_narrows_the_variables():
    result = evaluate("sin(x)*y", {"x": 0.5, "y": 2}, mode="derivatives", wrt="x")
    assert result.order == 3 and list(result.derivatives[3]) == ["x"]
    assert result.derivatives[3]["x"]["x"]["x"] == pytest.approx(-2 * math.cos(0.5))


def test_derivatives_of_an_expression_without_variables_are_zero():
    result = evaluate("x*0 + 5", {"x": 1}, mode="derivatives", order=2)
    assert result.status == "ok" and result.derivatives[2] == {"x": {"x": 0.0}}


@pytest.mark.parametrize("bindings, expr, words", [
    ({"x": [1, 2]}, "sum(x**2)", "scalar variables, and x has shape (2,)"),
    ({"x": 1}, "[x, x**2]", "scalar output, and the output has shape (2,)"),
])
def test_derivatives_refuse_arrays_and_point_elsewhere(bindings, expr, words):
    result = evaluate(expr, bindings, mode="derivatives")
    assert result.status == "error" and result.error.kind == "shape" and words in result.error.message
    assert "hessian" in result.error.hint or "jacobian" in result.error.hint


@pytest.mark.parametrize("order", [0, -1, 2.5, True, "3"])
def test_derivatives_order_must_be_a_whole_number_from_1(order):
    result = evaluate("x**2", {"x": 1}, mode="derivatives", order=order)
    assert result.error.kind == "usage" and "order" in result.error.message


def test_order_and_tangents_only_go_with_their_modes():
    assert "mode derivatives" in evaluate("x", {"x": 1}, order=2).error.message
    assert "mode jvp" in evaluate("x", {"x": 1}, mode="grad", tangents={"x": 1}).error.message


def test_derivative_limits_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("AUTODIFF_MAX_DERIVATIVES", "10")
    result = evaluate("x*y*z", {"x": 1, "y": 2, "z": 3}, mode="derivatives", order=2)   # 3 + 9 = 12 entries
    assert result.error.kind == "limit" and "12 derivatives" in result.error.message
    assert "AUTODIFF_MAX_DERIVATIVES" in result.error.message
    monkeypatch.setenv("AUTODIFF_MAX_ORDER", "4")
    result = evaluate("x**9", {"x": 1}, mode="derivatives", order=5)
    assert result.error.kind == "limit" and "AUTODIFF_MAX_ORDER" in result.error.message


def test_library_derivatives_compute_each_mixed_partial_once():
    x, y = Tensor(2.0, requires_grad=True), Tensor(1.0, requires_grad=True)
    table = ad.derivatives(x ** 4 * y, [x, y], 4)
    assert len(table[4]) == 5                     # (x,x,x,x) ... (y,y,y,y): C(5, 4) sorted indices
    assert table[4][(0, 0, 0, 0)] == 24.0 and table[4][(0, 0, 0, 1)] == 48.0
    assert ad.engine.higher.entry(table, (1, 0, 0, 0)) == 48.0
    with pytest.raises(ValueError, match="scalar"):
        ad.derivatives(x * Tensor([1.0, 2.0]), [x], 2)


# --- jvp ------------------------------------------------------------------------------------------

def test_jvp_record_has_the_tangents_and_an_output_shaped_jvp():
    record = evaluate("[x*y, x+y, sin(x)]", {"x": 1, "y": 2}, mode="jvp", tangents={"x": 1}).as_dict()
    assert record["tangents"] == {"x": 1.0, "y": 0.0}                     # missing tangents are zero
    assert record["jvp"] == pytest.approx([2.0, 1.0, math.cos(1.0)])
    assert record["check"]["passed"] is True and "gradients" not in record


def test_jvp_tangents_accept_the_binding_grammar_and_must_match_shapes():
    ok = evaluate("sum(W, axis=0)", {"W": "ones(2, 3)"}, mode="jvp", tangents={"W": "ones(2, 3)"})
    assert ok.jvp.tolist() == [2.0, 2.0, 2.0]
    wrong = evaluate("sum(W)", {"W": "ones(2, 3)"}, mode="jvp", tangents={"W": [1, 2, 3]})
    assert wrong.error.kind == "shape" and "(3,) but W has shape (2, 3)" in wrong.error.message
    unknown = evaluate("x", {"x": 1}, mode="jvp", tangents={"q": 1})
    assert unknown.error.kind == "usage" and "'q'" in unknown.error.message


def test_jvp_runs_forward_only():
    """No graph is recorded and no backward runs: the leaves never require grad."""
    calls = []
    original = ad.engine.graph.run_backward
    try:
        ad.engine.graph.run_backward = lambda *a, **k: calls.append(1)
        result = evaluate("sin(x)*y", {"x": 1, "y": 2}, mode="jvp", tangents={"x": 1}, check=False)
    finally:
        ad.engine.graph.run_backward = original
    assert result.status == "ok" and not calls


def test_library_jvp_is_torch_func_jvp_shaped():
    value, tangent = ad.jvp(lambda x, y: ad.sin(x) * y, (1.0, 2.0), (1.0, 0.0))
    assert value.item() == pytest.approx(math.sin(1.0) * 2) and tangent.item() == pytest.approx(math.cos(1.0) * 2)
    (a, b), (ta, tb) = ad.jvp(lambda v: (v[0] * v[1], ad.logsumexp(v)), (np.array([1.0, 2.0]),),
                              (np.array([1.0, 0.0]),))
    assert ta.item() == 2.0 and tb.item() == pytest.approx(1 / (1 + math.e))
    _, unrelated = ad.jvp(lambda x, y: y * 2, (1.0, 3.0), (1.0, 0.0))          # no dependence: zeros
    assert unrelated.item() == 0.0
    with pytest.raises(ValueError, match="shape"):
        ad.jvp(lambda x: x, (np.ones(3),), (np.ones(2),))


def test_an_op_without_a_forward_rule_says_so():
    bare = ad.engine.graph.defop("BareBackward0", lambda x: x * 2, lambda F, g, ans, x: 2 * g)
    with pytest.raises(NotImplementedError, match="BareBackward0 has no forward-mode"):
        ad.jvp(bare, (1.0,), (1.0,))


# --- the cross-check catches wrong answers ----------------------------------------------------------

def _sabotaged(result, change):
    change(result)
    program = ad.language.parse(result.expression)
    return program


@pytest.mark.parametrize("use_sympy", [True, False])
def test_check_catches_a_wrong_third_derivative(use_sympy, monkeypatch):
    if not use_sympy:
        monkeypatch.setattr(limits, "SYMPY_MAX_DERIVATIVES", 0)
        check.reference.forget()              # a derivation cached by the symbolic run would be used
    result = evaluate("sin(x)*exp(y)", {"x": 0.3, "y": -0.2}, mode="derivatives", order=3)
    assert result.check.passed is True
    assert result.check.method == ("sympy" if use_sympy else "finite-difference")
    result.derivatives[3]["x"]["y"]["x"] += 1e-3
    program = ad.language.parse(result.expression)
    report = check.cross_check(program, result, MODES[result.mode], rng=np.random.default_rng(0))
    assert report.passed is False


@pytest.mark.parametrize("use_sympy", [True, False])
def test_check_catches_a_wrong_jvp(use_sympy, monkeypatch):
    if not use_sympy:
        monkeypatch.setattr(limits, "SYMPY_MAX_ELEMENTS", 0)
        check.reference.forget()
    result = evaluate("softmax(W) * W", {"W": [[1, 2], [3, 4]]}, mode="jvp", tangents={"W": [[1, 0], [0, 1]]})
    assert result.check.passed is True
    assert result.check.method == ("sympy" if use_sympy else "finite-difference")
    result.jvp = result.jvp + np.array([[0, 1e-3], [0, 0]])
    report = check.cross_check(ad.language.parse(result.expression), result, MODES[result.mode],
                               rng=np.random.default_rng(0))
    assert report.passed is False


def test_custom_functions_need_their_own_forward_rule():
    class Cube(ad.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * x ** 2 * g

    class CubeWithJvp(Cube):
        @staticmethod
        def jvp(ctx, t):
            (x,) = ctx.saved_tensors
            return 3 * x.data ** 2 * t

    with pytest.raises(NotImplementedError, match="Cube has no forward-mode rule"):
        ad.jvp(Cube.apply, (2.0,), (1.0,))
    value, tangent = ad.jvp(lambda x: ad.sin(CubeWithJvp.apply(x)), (2.0,), (0.5,))
    assert tangent.item() == pytest.approx(math.cos(8.0) * 12 * 0.5)
    assert Cube.apply(Tensor(2.0)).item() == 8.0          # outside jvp nothing changes


# --- the command line and batch ---------------------------------------------------------------------

def _cli(*args):
    import os
    import subprocess
    import sys
    env = dict(os.environ, COLUMNS="120", NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "autodiff_cli", *args], capture_output=True, text=True,
                          env=env, timeout=120)


def test_cli_derivatives_and_jvp_json():
    import json
    done = _cli("derivatives", "x**4*y", "x=2", "y=1", "--order", "3", "--json")
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["derivatives"]["3"]["x"]["x"]["y"] == 48.0 and record["check"]["passed"] is True
    done = _cli("jvp", "sin(x)*y", "x=1", "y=2", "--tangent", "x=1", "--tangent", "y=0", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["jvp"] == pytest.approx(math.cos(1) * 2)


def test_cli_human_output_shows_derivatives_by_order_and_jvp_beside_the_value():
    done = _cli("derivatives", "x**4*y", "x=2", "y=1", "--order", "3")
    assert "Derivatives by order" in done.stdout and "∂³f/∂x²∂y" in done.stdout
    done = _cli("jvp", "[x*y, x+y]", "x=1", "y=2", "--tangent", "x=1")
    lines = done.stdout.splitlines()
    assert any(line.startswith("value") for line in lines) and any(line.startswith("J·t") for line in lines)


@pytest.mark.parametrize("args, words", [
    (["derivatives", "x**2", "x=1", "--order", "0"], "--order"),
    (["derivatives", "sum(x)", "x=[1,2]"], "hessian"),
    (["jvp", "x", "x=1", "--tangent", "x"], "NAME=VALUE"),
    (["jvp", "x", "x=[1,2]", "--tangent", "x=[1,2,3]"], "3 elements, but x has shape (2,)"),   # refused unbuilt
    (["jvp", "x", "x=1", "--tangent", "x=1", "--tangent", "x=2"], "given twice"),
])
def test_cli_errors_are_one_line_and_exit_2(args, words):
    done = _cli(*args)
    assert done.returncode == 2 and done.stderr.startswith("error: ") and "Traceback" not in done.stderr
    assert words in done.stderr


def test_batch_records_take_order_and_tangents_in_both_formats():
    import io
    import json
    from autodiff_cli.batch import run_batch
    text = "\n".join([
        "x**4*y | x=2 y=1 | --mode derivatives --order 3 --id t",
        "sin(x)*y | x=1 y=[1, 2] --mode jvp --tangent x=1 --tangent y=[0, 1]",
        json.dumps({"expr": "x*y", "bindings": {"x": 1, "y": 2}, "mode": "derivatives", "order": 2}),
        json.dumps({"expr": "[x, y]", "bindings": {"x": 1, "y": 2}, "mode": "jvp", "tangents": {"y": 1}}),
        json.dumps({"expr": "x", "bindings": {"x": 1}, "mode": "derivatives", "order": "3"}),
        "x | x=1 --order two",
        "x | x=1 --mode jvp --tangent x=1 --tangent x=2",
    ])
    out = io.StringIO()
    code = run_batch("-", stdin=io.BytesIO(text.encode()), out=out, err=io.StringIO(), json_output=True)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert code == 1 and [r["status"] for r in records] == ["ok"] * 4 + ["error"] * 3
    assert records[0]["derivatives"]["3"]["x"]["x"]["x"] == 48.0 and records[0]["id"] == "t"
    assert records[1]["jvp"] == pytest.approx([math.cos(1.0), 2 * math.cos(1.0) + math.sin(1.0)])
    assert records[2]["derivatives"]["2"]["x"]["y"] == 1.0
    assert records[3]["jvp"] == [0.0, 1.0] and records[3]["tangents"] == {"x": 0.0, "y": 1.0}
    assert '"order" must be a whole number' in records[4]["error"]["message"]
    assert "--order" in records[5]["error"]["message"] and "given twice" in records[6]["error"]["message"]
