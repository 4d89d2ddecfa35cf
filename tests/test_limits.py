"""Limit settings from the environment: numbers in any float notation; anything else warns once."""
from autodiff_cli.settings import limits
from autodiff_cli.api import evaluate


def test_scientific_notation_sets_a_count(monkeypatch):
    monkeypatch.setenv("AUTODIFF_MAX_ELEMENTS", "1e1")
    assert limits.max_elements() == 10
    result = evaluate("sum(x)", {"x": "ones(11)"}, check=False)
    assert result.error.kind == "limit" and "the limit is 10" in result.error.message


def test_invalid_value_falls_back_to_the_default_with_a_warning(monkeypatch, capsys):
    monkeypatch.setattr(limits, "_reported", set())
    for bad in ("abc", "-5", "2.5", "inf"):
        monkeypatch.setenv("AUTODIFF_MAX_DEPTH", bad)
        limits._reported.clear()
        assert limits.max_nesting_depth() == 1_000
        assert f"AUTODIFF_MAX_DEPTH='{bad}'" in capsys.readouterr().err


def test_the_warning_is_given_once(monkeypatch, capsys):
    monkeypatch.setattr(limits, "_reported", set())
    monkeypatch.setenv("AUTODIFF_CHECK_SECONDS", "soon")
    limits.check_time_budget()
    limits.check_time_budget()
    assert capsys.readouterr().err.count("AUTODIFF_CHECK_SECONDS") == 1


def test_fractional_seconds_are_fine(monkeypatch):
    monkeypatch.setenv("AUTODIFF_TIMEOUT", "0.25")
    assert limits.record_timeout() == 0.25
