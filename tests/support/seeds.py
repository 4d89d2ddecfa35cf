"""The acceptance seed examples (tests/data/seed_examples.jsonl: the worked examples with their
expected numbers, computed with PyTorch in float64) and their comparison rule."""
import json
import math
from pathlib import Path

SEEDS = Path(__file__).resolve().parents[1] / "data" / "seed_examples.jsonl"


def seed_cases():
    """Every worked example."""
    return [json.loads(line) for line in SEEDS.read_text().splitlines() if line.strip()]


def close(got, want):
    """The acceptance check's comparison (rtol 1e-7, atol 1e-9), on JSON values."""
    if isinstance(want, list):
        return isinstance(got, list) and len(got) == len(want) and all(map(close, got, want))
    if isinstance(want, dict):
        return isinstance(got, dict) and all(k in got and close(got[k], v) for k, v in want.items())
    if isinstance(want, str) or isinstance(got, str):
        return str(got) == str(want)
    return isinstance(got, (int, float)) and not isinstance(got, bool) and math.isclose(
        got, want, rel_tol=1e-7, abs_tol=1e-9)
