"""`autodiff minimize` end to end through `python -m autodiff_cli` (JSON, human output, errors, exit
codes), the `grad_norm` of `grad`, and batch records with "mode": "minimize"."""
import json
import math

import pytest

from schema import validate_lines
from test_cli import run, strict_json

QUADRATIC = ["minimize", "(x - 3)**2 + (y + 1)**2", "x=0", "y=0"]


def test_json_record_has_the_contract_keys_and_the_minimum():
    proc = run(QUADRATIC + ["--json"])
    assert proc.returncode == 0, proc.stderr
    record = strict_json(proc.stdout)
    assert {"status", "optimizer", "steps", "stopped", "value", "point", "grad_norm", "trajectory"} <= set(record)
    assert (record["status"], record["optimizer"], record["stopped"]) == ("ok", "sgd", "tol")
    assert record["point"]["x"] == pytest.approx(3, abs=1e-9) and record["point"]["y"] == pytest.approx(-1, abs=1e-9)
    assert record["grad_norm"] <= 1e-10 and 0 < len(record["trajectory"]) <= 100
    assert record["trajectory"][0] == {"step": 0, "value": 10.0, "grad_norm": pytest.approx(math.sqrt(40)),
                                       "point": {"x": 0.0, "y": 0.0}}
    assert record["trajectory"][-1]["step"] == record["steps"]


def test_options_reach_the_optimizer():
    proc = run(["minimize", "(1 - x)**2 + 100*(y - x**2)**2", "x=-1.2", "y=1", "--optimizer", "adam",
                "--lr", "0.01", "--steps", "20000", "--trace", "7", "--json"])
    record = strict_json(proc.stdout)
    assert proc.returncode == 0 and record["optimizer"] == "adam" and record["stopped"] == "tol"
    assert record["point"] == {"x": pytest.approx(1, abs=1e-8), "y": pytest.approx(1, abs=1e-8)}
    assert len(record["trajectory"]) <= 7
    few = strict_json(run(QUADRATIC + ["--steps", "3", "--momentum", "0", "--json"]).stdout)
    assert (few["stopped"], few["steps"]) == ("steps", 3)
    assert few["point"]["x"] == pytest.approx(3 - 3 * 0.8**3)       # plain gradient descent, lr 0.1


def test_arrays_and_wrt():
    proc = run(["minimize", "sum((w - t)**2)", "w=zeros(3)", "t=[1,2,3]", "--wrt", "w", "--json"])
    record = strict_json(proc.stdout)
    assert proc.returncode == 0 and list(record["point"]) == ["w"]
    assert record["point"]["w"] == pytest.approx([1, 2, 3], abs=1e-9)


def test_clipping_options():
    by_norm = strict_json(run(QUADRATIC + ["--clip-norm", "0.5", "--momentum", "0", "--steps", "1", "--json"]).stdout)
    moved = math.hypot(by_norm["point"]["x"], by_norm["point"]["y"])
    assert moved == pytest.approx(0.1 * 0.5, rel=1e-5)
    by_value = strict_json(run(QUADRATIC + ["--clip-value", "0.5", "--momentum", "0", "--steps", "1", "--json"]).stdout)
    assert by_value["point"] == {"x": pytest.approx(0.05), "y": pytest.approx(-0.05)}


def test_human_output_shows_the_point_the_reason_and_the_trajectory():
    proc = run(QUADRATIC)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for words in ("minimize", "value", "grad_norm", "steps", "stopped", "tol", "trajectory", "step"):
        assert words in out
    rows = [line.split() for line in out.splitlines() if line.strip()[:1].isdigit()]
    steps = [int(r[0]) for r in rows]
    assert steps[:3] == [0, 1, 2] and steps == sorted(steps) and len(steps) <= 12
    assert proc.stderr == ""          # no progress bar when stderr is not a terminal


def test_divergence_exits_1_and_says_where():
    proc = run(["minimize", "(1 - x)**2 + 100*(y - x**2)**2", "x=-1.2", "y=1", "--json"])
    record = strict_json(proc.stdout)
    assert proc.returncode == 1
    assert record["status"] == "diverged" and record["stopped"] == "diverged"
    assert f"at step {record['steps']}" in proc.stderr and "Traceback" not in proc.stderr
    human = run(["minimize", "(1 - x)**2 + 100*(y - x**2)**2", "x=-1.2", "y=1"])
    assert human.returncode == 1 and "diverged" in human.stdout


@pytest.mark.parametrize("args,words", [
    (["minimize", "x*2", "x=[1,2]"], "scalar output"),
    (QUADRATIC[1:] + ["--lr", "0"], "--lr must be a finite number > 0"),
    (QUADRATIC[1:] + ["--lr", "-1"], "--lr must be a finite number > 0"),
    (QUADRATIC[1:] + ["--lr", "nan"], "--lr must be a finite number"),
    (QUADRATIC[1:] + ["--lr", "inf"], "--lr must be a finite number"),
    (QUADRATIC[1:] + ["--clip-value", "1", "--clip-norm", "1"], "cannot be used together"),
    (QUADRATIC[1:] + ["--steps", "1000000000"], "AUTODIFF_MAX_MINIMIZE_STEPS"),
    (QUADRATIC[1:] + ["--optimizer", "lbfgs"], "lbfgs"),
    (QUADRATIC[1:] + ["--wrt", "z"], "not an input variable"),
    (["minimize", "x +", "x=1"], "error"),
])
def test_bad_input_is_one_error_line_and_exit_2(args, words):
    args = args if args[0] == "minimize" else ["minimize"] + args
    proc = run(args)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert proc.stderr.startswith("error:") and words in proc.stderr and "Traceback" not in proc.stderr
    as_json = run(args + ["--json"])
    assert as_json.returncode == 2
    if as_json.stdout.strip():
        assert strict_json(as_json.stdout)["status"] == "error"


def test_the_steps_limit_is_set_by_the_environment():
    proc = run(QUADRATIC + ["--steps", "50"], env={"AUTODIFF_MAX_MINIMIZE_STEPS": "10"})
    assert proc.returncode == 2 and "over the limit of 10" in proc.stderr


def test_grad_reports_the_gradient_norm():
    record = strict_json(run(["grad", "3*x**2 + 2*x*y + y**2", "x=2", "y=1", "--json"]).stdout)
    assert record["grad_norm"] == pytest.approx(math.hypot(14, 6), rel=1e-15)
    human = run(["grad", "3*x**2 + 2*x*y + y**2", "x=2", "y=1"]).stdout
    assert any("grad_norm" in line and "15.23" in line for line in human.splitlines())


def test_batch_records_in_minimize_mode(tmp_path):
    source = tmp_path / "records.txt"
    source.write_text("\n".join([
        json.dumps({"expr": "(x - 3)**2", "bindings": {"x": 0}, "mode": "minimize", "id": "json"}),
        json.dumps({"expr": "(x - 3)**2 + y**2", "bindings": {"x": 0, "y": 1}, "mode": "minimize",
                    "optimizer": "adam", "lr": 0.05, "steps": 20, "clip_norm": 1, "trace": 3, "id": "opts"}),
        "(x + 1)**2 | x=2 | --mode minimize --optimizer sgd --lr 0.05 --momentum 0.5 --tol 1e-12 --id text",
        json.dumps({"expr": "x**2", "bindings": {"x": 1}, "mode": "minimize", "lr": -1, "id": "bad lr"}),
        json.dumps({"expr": "x**2", "bindings": {"x": 1}, "lr": 0.1, "id": "lr without minimize"}),
        "x**2 | x=1 | --mode minimize --clip-value 1 --clip-norm 1 --id 'both clips'",
        "(1 - x)**2 + 100*(y - x**2)**2 | x=-1.2 y=1 | --mode minimize --id diverges",
        "x**2 | x=3 | --id 'plain grad'",
    ]) + "\n")
    proc = run(["batch", str(source), "--json"])
    records = {r["id"]: r for r in validate_lines(proc.stdout)}
    assert proc.returncode == 1
    assert records["json"]["stopped"] == "tol" and records["json"]["point"]["x"] == pytest.approx(3, abs=1e-9)
    opts = records["opts"]
    assert (opts["optimizer"], opts["steps"], opts["stopped"]) == ("adam", 20, "steps")
    assert len(opts["trajectory"]) <= 3
    assert records["text"]["point"]["x"] == pytest.approx(-1, abs=1e-9)
    for bad in ("bad lr", "lr without minimize", "both clips"):
        assert records[bad]["status"] == "error", bad
    assert records["diverges"]["status"] == "diverged"
    assert records["plain grad"]["status"] == "ok" and records["plain grad"]["grad_norm"] == 6.0
    human = run(["batch", str(source)])
    assert human.returncode == 1 and "minimize" in human.stdout or "point" in human.stdout


def test_plot_writes_an_image_with_the_path_over_the_contours(tmp_path):
    pytest.importorskip("matplotlib")
    image = tmp_path / "run.png"
    proc = run(["minimize", "(x**2 + y - 11)**2 + (x + y**2 - 7)**2", "x=0", "y=0", "--optimizer", "adam",
                "--lr", "0.05", "--plot", str(image), "--json"])
    assert proc.returncode == 0 and "wrote" in proc.stderr and "no contour" not in proc.stderr
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert strict_json(proc.stdout)["stopped"] == "tol"       # --json still prints only the record
    one_variable = tmp_path / "one.svg"
    assert run(["minimize", "(x - 1)**2", "x=0", "--plot", str(one_variable)]).returncode == 0
    assert b"<svg" in one_variable.read_bytes()[:400]
    bad = run(["minimize", "x**2", "x=1", "--plot", str(tmp_path / "run.txt")])
    assert bad.returncode == 2 and bad.stderr.startswith("error:") and "image format" in bad.stderr


def test_plot_without_a_trajectory_or_a_finite_point(tmp_path):
    """issue 29, finding 18: --trace 0 --plot (no trajectory entries) and a run that diverged at
    step 0 (no finite point to frame the contours) were internal errors."""
    pytest.importorskip("matplotlib")
    image = tmp_path / "run.png"
    proc = run(["minimize", "(x-1)**2 + (y-2)**2", "x=0", "y=0", "--trace", "0", "--plot", str(image)])
    assert proc.returncode == 0, proc.stderr
    assert "wrote" in proc.stderr and "internal error" not in proc.stderr
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    diverged = run(["minimize", "x + y", "x=inf", "y=0", "--plot", str(tmp_path / "d.png")])
    assert diverged.returncode == 1, diverged.stderr
    assert "no contour plot" in diverged.stderr and "internal error" not in diverged.stderr
    assert (tmp_path / "d.png").exists()


def test_one_element_arrays_in_the_table_and_the_plot(tmp_path):
    """issue 29, finding 1 (minimize part): x=[0] (a (1,) array) made the trajectory table and
    --plot an internal error (numpy 2 refuses float() of a (1,) array)."""
    pytest.importorskip("matplotlib")
    proc = run(["minimize", "sum((x-1)**2)", "x=[0]", "--steps", "3", "--plot", str(tmp_path / "one.png")])
    assert proc.returncode == 0, proc.stderr
    assert "trajectory" in proc.stdout and "x[0]" in proc.stdout and "internal error" not in proc.stderr
    both = run(["minimize", "sum((x-1)**2) + sum(y**2)", "x=[0]", "y=[[1]]", "--steps", "3",
                "--plot", str(tmp_path / "two.png")])
    assert both.returncode == 0, both.stderr
    assert "no contour plot" not in both.stderr and (tmp_path / "two.png").exists()


def test_the_trajectory_is_never_cut_at_80_columns():
    """issue 29, finding 17: at 80 columns rich shrank the trajectory's columns and cut numbers
    (`9.9701392…` for 9.97e-08). Now the columns go in parts, each with the step column."""
    proc = run(["minimize", "(x-1)**2 + (y-2)**2 + (z-3)**2 + (w-1)**2", "x=0", "y=0", "z=0", "w=0",
                "--steps", "20"], env={"COLUMNS": "80"})
    assert proc.returncode == 0, proc.stderr
    assert "…" not in proc.stdout
    assert "trajectory, part 1 of 2" in proc.stdout and "trajectory, part 2 of 2" in proc.stdout
    assert "0.0002903829195" in proc.stdout and max(map(len, proc.stdout.splitlines())) <= 80
