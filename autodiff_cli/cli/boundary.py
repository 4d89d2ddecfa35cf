"""The one error boundary of the CLI: what a command's work raises becomes one line on stderr (and
an error record with --json) and an exit code. No traceback reaches the user unless --debug."""
import enum
import sys

from ..errors import AutodiffError


class ExitCode(enum.IntEnum):
    OK = 0
    MISMATCH = 1          # a cross-check disagreed (minimize: diverged; batch: a record not ok)
    USAGE = 2             # bad input (and, with "internal error", a bug of ours)
    INTERRUPTED = 130


def guarded(expr, json_output, debug, work):
    """`work()` -> exit code, with every failure reported here: a user's mistake (AutodiffError),
    ^C, a closed stdout, running out of memory, and a bug of ours."""
    from ..ui.console import quiet_output
    try:
        try:
            return work()
        except AutodiffError as err:
            return input_error(err, expr, json_output)
        except MemoryError:           # the result computed, but printing it does not fit
            return input_error(AutodiffError("limit", "out of memory while writing the result (lower "
                                                      "AUTODIFF_MAX_ELEMENTS to be stopped earlier)"),
                               expr, json_output)
    except BrokenPipeError:
        quiet_output()
        return ExitCode.OK
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        return ExitCode.INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - the last line of defence: no traceback unless --debug
        return internal_error(exc, debug, expression=expr, json_output=json_output)


def reported(result, printer, **options):
    """Print a result with `printer(result, **options)`; its exit code even if the reader of stdout
    went away early."""
    from ..ui.console import cannot_write, quiet_output, write_stderr
    try:
        return printer(result, **options)
    except BrokenPipeError:
        quiet_output()
        return result.exit_code
    except OSError as exc:           # a full disk, /dev/full: say so, without a traceback
        write_stderr(cannot_write(exc))
        return ExitCode.USAGE


def internal_error(exc, debug, *, expression=None, json_output=False):
    """Report a bug of ours: the traceback with --debug, else one line. Returns the exit code."""
    from ..ui.console import escape_text, write_stderr
    if debug:
        import traceback
        traceback.print_exception(exc, file=sys.stderr)
    else:
        write_stderr(f"error: internal error: {escape_text(f'{type(exc).__name__}: {exc}')} "
                     f"(run with --debug for the traceback)")
    if json_output and expression is not None:
        from ..result import error_record
        print_error_record(error_record(expression, "internal", f"{type(exc).__name__}: {exc}"))
    return ExitCode.USAGE


def input_error(err, expression, json_output):
    """A rejection: its stderr line (with the caret picture), a JSON record with --json, exit 2."""
    from ..ui.console import write_stderr
    from ..ui.error_line import error_text
    write_stderr(error_text(err))
    if json_output:
        from ..result import error_record
        print_error_record(error_record(expression, err))
    return ExitCode.USAGE


def print_error_record(record):
    """An error's JSON record on stdout (after its stderr line); a failed write is one more line."""
    from ..result import dumps
    from ..ui.console import cannot_write, quiet_output, write_stderr
    try:
        sys.stdout.write(dumps(record) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        quiet_output()
    except OSError as exc:
        write_stderr(cannot_write(exc))


def settings_problem():
    """An environment variable set out of its range (AUTODIFF_TIMEOUT=1e10), as an AutodiffError."""
    from ..settings.limits import settings_problem as problem_text
    problem = problem_text()
    return AutodiffError("usage", problem) if problem else None


def print_record_and_messages(result, json_output, full=False):
    """What every command prints first: the JSON record (--json), the warnings, the error."""
    from ..ui.console import escape_text, write_stderr
    if json_output:
        sys.stdout.write((result.to_json(full=True) if full else result.to_json()) + "\n")
        sys.stdout.flush()
    for warning in result.warnings:
        write_stderr(f"warning: {escape_text(warning)}")
    if result.error is not None:
        from ..ui.error_line import error_text
        write_stderr(error_text(result.error))
