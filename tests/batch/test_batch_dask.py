"""Batch mode on a Dask cluster: the same bytes as the local batch, on a LocalCluster started in this
process and on a scheduler plus two workers started as separate processes (loopback only)."""
import io
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autodiff_cli.batch import dask as batch_dask
from autodiff_cli.batch import read_records, run_batch
from autodiff_cli.batch.reader import LineReader
from mixed_batch import mixed_lines

distributed = pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
MIXED_OPTIONS = dict(check=False, timeout=60, random_seed=7)
MIXED_ARGS = ["--json", "--no-check", "--timeout", "60", "--random-seed", "7"]
# A Jacobian of 3000 outputs, each a backward pass over 4000 ops: about a minute of Python work on a
# fast core, so a 1 s limit stops it on any machine; 14 KB of text (a 450,000-term expression, the
# previous slow record, took minutes to read, echo and compare on a loaded machine).
SLOW_EXPR, SLOW_X = "+".join(["sin(x)"] * 2000), "ones(3000)"


def cli(args, timeout=300, **kwargs):
    return subprocess.run([PY, "-m", "autodiff_cli", "batch", *args], capture_output=True, timeout=timeout,
                          cwd=ROOT, **kwargs)


def on_dask(source, scheduler, stdin=None, **options):
    """run_batch_dask; returns (exit code, stdout text, stderr text)."""
    out, err = io.StringIO(), io.StringIO()
    options.setdefault("json_output", True)
    code = batch_dask.run_batch_dask(str(source), scheduler=scheduler, out=out, err=err, stdin=stdin, **options)
    return code, out.getvalue(), err.getvalue()


def same_lines(text, expected):
    """text == expected, compared line by line first so that a failure shows the first difference."""
    assert text.splitlines() == expected.splitlines()
    return text == expected


def locally(source, **options):
    out, err = io.StringIO(), io.StringIO()
    code = run_batch(str(source), json_output=True, out=out, err=err, **options)
    return code, out.getvalue()


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """(path of the 10,000-record mixed file, its output from `autodiff batch FILE --json`)."""
    path = tmp_path_factory.mktemp("mixed") / "mixed.txt"
    path.write_bytes(mixed_lines(10_000))
    done = cli([str(path), *MIXED_ARGS])
    assert done.returncode == 1, done.stderr        # some records are bad on purpose
    assert len(done.stdout.splitlines()) == 10_000
    return path, done.stdout.decode()


@pytest.fixture(scope="module")
def local_cluster():
    """The address of a LocalCluster (two worker processes) in this process."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR) as cluster:
        yield cluster.scheduler_address


class ProcessCluster:
    """`dask scheduler` and `dask worker`s as separate processes on 127.0.0.1, random free ports."""

    def __init__(self, directory):
        self.dask = Path(sys.executable).with_name("dask")
        if not self.dask.exists():
            pytest.skip("no dask command beside the interpreter")
        self.file = directory / "scheduler.json"
        self.env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
        self.processes = []
        self.scheduler = self._start("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard")
        deadline = time.monotonic() + 60
        while not (self.file.exists() and self.file.read_text().strip()):
            assert time.monotonic() < deadline and self.scheduler.poll() is None, "the scheduler did not start"
            time.sleep(0.1)
        self.address = json.loads(self.file.read_text())["address"]
        self.workers = [self.add_worker() for _ in range(2)]
        self.wait_for_workers(2)

    def _start(self, *args):
        proc = subprocess.Popen([str(self.dask), *args, "--scheduler-file", str(self.file)], env=self.env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self.processes.append(proc)
        return proc

    def add_worker(self):
        return self._start("worker", "--host", "127.0.0.1", "--nthreads", "1", "--no-nanny", "--no-dashboard")

    def wait_for_workers(self, n):
        with distributed.Client(self.address, timeout="30s") as client:
            client.wait_for_workers(n, timeout=60)

    def kill(self, proc, sig=signal.SIGKILL):
        """Stop one of our processes with its process group (a worker and its evaluators)."""
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        proc.wait(timeout=30)

    def close(self):
        for proc in reversed(self.processes):
            if proc.poll() is None:
                self.kill(proc, signal.SIGTERM)


@pytest.fixture(scope="module")
def process_cluster(tmp_path_factory):
    cluster = ProcessCluster(tmp_path_factory.mktemp("cluster"))
    try:
        yield cluster
    finally:
        cluster.close()


# --- partitions: byte ranges on line boundaries, global line numbers (no cluster) -------------------

def _records_by_partitions(path, size, partition_size):
    """What the partitions of `path` read, in order, with the line numbers their specs give them."""
    found, newlines_before = [], 0
    for start in range(0, size, partition_size):
        end = min(size, start + partition_size)
        found += batch_dask._partition_records(("range", str(path), start, end, newlines_before))
        newlines_before += batch_dask._count_newlines(str(path), start, end)
    return found


def _comparable(pairs):
    return [(line, record if isinstance(record, dict) else ("error", str(record))) for line, record in pairs]


LINE_PIECES = [b"x | x=1", b"{\"expr\": \"y\"}", b"", b"   ", b"# note", b"\xef\xbb\xbfx*2 | x=3", b"x**",
               b"\xff\xfe", b"sum(x) | x=[1, 2, 3] --id longer-than-the-line-limit", b"z | z=2\r"]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(LINE_PIECES), max_size=25), st.booleans(), st.integers(1, 60), st.integers(8, 40))
def test_partitions_read_every_line_once_with_its_number(tmp_path_factory, pieces, final_newline, partition_size,
                                                         line_limit):
    data = b"\n".join(pieces) + (b"\n" if final_newline and pieces else b"")
    path = tmp_path_factory.mktemp("parts") / "input.txt"
    path.write_bytes(data)
    os.environ["AUTODIFF_MAX_LINE_BYTES"] = str(line_limit)        # over-long lines span partitions
    try:
        expected = _comparable(read_records(io.BytesIO(data).readlines()))
        whole = _comparable(read_records(LineReader(io.BytesIO(data))))
        assert _comparable(_records_by_partitions(path, len(data), partition_size)) == whole
    finally:
        del os.environ["AUTODIFF_MAX_LINE_BYTES"]
    if all(len(p) <= line_limit for p in pieces):
        assert whole == expected


def test_parse_size():
    assert batch_dask.parse_size("65536") == 65536
    assert batch_dask.parse_size("256k") == batch_dask.parse_size("256KiB") == 256 * 1024
    assert batch_dask.parse_size("4MiB") == batch_dask.parse_size("4m") == 4 * 1024 * 1024
    for bad in ("", "-1", "4 parsecs", "0"):
        with pytest.raises(ValueError, match="--partition-size"):
            batch_dask.parse_size(bad)


# --- the evaluator: time limits and crashes inside a task (no cluster needed) ------------------------

TEST_EVALUATOR = """if True:
    import os, signal, sys, time
    from autodiff_cli.batch import dask as batch_dask, execute
    real = execute.evaluator()
    def evaluate(expr, bindings, **options):
        if "stuck" in expr:       # SIGALRM cannot stop it (as one long numpy call)
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
            time.sleep(60)
        if "crash" in expr:
            os._exit(3)
        if "gate" in expr:        # waits (at most 60 s) for the file named by AUTODIFF_TEST_GATE
            for _ in range(1200):
                if os.path.exists(os.environ["AUTODIFF_TEST_GATE"]):
                    break
                time.sleep(0.05)
            else:
                raise RuntimeError("the gate was not opened")
        return real(expr, bindings, **options)
    execute._EVALUATE = evaluate
    batch_dask.evaluator_main(int(sys.argv[1]))
"""


@pytest.fixture
def patched_evaluators(monkeypatch):
    """Evaluators that know the records 'stuck', 'crash' and 'gate' (for tasks run in this process)."""
    monkeypatch.setattr(batch_dask, "_EVALUATOR_CODE", TEST_EVALUATOR)
    monkeypatch.setattr(batch_dask, "_THREAD", batch_dask.threading.local())


def test_a_stuck_or_crashing_record_replaces_the_evaluator_and_the_partition_goes_on(patched_evaluators):
    lines = [(f"x*{i} + stuck | x=1 stuck=0 --id {i}\n" if i in (2, 9) else
              f"x*{i} + crash | x=1 crash=0 --id {i}\n" if i == 5 else f"x*{i} | x=1 --id {i}\n").encode()
             for i in range(12)]
    config = {"check": False, "random_seed": None, "timeout": 0.3, "wrt": None, "environment": {},
              "files": (os.getcwd(), os.getcwd())}
    text, stats = batch_dask._run_partition(("lines", lines, 101), config)
    records = [json.loads(line) for line in text.splitlines()]
    assert [r["id"] for r in records] == [str(i) for i in range(12)]
    assert [r["line"] for r in records] == list(range(101, 113))
    outcomes = [r["error"]["kind"] if r["status"] == "error" else r["value"] for r in records]
    assert outcomes == ["timeout" if i in (2, 9) else "internal" if i == 5 else float(i) for i in range(12)]
    assert all("worker was killed" in records[i]["error"]["message"] for i in (2, 9))
    assert "died (exit code 3)" in records[5]["error"]["message"]
    # a timeout is counted once, as a timeout (not also as an error): 1 error + 2 timeouts
    assert (stats["records"], stats["ok"], stats["error"], stats["timeout"]) == (12, 9, 1, 2)


class LosingClient:
    """A client whose every task has killed its workers too often (what Dask reports as KilledWorker)."""

    def nthreads(self):
        return {"w1": 1}

    def scatter(self, data, hash=True):
        return data

    def submit(self, fn, *args, **options):
        class Lost:
            def result(self):
                raise distributed.KilledWorker("_run_partition-1", "tcp://127.0.0.1:1", 3)
        return Lost()


def test_a_partition_that_kills_its_workers_becomes_error_records_and_the_run_goes_on():
    lines = [b"x | x=1 --id a\n", b"\n", b"{\"expr\": \"y\", \"id\": 7}\n", b"x | x=1 --colour red\n"]
    output = batch_dask._Output(True, io.StringIO(), io.StringIO(), None)
    specs = iter([("lines", lines[:2], 1), ("lines", lines[2:], 3)])
    batch_dask._stream(LosingClient(), specs, {}, output)
    records = [json.loads(line) for line in output.batch.out.getvalue().splitlines()]
    assert [(r["line"], r["id"], r["error"]["kind"]) for r in records] == [(1, "a", "internal"), (3, 7, "internal"),
                                                                          (4, None, "record")]
    assert "died repeatedly" in records[0]["error"]["message"] and records[0]["expression"] == "x"
    assert output.batch.stats["records"] == 3 and output.batch.stats["error"] == 3


# --- a LocalCluster in this process ---------------------------------------------------------------

def test_local_cluster_gives_the_bytes_of_the_local_batch(mixed, local_cluster):
    path, expected = mixed
    code, text, err = on_dask(path, local_cluster, **MIXED_OPTIONS)
    assert code == 1
    assert same_lines(text, expected)
    assert "records" in err and "10000" in err and "slowest" in err      # the summary, on stderr


def test_stdin_partitions_sent_from_the_client(tmp_path, local_cluster):
    path = tmp_path / "mixed.txt"
    path.write_bytes(mixed_lines(2000, slow=1))
    expected = locally(path, **MIXED_OPTIONS)
    with open(path, "rb") as stdin:
        code, text, _ = on_dask("-", local_cluster, stdin=stdin, **MIXED_OPTIONS)      # partitions of 16 KiB, 32, ...
    assert code == expected[0] == 1 and same_lines(text, expected[1])


def test_tiny_partitions_long_lines_and_line_ends(tmp_path, local_cluster, monkeypatch):
    monkeypatch.setenv("AUTODIFF_MAX_LINE_BYTES", "60")      # the client's limits reach the workers
    data = (b"\xef\xbb\xbfx | x=1\r\n\n# comment\n" + b"y" * 200 + b" | y=1\n   \n"
            + b'{"expr": "x*y", "bindings": {"x": 2, "y": 3}, "id": "j"}\r\n' + b"z" * 90 + b"\nx**2 | x=3")
    path = tmp_path / "edge.txt"
    path.write_bytes(data)
    expected = locally(path, check=False)
    for size in (1, 7, 40, 1000):
        code, text, _ = on_dask(path, local_cluster, check=False, partition_size=size)
        assert (code, text) == expected, size
    assert [json.loads(line)["line"] for line in expected[1].splitlines()] == [1, 4, 6, 7, 8]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")   # see deadline.py
def test_time_limits_as_locally(tmp_path, local_cluster):
    path = tmp_path / "slow.txt"
    path.write_text(f"x | x=1 --id quick\n{SLOW_EXPR} | x={SLOW_X} --mode jacobian --id slow1\nx**2 | x=3\n"
                    f'{{"expr": "{SLOW_EXPR}", "bindings": {{"x": "{SLOW_X}"}}, "mode": "jacobian", "id": "slow2"}}\n')
    expected = locally(path, check=False, timeout=1)
    assert [json.loads(line)["status"] for line in expected[1].splitlines()] == ["ok", "error", "ok", "error"]
    assert expected[1].count('"kind": "timeout"') == 2
    assert on_dask(path, local_cluster, check=False, timeout=1, partition_size=1000)[:2] == expected


def test_checked_records_the_sympy_check_on_the_workers(tmp_path, local_cluster, monkeypatch):
    monkeypatch.setenv("AUTODIFF_CHECK_SECONDS", "3600")      # no fallback to finite differences under load
    path = tmp_path / "checked.txt"
    path.write_text("".join(f"sin(x)*x**{i % 4 + 1} + y*x | x={i % 5 + 1} y=2 --id c{i}\n" for i in range(120))
                    + "x**2 | x=3 --mode hessian\n")
    expected = locally(path, check=True)
    assert '"method": "sympy"' in expected[1] and expected[0] == 0
    assert on_dask(path, local_cluster, check=True, partition_size=500)[:2] == expected


def test_output_dir_files_equal_the_streamed_output(mixed, local_cluster, tmp_path):
    path, expected = mixed
    directory = tmp_path / "results"
    code, text, err = on_dask(path, local_cluster, output_dir=str(directory), **MIXED_OPTIONS)
    assert code == 1 and text == ""
    parts = sorted(p.name for p in directory.glob("part-*.jsonl"))
    assert len(parts) > 2
    assert same_lines("".join((directory / name).read_text() for name in parts), expected)
    manifest = json.loads((directory / "manifest.json").read_text())
    statuses = [json.loads(line)["status"] for line in expected.splitlines()]
    assert manifest["files"] == parts and manifest["partitions"] == len(parts)
    assert manifest["records"] == 10_000
    assert manifest["counts"]["ok"] == statuses.count("ok") and manifest["counts"]["timeout"] == 0
    assert manifest["counts"]["error"] == statuses.count("error")
    # a second run refuses to mix its files with these
    code, _, err = on_dask(path, local_cluster, output_dir=str(directory), **MIXED_OPTIONS)
    assert code == 2 and err.startswith("error: --output-dir") and "not an empty directory" in err


def test_first_results_stream_before_the_last_partition_is_done(tmp_path, patched_evaluators, monkeypatch):
    gate = tmp_path / "gate"
    monkeypatch.setenv("AUTODIFF_TEST_GATE", str(gate))     # the client's AUTODIFF_* reach the evaluators
    path = tmp_path / "gated.txt"
    path.write_text("x | x=1 --id first\n" + "x**2 | x=2\n" * 20 + "x + gate | x=1 gate=0 --id last\n")

    class OpensTheGate(io.StringIO):
        def write(self, text):
            gate.touch()         # the last record can finish only after the first results are out
            return super().write(text)

    out, err = OpensTheGate(), io.StringIO()
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR) as cluster:
        code = batch_dask.run_batch_dask(str(path), scheduler=cluster.scheduler_address, json_output=True,
                                         check=False, timeout=0, partition_size=100, out=out, err=err)
    assert code == 0, out.getvalue()
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(records) == 22 and records[-1]["id"] == "last" and records[-1]["status"] == "ok"


def test_workers_that_cannot_read_the_path(tmp_path, local_cluster):
    code, text, err = on_dask(tmp_path / "missing.txt", local_cluster)
    assert (code, text) == (2, "")
    assert err.startswith("error: no such file:") and "Dask workers" in err and err.count("\n") == 1


def test_utf16_input_is_refused_as_locally(tmp_path, local_cluster):
    path = tmp_path / "utf16.txt"
    path.write_bytes("x | x=1\n".encode("utf-16"))
    code, _, err = on_dask(path, local_cluster)
    assert code == 2 and "UTF-16" in err


# --- a scheduler and two workers as separate processes ------------------------------------------------

def test_process_cluster_gives_the_bytes_of_the_local_batch(mixed, process_cluster):
    path, expected = mixed
    done = cli([str(path), *MIXED_ARGS, "--dask", process_cluster.address])
    assert done.returncode == 1, done.stderr
    assert same_lines(done.stdout.decode(), expected)
    assert b"Traceback" not in done.stderr


def test_a_worker_killed_mid_run_loses_no_record(mixed, process_cluster):
    path, expected = mixed
    proc = subprocess.Popen([PY, "-m", "autodiff_cli", "batch", str(path), *MIXED_ARGS,
                             "--dask", process_cluster.address], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=ROOT)
    first = proc.stdout.readline()            # the first partition is done: the others are running
    victim = process_cluster.workers.pop(0)
    process_cluster.kill(victim)
    rest, stderr = proc.stdout.read(), proc.stderr.read()      # (communicate() would skip what readline buffered)
    assert proc.wait(timeout=60) == 1, stderr
    lines = (first + rest).decode().splitlines()
    assert len(lines) == 10_000 and [json.loads(line)["line"] for line in lines] == \
        [json.loads(line)["line"] for line in expected.splitlines()]
    assert same_lines("\n".join(lines) + "\n", expected)
    process_cluster.workers.append(process_cluster.add_worker())
    process_cluster.wait_for_workers(2)


# --- the command line ----------------------------------------------------------------------------------

def test_cli_dask_starts_its_own_local_cluster(tmp_path):
    path = tmp_path / "small.txt"
    path.write_bytes(mixed_lines(300, slow=0))
    local_run = cli([str(path), *MIXED_ARGS])
    dask_run = cli([str(path), *MIXED_ARGS, "--dask", "--partition-size", "2k"])
    assert dask_run.returncode == local_run.returncode == 1, dask_run.stderr
    assert dask_run.stdout == local_run.stdout


def test_cli_partition_size_is_clamped_to_a_minimum(monkeypatch):
    """issue 29, finding 11: --partition-size 1 made a Dask task per byte (40 records: 76 s vs 4 s)."""
    seen = []
    monkeypatch.setattr(batch_dask, "run_batch_dask", lambda source, **options: seen.append(options) or 0)
    for given, used in (("1", batch_dask.MIN_PARTITION_OPTION), ("10", batch_dask.MIN_PARTITION_OPTION),
                        ("2k", 2048), (None, None)):
        err = io.StringIO()
        assert batch_dask.run_batch_dask_cli("-", dask="local", jobs=None, partition_size=given, output_dir=None,
                                             err=err, json_output=True) == 0
        assert seen[-1]["partition_size"] == used
        assert ("warning: --partition-size" in err.getvalue()) == (given in ("1", "10"))


def test_cli_unreachable_scheduler_is_a_one_line_error():
    import socket
    with socket.socket() as sock:                 # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()
    done = cli(["-", "--json", "--dask", f"tcp://127.0.0.1:{port}"], input=b"x | x=1\n",
               env=dict(os.environ, AUTODIFF_DASK_CONNECT_SECONDS="2"))
    assert time.monotonic() - started < 60
    assert done.returncode == 2 and done.stdout == b""
    err = done.stderr.decode()
    assert err.startswith(f"error: cannot reach the Dask scheduler at tcp://127.0.0.1:{port} within 2 s")
    assert err.count("\n") == 1


def test_cli_dask_and_jobs_do_not_mix():
    done = cli(["-", "--dask", "--jobs", "2"], input=b"x | x=1\n")
    assert done.returncode == 2 and done.stderr.decode().startswith("error: --jobs and --dask")


def test_cli_without_dask_says_how_to_install_it():
    code = ("import sys; sys.modules['distributed'] = None; sys.argv = ['autodiff', 'batch', '-', '--dask'];"
            "from autodiff_cli.cli import main; main()")
    done = subprocess.run([PY, "-c", code], input=b"x | x=1\n", capture_output=True, cwd=ROOT, timeout=60)
    assert done.returncode == 2
    assert done.stderr.decode() == 'error: the Dask runner needs the dask extra: pip install "autodiff-cli[dask]"\n'
