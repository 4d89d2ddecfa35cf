"""Batch mode on a Dask cluster: the same results as `autodiff batch FILE --json`, computed by the
workers of a `distributed` cluster.

    run_batch_dask("records.jsonl", scheduler=None, json_output=True)   # a LocalCluster; -> exit code
    run_batch_dask("s3://bucket/records.jsonl", scheduler="tcp://scheduler:8786", json_output=True)

How a batch runs:
  - The input is cut into partitions of about `partition_size` bytes. For a path (or an fsspec URL)
    a partition is a byte range [start, end) that owns the lines *starting* in it, so a boundary
    never splits a line and the client never reads the file: the worker reads from start - 1 to
    the next line start, then every line that starts before end. A cheap first pass counts the
    newlines of every range, which numbers each partition's first line (line numbers are global
    and count every physical line, as the local reader does). For `-` (stdin) the client reads the
    lines and sends each partition's lines with its task.
  - A task evaluates its partition in an *evaluator*, a helper process of its worker (one per worker
    thread, started on first use): the per-record time limit is a SIGALRM timer, which only works
    in a main thread, and Dask runs tasks in threads. The evaluator runs the local batch's record
    reader (records.py) and evaluation (execute.py), so every record gives the same JSON line.
    As in `--jobs N`, an evaluator still busy well after a record's limit, or one that dies, is
    replaced; that record gets a "timeout" / "internal" error record and the partition goes on.
  - The client writes the partitions' JSON lines in input order as they complete, with a bounded
    number of partitions submitted ahead. If a worker dies, Dask runs its partitions again; a
    partition that has killed several workers becomes "internal" error records for its lines.
  - With `output_dir`, each task writes its partition to part-NNNNN.jsonl there (so the output
    never passes through the client) and the client writes manifest.json at the end.
"""
import io
import json
import logging
import math
import os
import pickle
import re
import subprocess
import sys
import threading
import time
from collections import deque

from ..settings import limits
from ..settings.deadline import AlarmScope
from ..result import error_record
from .execute import evaluator, run_record, timeout_message, unreadable_record
from .pool import _describe_exit
from .reader import LineReader, LongLine, encoding_problem, open_source
from .records import RecordError, read_records
from .run import Batch, OutputClosed

__all__ = ["run_batch_dask", "run_batch_dask_cli", "parse_size"]

INSTALL_HINT = 'the Dask runner needs the dask extra: pip install "autodiff-cli[dask]"'
MIN_PARTITION = 4 * 1024      # ~50 records: a checked record costs ~10 ms, a task ~1 ms
MAX_PARTITION = 4 * 1024 * 1024
MIN_PARTITION_OPTION = 1024   # --partition-size below this is raised to it (1 byte: a task per byte, 20x slower)
PARTS_PER_THREAD = 4          # partitions per worker thread, for balance and early output
STDIN_FIRST_PARTITION = 16 * 1024    # stdin's size is unknown: partitions start small and grow
MANIFEST = "manifest.json"
COUNTS = ("ok", "mismatch", "error", "timeout")


def connect_seconds():
    """How long to try to reach a scheduler (and to wait for its first worker). AUTODIFF_DASK_CONNECT_SECONDS."""
    return limits.dask_connect_seconds()


def parse_size(text):
    """'4MiB', '256k', '65536' -> bytes (k/M/G are powers of 1024, as are KiB/MiB/GiB)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?\s*", str(text), re.IGNORECASE)
    if not match:
        raise ValueError(f"--partition-size must be a size like 4MiB, 256k or 65536, not {text!r}")
    number = float(match.group(1)) * 1024 ** " kmg".index((match.group(2) or " ").lower())
    if number < 1:
        raise ValueError(f"--partition-size must be at least 1 byte, not {text!r}")
    return int(number)


# --------------------------------------------------------------------------------------------
# the records of one partition (run in the evaluator, and on the client for a lost partition)

def _is_url(path):
    return "://" in path


class _Unreadable(OSError):
    """The input cannot be opened; the message says why, in the words of the local batch."""


def _open_input(path):
    """A seekable binary stream of a path or fsspec URL; _Unreadable if it cannot be opened."""
    if not _is_url(path):
        opened = open_source(path, None)
        if isinstance(opened, str):
            raise _Unreadable(opened)
        return opened[0]
    import fsspec
    try:
        return fsspec.open(path, "rb").open()
    except FileNotFoundError:
        raise _Unreadable(f"no such file: {path}") from None
    except (OSError, ValueError, ImportError) as exc:     # ImportError: no driver for the URL's protocol
        raise _Unreadable(f"cannot read {path}: {_one_line(exc)}") from None


def _line_length(raw):
    """Bytes of the input covered by an item of batch's line reader (its line end included)."""
    return raw.size + 1 if isinstance(raw, LongLine) else len(raw)


def _lines_in_range(stream, start, end):
    """(skipped a partial line?, the raw lines that start in [start, end) of a seekable stream)."""
    position = max(start - 1, 0)
    stream.seek(position)
    lines = iter(LineReader(stream))
    skipped = False
    if start > 0:               # the end of the line before (just "\n" if a line starts at `start`)
        tail = next(lines, None)
        if tail is None:
            return skipped, iter(())
        position += _line_length(tail)
        skipped = position > start

    def owned(position):
        while position < end:
            raw = next(lines, None)
            if raw is None:
                return
            yield raw
            position += _line_length(raw)
    return skipped, owned(position)


def _partition_records(spec):
    """(global line number, record or RecordError) for every record of a partition, where spec is
    ("lines", raw lines, number of the first) or ("range", path, start, end, newlines before start)."""
    if spec[0] == "lines":
        _, lines, first_line = spec
        for number, record in read_records(lines):
            yield number + first_line - 1, record
        return
    _, path, start, end, newlines_before = spec
    stream = _open_input(path)
    try:
        skipped, lines = _lines_in_range(stream, start, end)
        offset = newlines_before + skipped
        for number, record in read_records(lines):
            yield number + offset, record
    finally:
        stream.close()


def _count_newlines(path, start, end):
    """Newlines in the bytes [start, end) of a path or URL (the first pass that numbers lines)."""
    stream = _open_input(path)
    try:
        stream.seek(start)
        count, left = 0, end - start
        while left > 0:
            chunk = stream.read(min(left, 1 << 20))
            if not chunk:
                break
            count += chunk.count(b"\n")
            left -= len(chunk)
        return count
    finally:
        stream.close()


def _probe(path):
    """Run on a worker: (size, first bytes) of the input, or the reason it cannot be read."""
    try:
        stream = _open_input(path)
        try:
            head = stream.read(4)
            size = stream.seek(0, io.SEEK_END)
        finally:
            stream.close()
    except _Unreadable as exc:
        return str(exc)
    except OSError as exc:
        return f"cannot read {path}: {_one_line(exc)}"
    return size, head


# --------------------------------------------------------------------------------------------
# the evaluator: a helper process that evaluates records in its main thread

_EVALUATOR_CODE = "import sys; from autodiff_cli.batch.dask import evaluator_main; evaluator_main(int(sys.argv[1]))"


def evaluator_main(fd):
    """The evaluator process: for each (spec, config, after) it is sent, ("ready",), then for each
    record of the partition after line `after` ("start",) (when records have a time limit) and
    ("record", output, seconds); then ("done",) or ("failed", why)."""
    import signal
    from multiprocessing.connection import Connection
    signal.signal(signal.SIGINT, signal.SIG_IGN)      # the worker stops us (or closes the socket)
    threading.Thread(target=_exit_when_orphaned, args=(os.getppid(),), daemon=True).start()
    conn = Connection(fd)
    evaluator()
    start = pickle.dumps(("start",))
    while True:
        try:
            spec, config, after = pickle.loads(conn.recv_bytes())
        except (EOFError, OSError):
            return
        _use_environment(config["environment"])
        if config["check"]:       # the CAS imported before the first record's check starts its time budget
            from .. import display    # (SymPy only when a record needs it: verify.import_sympy, deadlines held)
            display.prepare()
        conn.send_bytes(pickle.dumps(("ready",)))
        try:
            with AlarmScope():
                for line, record in _partition_records(spec):
                    if line <= after:
                        continue
                    if isinstance(record, RecordError):
                        out, elapsed = unreadable_record(line, record), 0.0
                    else:
                        if config["timeout"]:
                            conn.send_bytes(start)
                        out, elapsed = run_record(line, record, config)
                    conn.send_bytes(pickle.dumps(("record", out, elapsed), pickle.HIGHEST_PROTOCOL))
            conn.send_bytes(pickle.dumps(("done",)))
        except OSError as exc:
            try:
                conn.send_bytes(pickle.dumps(("failed", f"cannot read {spec[1]}: {exc}")))
            except OSError:
                return


def _exit_when_orphaned(parent):
    """If the worker dies, stop too, even in the middle of a record that has no time limit."""
    while os.getppid() == parent:
        time.sleep(2.0)
    os._exit(0)


def _use_environment(environment):
    """The client's AUTODIFF_* limits, so that a record meets the same limits as in a local batch."""
    for name in [name for name in os.environ if name.startswith("AUTODIFF_")]:
        if name not in environment:
            del os.environ[name]
    os.environ.update(environment)


class _EvaluatorGone(Exception):
    """The evaluator was killed (kind "timeout") or died ("internal") during a record."""

    def __init__(self, kind, message, elapsed):
        super().__init__(message)
        self.kind, self.elapsed = kind, elapsed


class _Evaluator:
    """The worker side of one evaluator process."""

    def __init__(self):
        from multiprocessing import Pipe
        mine, theirs = Pipe()
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        self.proc = subprocess.Popen([sys.executable, "-c", _EVALUATOR_CODE, str(theirs.fileno())],
                                     pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, env=env)
        theirs.close()
        self.conn = mine

    def outputs(self, spec, config, after, hard_limit):
        """(output dict, seconds) for each record after line `after`; _EvaluatorGone when this
        evaluator dies, or is still running a record `hard_limit` seconds after it started (then
        it is killed: the backstop of the time limit, for a record stuck in one long numpy call)."""
        self.conn.send_bytes(pickle.dumps((spec, config, after), pickle.HIGHEST_PROTOCOL))
        ready, started = False, None
        while True:
            if not self.conn.poll(hard_limit if started is not None else None):
                self.stop()
                raise _EvaluatorGone("timeout", timeout_message(config["timeout"]) + "; its worker was killed",
                                     time.perf_counter() - started)
            try:
                message = pickle.loads(self.conn.recv_bytes())
            except (EOFError, OSError):
                self.proc.wait()
                exit_status = _describe_exit(self.proc.returncode)
                if not ready:
                    raise RuntimeError(f"the evaluator process could not start on this worker ({exit_status}): "
                                       "is autodiff-cli installed there? (its error is in the worker's log)") from None
                raise _EvaluatorGone("internal", f"the worker process evaluating this record died ({exit_status})",
                                     time.perf_counter() - started if started else 0.0) from None
            kind = message[0]
            if kind == "ready":
                ready = True
            elif kind == "start":
                started = time.perf_counter()
            elif kind == "record":
                started = None
                yield message[1], message[2]
            elif kind == "done":
                return
            else:
                raise OSError(message[1])

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        self.conn.close()


_THREAD = threading.local()


def _thread_evaluator():
    evaluator = getattr(_THREAD, "evaluator", None)
    if evaluator is None or not evaluator.alive():
        evaluator = _THREAD.evaluator = _Evaluator()
    return evaluator


# --------------------------------------------------------------------------------------------
# tasks (run on the workers)

def _run_partition(spec, config, output_path=None):
    """A Dask task: (JSON Lines text, or None when written to output_path; counts) of a partition."""
    batch = Batch(True, io.StringIO(), config)
    timeout = config["timeout"]
    hard_limit = (timeout * 1.5 + 3.0) if timeout else None     # SIGALRM first; generous on a busy machine
    after = 0                # the line of the last record done
    while after is not None:
        try:
            for out, elapsed in _thread_evaluator().outputs(spec, config, after, hard_limit):
                batch.emit_record(out, elapsed)
                after = out["line"]
            break
        except _EvaluatorGone as gone:
            after = _blame(batch, spec, after, gone)
    text = batch.out.getvalue()
    if output_path is None:
        return text, batch.stats
    _write_text(output_path, text)
    return None, batch.stats


def _blame(batch, spec, after, gone):
    """The evaluator stopped during the first record after line `after` to be evaluated: its error
    record (and those of unreadable records before it); returns its line (None: no record left)."""
    for line, record in _partition_records(spec):
        if line <= after:
            continue
        if isinstance(record, RecordError):       # never evaluated: its error record, as usual
            batch.emit_record(unreadable_record(line, record), 0.0)
            continue
        out = error_record(record["expr"], gone.kind, str(gone), line=line, id=record.get("id"))
        batch.emit_record(out, gone.elapsed)
        return line
    return None


def _write_text(path, text):
    if _is_url(path):
        import fsspec
        with fsspec.open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return
    partial = f"{path}.partial"
    with open(partial, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(partial, path)


def _lost_partition(spec, message):
    """(text, counts) of "internal" error records for every record of a partition that could not run."""
    batch = Batch(True, io.StringIO(), {})
    for line, record in _partition_records(spec):
        if isinstance(record, RecordError):
            out = unreadable_record(line, record)
        else:
            out = error_record(record["expr"], "internal", message, line=line, id=record.get("id"))
        batch.emit_record(out, 0.0)
    return batch.out.getvalue(), batch.stats


# --------------------------------------------------------------------------------------------
# the client

class _Failed(Exception):
    """A reason to stop with `error: ...` and exit code 2."""


def _connect(scheduler, wait_seconds):
    """(client, cluster or None): a new LocalCluster (scheduler None) or the scheduler at an address."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise _Failed(INSTALL_HINT) from None
    logging.getLogger("distributed").setLevel(logging.ERROR)
    if scheduler is None:
        cluster = LocalCluster(n_workers=os.cpu_count() or 1, threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address="127.0.0.1:0",
                               silence_logs=logging.ERROR)
        return Client(cluster), cluster
    address = scheduler if "://" in scheduler else f"tcp://{scheduler}"
    try:
        client = Client(address, timeout=f"{wait_seconds}s")
    except Exception as exc:  # noqa: BLE001 - whatever answers there (or nothing), a one-line error
        raise _Failed(f"cannot reach the Dask scheduler at {scheduler} within {wait_seconds:g} s "
                      f"({_one_line(exc)})") from None
    try:
        client.wait_for_workers(1, timeout=wait_seconds)
    except (TimeoutError, OSError):
        client.close()
        raise _Failed(f"the Dask scheduler at {scheduler} has no workers (waited {wait_seconds:g} s)") from None
    return client, None


def _one_line(exc):
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]


def _threads(client):
    return max(1, sum(client.nthreads().values()))


def _range_partitions(client, path, partition_size, threads):
    """The partitions of a path or URL as ("range", path, start, end, newlines before start), in order."""
    probe = client.submit(_probe, path, pure=False).result()
    if isinstance(probe, str):
        raise _Failed(f"{probe} (on the Dask workers, which read the file themselves: give a path on a "
                      f"shared filesystem, an fsspec URL such as s3://..., or pipe it: autodiff batch - --dask)")
    size, head = probe
    problem = encoding_problem(LineReader(io.BytesIO(head)), path)
    if problem:
        raise _Failed(problem)
    if partition_size is None:
        partition_size = min(MAX_PARTITION, max(MIN_PARTITION, math.ceil(size / (PARTS_PER_THREAD * threads))))
    count = math.ceil(size / partition_size)
    bounds = [(i * partition_size, min(size, (i + 1) * partition_size)) for i in range(count)]
    newlines = [client.submit(_count_newlines, path, start, end, pure=False, priority=1)
                for start, end in bounds]

    def partitions():
        before = 0
        for (start, end), counted in zip(bounds, newlines):
            yield ("range", path, start, end, before)
            before += counted.result()
    return partitions()


def _stdin_partitions(stream, partition_size, threads):
    """The partitions of stdin as ("lines", raw lines, first line number), read as they are needed.
    Without a partition_size: 16 KiB each for the first round of worker threads, twice as much
    for each round after, up to MAX_PARTITION."""
    reader = LineReader(stream)
    problem = encoding_problem(reader, "-")
    if problem:
        raise _Failed(problem)

    def size(index):
        return partition_size or min(MAX_PARTITION, STDIN_FIRST_PARTITION << min(index // threads, 10))

    def partitions():
        lines, nbytes, first, index = [], 0, 1, 0
        for raw in reader:
            lines.append(raw)
            nbytes += _line_length(raw)
            if nbytes >= size(index):
                yield ("lines", lines, first)
                first, index = first + len(lines), index + 1
                lines, nbytes = [], 0
        if lines:
            yield ("lines", lines, first)
    return partitions()


class _Output:
    """Where the partitions' results go, in input order: stdout (JSON lines or human rows), or one
    file per partition in an output directory; keeps the counts for the summary and manifest."""

    def __init__(self, json_output, out, err, output_dir):
        self.batch = Batch(json_output, out, {})
        self.err = err
        self.output_dir = output_dir.rstrip("/") if output_dir else None
        self.files = []

    def prepare(self):
        directory = self.output_dir
        if directory is None:
            return
        if _is_url(directory):
            import fsspec
            fs, root = fsspec.core.url_to_fs(directory)
            if fs.exists(root) and fs.ls(root):
                raise _Failed(f"--output-dir {directory} is not empty")
            fs.makedirs(root, exist_ok=True)
            return
        if os.path.exists(directory) and (not os.path.isdir(directory) or os.listdir(directory)):
            raise _Failed(f"--output-dir {directory} is not an empty directory")
        os.makedirs(directory, exist_ok=True)

    def part_path(self, index):
        return f"{self.output_dir}/part-{index:05d}.jsonl" if self.output_dir else None

    def write(self, index, text, stats, written):
        """Add one partition (text is None when its task wrote the file itself)."""
        if self.output_dir:
            if not written:
                _write_text(self.part_path(index), text)
            self.files.append(self.part_path(index).rsplit("/", 1)[-1])
        elif self.batch.json_output:
            try:
                self.batch.out.write(text)
                self.batch.out.flush()
            except BrokenPipeError:
                raise OutputClosed() from None
        else:
            for line in text.splitlines():
                self.batch.report.row(json.loads(line))
        _add_counts(self.batch.stats, stats)

    def finish(self, source, elapsed):
        stats = self.batch.stats
        if self.output_dir:
            manifest = {"source": source, "partitions": len(self.files), "records": stats["records"],
                        "counts": {name: stats[name] for name in COUNTS}, "files": self.files,
                        "seconds": round(elapsed, 3)}
            _write_text(f"{self.output_dir}/{MANIFEST}", json.dumps(manifest, indent=1) + "\n")
        from ..ui.batch_report import print_summary, stderr_console
        to_stderr = self.batch.json_output or self.output_dir
        print_summary(stderr_console(self.err) if to_stderr else self.batch.report.console, stats, elapsed)
        return 0 if stats["ok"] == stats["records"] else 1


def _add_counts(total, part):
    for name in ("records",) + COUNTS:
        total[name] += part[name]
    total["slowest"] = sorted(total["slowest"] + part["slowest"], key=lambda entry: entry[0], reverse=True)[:3]


def _stream(client, specs, config, output):
    """Submit the partitions (a few ahead of the one being written) and write them in order."""
    from distributed import KilledWorker
    window = 2 * _threads(client) + 2
    running = deque()
    next_index = 0
    while True:
        while len(running) < window:
            spec = next(specs, None)
            if spec is None:
                break
            data = client.scatter([spec], hash=False)[0] if spec[0] == "lines" else spec
            future = client.submit(_run_partition, data, config, output.part_path(next_index),
                                   pure=False, priority=-next_index)
            running.append((next_index, spec, future))
            next_index += 1
        if not running:
            return
        index, spec, future = running.popleft()
        try:
            text, stats = future.result()
            written = text is None
        except KilledWorker:
            lost = (spec, "its partition was lost: the Dask workers running it died repeatedly, so its "
                    "records were not evaluated")
            try:
                text, stats = _lost_partition(*lost)
            except OSError:                # the client cannot read the file: a worker can
                text, stats = client.submit(_lost_partition, *lost, pure=False).result()
            written = False
        except OSError as exc:
            raise _Failed(_one_line(exc)) from None
        except Exception as exc:  # noqa: BLE001 - e.g. no evaluator can start on the workers
            raise _Failed(f"a task failed on the Dask cluster: {type(exc).__name__}: {_one_line(exc)}") from None
        output.write(index, text, stats, written)


def run_batch_dask_cli(source, *, dask, jobs, partition_size, output_dir, err=None, **options):
    """`autodiff batch ... --dask [ADDRESS]`: check the command line's options, then run_batch_dask."""
    err = sys.stderr if err is None else err
    problem = None
    if jobs is not None:
        problem = "--jobs and --dask do not mix: with --dask the cluster's workers do the work (size the cluster instead)"
    elif dask is None:
        problem = "--partition-size and --output-dir go with --dask"
    if problem is None and partition_size is not None:
        try:
            partition_size = parse_size(partition_size)
        except ValueError as exc:
            problem = str(exc)
    if problem:
        err.write(f"error: {problem}\n")
        return 2
    if partition_size is not None and partition_size < MIN_PARTITION_OPTION:
        err.write(f"warning: --partition-size {partition_size} bytes is raised to {MIN_PARTITION_OPTION} bytes, "
                  f"the smallest partition (each one is a Dask task)\n")
        partition_size = MIN_PARTITION_OPTION
    return run_batch_dask(source, scheduler=None if dask == "local" else dask, partition_size=partition_size,
                          output_dir=output_dir, err=err, **options)


def run_batch_dask(source, *, scheduler=None, json_output, timeout=None, check=True, random_seed=None,
                   wrt=None, partition_size=None, output_dir=None, out=None, err=None, stdin=None, files_root=None):
    """Run every record of `source` (a path, an fsspec URL, or "-" for stdin) on a Dask cluster:
    a new LocalCluster (scheduler None) or the scheduler at `scheduler` ("tcp://host:8786").
    Returns the exit code as run_batch does (0 all ok, 1 any record not ok, 2 unusable input).
    partition_size: bytes per partition (None: a quarter of the input per worker thread, between
    4 KiB and 4 MiB; for stdin 16 KiB, growing). output_dir: write part-NNNNN.jsonl files and manifest.json
    there instead of the records to `out` (a directory or an fsspec URL; it must be empty)."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    client = cluster = None
    try:
        if timeout is None:
            timeout = limits.record_timeout()
        if timeout < 0:
            raise _Failed(f"--timeout must be >= 0 seconds (0: no limit), not {timeout:g}")
        if isinstance(wrt, str):
            wrt = [w.strip() for w in wrt.split(",") if w.strip()] or None
        # @path bindings: read from the batch file's folder (the current one for stdin or a URL), as locally
        folder = os.getcwd() if source == "-" or "://" in source else os.path.dirname(os.path.abspath(source))
        config = {"check": check, "random_seed": random_seed, "timeout": timeout or None, "wrt": wrt,
                  "files": (folder, folder if files_root is None else files_root),
                  "environment": {k: v for k, v in os.environ.items() if k.startswith("AUTODIFF_")}}
        output = _Output(json_output, out, err, output_dir)
        output.prepare()
        client, cluster = _connect(scheduler, connect_seconds())
        started = time.perf_counter()
        if source == "-":
            specs = _stdin_partitions(stdin if stdin is not None else sys.stdin.buffer, partition_size,
                                      _threads(client))
        else:
            specs = _range_partitions(client, source, partition_size, _threads(client))
        _stream(client, specs, config, output)
        return output.finish(source, time.perf_counter() - started)
    except _Failed as failure:
        from ..ui.console import escape_text
        err.write(f"error: {escape_text(failure)}\n")
        err.flush()
        return 2
    except (OutputClosed, BrokenPipeError):
        from ..ui.console import quiet_output
        quiet_output(out)
        return 0
    except KeyboardInterrupt:
        err.write("error: interrupted\n")
        return 130
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
