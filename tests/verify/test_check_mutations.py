"""Mutation tests of the cross-check: for every op of the table (indexing and stacking included), with
the engine's derivative through that op made 1.5 times the correct one (`wrong_derivative(op)`), in
all five modes (derivatives to order 2 here, jvp with a tangent on x and y), at smooth points, alone
and beside a kink, a tie or a non-finite value in OTHER variables, the check must say `mismatch`; the
same expressions without the fault must be `ok`.

The matrix test prints the catch rate (mutants caught / mutants run) of each route of the check:
symbolic (every mutant), and finite differences (forced here; used for big problems), which cannot
judge anything when the value is non-finite near the point, and says so instead of passing.
"""
import itertools
import re

import numpy as np
import pytest

from autodiff_cli.settings import limits
from autodiff_cli.engine.ops import OPS
from autodiff_cli.api import evaluate
from autodiff_cli.testing import wrong_derivative
from autodiff_cli.verify import reference

MODES = ("grad", "hessian", "jacobian", "derivatives", "jvp")
ORDER = 2                                   # derivatives: orders 1 and 2 (test_calculus_modes goes higher)
TANGENTS = {"x": 1.0, "y": -0.5}

# The point: x*y = 0.42, y - 0.2*x = 0.58, x + 0.5 = 1.1 stay inside every function's smooth domain
# (asin, acos, log, sqrt, relu and abs away from their kinks); the vector v has distinct entries so
# that max/min have one winner.
POINT = {"x": 0.6, "y": 0.7, "v": [0.3, 0.9, 0.5], "M": [[0.4, -0.3], [0.2, 0.8]]}

# What else happens in the expression, in other variables: a kink, a tie, a non-finite value.
ELSEWHERE = {
    "smooth": ("", {}),
    "kink": (" + abs(z)", {"z": 0.0}),
    "relu-kink": (" + 3*relu(z)", {"z": 0.0}),
    "tie": (" + max(t, 1)", {"t": 1.0}),
    "non-finite": (" + sum(log(w))", {"w": [0.0, 1.0]}),
}


def table_ops():
    """(name, arity, takes axis) for every language name of every op of the table, and the syntax ops."""
    return ([(name, spec.language_arity, spec.axis or spec.sizes) for spec in OPS for name in spec.language]
            + [("index", 1, False), ("stack", 2, False)])


def _call(op, args):
    if op[0].isalpha():
        return f"{op}({', '.join(args)})"
    if len(args) == 1:
        return f"({op}({args[0]}))"
    return f"(({args[0]}) {op} ({args[1]}))"


def scalar_expression(op, arity, takes_axis):
    """A scalar expression of x, y (and v, M where the op needs arrays) whose derivatives all go through op."""
    scalar_args = ["x*y", "y - 0.2*x"][:arity]
    if op == "index":                                # an element and a slice of a vector of x and y
        return "(v*(x + 0.5))[1] * y + sum((v*y)[0:2]) * x"
    if op == "stack":                                # a list literal of scalars, weighted
        return "sum([x*y, y - 0.2*x] * c) * (x + 0.5)"
    if op == "reshape":                              # integer sizes, not operands
        return f"sum(reshape(v*(x + 0.5), 3, 1) * [[1], [2], [3]]) * y"
    if takes_axis:                                   # a reduction over a vector (softmax: weighted, as
        call = _call(op, ['v*(x + 0.5)'])            # its elements always sum to 1)
        return f"sum({call} * v) * y" if op == "softmax" else f"{call} * y"
    expr = _call(op, scalar_args)
    probe = evaluate(expr, POINT, check=False)
    if probe.status == "error":                      # matmul/dot: not of scalars, of a matrix and a vector
        return f"sum({_call(op, ['M*(x + 0.5)', 'c*y'])})"
    return f"{expr} * (x + 0.5)"


def build(op, arity, axis, mode, elsewhere):
    expr = scalar_expression(op, arity, axis)
    extra, bindings = ELSEWHERE[elsewhere]
    bindings = dict(POINT, c=[0.7, -0.4], **bindings)
    expr = f"({expr}){extra}"
    if mode == "jacobian":
        expr = f"({expr}) * p"
        bindings["p"] = [1.0, 2.0]
    used = {name: value for name, value in bindings.items() if _mentions(expr, name)}
    options = {}
    if mode == "derivatives":                        # scalar variables only, to a small order
        options = {"order": ORDER, "wrt": [n for n in used if np.ndim(used[n]) == 0]}
    elif mode == "jvp":
        # w (the non-finite value) a constant: were it differentiated, its tangent 0 times d/dw = inf
        # would make every element of J.t nan, in PyTorch too, leaving nothing to judge
        options = {"tangents": dict(TANGENTS), "wrt": [n for n in used if n != "w"]}
    return expr, used, options


def _mentions(expr, name):
    return re.search(rf"\b{name}\b", expr) is not None


@pytest.mark.parametrize("route", ["symbolic", "finite-difference"])
def test_every_mutant_is_caught_and_every_clean_run_passes(route, capsys, monkeypatch):
    """The whole matrix in one test per route of the check, so that the catch rate is over all of it."""
    reference.forget()                   # a derivation cached by the other route would be used
    if route == "finite-difference":
        monkeypatch.setattr(limits, "SYMPY_MAX_ELEMENTS", 0)
    else:                               # a budget no machine reaches: the route is certain, however loaded
        monkeypatch.setenv("AUTODIFF_CHECK_SECONDS", "600")
    run, missed, false_alarms = {m: 0 for m in MODES}, {m: [] for m in MODES}, []
    for (op, arity, axis), mode, elsewhere in itertools.product(table_ops(), MODES, ELSEWHERE):
        expr, bindings, options = build(op, arity, axis, mode, elsewhere)
        right = evaluate(expr, bindings, mode=mode, random_seed=0, **options)
        if right.status != "ok":
            false_alarms.append((expr, mode, right.to_json()[:300]))
        with wrong_derivative(op):
            wrong = evaluate(expr, bindings, mode=mode, random_seed=0, **options)
        assert right.check.method == ("sympy" if route == "symbolic" else "finite-difference"), right.to_json()
        run[mode] += 1
        if wrong.status != "mismatch":
            missed[mode].append((op, mode, elsewhere, expr))
            # Differences of a value that is -inf everywhere near the point say nothing: there the
            # finite-difference route does not judge (and says so); it never calls a wrong entry right.
            assert route == "finite-difference" and elsewhere == "non-finite", (expr, mode, wrong.to_json()[:600])
            assert wrong.check.passed is None and wrong.check.excused, (expr, wrong.to_json()[:600])
        assert np.array_equal(wrong.value, right.value, equal_nan=True)   # forward values are untouched
    with capsys.disabled():
        rates = ", ".join(f"{m} {run[m] - len(missed[m])}/{run[m]}" for m in MODES)
        print(f"\nmutation catch rate ({route}; {len(table_ops())} ops x {len(ELSEWHERE)} surroundings): {rates}")
    assert not false_alarms, false_alarms[:5]
    if route == "symbolic":
        assert not any(missed.values()), missed


@pytest.mark.parametrize("op, mode, args", [
    ("sin", "grad", ["abs(z) + sin(x)*y", "z=0", "x=1", "y=2"]),
    ("log", "grad", ["sum(log(w)) + log(x)", "w=[0,1]", "x=2"]),
    ("*", "hessian", ["x*y*y + max(t, 1)", "x=0.5", "y=2", "t=1"]),
    ("max", "jacobian", ["max(v) * p + relu(z)", "v=[1,4,2]", "p=[1,2]", "z=0"]),
])
def test_a_mutant_exits_1_through_the_cli(op, mode, args):
    from typer.testing import CliRunner

    from autodiff_cli.cli import app
    runner = CliRunner()
    clean = runner.invoke(app, [mode, *args, "--json"], prog_name="autodiff")
    assert clean.exit_code == 0, clean.output
    with wrong_derivative(op):
        result = runner.invoke(app, [mode, *args, "--json"], prog_name="autodiff")
    assert result.exit_code == 1, result.output
    assert '"status": "mismatch"' in result.stdout
