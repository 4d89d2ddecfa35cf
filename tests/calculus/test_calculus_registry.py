"""calculus/__init__.py: the registry of modes. Every mode is named by its key and has a summary and
examples; `options_for` fills a mode's defaults, checks values, and refuses an option of another
mode naming the mode it belongs to; api.evaluate refuses an unknown mode."""
import pytest

from autodiff_cli.api import evaluate
from autodiff_cli.calculus import MODES, Mode, options_for
from autodiff_cli.calculus import derivatives as derivatives_module
from autodiff_cli.errors import AutodiffError

ALL_OPTIONS = ("gradient", "order", "tangents")


def test_the_registry_holds_the_five_modes_by_name():
    assert list(MODES) == ["grad", "hessian", "jacobian", "derivatives", "jvp"]
    for name, mode in MODES.items():
        assert isinstance(mode, Mode)
        assert mode.name == name


@pytest.mark.parametrize("name", list(MODES))
def test_every_mode_has_a_one_line_summary_and_examples(name):
    mode = MODES[name]
    assert isinstance(mode.summary, str) and mode.summary.strip() and "\n" not in mode.summary
    assert mode.summary.endswith(".")
    assert len(mode.examples) >= 2 and all(isinstance(e, str) and e.strip() for e in mode.examples)
    commands = [e for e in mode.examples if e.startswith("autodiff ")]
    assert commands and all(e.startswith(f"autodiff {name} ") for e in commands)


@pytest.mark.parametrize("name", list(MODES))
def test_every_mode_options_are_known_options_each_with_one_owner(name):
    assert set(MODES[name].options) <= set(ALL_OPTIONS)
    for option in ALL_OPTIONS:
        owners = [m.name for m in MODES.values() if option in m.options]
        assert len(owners) == 1


def test_defaults_are_filled():
    assert options_for(MODES["grad"], {"gradient": None, "order": None, "tangents": None}) == {"gradient": None}
    assert options_for(MODES["derivatives"], {"order": None}) == {"order": derivatives_module.DEFAULT_ORDER}
    assert options_for(MODES["jvp"], {}) == {"tangents": None}
    assert options_for(MODES["hessian"], {"gradient": None, "order": None, "tangents": None}) == {}


def test_given_values_are_kept_and_checked():
    assert options_for(MODES["grad"], {"gradient": "ones"}) == {"gradient": "ones"}
    assert options_for(MODES["derivatives"], {"order": 4}) == {"order": 4}
    assert options_for(MODES["jvp"], {"tangents": {"x": 1}}) == {"tangents": {"x": 1}}
    for bad in (0, -1, 2.5, True, "3"):
        with pytest.raises(AutodiffError) as caught:
            options_for(MODES["derivatives"], {"order": bad})
        assert caught.value.kind == "usage" and "order must be a whole number >= 1" in caught.value.message


@pytest.mark.parametrize("mode, option, value, message", [
    ("hessian", "gradient", "ones", "a gradient seed goes with mode grad, not hessian"),
    ("grad", "order", 3, "an order goes with mode derivatives, not grad"),
    ("jacobian", "tangents", {"x": 1}, "tangents go with mode jvp, not jacobian"),
    ("jvp", "gradient", 1, "a gradient seed goes with mode grad, not jvp"),
    ("derivatives", "tangents", {"x": 1}, "tangents go with mode jvp, not derivatives"),
])
def test_another_modes_option_is_refused_naming_its_owner(mode, option, value, message):
    with pytest.raises(AutodiffError) as caught:
        options_for(MODES[mode], {option: value})
    assert (caught.value.kind, caught.value.message) == ("usage", message)


def test_the_same_refusals_through_evaluate():
    result = evaluate("x**2", {"x": 1}, mode="hessian", gradient="ones", check=False)
    assert result.status == "error" and result.exit_code == 2
    assert (result.error.kind, result.error.message) == ("usage", "a gradient seed goes with mode grad, not hessian")
    result = evaluate("x**2", {"x": 1}, mode="derivatives", order=2, check=False)
    assert result.status == "ok" and result.derivatives[2]["x"]["x"] == 2.0


@pytest.mark.parametrize("mode", ["gradient", "Grad", "", None, "minimize"])
def test_an_unknown_mode_is_a_usage_error_listing_the_modes(mode):
    result = evaluate("x**2", {"x": 1}, mode=mode, check=False)
    assert result.status == "error" and result.exit_code == 2
    assert result.error.kind == "usage"
    assert result.error.message == (f"unknown mode {mode!r}: expected one of "
                                    "grad, hessian, jacobian, derivatives, jvp")
