"""Snapshots of the human output at 80 and 200 columns: grad, hessian, jacobian (in column blocks),
--steps, --graph and a batch with its summary. Deterministic: NO_COLOR, fixed random seeds, and
the batch's timings masked. After an intended change of the output, rewrite them with
`UPDATE_SNAPSHOTS=1 python -m pytest tests/test_snapshots.py` and read the diff."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOTS = Path(__file__).parent / "snapshots"

CASES = {
    "grad-design-card": ["grad", "3*x**2+2*x*y+y**2", "x=2", "y=1"],
    "grad-sigmoid-layer": ["grad", "sum(sigmoid(W@x+b))", "W=randn(3,4)", "x=randn(4)", "b=randn(3)",
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


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", CASES)
def test_snapshot(name, width):
    text = render(CASES[name], width)
    path = SNAPSHOTS / f"{name}-{width}.txt"
    if os.environ.get("UPDATE_SNAPSHOTS") or not path.exists():
        path.write_text(text)
    assert text == path.read_text(), f"human output of {name} at {width} columns changed (see {path})"
    lines = text.splitlines()
    assert all(line == line.rstrip() for line in lines), "trailing spaces in piped output"
    assert "…" not in text, "a cell was cut"
    if name != "batch-summary":
        assert all(len(line) <= width for line in lines), "a line is wider than the terminal"
