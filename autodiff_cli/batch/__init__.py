"""Batch mode: every record of a file (or stdin), one result per record, in input order.

    from autodiff_cli.batch import run_batch
    run_batch("records.jsonl", json_output=True, jobs=4, timeout=5)     # -> exit code

    reader.py    byte-bounded line reader (chunked; an over-long line is never held whole)
    records.py   the record grammar: JSON Lines and text records -> record dicts or RecordError
    execute.py   one record -> one output record, under its SIGALRM deadline; never raises
    pool.py      jobs > 1: forked workers, ordered results, kill and replace
    run.py       run_batch: the orchestration, the output records and their counts
    dask.py      run_batch_dask: the same records on a Dask cluster (`--dask`)

Output: one record per input record (`Result.as_dict()` plus "line" and "id"), in input order,
written and flushed as soon as it and all records before it are done. A record that cannot be
read, fails, raises, or runs over the time limit yields a record with status "error"; the batch
goes on. Records are read and written one at a time with a bounded window of records in flight,
so memory stays flat however long the input is, and `| head` gets its first lines at once.

Workers: jobs == 1 evaluates in this process; the time limit is a SIGALRM deadline whose handler
raises (so it interrupts Python code, SymPy included, but a single long numpy call finishes
first). jobs > 1 starts that many forked worker processes once per batch; each applies the same
deadline, and the parent kills (and replaces) a worker whose record is still running a grace
period after its deadline, which also stops a record stuck in one numpy call.

A closed output pipe (`| head -3`) ends the batch quietly with exit code 0: the reader asked for
no more. Exit codes otherwise: 0 every record ok, 1 any record not ok, 2 unusable input.
"""
from ..settings.limits import max_line_bytes
from .records import JSON_KEYS, MODES, RecordError, parse_json_record, parse_text_record, read_records
from .run import run_batch

__all__ = ["run_batch", "read_records", "parse_text_record", "parse_json_record", "RecordError",
           "max_line_bytes", "JSON_KEYS", "MODES"]
