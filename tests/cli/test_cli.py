"""The `autodiff` command line, end to end: through the installed console script / `python -m
autodiff_cli` in a subprocess (what users and scripts run), and in-process through typer's
CliRunner (fast, and lets a test sabotage the engine with monkeypatch)."""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import autodiff_cli
import autodiff_cli.engine as engine
from autodiff_cli.cli import app
from schema import validate

DESIGN = ["grad", "3*x**2+2*x*y+y**2", "x=2", "y=1"]


def _no_constants(name):
    raise ValueError(f"non-standard JSON constant {name} on stdout")


def strict_json(text):
    """Exactly one strict RFC 8259 JSON object (NaN/Infinity literals are rejected)."""
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one JSON line on stdout, got: {text!r}"
    record = json.loads(lines[0], parse_constant=_no_constants)
    assert isinstance(record, dict)
    return validate(record)


def _console_script():
    """The installed `autodiff` next to this interpreter, if the package is pip-installed."""
    candidate = Path(sys.executable).with_name("autodiff")
    return [str(candidate)] if candidate.exists() else None


def cmd_variants():
    variants = [pytest.param([sys.executable, "-m", "autodiff_cli"], id="python-m")]
    script = _console_script()
    if script:
        variants.append(pytest.param(script, id="console-script"))
    return variants


def run(args, cmd=None, env=None, **kwargs):
    """The CLI in a subprocess, with colour-free, fixed-width output, and a SymPy budget no machine
    reaches (a loaded one must not turn the check into finite differences); `env` may set its own."""
    full_env = dict(os.environ, COLUMNS="120", NO_COLOR="1", AUTODIFF_CHECK_SECONDS="600")
    full_env.update(env or {})
    return subprocess.run((cmd or [sys.executable, "-m", "autodiff_cli"]) + list(args),
                          capture_output=True, text=True, env=full_env, timeout=120, **kwargs)


runner = CliRunner()


def invoke(args, **kwargs):
    return runner.invoke(app, list(args), prog_name="autodiff", env={"COLUMNS": "120", "NO_COLOR": "1"},
                         **kwargs)


def assert_clean_error(stderr, *fragments):
    """One `error:` line (plus an optional caret picture / try-help line), never a traceback."""
    assert "Traceback" not in stderr
    assert stderr.startswith("error: "), stderr
    for fragment in fragments:
        assert fragment in stderr, (fragment, stderr)


# --- the design card --------------------------------------------------------------------------

@pytest.mark.parametrize("cmd", cmd_variants())
def test_design_card_human(cmd):
    proc = run(DESIGN, cmd=cmd)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "3*x**2+2*x*y+y**2" in out
    assert re.search(r"value\s+17\b", out)
    assert re.search(r"\bx\s+2\s+14\s+6\*x \+ 2\*y\s+✓", out), out
    assert re.search(r"\by\s+1\s+6\s+2\*x \+ 2\*y\s+✓", out), out
    assert "checked with SymPy" in out
    assert "\x1b[" not in out            # no colour when stdout is not a terminal
    assert proc.stderr == ""


@pytest.mark.parametrize("cmd", cmd_variants())
def test_design_card_json(cmd):
    proc = run(DESIGN + ["--json"], cmd=cmd)
    assert proc.returncode == 0, proc.stderr
    record = strict_json(proc.stdout)
    assert record["expression"] == "3*x**2+2*x*y+y**2"
    assert record["status"] == "ok"
    assert record["value"] == 17.0 and record["shape"] == []
    assert record["gradients"] == {"x": 14.0, "y": 6.0}
    assert record["symbolic"] == {"x": "6*x + 2*y", "y": "2*x + 2*y"}
    assert record["check"]["method"] == "sympy" and record["check"]["passed"] is True


def test_design_card_in_process():
    result = invoke(DESIGN + ["--json"])
    assert result.exit_code == 0, result.output
    record = strict_json(result.stdout)
    assert record["gradients"] == {"x": 14.0, "y": 6.0}
    human = invoke(DESIGN)
    assert human.exit_code == 0
    assert "6*x + 2*y" in human.stdout and "2*x + 2*y" in human.stdout


def test_version_and_help():
    result = invoke(["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"autodiff {autodiff_cli.__version__}"
    for command in ([], ["grad"], ["hessian"], ["jacobian"], ["batch"]):
        result = invoke(command + ["--help"])
        assert result.exit_code == 0, result.output
        assert "Usage:" in result.stdout
    assert "--gradient" in invoke(["grad", "--help"]).stdout
    assert "Examples:" in invoke(["grad", "--help"]).stdout
    assert "--random-seed" in invoke(["hessian", "--help"]).stdout


def test_python_m_version():
    proc = run(["--version"])
    assert proc.returncode == 0 and proc.stdout.strip() == f"autodiff {autodiff_cli.__version__}"


# --- JSON strictness ---------------------------------------------------------------------------

def test_json_nan_value_is_a_string():
    proc = run(["grad", "log(x)", "x=-1", "--json"])
    assert proc.returncode == 0, proc.stderr
    record = strict_json(proc.stdout)
    assert record["value"] == "nan"
    assert record["gradients"] == {"x": -1.0}
    assert "warning:" in proc.stderr      # warnings go to stderr, never to stdout


def test_json_infinite_gradient_and_arrays():
    result = invoke(["grad", "sum(sqrt(x))", "x=[0,4]", "--json"])
    record = strict_json(result.stdout)
    assert record["gradients"]["x"] == ["inf", 0.25]
    assert record["shape"] == []


def test_json_error_record_is_strict_and_alone_on_stdout():
    result = invoke(["grad", "x +* 2", "x=1", "--json"])
    assert result.exit_code == 2
    record = strict_json(result.stdout)
    assert record["status"] == "error" and record["error"]["kind"] == "parse"
    assert_clean_error(result.stderr)


def test_json_with_steps_keeps_stdout_clean():
    result = invoke(["grad", "x*y", "x=2", "y=3", "--json", "--steps", "--graph"])
    assert result.exit_code == 0
    strict_json(result.stdout)
    assert "MulBackward0" in result.stderr


# --- exit codes and errors ---------------------------------------------------------------------

BAD_INPUTS = [
    (["grad", "x +* 2", "x=1"], "column"),                         # parse error
    (["grad", "x + y", "x=1"], "'y'"),                               # unbound variable
    (["grad", "x**2", "x=[1,2"], "x"),                               # bad binding value
    (["grad", "x**2", "x"], "NAME=VALUE"),                           # not a binding
    (["grad", "x=1", "x**2"], "the expression comes first"),          # swapped
    (["grad", "x**2", "x=1", "--wrt"], "requires an argument"),       # an option without its value
    (["grad", "x**2", "x=1", "-q"], "no such option: -q"),
    (["grad", "x**2", "x=1", "x=2"], "twice"),                       # bound twice
    (["grad", "x**2", "x=1", "--wrt", "q"], "q"),                    # --wrt names no input
    (["grad", "x**2", "x=1", "--random-seed", "abc"], "--random-seed"),   # click usage error
    (["grad", "x**2", "x=1", "--no-such-option"], "no-such-option"),
    (["grad"], "missing argument"),                                   # no expression
    (["frobnicate"], "frobnicate"),                                   # no such command
    (["grad", "import os", "x=1"], "column"),
    (["grad", "x.real", "x=1"], "column"),
    (["hessian", "x*y", "x=[1,2]", "y=1"], "scalar"),
]


@pytest.mark.parametrize("args,fragment", BAD_INPUTS)
def test_bad_input_exits_2_without_traceback(args, fragment):
    result = invoke(args)
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert "Traceback" not in result.output
    assert fragment in result.stderr, result.stderr
    assert result.stderr.startswith("error: "), result.stderr


@pytest.mark.parametrize("cmd", cmd_variants())
def test_bad_input_in_subprocess(cmd):
    for args in (["grad", "x +* 2", "x=1"], ["grad", "x", "x=@/no/such.npy"], ["grad", "x", "--random-seed", "z"]):
        proc = run(args, cmd=cmd)
        assert proc.returncode == 2, proc
        assert_clean_error(proc.stderr)
        assert proc.stdout == ""


def test_parse_error_shows_caret_under_the_column():
    result = invoke(["grad", "x + * 2", "x=1"])
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith("error: ")
    source_line = next(i for i, line in enumerate(lines) if line.strip() == "x + * 2")
    caret = lines[source_line + 1]
    assert caret.strip() == "^"
    assert lines[source_line][caret.index("^")] == "*"


def test_non_scalar_output_needs_a_gradient():
    result = invoke(["grad", "x**2", "x=[1,2,3]"])
    assert result.exit_code == 2
    assert_clean_error(result.stderr, "scalar", "pass --gradient ones, or reduce with sum()/mean()")
    ok = invoke(["grad", "x**2", "x=[1,2,3]", "--gradient", "ones", "--json"])
    assert ok.exit_code == 0
    assert strict_json(ok.stdout)["gradients"]["x"] == [2.0, 4.0, 6.0]
    seeded = invoke(["grad", "x**2 + x", "x=[[1,2,3],[4,5,6]]", "-g", "[[1,1,1],[1,0.1,0.01]]", "--json"])
    rows = strict_json(seeded.stdout)["gradients"]["x"]
    assert [pytest.approx(row) for row in rows] == [[3.0, 5.0, 7.0], [9.0, 1.1, 0.13]]


def test_internal_error_is_one_line_unless_debug(monkeypatch):
    def boom(*args, **kwargs):
        raise ZeroDivisionError("sabotaged")
    # the submodule, not the package attribute `autodiff_cli.api` (which is the function)
    monkeypatch.setattr(sys.modules["autodiff_cli.api"], "evaluate", boom)
    result = invoke(["grad", "x", "x=1"])
    assert result.exit_code == 2
    assert result.stderr.strip() == ("error: internal error: ZeroDivisionError: sabotaged "
                                     "(run with --debug for the traceback)")
    debug = invoke(["grad", "x", "x=1", "--debug"])
    assert debug.exit_code == 2
    assert "Traceback" in debug.stderr and "sabotaged" in debug.stderr
    as_json = invoke(["grad", "x", "x=1", "--json"])
    assert strict_json(as_json.stdout)["error"]["kind"] == "internal"


# --- options -----------------------------------------------------------------------------------

def test_expression_may_start_with_a_minus():
    for args in (["grad", "-x**2", "x=-2"], ["grad", "--", "-x**2", "x=-2"], ["grad", "--json", "-x**2", "x=-2"],
                 ["grad", "-x**2", "--json", "x=-2"]):
        result = invoke(args + ["--json"] if "--json" not in args else args)
        assert result.exit_code == 0, (args, result.output)
        record = strict_json(result.stdout)
        assert record["value"] == -4.0 and record["gradients"] == {"x": 4.0}
    # an expression that click would have split into short options (-l -o -g ...)
    result = invoke(["grad", "-log(x)", "x=2", "--json"])
    assert strict_json(result.stdout)["gradients"] == {"x": -0.5}
    # after `--`, `-g` is the expression, while a trailing --json still counts
    result = invoke(["grad", "--", "-g", "g=1", "--json"])
    assert strict_json(result.stdout)["gradients"] == {"g": -1.0}


def test_wrt_and_random_seed():
    result = invoke(["grad", "dot(X, W) + b", "X=[1.5,2.5,3.5]", "W=[0.2,0.4,0.6]", "b=0.1", "--wrt", "W,b", "--json"])
    record = strict_json(result.stdout)
    assert set(record["gradients"]) == {"W", "b"}
    assert record["gradients"]["W"] == [1.5, 2.5, 3.5]
    first = strict_json(invoke(["grad", "sum(x)", "x=rand(3)", "--random-seed", "7", "--json"]).stdout)
    second = strict_json(invoke(["grad", "sum(x)", "x=rand(3)", "--random-seed", "7", "--json"]).stdout)
    assert first["value"] == second["value"]


def test_no_check():
    record = strict_json(invoke(DESIGN + ["--no-check", "--json"]).stdout)
    assert record["check"] == {"method": "none", "passed": None, "max_abs_error": None}
    assert "symbolic" not in record
    assert "not checked" in invoke(DESIGN + ["--no-check"]).stdout


def test_hessian_and_jacobian():
    hessian = invoke(["hessian", "x**2*y + y**3", "x=1", "y=2", "--json"])
    assert hessian.exit_code == 0
    assert strict_json(hessian.stdout)["hessian"] == {"x": {"x": 4.0, "y": 2.0}, "y": {"x": 2.0, "y": 12.0}}
    human = invoke(["hessian", "sum(x**3)*y", "x=[1,2]", "y=3"])
    assert human.exit_code == 0
    assert re.search(r"x\[0\]\s+x\[1\]\s+y", human.stdout)
    assert re.search(r"x\[1\]\s+0\s+36\s+12", human.stdout)
    jacobian = invoke(["jacobian", "x*y", "x=[1,2]", "y=3", "--json"])
    assert strict_json(jacobian.stdout)["jacobian"] == {"x": [[3.0, 0.0], [0.0, 3.0]], "y": [1.0, 2.0]}
    human = invoke(["jacobian", "x*y", "x=[1,2]", "y=3"])
    assert re.search(r"f\[1\]\s+0\s+3\s+2", human.stdout), human.stdout


def test_large_arrays_are_summarised():
    result = invoke(["grad", "sum(x**2)", "x=arange(1000)", "--no-check"])
    assert result.exit_code == 0
    assert "shape (1000,)" in result.stdout and "norm" in result.stdout
    assert len(result.stdout.splitlines()) < 40


# --- the cross-check ---------------------------------------------------------------------------

def test_cross_check_catches_a_wrong_derivative(monkeypatch):
    monkeypatch.setattr(engine.sin.node_class, "vjps", (lambda F, g, ans, x: g * F.sin(x),))   # should be cos
    result = invoke(["grad", "sin(x)*y", "x=1", "y=2", "--json"])
    assert result.exit_code == 1, result.output
    record = strict_json(result.stdout)
    assert record["status"] == "mismatch" and record["check"]["passed"] is False
    assert "mismatch" in result.stderr
    human = invoke(["grad", "sin(x)*y", "x=1", "y=2"])
    assert human.exit_code == 1
    assert "MISMATCH" in human.stdout and "✗" in human.stdout


def test_cross_check_catches_a_wrong_derivative_with_finite_differences(monkeypatch):
    monkeypatch.setattr(engine.sin.node_class, "vjps", (lambda F, g, ans, x: g * F.sin(x),))
    result = invoke(["grad", "sum(sin(x))", "x=linspace(0,1,200)", "--json"])
    assert result.exit_code == 1
    record = strict_json(result.stdout)
    assert record["status"] == "mismatch" and record["check"]["method"] == "finite-difference"


@pytest.mark.parametrize("expr,binding,gradient", [
    ("abs(x)", "x=0", 0.0),
    ("relu(x)", "x=0", 0.0),
    ("max(x)", "x=[1,3,3]", [0.0, 0.5, 0.5]),
    ("max(x, y)", "x=2", None),
])
def test_kinks_are_not_flagged(expr, binding, gradient):
    args = ["grad", expr, binding] + (["y=2"] if "y" in expr else []) + ["--json"]
    result = invoke(args)
    assert result.exit_code == 0, result.output
    record = strict_json(result.stdout)
    assert record["status"] == "ok"
    if gradient is not None:
        assert record["gradients"]["x"] == gradient
    human = invoke(args[:-1])
    assert human.exit_code == 0
    assert "PyTorch's convention" in human.stdout


# --- --steps, --graph, --dot -------------------------------------------------------------------

def _in_order(text, names):
    positions = []
    start = 0
    for name in names:
        index = text.find(name, start)
        assert index >= 0, (name, text)
        positions.append(index)
        start = index + len(name)
    return positions


def test_steps_show_the_chain_rule_node_by_node():
    result = invoke(["grad", "z = x*y; w = sin(z) + x", "x=2", "y=3", "--steps"])
    assert result.exit_code == 0, result.output
    steps = result.stdout[result.stdout.index("Steps"):]
    _in_order(steps, ["MulBackward0", "SinBackward0", "AddBackward0"])
    assert "dL/dnode" in steps
    row = next(line for line in steps.splitlines() if "MulBackward0" in line)
    assert "x*y" in row and "0.96017" in row     # dw/dz = cos(6), 6 significant digits by default
    assert result.stdout.index("Steps") < result.stdout.index("checked with SymPy")   # before the verdict
    precise = invoke(["grad", "z = x*y; w = sin(z) + x", "x=2", "y=3", "--steps", "--precision", "10"])
    row = next(line for line in precise.stdout.splitlines() if "MulBackward0" in line)
    assert "0.9601702867" in row


def test_graph_tree_names_nodes_and_leaves():
    result = invoke(["grad", "x**2 + sin(y)", "x=2", "y=1", "--graph"])
    assert result.exit_code == 0
    tree = result.stdout[result.stdout.index("AddBackward0"):]
    _in_order(tree, ["AddBackward0", "PowBackward", "AccumulateGrad(x)", "SinBackward0", "AccumulateGrad(y)"])
    assert "5 nodes" in tree


def test_graph_of_a_deep_expression_is_capped():
    expr = "+".join(["x"] * 3000)
    result = invoke(["grad", expr, "x=1", "--graph", "--no-check", "--json"])
    assert result.exit_code == 0, result.output[-500:]
    assert strict_json(result.stdout)["gradients"] == {"x": 3000.0}
    assert "not shown" in result.stderr
    assert len(result.stderr.splitlines()) < 300


def test_dot_file(tmp_path):
    target = tmp_path / "graph.dot"
    result = invoke(["grad", "x*y + x", "x=2", "y=3", "--dot", str(target)])
    assert result.exit_code == 0
    text = target.read_text()
    assert text.startswith("digraph")
    _in_order(text, ["AddBackward0", "MulBackward0"])
    assert "AccumulateGrad(x)" in text and "AccumulateGrad(y)" in text
    assert len(re.findall(r"n\d+ -> n\d+;", text)) == 4
    assert f"wrote {target}" in result.stderr


def test_dot_image_without_graphviz_writes_nothing(tmp_path, monkeypatch):
    """issue 29, finding 16: --dot g.svg without Graphviz wrote g.dot, a file nobody named (and
    overwrote one that was there). Now: exit 2 before the run, nothing written."""
    monkeypatch.setattr(shutil, "which", lambda name: None)
    (tmp_path / "graph.dot").write_text("mine")
    target = tmp_path / "graph.svg"
    result = invoke(["grad", "x*y", "x=2", "y=3", "--dot", str(target), "--no-check"])
    assert result.exit_code == 2
    assert "Graphviz is not installed" in result.stderr
    assert result.stdout == ""
    assert (tmp_path / "graph.dot").read_text() == "mine"
    assert not target.exists()


# --- start-up ----------------------------------------------------------------------------------

@pytest.mark.parametrize("args", [["--help"], ["grad", "--help"], ["grad", "x", "x=1", "--no-check"],
                                  ["grad", "x", "x=1", "--no-check", "--json"]])
def test_start_up_does_not_import_sympy(args):
    proc = run(args, cmd=[sys.executable, "-X", "importtime", "-m", "autodiff_cli"])
    assert proc.returncode == 0
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "sympy" not in imported
    if "--json" in args:
        assert "rich" not in imported     # the JSON path prints no tables


@pytest.mark.parametrize("extra", [["--steps"], ["--json"]])
def test_closed_pipe_is_quiet(extra):
    expr = "+".join(["sin(x)"] * 400) if "--steps" in extra else "x*2"
    binding = "x=1" if "--steps" in extra else "x=arange(20000)"
    args = ["grad", expr, binding, "--no-check"] + extra + ([] if "--steps" in extra else ["-g", "ones"])
    proc = subprocess.Popen([sys.executable, "-m", "autodiff_cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=dict(os.environ, COLUMNS="80"))
    assert proc.stdout.read(100)
    proc.stdout.close()                     # like `| head -c 100`
    _, stderr = proc.communicate(timeout=120)
    assert b"Traceback" not in stderr and b"Exception ignored" not in stderr, stderr[-2000:]
    assert proc.returncode == 0


def test_help_shows_placeholders_as_written_and_quotes_bracketed_examples():
    for command in ("grad", "hessian", "jacobian", "batch", "plot"):
        result = invoke([command, "--help"])
        assert result.exit_code == 0
        text = result.stdout
        for noise in ("{EXPR}", "<list[str]>", "<str>", "[[FILE|-]]"):
            assert noise not in text, (command, noise)
        unquoted = re.findall(r"(?<![\"\w])[A-Za-z]\w*=(?:\[|\w+\()", text)   # x=[1,2] or W=randn(2): the shell's
        assert not unquoted, (command, unquoted)
    assert "Usage: autodiff grad [OPTIONS] EXPR [NAME=VALUE]..." in invoke(["grad", "--help"]).stdout
    assert "Usage: autodiff batch [OPTIONS] [FILE|-]" in invoke(["batch", "--help"]).stdout


def test_piped_output_has_no_trailing_spaces_and_one_precision():
    proc = run(["grad", "sum(W@x)", "W=[[1.123456789,2],[3,4]]", "x=[0.5,0.25]", "--precision", "3"])
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert all(line == line.rstrip() for line in lines)
    assert "1.12" in proc.stdout and "1.123" not in proc.stdout
    full = run(["grad", "sum(x)", "x=arange(500)", "--no-check"])
    assert "largest:" in full.stdout and "--full" in full.stdout
    every = run(["grad", "sum(x)", "x=arange(500)", "--no-check", "--full"])
    assert "largest:" not in every.stdout and " 499" in every.stdout


def test_the_readme_options_table_is_what_the_commands_take():
    """README's table of options and commands: every row is true, and no option is left out."""
    import re
    from pathlib import Path

    import typer
    commands = typer.main.get_command(app).commands
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    table = text[text.index("| option | commands |"):]
    table = table[:table.index("\n\n")]
    listed = {}
    for row in table.splitlines()[2:]:
        options_cell, commands_cell = row.strip("|").split("|")
        names = set(commands) if commands_cell.strip() == "all" else {
            c.strip().split(" ")[0] for c in commands_cell.split(",")}
        for option in re.findall(r"`(-[-\w/]+)", options_cell):
            long = [o for o in option.split("/") if o.startswith("--")][0]
            listed[long] = names
    for name, command in commands.items():
        takes = {o for p in command.params if p.param_type_name == "option" for o in p.opts if o.startswith("--")}
        takes -= {"--help", "--optimizer", "--lr", "--momentum", "--tol", "--clip-value", "--clip-norm", "--trace",
                  "--plot", "--jobs", "--timeout", "--files-root", "--dask", "--partition-size", "--output-dir",
                  "--quiet", "--out", "--points"}     # options of one command, listed in its own section
        for option in takes:
            assert option in listed and name in listed[option], f"README: {name} takes {option}"
    for option, names in listed.items():
        for name in names:
            takes = {o for p in commands[name].params if p.param_type_name == "option" for o in p.opts}
            assert option in takes, f"README says {name} takes {option}"


@pytest.mark.parametrize("args", [
    ["derivatives", "sin(x*y)*exp(x)", "x=1", "y=2", "--order", "2"],
    ["grad", "sin(x)*y + exp(x*y)", "x=1", "y=2", "--steps"],
    ["grad", "sum(20000000000000000000*x**3)", "x=[1,2,3]"],
])
def test_no_cell_is_cut_on_a_narrow_terminal(args):
    """issue 29, finding 17: rich's default overflow ended cells in "…" when a table was wider than
    the terminal (formulas, node names, index-form formulas). Cells now wrap instead."""
    proc = run(args, env={"COLUMNS": "60"})
    assert proc.returncode == 0, proc.stderr
    assert "…" not in proc.stdout


def test_batch_rows_show_error_messages_whole():
    """issue 29, finding 17: batch rows cut error messages at 100 characters."""
    record = json.dumps({"expr": "x", "bindings": {"x": "ones(" + "9" * 150 + ")"}})
    proc = run(["batch", "-", "--no-check", "-q"], input=record + "\n")
    assert proc.returncode == 1
    row = next(line for line in proc.stdout.splitlines() if "error" in line)
    assert not row.rstrip().endswith("...")
