"""calculus/diagnose.py: the kinks a forward pass went through (abs at 0, a tie of max), and where
nan/inf first appeared (the first node whose inputs were finite and whose output is not), both on
the recorded forward pass and on the replay used when none was recorded; one-element arrays read
as numbers."""
from types import SimpleNamespace

import numpy as np
import pytest

from autodiff_cli.api import evaluate
from autodiff_cli.calculus import diagnose
from autodiff_cli.calculus.mode import Bound, forward_pass
from autodiff_cli.language import parse


def run(expr, values):
    """(program, values, Computed-like with the recorded visits, the same without them)."""
    program = parse(expr)
    values = {n: np.asarray(v, dtype=np.float64) for n, v in values.items()}
    output, leaves, _, visited = forward_pass(Bound(program, values, list(program.inputs), np.random.default_rng(0)))
    output.backward(np.ones_like(output.data))
    gradients = {n: leaves[n].grad.data for n in program.inputs}
    recorded = SimpleNamespace(value=output.data, gradients=gradients, visited=visited, data=None)
    replayed = SimpleNamespace(value=output.data, gradients=gradients, visited=None, data=None)
    return program, values, recorded, replayed


def kink_texts(expr, values):
    program, _, recorded, _ = run(expr, values)
    return [text for _, text in diagnose.kinks(program.source, recorded.visited)]


def test_abs_at_zero_is_a_kink_with_its_column_and_convention():
    assert kink_texts("1 + abs(x)", {"x": 0.0}) == [
        "abs at column 5 (abs(x)) is evaluated where its argument is 0; PyTorch's convention abs'(0) = 0 was used"]
    assert kink_texts("1 + abs(x)", {"x": 1e-300}) == []
    assert kink_texts("sum(abs(x))", {"x": [1.0, 0.0, 2.0]})[0].startswith("abs at column 5 (abs(x))")
    assert kink_texts("sum(abs(x))", {"x": [1.0, -3.0, 2.0]}) == []


def test_a_tie_of_max_is_a_kink():
    assert kink_texts("max(y) * 2", {"y": [3.0, 1.0, 3.0]}) == [
        "max at column 1 (max(y)) has ties; PyTorch's convention (the gradient split evenly among "
        "the tied elements) was used"]
    assert kink_texts("max(y) * 2", {"y": [3.0, 1.0, 2.0]}) == []
    # along an axis: a tie in one column is enough
    assert len(kink_texts("sum(max(W, axis=0))", {"W": [[1.0, 2.0], [1.0, 3.0]]})) == 1
    assert kink_texts("sum(max(W, axis=0))", {"W": [[1.0, 2.0], [0.0, 3.0]]}) == []


def test_kinks_are_found_in_evaluation_order_and_name_their_nodes():
    program, _, recorded, _ = run("abs(x) + max(y)", {"x": 0.0, "y": [2.0, 2.0]})
    found = diagnose.kinks(program.source, recorded.visited)
    assert [node.func for node, _ in found] == ["abs", "max"]
    assert [text.split(" (")[0] for _, text in found] == ["abs at column 1", "max at column 10"]


def test_one_element_arrays():
    assert len(kink_texts("sum(abs(x))", {"x": [0.0]})) == 1
    assert kink_texts("max(y)", {"y": [5.0]}) == []                  # one element is no tie
    assert diagnose.describe_value(np.array([np.nan])) == "nan"
    assert diagnose.describe_value(np.array([[-np.inf]])) == "-inf"
    assert diagnose.describe_value(np.array([0.5])) == "0.5"
    assert diagnose.describe_value(np.array([1.0, np.nan, np.inf])) == "an array of shape (3,) with nan and inf"
    assert diagnose.describe_value(np.array([1.0, 2.0])) == "an array of shape (2,)"
    program, values, recorded, _ = run("sum(log(x))", {"x": [0.0]})
    assert diagnose.non_finite_warnings(program, values, recorded)[0] == "log at column 5 (log(x)) produced -inf from 0"


@pytest.mark.parametrize("path", ["recorded", "replayed"])
def test_non_finite_origins_name_the_first_node_only(path):
    program, values, recorded, replayed = run("a = log(x); b = a * 2; b + sqrt(y)", {"x": 0.0, "y": -1.0})
    computed = recorded if path == "recorded" else replayed
    assert diagnose.non_finite_warnings(program, values, computed) == [
        "log at column 5 (log(x)) produced -inf from 0",            # not a*2, nor b + ..., nor the names a, b
        "sqrt at column 28 (sqrt(y)) produced nan from -1",
        "the gradient of x is not finite",
        "the gradient of y is not finite"]


@pytest.mark.parametrize("path", ["recorded", "replayed"])
def test_an_intermediate_used_twice_is_reported_where_it_is_computed(path):
    program, values, recorded, replayed = run("a = 1/x; a + a", {"x": 0.0})
    computed = recorded if path == "recorded" else replayed
    assert diagnose.non_finite_warnings(program, values, computed) == [
        "/ at column 6 (1/x) produced inf from 1, 0", "the gradient of x is not finite"]


@pytest.mark.parametrize("path", ["recorded", "replayed"])
def test_an_input_given_as_nan_is_named(path):
    program, values, recorded, replayed = run("log(x) + y", {"x": [0.0], "y": [np.nan]})
    computed = recorded if path == "recorded" else replayed
    assert diagnose.non_finite_warnings(program, values, computed) == [
        "log at column 1 (log(x)) produced -inf from 0", "the input y is nan", "the gradient of x is not finite"]


def test_overflow_names_the_operation_and_its_finite_operands():
    program, values, recorded, _ = run("x*1e308*10", {"x": 1.0})
    assert diagnose.non_finite_warnings(program, values, recorded)[0] == \
        "* at column 8 (x*1e308*10) produced inf from 1e+308, 10"


def test_nothing_to_say_when_everything_is_finite():
    program, values, recorded, replayed = run("log(x) * y", {"x": 2.0, "y": 3.0})
    assert diagnose.non_finite_warnings(program, values, recorded) == []
    assert diagnose.non_finite_warnings(program, values, replayed) == []


def test_at_most_max_origins_are_listed():
    expr = " + ".join(f"log(x{k})" for k in range(8))
    program, values, recorded, _ = run(expr, {f"x{k}": 0.0 for k in range(8)})
    warnings = diagnose.non_finite_warnings(program, values, recorded)
    origins = [w for w in warnings if " produced " in w]
    assert len(origins) == diagnose.MAX_ORIGINS == 5
    assert origins[0].startswith("log at column 1 (log(x0))")


@pytest.mark.parametrize("check", [False, True])
def test_through_evaluate_with_and_without_the_check(check):
    # without the check a scalar grad run records no visits: diagnose replays the program
    result = evaluate("a = log(x); b = a * 2; b + 1", {"x": 0}, check=check)
    assert result.warnings == ["log at column 5 (log(x)) produced -inf from 0", "the gradient of x is not finite"]


@pytest.mark.parametrize("expr, bindings, noted", [
    ("(x-1)**2", {"x": 1}, False),            # smooth: a whole exponent >= 1 (issue 28, item 6)
    ("x**3", {"x": 0}, False),
    ("x**y", {"x": 0, "y": 2}, False),        # 0**y is 0 for every y > 0: smooth in y too
    ("x**0.5", {"x": 0}, True),               # PyTorch's convention: d/dx = inf
    ("x**y", {"x": 0, "y": 0.5}, True),
    ("x**0", {"x": 0}, True),                 # d/dx x**0 = 0 by convention
])
def test_a_power_with_base_0_is_a_kink_only_where_the_exponent_makes_it_one(expr, bindings, noted):
    from autodiff_cli import evaluate
    result = evaluate(expr, bindings)
    notes = " ".join(result.check.notes)
    assert ("has base 0" in notes) is noted, notes
