"""Hostile and broken input through the INSTALLED command line, in subprocesses with a time limit
and a 2 GiB address-space limit (tests/support/hostile_corpus.py holds the cases).

Every run must: exit with the expected code; never print a Python traceback or "internal error";
with an error, print exactly one `error: ...` line on stderr (warnings before it; after it only
the caret picture of a parse error or click's "Try --help" line); with --json print only strict
RFC 8259 JSON on stdout (the error record too: status "error" and {kind, message, position});
in batch mode print one record per input record, in input order. No injection payload may
create its marker file.

The sweep runs in 4 tests (interleaved parts, for pytest-xdist's workers), each on a small thread
pool reporting every failing case of its part at once; known
defects, once fixed, stay in the corpus as regression cases (category "fixed").
"""
import collections
import errno
import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
import hostile_corpus as corpus  # noqa: E402
from schema import validate  # noqa: E402

ADDRESS_SPACE = 2 * 1024**3       # numpy, sympy and a batch's forked workers all fit in this
WORKERS = 3
BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
MIN_CASES = 150


def _cli():
    script = Path(sys.executable).with_name("autodiff")
    return [str(script)] if script.exists() else [sys.executable, "-m", "autodiff_cli"]


# The address-space limit is set by a tiny exec wrapper, not preexec_fn (unsafe with threads).
_LIMITED = ("import os, resource, sys; "
            "resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[1]), int(sys.argv[1]))); "
            "os.execv(sys.argv[2], sys.argv[2:])")


def _reject_constant(name):
    raise ValueError(f"non-standard JSON constant {name}")


def strict_json(line):
    return validate(json.loads(line, parse_constant=_reject_constant))


def _fill(value, tmp, marker):
    if isinstance(value, bytes):
        return value.replace(b"{tmp}", str(tmp).encode()).replace(b"{marker}", str(marker).encode())
    return value.replace("{tmp}", str(tmp)).replace("{marker}", str(marker))


def run_cli(args, *, stdin=None, env=None, timeout=120.0, address_space=ADDRESS_SPACE, stdout_file=None):
    """The installed CLI in a subprocess, limited in time and memory. Returns CompletedProcess
    (bytes) or raises subprocess.TimeoutExpired / OSError. The limits bound the run (a hang, a
    quadratic parser, a runaway allocation fail it); nothing compares wall-clock times.
    stdout_file: send stdout there (e.g. /dev/full) instead of capturing it."""
    if args and args[0] == "@python-m":
        command = [sys.executable, "-m", "autodiff_cli"] + list(args[1:])
    else:
        command = _cli() + list(args)
    executable = shutil.which(command[0]) or command[0]
    full = [sys.executable, "-c", _LIMITED, str(address_space), executable] + command[1:]
    full_env = dict(os.environ, NO_COLOR="1", COLUMNS="120", PYTHONIOENCODING="utf-8")
    for key in [k for k in full_env if k.startswith("AUTODIFF_")]:
        del full_env[key]
    full_env.update(env or {})
    data = stdin.encode("utf-8", "surrogatepass") if isinstance(stdin, str) else stdin
    if stdout_file is None:
        return subprocess.run(full, input=data if data is not None else b"", capture_output=True,
                              env=full_env, timeout=timeout)
    with open(stdout_file, "wb") as out:
        proc = subprocess.run(full, input=data if data is not None else b"", stdout=out,
                              stderr=subprocess.PIPE, env=full_env, timeout=timeout)
    proc.stdout = b""
    return proc


def _stderr_problems(err, *, usage):
    """One `error:` line; warnings only before it; after it a caret picture or click's hint."""
    lines = err.split("\n")   # not splitlines(): U+2028 inside an echoed expression is no line end
    errors = [i for i, line in enumerate(lines) if line.startswith("error:")]
    if len(errors) != 1:
        return [f"expected exactly one 'error:' line on stderr, got {len(errors)}: {err[:300]!r}"]
    first = errors[0]
    problems = [f"stderr line before the error is not a warning: {line[:120]!r}"
                for line in lines[:first] if not line.startswith("warning:")]
    for line in lines[first + 1:]:
        if not (line.startswith("  ") or line.startswith("Try '") or line.startswith("(") or line == ""):
            problems.append(f"unexpected stderr line after the error: {line[:120]!r}")
    return problems


def check_case(case, tmp):
    """Run one case; return a list of problems (empty: the case passed)."""
    marker = tmp / "markers" / case.id.replace(":", "_").replace("/", "_")
    args = [_fill(a, tmp, marker) for a in case.args]
    stdin = None if case.stdin is None else _fill(case.stdin, tmp, marker)
    env = {k: _fill(v, tmp, marker) for k, v in case.env.items()}
    try:
        proc = run_cli(args, stdin=stdin, env=env, timeout=case.timeout, address_space=case.address_space,
                       stdout_file=case.stdout_file)
    except subprocess.TimeoutExpired:
        return [f"no answer within {case.timeout} s (a hang)"]
    except OSError as exc:
        if case.rc == -errno.E2BIG and exc.errno == errno.E2BIG:
            return []          # the kernel refuses argv this long: nothing of ours ran
        return [f"could not start: {exc}"]
    if case.rc == -errno.E2BIG:
        return [f"expected the OS to refuse a {sum(map(len, args))}-byte argv, but it ran"]
    out = proc.stdout.decode("utf-8", "replace")
    err = proc.stderr.decode("utf-8", "replace")
    problems = []
    if proc.returncode != case.rc:
        problems.append(f"exit code {proc.returncode}, expected {case.rc}")
    if case.stdout_file is not None:          # nothing to read on stdout: stderr says it all
        return problems + _unwritable_output_problems(case, err)
    for stream, text in (("stdout", out), ("stderr", err)):
        if "Traceback" in text:
            problems.append(f"Python traceback on {stream}")
        if "internal error" in text and not case.help:
            problems.append(f"'internal error' on {stream}: {text[:300]!r}")
    is_batch = bool(case.args) and case.args[0] == "batch"
    is_json = "--json" in case.args
    records = []
    for line in out.splitlines() if is_json else ():
        if not line.strip():
            continue
        try:
            records.append(strict_json(line))
        except ValueError as exc:
            problems.append(f"stdout line is not strict JSON ({exc}): {line[:200]!r}")
    if is_batch:
        if proc.returncode == 2:
            if not err.startswith("error:"):
                problems.append(f"unusable batch input: stderr should start with 'error:': {err[:200]!r}")
            if out.strip():
                problems.append(f"unusable batch input printed records: {out[:200]!r}")
        elif is_json:
            if case.records is not None and len(records) != case.records:
                problems.append(f"{len(records)} output records for {case.records} input records")
            numbers = [r.get("line") for r in records]
            if numbers != sorted(numbers) or len(set(numbers)) != len(numbers):
                problems.append(f"records out of input order: lines {numbers}")
            got = [r.get("status") for r in records]
            if case.statuses is not None and got != case.statuses:
                problems.append(f"statuses {got}, expected {case.statuses}")
            for r in records:
                if r.get("status") == "error" and set(r.get("error", {})) != {"kind", "message", "position"}:
                    problems.append(f"error record without kind/message/position: {r}")
            if any(r.get("status") != "ok" for r in records) != (proc.returncode == 1):
                problems.append(f"exit code {proc.returncode} does not match the record statuses {got}")
    elif case.help:
        where, text = ("stdout", out) if proc.returncode == 0 else ("stderr", err)
        if "Usage" not in text:
            problems.append(f"expected the help text on {where}: {text[:200]!r}")
    else:
        if proc.returncode == 2:
            problems += _stderr_problems(err, usage=case.usage)
            if not is_json and out.strip():
                problems.append(f"an error printed something on stdout: {out[:200]!r}")
        elif any(not line.startswith("warning:") for line in err.splitlines() if line.strip()) \
                and proc.returncode == 0:
            problems.append(f"stderr of a successful run has more than warnings: {err[:300]!r}")
        if is_json and not case.usage:
            if len(records) != 1:
                problems.append(f"--json: expected exactly one record on stdout, got {len(records)}: {out[:200]!r}")
            else:
                record = records[0]
                if proc.returncode == 2:
                    if record.get("status") != "error":
                        problems.append(f"status {record.get('status')!r} for an error")
                    error = record.get("error") or {}
                    if set(error) != {"kind", "message", "position"}:
                        problems.append(f"error object keys {sorted(error)}")
                    elif not (isinstance(error["kind"], str) and isinstance(error["message"], str)
                              and (error["position"] is None or isinstance(error["position"], int))):
                        problems.append(f"error object types: {error}")
                    elif "\n" in error["message"]:
                        problems.append("error message spans lines")
                elif proc.returncode == 0 and record.get("status") != "ok" and case.args[0] != "plot":
                    # (plot's record has no status: docs/cli-contract.md, `autodiff plot`)
                    problems.append(f"status {record.get('status')!r} with exit code 0")
        if is_json and case.usage and out.strip():
            problems.append(f"usage error printed on stdout: {out[:200]!r}")
    record = records[0] if records and not is_batch else {}
    if case.kind is not None and not is_batch and record:
        kind = (record.get("error") or {}).get("kind")
        if kind != case.kind:
            problems.append(f"error kind {kind!r}, expected {case.kind!r}")
    if case.value is not None and record.get("value") != case.value:
        problems.append(f"value {str(record.get('value'))[:60]!r}, expected {case.value!r}")
    if case.warn is not None:
        warnings = record.get("warnings") or []
        if not any(case.warn in w for w in warnings):
            problems.append(f"no warning containing {case.warn!r}: {warnings}")
        elif any(w.startswith(" ") or w.startswith("at column") for w in warnings):
            problems.append(f"a warning does not say what produced the value: {warnings}")
    for text in case.has:
        if text not in out + err:
            problems.append(f"output lacks {text!r}")
    if "\x1b" in err or "\x1b" in out:
        problems.append("raw ESC character echoed to stderr")
    if any(ch in out + err for ch in BIDI_CONTROLS):
        problems.append("raw bidi control character echoed")
    if "RuntimeWarning" in err:
        problems.append("a Python warning leaked to stderr")
    return problems


def _unwritable_output_problems(case, err):
    """A run whose stdout cannot be written: one error line that blames the output, not the input."""
    problems = _stderr_problems(err, usage=False)
    if "Traceback" in err or "internal error" in err:
        problems.append(f"a traceback or internal error: {err[:300]!r}")
    if "stdin" in err:
        problems.append(f"the error blames the input: {err[:200]!r}")
    problems += [f"output lacks {text!r}" for text in case.has if text not in err]
    return problems


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    corpus.make_files(tmp)
    return tmp


def _markers(tmp):
    return sorted(p.name for p in (tmp / "markers").iterdir())


def test_corpus_size_and_categories():
    counts = collections.Counter(c.category for c in corpus.CASES if not c.bug)
    assert sum(counts.values()) >= MIN_CASES, counts
    for category in ("syntax", "injection", "names-shapes", "bombs", "numeric", "batch", "cli", "limits",
                     "terminal"):
        assert counts[category] >= 5, (category, counts)
    assert len({c.id for c in corpus.CASES}) == len(corpus.CASES)


PARTS = 4     # the sweep in 4 interleaved parts, so that pytest-xdist's workers share it


@pytest.mark.parametrize("part", range(PARTS))
def test_hostile_corpus(corpus_dir, part):
    """Every non-bug case of the corpus (every PARTS-th one from `part` on), 3 at a time; all
    failures of the part reported together."""
    cases = [c for c in corpus.CASES if not c.bug][part::PARTS]
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        results = list(pool.map(lambda c: (c, check_case(c, corpus_dir)), cases))
    failures = [f"{case.id} {case.args[:3]!r:.100}: " + "; ".join(problems)
                for case, problems in results if problems]
    assert not failures, f"{len(failures)} of {len(cases)} cases failed:\n" + "\n".join(failures)
    assert _markers(corpus_dir) == [], "an injection payload created a file"



def test_packed_inputs(corpus_dir):
    """Every packed input (all syntax garbage, every expression injection) in ONE batch run: one
    error record each, of the expected kind, in order; the batch goes on; nothing is created."""
    marker = corpus_dir / "markers" / "packed"
    records = [{"expr": expr.replace("{marker}", str(marker)), "bindings": bindings, "id": k}
               for k, (_category, expr, bindings, _kind) in enumerate(corpus.PACKED)]
    records.append({"expr": "x**2", "bindings": {"x": 3}, "id": "last"})
    text = "".join(json.dumps(r) + "\n" for r in records)
    proc = run_cli(["batch", "-", "--json", "--no-check"], stdin=text, timeout=300)   # a hang guard
    out, err = proc.stdout.decode(), proc.stderr.decode()
    assert proc.returncode == 1, err
    assert "Traceback" not in out + err and "internal error" not in out + err
    results = [strict_json(line) for line in out.splitlines() if line.strip()]
    assert len(results) == len(records)
    assert [r["id"] for r in results] == [r["id"] for r in records]
    wrong = [(corpus.PACKED[k][1], r["status"], r.get("error"))
             for k, r in enumerate(results[:-1])
             if r["status"] != "error" or r["error"]["kind"] != corpus.PACKED[k][3]]
    assert not wrong, wrong
    assert results[-1]["status"] == "ok" and results[-1]["value"] == 9.0
    assert _markers(corpus_dir) == []
