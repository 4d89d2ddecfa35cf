"""cli/boundary.py: the one error boundary. A user's mistake is one `error:` line and exit 2 (and
its record with --json); a bug of ours is one 'internal error' line without a traceback (the
traceback only under --debug); ^C is exit 130; a closed stdout is a quiet exit 0."""
import json
import os

import pytest

from autodiff_cli.cli import boundary
from autodiff_cli.cli.boundary import ExitCode, guarded, internal_error, reported, settings_problem
from autodiff_cli.errors import AutodiffError
from autodiff_cli.ui import console


@pytest.fixture(autouse=True)
def no_stdout_redirection(monkeypatch):
    """quiet_output points the real stdout's descriptor at /dev/null: not in a test process."""
    calls = []
    monkeypatch.setattr(console, "quiet_output", lambda out=None: calls.append(out))
    return calls


def raising(exc):
    def work():
        raise exc
    return work


def lines(text):
    return text.splitlines()


def test_exit_code_values():
    assert [int(c) for c in ExitCode] == [0, 1, 2, 130]
    assert (ExitCode.OK, ExitCode.MISMATCH, ExitCode.USAGE, ExitCode.INTERRUPTED) == (0, 1, 2, 130)
    assert ExitCode.USAGE.name == "USAGE"


def test_the_works_exit_code_passes_through(capsys):
    assert guarded("x", False, False, lambda: ExitCode.MISMATCH) is ExitCode.MISMATCH
    assert guarded("x", False, False, lambda: 0) == 0
    assert capsys.readouterr() == ("", "")


def test_a_users_mistake_is_one_line_and_exit_2(capsys):
    code = guarded("x", False, False, raising(AutodiffError("shape", "shapes (2,) and (3,) do not match")))
    assert code == ExitCode.USAGE == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert lines(err) == ["error: shapes (2,) and (3,) do not match"]


def test_a_users_mistake_with_a_column_adds_the_caret_picture(capsys):
    error = AutodiffError("parse", "unexpected ')'", 5, hint="remove it", source="x + )")
    assert guarded("x + )", False, False, raising(error)) == 2
    assert lines(capsys.readouterr().err) == ["error: unexpected ')' at column 5 (remove it)", "  x + )", "      ^"]


def test_a_users_mistake_under_json_is_also_a_record(capsys):
    assert guarded("x + )", True, False, raising(AutodiffError("parse", "unexpected ')'", 5))) == 2
    out, err = capsys.readouterr()
    record = json.loads(out)
    assert record == {"expression": "x + )", "status": "error",
                      "error": {"kind": "parse", "message": "unexpected ')' at column 5", "position": 5}}
    assert lines(err) == ["error: unexpected ')' at column 5"]


def test_a_bug_is_one_internal_error_line_without_a_traceback(capsys):
    code = guarded("x", False, False, raising(ZeroDivisionError("division by zero")))
    assert code == ExitCode.USAGE
    out, err = capsys.readouterr()
    assert out == ""
    assert lines(err) == ["error: internal error: ZeroDivisionError: division by zero "
                          "(run with --debug for the traceback)"]
    assert "Traceback" not in err


def test_a_bug_under_debug_shows_the_traceback(capsys):
    def work():
        return {}["missing"]
    assert guarded("x", False, True, work) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):")
    assert "in work" in err and lines(err)[-1] == "KeyError: 'missing'"
    assert "run with --debug" not in err


def test_a_bug_under_json_is_an_internal_error_record(capsys):
    assert guarded("sin(x)", True, False, raising(RuntimeError("boom"))) == 2
    out, err = capsys.readouterr()
    assert json.loads(out) == {"expression": "sin(x)", "status": "error",
                               "error": {"kind": "internal", "message": "RuntimeError: boom", "position": None}}
    assert len(lines(err)) == 1


def test_markup_in_a_bug_message_is_escaped(capsys):
    guarded("x", False, False, raising(ValueError("\x1b[31mred\x1b[0m")))
    err = capsys.readouterr().err
    assert "\x1b" not in err and len(lines(err)) == 1


def test_ctrl_c_is_exit_130(capsys):
    assert guarded("x", False, False, raising(KeyboardInterrupt())) == ExitCode.INTERRUPTED == 130
    assert capsys.readouterr().err == "error: interrupted\n"


def test_a_closed_stdout_is_a_quiet_exit_0(capsys, no_stdout_redirection):
    assert guarded("x", False, False, raising(BrokenPipeError())) == ExitCode.OK
    assert capsys.readouterr() == ("", "")
    assert no_stdout_redirection == [None]


def test_running_out_of_memory_is_a_limit_error(capsys):
    assert guarded("x", True, False, raising(MemoryError())) == 2
    out, err = capsys.readouterr()
    assert json.loads(out)["error"]["kind"] == "limit"
    assert lines(err) == ["error: out of memory while writing the result (lower AUTODIFF_MAX_ELEMENTS to be "
                          "stopped earlier)"]


def test_internal_error_without_an_expression_writes_no_record(capsys):
    assert internal_error(RuntimeError("x"), False, json_output=True) == ExitCode.USAGE
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("error: internal error: RuntimeError: x")


def test_reported_keeps_the_results_exit_code_when_stdout_closes(capsys):
    class Result:
        exit_code = ExitCode.MISMATCH

    def closed(result, **options):
        raise BrokenPipeError()

    assert reported(Result(), closed) == ExitCode.MISMATCH
    assert reported(Result(), lambda result, **options: options["code"], code=7) == 7

    def full_disk(result, **options):
        raise OSError(28, "No space left on device")

    assert reported(Result(), full_disk) == ExitCode.USAGE
    assert capsys.readouterr().err == "error: cannot write output: No space left on device\n"


def test_a_setting_out_of_range_is_a_usage_error(monkeypatch):
    for name in [n for n in os.environ if n.startswith("AUTODIFF_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AUTODIFF_TIMEOUT", "1e10")
    problem = settings_problem()
    assert isinstance(problem, AutodiffError) and problem.kind == "usage"
    assert problem.message.startswith("AUTODIFF_TIMEOUT=1e10 is out of range")
    monkeypatch.setenv("AUTODIFF_TIMEOUT", "5")
    assert settings_problem() is None


def test_every_command_goes_through_this_boundary():
    from autodiff_cli.cli.commands import batch, minimize, modes, plot
    assert all(module.guarded is boundary.guarded for module in (batch, minimize, modes, plot))
