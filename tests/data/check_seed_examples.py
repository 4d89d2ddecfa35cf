#!/usr/bin/env python3
"""Run the worked examples of seed_examples.jsonl through the `autodiff` CLI and compare.

Usage: check_seed_examples.py [--cmd "autodiff"]   (from anywhere; exit 0 only if all agree)

Each record is sent through `autodiff batch - --json` (JSON Lines in, JSON Lines out, one result
per record, in order), as the contract in docs/cli-contract.md describes. Expected numbers were
computed with PyTorch in float64. Only the keys present in "expect" are compared.
"""
import argparse
import json
import math
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RTOL, ATOL = 1e-7, 1e-9


def close(got, want):
    if isinstance(want, list):
        return isinstance(got, list) and len(got) == len(want) and all(map(close, got, want))
    if isinstance(want, dict):
        return isinstance(got, dict) and all(k in got and close(got[k], v) for k, v in want.items())
    if isinstance(want, str) or isinstance(got, str):  # "nan", "inf", "-inf"
        return str(got) == str(want)
    if isinstance(got, bool) or not isinstance(got, (int, float)):
        return False
    return math.isclose(got, want, rel_tol=RTOL, abs_tol=ATOL)


def default_cmd():
    if shutil.which("autodiff"):
        return "autodiff"
    return f"{shlex.quote(sys.executable)} -m autodiff_cli"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cmd", default=None, help="how to run the CLI (default: autodiff)")
    args = ap.parse_args()
    cmd = shlex.split(args.cmd or default_cmd())
    cases = [json.loads(line) for line in (HERE / "seed_examples.jsonl").read_text().splitlines() if line.strip()]
    feed = "".join(json.dumps({k: v for k, v in c.items() if k not in ("expect", "source")}) + "\n" for c in cases)
    try:
        run = subprocess.run(cmd + ["batch", "-", "--json"], input=feed, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        print(f"seed examples: 0/{len(cases)} agree (autodiff not runnable: {exc})")
        return 1
    records = []
    for line in run.stdout.splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            pass
    agree = 0
    for i, case in enumerate(cases):
        got = records[i] if i < len(records) else None
        ok = got is not None and got.get("status") in ("ok", "mismatch") and close(got, case["expect"])
        agree += ok
        if not ok:
            shown = json.dumps(got)[:300] if got is not None else "no record"
            print(f"DIFFERS {case['id']} ({case['source']}): {case['expr']}\n  want {json.dumps(case['expect'])[:300]}\n  got  {shown}")
    if run.returncode not in (0, 1):
        print(f"exit code {run.returncode}; stderr: {run.stderr.strip()[-300:]}")
    print(f"seed examples: {agree}/{len(cases)} agree")
    return 0 if agree == len(cases) else 1


if __name__ == "__main__":
    sys.exit(main())
