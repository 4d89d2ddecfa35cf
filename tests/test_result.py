"""result.py: the one strict-JSON encoder and the error record every output path uses."""
import json
import math

import numpy as np
import pytest

from autodiff_cli.errors import AutodiffError
from autodiff_cli.api import Result
from autodiff_cli.api import evaluate     # Result is still importable from evaluate
from autodiff_cli.result import dumps, error_record, json_array, json_number, json_value


def strict(text):
    return json.loads(text, parse_constant=lambda name: (_ for _ in ()).throw(ValueError(name)))


def test_json_number_spells_non_finite_numbers():
    assert [json_number(v) for v in (1.5, math.nan, math.inf, -math.inf)] == [1.5, "nan", "inf", "-inf"]


def test_json_array_keeps_shape_and_spells_non_finite():
    assert json_array(np.array([[1.0, np.nan], [np.inf, -np.inf]])) == [[1.0, "nan"], ["inf", "-inf"]]
    assert json_array(np.array(np.nan)) == "nan"
    assert json_array(np.zeros((0, 3))) == []
    assert json_array(None) is None
    assert json_array(np.arange(3.0)) == [0.0, 1.0, 2.0]


def test_json_value_walks_records():
    record = {"a": [1.0, float("nan")], "b": (np.float64("inf"),), "c": {"d": np.array([-np.inf])}, "e": "x"}
    assert json_value(record) == {"a": [1.0, "nan"], "b": ["inf"], "c": {"d": ["-inf"]}, "e": "x"}


def test_dumps_is_strict_even_when_a_caller_left_a_nan():
    assert strict(dumps({"value": float("nan"), "x": [float("-inf")]})) == {"value": "nan", "x": ["-inf"]}
    assert strict(dumps({"x": object()}))["x"].startswith("<object")


def test_error_record_from_an_error_or_a_kind():
    err = AutodiffError("parse", "unexpected '*'", 3)
    assert error_record("x +* y", err, line=4, id="a") == {
        "expression": "x +* y", "status": "error",
        "error": {"kind": "parse", "message": "unexpected '*' at column 3", "position": 3}, "line": 4, "id": "a"}
    assert error_record("x", "timeout", "stopped") == {
        "expression": "x", "status": "error", "error": {"kind": "timeout", "message": "stopped", "position": None}}


def test_result_records_use_the_encoder():
    result = evaluate("log(x)", {"x": 0}, check=False)
    record = strict(result.to_json())
    assert isinstance(result, Result)
    assert record["value"] == "-inf" and record["gradients"] == {"x": "inf"}
    bad = evaluate("x +", {"x": 1}, check=False)
    assert bad.as_dict() == error_record("x +", bad.error)


def test_the_published_schema_accepts_records_and_rejects_broken_ones():
    from schema import validate
    record = evaluate("sum(x**3)*y", {"x": [1, 2], "y": 3}, mode="hessian").as_dict()
    validate(record)
    for key, broken in (("status", "fine"), ("symbolic", {"x": 3}), ("hessian_matrix", [["a"]]),
                        ("shapes", {"value": [-1], "inputs": {}}), ("check", {"method": "sympy"})):
        with pytest.raises(AssertionError, match="does not match"):
            validate({**record, key: broken})
    without_value = dict(record)
    del without_value["value"]
    with pytest.raises(AssertionError, match="value"):
        validate(without_value)
