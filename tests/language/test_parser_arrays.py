"""The array forms of the language: stacking literals, indexing, keepdims, transpose, reshape,
softmax/logsumexp: what they parse to, and the caret errors for the bad forms."""
import numpy as np
import pytest

from autodiff_cli.errors import AutodiffError
from autodiff_cli.language import parse
from autodiff_cli.language.nodes import Call, Index, Name, Stack


def rejected(text):
    with pytest.raises(AutodiffError) as info:
        parse(text)
    assert info.value.kind == "parse"
    return info.value


def test_stacking_literal_holds_its_elements_in_order():
    node = parse("[x*y, x+y, sin(x)]").output
    assert isinstance(node, Stack) and len(node.elements) == 3
    assert [e.start for e in node.elements] == [1, 6, 11] and (node.start, node.end) == (0, 18)
    nested = parse("[[a, b], [c, d]]").output
    assert all(isinstance(e, Stack) and len(e.elements) == 2 for e in nested.elements)


@pytest.mark.parametrize("text, key", [
    ("x[0]", (0,)),
    ("x[-1]", (-1,)),
    ("W[1, 2]", (1, 2)),
    ("W[:, 0]", (slice(None), 0)),
    ("W[0, :]", (0, slice(None))),
    ("x[1:3]", (slice(1, 3),)),
    ("x[::2]", (slice(None, None, 2),)),
    ("x[::-1]", (slice(None, None, -1),)),
    ("x[-3:-1:1]", (slice(-3, -1, 1),)),
    ("x[ 1 : ]", (slice(1, None),)),
])
def test_index_keys_are_numpy_basic_keys(text, key):
    node = parse(text).output
    assert isinstance(node, Index) and node.key == key and isinstance(node.target, Name)
    assert node.end == len(text)


def test_indexing_binds_tighter_than_every_operator():
    node = parse("-x[0]**2").output                     # -((x[0])**2)
    assert node.op == "-" and node.operand.op == "**" and isinstance(node.operand.left, Index)
    chained = parse("x[0][1]").output
    assert chained.key == (1,) and chained.target.key == (0,)
    assert isinstance(parse("(x + y)[1:]").output.target, type(parse("x + y").output))
    assert isinstance(parse("[x, y][0]").output.target, Stack)
    assert isinstance(parse("sum(W, axis=0)[1]").output.target, Call)


@pytest.mark.parametrize("text, axis, keepdims", [
    ("sum(x, axis=1, keepdims=1)", 1, True),
    ("sum(x, keepdims=1, axis=-1)", -1, True),
    ("mean(x, axis=0, keepdims=0)", 0, False),
    ("max(x, keepdims=1)", None, True),
    ("logsumexp(x, axis=1, keepdims=1)", 1, True),
    ("softmax(x, axis=0)", 0, False),
    ("softmax(x)", None, False),
])
def test_keyword_arguments(text, axis, keepdims):
    node = parse(text).output
    assert (node.axis, node.keepdims) == (axis, keepdims)


def test_transpose_and_reshape_calls():
    assert parse("transpose(A)").output.func == "transpose"
    node = parse("reshape(x, 2, -1)").output
    assert node.func == "reshape" and node.sizes == (2, -1) and len(node.args) == 1
    assert parse("reshape(x + 1,\n  3, 2)").output.sizes == (3, 2)       # newlines inside a call
    assert parse("reshape(x, 6)").output.sizes == (6,)


def test_newlines_inside_brackets_continue_the_statement():
    assert isinstance(parse("[x,\n y]").output, Stack)


@pytest.mark.parametrize("text, column, words", [
    ("x[1.5]", 3, "integers or slices, not '1.5'"),
    ("x[", 2, "never closed"),
    ("x[0", 2, "never closed"),
    ("x[]", 3, "expected an index"),
    ("x[1,,2]", 5, "expected an index"),
    ("x[a]", 3, "not 'a'"),
    ("x[i+1]", 3, "no expressions"),
    ("x[-]", 3, "not '-'"),
    ("x[True]", 3, "booleans"),
    ("x[1:2:3:4]", 8, "at most two ':'"),
    ("x[::0]", 5, "step cannot be zero"),
    ("x:1", 2, "only allowed inside an index"),
    ("x]", 2, "unmatched ']'"),
    ("[]", 1, "empty list"),
    ("[x, y", 1, "'[' is never closed"),
    ("[x, y)", 6, "'[' at column 1 is closed by ')'"),
    ("(x, y]", 3, "tuples are not supported"),
    ("sin(x]", 6, "'(' at column 4 is closed by ']'"),
    ("[x,]", 4, "expected an element after ','"),
    ("reshape(x)", 10, "needs the new sizes"),
    ("reshape(x, y)", 12, "sizes must be integers"),
    ("reshape(x, 2.5)", 12, "sizes must be integers"),
    ("reshape(x, -2)", 12, "sizes must be integers"),
    ("reshape(x, -1, -1)", 16, "only one size may be -1"),
    ("reshape(x, 2 3)", 14, "sizes must be integers"),
    ("sum(x, keepdims=2)", 17, "keepdims must be 0 or 1"),
    ("sum(x, keepdims=1, keepdims=1)", 20, "given twice"),
    ("sum(x, axis=0, axis=1)", 16, "given twice"),
    ("max(a, b, keepdims=1)", 11, "takes no keepdims="),
    ("softmax(x, keepdims=1)", 12, "unknown keyword argument 'keepdims'"),
    ("transpose(x, axis=0)", 14, "takes no keyword arguments"),
])
def test_bad_forms_point_at_the_column(text, column, words):
    err = rejected(text)
    assert words in err.message and err.position == column, (err.message, err.position)


@pytest.mark.parametrize("text, shapes, output_shape", [
    ("[x, y, x*y]", {"x": (), "y": ()}, (3,)),
    ("[[x, y], [y, x]]", {"x": (), "y": ()}, (2, 2)),
    ("W[:, 0]", {"W": (2, 3)}, (2,)),
    ("W[1, 2]", {"W": (2, 3)}, ()),
    ("x[::-1]", {"x": (5,)}, (5,)),
    ("x[1:3]", {"x": (5,)}, (2,)),
    ("sum(W, axis=1, keepdims=1)", {"W": (2, 3)}, (2, 1)),
    ("max(W, keepdims=1)", {"W": (2, 3)}, (1, 1)),
    ("transpose(W)", {"W": (2, 3)}, (3, 2)),
    ("reshape(W, 3, -1)", {"W": (2, 3)}, (3, 2)),
    ("softmax(W)", {"W": (2, 3)}, (2, 3)),
    ("logsumexp(W)", {"W": (2, 3)}, ()),
    ("logsumexp(W, axis=0, keepdims=1)", {"W": (2, 3)}, (1, 3)),
])
def test_sympy_lowering_has_the_engine_shapes(text, shapes, output_shape):
    sp = pytest.importorskip("sympy")
    from autodiff_cli.language import lower_to_sympy
    env = {name: np.full(shape, sp.Symbol(name, real=True), dtype=object) for name, shape in shapes.items()}
    value, _ = lower_to_sympy(parse(text), env)
    assert value.shape == output_shape


@pytest.mark.parametrize("text, shapes, column, words", [
    ("x[0, 0]", {"x": (3,)}, 2, "2 indices for an array of shape (3,)"),
    ("x[3]", {"x": (3,)}, 2, "index 3 is out of range for axis 0 of shape (3,)"),
    ("W[0, -4]", {"W": (2, 3)}, 2, "index -4 is out of range for axis 1 of shape (2, 3)"),
    ("reshape(x, 4)", {"x": (6,)}, 1, "cannot reshape an array of shape (6,) (6 elements) into (4,)"),
    ("softmax(W, axis=3)", {"W": (2, 3)}, 1, "axis 3 is out of range for shape (2, 3)"),
    ("[x, W]", {"x": (3,), "W": (2, 3)}, 1, "same shape, got (3,), (2, 3)"),
    ("[[x, x], [x]]", {"x": ()}, 1, "same shape, got (2,), (1,)"),
])
def test_sympy_lowering_shape_errors_name_the_shapes(text, shapes, column, words):
    sp = pytest.importorskip("sympy")
    from autodiff_cli.language import lower_to_sympy
    env = {name: np.full(shape, sp.Symbol(name, real=True), dtype=object) for name, shape in shapes.items()}
    with pytest.raises(AutodiffError) as info:
        lower_to_sympy(parse(text), env)
    assert info.value.kind == "shape" and words in info.value.message and info.value.position == column
