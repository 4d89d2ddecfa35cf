"""The worker pool of batch mode (jobs > 1): forked workers, ordered results, kill and replace.

    run_parallel(batch, records, progress, reader, jobs)

The parent reads records into a bounded window, sends them in small chunks to `jobs` forked
worker processes (started once per batch), and writes the results in input order through
`batch.emit` as soon as a result and all before it are in. Each worker applies the record's
SIGALRM deadline itself; a worker whose record is still running a grace period after its
deadline (stuck in one numpy call, say) is killed and replaced, and the records queued behind it
are sent again. A worker that dies gives its running record an error record.
"""
import json
import os
import pickle
import signal
import time
from collections import deque

from ..settings.deadline import AlarmScope
from ..settings.limits import WINDOW_BYTES, WORKER_QUEUE_BYTES
from ..result import dumps, error_record
from .execute import run_record, timeout_message, unreadable_record
from .reader import NOT_READY
from .records import RecordError


def _worker_main(conn, close_these, config, json_output):
    """A worker process: evaluate the records it is sent, one result message per record."""
    for c in close_these:
        try:
            c.close()
        except OSError:
            pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)      # the parent handles Ctrl-C and stops us
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    try:                                              # stray prints must not reach the output
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
    except OSError:
        pass
    parent = os.getppid()
    AlarmScope().__enter__()                          # for the worker's life (see deadline.py)
    while True:
        try:
            if not conn.poll(2.0):
                if os.getppid() != parent:            # orphaned: the parent died
                    return
                continue
            message = conn.recv_bytes()
        except (EOFError, OSError):
            return
        tasks = pickle.loads(message)
        if tasks is None:
            return
        for seq, line, record in tasks:
            out, elapsed = run_record(line, record, config)
            try:
                conn.send_bytes(_result_message(seq, out, elapsed, json_output))
            except (BrokenPipeError, OSError):
                return


def _result_message(seq, out, elapsed, json_output):
    """A worker's message for one result. A result that cannot be encoded (nothing a record
    holds should make one, but a bug must not stop the batch) becomes an error record."""
    try:
        payload = dumps(out) if json_output else out
        return pickle.dumps((seq, payload, out["status"], elapsed), pickle.HIGHEST_PROTOCOL)
    except (RecursionError, ValueError, TypeError, pickle.PicklingError) as exc:
        out = error_record(out.get("expression", ""), "internal",
                           f"internal error: the result cannot be sent back: {type(exc).__name__}",
                           line=out.get("line"))
        payload = dumps(out) if json_output else out
        return pickle.dumps((seq, payload, "error", elapsed), pickle.HIGHEST_PROTOCOL)


class _Worker:
    def __init__(self, ctx, others, config, json_output):
        import multiprocessing.connection  # noqa: F401  (wait())
        parent_conn, child_conn = ctx.Pipe(duplex=True)
        self.proc = ctx.Process(target=_worker_main, daemon=True,
                                args=(child_conn, [parent_conn] + [w.conn for w in others], config, json_output))
        self.proc.start()
        child_conn.close()
        self.conn = parent_conn
        self.outstanding = deque()    # [seq, line, record] sent, in the order the worker runs them
        self.head_started = None      # when the worker (probably) started outstanding[0]
        self.broken = False           # a send failed: it died, its pipe is read to the end

    def send(self, tasks, now, data=None):
        """Send tasks; False if the worker is gone (then nothing was sent)."""
        try:
            self.conn.send_bytes(data if data is not None else pickle.dumps(tasks, pickle.HIGHEST_PROTOCOL))
        except (OSError, ValueError):
            return False
        if not self.outstanding:
            self.head_started = now
        self.outstanding.extend(tasks)
        return True

    def stop(self, kill=False):
        if kill:
            try:
                self.proc.kill()
            except (OSError, AttributeError):
                pass
        else:
            try:
                self.conn.send_bytes(pickle.dumps(None))
            except (OSError, ValueError):
                pass
        self.proc.join(timeout=0.5 if not kill else 2)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(timeout=2)
        try:
            self.conn.close()
        except OSError:
            pass


def _pickled(tasks):
    """The message sending `tasks` to a worker, or None if they cannot be pickled."""
    try:
        return pickle.dumps(tasks, pickle.HIGHEST_PROTOCOL)
    except (RecursionError, ValueError, TypeError, pickle.PicklingError):
        return None


def _describe_exit(code):
    if code is None:
        return "did not exit"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def run_parallel(batch, records, progress, reader, jobs):
    """Every record through `jobs` forked workers; results go to batch.emit in input order."""
    Pool(jobs, batch.config, batch.json_output).run(batch, records, progress, reader)


class Pool:
    """Forked workers and the records in flight between reading and writing.

    Each record gets a sequence number when read; it waits in `pending` until sent, then in a
    worker's `outstanding` queue, then in `ready` until every record before it is written.
    """

    CHUNK = 8        # records sent to a worker in one message

    def __init__(self, jobs, config, json_output):
        import multiprocessing
        self.ctx = multiprocessing.get_context("fork")
        self.config, self.json_output = config, json_output
        timeout = config["timeout"]
        self.hard_limit = (timeout * 1.1 + 1.0) if timeout else None   # SIGALRM first; the kill is a backstop
        self.window = max(64, jobs * self.CHUNK * 4)       # records read but not yet written...
        self.window_bytes = 0       # ...and the bytes of their input lines, at most WINDOW_BYTES past the first
        self.sizes = {}             # seq -> bytes of its input line
        self.jobs = jobs
        self.workers = []           # started as records arrive: never more than records in flight
        self.pending = deque()      # (seq, line, record) read, not yet sent
        self.ready = {}             # seq -> (payload, status, elapsed, line, id, expression, kind)
        self.meta = {}              # seq -> (line, id, expression) for records in flight
        self.next_seq = self.next_out = 0
        self.exhausted = False

    def _new_worker(self):
        return _Worker(self.ctx, self.workers, self.config, self.json_output)

    def run(self, batch, records, progress, reader):
        records = iter(records)
        try:
            while True:
                input_waiting = self._read(records, reader)
                self._send()
                self._write(batch)
                if progress:
                    progress.update(reader.bytes_read, batch.stats["records"])
                if self.exhausted and self.next_out == self.next_seq:
                    break
                busy = [w for w in self.workers if w.outstanding]
                if busy:
                    self._collect(busy, reader.fd if input_waiting else None)
                    self._kill_overdue()
        finally:
            for worker in self.workers:
                worker.stop(kill=True)

    def _read(self, records, reader):
        """Read while the window has room, without waiting for input while work is in flight.
        True if input has not arrived yet (a non-blocking read found no whole line)."""
        while not self.exhausted and self._room():
            reader.blocking = not (self.pending or self.ready or any(w.outstanding for w in self.workers))
            before = reader.bytes_read
            try:
                line, record = next(records)
            except StopIteration:
                self.exhausted = True
                break
            if record is NOT_READY:
                return True
            seq, self.next_seq = self.next_seq, self.next_seq + 1
            self.sizes[seq] = reader.bytes_read - before
            self.window_bytes += self.sizes[seq]
            if isinstance(record, RecordError):
                self.meta[seq] = (line, record.record_id, record.expression)
                self._finish(seq, unreadable_record(line, record), "error", 0.0, record.kind)
            else:
                self.meta[seq] = (line, record.get("id"), record["expr"])
                self.pending.append((seq, line, record))
        return False

    def _room(self):
        """Room for one more record in flight: bounded in records and in bytes (a parsed record
        takes several times its line's bytes), but never fewer than one."""
        in_flight = self.next_seq - self.next_out
        return in_flight == 0 or (in_flight < self.window and self.window_bytes < WINDOW_BYTES)

    def _send(self):
        """Top up every worker to about two chunks of work. (A big message goes only to an idle
        worker: writing it to a busy one could block this loop, and with it the time limits,
        until that worker is done.)"""
        now = time.perf_counter()
        pending, workers = self.pending, self.workers
        while pending and len(workers) < self.jobs and all(w.outstanding for w in workers):
            workers.append(self._new_worker())
        for index, worker in enumerate(workers):
            if not pending:
                break
            if len(worker.outstanding) < self.CHUNK and not worker.broken:
                size = max(1, min(self.CHUNK, (len(pending) + len(workers) - 1) // len(workers)))
                tasks = [pending[i] for i in range(min(size, len(pending)))]
                data = _pickled(tasks)
                if (data is None or len(data) > WORKER_QUEUE_BYTES) and len(tasks) > 1:
                    tasks = tasks[:1]
                    data = _pickled(tasks)
                if data is None:              # cannot be sent: an error record, not a stopped batch
                    seq, line, record = pending.popleft()
                    self._finish(seq, error_record(record["expr"], "record", "this record cannot be sent to "
                                                   "a worker process (nested too deeply?)", line=line),
                                 "error", 0.0, "record")
                    continue
                if len(data) > WORKER_QUEUE_BYTES and worker.outstanding:
                    continue
                if worker.send(tasks, now, data):
                    for _ in tasks:
                        pending.popleft()
                elif worker.outstanding:      # it died: its results so far are read first (_collect)
                    worker.broken = True
                else:
                    self._replace(index, "internal", "")

    def _write(self, batch):
        """Write what is done, in input order."""
        while self.next_out in self.ready:
            batch.emit(*self.ready.pop(self.next_out))
            self.window_bytes -= self.sizes.pop(self.next_out)
            self.next_out += 1

    def _collect(self, busy, input_fd):
        """Wait for results (or input, or the earliest hard deadline) and take them in."""
        from multiprocessing.connection import wait
        wait_for = 0.5
        if self.hard_limit:
            now = time.perf_counter()
            wait_for = min(wait_for, max(0.0, min(w.head_started + self.hard_limit for w in busy) - now))
        watch = [w.conn for w in busy] + ([input_fd] if input_fd is not None else [])
        for conn in wait(watch, timeout=wait_for):
            if conn is input_fd:
                continue
            index = next(i for i, w in enumerate(self.workers) if w.conn is conn)
            worker = self.workers[index]
            while True:
                try:
                    if not conn.poll():
                        break
                    seq, payload, status, elapsed = pickle.loads(conn.recv_bytes())
                except (EOFError, OSError):
                    worker.proc.join(timeout=1.0)
                    self._replace(index, "internal", f"the worker process evaluating this record died "
                                                     f"({_describe_exit(worker.proc.exitcode)})")
                    break
                worker.outstanding.popleft()
                worker.head_started = time.perf_counter()
                kind = None
                if status == "error":
                    kind = (payload if isinstance(payload, dict) else json.loads(payload))["error"]["kind"]
                self._finish(seq, payload, status, elapsed, kind)

    def _kill_overdue(self):
        """Replace every worker whose record is still running a grace period after its deadline."""
        if not self.hard_limit:
            return
        now = time.perf_counter()
        for index, worker in enumerate(self.workers):
            if worker.outstanding and now - worker.head_started > self.hard_limit:
                self._replace(index, "timeout", timeout_message(self.config["timeout"]) + "; its worker was killed")

    def _finish(self, seq, payload, status, elapsed, kind=None):
        line, record_id, expression = self.meta.pop(seq)
        self.ready[seq] = (payload, status, elapsed, line, record_id, expression, kind)

    def _replace(self, index, why_kind, why_message):
        """Kill worker `index`; its running record gets an error, the rest are sent again."""
        worker = self.workers[index]
        worker.stop(kill=True)
        if worker.outstanding:
            head, rest = worker.outstanding[0], list(worker.outstanding)[1:]
            seq, line, record = head
            out = error_record(record["expr"], why_kind, why_message, line=line, id=record.get("id"))
            elapsed = time.perf_counter() - worker.head_started if worker.head_started else 0.0
            self._finish(seq, out, "error", elapsed, why_kind)
            self.pending.extendleft(reversed(rest))
        del self.workers[index]                 # the new worker closes the other workers' pipes
        self.workers.insert(index, self._new_worker())
