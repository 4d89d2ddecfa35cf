"""`autodiff batch --dask`: scaling from one worker to two, and the overhead against `--jobs 2`.

    python benchmarks/dask_scaling.py [--checked 1000] [--records 10000] [--rounds 3]

Measures, on W6's records (workloads.w6_records: small scalar records, every text distinct):
  1. checked records (SymPy check) on a LocalCluster of 1 worker and of 2 workers (one thread each),
     timed on a warm cluster (evaluators started, SymPy imported): throughput ratio 2 workers / 1,
     beside local `--jobs 1` / `--jobs 2` on the same records (what the machine allows right now);
  2. 10,000 records with --no-check, whole `autodiff batch` processes: `--jobs 2` against `--dask`
     (which starts its own 2-worker LocalCluster) and against `--dask ADDRESS` (a running one);
  3. the CPU time of a checked record, for the README's estimate of 10^8 records on N workers.
Every run's output is compared with the local batch's, byte for byte. Prints a Markdown section
(for RESULTS.md) and writes it to benchmarks/_work/dask.md.
"""
import argparse
import io
import json
import logging
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "benchmarks" / "_work"
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from workloads import w6_records  # noqa: E402

# A SymPy budget no load can exhaust: a check that falls back to finite differences on a busy machine
# would change the output (and every output is compared); --dask passes AUTODIFF_* on to the workers.
os.environ["AUTODIFF_CHECK_SECONDS"] = "3600"
ENV = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
           PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))


def write_records(path, n, seed):
    path.write_text("".join(json.dumps(record) + "\n" for record in w6_records(n, seed=seed)))
    return path


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def autodiff(*args, cpu=None):
    """(seconds, stdout) of one whole `autodiff batch` process; its CPU seconds go in cpu[0]."""
    started, cpu_started = time.perf_counter(), cpu_seconds()
    done = subprocess.run([sys.executable, "-m", "autodiff_cli", "batch", *args], capture_output=True, env=ENV,
                          cwd=ROOT)
    seconds = time.perf_counter() - started
    if cpu is not None:
        cpu[:] = [cpu_seconds() - cpu_started]
    if done.returncode not in (0, 1):
        raise SystemExit(f"autodiff batch {' '.join(args)} failed:\n{done.stderr.decode()}")
    return seconds, done.stdout


def on_cluster(scheduler, path, check):
    from autodiff_cli.batch.dask import run_batch_dask
    out, err = io.StringIO(), io.StringIO()
    started = time.perf_counter()
    code = run_batch_dask(str(path), scheduler=scheduler, json_output=True, check=check, out=out, err=err)
    seconds = time.perf_counter() - started
    if code not in (0, 1):
        raise SystemExit(f"the Dask run failed: {err.getvalue()}")
    return seconds, out.getvalue().encode()


def cluster(workers):
    from distributed import LocalCluster
    return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                        dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checked", type=int, default=1000, help="checked records for the scaling runs")
    parser.add_argument("--records", type=int, default=10_000, help="--no-check records for the overhead runs")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every run (medians are reported)")
    options = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    warmup = write_records(WORK / "dask_warmup.jsonl", 200, seed=62)
    unchecked = write_records(WORK / "dask_records.jsonl", options.records, seed=63)
    seeds = iter(range(100, 10_000))

    def fresh_checked():
        """A new file of checked records: a warm evaluator must not be served by SymPy's own cache."""
        return write_records(WORK / "dask_checked.jsonl", options.checked, seed=next(seeds))

    whole, few = [0.0], [0.0]          # CPU seconds of `--jobs 1` on all the checked records, on 200 of them
    autodiff(str(fresh_checked()), "--json", cpu=whole)
    autodiff(str(warmup), "--json", cpu=few)
    cpu_per_record = (whole[0] - few[0]) / (options.checked - 200)
    _, expected = autodiff(str(unchecked), "--json", "--no-check")
    times = {name: [] for name in ("jobs1c", "jobs2c", "dask1", "dask2", "jobs2", "dask", "daskaddr")}

    def timed(name, run, wanted):
        seconds, output = run()
        if wanted is not None and output != wanted:
            raise SystemExit(f"{name}: the output differs from the local batch's")
        times[name].append(seconds)
        return output

    with cluster(1) as one, cluster(2) as two:
        for running in (one, two):          # evaluators started, SymPy imported
            on_cluster(running.scheduler_address, warmup, True)
        for _ in range(options.rounds):     # every run once a round, so that load drifts hit all alike
            path = fresh_checked()          # the same for both clusters (each has its own evaluators)
            wanted = timed("jobs1c", lambda: autodiff(str(path), "--json"), None)
            timed("jobs2c", lambda: autodiff(str(path), "--json", "--jobs", "2"), wanted)
            for workers, running in ((1, one), (2, two)):
                timed(f"dask{workers}", lambda: on_cluster(running.scheduler_address, path, True), wanted)
            timed("jobs2", lambda: autodiff(str(unchecked), "--json", "--no-check", "--jobs", "2"), expected)
            timed("dask", lambda: autodiff(str(unchecked), "--json", "--no-check", "--dask"), expected)
            timed("daskaddr", lambda: autodiff(str(unchecked), "--json", "--no-check", "--dask", two.scheduler_address),
                  expected)

    t = {name: statistics.median(values) for name, values in times.items()}

    def ratio(a, b):        # the median over rounds of a's time / b's time in the same round
        return statistics.median(x / y for x, y in zip(times[a], times[b]))

    n, m = options.checked, options.records
    scale, local_scale = ratio("dask1", "dask2"), ratio("jobs1c", "jobs2c")
    hours = cpu_per_record * 1e8 / 3600
    report = f"""## Dask (`benchmarks/dask_scaling.py`)

{options.rounds} rounds of every run, interleaved; medians (ratios: the median of the rounds' ratios). Load average at
the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores. Every output byte-identical to `autodiff batch FILE --json`.

| measurement | time | ratio | target |
|---|---|---|---|
| {n:,} checked records, LocalCluster of 1 worker (warm) | {t['dask1']:.2f} s ({n / t['dask1']:,.0f} records/s) | | |
| {n:,} checked records, LocalCluster of 2 workers (warm) | {t['dask2']:.2f} s ({n / t['dask2']:,.0f} records/s) | {scale:.2f}x the throughput of 1 worker | >= 1.6x {'✅' if scale >= 1.6 else '❌'} |
| the same, local `--jobs 1` / `--jobs 2` (whole processes), for comparison | {t['jobs1c']:.2f} s / {t['jobs2c']:.2f} s | {local_scale:.2f}x | |
| {m:,} records `--no-check`, `--jobs 2` (whole process) | {t['jobs2']:.2f} s | 1.00 | |
| {m:,} records `--no-check`, `--dask` (starts a 2-worker LocalCluster) | {t['dask']:.2f} s | {ratio('dask', 'jobs2'):.2f}x `--jobs 2` | |
| {m:,} records `--no-check`, `--dask ADDRESS` (a running 2-worker cluster) | {t['daskaddr']:.2f} s | {ratio('daskaddr', 'jobs2'):.2f}x `--jobs 2` | |

A checked record costs {cpu_per_record * 1000:.1f} ms of CPU (`--jobs 1`, whole process, startup subtracted), so
10^8 such records take about {hours:,.0f} worker-hours: {hours / 100:,.1f} h on 100 workers, {hours / 1000:,.1f} h on 1,000.
"""
    report += "\nEvery round's seconds: " + "; ".join(
        f"{name} " + ", ".join(f"{x:.2f}" for x in values) for name, values in times.items()) + "\n"
    (WORK / "dask.md").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
