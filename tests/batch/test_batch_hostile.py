"""Issue 13, round two: what a hostile record, a careless option or a full disk must not do to a
batch (unit level; tests/support/hostile_corpus.py runs the same findings through the CLI).

  - nested JSON (finding 1): an error record for that line, never a stopped parallel batch;
    fuzzed with hypothesis over nested JSON and control characters under jobs=2
  - the op size check (finding 3), the byte-bounded window (finding 5), the batch file's folder
    (finding 7), an unwritable output (finding 8), option values (finding 9)
"""
import io
import json
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autodiff_cli.settings import limits
from autodiff_cli.batch import RecordError, parse_json_record, read_records, run_batch
from autodiff_cli.batch import pool as pool_module
from autodiff_cli.inputs.bindings import files_under
from autodiff_cli.inputs.bindings import parse_value
from autodiff_cli.errors import AutodiffError
from autodiff_cli.api import evaluate


def run(text, **options):
    """run_batch over `text` as stdin; (exit code, output records, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    options.setdefault("check", False)
    code = run_batch("-", json_output=True, stdin=io.BytesIO(text.encode("utf-8", "surrogatepass")),
                     out=out, err=err, **options)
    return code, [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


def nested(depth, inner="1"):
    return "[" * depth + inner + "]" * depth


# --- finding 1: nested JSON -------------------------------------------------------------------

@pytest.mark.parametrize("line, key", [
    ('{"expr": "x", "bindings": {"x": 1}, "id": ' + nested(900, "") + "}", "id"),
    ('{"expr": "x", "bindings": {"x": ' + nested(600) + "}}", "bindings"),
    ('{"expr": "x", "gradient": ' + nested(65) + "}", "gradient"),
    ('{"expr": "x", "bindings": {"x": 1}, "id": ' + '{"a": ' * 70 + "1" + "}" * 71, "id"),
])
def test_a_value_nested_too_deep_is_a_record_error(line, key):
    with pytest.raises(RecordError, match=f'"{key}" is nested more than {limits.MAX_RECORD_DEPTH} deep') as info:
        parse_json_record(line)
    assert info.value.expression == "x" and info.value.record_id is None


def test_a_deep_binding_still_echoes_a_shallow_id():
    with pytest.raises(RecordError) as info:
        parse_json_record('{"expr": "x", "id": [7], "bindings": {"x": ' + nested(100) + "}}")
    assert info.value.record_id == [7]


def test_depth_at_the_limit_is_a_record():
    record = parse_json_record('{"expr": "x", "id": ' + nested(limits.MAX_RECORD_DEPTH) + "}")
    assert record["id"] is not None


@pytest.mark.parametrize("jobs", [1, 2])
def test_nested_records_do_not_stop_the_batch(jobs):
    lines = [json.dumps({"expr": "x*2", "bindings": {"x": k}}) for k in range(40)]
    lines[10] = '{"expr": "x", "id": ' + nested(900, "") + "}"
    lines[20] = '{"expr": "x", "bindings": {"x": ' + nested(600) + "}}"
    code, records, _ = run("\n".join(lines) + "\n", jobs=jobs)
    assert code == 1 and len(records) == 40
    assert [r["line"] for r in records if r["status"] == "error"] == [11, 21]
    assert all(r["value"] == 2.0 * k for k, r in enumerate(records) if k not in (10, 20))


def test_pool_survives_what_cannot_be_pickled(monkeypatch):
    """Robust pickling: a record that slips past the grammar and cannot be pickled (here: a
    self-referencing id) is an error record; the other records still run."""
    real = pool_module._pickled

    def pickled(tasks):
        if any(record.get("id") == "unpicklable" for _, _, record in tasks):
            return None
        return real(tasks)
    monkeypatch.setattr(pool_module, "_pickled", pickled)
    text = "".join(f"x*{k} | x=1 --id {'unpicklable' if k == 3 else k}\n" for k in range(12))
    code, records, _ = run(text, jobs=2)
    assert code == 1 and len(records) == 12
    assert records[3]["error"]["kind"] == "record" and "cannot be sent" in records[3]["error"]["message"]
    assert [r["value"] for k, r in enumerate(records) if k != 3] == [float(k) for k in range(12) if k != 3]


def test_pickling_helpers_turn_failures_into_values():
    deep = []
    for _ in range(100_000):
        deep = [deep]
    assert pool_module._pickled([(0, 1, {"expr": "x", "id": deep})]) is None
    message = pool_module._result_message(0, {"expression": "x", "status": "ok", "line": 1, "id": deep}, 0.0, True)
    seq, payload, status, _ = __import__("pickle").loads(message)
    assert status == "error" and json.loads(payload)["error"]["kind"] == "internal"


# Control characters, bidi marks, lone surrogates, quotes: whatever a line holds.
TEXT = st.text(alphabet=st.characters(blacklist_characters="\n\r"), max_size=12)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3), max_leaves=12)


@st.composite
def hostile_line(draw):
    kind = draw(st.sampled_from(["json", "deep", "text", "raw"]))
    if kind == "json":
        record = {"expr": draw(st.sampled_from(["x*2", "x +", "sum(x)"]) | TEXT)}
        for key in draw(st.sets(st.sampled_from(["bindings", "id", "wrt", "gradient", "mode", "other"]))):
            record[key] = draw(st.fixed_dictionaries({"x": JSON_VALUES}) if key == "bindings" else JSON_VALUES)
        return json.dumps(record)
    if kind == "deep":
        depth = draw(st.integers(0, 1500))
        value = draw(st.sampled_from([nested(depth, ""), nested(depth), '{"a":' * depth + "1" + "}" * depth]))
        key = draw(st.sampled_from(["id", "gradient", "wrt"]))
        return '{"expr": "x", "bindings": {"x": 1}, "%s": %s}' % (key, value)
    if kind == "text":
        return f"x*2 | x=1 --id {draw(TEXT)!r}"
    return draw(TEXT)


@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(hostile_line(), min_size=1, max_size=12))
def test_fuzz_record_reader_under_two_workers(lines):
    """Every record line yields exactly one output record, in order, as strict JSON; the batch
    never stops and nothing becomes an internal error."""
    text = "\n".join(lines) + "\n"
    expected = [number for number, _ in read_records(text.encode("utf-8", "surrogatepass").splitlines(True))]
    code, records, err = run(text, jobs=2)
    assert code in (0, 1), err
    assert [r["line"] for r in records] == expected
    for r in records:
        assert r["status"] in ("ok", "error", "mismatch")
        if r["status"] == "error":
            assert r["error"]["kind"] != "internal", r


# --- finding 3: every op's result is counted before it is computed ------------------------------

@pytest.mark.parametrize("expr, shapes, where", [
    ("sum(x*y)", ((1000, 1), (1, 1000)), "'*' at column 6"),
    ("sum(x@y)", ((1000, 1), (1, 1000)), "'@' at column 6"),
    ("sum(pow(x, y))", ((1000, 1), (1000,)), "pow() at column 5"),
    ("sum(x + y)", ((1000, 1, 0), (1, 1000, 1)), "'+' at column 7"),
])
def test_an_op_result_over_the_limit_is_refused(monkeypatch, expr, shapes, where):
    monkeypatch.setenv("AUTODIFF_MAX_ELEMENTS", "1000")
    x, y = (np.zeros(shape) for shape in shapes)
    result = evaluate(expr, {"x": x, "y": y}, check=False)
    assert result.error is not None and result.error.kind == "limit"
    message = str(result.error)
    assert where in message and "(1000, 1000" in message and "AUTODIFF_MAX_ELEMENTS" in message
    assert result.error.position == int(where.rsplit(" ", 1)[1])


def test_an_op_result_at_the_limit_is_computed(monkeypatch):
    monkeypatch.setenv("AUTODIFF_MAX_ELEMENTS", "1000000")
    result = evaluate("sum(x*y)", {"x": np.ones((1000, 1)), "y": np.ones((1, 1000))}, check=False)
    assert result.error is None and float(result.value) == 1e6


def test_a_shape_mismatch_is_still_a_shape_error(monkeypatch):
    monkeypatch.setenv("AUTODIFF_MAX_ELEMENTS", "100")
    result = evaluate("sum(x*y)", {"x": np.ones(20), "y": np.ones(30)}, check=False)
    assert result.error.kind == "shape"


# --- finding 5: the window is bounded in bytes ---------------------------------------------------

def test_window_holds_one_big_record_and_many_small_ones():
    pool = pool_module.Pool.__new__(pool_module.Pool)
    pool.window, pool.next_seq, pool.next_out = 64, 0, 0
    pool.window_bytes = 0
    assert pool._room()                                   # always room for one
    pool.next_seq, pool.window_bytes = 1, 100 * limits.WINDOW_BYTES
    assert not pool._room()                               # one huge line: nothing more
    pool.next_seq, pool.window_bytes = 10, 1000
    assert pool._room()
    pool.next_seq = 64
    assert not pool._room()


def test_big_records_in_order_with_two_workers(monkeypatch):
    monkeypatch.setattr(pool_module, "WINDOW_BYTES", 100_000)
    record = json.dumps({"expr": "sum(x)", "bindings": {"x": [1.0] * 30_000}})
    code, records, _ = run((record + "\n") * 12, jobs=2)
    assert code == 0 and [r["value"] for r in records] == [30_000.0] * 12


# --- finding 7: a batch file reads files from its own folder ------------------------------------

@pytest.fixture
def fenced(tmp_path):
    folder = tmp_path / "batch"
    folder.mkdir()
    (folder / "in.csv").write_text("1,2\n")
    (tmp_path / "secret.csv").write_text("root:x:0:0\n")
    os.symlink(tmp_path / "secret.csv", folder / "link.csv")
    return folder


def test_outside_the_folder_is_refused_without_saying_whether_it_exists(fenced):
    messages = {}
    with files_under(str(fenced), str(fenced)):
        assert parse_value("@in.csv").tolist() == [1.0, 2.0]
        for path in ("../secret.csv", "../missing.csv", "link.csv", str(fenced.parent / "secret.csv")):
            with pytest.raises(AutodiffError) as info:
                parse_value(f"@{path}", name="x")
            messages[path] = str(info.value).replace(path, "PATH")
    assert len(set(messages.values())) == 1, messages
    assert "root:x" not in next(iter(messages.values()))


def test_batch_reads_relative_paths_from_its_folder_and_files_root_widens(fenced, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (fenced / "records.txt").write_text("sum(x) | x=@in.csv\nsum(x) | x=@link.csv\n")
    out, err = io.StringIO(), io.StringIO()
    assert run_batch(str(fenced / "records.txt"), json_output=True, check=False, out=out, err=err) == 1
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert records[0]["value"] == 3.0 and "outside" in records[1]["error"]["message"]
    out = io.StringIO()
    assert run_batch(str(fenced / "records.txt"), json_output=True, check=False, files_root=str(tmp_path),
                     out=out, err=err) == 1          # the secret is not numbers: an error, but read
    assert "root:x" in out.getvalue().splitlines()[1]


def test_outside_files_under_nothing_changes(tmp_path):
    (tmp_path / "a.csv").write_text("5\n")
    assert parse_value(f"@{tmp_path}/a.csv").tolist() == [5.0]


# --- finding 8: output that cannot be written ---------------------------------------------------

class FullDisk(io.StringIO):
    def write(self, text):
        raise OSError(28, "No space left on device")


@pytest.mark.parametrize("jobs", [1, 2])
def test_unwritable_output_blames_the_output(jobs):
    err = io.StringIO()
    code = run_batch("-", json_output=True, check=False, jobs=jobs, stdin=io.BytesIO(b"x | x=1\n"),
                     out=FullDisk(), err=err)
    assert code == 2 and err.getvalue() == "error: cannot write output: No space left on device\n"


# --- finding 9: option values ------------------------------------------------------------------

@pytest.mark.parametrize("timeout", [float("inf"), 1e10, float("nan"), -1.0])
def test_timeout_out_of_range_is_refused(timeout):
    code, records, err = run("x | x=1\n", timeout=timeout)
    assert code == 2 and records == [] and "--timeout must be between 0 and 1000000" in err


@pytest.mark.parametrize("variable", ["AUTODIFF_TIMEOUT", "AUTODIFF_CHECK_SECONDS"])
def test_environment_seconds_out_of_range(monkeypatch, variable):
    monkeypatch.setenv(variable, "1e10")
    assert variable in limits.settings_problem()
    result = evaluate("x**2", {"x": 3.0})               # the library says so too, as a usage error
    if variable == "AUTODIFF_CHECK_SECONDS":
        assert result.error.kind == "usage" and variable in str(result.error)
    else:
        code, _, err = run("x | x=1\n")
        assert code == 2 and variable in err


@pytest.mark.parametrize("seed", [-1, 1.5, True])
def test_random_seed_must_be_a_whole_number_from_0(seed):
    result = evaluate("sum(x)", {"x": "rand(3)"}, random_seed=seed)
    assert result.error.kind == "usage" and "random seed" in str(result.error)


def test_jobs_are_clamped_to_a_few_per_cpu(monkeypatch):
    seen = []
    monkeypatch.setattr(pool_module, "run_parallel", lambda batch, records, progress, reader, jobs: seen.append(jobs))
    run("x | x=1\n", jobs=100_000)
    assert seen == [(os.cpu_count() or 1) * limits.MAX_JOBS_PER_CPU]


def test_workers_start_only_as_records_arrive(monkeypatch):
    started = []
    real = pool_module.Pool._new_worker

    def new_worker(self):
        started.append(1)
        return real(self)
    monkeypatch.setattr(pool_module.Pool, "_new_worker", new_worker)
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    code, records, _ = run("x | x=1\n", jobs=200)
    assert code == 0 and len(records) == 1 and len(started) == 1
