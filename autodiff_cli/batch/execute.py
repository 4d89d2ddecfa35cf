"""Evaluating one batch record: never raises, always returns an output record.

    out, seconds = run_record(line, record, config)     # out: Result.as_dict() + "line", "id"

A record that fails, raises, or runs over config["timeout"] (a SIGALRM Deadline) yields a record
with status "error". Used alike by the serial loop and by every worker of the pool.
"""
import time

from ..inputs.bindings import files_under
from ..settings.deadline import Deadline
from ..errors import AutodiffError
from ..result import error_record
from .records import MINIMIZE_KEYS


class RecordTimeout(BaseException):
    """Raised by the Deadline when a record's time is up. A BaseException, so that no
    `except Exception` on the way (SymPy has some) swallows it."""


_EVALUATE = None     # evaluate(), imported once before any fork (tests replace it)


def evaluator():
    global _EVALUATE
    if _EVALUATE is None:
        from ..api import evaluate
        _EVALUATE = evaluate
    return _EVALUATE


def timeout_message(timeout):
    return (f"stopped after {timeout:g} s, the time limit of a record "
            f"(--timeout, or AUTODIFF_TIMEOUT)")


def run_record(line, record, config):
    """Evaluate one record; returns (output dict, seconds). Never raises (but KeyboardInterrupt)."""
    started = time.perf_counter()
    record_id = record.get("id")
    expr = record["expr"]
    wrt = record.get("wrt")
    if wrt is None:
        wrt = config["wrt"]
    where = {"line": line, "id": record_id}
    try:
        with Deadline(config["timeout"], RecordTimeout()), files_under(*config["files"]):
            if record.get("mode") == "minimize":
                from ..optimize.minimize import minimize
                if record.get("gradient") is not None:
                    raise AutodiffError("usage", "a gradient seed does not apply to mode minimize "
                                                 "(it minimizes a scalar output)")
                if record.get("order") is not None:         # as evaluate() refuses them for grad
                    raise AutodiffError("usage", "an order goes with mode derivatives, not minimize")
                if record.get("tangents") is not None:
                    raise AutodiffError("usage", "tangents go with mode jvp, not minimize")
                options = {key: record[key] for key in MINIMIZE_KEYS if record.get(key) is not None}
                result = minimize(expr, record.get("bindings") or {}, wrt=wrt,
                                  random_seed=config["random_seed"], **options)
            else:
                result = evaluator()(
                    expr, record.get("bindings") or {}, wrt=wrt, gradient=record.get("gradient"),
                    mode=record.get("mode") or "grad", check=config["check"], random_seed=config["random_seed"],
                    order=record.get("order"), tangents=record.get("tangents"))
        out = result.as_dict()
        out.update(where)
    except RecordTimeout:
        out = error_record(expr, "timeout", timeout_message(config["timeout"]), **where)
    except AutodiffError as err:
        out = error_record(expr, err, **where)
    except RecursionError:
        out = error_record(expr, "limit", "nested too deeply to evaluate", **where)
    except MemoryError:
        out = error_record(expr, "limit", "not enough memory to evaluate this record", **where)
    except Exception as exc:  # noqa: BLE001 - a bug of ours must not stop the batch
        out = error_record(expr, "internal", f"internal error: {type(exc).__name__}: {exc}", **where)
    return out, time.perf_counter() - started


def unreadable_record(line, err):
    """The output record of a line that is not a record (a RecordError)."""
    return error_record(err.expression, err.kind, str(err), line=line, id=err.record_id)
