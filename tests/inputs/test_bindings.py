import math
import re

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from autodiff_cli.inputs.bindings import (
    MAX_LIST_DEPTH, parse_binding, parse_binding_arg, parse_gradient_seed, parse_value, value_from_json,
)
from autodiff_cli.errors import AutodiffError


def error(fn, *args, **kwargs):
    with pytest.raises(AutodiffError) as info:
        fn(*args, **kwargs)
    return info.value


# ---------------------------------------------------------------------------------- NAME=VALUE

@pytest.mark.parametrize("text, expected", [
    ("x=2", ("x", "2")), ("W=[1,2]", ("W", "[1,2]")), ("A=@data.npy", ("A", "@data.npy")),
    ("x_1=a=b", ("x_1", "a=b")), ("x=", ("x", "")),
])
def test_binding_arg_split(text, expected):
    assert parse_binding_arg(text) == expected


@pytest.mark.parametrize("text, position", [("x", 2), ("2x=3", 1), ("=3", 1), ("a-b=1", 1), ("x.y=1", 1)])
def test_binding_arg_errors(text, position):
    err = error(parse_binding_arg, text)
    assert err.kind == "binding" and err.position == position and err.source == text


def test_parse_binding_positions_are_columns_of_the_whole_arg():
    assert parse_binding("W=[1,2]")[1].tolist() == [1, 2]
    err = error(parse_binding, "W=[1,2,x]")
    assert err.kind == "binding" and err.position == 8 and err.source == "W=[1,2,x]"


# ---------------------------------------------------------------------------------- numbers

@pytest.mark.parametrize("text, expected", [
    ("2", 2.0), ("-2.5", -2.5), ("1e-3", 1e-3), ("+.5", 0.5), ("3.", 3.0), ("1E5", 1e5),
    ("inf", math.inf), ("-inf", -math.inf), ("pi", math.pi), ("-pi", -math.pi), ("e", math.e),
    ("  7  ", 7.0),
])
def test_numbers(text, expected):
    value = parse_value(text)
    assert value.dtype == np.float64 and value.shape == () and value == expected


def test_nan():
    assert np.isnan(parse_value("nan")) and parse_value("nan").shape == ()


@pytest.mark.parametrize("text", ["xyz", "1_000", "0x10", "1e", "2x", "--2", "pie", "None", "1,2", "(1)"])
def test_anything_else_is_rejected_with_the_forms_listed(text):
    err = error(parse_value, text, name="x")
    assert err.kind == "binding" and err.position == 1
    assert f"cannot read value '{text}' for x" in err.message or "unknown function" in err.message
    assert "rand(2,3)" in err.message and "@file.npy" in err.message


def test_empty_value():
    err = error(parse_binding, "x=")
    assert err.kind == "binding" and "missing value for x" in err.message


# ---------------------------------------------------------------------------------- lists

@pytest.mark.parametrize("text, expected", [
    ("[[1,2,3],[4,5,6]]", [[1, 2, 3], [4, 5, 6]]),
    ("[ -1 , 2.5e1, +3 ]", [-1, 25, 3]),
    ("[[[1]],[[2]]]", [[[1]], [[2]]]),
    ("[pi]", [math.pi]),
])
def test_lists(text, expected):
    value = parse_value(text)
    assert value.dtype == np.float64
    np.testing.assert_array_equal(value, np.array(expected, dtype=float))


def test_empty_lists():
    assert parse_value("[]").shape == (0,)
    assert parse_value("[[],[]]").shape == (2, 0)


@pytest.mark.parametrize("text, position, shapes", [
    ("[[1,2],[3]]", 8, "has shape (1,) but element 1 has shape (2,)"),
    ("[1,[2]]", 4, "has shape (1,) but element 1 has shape ()"),
    ("[[1],2]", 6, "has shape () but element 1 has shape (1,)"),
    ("[[[1,2]],[[1,2],[3,4]]]", 10, "has shape (2, 2) but element 1 has shape (1, 2)"),
])
def test_ragged(text, position, shapes):
    err = error(parse_value, text, name="W")
    assert err.kind == "binding" and "ragged" in err.message and shapes in err.message
    assert err.position == position


@pytest.mark.parametrize("text, position", [
    ("[1,2,]", 6), ("[1 2]", 4), ("[1,,2]", 4), ("[1", 3), ("[1]]", 4), ("[1]x", 4), ("[,]", 2), ("[x]", 2),
])
def test_list_syntax_errors(text, position):
    err = error(parse_value, text)
    assert err.kind == "binding" and err.position == position


def test_list_nesting_limit_without_recursion():
    deep_ok = "[" * MAX_LIST_DEPTH + "1" + "]" * MAX_LIST_DEPTH
    assert parse_value(deep_ok).ndim == MAX_LIST_DEPTH
    err = error(parse_value, "[" * 100_000 + "]" * 100_000)
    assert err.kind == "limit" and "nested" in err.message and err.position == MAX_LIST_DEPTH + 1


def test_list_element_limit():
    err = error(parse_value, "[1,2,3,4]", max_elements=3)
    assert err.kind == "limit"


# ---------------------------------------------------------------------------------- constructors

@pytest.mark.parametrize("text, expected", [
    ("arange(4)", [0, 1, 2, 3]), ("arange(1,5)", [1, 2, 3, 4]), ("arange(0,1,0.25)", [0, 0.25, 0.5, 0.75]),
    ("arange(3,0,-1)", [3, 2, 1]), ("arange(5,1)", []),
    ("ones(2,3)", np.ones((2, 3))), ("zeros(3)", [0, 0, 0]), ("zeros(0)", []),
    ("linspace(0,1,5)", [0, 0.25, 0.5, 0.75, 1]), ("linspace(0, pi, 2)", [0, math.pi]),
    ("eye(2)", np.eye(2)), ("eye(2,3)", np.eye(2, 3)), (" ones( 2 , 3 ) ", np.ones((2, 3))),
])
def test_constructors(text, expected):
    value = parse_value(text)
    assert value.dtype == np.float64
    np.testing.assert_array_equal(value, np.array(expected, dtype=float))


def test_linspace_default_count_and_random_shapes():
    assert parse_value("linspace(0,1)").shape == (50,)
    assert parse_value("rand(2,3)").shape == (2, 3)
    assert parse_value("randn(4)").shape == (4,)
    assert 0 <= parse_value("rand(100)").min() and parse_value("rand(100)").max() < 1


def test_seeded_rand_repeats():
    a = parse_value("rand(2,3)", rng=np.random.default_rng(7))
    b = parse_value("rand(2,3)", rng=np.random.default_rng(7))
    c = parse_value("randn(5)", rng=np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(c, parse_value("randn(5)", rng=np.random.default_rng(7)))
    assert not np.array_equal(a, parse_value("rand(2,3)", rng=np.random.default_rng(8)))


@pytest.mark.parametrize("text, position, words", [
    ("rand(2.5)", 6, "not a whole number"), ("ones(1e2)", 6, "not a whole number"),
    ("zeros(-1)", 7, "negative"), ("ones(2, -3)", 9, "negative"), ("rand()", 1, "takes the shape"),
    ("eye(1,2,3)", 1, "eye(n)"), ("arange()", 1, "arange(stop)"), ("linspace(1)", 1, "linspace(start"),
    ("linspace(0,1,2.5)", 14, "whole number"), ("arange(0,1,0)", 12, "zero"), ("arange(0,inf)", 1, "finite"),
    ("rand(2,)", 8, "is not a number"), ("rand(x)", 6, "is not a number"), ("full(2,3)", 1, "unknown function"),
    ("ones(2)(3)", 6, "is not a number"),
])
def test_constructor_errors(text, position, words):
    err = error(parse_value, text)
    assert err.kind == "binding" and err.position == position and words in err.message


def test_size_limit_is_checked_before_allocating():
    err = error(parse_value, "rand(100000,100000)")
    assert err.kind == "limit"
    assert str(err) == ("rand(100000,100000) would have 10000000000 elements (shape (100000, 100000)); the limit "
                        "is 100000000 (set AUTODIFF_MAX_ELEMENTS to raise it) at column 1")
    assert error(parse_value, "arange(0, 1e300)").kind == "limit"
    assert error(parse_value, "arange(0, 1, 1e-320)").kind == "limit"
    assert error(parse_value, "ones(99999999999999999999999999,0)").kind == "limit"  # beyond any array


def test_size_limit_environment_override(monkeypatch):
    monkeypatch.setenv("AUTODIFF_MAX_ELEMENTS", "10")
    assert parse_value("ones(10)").shape == (10,)
    err = error(parse_value, "ones(11)")
    assert err.kind == "limit" and "the limit is 10 " in err.message
    assert error(parse_value, "[" + ",".join(["1"] * 11) + "]").kind == "limit"
    assert parse_value("ones(11)", max_elements=11).shape == (11,)


# ---------------------------------------------------------------------------------- files

def test_npy_round_trip(tmp_path):
    data = np.arange(12, dtype=np.int32).reshape(3, 4)
    np.save(tmp_path / "a.npy", data)
    value = parse_value(f"@{tmp_path}/a.npy")
    assert value.dtype == np.float64
    np.testing.assert_array_equal(value, data)
    np.save(tmp_path / "s.npy", np.float32(2.5))
    assert parse_value(f"@{tmp_path}/s.npy").shape == ()
    np.save(tmp_path / "f.npy", np.asfortranarray(np.random.default_rng(0).random((3, 2))))
    np.testing.assert_array_equal(parse_value(f"@{tmp_path}/f.npy"), np.load(tmp_path / "f.npy"))


def test_npy_limits(tmp_path, monkeypatch):
    np.save(tmp_path / "a.npy", np.zeros(20))
    monkeypatch.setenv("AUTODIFF_MAX_ELEMENTS", "10")
    assert error(parse_value, f"@{tmp_path}/a.npy").kind == "limit"


def test_pickled_npy_is_never_loaded(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    err = error(parse_value, f"@{tmp_path}/obj.npy", name="A")
    assert err.kind == "binding" and "obj.npy" in err.message and "Python objects" in err.message


@pytest.mark.parametrize("array", [np.array([1j]), np.array(["a"]), np.zeros(2, dtype=[("f", "f8")])])
def test_npy_non_numeric_dtypes(tmp_path, array):
    np.save(tmp_path / "x.npy", array)
    err = error(parse_value, f"@{tmp_path}/x.npy")
    assert err.kind == "binding" and "x.npy" in err.message


def test_corrupt_npy(tmp_path):
    (tmp_path / "bad.npy").write_bytes(b"\x93NUMPY garbage")
    (tmp_path / "pickle.npy").write_bytes(b"\x80\x04\x95...")
    for f in ("bad.npy", "pickle.npy"):
        err = error(parse_value, f"@{tmp_path}/{f}")
        assert err.kind == "binding" and f in err.message


def test_csv(tmp_path):
    (tmp_path / "m.csv").write_text("# a matrix\n1, 2, 3\n\n4,5,6  # second row\n-inf,nan,1e3\n")
    value = parse_value(f"@{tmp_path}/m.csv")
    assert value.shape == (3, 3) and value[2, 0] == -np.inf and np.isnan(value[2, 1])
    (tmp_path / "row.csv").write_text("1,2,3\n")
    assert parse_value(f"@{tmp_path}/row.csv").tolist() == [1, 2, 3]
    (tmp_path / "col.csv").write_text("1\n2\n3\n")
    assert parse_value(f"@{tmp_path}/col.csv").tolist() == [1, 2, 3]
    (tmp_path / "empty.csv").write_text("# nothing\n")
    assert parse_value(f"@{tmp_path}/empty.csv").shape == (0,)


@pytest.mark.parametrize("content, words", [
    ("1,2\n3\n", "ragged"), ("a,b\n1,2\n", "line 1, field 1"), ("1,,2\n", "empty field"),
    ("1,2,\n", "empty field"), ("1;2\n", "not a number"),
])
def test_csv_errors(tmp_path, content, words):
    (tmp_path / "x.csv").write_text(content)
    err = error(parse_value, f"@{tmp_path}/x.csv", name="A")
    assert err.kind == "binding" and words in err.message and "x.csv" in err.message


def test_csv_not_utf8_and_limit(tmp_path, monkeypatch):
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe1,2\n")
    assert error(parse_value, f"@{tmp_path}/bin.csv").kind == "binding"
    (tmp_path / "big.csv").write_text("1,2,3\n" * 5)
    monkeypatch.setenv("AUTODIFF_MAX_ELEMENTS", "10")
    assert error(parse_value, f"@{tmp_path}/big.csv").kind == "limit"


@pytest.mark.parametrize("path, words", [
    ("missing.npy", "no such file"), ("data.txt", "unknown file type"), ("", "missing file name"),
])
def test_file_errors_name_the_path(tmp_path, path, words):
    err = error(parse_value, f"@{path}", name="A")
    assert err.kind == "binding" and words in err.message and path in err.message


def test_directory_is_an_error(tmp_path):
    (tmp_path / "d.npy").mkdir()
    assert "directory" in error(parse_value, f"@{tmp_path}/d.npy").message


# ---------------------------------------------------------------------------------- JSON records

def test_value_from_json():
    assert value_from_json(2).shape == () and value_from_json(2.5) == 2.5
    np.testing.assert_array_equal(value_from_json([[1, 2], [3, 4]]), [[1, 2], [3, 4]])
    assert value_from_json([]).shape == (0,)
    value = value_from_json([1, "nan", "-inf"])
    assert np.isnan(value[1]) and value[2] == -np.inf
    assert value_from_json("rand(3)").shape == (3,)
    assert np.isinf(value_from_json("inf"))
    a = value_from_json("randn(2)", rng=np.random.default_rng(1))
    np.testing.assert_array_equal(a, value_from_json("randn(2)", rng=np.random.default_rng(1)))
    assert value_from_json([[1, 2]]).dtype == np.float64


@pytest.mark.parametrize("obj, words", [
    (True, "bool"), ([1, False], "bool"), (None, "None"), ({"a": 1}, "not"), ([[1], [2, 3]], "ragged"),
    ([1, [2]], "ragged"), (10**400, "too large"), (["x"], "not"), ("xyz", "cannot read value"),
])
def test_value_from_json_errors(obj, words):
    err = error(value_from_json, obj, name="y")
    assert err.kind == "binding" and words in err.message


def test_value_from_json_limits():
    deep = [1]
    for _ in range(10_000):
        deep = [deep]
    assert error(value_from_json, deep).kind == "limit"
    assert error(value_from_json, [1, 2, 3], max_elements=2).kind == "limit"


# ---------------------------------------------------------------------------------- --gradient

def test_gradient_seed():
    np.testing.assert_array_equal(parse_gradient_seed("ones", (2, 3)), np.ones((2, 3)))
    assert parse_gradient_seed("ones", ()).shape == ()
    np.testing.assert_array_equal(parse_gradient_seed("[1,2]", (2,)), [1, 2])
    np.testing.assert_array_equal(parse_gradient_seed([[1, 2]], [1, 2]), [[1, 2]])
    assert parse_gradient_seed("2", ()) == 2
    assert parse_gradient_seed("rand(2,3)", (2, 3)).shape == (2, 3)


@pytest.mark.parametrize("seed, shape, message", [
    ("[1,2]", (2, 3), "gradient has shape (2,) but the output has shape (2, 3)"),
    ("2", (3,), "gradient has shape () but the output has shape (3,)"),
    ([1, 2, 3], (), "gradient has shape (3,) but the output has shape ()"),
])
def test_gradient_seed_shape_mismatch(seed, shape, message):
    err = error(parse_gradient_seed, seed, shape)
    assert err.kind == "shape" and err.message == message


def test_gradient_seed_bad_text():
    err = error(parse_gradient_seed, "[1,", (2,))
    assert err.kind == "binding"
    assert error(parse_gradient_seed, "ones", (10**5, 10**5)).kind == "limit"


# ---------------------------------------------------------------------------------- properties

_pieces = st.sampled_from(list("[],.-+e0123456789 @()") + [
    "inf", "nan", "pi", "rand", "randn", "ones", "zeros", "eye", "arange", "linspace", "x", "1e308", "99999"])


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=40), st.lists(_pieces, max_size=25).map("".join)))
def test_fuzz_only_autodiff_errors(text):
    try:
        value = parse_value(text, max_elements=10_000, rng=np.random.default_rng(0))
    except AutodiffError as err:
        assert err.kind in ("binding", "limit")
        assert err.position is None or 1 <= err.position <= len(text) + 1
    else:
        assert isinstance(value, np.ndarray) and value.dtype == np.float64


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 3), min_size=0, max_size=4).flatmap(  # an empty dim prints as [] whatever the shape
    lambda shape: st.lists(st.floats(), min_size=math.prod(shape), max_size=math.prod(shape)).map(
        lambda flat: np.array(flat, dtype=float).reshape(shape))))
def test_round_trip_of_formatted_lists(array):
    text = str(array.tolist())  # repr of floats: 1e+300, -0.0, nan, inf, -inf
    value = parse_value(text)
    assert value.shape == array.shape
    np.testing.assert_array_equal(value, array)
    np.testing.assert_array_equal(value_from_json(array.tolist()), array)
    same_sign = (np.signbit(value) == np.signbit(array)) | np.isnan(array)  # -0.0 stays -0.0
    assert same_sign.all()


# ---------------------------------------------------------------------------------- hardening (issue 13)
# Speed is asserted by the hostile corpus (a 200,000-digit field under a time limit the old quadratic
# pattern exceeds many times over); here: what is accepted, what is refused, and how.

LONG = 200_000


@pytest.mark.parametrize("text", ["1" * LONG + "x", "." + "1" * LONG + "x", "1e" + "1" * LONG + "x",
                                  "[" + "1" * LONG + "x]", "rand(" + "1" * LONG + "x)", "f(" + ")x" * LONG])
def test_long_non_numbers_are_binding_errors(text):
    assert error(parse_value, text).kind == "binding"


@pytest.mark.parametrize("text", ["1" * LONG, "-1." + "0" * LONG, "[1, " + "2" * LONG + "]",
                                  "linspace(0, " + "1" * LONG + ", 3)"])
def test_numbers_longer_than_the_cap_are_limit_errors(text):
    from autodiff_cli.settings.limits import MAX_NUMBER_LENGTH
    err = error(parse_value, text, name="x")
    assert err.kind == "limit" and f"longer than {MAX_NUMBER_LENGTH} characters" in err.message


def test_a_number_at_the_cap_is_accepted():
    from autodiff_cli.settings.limits import MAX_NUMBER_LENGTH
    assert parse_value("1" + "0" * (MAX_NUMBER_LENGTH - 1)) == np.inf          # 1e399 overflows float64
    assert parse_value("[0." + "5" * (MAX_NUMBER_LENGTH - 2) + "]").tolist() == [pytest.approx(5 / 9)]
    assert value_from_json(["1" + "0" * (MAX_NUMBER_LENGTH - 1)])[0] == np.inf
    assert error(value_from_json, ["1" * (MAX_NUMBER_LENGTH + 1)]).kind == "limit"


@pytest.mark.parametrize("text, shape", [
    ("zeros(10000000,0)", "(10000000, 0)"), ("ones(0,11)", "(0, 11)"), ("rand(11,0,0)", "(11, 0, 0)"),
    ("eye(11,0)", "(11, 0)"), ("eye(0,11)", "(0, 11)"),
])
def test_an_empty_dimension_does_not_hide_the_others(text, shape):
    err = error(parse_value, "  " + text, max_elements=10, name="x")
    assert err.kind == "limit" and err.position == 3
    assert text in err.message and f"shape {shape}" in err.message and "AUTODIFF_MAX_ELEMENTS" in err.message
    assert parse_value("zeros(10,0)", max_elements=10).shape == (10, 0)


def test_empty_lists_count_as_elements():
    assert parse_value("[[],[],[]]", max_elements=3).shape == (3, 0)
    assert error(parse_value, "[[],[],[],[]]", max_elements=3).kind == "limit"
    assert error(value_from_json, [[]] * 4, max_elements=3).kind == "limit"
    assert error(value_from_json, np.zeros((4, 0)), max_elements=3).kind == "limit"
    assert error(parse_gradient_seed, "ones", (4, 0), max_elements=3).kind == "limit"


def test_npy_with_an_empty_dimension_counts_the_others(tmp_path):
    np.save(tmp_path / "e.npy", np.zeros((11, 0)))
    assert error(parse_value, f"@{tmp_path}/e.npy", max_elements=10).kind == "limit"
    assert parse_value(f"@{tmp_path}/e.npy", max_elements=11).shape == (11, 0)


@pytest.mark.parametrize("shape", ["(-4,)", "(-1000, -1000)", "(2, -3)"])
def test_npy_header_with_negative_dimensions(tmp_path, shape):
    np.save(tmp_path / "n.npy", np.ones(4))
    data = (tmp_path / "n.npy").read_bytes()
    header = b"'shape': (4,), "
    forged = header.replace(b"(4,)", shape.encode()).ljust(len(header))
    (tmp_path / "n.npy").write_bytes(data.replace(header, forged))
    err = error(parse_value, f"@{tmp_path}/n.npy", name="x")
    assert err.kind == "binding" and "negative dimension" in err.message


def test_csv_with_byte_order_mark(tmp_path):
    (tmp_path / "bom.csv").write_bytes("\ufeff1,2\r\n3,4\r\n".encode())
    assert parse_value(f"@{tmp_path}/bom.csv").tolist() == [[1, 2], [3, 4]]
    (tmp_path / "inner.csv").write_bytes("1,\ufeff2\n".encode())      # only at the start of the file
    assert "not a number" in error(parse_value, f"@{tmp_path}/inner.csv").message


def test_csv_is_refused_at_the_first_element_past_the_limit(tmp_path):
    # refused at element 11, before the reader gets to the garbage after it
    (tmp_path / "x.csv").write_bytes(b"1," * 11 + b"garbage," * 100_000 + b"\n")
    err = error(parse_value, f"@{tmp_path}/x.csv", max_elements=10)
    assert err.kind == "limit" and "11 elements" in err.message


def test_csv_long_fields_and_rows(tmp_path):
    (tmp_path / "long.csv").write_text("1," + " " * 300_000 + "2" + " " * 300_000 + ",3\n")
    assert parse_value(f"@{tmp_path}/long.csv").tolist() == [1, 2, 3]
    (tmp_path / "digits.csv").write_text("1," + "1" * 300_000 + "x\n")
    err = error(parse_value, f"@{tmp_path}/digits.csv")
    assert err.kind == "limit" and "line 1, field 2" in err.message
    (tmp_path / "comment.csv").write_text("1,2 #" + "x" * 300_000 + "\n3,4\n")
    assert parse_value(f"@{tmp_path}/comment.csv").tolist() == [[1, 2], [3, 4]]
    (tmp_path / "wide.csv").write_text("1,2\n" + "3," * 100_000 + "4\n")
    err = error(parse_value, f"@{tmp_path}/wide.csv")
    assert "ragged" in err.message and "line 2 has more than 2 values" in err.message


_csv_pieces = st.sampled_from(["1", "2.5", "-3e2", "nan", " ", "  ", ",", "\n", "\r\n", "#c", "x", "1 2", "\t"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_csv_pieces, max_size=30).map("".join), st.sampled_from([1, 2, 3, 7]))
def test_csv_chunk_boundaries_change_nothing(tmp_path_factory, text, chunk):
    """Reading in chunks of 1, 2, 3 or 7 characters gives what reading whole lines does."""
    import autodiff_cli.inputs.bindings as bindings
    path = tmp_path_factory.mktemp("csv") / "c.csv"
    path.write_bytes(text.encode())

    def outcome():
        try:
            return repr(parse_value(f"@{path}").tolist())      # repr: nan equals nan
        except AutodiffError as err:   # a field cut by a chunk is shown with fewer blanks inside it
            return (err.kind, re.sub(r"'.*' is not", "... is not", err.message))

    whole = outcome()
    saved, bindings._CSV_CHUNK = bindings._CSV_CHUNK, chunk
    try:
        assert outcome() == whole
    finally:
        bindings._CSV_CHUNK = saved
    oracle = _csv_oracle(text)
    if oracle is not None:
        assert whole == oracle


def _csv_oracle(text):
    """The rows of a well-formed CSV text, read the plain way; None if it is not well formed."""
    rows = []
    for line in text.replace("\r\n", "\n").split("\n"):
        line = line.split("#", 1)[0]
        if line.strip():
            try:
                rows.append([float(field) for field in line.split(",")])
            except ValueError:
                return None
    if not rows or len({len(r) for r in rows}) != 1:
        return None
    flat = np.array(rows)
    return repr((flat.reshape(-1) if flat.shape[0] == 1 or flat.shape[1] == 1 else flat).tolist())


# issue 29, finding 3: a binding named like a constant is an error naming the clash, never a
# silent constant (the old code evaluated `e*x` with e=2 as 2.71828*x)
@pytest.mark.parametrize("name", ["e", "pi"])
def test_binding_named_like_a_constant_is_refused(name):
    from autodiff_cli.api import evaluate
    from autodiff_cli.language import CONSTANTS
    assert name in CONSTANTS
    err = error(parse_binding_arg, f"{name}=2")
    assert err.kind == "binding" and err.position == 1 and f"'{name}' is a constant" in str(err)
    assert error(value_from_json, 2, name=name).kind == "binding"
    result = evaluate(f"{name}*x", {name: 2, "x": 1})
    assert result.status == "error" and result.error.kind == "binding" and name in result.error.message
    assert evaluate(f"{name}*x", {"x": 1}).status == "ok"            # the constant itself still works
    assert parse_binding_arg(f"{name}_=2") == (f"{name}_", "2")      # and the suggested rename


# issue 29, finding 10: a value that must have a known shape (a tangent) is refused before it is
# built when it is larger (the old code built ones(100000000), 800 MB, for a scalar x first)
def test_value_of_shape_refuses_a_larger_value_unbuilt():
    import tracemalloc
    from autodiff_cli.inputs.bindings import value_of_shape
    from autodiff_cli.api import evaluate
    tracemalloc.start()
    try:
        for value in ("ones(10000000)", "zeros(5000, 2000)", "rand(10000000)"):
            err = error(value_of_shape, value, (), name="tangent of x", must="x has shape ()", hint="h")
            assert err.kind == "shape" and "10000000 elements" in err.message and "x has shape ()" in err.message
            assert err.hint == "h"
        result = evaluate("x**2", {"x": 1}, mode="jvp", tangents={"x": "ones(10000000)"}, check=False)
        assert result.error.kind == "shape" and "but x has shape ()" in result.error.message
        assert tracemalloc.get_traced_memory()[1] < 8 * 10**6          # never the 80 MB array
    finally:
        tracemalloc.stop()
    assert error(value_of_shape, [1, 2, 3], (2,), name="tangent of x").kind == "shape"     # refused at element 3
    assert "has shape (1, 2) but" in error(value_of_shape, [[1, 2]], (2,), name="tangent of x").message
    assert value_of_shape("ones(2, 3)", (2, 3)).shape == (2, 3)
    assert value_of_shape([], (0,)).shape == (0,)
