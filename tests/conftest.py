"""Every JSON record the tests produce in this process is validated against the published schema
(tests/support/schema.py): Result.as_dict() and the one record writer (result.dumps, as imported by the
CLI and batch modules) are wrapped for each test. Records from subprocesses are validated by the
tests' own helpers (test_cli.strict_json, test_batch)."""
import importlib.util
import re
import sys
from pathlib import Path

import os

import pytest
from hypothesis import settings

# The tests' helpers (tests/support: seeds, schema, the hostile corpus, ...) and the folders of the test
# modules whose helpers other tests import (test_cli's CLI runners, test_fuzz's and test_lowering's
# expression strategies, test_hostile's run_cli).
for _folder in ("support", "cli", "e2e", "language"):
    sys.path.insert(0, str(Path(__file__).resolve().parent / _folder))
from schema import validate  # noqa: E402
from autodiff_cli import result as result_module

# Property tests draw the same examples on every run ("deterministic", the default), so that the
# README's test command gives the same answer twice; HYPOTHESIS_PROFILE=explore draws new ones each
# run (what found the x**y Hessian bug; run it when changing the engine or the check).
settings.register_profile("deterministic", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))

_as_dict = result_module.Result.as_dict
_dumps = result_module.dumps


def _validated_as_dict(self, *args, **kwargs):
    return validate(_as_dict(self, *args, **kwargs))


def _validated_dumps(record, **options):
    if isinstance(record, dict) and "status" in record:
        validate(record)
    return _dumps(record, **options)


@pytest.fixture(autouse=True)
def validate_every_record(monkeypatch):
    monkeypatch.setattr(result_module.Result, "as_dict", _validated_as_dict)
    for name, module in list(sys.modules.items()):
        if name.startswith("autodiff_cli") and getattr(module, "dumps", None) is _dumps:
            monkeypatch.setattr(module, "dumps", _validated_dumps)
    yield


# --- a run without PyTorch says so ------------------------------------------------------------------
# The PyTorch oracle modules skip as a whole when torch is missing (a module-level importorskip):
# hundreds of comparisons would show as a handful of "skipped". The header and the summary say so.

TORCH_ORACLE_MODULES = sorted(
    path.name for path in Path(__file__).parent.rglob("test_*.py")
    if re.search(r'^\w+ = pytest\.importorskip\("torch"\)', path.read_text(encoding="utf-8"), re.M))


def torch_installed():
    try:
        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):
        return False


def torch_missing_line():
    return (f"torch not installed: {len(TORCH_ORACLE_MODULES)} PyTorch oracle modules skipped "
            f"({', '.join(TORCH_ORACLE_MODULES)}) -- this is not a full run")


def pytest_report_header(config):
    if not torch_installed():
        return torch_missing_line()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not torch_installed():
        terminalreporter.write_sep("!", torch_missing_line(), yellow=True, bold=True)
