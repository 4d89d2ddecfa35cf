"""Batch mode: every record of a file (or stdin), one result per record, in input order.

    run_batch("records.jsonl", json_output=True, jobs=4, timeout=5)     # -> exit code

Input (one record a line; the format is detected per line, so a file may mix both):
  - JSON Lines: {"expr": "x**2", "bindings": {"x": 3}, "gradient": ..., "wrt": ["x"],
    "mode": "grad" | "hessian" | "jacobian", "id": ...}; only "expr" is required.
  - text:  EXPR | NAME=VALUE ... | --gradient VALUE --wrt x,y --mode hessian --id NAME
    (see parse_text_record).
  Blank lines and lines starting with `#` are skipped; CRLF line ends, a UTF-8 byte order mark and
  invalid UTF-8 (an error record for that line) are handled; line numbers are physical lines.

Output: one record per input record (`Result.as_dict()` plus "line" and "id"), in input order,
written and flushed as soon as it and all records before it are done. A record that cannot be
read, fails, raises, or runs over the time limit yields a record with status "error"; the batch
goes on. Records are read and written one at a time with a bounded window of records in flight,
so memory stays flat however long the input is, and `| head` gets its first lines at once.

Workers: jobs == 1 evaluates in this process; the time limit is a SIGALRM timer whose handler
raises (so it interrupts Python code, SymPy included, but a single long numpy call finishes
first). jobs > 1 starts that many forked worker processes once per batch; each applies the same
timer, and the parent kills (and replaces) a worker whose record is still running a grace period
after its deadline, which also stops a record stuck in one numpy call.

A closed output pipe (`| head -3`) ends the batch quietly with exit code 0: the reader asked for
no more. Exit codes otherwise: 0 every record ok, 1 any record not ok, 2 unusable input.
"""
import errno
import json
import os
import pickle
import signal
import sys
import threading
import time
from collections import deque

from . import limits
from .errors import AutodiffError

MODES = ("grad", "hessian", "jacobian")
JSON_KEYS = ("expr", "bindings", "gradient", "wrt", "mode", "id")
BIG_MESSAGE = 32 * 1024     # bytes of tasks that may queue up behind a busy worker
TEXT_OPTIONS = {"--gradient": "gradient", "-g": "gradient", "--wrt": "wrt", "--mode": "mode", "--id": "id"}
BOM = "\ufeff"

__all__ = ["run_batch", "read_records", "parse_text_record", "parse_json_record", "RecordError",
           "max_line_bytes"]


def max_line_bytes():
    """Longest input line accepted (bytes); a longer line becomes an error record without ever being
    held in memory whole. AUTODIFF_MAX_LINE_BYTES (default 64 MiB)."""
    return limits._env_number("AUTODIFF_MAX_LINE_BYTES", 64 * 1024 * 1024)


class RecordError(AutodiffError):
    """An input line that cannot become a record (kind "record"), with what it could salvage:
    the expression text and the record's id, echoed in the error record."""

    def __init__(self, message, *, expression="", record_id=None, kind="record"):
        super().__init__(kind, message, None)
        self.expression = expression
        self.record_id = record_id


# --------------------------------------------------------------------------------------------
# reading

class _LongLine:
    """Stands for an input line longer than max_line_bytes() (its content was skipped)."""

    def __init__(self, size, limit):
        self.size, self.limit = size, limit


class _NotReady:
    """Yielded by a non-blocking _LineReader when no whole line has arrived yet."""


NOT_READY = _NotReady()


class _LineReader:
    """Lines (bytes, with their line end) of a binary stream, read in large chunks.

    Never holds more than about `limit` bytes of one line: a longer line is skipped and stands as
    a _LongLine. With `blocking = False` it yields NOT_READY instead of waiting for input that has
    not arrived (a pipe, a terminal), so that the parallel loop can write results meanwhile.
    Streams without a file descriptor (io.BytesIO) are read with .read() and never wait.
    """

    CHUNK = 1 << 18

    def __init__(self, stream, limit=None):
        self.stream = stream
        self.limit = max_line_bytes() if limit is None else limit
        self.bytes_read = 0
        self.blocking = True
        self.buf, self.pos = bytearray(), 0
        self.eof = False
        self.skipping = None          # bytes of an over-long line skipped so far
        try:
            self.fd = stream.fileno()
        except (AttributeError, OSError, ValueError):
            self.fd = None
        if self.fd is not None:
            self._read = lambda n: os.read(self.fd, n)
        else:
            self._read = getattr(stream, "read1", None) or stream.read

    def fileno(self):
        return self.fd

    def _fill(self):
        chunk = self._read(self.CHUNK)
        if not chunk:
            self.eof = True
            return
        self.bytes_read += len(chunk)
        if self.pos and (self.pos > len(self.buf) // 2 or self.pos > self.CHUNK):
            del self.buf[:self.pos]
            self.pos = 0
        self.buf += chunk

    def _readable(self):
        if self.fd is None:
            return True
        import select
        try:
            return bool(select.select([self.fd], [], [], 0)[0])
        except (OSError, ValueError):
            return True

    def head(self, n):
        """Up to n bytes of what comes next, without consuming them (at most one read)."""
        if len(self.buf) - self.pos < n and not self.eof:
            self._fill()
        return bytes(self.buf[self.pos:self.pos + n])

    def __iter__(self):
        while True:
            item = self._next()
            if item is None:
                return
            yield item

    def _next(self):
        while True:
            newline = self.buf.find(b"\n", self.pos)
            if newline >= 0:
                start, self.pos = self.pos, newline + 1
                if self.skipping is not None or newline - start > self.limit:
                    size, self.skipping = (self.skipping or 0) + (newline - start), None
                    return _LongLine(size, self.limit)
                return bytes(self.buf[start:newline + 1])
            waiting = len(self.buf) - self.pos
            if self.skipping is not None or waiting > self.limit:
                self.skipping = (self.skipping or 0) + waiting
                del self.buf[:]
                self.pos = 0
            if self.eof:
                if self.skipping is not None:
                    size, self.skipping = self.skipping, None
                    return _LongLine(size, self.limit)
                if waiting:
                    line = bytes(self.buf[self.pos:])
                    del self.buf[:]
                    self.pos = 0
                    return line
                return None
            if not self.blocking and not self._readable():
                return NOT_READY
            self._fill()


def read_records(lines):
    """(line number, record) for every record line of `lines` (bytes or str, with or without line
    ends); a record is a dict with the keys of JSON_KEYS (absent ones None), or a RecordError
    saying why the line is not one. Blank lines and `#` comment lines yield nothing.
    (A NOT_READY from a non-blocking reader is passed on as (None, NOT_READY).)"""
    number = 0
    for raw in lines:
        if raw is NOT_READY:
            yield None, NOT_READY
            continue
        number += 1
        if isinstance(raw, _LongLine):
            yield number, RecordError(f"line is {raw.size} bytes long, over the limit of {raw.limit} "
                                      f"(set AUTODIFF_MAX_LINE_BYTES to raise it)")
            continue
        if isinstance(raw, (bytes, bytearray)):
            try:
                text = bytes(raw).decode("utf-8")
            except UnicodeDecodeError as exc:
                yield number, RecordError(
                    f"line is not valid UTF-8: byte 0x{raw[exc.start]:02x} at byte {exc.start + 1} "
                    f"of the line ({exc.reason})")
                continue
        else:
            text = raw
        text = text.rstrip("\r\n")
        if text.startswith(BOM):              # file start, or files concatenated with `cat`
            text = text[1:]
        stripped = text.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            record = parse_json_record(text) if stripped.startswith("{") else parse_text_record(text)
        except RecordError as err:
            yield number, err
        except AutodiffError as err:          # pragma: no cover - the parsers raise RecordError
            yield number, RecordError(str(err))
        else:
            yield number, record


def _type_name(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _no_duplicate_keys(pairs):
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise RecordError(f"invalid JSON record: key {json.dumps(key)} appears twice")
        seen[key] = value
    return seen


def parse_json_record(text):
    """One JSON Lines record -> the normalized record dict; RecordError if it is not one."""
    try:
        obj = json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as exc:
        raise RecordError(f"invalid JSON: {exc.msg} at column {exc.colno}") from None
    except RecursionError:
        raise RecordError("invalid JSON record: nested too deeply") from None
    except ValueError as exc:   # e.g. an integer of more than 4300 digits
        raise RecordError(f"invalid JSON record: {exc}") from None
    if not isinstance(obj, dict):
        raise RecordError(f"a JSON record must be an object like {{\"expr\": \"x**2\"}}, not {_type_name(obj)}")
    record_id = obj.get("id")
    expr = obj.get("expr")
    shown = expr if isinstance(expr, str) else ""

    def fail(message):
        raise RecordError(message, expression=shown, record_id=record_id)

    unknown = [k for k in obj if k not in JSON_KEYS]
    if unknown:
        names = ", ".join(json.dumps(k) for k in unknown)
        fail(f"unknown key{'s' if len(unknown) > 1 else ''} {names}: a record has "
             f"{', '.join(JSON_KEYS)} (only expr is required)")
    if "expr" not in obj:
        fail('missing "expr": a record needs at least {"expr": "..."}')
    if not isinstance(expr, str):
        fail(f'"expr" must be a string, not {_type_name(expr)}')
    bindings = obj.get("bindings")
    if bindings is not None:
        if not isinstance(bindings, dict):
            fail(f'"bindings" must be an object like {{"x": 2}}, not {_type_name(bindings)}')
        for name, value in bindings.items():
            if isinstance(value, bool) or not isinstance(value, (int, float, str, list)):
                fail(f"binding {json.dumps(name)} must be a number, a list or a string like \"rand(3)\", "
                     f"not {_type_name(value)}")
    gradient = obj.get("gradient")
    if gradient is not None and (isinstance(gradient, bool) or not isinstance(gradient, (int, float, str, list))):
        fail(f'"gradient" must be a number, a list, "ones" or a string value, not {_type_name(gradient)}')
    wrt = obj.get("wrt")
    if wrt is not None:
        if isinstance(wrt, str):
            wrt = [w.strip() for w in wrt.split(",") if w.strip()]
        elif not isinstance(wrt, list) or not all(isinstance(w, str) for w in wrt):
            fail(f'"wrt" must be a list of variable names like ["x", "y"] or a string "x,y", not {_type_name(wrt)}')
    mode = obj.get("mode")
    if mode is not None and mode not in MODES:
        fail(f'"mode" must be one of {", ".join(json.dumps(m) for m in MODES)}, not {json.dumps(mode)[:40]}')
    return {"expr": expr, "bindings": bindings, "gradient": gradient, "wrt": wrt, "mode": mode, "id": record_id}


def _split_fields(text, start):
    """Tokens after the expression: [(text, column, quoted)], split at whitespace and `|` outside
    quotes and brackets; a `#` starting a token begins a comment."""
    tokens = []
    buf, tok_start, quoted, quote, depth = [], None, False, None, 0
    i, n = start, len(text)
    while i < n:
        c = text[i]
        if quote:
            if c == quote:
                quote = None
            else:
                buf.append(c)
        elif c in "\"'":
            if tok_start is None:
                tok_start = i
            quote, quoted = c, True
        elif depth == 0 and (c in " \t|" or c == "\f" or c == "\v"):
            if tok_start is not None:
                tokens.append(("".join(buf), tok_start + 1, quoted))
                buf, tok_start, quoted = [], None, False
        elif c == "#" and tok_start is None:
            break
        else:
            if tok_start is None:
                tok_start = i
            if c in "([":
                depth += 1
            elif c in ")]" and depth > 0:
                depth -= 1
            buf.append(c)
        i += 1
    if quote:
        raise RecordError(f"unterminated {quote} quote starting in the token at column {tok_start + 1}")
    if tok_start is not None:
        tokens.append(("".join(buf), tok_start + 1, quoted))
    return tokens


def parse_text_record(line):
    """One text-format record -> the normalized record dict; RecordError if it is not one.

        EXPR | NAME=VALUE NAME=VALUE ... | --gradient VALUE --wrt x,y --mode hessian --id NAME

    The expression runs to the first `|` (which the expression language never uses). After it,
    whitespace and `|` both separate items, so the `|` between bindings and options is optional.
    An item is a binding `NAME=VALUE` (VALUE in the binding grammar; spaces are allowed inside
    brackets and parentheses: `x=[1, 2]`, `A=rand(2, 3)`), or an option: `--gradient VALUE` (also
    `-g`), `--wrt x,y`, `--mode grad|hessian|jacobian`, `--id NAME`, each also as `--opt=VALUE`.
    Quotes (single or double) keep spaces and `|`/`#` in a value: `--id "first try"`,
    `f="@my data.npy"`. A `#` outside quotes at the start of an item, or anywhere in the
    expression, begins a comment.
    """
    text = line.rstrip("\r\n")
    if text.startswith(BOM):
        text = text[1:]
    end = 0
    while end < len(text) and text[end] not in "|#":
        end += 1
    expr = text[:end].strip()
    if end < len(text) and text[end] == "#":
        tokens = []
    else:
        try:
            tokens = _split_fields(text, end)
        except RecordError as err:
            err.expression = expr
            raise
    record = {"expr": expr, "bindings": None, "gradient": None, "wrt": None, "mode": None, "id": None}
    bindings, given = {}, set()

    def fail(message):
        raise RecordError(message, expression=expr, record_id=record["id"])

    # the id first, so that every other error can echo it
    for k, (tok, _col, _q) in enumerate(tokens):
        if tok == "--id" and k + 1 < len(tokens):
            record["id"] = tokens[k + 1][0]
        elif tok.startswith("--id="):
            record["id"] = tok[5:]
    k = 0
    while k < len(tokens):
        tok, col, quoted = tokens[k]
        name, eq, value = tok.partition("=")
        if tok.startswith("-") and not quoted:
            option = TEXT_OPTIONS.get(name)
            if option is None:
                fail(f"unknown option '{name}' at column {col}: the options of a record are "
                     f"--gradient (-g), --wrt, --mode, --id")
            if not eq:
                if k + 1 >= len(tokens):
                    fail(f"option {name} at column {col} needs a value")
                k += 1
                value = tokens[k][0]
            if option in given:
                fail(f"option {name} is given twice (column {col})")
            given.add(option)
            if option == "wrt":
                names = [w.strip() for w in value.split(",") if w.strip()]
                if not names:
                    fail(f"--wrt at column {col} needs variable names, like --wrt x,y")
                record["wrt"] = names
            elif option == "mode":
                if value not in MODES:
                    fail(f"--mode at column {col} must be one of {', '.join(MODES)}, not '{value[:40]}'")
                record["mode"] = value
            elif option == "gradient":
                if value == "":
                    fail(f"--gradient at column {col} needs a value (a number, a list, or ones)")
                record["gradient"] = value
            else:
                record["id"] = value
        elif eq and name.isidentifier():
            if name in bindings:
                fail(f"{name} is bound twice (column {col})")
            if value == "":
                fail(f"binding {name}= at column {col} needs a value, like {name}=2")
            bindings[name] = value
        elif eq:
            fail(f"'{name[:40]}' is not a variable name (binding at column {col})")
        else:
            fail(f"expected NAME=VALUE or an option at column {col}, got '{tok[:40]}' "
                 f"(records look like: EXPR | x=2 y=[1,2] | --wrt x)")
        k += 1
    if not expr:
        fail("missing expression: a text record starts with the expression, like x**2 | x=3")
    record["bindings"] = bindings or None
    return record


# --------------------------------------------------------------------------------------------
# evaluating one record

class _RecordTimeout(BaseException):
    """Raised by the SIGALRM handler when a record's time is up. A BaseException, so that no
    `except Exception` on the way (SymPy has some) swallows it."""


class _Deadline:
    """A per-record time limit on SIGALRM, installed once per batch (or worker):

        with _Deadline(seconds) as deadline:
            deadline.run(fn)          # fn(), or _RecordTimeout once `seconds` have passed

    Only in the main thread (elsewhere, and for seconds None/0, there is no limit). It interrupts
    Python code; a single long numpy call finishes first. `timeouts.time_limit` (the SymPy
    budget) nests inside it and hands the alarm on when this deadline comes first.
    """

    def __init__(self, seconds):
        self.seconds = seconds if seconds and seconds > 0 else None
        self.active = (self.seconds is not None and hasattr(signal, "setitimer")
                       and threading.current_thread() is threading.main_thread())
        self.armed = False
        self.previous = None

    def _on_alarm(self, signum, frame):
        if self.armed:
            # An exception raised inside a __del__ method or a gc callback is swallowed by the
            # interpreter ("Exception ignored in ..."); fire again soon until one lands.
            signal.setitimer(signal.ITIMER_REAL, 0.05)
            raise _RecordTimeout()

    def __enter__(self):
        if self.active:
            self.previous = signal.signal(signal.SIGALRM, self._on_alarm)
        return self

    def __exit__(self, *exc):
        if self.active:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)
        return False

    def run(self, fn):
        if not self.active:
            return fn()
        self.armed = True
        signal.setitimer(signal.ITIMER_REAL, self.seconds)
        try:
            return fn()
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            self.armed = False


_EVALUATE = None


def _evaluator():
    global _EVALUATE
    if _EVALUATE is None:
        from .evaluate import evaluate
        _EVALUATE = evaluate
    return _EVALUATE


def _error_record(expression, kind, message, line, record_id):
    return {"expression": expression, "status": "error",
            "error": {"kind": kind, "message": message, "position": None},
            "line": line, "id": record_id}


def _timeout_message(timeout):
    return (f"stopped after {timeout:g} s, the time limit of a record "
            f"(--timeout, or AUTODIFF_TIMEOUT)")


def _run_one(line, record, config, deadline):
    """Evaluate one record; returns (output dict, seconds). Never raises (but KeyboardInterrupt)."""
    started = time.perf_counter()
    record_id = record.get("id")
    expr = record["expr"]
    wrt = record.get("wrt")
    if wrt is None:
        wrt = config["wrt"]
    try:
        result = deadline.run(lambda: _evaluator()(
            expr, record.get("bindings") or {}, wrt=wrt, gradient=record.get("gradient"),
            mode=record.get("mode") or "grad", check=config["check"], random_seed=config["random_seed"]))
        out = result.as_dict()
        out["line"], out["id"] = line, record_id
    except _RecordTimeout:
        out = _error_record(expr, "timeout", _timeout_message(config["timeout"]), line, record_id)
    except AutodiffError as err:
        out = {"expression": expr, "status": "error", "error": err.to_dict(), "line": line, "id": record_id}
    except RecursionError:
        out = _error_record(expr, "limit", "nested too deeply to evaluate", line, record_id)
    except MemoryError:
        out = _error_record(expr, "limit", "not enough memory to evaluate this record", line, record_id)
    except Exception as exc:  # noqa: BLE001 - a bug of ours must not stop the batch
        out = _error_record(expr, "internal", f"internal error: {type(exc).__name__}: {exc}", line, record_id)
    return out, time.perf_counter() - started


def _record_error_output(line, err):
    return _error_record(err.expression, err.kind, str(err), line, err.record_id)


def _strict(value):
    """A copy of value with non-finite floats as "nan"/"inf"/"-inf" (should as_dict miss one)."""
    if isinstance(value, float):
        if value != value:
            return "nan"
        if value in (float("inf"), float("-inf")):
            return "inf" if value > 0 else "-inf"
        return value
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v) for v in value]
    return value


def _dumps(out):
    try:
        return json.dumps(out, allow_nan=False)
    except (ValueError, TypeError):
        return json.dumps(_strict(out), allow_nan=False, default=str)


# --------------------------------------------------------------------------------------------
# workers (jobs > 1)

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
    deadline = _Deadline(config["timeout"]).__enter__()
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
            out, elapsed = _run_one(line, record, config, deadline)
            payload = _dumps(out) if json_output else out
            try:
                conn.send_bytes(pickle.dumps((seq, payload, out["status"], elapsed), pickle.HIGHEST_PROTOCOL))
            except (BrokenPipeError, OSError):
                return


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


def _describe_exit(code):
    if code is None:
        return "did not exit"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


# --------------------------------------------------------------------------------------------
# output

def _short(value, width=36):
    """A number or nested list in a few characters."""
    def fmt(v):
        if isinstance(v, float):
            return f"{v:.6g}"
        if isinstance(v, list):
            return "[" + ", ".join(fmt(x) for x in v[:8]) + (", ..." if len(v) > 8 else "") + "]"
        return str(v)
    text = fmt(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def _clip(text, width):
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _console(file, output=False):
    """A rich Console on `file` whose broken pipe is ours to handle: rich's default answer is
    SystemExit(1) after pointing *sys.stdout* at /dev/null, whatever file the console has.
    On the output, a broken pipe ends the batch quietly; on stderr it silences that console."""
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self):
            self.quiet = True
            if output:
                raise _OutputClosed()

    return _Console(file=file, highlight=False, soft_wrap=True)


class _Human:
    """The compact human report: one line per record as it completes, then a summary."""

    STYLES = {"ok": "green", "mismatch": "yellow", "error": "red"}

    def __init__(self, out):
        self.console = _console(out, output=True)

    def row(self, out):
        from rich.text import Text
        status = out["status"]
        label = f"{out['line']:>5}"
        if out.get("id") is not None:
            label += f" [{_clip(out['id'], 20)}]"
        label = f"{label:<14}"
        expr = _clip(out.get("expression", ""), 40)
        if status == "error":
            err = out["error"]
            detail = f"{err['kind']}: {_clip(err['message'], 100)}"
        else:
            parts = [f"= {_short(out.get('value'))}"]
            if "gradients" in out:
                word, derivs = "grad", out["gradients"]
            elif "hessian" in out:
                word = "hessian"
                derivs = {f"({r},{c})": b for r, row in out["hessian"].items() for c, b in row.items()}
            else:
                word, derivs = "jacobian", out.get("jacobian") or {}
            if derivs:
                parts.append(word + " " + _clip(", ".join(f"{k}={_short(v, 24)}" for k, v in derivs.items()), 70))
            check = out.get("check") or {}
            if check.get("method") not in (None, "none"):
                verdict = {True: "passed", False: "FAILED"}.get(check.get("passed"), "inconclusive")
                parts.append(f"({check['method']} check {verdict})")
            detail = "  ".join(parts)
        line = Text.assemble(label, "  ", (f"{status:<8}", self.STYLES.get(status, "")), " ", _printable(expr),
                             "  ", _printable(detail))
        self.console.print(line)


def _printable(text):
    """Text that any terminal encoding can show: a lone surrogate (from a JSON '\\ud800') escaped."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _summary(console, stats, elapsed, json_output):
    from rich.markup import escape
    from rich.table import Table
    total = stats["records"]
    rate = total / elapsed if elapsed > 0 else 0.0
    table = Table(title=None, show_header=True, header_style="bold", box=None, pad_edge=False)
    for col in ("records", "ok", "mismatch", "error", "timeout", "time", "records/s"):
        table.add_column(col, justify="right")
    table.add_row(str(total), f"[green]{stats['ok']}[/green]", f"[yellow]{stats['mismatch']}[/yellow]",
                  f"[red]{stats['error']}[/red]", str(stats["timeout"]), f"{elapsed:.2f} s", f"{rate:,.0f}")
    console.print(table)
    slowest = sorted(stats["slowest"], key=lambda entry: entry[0], reverse=True)
    if slowest and total > 1:
        console.print(escape(_printable("slowest: " + "; ".join(
            f"line {line}{'' if rid is None else ' [' + _clip(rid, 20) + ']'} {secs:.3f} s ({_clip(expr, 30)})"
            for secs, line, rid, expr in slowest))))


class _Progress:
    """A rich progress bar on stderr, refreshed by hand (no thread: workers are forked)."""

    def __init__(self, err, total_bytes):
        from rich.progress import (BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn)
        columns = [SpinnerColumn(), TextColumn("batch"), BarColumn() if total_bytes else TextColumn(""),
                   TextColumn("{task.fields[records]} records ({task.fields[rate]}/s)"), TimeElapsedColumn()]
        self.progress = Progress(*columns, console=_console(err), transient=True, auto_refresh=False)
        self.task = self.progress.add_task("batch", total=total_bytes or None, records=0, rate="0")
        self.progress.start()
        self.last = 0.0
        self.started = time.perf_counter()

    def update(self, bytes_read, records, force=False):
        now = time.perf_counter()
        if not force and now - self.last < 0.1:
            return
        self.last = now
        rate = records / (now - self.started) if now > self.started else 0
        self.progress.update(self.task, completed=bytes_read, records=f"{records:,}", rate=f"{rate:,.0f}")
        self.progress.refresh()

    def stop(self):
        try:
            self.progress.stop()
        except Exception:  # noqa: BLE001 - a closed stderr must not matter
            pass


def _isatty(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False


# --------------------------------------------------------------------------------------------
# the batch

class _OutputClosed(Exception):
    """The reader of our output went away (EPIPE): stop quietly."""


class _Batch:
    def __init__(self, json_output, out, err, config):
        self.json_output, self.out, self.err, self.config = json_output, out, err, config
        self.human = None if json_output else _Human(out)
        self.stats = {"records": 0, "ok": 0, "mismatch": 0, "error": 0, "timeout": 0, "slowest": []}

    def emit(self, payload, status, elapsed, line, record_id, expression, kind=None):
        """Write one output record (a JSON line, or a dict for the human row) and count it."""
        try:
            if self.json_output:
                self.out.write((payload if isinstance(payload, str) else _dumps(payload)) + "\n")
                self.out.flush()
            else:
                self.human.row(payload if isinstance(payload, dict) else json.loads(payload))
        except BrokenPipeError:
            raise _OutputClosed() from None
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                raise _OutputClosed() from None
            raise
        stats = self.stats
        stats["records"] += 1
        stats[status if status in ("ok", "mismatch") else "error"] += 1
        if kind == "timeout":
            stats["timeout"] += 1
        slowest = stats["slowest"]
        entry = (elapsed, line, record_id, expression)
        if len(slowest) < 3:
            slowest.append(entry)
        else:
            fastest = min(slowest, key=lambda e: e[0])
            if elapsed > fastest[0]:
                slowest.remove(fastest)
                slowest.append(entry)


def _emit_output(batch, out, elapsed):
    kind = out["error"]["kind"] if out["status"] == "error" else None
    batch.emit(out, out["status"], elapsed, out["line"], out.get("id"), out.get("expression", ""), kind)


def _run_serial(batch, records, progress, reader):
    with _Deadline(batch.config["timeout"]) as deadline:
        for line, record in records:
            if isinstance(record, RecordError):
                out, elapsed = _record_error_output(line, record), 0.0
            else:
                out, elapsed = _run_one(line, record, batch.config, deadline)
            _emit_output(batch, out, elapsed)
            if progress:
                progress.update(reader.bytes_read, batch.stats["records"])


def _run_parallel(batch, records, progress, reader, jobs):
    import multiprocessing
    from multiprocessing.connection import wait

    config, json_output = batch.config, batch.json_output
    ctx = multiprocessing.get_context("fork")
    timeout = config["timeout"]
    hard_limit = (timeout * 1.1 + 1.0) if timeout else None   # SIGALRM first; the kill is a backstop
    chunk = 8
    window = max(64, jobs * chunk * 4)       # records read but not yet written
    workers = []
    for _ in range(jobs):
        workers.append(_Worker(ctx, workers, config, json_output))
    pending = deque()      # (seq, line, record) read, not yet sent
    ready = {}             # seq -> (payload, status, elapsed, line, id, expression, kind)
    meta = {}              # seq -> (line, id, expression) for records in flight
    next_seq = next_out = 0
    exhausted = False
    records = iter(records)

    def finish(seq, payload, status, elapsed, kind=None):
        line, rid, expr = meta.pop(seq)
        ready[seq] = (payload, status, elapsed, line, rid, expr, kind)

    def replace(index, why_kind, why_message):
        """Kill worker `index`; its running record gets an error, the rest are sent again."""
        worker = workers[index]
        worker.stop(kill=True)
        if worker.outstanding:
            head, rest = worker.outstanding[0], list(worker.outstanding)[1:]
            seq, line, record = head
            out = _error_record(record["expr"], why_kind, why_message, line, record.get("id"))
            elapsed = time.perf_counter() - worker.head_started if worker.head_started else 0.0
            finish(seq, out, "error", elapsed, why_kind)
            pending.extendleft(reversed(rest))
        workers[index] = _Worker(ctx, [w for i, w in enumerate(workers) if i != index], config, json_output)

    try:
        while True:
            # read, while the window has room (without waiting for input while work is in flight)
            input_waiting = False
            while not exhausted and next_seq - next_out < window:
                reader.blocking = not (pending or ready or any(w.outstanding for w in workers))
                try:
                    line, record = next(records)
                except StopIteration:
                    exhausted = True
                    break
                if record is NOT_READY:
                    input_waiting = True
                    break
                seq, next_seq = next_seq, next_seq + 1
                if isinstance(record, RecordError):
                    meta[seq] = (line, record.record_id, record.expression)
                    finish(seq, _record_error_output(line, record), "error", 0.0, record.kind)
                else:
                    meta[seq] = (line, record.get("id"), record["expr"])
                    pending.append((seq, line, record))
            # send: top up every worker to about two chunks of work
            # (a big message goes only to an idle worker: writing it to a busy one could block
            # this loop, and with it the time limits, until that worker is done)
            now = time.perf_counter()
            for index, worker in enumerate(workers):
                if not pending:
                    break
                if len(worker.outstanding) < chunk and not worker.broken:
                    size = max(1, min(chunk, (len(pending) + len(workers) - 1) // len(workers)))
                    tasks = [pending[i] for i in range(min(size, len(pending)))]
                    data = pickle.dumps(tasks, pickle.HIGHEST_PROTOCOL)
                    if len(data) > BIG_MESSAGE and len(tasks) > 1:
                        tasks = tasks[:1]
                        data = pickle.dumps(tasks, pickle.HIGHEST_PROTOCOL)
                    if len(data) > BIG_MESSAGE and worker.outstanding:
                        continue
                    if worker.send(tasks, now, data):
                        for _ in tasks:
                            pending.popleft()
                    elif worker.outstanding:      # it died: its results so far are read first, below
                        worker.broken = True
                    else:
                        replace(index, "internal", "")
            # write what is done, in input order
            while next_out in ready:
                payload, status, elapsed, line, rid, expr, kind = ready.pop(next_out)
                batch.emit(payload, status, elapsed, line, rid, expr, kind)
                next_out += 1
            if progress:
                progress.update(reader.bytes_read, batch.stats["records"])
            if exhausted and next_out == next_seq:
                break
            busy = [w for w in workers if w.outstanding]
            if not busy:
                continue
            # wait for results, or for the earliest hard deadline
            now = time.perf_counter()
            wait_for = 0.5
            if hard_limit:
                wait_for = min(wait_for, max(0.0, min(w.head_started + hard_limit for w in busy) - now))
            watch = [w.conn for w in busy] + ([reader.fd] if input_waiting and reader.fd is not None else [])
            for conn in wait(watch, timeout=wait_for):
                if conn is reader.fd:
                    continue
                index = next(i for i, w in enumerate(workers) if w.conn is conn)
                worker = workers[index]
                while True:
                    try:
                        if not conn.poll():
                            break
                        seq, payload, status, elapsed = pickle.loads(conn.recv_bytes())
                    except (EOFError, OSError):
                        worker.proc.join(timeout=1.0)
                        code = worker.proc.exitcode
                        replace(index, "internal",
                                f"the worker process evaluating this record died ({_describe_exit(code)})")
                        break
                    worker.outstanding.popleft()
                    worker.head_started = time.perf_counter()
                    kind = None
                    if status == "error":
                        kind = (payload if isinstance(payload, dict) else json.loads(payload))["error"]["kind"]
                    finish(seq, payload, status, elapsed, kind)
            if hard_limit:
                now = time.perf_counter()
                for index, worker in enumerate(workers):
                    if worker.outstanding and now - worker.head_started > hard_limit:
                        replace(index, "timeout", _timeout_message(timeout) + "; its worker was killed")
    finally:
        for worker in workers:
            worker.stop(kill=True)


def _open_source(source, stdin, err):
    """(binary stream, size in bytes or None, close?) or an `error: ...` line."""
    if source == "-":
        stream = stdin if stdin is not None else sys.stdin.buffer
        return stream, None, False
    try:
        stream = open(source, "rb")  # noqa: SIM115 - closed by run_batch
    except FileNotFoundError:
        return f"no such file: {source}"
    except IsADirectoryError:
        return f"{source} is a directory, not a batch file"
    except PermissionError:
        return f"cannot read {source}: permission denied"
    except OSError as exc:
        return f"cannot read {source}: {exc.strerror or exc}"
    try:
        size = os.fstat(stream.fileno()).st_size if os.path.isfile(source) else None
    except OSError:
        size = None
    return stream, size, True


def _sniff_encoding_error(reader, source):
    head = reader.head(4)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        name = "stdin" if source == "-" else source
        return (f"{name} is UTF-16 encoded; batch input must be UTF-8 "
                f"(convert it with: iconv -f UTF-16 -t UTF-8)")
    return None


def run_batch(source, *, json_output, jobs=1, timeout=None, check=True, random_seed=None, wrt=None,
              out=None, err=None, stdin=None):
    """Run every record of `source` (a path, or "-" for stdin); returns the exit code:
    0 every record ok, 1 any record not ok, 2 unusable input (then one `error: ...` line on err).

    jobs: worker processes (0: one per CPU; 1: in this process). timeout: seconds per record
    (None: limits.record_timeout(); 0: no limit). wrt: default `wrt` for records without one.
    out/err/stdin default to sys.stdout, sys.stderr, sys.stdin.buffer (stdin must be binary).
    """
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err

    def fail(message):
        err.write(f"error: {message}\n")
        err.flush()
        return 2

    if jobs is None or jobs == 0:
        jobs = os.cpu_count() or 1
    if not isinstance(jobs, int) or jobs < 0:
        return fail(f"--jobs must be a whole number >= 0, not {jobs}")
    if timeout is None:
        timeout = limits.record_timeout()
    if timeout is not None and timeout < 0:
        return fail(f"--timeout must be >= 0 seconds (0: no limit), not {timeout:g}")
    if isinstance(wrt, str):
        wrt = [w.strip() for w in wrt.split(",") if w.strip()] or None
    config = {"check": check, "random_seed": random_seed, "timeout": timeout or None, "wrt": wrt}

    opened = _open_source(source, stdin, err)
    if isinstance(opened, str):
        return fail(opened)
    stream, size, close = opened
    progress = None
    started = time.perf_counter()
    try:
        reader = _LineReader(stream)
        problem = _sniff_encoding_error(reader, source)
        if problem:
            return fail(problem)
        batch = _Batch(json_output, out, err, config)
        records = read_records(reader)
        if _isatty(err) and (json_output or not _isatty(out)):
            progress = _Progress(err, size)
        _evaluator()                      # import once, before any fork
        if check:                         # the CAS too: before any timer, shared by forked workers
            from .check import prepare
            prepare()
        if jobs > 1 and "fork" in _start_methods():
            _run_parallel(batch, records, progress, reader, jobs)
        else:
            _run_serial(batch, records, progress, reader)
        if progress:
            progress.stop()
            progress = None
        elapsed = time.perf_counter() - started
        if json_output:
            console = _console(err)
        else:
            console = batch.human.console
        _summary(console, batch.stats, elapsed, json_output)
        if not json_output:
            out.flush()
        stats = batch.stats
        return 0 if stats["ok"] == stats["records"] else 1
    except _OutputClosed:
        _quiet_stdout(out)
        return 0
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


def _quiet_stdout(out):
    """After EPIPE: point the output's file descriptor at /dev/null, so that the interpreter's
    final flush does not complain (the recipe of the Python docs, "Note on SIGPIPE")."""
    try:
        fd = out.fileno()
    except (AttributeError, ValueError, OSError):
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
    except OSError:
        pass
