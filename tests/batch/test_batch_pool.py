"""batch/pool.py: forked workers give their results in input order, a worker that dies is replaced
(its running record becomes an error record, the records queued behind it run on the new worker),
and a record or result that cannot be pickled becomes an error record instead of stopping the batch.

The workers run a stand-in for execute.run_record (set before they fork), so these tests are fast
and wait for events (a file appearing), never for a time to pass."""
import os
import pickle
import signal
import threading
import time
import types

import pytest

from autodiff_cli.batch import pool
from autodiff_cli.batch.records import RecordError


class Collected:
    """A batch.Batch stand-in: what the pool emits, in emission order."""

    def __init__(self):
        self.config = {"timeout": None, "check": False, "random_seed": None, "wrt": None, "files": (".", ".")}
        self.json_output = False
        self.stats = {"records": 0}
        self.emitted = []

    def emit(self, payload, status, elapsed, line, record_id, expression, kind=None):
        self.emitted.append(types.SimpleNamespace(payload=payload, status=status, line=line, id=record_id,
                                                  expression=expression, kind=kind))
        self.stats["records"] += 1


def run_pool(records, jobs):
    batch = Collected()
    reader = types.SimpleNamespace(bytes_read=0, blocking=True, fd=None)
    pool.Pool(jobs, batch.config, batch.json_output).run(batch, list(records), None, reader)
    return batch.emitted


def wait_for(path, seconds=60):
    """In a worker: until `path` exists (an event from another worker), at most `seconds`."""
    deadline = time.monotonic() + seconds
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.01)
    return os.path.exists(path)


@pytest.fixture
def workers_run(monkeypatch, tmp_path):
    """Install a run_record stand-in in the pool (inherited by the forked workers). Records' "expr":
    "ok"           an ok result
    "wait:NAME"    first wait until tmp_path/NAME exists
    "mark:NAME"    create tmp_path/NAME, then an ok result
    "die"          the worker is killed by SIGKILL
    "unsendable"   a result holding a lock (cannot be pickled)
    Every result says which process made it ("pid") and whether a wait saw its event ("saw")."""
    def fake_run_record(line, record, config):
        expr = record["expr"]
        out = {"expression": expr, "status": "ok", "line": line, "id": record.get("id"), "pid": os.getpid()}
        if expr.startswith("wait:"):
            out["saw"] = wait_for(tmp_path / expr[5:])
        elif expr.startswith("mark:"):
            (tmp_path / expr[5:]).touch()
        elif expr == "die":
            os.kill(os.getpid(), signal.SIGKILL)
        elif expr == "unsendable":
            out["value"] = threading.Lock()
        with open(tmp_path / "finished", "a") as log:     # one short append per record: the order they finished
            log.write(f"{line}\n")
        return out, 0.0

    monkeypatch.setattr(pool, "run_record", fake_run_record)
    return tmp_path


def finish_order(tmp_path):
    return [int(line) for line in (tmp_path / "finished").read_text().split()]


def test_results_are_written_in_input_order_even_when_they_finish_out_of_order(workers_run):
    # 16 records, 2 workers: the first worker takes records 1-8 and the second 9-16 (chunks of 8).
    # Record 1 waits until record 9 (on the other worker) has run, so record 9 finishes first.
    exprs = ["wait:nine"] + ["ok"] * 7 + ["mark:nine"] + ["ok"] * 7
    emitted = run_pool([(line, {"expr": e, "id": f"r{line}"}) for line, e in enumerate(exprs, 1)], jobs=2)
    assert [e.line for e in emitted] == list(range(1, 17))
    assert [e.id for e in emitted] == [f"r{k}" for k in range(1, 17)]
    assert all(e.status == "ok" for e in emitted)
    assert emitted[0].payload["saw"] is True
    assert len({e.payload["pid"] for e in emitted}) == 2
    finished = finish_order(workers_run)
    assert sorted(finished) == list(range(1, 17))
    assert finished.index(9) < finished.index(1)        # the order they finished was not the input order


def test_a_killed_worker_is_replaced_and_the_records_behind_it_run_again(workers_run):
    exprs = ["ok", "ok", "die", "ok", "ok"]
    emitted = run_pool([(line, {"expr": e, "id": line}) for line, e in enumerate(exprs, 1)], jobs=1)
    assert [e.line for e in emitted] == [1, 2, 3, 4, 5]
    assert [e.status for e in emitted] == ["ok", "ok", "error", "ok", "ok"]
    died = emitted[2]
    assert died.kind == "internal" and died.expression == "die" and died.id == 3
    assert died.payload["error"]["message"] == ("the worker process evaluating this record died "
                                                "(killed by SIGKILL)")
    assert died.payload["line"] == 3
    first, replacement = emitted[0].payload["pid"], emitted[3].payload["pid"]
    assert emitted[1].payload["pid"] == first
    assert replacement != first and emitted[4].payload["pid"] == replacement


def test_a_record_that_cannot_be_pickled_becomes_an_error_record(workers_run):
    deep = 1.0
    for _ in range(100_000):           # pickle's recursion limit, not a record anyone could read from JSON
        deep = [deep]
    records = [(1, {"expr": "ok"}), (2, {"expr": "x", "bindings": {"x": deep}, "id": "deep"}), (3, {"expr": "ok"})]
    emitted = run_pool(records, jobs=2)
    assert [e.line for e in emitted] == [1, 2, 3]
    assert [e.status for e in emitted] == ["ok", "error", "ok"]
    assert emitted[1].kind == "record" and emitted[1].expression == "x"
    assert emitted[1].payload["error"]["message"] == ("this record cannot be sent to a worker process "
                                                      "(nested too deeply?)")


def test_a_result_that_cannot_be_pickled_becomes_an_error_record_and_the_worker_goes_on(workers_run):
    emitted = run_pool([(1, {"expr": "ok"}), (2, {"expr": "unsendable"}), (3, {"expr": "ok"})], jobs=1)
    assert [e.status for e in emitted] == ["ok", "error", "ok"]
    assert emitted[1].kind == "internal"
    assert emitted[1].payload["error"]["message"] == ("internal error: the result cannot be sent back: "
                                                      "TypeError")
    assert emitted[1].payload["line"] == 2
    assert emitted[0].payload["pid"] == emitted[2].payload["pid"]     # the same worker: it did not die


def test_unreadable_lines_keep_their_place(workers_run):
    records = [(1, {"expr": "ok"}), (2, RecordError("not JSON", expression="{x", record_id="bad")), (3, {"expr": "ok"})]
    emitted = run_pool(records, jobs=2)
    assert [(e.line, e.status) for e in emitted] == [(1, "ok"), (2, "error"), (3, "ok")]
    assert (emitted[1].kind, emitted[1].id, emitted[1].expression) == ("record", "bad", "{x")


def test_result_message_of_an_unpicklable_result():
    message = pool._result_message(7, {"expression": "e", "status": "ok", "line": 4, "value": threading.Lock()},
                                   0.5, json_output=False)
    seq, payload, status, elapsed = pickle.loads(message)
    assert (seq, status, elapsed) == (7, "error", 0.5)
    assert payload == {"expression": "e", "status": "error", "line": 4,
                       "error": {"kind": "internal", "position": None,
                                 "message": "internal error: the result cannot be sent back: TypeError"}}
    fine = pickle.loads(pool._result_message(8, {"expression": "e", "status": "ok", "line": 5}, 0.25, False))
    assert fine == (8, {"expression": "e", "status": "ok", "line": 5}, "ok", 0.25)


def test_describe_exit():
    assert pool._describe_exit(-signal.SIGKILL) == "killed by SIGKILL"
    assert pool._describe_exit(3) == "exit code 3"
    assert pool._describe_exit(None) == "did not exit"
    assert pool._describe_exit(-1000) == "killed by signal 1000"
