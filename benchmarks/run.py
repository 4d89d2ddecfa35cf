"""The benchmark runner: every (workload, system) pair in its own process, then tables, targets,
benchmarks/RESULTS.md and benchmarks/ratios.png.

    python benchmarks/run.py                       # full run (~10-15 min on 2 cores)
    python benchmarks/run.py --quick               # small sizes, autodiff vs torch only: < 1 min
    python benchmarks/run.py --only W1,W3 --python benchmarks/_work/venv/bin/python

Each pair runs `python benchmarks/cases.py CASE SYSTEM --repeat N` (see cases.py), which prints one
JSON line: one warm-up, repeated timings, peak RSS, and the answer (value and gradient), which is
cross-checked here against every other system's answer (normwise relative error <= 1e-6).
"""
import argparse
import datetime
import json
import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
import workloads as W  # noqa: E402

# Every process (ours, torch, jax, numpy's BLAS) gets one thread: the machine has 2 noisy cores
# shared with other jobs, and `--jobs 2` of W6 is the only place meant to use both.
THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
    "JAX_PLATFORMS": "cpu",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "PYTHONHASHSEED": "0",
}

RTOL = 1e-6
PREFERRED_REFERENCE = ("numpy-analytic", "torch", "torch-loop", "torch-loop-inproc", "jax-jit", "jax", "autograd",
                       "micrograd")
FLOORS = ("python-pass", "python-numpy")


def case_table(quick):
    s = W.sizes(quick)
    w2 = [f"W2-{n:.0e}".replace("e+0", "e") for n in s["W2_sizes"]]
    scalar = ["autodiff", "torch", "jax", "jax-jit", "autograd"]
    cached = ["autodiff", "autodiff-cached"] + scalar[1:]
    cases = [
        ("W1", "W1", f"scalar graph: random sum of {s['W1_terms']} terms (~{W.count_binary_ops(W.w1_expression(s['W1_terms'])):,} "
                     "binary ops) over 5 variables with sin cos exp log tanh sqrt; parse + forward + 5 gradients "
                     "(autodiff-cached: the same text evaluated again, its compiled program cached)",
         cached, "torch"),
        ("W1p", "W1", f"polynomial variant of W1 (+ - * ** only, {s['W1_terms']} terms, "
                      f"~{W.count_binary_ops(W.w1p_expression(s['W1_terms'])):,} binary ops): micrograd can run it",
         cached + ["micrograd"], "torch"),
    ]
    for name in w2:
        cases.append((name, "W2", f"large array: `{W.W2_EXPR}`, x of {float(name[3:]):,.0f} float64, value + gradient",
                      ["autodiff", "autodiff-tensor", "numpy-analytic", "torch", "jax", "jax-jit", "autograd"], "torch"))
    cases += [
        ("W3", "W3", f"deep chain: f = sin(f)*0.0001 + f, {s['W3_steps']:,} times ({3 * s['W3_steps']:,} nodes deep); "
                     "autodiff through evaluate() of a program string and the Tensor API; torch through the same "
                     "string (exec) and a Python loop",
         ["autodiff", "autodiff-cached", "autodiff-tensor", "torch", "torch-loop", "jax", "jax-jit", "autograd"],
         "torch"),
        ("W4", "W4", f"cold start: a fresh process computing `{W.W4_EXPR}` and its gradient at (2, 1)",
         list(FLOORS) + ["autodiff-nocheck", "autodiff-check", "torch", "jax", "autograd", "micrograd"], "torch"),
        ("W5", "W5", f"Hessian: {s['W5_vars']} variables, ~{s['W5_ops']:,} binary ops, one scalar expression",
         scalar, "torch"),
        ("W6", "W6", f"batch: {s['W6_records']:,} small scalar records, `autodiff batch FILE --json --no-check` vs a "
                     "torch loop in one process (whole process timed for both; the loop alone shown too)",
         ["autodiff-batch", "torch-loop", "torch-loop-inproc"], "torch-loop"),
        ("W6c", "W6", f"batch with the SymPy check on: {s['W6_checked']:,} records, `--jobs 1` vs `--jobs 2`",
         ["autodiff-jobs1", "autodiff-jobs2"], None),
        ("W7r", "W7", f"the check's throughput on repeated expressions: {s['W7_expressions']} expressions x "
                      f"{s['W7_points']} points, `autodiff batch FILE --json` with and without `--no-check`",
         ["autodiff-check", "autodiff-nocheck"], None),
        ("W7d", "W7", f"the check's throughput on distinct expressions: {s['W7_distinct']} records, each its own "
                      "expression, with and without `--no-check`",
         ["autodiff-check", "autodiff-nocheck"], None),
        ("W8", "W8", f"one record, a flat sum of {s['W8_terms']:,} terms over 5 variables, through `autodiff batch "
                     "FILE --json` (default flags, the check on) and with --no-check; whole process",
         ["autodiff-batch", "autodiff-batch-nocheck"], None),
        ("W9", "W9", f"one-shot CPU time: `autodiff {' '.join(W.W9_ARGS[:1])} \"{W.W4_EXPR}\" x=2 y=1 --json` (the check "
                     "on; also --no-check, and the human output to a pipe) against `python -c \"import numpy\"`, "
                     f"CPU seconds (user + system) per process, {W.W9_RUNS} processes per timed call, autodiff_cli's "
                     "bytecode written first (as an installed package's is): the **median** and **first call** "
                     "columns are CPU times here",
         ["python-numpy", "autodiff-check", "autodiff-nocheck", "autodiff-human"], None),
    ]
    return cases


# --- running one pair -----------------------------------------------------------------------------
def run_pair(python, case, system, args):
    cmd = [python, str(HERE / "cases.py"), case, system, "--repeat", str(args.repeat), "--budget", str(args.budget)]
    if args.quick:
        cmd.append("--quick")
    profile_path = None
    first_w2 = next(c for c, *_ in case_table(args.quick) if c.startswith("W2-"))
    timeout = args.timeout * (3 if case == "W6c" else 1)   # 1,000 SymPy-checked records: a minute or more
    if args.profile and system in ("autodiff", "autodiff-tensor") and case in ("W1", "W1p", first_w2, "W3", "W5"):
        profile_path = HERE / "_work" / f"profile_{case}_{system}.txt"
        profile_path.unlink(missing_ok=True)
        cmd += ["--profile", str(profile_path)]
        timeout = 3 * args.timeout   # the profiled call runs after the result line, a few times slower
    env = dict(os.environ, **THREAD_ENV)
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True, cwd=str(REPO))
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)     # the pair's own process group (it may have started children)
        out, err = proc.communicate()
        if not any(line.startswith("{") for line in (out or "").splitlines()):
            return {"case": case, "system": system, "status": "timeout",
                    "note": f"stopped after {timeout:.0f} s (warm-up + repeats)"}
    lines = [l for l in out.splitlines() if l.startswith("{")]
    if not lines:
        return {"case": case, "system": system, "status": "error",
                "note": f"exit {proc.returncode}, no result line; stderr: {err.strip()[-300:]}"}
    record = json.loads(lines[-1])
    record["wall"] = time.perf_counter() - started
    if profile_path is not None and profile_path.exists():
        record["profile"] = str(profile_path)
    return record


# --- cross-checking answers -------------------------------------------------------------------------
def rel_err(a, b):
    """Normwise relative difference of two vectors (inf if their lengths differ)."""
    if len(a) != len(b):
        return float("inf")
    if not a:
        return 0.0
    diff = max(abs(x - y) for x, y in zip(a, b))
    scale = max(max(abs(x) for x in a), max(abs(y) for y in b))
    if diff != diff or scale != scale:
        return float("inf")
    return 0.0 if diff == 0 else diff / (scale if scale > 0 else 1.0)


def answer_err(a, b):
    errs = [rel_err(a["grad"], b["grad"])]
    if a.get("value") and b.get("value"):
        errs.append(rel_err(a["value"], b["value"]))
    return max(errs)


def cross_check(records):
    """Mark each ok record with `agrees` (True/False/None) against the largest cluster of agreeing answers."""
    ok = [r for r in records if r["status"] == "ok" and r.get("answer") is not None]
    for r in records:
        r["agrees"], r["err"] = None, None
    if len(ok) < 2:
        return None
    agree = {r["system"]: {o["system"] for o in ok if answer_err(r["answer"], o["answer"]) <= RTOL} for r in ok}
    rank = {name: i for i, name in enumerate(PREFERRED_REFERENCE)}
    ref = max(ok, key=lambda r: (len(agree[r["system"]]), -rank.get(r["system"], 99)))
    for r in ok:
        r["err"] = answer_err(r["answer"], ref["answer"])
        r["agrees"] = r["err"] <= RTOL
    return ref["system"]


# --- report ---------------------------------------------------------------------------------------
def is_autodiff(system):
    return system.startswith("autodiff")


def fmt_time(t):
    if t is None:
        return "-"
    return f"{t * 1e3:.2f} ms" if t < 1 else f"{t:.3f} s"


def fmt_ratio(r):
    return "-" if r is None else (f"{r:.3g}x" if r < 100 else f"{r:,.0f}x")


def mb(kb):
    return None if kb is None else kb / 1024.0


def summarise(case, torch_ref, records):
    by = {r["system"]: r for r in records}
    ref = by.get(torch_ref) if torch_ref else None
    torch_t = ref.get("median") if ref and ref["status"] == "ok" else None
    peers = [r for r in records if r["status"] == "ok" and not is_autodiff(r["system"])
             and r["system"] not in FLOORS and r.get("agrees") is not False]
    fastest = min(peers, key=lambda r: r["median"]) if peers else None
    rows = []
    for r in records:
        med = r.get("median") if r["status"] == "ok" else None
        row = dict(r)
        row["x_torch"] = med / torch_t if med is not None and torch_t else None
        row["x_fastest"] = med / fastest["median"] if med is not None and fastest else None
        row["fastest"] = fastest["system"] if fastest else None
        rows.append(row)
    return rows


def answer_cell(r):
    if r["status"] != "ok":
        return "-"
    if r.get("agrees") is None:
        return "(alone)"
    if r["agrees"]:
        return "yes"
    return f"**NO** (rel. err {r['err']:.1e})"


def table_md(rows):
    head = ("| system | status | median | first call | timed runs | peak RSS | Δ RSS | × torch | × fastest peer | "
            "answer agrees |")
    lines = [head, "|" + "---|" * 10]
    for r in rows:
        ok = r["status"] == "ok"
        status = r["status"] if ok else f"{r['status']}: {r.get('note', '')}".replace("|", "/")[:160]
        peak = mb(r.get("rss_peak_kb")) if ok else None
        delta = (mb(r["rss_peak_kb"] - r["rss_base_kb"]) if ok and r.get("rss_base_kb") else None)
        name = f"**{r['system']}**" if is_autodiff(r["system"]) else r["system"]
        lines.append("| " + " | ".join([
            name, status, fmt_time(r.get("median")) if ok else "-", fmt_time(r.get("first")) if ok else "-",
            str(len(r.get("times", []))) if ok else "-",
            f"{peak:,.0f} MB" if peak is not None else "-", f"{delta:,.0f} MB" if delta is not None else "-",
            fmt_ratio(r["x_torch"]), fmt_ratio(r["x_fastest"]), answer_cell(r)]) + " |")
    return "\n".join(lines)


def _get(results, case, system):
    for r in results.get(case, {}).get("rows", []):
        if r["system"] == system:
            return r
    return None


def targets(results):
    """(target, measured, verdict) for every target of the issue whose cases ran."""
    out = []

    def ok(r):
        return r is not None and r["status"] == "ok" and r.get("agrees") is not False

    def ratio_target(label, case, system, ref_system, limit, *, memory=False, inverse=False):
        if case not in results:
            return
        a, b = _get(results, case, system), _get(results, case, ref_system)
        if not (ok(a) and ok(b)):
            why, verdict = [], "n/a"
            for r, n in ((a, system), (b, ref_system)):
                if r is None or r["status"] != "ok":
                    why.append(f"{n}: {r['status'] if r else 'not run'}")
                    if n == system and r is not None and r["status"] in ("error", "timeout"):
                        verdict = "FAIL"
                elif r.get("agrees") is False:
                    why.append(f"{n}: wrong answer")
                    verdict = "FAIL" if n == system else verdict
            out.append((label, "; ".join(why), verdict))
            return
        if memory:
            ratio = a["rss_peak_kb"] / b["rss_peak_kb"]
            measured = f"{mb(a['rss_peak_kb']):,.0f} MB / {mb(b['rss_peak_kb']):,.0f} MB = {ratio:.2f}x"
        elif inverse:
            ratio = b["median"] / a["median"]
            measured = f"{fmt_time(b['median'])} / {fmt_time(a['median'])} = {ratio:.2f}x faster"
        else:
            ratio = a["median"] / b["median"]
            measured = f"{fmt_time(a['median'])} / {fmt_time(b['median'])} = {ratio:.2f}x"
        passed = ratio >= limit if inverse else ratio <= limit
        out.append((label, measured, "PASS" if passed else "FAIL"))

    ratio_target("W1: autodiff evaluate ≤ 0.5 × torch eager", "W1", "autodiff", "torch", 0.5)
    ratio_target("W1p: autodiff evaluate ≤ 0.5 × torch eager (same target, polynomial variant)", "W1p",
                 "autodiff", "torch", 0.5)
    for case in [c for c in results if c.startswith("W2-")]:
        for system in ("autodiff", "autodiff-tensor"):
            ratio_target(f"{case}: {system} time ≤ 1.3 × numpy-analytic", case, system, "numpy-analytic", 1.3)
            ratio_target(f"{case}: {system} peak memory ≤ 1.3 × numpy-analytic", case, system, "numpy-analytic",
                         1.3, memory=True)
    if "W3" in results:
        for system in ("autodiff", "autodiff-tensor"):
            r = _get(results, "W3", system)
            if r is not None:
                works = r["status"] == "ok" and r.get("recursion_limit") == 1000 and r.get("agrees") is not False
                out.append((f"W3: {system} works at the default recursion limit",
                            f"status {r['status']}, sys.getrecursionlimit() = {r.get('recursion_limit')}",
                            "PASS" if works else "FAIL"))
        ratio_target("W3: autodiff evaluate ≤ 0.5 × torch (both from the program string)", "W3", "autodiff",
                     "torch", 0.5)
        ratio_target("W3: autodiff Tensor API ≤ 0.5 × torch (both a Python loop)", "W3", "autodiff-tensor",
                     "torch-loop", 0.5)
    ratio_target("W4: `autodiff grad --no-check` cold start ≤ 0.2 × torch's", "W4", "autodiff-nocheck", "torch", 0.2)
    ratio_target("W4: `autodiff grad` (with the check) cold start ≤ 0.5 × torch's", "W4", "autodiff-check", "torch", 0.5)
    ratio_target("W5: autodiff Hessian ≤ 1.0 × torch.autograd.functional.hessian", "W5", "autodiff", "torch", 1.0)
    ratio_target("W6: `autodiff batch --no-check` ≤ 1.0 × the torch loop (whole processes)", "W6", "autodiff-batch",
                 "torch-loop", 1.0)
    ratio_target("W6: `autodiff batch --no-check` ≤ 1.0 × the torch loop alone (torch already imported)", "W6",
                 "autodiff-batch", "torch-loop-inproc", 1.0)
    ratio_target("W6c: `--jobs 2` ≥ 1.6 × faster than `--jobs 1` (checked records)", "W6c", "autodiff-jobs2",
                 "autodiff-jobs1", 1.6, inverse=True)
    ratio_target("W7r: checked time ≤ 2 × unchecked (throughput ≥ 0.5 ×; repeated expressions)", "W7r",
                 "autodiff-check", "autodiff-nocheck", 2.0)
    ratio_target("W7d: checked time ≤ 4 × unchecked (throughput ≥ 0.25 ×; distinct expressions)", "W7d",
                 "autodiff-check", "autodiff-nocheck", 4.0)
    ratio_target("W9: one-shot `autodiff grad ... --json` (check on) CPU time ≤ 3 × `python -c \"import numpy\"`'s",
                 "W9", "autodiff-check", "python-numpy", 3.0)
    w8 = _get(results, "W8", "autodiff-batch")
    if w8 is not None:
        ok = w8["status"] == "ok"
        out.append(("W8: the 200,000-term record through `autodiff batch` < 2 s (whole process, check on)",
                    fmt_time(w8["median"]) if ok else w8["status"], "PASS" if ok and w8["median"] < 2.0 else "FAIL"))
    return out


def machine_info(python):
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    probe = r"""
import json, platform, sys
from importlib import metadata
v = {"python": platform.python_version() + " (" + sys.executable + ")"}
for d in ("numpy", "torch", "jax", "jaxlib", "autograd", "micrograd", "sympy", "matplotlib", "autodiff-cli"):
    try:
        v[d] = metadata.version(d)
    except Exception:
        v[d] = "not installed"
print(json.dumps(v))
"""
    try:
        versions = json.loads(subprocess.run([python, "-c", probe], capture_output=True, text=True,
                                             timeout=60).stdout)
    except Exception as exc:  # noqa: BLE001
        versions = {"error": str(exc)}
    try:
        commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "autodiff_cli"],
                               capture_output=True, text=True).stdout.strip()
        commit += " (autodiff_cli has uncommitted changes)" if dirty else ""
    except OSError:
        commit = "unknown"
    return {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(), "versions": versions,
            "commit": commit}


def profile_excerpt(path, lines=14):
    """The header and the top rows (by own time) of a pstats listing."""
    text = Path(path).read_text().splitlines()
    for i, line in enumerate(text):
        if line.strip().startswith("ncalls"):
            total = next((l.strip() for l in text[:i] if "function calls" in l), "")
            return "\n".join([total, ""] + text[i:i + 1 + lines])
    return "\n".join(text[:lines])


def write_report(path, results, info, args, started, elapsed, loads, png):
    mode = "quick (`--quick`: small sizes, fewer systems — checks the harness, not for conclusions)" if args.quick \
        else "full"
    v = info["versions"]
    md = [
        "# Benchmark results",
        "",
        f"Written by `python benchmarks/run.py{' --quick' if args.quick else ''}"
        f"{' --only ' + args.only if args.only else ''}` — **{mode} run**, {started:%Y-%m-%d %H:%M} UTC, "
        f"{elapsed / 60:.1f} min.",
        "",
        (f"This was an `--update` run: {', '.join(info['updated'])} re-measured now; the other workloads come from "
         f"the run started {info.get('previous_run')} (same machine, same report format)." if info.get("updated") else ""),
        "",
        "## Machine and versions",
        "",
        f"- CPU: {info['cpu']}, {info['cores']} cores (shared with other jobs while this ran: load average "
        f"{loads[0]:.1f} at the start, {loads[1]:.1f} at the end). Ratios measured within one run are what count.",
        f"- {info['platform']}; autodiff commit {info['commit']}",
        "- " + ", ".join(f"{k} {val}" for k, val in v.items()),
        "- Threads: every process ran with " + ", ".join(f"`{k}={val}`" for k, val in THREAD_ENV.items()
                                                          if k.endswith("THREADS") or k == "XLA_FLAGS") +
        ". The machine has 2 noisy cores shared with other engineers' test runs; one thread per process keeps "
        "torch/jax/BLAS thread pools from fighting over them, and the comparison becomes single-core engine "
        "against single-core engine (autodiff itself is single-threaded). Only W6c's `--jobs 2` uses both cores.",
        "",
        "## How to read the tables",
        "",
        "- Every (workload, system) pair ran in its own process: one warm-up call, then up to "
        f"{args.repeat} timed calls (fewer when the warm-up showed they would exceed {args.budget:.0f} s); "
        f"**median** of the timed calls. A pair still running after {args.timeout:.0f} s is stopped (`timeout`).",
        "- **first call** is the warm-up. For **jax-jit** it includes tracing (which evaluates the expression "
        "text) and XLA compilation; its median is the steady state: repeated calls of the already-compiled "
        "function, which no longer parse anything. Every other system parses/evaluates the expression text on "
        "every call (peers `eval`/`exec` it over torch / jax.numpy / autograd.numpy / micrograd `Value`), as "
        "autodiff must.",
        "- **peak RSS**: `ru_maxrss` of the measuring process (imports included); **Δ RSS** = peak minus the "
        "high-water mark before the warm-up (inputs already built), i.e. what the computation itself added. For "
        "W4/W6 (whole processes) peak RSS is the started process's (RUSAGE_CHILDREN).",
        "- **× torch**: median / torch's median (W6: the torch loop's). **× fastest peer**: median / the fastest "
        "non-autodiff system whose answer agreed.",
        f"- **answer agrees**: value and gradient (or Hessian) within normwise relative error {RTOL:g} of the "
        "answer most systems agree on. A fast wrong answer shows up here as **NO**.",
        "",
        "## Targets",
        "",
        "| target | measured | verdict |",
        "|---|---|---|",
    ]
    for label, measured, verdict in targets(results):
        md.append(f"| {label} | {measured} | {'✅ PASS' if verdict == 'PASS' else ('❌ FAIL' if verdict == 'FAIL' else verdict)} |")
    md += ["", f"![autodiff time / torch time per workload (log scale)]({png.name})" if png else "", ""]
    for case, res in results.items():
        md += [f"## {case}", "", res["description"], "", table_md(res["rows"]), ""]
        if res.get("reference"):
            md.append(f"Answers compared against: {res['reference']}.")
        if case == "W3":
            md.append("All W3 processes ran at Python's default recursion limit (no system raised it).")
        md.append("")
    md += stage_table(results)
    profiles = [(c, r) for c, res in results.items() for r in res["rows"] if r.get("profile")]
    if profiles:
        md += ["## Where autodiff's time goes (cProfile, one extra call, sorted by own time)", ""]
        for case, r in profiles:
            md += [f"### {case} — {r['system']}", "", "```", profile_excerpt(r["profile"]), "```", ""]
    md += _kept_sections(path)
    Path(path).write_text("\n".join(md) + "\n")


# Sections other scripts write into RESULTS.md (benchmarks/dask_scaling.py): carried over as they are.
KEPT_SECTIONS = ("## Dask (",)


def _kept_sections(path):
    """The lines of the existing report's kept sections (each up to the next `## ` heading)."""
    if not Path(path).exists():
        return []
    kept, keeping = [], False
    for line in Path(path).read_text().splitlines():
        if line.startswith("## "):
            keeping = line.startswith(KEPT_SECTIONS)
        if keeping:
            kept.append(line)
    return kept


def stage_table(results):
    """Markdown: where a cold evaluate() spends its time by stage (W1, W1p, W3 with --profile), and
    the cost per op beside torch's."""
    rows = []
    for case, res in results.items():
        stages = next((r.get("stages") for r in res["rows"] if r["system"] == "autodiff" and r.get("stages")), None)
        if not stages:
            continue
        torch = next((r for r in res["rows"] if r["system"] == "torch" and r.get("status") == "ok"), None)
        total = stages["total"]
        cells = [f"{fmt_time(stages[k])} ({stages[k] / total:.0%})" for k in ("tokenize", "parse", "compile", "run", "rest")]
        per_op = f"{stages['total'] / stages['ops'] * 1e6:.1f} µs"
        torch_op = f"{torch['median'] / stages['ops'] * 1e6:.1f} µs" if torch else "-"
        rows.append(f"| {case} | {' | '.join(cells)} | {fmt_time(total)} | {stages['ops']:,} | {per_op} | {torch_op} |")
    if not rows:
        return []
    return ["## Where a cold evaluate() spends its time", "",
            "Stages timed separately (medians of 3, the collector paused as evaluate pauses it); `rest` is the "
            "remainder of evaluate (binding, the result record, the collector). Per op: the total over the "
            "tape's instructions, and torch's median over the same count.", "",
            "| case | tokenize | parse | compile | run | rest | total | ops | per op | torch per op |",
            "|---|---|---|---|---|---|---|---|---|---|", *rows, ""]


def chart(data_path, png_path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    data = json.loads(Path(data_path).read_text())
    labels = [d["label"] for d in data]
    ratios = [d["ratio"] for d in data]
    limits = [d["target"] for d in data]
    fig, ax = plt.subplots(figsize=(max(6, 0.8 * len(labels) + 2), 4.5))
    colors = ["tab:green" if t is not None and r <= t else "tab:red" if t is not None else "tab:gray"
              for r, t in zip(ratios, limits)]
    ax.bar(range(len(labels)), ratios, color=colors)
    for i, t in enumerate(limits):
        if t is not None:
            ax.plot([i - 0.4, i + 0.4], [t, t], color="black", lw=1.5)
    ax.axhline(1.0, color="gray", ls="--", lw=1)
    ax.set_yscale("log")
    from matplotlib.ticker import FuncFormatter
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}" if f"{v:.0e}"[0] in "25" else ""))
    low = min(ratios + [t for t in limits if t is not None])
    high = max(ratios + [t for t in limits if t is not None] + [1.0])
    ax.set_ylim(low / 2, high * 2)
    ax.tick_params(axis="y", which="minor", labelsize=7)
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=35, ha="right", fontsize=8)
    ax.set_ylabel("autodiff time / torch time (log)")
    ax.set_title("autodiff vs torch (green: meets the target, black tick; red: misses it)")
    for i, r in enumerate(ratios):
        ax.text(i, r, f"{r:.2g}", ha="center", va="bottom", fontsize=7)
    fig.tight_layout()
    fig.savefig(png_path, dpi=120)


def chart_data(results):
    pairs = [("W1", "autodiff", "torch", 0.5), ("W1p", "autodiff", "torch", 0.5)]
    pairs += [(c, s, "torch", None) for c in results if c.startswith("W2-") for s in ("autodiff", "autodiff-tensor")]
    pairs += [("W3", "autodiff", "torch", 0.5), ("W3", "autodiff-tensor", "torch-loop", 0.5),
              ("W4", "autodiff-nocheck", "torch", 0.2), ("W4", "autodiff-check", "torch", 0.5),
              ("W5", "autodiff", "torch", 1.0), ("W6", "autodiff-batch", "torch-loop", 1.0),
              ("W9", "autodiff-check", "python-numpy", 3.0)]
    data = []
    for case, system, ref, target in pairs:
        a, b = _get(results, case, system), _get(results, case, ref)
        if a and b and a["status"] == "ok" and b["status"] == "ok":
            data.append({"label": f"{case} {system}" + (f"\n/ {ref}" if ref != "torch" else ""),
                         "ratio": a["median"] / b["median"], "target": target})
    return data


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes, autodiff vs torch (+ numpy-analytic, floors)")
    ap.add_argument("--only", help="comma-separated workloads, e.g. W1,W3 (W2 = every W2 size, W6 = W6 + W6c, "
                                   "W7 = W7r + W7d)")
    ap.add_argument("--systems", help="comma-separated systems to run (default: all; --quick: autodiff*, torch*, "
                                      "numpy-analytic, the W4 floors)")
    ap.add_argument("--python", default=sys.executable, help="interpreter that has autodiff and the peers")
    ap.add_argument("--repeat", type=int, help="timed calls after the warm-up (default 5, quick 1)")
    ap.add_argument("--budget", type=float, help="seconds of timed calls per pair at most (default 15, quick 3)")
    ap.add_argument("--timeout", type=float, help="seconds per pair before it is stopped (default 60, quick 20)")
    ap.add_argument("--profile", action="store_true", help="cProfile autodiff on W1/W2/W3/W5 into RESULTS.md")
    ap.add_argument("--results", help="where to write the report; the chart goes beside it as ratios.png "
                    "(default benchmarks/RESULTS.md; with --quick benchmarks/_work/RESULTS-quick.md)")
    ap.add_argument("--update", action="store_true",
                    help="with --only: re-run those workloads and keep the others from the last run's results.json")
    ap.add_argument("--chart", nargs=2, metavar=("DATA_JSON", "PNG"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.chart:
        chart(*args.chart)
        return 0
    args.repeat = args.repeat or (1 if args.quick else 5)
    args.budget = args.budget or (3.0 if args.quick else 15.0)
    args.timeout = args.timeout or (20.0 if args.quick else 60.0)
    args.results = args.results or str(HERE / "_work" / "RESULTS-quick.md" if args.quick else HERE / "RESULTS.md")
    python = os.path.abspath(args.python) if os.sep in args.python else args.python   # keep venv symlinks
    (HERE / "_work").mkdir(exist_ok=True)

    selected = {s.strip() for s in args.only.split(",")} if args.only else None
    if args.systems:
        allowed = {s.strip() for s in args.systems.split(",")}
        keep = lambda s: s in allowed  # noqa: E731
    elif args.quick:
        keep = lambda s: is_autodiff(s) or s.startswith("torch") or s in ("numpy-analytic",) + FLOORS  # noqa: E731
    else:
        keep = lambda s: True  # noqa: E731

    started = datetime.datetime.now(datetime.timezone.utc)
    t0 = time.perf_counter()
    load_start = os.getloadavg()[0]
    info = machine_info(python)
    print(f"python: {python}\nCPU: {info['cpu']} x {info['cores']}\n" +
          ", ".join(f"{k} {v}" for k, v in info["versions"].items()), flush=True)

    raw = HERE / "_work" / ("results_quick.json" if args.quick else "results.json")
    results, updated = {}, []
    if args.update and raw.exists():
        previous = json.loads(raw.read_text())
        results = previous["results"]
        info["previous_run"] = previous["info"].get("previous_run") or previous["info"].get("started")
    info["started"] = f"{started:%Y-%m-%d %H:%M} UTC"
    for case, group, description, systems, torch_ref in case_table(args.quick):
        if selected and case not in selected and group not in selected:
            continue
        records = []
        for system in [s for s in systems if keep(s)]:
            print(f"  {case:7s} {system:18s} ", end="", flush=True)
            r = run_pair(python, case, system, args)
            records.append(r)
            print(f"{r['status']:11s} " + (f"median {fmt_time(r['median'])}" if r["status"] == "ok"
                                            else r.get("note", "")[:150]), flush=True)
        reference = cross_check(records)
        rows = summarise(case, torch_ref, records)
        results[case] = {"description": description, "rows": rows, "reference": reference}
        updated.append(case)
        print(f"\n## {case}: {description}\n\n{table_md(rows)}\n", flush=True)

    elapsed = time.perf_counter() - t0
    order = [c for c, *_ in case_table(args.quick)]
    results = {c: results[c] for c in order if c in results}
    if args.update:
        info["updated"] = updated
    raw.write_text(json.dumps({"info": info, "results": results}, indent=1, default=str))

    png = Path(args.results).parent / "ratios.png"    # beside the report: --quick never touches the tracked chart
    data = chart_data(results)
    data_path = HERE / "_work" / "chart.json"
    data_path.write_text(json.dumps(data))
    drawn = False
    if data:
        for py in dict.fromkeys([sys.executable, python]):
            proc = subprocess.run([py, str(HERE / "run.py"), "--chart", str(data_path), str(png)],
                                  capture_output=True, text=True)
            if proc.returncode == 0:
                drawn = True
                break
        if not drawn:
            print(f"(no chart: matplotlib unavailable: {proc.stderr.strip()[-200:]})")
    write_report(args.results, results, info, args, started, elapsed, (load_start, os.getloadavg()[0]),
                 png if drawn else None)

    print("## Targets\n")
    for label, measured, verdict in targets(results):
        print(f"  {verdict:5s} {label}: {measured}")
    print(f"\nwrote {args.results}" + (f" and {png}" if drawn else "") + f" in {elapsed / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
