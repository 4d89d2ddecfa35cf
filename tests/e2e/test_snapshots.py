"""Snapshots of the human output at 80 and 200 columns: grad, hessian, jacobian (in column blocks),
--steps, --graph and a batch with its summary. Deterministic: NO_COLOR, fixed random seeds, and
the batch's timings masked; the check's errors, rounding noise that differs between machines, are
not printed when the check agrees (ui/tables.py), so no snapshot holds a figure below its tolerance.

A missing or different snapshot FAILS. Snapshots are written only on request: after an intended
change of the output (or for a new case), rewrite them with
`AUTODIFF_UPDATE_SNAPSHOTS=1 python -m pytest tests/e2e/test_snapshots.py` and read the diff."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOTS = Path(__file__).resolve().parents[1] / "snapshots"

CASES = {
    "grad-design-card": ["grad", "3*x**2+2*x*y+y**2", "x=2", "y=1"],
    # 2 x 3, not larger: SymPy's simplification of the formulas shown takes seconds per entry
    "grad-sigmoid-layer": ["grad", "sum(sigmoid(W@x+b))", "W=randn(2,3)", "x=randn(3)", "b=randn(2)",
                           "--random-seed", "0"],
    "grad-least-squares": ["grad", "mean((X@w - y)**2)", "X=randn(5,3)", "w=randn(3)", "y=randn(5)",
                           "--random-seed", "0"],
    "grad-index-form-latex": ["grad", "sum(sin(x**2))", "x=[1,2,3]", "--latex"],
    "grad-steps": ["grad", "z = x*y; w = sin(z) + x", "x=2", "y=3", "--steps"],
    "grad-graph": ["grad", "sin(x)*exp(x)", "x=1", "--graph"],
    "hessian-diagonal": ["hessian", "sum(x**3)", "x=arange(20)", "--random-seed", "0"],
    "jacobian-4x12": ["jacobian", "W@x", "W=randn(4,12)", "x=randn(12)", "--wrt", "x", "--random-seed", "0"],
    "jacobian-4x30": ["jacobian", "W@x", "W=randn(4,30)", "x=randn(30)", "--wrt", "x", "--random-seed", "0"],
    "jacobian-summary": ["jacobian", "x*2", "x=arange(30)", "--no-check"],
    "batch-summary": ["batch", str(ROOT / "samples" / "examples.txt")],
}
WIDTHS = (80, 200)


def mask_timings(text):
    """The batch summary without its clock: times, rates and the slowest records."""
    text = re.sub(r"\d+\.\d+ s\b", "<t> s", text)
    lines = []
    for line in text.splitlines():
        if line.startswith("slowest:"):
            continue
        if re.match(r"^\s*\d+\s+\d+\s+\d+\s+\d+\s+\d+\s+<t> s", line):   # the counts row: drop the rate
            line = " ".join(line.split()[:5])
        elif line.startswith("records"):
            line = " ".join(line.split())
        lines.append(line)
    return "\n".join(lines) + "\n"


def render(args, width):
    # budgets we control, so that a busy machine gives the same output: SymPy is never cut short
    env = dict(os.environ, COLUMNS=str(width), NO_COLOR="1", PYTHONPATH=str(ROOT),
               AUTODIFF_CHECK_SECONDS="600", AUTODIFF_DISPLAY_SECONDS="600")
    env.pop("FORCE_COLOR", None)
    proc = subprocess.run([sys.executable, "-m", "autodiff_cli", *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return mask_timings(proc.stdout) if args[0] == "batch" else proc.stdout


UPDATE_FLAG = "AUTODIFF_UPDATE_SNAPSHOTS"


def compare_with_snapshot(text, path):
    """Assert that `text` is the snapshot at `path`; a missing snapshot fails. With
    AUTODIFF_UPDATE_SNAPSHOTS=1 (and only then) the snapshot is (re)written first."""
    if os.environ.get(UPDATE_FLAG) == "1":
        path.write_text(text)
    if not path.exists():
        pytest.fail(f"no snapshot {path}: write it with {UPDATE_FLAG}=1 and read it before committing")
    assert text == path.read_text(), f"the output changed (see {path}; {UPDATE_FLAG}=1 rewrites it)"


def test_a_missing_snapshot_fails_and_is_not_written(tmp_path, monkeypatch):
    monkeypatch.delenv(UPDATE_FLAG, raising=False)
    path = tmp_path / "new-case-80.txt"
    with pytest.raises(pytest.fail.Exception, match="no snapshot"):
        compare_with_snapshot("some output\n", path)
    assert not path.exists()
    monkeypatch.setenv("UPDATE_SNAPSHOTS", "1")         # the old, unnamespaced flag writes nothing
    with pytest.raises(pytest.fail.Exception, match="no snapshot"):
        compare_with_snapshot("some output\n", path)
    monkeypatch.setenv(UPDATE_FLAG, "1")
    compare_with_snapshot("some output\n", path)
    assert path.read_text() == "some output\n"
    monkeypatch.delenv(UPDATE_FLAG)
    with pytest.raises(AssertionError, match="output changed"):
        compare_with_snapshot("other output\n", path)


def test_every_case_has_its_snapshots_and_no_snapshot_is_stale():
    expected = {f"{name}-{width}.txt" for name in CASES for width in WIDTHS}
    assert {p.name for p in SNAPSHOTS.glob("*.txt")} == expected


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", CASES)
def test_snapshot(name, width):
    text = render(CASES[name], width)
    compare_with_snapshot(text, SNAPSHOTS / f"{name}-{width}.txt")
    lines = text.splitlines()
    assert all(line == line.rstrip() for line in lines), "trailing spaces in piped output"
    assert "…" not in text, "a cell was cut"
    if name != "batch-summary":
        assert all(len(line) <= width for line in lines), "a line is wider than the terminal"
