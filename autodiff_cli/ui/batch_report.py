"""The human batch report: one compact line per record as it completes, a progress bar on a
terminal's stderr, and the closing summary (counts, time, the slowest records).

Every text that came from input (ids, expressions, error messages) goes through escape_text and
is shown as plain Text, never parsed as markup.
"""
import time

import numpy as np

from .arrays import View, brief, nested
from .console import console, escape_text, print_lines


ERROR_WIDTH = 2000          # an error message is shown whole (the terminal wraps it) up to this many characters


def _short(value, view, width=36):
    """A number or nested list of a record in a few characters: in full if it fits, else its shape
    and norm (never a number cut in the middle)."""
    try:
        array = np.asarray(_floats(value), dtype=np.float64)
    except (TypeError, ValueError):
        return _clip(str(value), width)
    return nested(array, view, width) or brief(array, view)


def _floats(value):
    """A record's value with the strings "nan", "inf", "-inf" back as floats."""
    if isinstance(value, list):
        return [_floats(v) for v in value]
    return float(value) if isinstance(value, str) else value


def _clip(text, width):
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 3] + "..."


def stderr_console(err):
    """A console for stderr, where a broken pipe only silences it."""
    return console(err, quiet_broken_pipe=True, highlight=False, soft_wrap=True)


class BatchReport:
    """The rows of the human report, printed on `out` as records complete."""

    STYLES = {"ok": "green", "mismatch": "yellow", "diverged": "yellow", "error": "red"}

    ID_WIDTH = 16           # longest id shown (longer ones are clipped with "...")
    EXPR_WIDTH = 30         # longest expression shown

    def __init__(self, out, view=None):
        self.console = console(out, highlight=False, soft_wrap=True)
        self.view = view or View()
        self.has_ids = False    # from the first id on, every row has an id column of one width

    def row(self, out):
        """One record's line: line number [id], status, expression, value and derivatives or error."""
        from rich.text import Text
        status = out["status"]
        label = f"{out['line']:>5}"
        rid = "" if out.get("id") is None else f"[{_clip(escape_text(out['id']), self.ID_WIDTH)}]"
        self.has_ids = self.has_ids or bool(rid)
        if self.has_ids:
            label += " " + rid.ljust(self.ID_WIDTH + 2)
        expr = _clip(escape_text(out.get("expression") or ""), self.EXPR_WIDTH).ljust(self.EXPR_WIDTH)
        if status == "error":
            err = out["error"]
            detail = f"{err['kind']}: {_clip(escape_text(err['message']), ERROR_WIDTH)}"   # whole, as a rule
        else:
            parts = [f"= {_short(out.get('value'), self.view)}"]
            if "point" in out:                       # mode minimize: where it stopped
                word, derivs = "at", out["point"]
            elif "hessian" in out:
                word = "hessian"
                derivs = {f"({r},{c})": b for r, row in out["hessian"].items() for c, b in row.items()}
            elif "jacobian" in out:
                word, derivs = "jacobian", out["jacobian"]
            else:
                word, derivs = "grad", out.get("gradients") or {}
            if derivs:
                shown = [f"{k}={_short(v, self.view, 24)}" for k, v in derivs.items()]
                parts.append(word + " " + (", ".join(shown) if len(shown) <= 4 else
                                           ", ".join(shown[:4]) + f" (and {len(shown) - 4} more)"))
            if "stopped" in out:
                parts.append(f"(stopped: {out['stopped']} after {out['steps']} steps)")
            check = out.get("check") or {}
            if check.get("method") not in (None, "none"):
                verdict = {True: "passed", False: "FAILED"}.get(check.get("passed"), "inconclusive")
                parts.append(f"({check['method']} check {verdict})")
            detail = "  ".join(parts)
        line = Text.assemble(label, "  ", (f"{status:<8}", self.STYLES.get(status, "")), " ", expr, "  ", detail)
        line.rstrip()
        self.console.print(line)


def print_summary(target, stats, elapsed):
    """The counts of a finished batch, and its slowest records, on the console `target`."""
    from rich.text import Text
    from .tables import Table
    total = stats["records"]
    rate = total / elapsed if elapsed > 0 else 0.0
    table = Table(title=None, show_header=True, header_style="bold", box=None, pad_edge=False)
    for col in ("records", "ok", "mismatch", "error", "timeout", "time", "records/s"):
        table.add_column(col, justify="right")
    table.add_row(str(total), f"[green]{stats['ok']}[/green]", f"[yellow]{stats['mismatch']}[/yellow]",
                  f"[red]{stats['error']}[/red]", str(stats["timeout"]), f"{elapsed:.2f} s", f"{rate:,.0f}")
    print_lines(target, table)
    slowest = sorted(stats["slowest"], key=lambda entry: entry[0], reverse=True)
    if slowest and total > 1:
        target.print(Text("slowest: " + "; ".join(
            f"line {line}{'' if rid is None else ' [' + _clip(escape_text(rid), 20) + ']'} {secs:.3f} s "
            f"({_clip(escape_text(expr), 30)})" for secs, line, rid, expr in slowest)))


COUNT_RECORDS_UP_TO = 32 * 1024 * 1024     # files up to this size are counted first (records as the total)


def count_records(path, size):
    """The number of records of a small regular file (lines that are not blank or comments), or
    None when it is too large to count quickly (the progress bar then counts bytes)."""
    if path is None or size is None or size > COUNT_RECORDS_UP_TO:
        return None
    try:
        with open(path, "rb") as stream:
            return sum(1 for line in stream if line.strip() and not line.lstrip().startswith(b"#"))
    except OSError:
        return None


class Progress:
    """A rich progress bar on stderr, refreshed by hand (no thread: workers are forked): records
    done of the total (a small file is counted first) or bytes read of the file's size, the rate
    and the time left."""

    def __init__(self, err, total_bytes, total_records=None):
        from rich.progress import (BarColumn, DownloadColumn, MofNCompleteColumn, SpinnerColumn, TextColumn,
                                   TimeElapsedColumn, TimeRemainingColumn)
        from rich.progress import Progress as RichProgress
        self.by_records = total_records is not None
        total = total_records if self.by_records else total_bytes
        amount = MofNCompleteColumn() if self.by_records else (DownloadColumn() if total else TextColumn(""))
        rate = "{task.fields[rate]} records/s" if self.by_records else "{task.fields[records]} records, {task.fields[rate]}/s"
        columns = [SpinnerColumn(), TextColumn("batch"), BarColumn() if total else TextColumn(""), amount,
                   TextColumn(rate), TimeElapsedColumn()]
        if total:
            columns += [TextColumn("left"), TimeRemainingColumn()]
        self.progress = RichProgress(*columns, console=stderr_console(err), transient=True, auto_refresh=False)
        self.task = self.progress.add_task("batch", total=total or None, records="0", rate="0")
        self.progress.start()
        self.last = 0.0
        self.started = time.perf_counter()

    def update(self, bytes_read, records, force=False):
        now = time.perf_counter()
        if not force and now - self.last < 0.1:
            return
        self.last = now
        rate = records / (now - self.started) if now > self.started else 0
        self.progress.update(self.task, completed=records if self.by_records else bytes_read,
                             records=f"{records:,}", rate=f"{rate:,.0f}")
        self.progress.refresh()

    def stop(self):
        try:
            self.progress.stop()
        except Exception:  # noqa: BLE001 - a closed stderr must not matter
            pass
