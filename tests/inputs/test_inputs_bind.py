"""inputs/bind.py: a program's values (every unbound variable reported at once, at the column of
the first one's first use; unused bindings warned about), the names to differentiate (--wrt), and
the backward pass's seed."""
import numpy as np
import pytest

from autodiff_cli.engine import Tensor
from autodiff_cli.errors import AutodiffError
from autodiff_cli.inputs.bind import bind, differentiated, gradient_seed
from autodiff_cli.language import parse

RNG = np.random.default_rng(0)


def test_values_in_the_programs_order_as_float64_arrays():
    program = parse("x + z*y")
    values, warnings = bind(program, {"y": [1, 2], "x": 3, "z": Tensor([0.5, 0.25])}, RNG)
    assert list(values) == program.inputs == ["x", "z", "y"]
    assert all(isinstance(v, np.ndarray) and v.dtype == np.float64 for v in values.values())
    np.testing.assert_array_equal(values["z"], [0.5, 0.25])
    assert values["x"].shape == () and float(values["x"]) == 3.0
    assert warnings == []


def test_binding_strings_use_the_binding_grammar():
    values, _ = bind(parse("sum(x)"), {"x": "ones(3)"}, RNG)
    np.testing.assert_array_equal(values["x"], [1.0, 1.0, 1.0])


def test_unbound_variables_are_reported_together_at_the_first_ones_column():
    program = parse("x + z*y + y")
    with pytest.raises(AutodiffError) as caught:
        bind(program, {"x": 1}, RNG)
    err = caught.value
    assert (err.kind, err.message) == ("name", "unbound variables 'z', 'y'")
    assert err.position == 5                       # z, the first missing input, at its first use
    assert err.hint == "bind them, e.g. z=1 y=1"
    assert err.source == "x + z*y + y"


def test_one_unbound_variable_in_a_later_statement():
    with pytest.raises(AutodiffError) as caught:
        bind(parse("a = 2*x\nb = a + w\nb"), {"x": 1}, RNG)
    err = caught.value
    assert (err.message, err.position, err.hint) == ("unbound variable 'w'", 17, "bind it, e.g. w=1")


def test_the_column_is_the_first_use_not_a_later_one():
    with pytest.raises(AutodiffError) as caught:
        bind(parse("sin(cos(q)) + q*q"), {}, RNG)
    assert caught.value.position == 9


def test_unused_bindings_are_warned_about_and_dropped():
    values, warnings = bind(parse("a = x + 1; a * 2"), {"x": 1, "q": 2, "a": 3}, RNG)
    assert list(values) == ["x"]
    assert warnings == ["binding 'q' is not used by the expression; ignored",
                        "binding 'a' is an intermediate the program computes; ignored"]


@pytest.mark.parametrize("bad", [True, None, {"a": 1}])
def test_values_that_are_not_numbers_are_refused(bad):
    with pytest.raises(AutodiffError) as caught:
        bind(parse("x"), {"x": bad}, RNG)
    assert caught.value.kind == "binding" and "for x" in caught.value.message


def test_differentiated_defaults_to_every_input():
    program = parse("x*y + z")
    assert differentiated(program, None) == ["x", "y", "z"]
    assert differentiated(program, "") == ["x", "y", "z"]


@pytest.mark.parametrize("wrt, names", [
    ("y", ["y"]), ("z,x", ["z", "x"]), (" y , x ", ["y", "x"]), ("x,x,y", ["x", "y"]),
    (["z", "y"], ["z", "y"]), ([" x"], ["x"]),
])
def test_wrt_parsing(wrt, names):
    assert differentiated(parse("x*y + z"), wrt) == names


@pytest.mark.parametrize("wrt, named", [("q", "'q'"), ("x,q", "'q'"), ("x,", "''"), (["x", 1], "1"), ("a", "'a'")])
def test_wrt_naming_something_else_is_a_usage_error(wrt, named):
    with pytest.raises(AutodiffError) as caught:
        differentiated(parse("a = x*y; a + z"), wrt)
    assert caught.value.kind == "usage"
    assert caught.value.message == (f"--wrt names {named}, which is not an input variable of the expression "
                                    "(its inputs: x, y, z)")


def test_wrt_of_a_program_without_inputs():
    with pytest.raises(AutodiffError) as caught:
        differentiated(parse("1 + 2"), "x")
    assert caught.value.message.endswith("(its inputs: none)")
    assert differentiated(parse("1 + 2"), None) == []


@pytest.mark.parametrize("shape", [(), (1,), (1, 1)])
def test_gradient_seed_is_implicit_for_one_element(shape):
    assert gradient_seed(None, shape, RNG) is None


def test_gradient_seed_must_be_given_for_more_elements():
    with pytest.raises(AutodiffError) as caught:
        gradient_seed(None, (2, 2), RNG)
    assert caught.value.kind == "shape"
    assert caught.value.message == ("grad can be implicitly created only for scalar outputs, and the output "
                                    "has shape (2, 2)")
    assert caught.value.hint == "pass --gradient ones, or reduce with sum()/mean()"


def test_gradient_seed_values():
    np.testing.assert_array_equal(gradient_seed("ones", (2, 3), RNG), np.ones((2, 3)))
    np.testing.assert_array_equal(gradient_seed("[1, -2]", (2,), RNG), [1.0, -2.0])
    np.testing.assert_array_equal(gradient_seed([[1], [2]], (2, 1), RNG), [[1.0], [2.0]])
    assert float(gradient_seed(3, (), RNG)) == 3.0
    with pytest.raises(AutodiffError) as caught:
        gradient_seed([1, 2, 3], (2,), RNG)
    assert (caught.value.kind, caught.value.message) == ("shape", "gradient has shape (3,) but the output has shape (2,)")
    with pytest.raises(AutodiffError) as caught:
        gradient_seed([1.0], (), RNG)
    assert caught.value.kind == "shape"
