"""Every JSON record the tests produce in this process is validated against the published schema
(tests/schema.py): Result.as_dict() and the one record writer (result.dumps, as imported by the
CLI and batch modules) are wrapped for each test. Records from subprocesses are validated by the
tests' own helpers (test_cli.strict_json, test_batch)."""
import sys

import pytest

from schema import validate
from autodiff_cli import result as result_module

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
