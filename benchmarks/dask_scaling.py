"""`autodiff batch --dask`: scaling from one worker to two, and the overhead against `--jobs 2`.

    python benchmarks/dask_scaling.py [--checked 1000] [--records 10000] [--repeat 3]

Measures, on W6's records (workloads.w6_records: small scalar records, every text distinct):
  1. checked records (SymPy check) on a LocalCluster of 1 worker and of 2 workers (one thread each),
     timed on a warm cluster (evaluators started, SymPy imported): throughput ratio 2 workers / 1;
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
    from autodiff_cli.batch_dask import run_batch_dask
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


def median_run(repeat, run, expected):
    times = []
    for _ in range(repeat):
        seconds, output = run()
        if output != expected:
            raise SystemExit("an output differs from the local batch's")
        times.append(seconds)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checked", type=int, default=1000, help="checked records for the scaling run")
    parser.add_argument("--records", type=int, default=10_000, help="--no-check records for the overhead run")
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    checked = write_records(WORK / "dask_checked.jsonl", options.checked, seed=61)
    warmup = write_records(WORK / "dask_warmup.jsonl", 200, seed=62)
    unchecked = write_records(WORK / "dask_records.jsonl", options.records, seed=63)

    whole, few = [0.0], [0.0]          # CPU seconds of `--jobs 1` on all the checked records, on 200 of them
    _, checked_expected = autodiff(str(checked), "--json", cpu=whole)
    autodiff(str(warmup), "--json", cpu=few)
    cpu_per_record = (whole[0] - few[0]) / (options.checked - 200)
    scaling = {}
    for workers in (1, 2):
        with cluster(workers) as running:
            on_cluster(running.scheduler_address, warmup, True)
            scaling[workers] = median_run(options.repeat, lambda: on_cluster(running.scheduler_address, checked, True),
                                          checked_expected)

    plain = ("--json", "--no-check")
    jobs1, expected = autodiff(str(unchecked), *plain)
    jobs2 = median_run(options.repeat, lambda: autodiff(str(unchecked), *plain, "--jobs", "2"), expected)
    own_cluster = median_run(options.repeat, lambda: autodiff(str(unchecked), *plain, "--dask"), expected)
    with cluster(2) as running:
        address = running.scheduler_address
        autodiff(str(warmup), *plain, "--dask", address)
        running_cluster = median_run(options.repeat, lambda: autodiff(str(unchecked), *plain, "--dask", address),
                                     expected)

    n, m = options.checked, options.records
    per_record = scaling[1] / n
    hours = cpu_per_record * 1e8 / 3600
    report = f"""## Dask (`benchmarks/dask_scaling.py`)

Load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; median of {options.repeat} runs; every
output byte-identical to `autodiff batch FILE --json`.

| measurement | time | ratio | target |
|---|---|---|---|
| {n:,} checked records, LocalCluster of 1 worker (warm) | {scaling[1]:.2f} s ({n / scaling[1]:,.0f} records/s) | | |
| {n:,} checked records, LocalCluster of 2 workers (warm) | {scaling[2]:.2f} s ({n / scaling[2]:,.0f} records/s) | {scaling[1] / scaling[2]:.2f}x the throughput of 1 worker | >= 1.6x {'✅' if scaling[1] / scaling[2] >= 1.6 else '❌'} |
| {m:,} records `--no-check`, `--jobs 1` (whole process) | {jobs1:.2f} s | | |
| {m:,} records `--no-check`, `--jobs 2` (whole process) | {jobs2:.2f} s | 1.00 | |
| {m:,} records `--no-check`, `--dask` (starts a 2-worker LocalCluster) | {own_cluster:.2f} s | {own_cluster / jobs2:.2f}x `--jobs 2` | |
| {m:,} records `--no-check`, `--dask ADDRESS` (a running 2-worker cluster) | {running_cluster:.2f} s | {running_cluster / jobs2:.2f}x `--jobs 2` | |

A checked record costs {cpu_per_record * 1000:.1f} ms of CPU (`--jobs 1`, whole process, startup subtracted;
{per_record * 1000:.1f} ms of wall time per record on one worker at this load), so 10^8 such records take about
{hours:,.0f} worker-hours: {hours / 100:,.1f} h on 100 workers, {hours / 1000:,.1f} h on 1,000.
"""
    (WORK / "dask.md").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
