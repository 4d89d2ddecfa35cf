"""run_batch: every record of a file (or stdin), one result per record, in input order.

    run_batch("records.jsonl", json_output=True, jobs=4, timeout=5)     # -> exit code

Reads lines (reader.py), turns them into records (records.py), evaluates them here one by one
(jobs == 1) or in the worker pool (pool.py), and writes each output record as soon as it and all
before it are done: a JSON line, or a row of the human report (ui/batch_report.py).
"""
import errno
import json
import os
import sys
import time
from contextlib import contextmanager

from ..settings import limits
from ..settings.deadline import AlarmScope
from ..result import dumps
from ..ui.console import cannot_write, isatty, quiet_output
from .execute import evaluator, run_record, unreadable_record
from .reader import LineReader, encoding_problem, open_source
from .records import RecordError, read_records

SLOWEST_SHOWN = 3


class OutputClosed(Exception):
    """The reader of our output went away (EPIPE): stop quietly."""


class OutputFailed(Exception):
    """Writing our output failed otherwise (a full disk): exit 2, blaming the output."""


@contextmanager
def writing():
    """Turn an error writing the output into OutputClosed (EPIPE) or OutputFailed, so that it is
    never mistaken for an error reading the input."""
    try:
        yield
    except BrokenPipeError:
        raise OutputClosed() from None
    except OSError as exc:
        if exc.errno == errno.EPIPE:
            raise OutputClosed() from None
        raise OutputFailed(exc) from None


class Batch:
    """Where output records go, and the counts for the summary."""

    def __init__(self, json_output, out, config, precision=6):
        self.json_output, self.out, self.config = json_output, out, config
        if json_output:
            self.report = None
        else:
            from ..ui.arrays import View
            from ..ui.batch_report import BatchReport
            self.report = BatchReport(out, View(precision=precision))
        self.stats = {"records": 0, "ok": 0, "mismatch": 0, "error": 0, "timeout": 0, "slowest": []}

    def emit(self, payload, status, elapsed, line, record_id, expression, kind=None):
        """Write one output record (a JSON line, or a dict for the human row) and count it."""
        with writing():
            if self.json_output:
                self.out.write((payload if isinstance(payload, str) else dumps(payload)) + "\n")
                self.out.flush()
            else:
                self.report.row(payload if isinstance(payload, dict) else json.loads(payload))
        self._count(status, elapsed, line, record_id, expression, kind)

    def emit_record(self, out, elapsed):
        """emit() for an output record as a dict."""
        kind = out["error"]["kind"] if out["status"] == "error" else None
        self.emit(out, out["status"], elapsed, out["line"], out.get("id"), out.get("expression", ""), kind)

    def _count(self, status, elapsed, line, record_id, expression, kind):
        stats = self.stats
        stats["records"] += 1
        stats["timeout" if kind == "timeout" else status if status in ("ok", "mismatch") else "error"] += 1
        slowest = stats["slowest"]
        entry = (elapsed, line, record_id, expression)
        if len(slowest) < SLOWEST_SHOWN:
            slowest.append(entry)
        else:
            fastest = min(slowest, key=lambda e: e[0])
            if elapsed > fastest[0]:
                slowest.remove(fastest)
                slowest.append(entry)


def run_serial(batch, records, progress, reader):
    """jobs == 1: every record in this process, in order."""
    with AlarmScope():
        for line, record in records:
            if isinstance(record, RecordError):
                out, elapsed = unreadable_record(line, record), 0.0
            else:
                out, elapsed = run_record(line, record, batch.config)
            batch.emit_record(out, elapsed)
            if progress:
                progress.update(reader.bytes_read, batch.stats["records"])


def run_batch(source, *, json_output, jobs=1, timeout=None, check=True, random_seed=None, wrt=None,
              files_root=None, out=None, err=None, stdin=None, quiet=False, precision=6):
    """Run every record of `source` (a path, or "-" for stdin); returns the exit code:
    0 every record ok, 1 any record not ok, 2 unusable input (then one `error: ...` line on err).

    jobs: worker processes (0: one per CPU; 1: in this process). timeout: seconds per record
    (None: limits.record_timeout(); 0: no limit). wrt: default `wrt` for records without one.
    files_root: the folder `@file` bindings may read from (default: the batch file's folder, or
    the current directory for stdin); a relative `@path` is read from the batch file's folder.
    out/err/stdin default to sys.stdout, sys.stderr, sys.stdin.buffer (stdin must be binary).
    quiet: no progress bar and no hint on a terminal's stderr. precision: significant digits of
    the numbers in the human rows.
    """
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err

    def fail(message):
        from ..ui.console import escape_text
        err.write(f"error: {escape_text(message)}\n")
        err.flush()
        return 2

    cpus = os.cpu_count() or 1
    if jobs is None or jobs == 0:
        jobs = cpus
    if not isinstance(jobs, int) or jobs < 0:
        return fail(f"--jobs must be a whole number >= 0, not {jobs}")
    jobs = min(jobs, cpus * limits.MAX_JOBS_PER_CPU)   # more would only compete for the CPUs
    try:
        if timeout is None:
            timeout = limits.record_timeout()
    except limits.SettingOutOfRange as exc:
        return fail(exc.message)
    if not 0 <= timeout <= limits.MAX_SECONDS:       # (also false for nan)
        return fail(f"--timeout must be between 0 and {limits.MAX_SECONDS:.0f} seconds (0: no limit), not {timeout:g}")
    if isinstance(wrt, str):
        wrt = [w.strip() for w in wrt.split(",") if w.strip()] or None
    folder = os.getcwd() if source == "-" else os.path.dirname(os.path.abspath(source))
    if files_root is not None and not os.path.isdir(files_root):
        return fail(f"--files-root {files_root}: not a directory")
    config = {"check": check, "random_seed": random_seed, "timeout": timeout or None, "wrt": wrt,
              "files": (folder, folder if files_root is None else files_root)}

    opened = open_source(source, stdin)
    if isinstance(opened, str):
        return fail(opened)
    stream, size, close = opened
    if source == "-" and not quiet and isatty(stdin if stdin is not None else sys.stdin) and isatty(err):
        err.write("reading records from the terminal: type one a line, end with Ctrl-D "
                  "(or give a file: autodiff batch records.jsonl)\n")
        err.flush()
    progress = None
    started = time.perf_counter()
    try:
        reader = LineReader(stream)
        problem = encoding_problem(reader, source)
        if problem:
            return fail(problem)
        batch = Batch(json_output, out, config, precision)
        records = read_records(reader)
        if not quiet and isatty(err) and (json_output or not isatty(out)):
            from ..ui.batch_report import Progress, count_records
            progress = Progress(err, size, count_records(None if source == "-" else source, size))
        evaluator()                      # import once, before any fork
        parallel = jobs > 1 and "fork" in _start_methods()
        if check:                         # the CAS too: before any timer, shared by forked workers
            # forked workers share what is imported before the fork; SymPy is imported (in each
            # worker) only when a record needs it (verify.import_sympy): a record's formulas are
            # printed by the CAS itself
            from .. import display, verify
            if parallel:
                display.prepare()
            else:
                verify.prepare()
        if parallel:
            from .pool import run_parallel
            run_parallel(batch, records, progress, reader, jobs)
        else:
            run_serial(batch, records, progress, reader)
        if progress:
            progress.stop()
            progress = None
        from ..ui.batch_report import print_summary, stderr_console
        with writing():
            print_summary(stderr_console(err) if json_output else batch.report.console,
                          batch.stats, time.perf_counter() - started)
            if not json_output:
                out.flush()
        stats = batch.stats
        return 0 if stats["ok"] == stats["records"] else 1
    except (OutputClosed, BrokenPipeError):
        quiet_output(out)
        return 0
    except OutputFailed as exc:
        err.write(cannot_write(exc.args[0], out) + "\n")
        err.flush()
        return 2
    except OSError as exc:
        return fail(f"{'stdin' if source == '-' else source}: {exc.strerror or exc}")
    except KeyboardInterrupt:
        fail("interrupted")
        return 130
    finally:
        if progress:
            progress.stop()
        if close:
            stream.close()


def _start_methods():
    import multiprocessing
    return multiprocessing.get_all_start_methods()
