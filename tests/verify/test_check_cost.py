"""The check's cost (issue 24, part 2): a record's formulas are printed by the check's CAS, made once
per expression shape, and SymPy is never imported for a --json or batch record that does not ask
for it. No timing here (the machine is shared): benchmarks/ W7r, W7d and W9 measure the cost."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import sympy as sp

from autodiff_cli.api import evaluate
from autodiff_cli import display
from autodiff_cli.display import formulas
from autodiff_cli.verify import reference

symengine = pytest.importorskip("symengine")


def _fresh_python(code, tmp_path):
    env = dict(os.environ, AUTODIFF_CHECK_CAS="")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_a_json_one_shot_imports_neither_sympy_nor_pydantic_nor_rich(tmp_path):
    out = _fresh_python(
        "import sys\n"
        "from autodiff_cli.cli import main\n"
        "try:\n"
        "    main(['grad', 'sum(sin(x**2)) + 3*y**2', 'x=[1,2,3]', 'y=1', '--json'])\n"
        "except SystemExit as stop:\n"
        "    code = stop.code\n"
        "print(sorted(m for m in ('sympy', 'pydantic', 'rich') if m in sys.modules), code)\n", tmp_path)
    record, imported = out.splitlines()[0], out.splitlines()[-1]
    assert json.loads(record)["check"]["passed"] is True
    assert json.loads(record)["symbolic"] == {"x": {"kind": "index", "variable": "x[i]", "text": "2*x[i]*cos(x[i]**2)"},
                                              "y": "6*y"}
    assert imported == "[] 0"


def test_a_batch_imports_no_sympy_for_its_formulas(tmp_path):
    records = tmp_path / "r.jsonl"
    records.write_text("\n".join(json.dumps(r) for r in [
        {"expr": "x*y + sin(x)", "bindings": {"x": 1, "y": 2}},
        {"expr": "sum(w*x**2)", "bindings": {"x": [1, 2], "w": [3, 4]}},
        {"expr": "x**2*y + y**3", "bindings": {"x": 1, "y": 2}, "mode": "hessian"},
        {"expr": "sin(x)*y", "bindings": {"x": [1, 2], "y": 3}, "mode": "jacobian"},
    ]) + "\n")
    out = _fresh_python(
        "import io, sys\n"
        "from autodiff_cli.batch.run import run_batch\n"
        f"code = run_batch({str(records)!r}, json_output=True, out=sys.stdout, err=io.StringIO(), quiet=True)\n"
        "print('sympy' in sys.modules, code)\n", tmp_path)
    lines = out.splitlines()
    assert lines[-1] == "False 0"
    symbolic = [json.loads(line)["symbolic"] for line in lines[:-1]]
    assert symbolic[1] == {"w": {"kind": "index", "variable": "w[i]", "text": "x[i]**2"},
                           "x": {"kind": "index", "variable": "x[i]", "text": "2*w[i]*x[i]"}}


def test_the_text_is_made_once_per_derivation(monkeypatch):
    reference.forget()
    display.prepare()                               # its warm-up prints too
    made = []
    plain = formulas.plain
    monkeypatch.setattr(formulas, "plain", lambda *a, **k: made.append(a[0]) or plain(*a, **k))
    first = evaluate("x*sin(y) + x**2", {"x": 1.5, "y": 0.5}).as_dict()["symbolic"]
    second = evaluate("x*sin(y) + x**2", {"x": -2.0, "y": 3.0}).as_dict()["symbolic"]
    assert first == second == {"x": "2*x + sin(y)", "y": "x*cos(y)"}
    assert made == ["x", "y"]                        # printed for the first point only
    constant = [evaluate("x*sin(y)", {"x": 1.5, "y": y}, wrt="x").as_dict()["symbolic"]["x"] for y in (2, 3)]
    assert constant == ["sin(2)", "sin(3)"]          # an input not differentiated: its number, at each point


@pytest.mark.parametrize("expr, bindings", [
    ("exp(-0.5*x**2)*cos(y + 0.3)", {"x": 0.3, "y": 0.7}),
    ("tanh(0.5*x*y) - x/(2 + cos(0.3*y))", {"x": 0.3, "y": 0.7}),
    ("sigmoid(x) + softplus(y) + log1p(x) + expm1(y)", {"x": 0.3, "y": 0.7}),
    ("sum(relu(x - 0.3)) + abs(y - 1.1)", {"x": [-1.4, -0.6, 0.7, 0.5], "y": 1.3}),
    ("max(x*1.2, y) + min(x, 0.5*y)", {"x": 0.3, "y": 0.7}),
    ("sum(w*sin(0.5*x)) + 0.3*mean(x**2)", {"x": [1, 2, 3], "w": [0.5, 0.1, 0.2]}),
    ("sum(W@x)", {"W": [[1, 2], [3, 4]], "x": [1, -1]}),
    ("x**3/y - 1/x", {"x": 3, "y": 2.5}),
])
def test_the_cas_text_is_the_same_expression_as_sympys(expr, bindings):
    """SymEngine's text (the record's) and SymPy's (before) of the same derivatives are the same
    expressions: equal at random points."""
    result = evaluate(expr, bindings)
    rng = np.random.default_rng(0)
    for name, (shape, exprs, by_variable) in result.check.derivatives.items():
        mine = formulas.plain(name, shape, exprs, indexed_by_variable=by_variable)
        theirs, _ = formulas.describe(name, shape, exprs, budget=0, indexed_by_variable=by_variable)
        assert result.as_dict()["symbolic"][name] == mine
        assert type(mine) is type(theirs) and (not isinstance(mine, dict) or mine["variable"] == theirs["variable"])
        pairs = [(mine["text"], theirs["text"])] if isinstance(mine, dict) else list(zip(
            np.ravel(np.array(mine, dtype=object)), np.ravel(np.array(theirs, dtype=object))))
        for a, b in pairs:
            a, b = _sympy(a), _sympy(b)
            symbols = sorted(a.free_symbols | b.free_symbols, key=str)
            for _ in range(3):
                point = {s: float(rng.uniform(-2, 2)) for s in symbols}
                assert float(a.subs(point)) == pytest.approx(float(b.subs(point)), rel=1e-12, abs=1e-12), (a, b)


def _sympy(text):
    """A formula's text as SymPy reads it (x[i] and W[0,1] as plain symbols)."""
    import re
    return sp.sympify(re.sub(r"(\w+)\[([0-9a-z,]+)\]", lambda m: f"{m.group(1)}_{m.group(2).replace(',', '_')}", text))


def test_whole_floats_print_as_integers_and_infinities_as_oo():
    x = symengine.Symbol("x")
    assert formulas.plain("x", (), [symengine.Float(5.0) * x]) == "5*x"
    assert formulas.plain("x", (), [symengine.Float(-1.0) * x * symengine.exp(x)]) == "-x*exp(x)"
    assert formulas.plain("x", (), [symengine.Float(0.1) * x]) == "0.1*x"
    assert formulas.plain("x", (), [symengine.Float(float("inf")) * x]) == "oo*x"


def test_the_human_output_simplifies_with_sympy_only_what_it_would_simplify():
    small = symengine.sympify("6*x + 2*y")
    assert formulas._count_ops(small) < formulas.SIMPLIFY_MIN_OPS
    assert formulas._plain_enough([small], (), True, simplify=True)
    messy = symengine.sympify("(x**2 - 1)/(x - 1) + sin(x)**2 + cos(x)**2")
    assert formulas.SIMPLIFY_MIN_OPS <= formulas._count_ops(messy) <= formulas.SIMPLIFY_MAX_OPS
    assert not formulas._plain_enough([messy], (), True, simplify=True)
    result = evaluate("(x**2 - 1)/(x - 1) + sin(x)**2 + cos(x)**2", {"x": 3}, simplify=True)
    assert result.check.symbolic["x"] == "1"       # simplified by SymPy: d/dx (x + 1 + 1)


def test_plainly_valid_option_values_skip_pydantic_and_bad_ones_keep_typers_messages():
    from typer.testing import CliRunner

    from autodiff_cli.cli import app
    runner = CliRunner()
    for args, message in ((["--precision", "0"], "greater than or equal to 1"),
                          (["--precision", "18"], "less than or equal to 17"),
                          (["--random-seed", "-1"], "greater than or equal to 0"),
                          (["--random-seed", "1.5"], "valid integer")):
        result = runner.invoke(app, ["grad", "x**2", "x=1", *args])
        assert result.exit_code == 2 and message in result.output, result.output
    result = runner.invoke(app, ["grad", "x**2", "x=1", "--precision", "3", "--random-seed", "7", "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["random_seed"] == 7
