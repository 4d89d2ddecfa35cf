"""The published JSON Schema of a result record (autodiff_cli/result.schema.json, linked from
docs/), and `validate`, which every test that sees a record calls (directly, or through the
conftest hook on Result.as_dict and the record writer)."""
import json
from importlib import resources

import jsonschema

SCHEMA = json.loads(resources.files("autodiff_cli").joinpath("result.schema.json").read_text())
jsonschema.Draft202012Validator.check_schema(SCHEMA)
_whole = jsonschema.Draft202012Validator(SCHEMA)
# the branch a record claims (a result has a status, a plot record has none): its errors are the precise ones
_branches = {kind: jsonschema.Draft202012Validator({"$defs": SCHEMA["$defs"], "$ref": f"#/$defs/{kind}"})
             for kind in ("result", "plot")}


KEPT_ITEMS = 64   # of a long array, the items validated: jsonschema takes seconds per 10^5 numbers


def _trimmed(value):
    """The record with every long list cut to its first KEPT_ITEMS items: the same structure and
    types to validate, in bounded time (the hostile corpus writes records of millions of numbers)."""
    if isinstance(value, list):
        return [_trimmed(v) for v in value[:KEPT_ITEMS]]
    if isinstance(value, dict):
        return {k: _trimmed(v) for k, v in value.items()}
    return value


def validate(record):
    """Raise AssertionError naming the first violation when `record` does not match the schema."""
    branch = _branches["result" if isinstance(record, dict) and "status" in record else "plot"]
    shown, record = record, _trimmed(record)
    error = jsonschema.exceptions.best_match(branch.iter_errors(record)) or next(_whole.iter_errors(record), None)
    if error is not None:
        where = "/".join(map(str, error.absolute_path)) or "(top)"
        raise AssertionError(f"record does not match result.schema.json at {where}: {error.message}\n{record}")
    return shown


def validate_lines(text):
    """Every JSON line of `text` (a batch's or a command's stdout) validated; returns the records."""
    return [validate(json.loads(line)) for line in text.splitlines() if line.strip().startswith("{")]
