"""Batch mode: both record formats, order and count, time limits, workers, streaming, broken pipes."""
import io
import re
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autodiff_cli import batch
from autodiff_cli.batch import execute
from autodiff_cli.batch.reader import LineReader
from autodiff_cli.batch import RecordError, parse_json_record, parse_text_record, read_records, run_batch
from schema import validate, validate_lines
from seeds import SEEDS, close

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
PY = sys.executable
# A record that never ends by itself, on any machine: with `spinning` (below) as the evaluator, an
# expression naming `spin` waits until its record's time limit stops it. The limit is generous
# (LIMIT s) for the other records, which take milliseconds: no outcome depends on the machine's speed.
SLOW_EXPR = "x + spin"
LIMIT = 2.0


def run(text, **options):
    """run_batch over `text` fed as stdin; returns (exit code, output records, stderr text)."""
    out, err = io.StringIO(), io.StringIO()
    data = text.encode() if isinstance(text, str) else text
    options.setdefault("json_output", True)
    options.setdefault("check", False)
    code = run_batch("-", stdin=io.BytesIO(data), out=out, err=err, **options)
    records = [validate(json.loads(line)) for line in out.getvalue().splitlines()] if options["json_output"] else out.getvalue()
    return code, records, err.getvalue()


def cli(args, stdin=None, timeout=60, **kwargs):
    """`autodiff batch ARGS` in a subprocess; its JSON output lines are validated against the schema."""
    proc = subprocess.run([PY, "-m", "autodiff_cli", "batch", *args], input=stdin, capture_output=True,
                          timeout=timeout, cwd=ROOT, **kwargs)
    if "--json" in args:
        stdout = proc.stdout if isinstance(proc.stdout, str) else proc.stdout.decode("utf-8", "replace")
        validate_lines(stdout)
    return proc


# --- the text format -------------------------------------------------------------------------

def test_text_record_everything():
    rec = parse_text_record("x**2 + y | x=[1, 2] y=rand(2, 3) | --gradient ones --wrt x,y --mode jacobian --id a1")
    assert rec == {"expr": "x**2 + y", "bindings": {"x": "[1, 2]", "y": "rand(2, 3)"}, "gradient": "ones",
                   "wrt": ["x", "y"], "mode": "jacobian", "order": None, "tangents": None, "id": "a1"}


def test_text_record_forms():
    assert parse_text_record("2**10")["expr"] == "2**10"
    assert parse_text_record("2**10")["bindings"] is None
    # the second '|' is optional; --opt=value; -g; quotes; comments
    rec = parse_text_record("x*y | x=2 y=-1 --mode=hessian -g 2 --id 'a b|c#d'   # a comment | z=1")
    assert rec["bindings"] == {"x": "2", "y": "-1"} and rec["mode"] == "hessian"
    assert rec["gradient"] == "2" and rec["id"] == "a b|c#d"
    assert parse_text_record('sum(f) | f="@my data.csv"')["bindings"] == {"f": "@my data.csv"}
    assert parse_text_record("x**2 # square | x=3")["bindings"] is None       # '|' inside the comment
    assert parse_text_record("  z = x*y; w = z + x |x=2|y=3|")["bindings"] == {"x": "2", "y": "3"}
    assert parse_text_record("x | x=[[1, 2],\t[3, 4]]")["bindings"] == {"x": "[[1, 2],\t[3, 4]]"}
    assert parse_text_record("x | --gradient -1 --wrt x")["gradient"] == "-1"


@pytest.mark.parametrize("line, words", [
    ("x | x=1 x=2", "bound twice"),
    ("x | x=", "needs a value"),
    ("x | --colour red", "unknown option '--colour'"),
    ("x | --wrt", "needs a value"),
    ("x | --mode sideways", "must be one of grad, hessian, jacobian"),
    ("x | --mode grad --mode hessian", "given twice"),
    ("x | x=1 y", "expected NAME=VALUE"),
    ("x | 2x=1", "not a variable name"),
    ("x | --id 'open", "unterminated"),
    ("| x=1", "missing expression"),
    ("x | --wrt ,", "needs variable names"),
])
def test_text_record_errors(line, words):
    with pytest.raises(RecordError) as info:
        parse_text_record(line)
    assert words in str(info.value)
    assert info.value.kind == "record"


def test_text_record_error_echoes_expression_and_id():
    with pytest.raises(RecordError) as info:
        parse_text_record("x**2 | x=1 --bogus 3 --id mine")
    assert info.value.expression == "x**2" and info.value.record_id == "mine"


# --- the JSON format -------------------------------------------------------------------------

def test_json_record():
    rec = parse_json_record('{"expr": "x", "bindings": {"x": [1, 2]}, "gradient": [1, 1], "wrt": "x", "id": {"a": 1}}')
    assert rec == {"expr": "x", "bindings": {"x": [1, 2]}, "gradient": [1, 1], "wrt": ["x"], "mode": None,
                   "order": None, "tangents": None, "id": {"a": 1}}


@pytest.mark.parametrize("line, words", [
    ('{"expr": "x", "expect": 1, "source": 2}', 'unknown keys "expect", "source"'),
    ('{"bindings": {}}', 'missing "expr"'),
    ('{"expr": 3}', '"expr" must be a string, not a number'),
    ('{"expr": "x", "bindings": [1]}', '"bindings" must be an object'),
    ('{"expr": "x", "bindings": {"x": true}}', 'binding "x" must be a number'),
    ('{"expr": "x", "bindings": {"x": null}}', 'binding "x" must be a number'),
    ('{"expr": "x", "wrt": [1]}', '"wrt" must be a list of variable names'),
    ('{"expr": "x", "mode": "fast"}', '"mode" must be one of'),
    ('{"expr": "x", "gradient": {}}', '"gradient" must be'),
    ('{"expr": "x", "expr": "y"}', 'appears twice'),
    ('{"expr": "x"', "invalid JSON"),
    ('{"expr": "x"} {}', "invalid JSON: Extra data"),
    ("{" * 100000, "invalid JSON"),
])
def test_json_record_errors(line, words):
    with pytest.raises(RecordError) as info:
        parse_json_record(line)
    assert words in str(info.value)


def test_json_record_error_echoes_id_and_expression():
    with pytest.raises(RecordError) as info:
        parse_json_record('{"expr": "x**2", "mode": 3, "id": 17}')
    assert info.value.record_id == 17 and info.value.expression == "x**2"


# --- reading lines ---------------------------------------------------------------------------

def test_read_records_skips_and_numbers_lines():
    lines = [b"# comment\n", b"\n", b"   \r\n", b"x | x=1\r\n", b'  {"expr": "y", "bindings": {"y": 2}}\n',
             b"\xef\xbb\xbfz | z=3\n", b"bad \xff byte\n", b"  # indented comment\n", "w | w=4"]
    got = list(read_records(lines))
    assert [n for n, _ in got] == [4, 5, 6, 7, 9]
    assert got[0][1]["expr"] == "x" and got[1][1]["expr"] == "y" and got[2][1]["expr"] == "z"
    assert isinstance(got[3][1], RecordError) and "not valid UTF-8" in str(got[3][1])
    assert got[4][1]["bindings"] == {"w": "4"}


def test_overlong_line_is_an_error_record_and_is_not_kept():
    stream = io.BytesIO(b"x | x=1\n" + b"y" * 5000 + b"\nz | z=2\n" + b"q" * 5000)
    got = list(read_records(LineReader(stream, limit=1000)))
    assert [n for n, _ in got] == [1, 2, 3, 4]
    assert "5000 bytes long, over the limit of 1000" in str(got[1][1])
    assert got[2][1]["expr"] == "z" and isinstance(got[3][1], RecordError)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=60), max_size=8))
def test_read_records_never_raises_on_bytes(lines):
    for number, record in read_records(line + b"\n" for line in lines):
        assert isinstance(record, (dict, RecordError))
        if isinstance(record, dict):
            assert isinstance(record["expr"], str) and record["expr"]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_parse_text_record_only_raises_record_errors(line):
    try:
        rec = parse_text_record(line)
    except RecordError:
        return
    assert set(rec) == set(batch.JSON_KEYS) and "|" not in rec["expr"]


_names = st.sampled_from(["x", "y", "W", "b2", "_t"])
_values = st.one_of(st.integers(-99, 99).map(str), st.sampled_from(["[1,2]", "[[1, 2], [3, 4]]", "rand(2, 3)",
                                                                     "-2.5e-3", "ones(3)", "@data.npy"]))


@settings(max_examples=200, deadline=None)
@given(bindings=st.dictionaries(_names, _values, max_size=4), wrt=st.none() | st.lists(_names, min_size=1, max_size=3),
       mode=st.none() | st.sampled_from(batch.MODES), gradient=st.none() | _values,
       rid=st.none() | st.text(alphabet="abc -|#xyz1", min_size=1, max_size=8).filter(lambda s: "'" not in s))
def test_text_and_json_forms_say_the_same(bindings, wrt, mode, gradient, rid):
    """Everything a JSON record says can be said in a text record."""
    parts = ["sum(x) + 1"]
    parts.append(" ".join(f"{k}={v}" for k, v in bindings.items()))
    opts = []
    if gradient is not None:
        opts.append(f"--gradient {gradient}" if " " not in gradient else f"--gradient '{gradient}'")
    if wrt:
        opts.append("--wrt " + ",".join(wrt))
    if mode:
        opts.append(f"--mode={mode}")
    if rid is not None:
        opts.append(f"--id '{rid}'")
    text = parse_text_record(" | ".join(parts + [" ".join(opts)]))
    as_json = parse_json_record(json.dumps({"expr": "sum(x) + 1", "bindings": bindings, "gradient": gradient,
                                            "wrt": wrt, "mode": mode, "id": rid}))
    assert text == {**as_json, "bindings": as_json["bindings"] or None}


# --- run_batch in this process ---------------------------------------------------------------

MIXED = textwrap.dedent("""\
    # header comment
    x**2 | x=3 | --id a
    {"expr": "sum(x**2 + y**3)", "bindings": {"x": [1, 2], "y": "[3, 4]"}, "id": 2}

    x + | x=1 | --id bad-parse
    {"expr": "x", "bindings": {"x": 1}, "colour": "red", "id": "bad-key"}
    {not json
    x*y | x=[1,2] y=3 | --mode jacobian
    x**2*y + y**3 | x=1 y=2 | --mode hessian --id h
    """)


def test_mixed_formats_stdin_order_and_count():
    code, records, err = run(MIXED)
    assert code == 1
    assert [r["line"] for r in records] == [2, 3, 5, 6, 7, 8, 9]
    assert [r["id"] for r in records] == ["a", 2, "bad-parse", "bad-key", None, None, "h"]
    assert [r["status"] for r in records] == ["ok", "ok", "error", "error", "error", "ok", "ok"]
    assert records[0]["gradients"] == {"x": 6.0}
    assert records[1]["gradients"] == {"x": [2.0, 4.0], "y": [27.0, 48.0]}
    assert records[2]["error"]["kind"] == "parse" and records[2]["expression"] == "x +"
    assert records[3]["error"] == {"kind": "record", "position": None,
                                   "message": 'unknown key "colour": a record has expr, bindings, gradient, '
                                              'wrt, mode, order, tangents, id (only expr is required), and with mode minimize '
                                              'optimizer, lr, momentum, steps, tol, clip_value, clip_norm, trace'}
    assert records[4]["expression"] == "" and records[4]["error"]["kind"] == "record"
    assert records[5]["jacobian"] == {"x": [[3.0, 0.0], [0.0, 3.0]], "y": [1.0, 2.0]}
    assert records[6]["hessian"]["x"]["y"] == 2.0
    assert "7 " in err and "records" in err          # the summary goes to stderr under --json


def test_all_ok_exit_0_and_human_output():
    code, text, err = run("x**2 | x=3 --id sq\n3*x**2+2*x*y+y**2 | x=2 y=1\n", json_output=False, check=True)
    assert code == 0 and err == ""
    assert "sq" in text and "= 9" in text and "grad x=14, y=6" in text and "sympy check passed" in text
    assert "records" in text and "ok" in text            # the summary


def test_crlf_bom_and_invalid_utf8():
    data = b"\xef\xbb\xbfx**2 | x=2\r\n{\"expr\": \"x**3\", \"bindings\": {\"x\": 2}}\r\nx\xc3 | x=1\r\n\r\ny | y=1"
    code, records, _ = run(data)
    assert code == 1
    assert [(r["line"], r["status"]) for r in records] == [(1, "ok"), (2, "ok"), (3, "error"), (5, "ok")]
    assert records[1]["gradients"] == {"x": 12.0}
    assert "not valid UTF-8" in records[2]["error"]["message"]


def test_default_wrt_and_record_wrt():
    code, records, _ = run('x*y | x=2 y=3\n{"expr": "x*y", "bindings": {"x": 2, "y": 3}, "wrt": ["y"]}\n', wrt="x")
    assert code == 0
    assert records[0]["gradients"] == {"x": 3.0} and records[1]["gradients"] == {"y": 2.0}


def test_empty_input():
    code, records, _ = run("# nothing\n\n")
    assert code == 0 and records == []


def test_unusable_input_exit_2(tmp_path):
    for source, words in [(str(tmp_path / "missing.jsonl"), "no such file"), (str(tmp_path), "is a directory")]:
        err = io.StringIO()
        assert run_batch(source, json_output=True, out=io.StringIO(), err=err) == 2
        assert err.getvalue().startswith("error: ") and words in err.getvalue()
        assert err.getvalue().count("\n") == 1
    utf16 = tmp_path / "utf16.txt"
    utf16.write_text("x**2 | x=3\n", encoding="utf-16")
    err = io.StringIO()
    assert run_batch(str(utf16), json_output=True, out=io.StringIO(), err=err) == 2
    assert "UTF-16" in err.getvalue()


def _spinning_evaluate(real):
    """An evaluate that, for expressions naming 'spin', runs Python code (interruptible by SIGALRM)
    until the record's time limit stops it: a slow record whatever the machine's speed."""
    def evaluate(expr, bindings, **options):
        if "spin" in expr:
            while True:
                time.sleep(0.01)
        return real(expr, bindings, **options)
    return evaluate


@pytest.fixture
def spinning(monkeypatch):
    monkeypatch.setattr(execute, "_EVALUATE", _spinning_evaluate(execute.evaluator()))


SPINNING_CLI = ("import sys; from autodiff_cli.batch import execute; import test_batch; "
                "execute._EVALUATE = test_batch._spinning_evaluate(execute.evaluator()); "
                "from autodiff_cli.cli import main; sys.argv = ['autodiff', 'batch'] + sys.argv[1:]; main()")


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")   # see deadline._on_alarm
def test_timeout_in_process_then_the_batch_goes_on(spinning):
    code, records, _ = run(f"x | x=1\n{SLOW_EXPR} | x=1 spin=0 --id slow\nx**2 | x=3\n", timeout=LIMIT)
    assert code == 1
    assert [r["status"] for r in records] == ["ok", "error", "ok"]
    assert records[1]["error"]["kind"] == "timeout" and records[1]["id"] == "slow"
    assert records[1]["expression"] == SLOW_EXPR and f"{LIMIT:g} s" in records[1]["error"]["message"]
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, signal.default_int_handler, None)


def _mixed_with_slow(n=30):
    lines = []
    for i in range(n):
        if i % 10 == 3:
            lines.append(f"{SLOW_EXPR} | x=1 spin=0 --id {i}")
        elif i % 7 == 5:
            lines.append(f'{{"expr": "x +", "bindings": {{"x": 1}}, "id": {i}}}')
        else:
            lines.append(f'{{"expr": "x*{i}", "bindings": {{"x": 2}}, "id": {i}}}')
    return "\n".join(lines) + "\n"


def _assert_mixed_with_slow(records, n=30):
    assert [r["id"] if isinstance(r["id"], int) else int(r["id"]) for r in records] == list(range(n))
    assert [r["line"] for r in records] == list(range(1, n + 1))
    for i, r in enumerate(records):
        if i % 10 == 3:
            assert r["status"] == "error" and r["error"]["kind"] == "timeout", r["error"]
        elif i % 7 == 5:
            assert r["status"] == "error" and r["error"]["kind"] == "parse"
        else:
            assert r["status"] == "ok" and r["value"] == 2.0 * i


def test_jobs_2_order_count_and_timeouts(spinning):
    code, records, _ = run(_mixed_with_slow(), jobs=2, timeout=LIMIT)
    assert code == 1
    _assert_mixed_with_slow(records)


def _stuck_evaluate(real):
    """An evaluate that, for expressions containing 'stuck', sits in something SIGALRM cannot
    interrupt (standing in for one long numpy call), and for 'crash', kills its process."""
    def evaluate(expr, bindings, **options):
        if "stuck" in expr:
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
            time.sleep(60)
        if "crash" in expr:
            os._exit(3)
        return real(expr, bindings, **options)
    return evaluate


def test_jobs_2_hung_worker_is_killed_and_replaced(monkeypatch):
    monkeypatch.setattr(execute, "_EVALUATE", _stuck_evaluate(execute.evaluator()))
    text = "".join(f"x*{i} + stuck | x=1 stuck=0 --id {i}\n" if i in (2, 9) else
                   f"x*{i} + crash | x=1 crash=0 --id {i}\n" if i == 5 else f"x*{i} | x=1 --id {i}\n"
                   for i in range(14))
    code, records, _ = run(text, jobs=2, timeout=LIMIT)     # the stuck records sleep 60 s: killed, not waited for
    assert code == 1
    assert [r["id"] for r in records] == [str(i) for i in range(14)]
    for i, r in enumerate(records):
        if i in (2, 9):
            assert r["error"]["kind"] == "timeout" and "worker was killed" in r["error"]["message"]
        elif i == 5:
            assert r["error"]["kind"] == "internal" and "died (exit code 3)" in r["error"]["message"]
        else:
            assert r["status"] == "ok" and r["value"] == float(i)


def test_evaluate_raising_is_an_error_record(monkeypatch):
    def boom(expr, bindings, **options):
        raise ValueError("boom")
    monkeypatch.setattr(execute, "_EVALUATE", boom)
    code, records, _ = run("x | x=1\ny | y=1\n")
    assert code == 1 and [r["error"]["kind"] for r in records] == ["internal", "internal"]
    assert "ValueError: boom" in records[0]["error"]["message"]


@pytest.mark.parametrize("sample", ["seed_examples.jsonl", "examples.txt"])
def test_seed_examples_through_run_batch(sample):
    cases = [json.loads(line) for line in SEEDS.read_text().splitlines() if line.strip()]
    out = io.StringIO()
    code = run_batch(str(SAMPLES / sample), json_output=True, check=True, out=out, err=io.StringIO())
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert code == 0
    assert [r["id"] for r in records] == [c["id"] for c in cases]
    for case, record in zip(cases, records):
        assert record["status"] == "ok" and close(record, case["expect"]), (case["id"], record)


def test_samples_run():
    for name, want in [("mixed.txt", 1), ("text_format.txt", 0)]:
        out = io.StringIO()
        code = run_batch(str(SAMPLES / name), json_output=True, check=False, out=out, err=io.StringIO(),
                         random_seed=0)
        records = [json.loads(line) for line in out.getvalue().splitlines()]
        assert code == want, [r for r in records if r["status"] != "ok"]
        assert records


# --- end to end, through the CLI -------------------------------------------------------------

def test_cli_stdin_jobs_2_with_good_bad_and_slow_records():
    proc = subprocess.run([PY, "-c", SPINNING_CLI, "-", "--json", "--jobs", "2", "--timeout", str(LIMIT), "--no-check"],
                          input=_mixed_with_slow().encode(), capture_output=True, timeout=300, cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(Path(__file__).parent), str(Path(__file__).resolve().parents[1] / "support")])))
    validate_lines(proc.stdout.decode())
    run_ = proc
    assert run_.returncode == 1, run_.stderr
    records = [json.loads(line) for line in run_.stdout.decode().splitlines()]
    _assert_mixed_with_slow(records)
    assert b"Traceback" not in run_.stderr


def test_cli_file_with_crlf_and_bom(tmp_path):
    path = tmp_path / "records.txt"
    path.write_bytes(b"\xef\xbb\xbf# comment\r\nx**2 | x=3\r\n{\"expr\": \"x**3\", \"bindings\": {\"x\": 2}}\r\n")
    run_ = cli([str(path), "--json"])
    assert run_.returncode == 0, run_.stderr
    records = [json.loads(line) for line in run_.stdout.decode().splitlines()]
    assert [(r["line"], r["value"]) for r in records] == [(2, 9.0), (3, 8.0)]
    human = cli([str(path)])
    assert human.returncode == 0 and b"= 9" in human.stdout and human.stderr == b""


def test_acceptance_check_script():
    run_ = subprocess.run([PY, str(SEEDS.parent / "check_seed_examples.py"), "--cmd", f"{PY} -m autodiff_cli"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert run_.returncode == 0, run_.stdout + run_.stderr


@pytest.mark.parametrize("args", [["--json"], ["--json", "--jobs", "2"], []])
def test_broken_pipe_is_quiet(tmp_path, args):
    path = tmp_path / "big.jsonl"
    path.write_text("".join(f'{{"expr": "x*{i}", "bindings": {{"x": 1}}}}\n' for i in range(20000)))
    proc = subprocess.Popen([PY, "-m", "autodiff_cli", "batch", str(path), "--no-check", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    first = proc.stdout.readline()
    proc.stdout.close()                    # like `| head -1`
    _, stderr = proc.communicate(timeout=300)     # a hang guard, not a speed bound
    assert first.strip()
    assert b"Traceback" not in stderr and b"Error" not in stderr, stderr[-2000:]
    assert proc.returncode == 0


MEMORY_SCRIPT = """
import resource, sys, types
import autodiff_cli.batch as b
import autodiff_cli.batch.execute as execute

def fake_evaluate(expr, bindings, **options):      # the batch machinery is what is measured here
    record = {"expression": expr, "status": "ok", "value": 1.0, "shape": [], "gradients": {"x": 2.0}}
    return types.SimpleNamespace(as_dict=lambda: dict(record))

execute._EVALUATE = fake_evaluate
with open(sys.argv[2], "w") as out:
    code = b.run_batch(sys.argv[1], json_output=True, jobs=int(sys.argv[3]), out=out, err=sys.stderr)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(code)
"""


RECORDS = 20_000


@pytest.mark.parametrize("jobs", [1, 2])
def test_memory_stays_flat_on_20k_records_of_5kb(tmp_path, jobs):
    """20,000 records of ~5 KB (a 100 MB file, and 100 MB of output): a batch that kept the
    input, the records or the results would need well over 100 MB more than its baseline. (The
    bytes prove it, not the count of records: 100,000 records of 1 KB took five times as long.)"""
    path, out = tmp_path / "big.jsonl", tmp_path / "out.jsonl"
    pad = "p" * 5000
    with open(path, "w") as f:
        for i in range(RECORDS):
            f.write(f'{{"expr": "x*y + x", "bindings": {{"x": {i % 7}, "y": 2}}, "id": "{i}-{pad}"}}\n')
    assert path.stat().st_size > 100_000_000
    baseline = subprocess.run([PY, "-c", "import resource, autodiff_cli.batch as b, autodiff_cli.api, rich.table;"
                               "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"],
                              capture_output=True, text=True, cwd=ROOT)
    base_kb = int(baseline.stdout.split()[0])
    run_ = subprocess.run([PY, "-c", MEMORY_SCRIPT, str(path), str(out), str(jobs)],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)   # a hang guard
    assert run_.returncode == 0, run_.stderr[-2000:]
    parent_kb, children_kb = map(int, run_.stdout.split())
    assert out.stat().st_size > 100_000_000
    with open(out) as f:
        count = sum(1 for _ in f)
    assert count == RECORDS
    peak = max(parent_kb, children_kb)
    assert peak < base_kb + 40_000, (peak, base_kb)      # whole-file would be base + 100,000+ KB


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_results_stream_while_input_is_still_open(jobs):
    """A slow producer (`tail -f log | autodiff batch - --json`) gets each result as soon as its
    record is done, not when the input ends or a window fills up."""
    import select
    proc = subprocess.Popen([PY, "-m", "autodiff_cli", "batch", "-", "--json", "--no-check", "--jobs", jobs],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    try:
        for i in range(3):
            proc.stdin.write(f"x*{i} | x=2 --id {i}\n".encode())
            proc.stdin.flush()
            ready, _, _ = select.select([proc.stdout], [], [], 30)
            assert ready, f"no result for record {i} while the input stays open"
            record = json.loads(proc.stdout.readline())
            assert record["id"] == str(i) and record["value"] == 2.0 * i
        rest, _ = proc.communicate(timeout=30)      # closes stdin: end of input
        assert rest == b"" and proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# --- the human report --------------------------------------------------------------------------

class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_human_rows_line_up_when_ids_differ_in_length():
    code, text, _ = run('x**2 | x=3 --id a\nx**3 | x=2 --id a-much-longer-id\nsin( | x=1\n{"expr": "x", "bindings": {"x": 1}}\n',
                        json_output=False)
    rows = text.splitlines()[:4]           # then the summary
    assert len(rows) == 4
    status_columns = {re.search(r"\b(ok|error)\b", row).start() for row in rows}
    assert len(status_columns) == 1, rows
    assert all(line == line.rstrip() for line in text.splitlines())


def test_a_timeout_is_counted_once_in_the_summary(spinning):
    code, text, _ = run(f"x**2 | x=3\n{SLOW_EXPR} | x=1 spin=0 --id slow\n", json_output=False, timeout=LIMIT)
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("records"))
    summary = dict(zip(lines[at].split(), lines[at + 1].split()))
    assert summary["records"] == "2" and summary["ok"] == "1"
    assert summary["timeout"] == "1" and summary["error"] == "0"


def test_progress_counts_records_of_a_small_file_with_rate_and_time_left(tmp_path):
    from autodiff_cli.ui.batch_report import count_records
    path = tmp_path / "records.txt"
    path.write_text("# a comment\nx**2 | x=1\n\n{\"expr\": \"x\"}\nx | x=2\n")
    assert count_records(str(path), path.stat().st_size) == 3
    assert count_records(str(path), 10**12) is None          # too large to count: bytes instead
    err = FakeTerminal()
    assert run_batch(str(path), json_output=True, out=io.StringIO(), err=err, check=False) == 1
    assert "/3" in err.getvalue() and "records/s" in err.getvalue() and "left" in err.getvalue()
    quiet = FakeTerminal()
    run_batch(str(path), json_output=True, out=io.StringIO(), err=quiet, check=False, quiet=True)
    assert "batch" not in quiet.getvalue() and "left" not in quiet.getvalue()      # no bar, only the summary
    assert "records/s" in quiet.getvalue()


class FakeTerminalInput(io.BytesIO):
    def isatty(self):
        return True


def test_reading_a_terminal_prints_a_hint():
    stdin = FakeTerminalInput(b"")
    err = FakeTerminal()
    run_batch("-", json_output=True, out=io.StringIO(), err=err, stdin=stdin, check=False)
    assert "reading records from the terminal" in err.getvalue() and "Ctrl-D" in err.getvalue()
