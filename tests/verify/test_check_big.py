"""The cross-check on expressions above the symbolic size limit (finite differences), and what it
costs there: counted (forward passes, node walks), never timed."""
import numpy as np
import pytest

from autodiff_cli import verify as check
from autodiff_cli.settings import limits
from autodiff_cli.verify import finite_difference
from autodiff_cli.engine.tape import Tape
from autodiff_cli.api import evaluate
from autodiff_cli.language.compile import clear_cache, compiled, parsed
from autodiff_cli.language.nodes import postorder
from autodiff_cli.testing import wrong_derivative

POINT = {"x": 0.7, "y": -1.3, "z": 0.4, "u": 2.1, "w": -0.2}


def big_sum(terms, extra=""):
    """`1*x + 2*y + ... ` over the five variables of POINT (the W8 workload's shape), plus `extra`."""
    names = list(POINT)
    return " + ".join(f"{k % 7 + 1}*{names[k % len(names)]}" for k in range(terms)) + extra


@pytest.fixture
def passes(monkeypatch):
    """Counts of the tape's forward runs: {'value': single points, 'values_at': [points per batch]}."""
    counts = {"value": 0, "values_at": []}
    value, values_at = Tape.value, Tape.values_at

    def counted_value(self, inputs):
        counts["value"] += 1
        return value(self, inputs)

    def counted_values_at(self, points):
        counts["values_at"].append(len(points))
        return values_at(self, points)

    monkeypatch.setattr(Tape, "value", counted_value)
    monkeypatch.setattr(Tape, "values_at", counted_values_at)
    clear_cache()
    return counts


def test_a_big_expression_is_checked_by_finite_differences_in_one_pass(passes):
    expr = big_sum(500, " + sin(z)*u")
    assert check.node_count(parsed(expr)) > limits.SYMPY_MAX_NODES
    result = evaluate(expr, POINT)
    assert result.status == "ok" and result.check.method == "finite-difference"
    assert all(result.check.per_variable[name].passed for name in POINT)
    assert passes == {"value": 0, "values_at": [2 * len(POINT)]}      # +-h for every variable at once


def test_a_few_points_run_one_at_a_time(passes):
    result = evaluate(big_sum(500), POINT, wrt="x,y")              # two variables: 4 points
    assert result.status == "ok" and result.check.method == "finite-difference"
    assert 2 * 2 < finite_difference.BATCH_POINTS and passes == {"value": 4, "values_at": []}


@pytest.mark.parametrize("op, wrong", [("sin", {"z"}), ("*", set(POINT)), ("+", set(POINT))])
def test_a_wrong_derivative_in_a_big_expression_is_caught(passes, op, wrong):
    expr = big_sum(500, " + sin(z)")
    with wrong_derivative(op):
        result = evaluate(expr, POINT)
    assert result.check.method == "finite-difference" and result.status == "mismatch"
    assert {name for name in POINT if result.check.per_variable[name].passed is False} == wrong
    assert all(result.check.per_variable[name].passed for name in set(POINT) - wrong)
    # the failing differences look again at 2h, and at the point itself (the jump test): a batch
    # again when there are enough of those points, else a run each
    again = 2 * len(wrong) + 1
    batched = again >= finite_difference.BATCH_POINTS
    assert passes["values_at"] == [2 * len(POINT)] + ([again] if batched else [])
    assert passes["value"] == (0 if batched else again)


def test_a_kink_in_a_big_expression_is_still_noted_and_excuses_only_its_variable():
    clear_cache()
    result = evaluate(big_sum(500, " + abs(x - 0.7)"), POINT)
    assert result.status == "ok" and result.check.method == "finite-difference"
    assert {e.entry for e in result.check.excused} == {"x"}
    assert any("abs at column" in note for note in result.check.notes)
    with wrong_derivative("*"):
        assert evaluate(big_sum(500, " + abs(x - 0.7)"), POINT).status == "mismatch"


def test_without_ops_that_have_kinks_the_check_records_no_tree_node():
    clear_cache()
    expr = big_sum(500)
    evaluate(expr, POINT)
    values = {name: np.float64(v) for name, v in POINT.items()}
    assert compiled(parsed(expr), values).has_visited is False


def test_values_at_is_value_at_each_point():
    program = parsed("sin(x)*y + x**3 - y/x + log1p(x*x)")
    tape = compiled(program, {"x": np.float64(0.3), "y": np.float64(2.0)})
    points = [[0.3, 2.0], [-1.5, 0.25], [7.0, -3.0]]
    assert tape.values_at(points) == [float(tape.value(p)) for p in points]     # bit for bit


def test_values_at_leaves_a_failing_float_forward_to_value():
    program = parsed("log(x) + y")
    tape = compiled(program, {"x": np.float64(1.0), "y": np.float64(2.0)})
    assert tape.values_at([[1.0, 2.0], [0.0, 2.0]]) is None                    # math.log(0) raises
    with np.errstate(divide="ignore"):
        assert tape.value([0.0, 2.0]) == -np.inf                                 # numpy's answer


def test_a_failing_batch_falls_back_to_one_point_at_a_time(passes):
    expr = big_sum(500, " + log(z)")
    near_zero = dict(POINT, z=1e-13)                  # z - h < 0: log raises in floats, numpy gives nan
    result = evaluate(expr, near_zero)
    # the batch fails at z - h (log of a negative number raises in floats): every point once more by
    # value(), then z's 2h points and the point itself (too few for a batch) by value()
    assert passes["values_at"] == [2 * len(POINT)] and passes["value"] == 2 * len(POINT) + 3
    assert "not finite" in result.check.per_variable["z"].note
    assert all(result.check.per_variable[name].passed for name in set(POINT) - {"z"})


def test_the_node_count_is_the_recorded_post_order():
    program = parsed("s = " + big_sum(1000) + "\nv = sin(x) * u\ns + v + z")
    assert all(statement.nodes is not None for statement in program.statements)
    walked = sum(len(postorder(statement.expr)) for statement in program.statements)
    assert check.node_count(program) == walked == (4 * 1000 - 1) + 4 + 5


def test_a_batch_of_huge_records_never_imports_sympy(tmp_path):
    """Checked by finite differences, a serial batch of records over the symbolic limit has no
    formula to show: SymPy (a fifth of a second to import) is left unimported."""
    import json
    import subprocess
    import sys
    path = tmp_path / "big.jsonl"
    path.write_text(json.dumps({"expr": " + ".join(f"{k % 7 + 1}*x" for k in range(600)), "bindings": {"x": 0.5}}) + "\n")
    code = ("import sys\nfrom autodiff_cli.cli import main\ntry:\n    main(['batch', sys.argv[1], '--json'])\n"
            "except SystemExit as stop:\n    print('sympy' in sys.modules, stop.code)")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120)
    record = json.loads(out.stdout.splitlines()[0])
    assert record["status"] == "ok" and record["check"]["method"] == "finite-difference", record
    assert out.stdout.splitlines()[-1] == "False 0", out.stdout[-300:]
