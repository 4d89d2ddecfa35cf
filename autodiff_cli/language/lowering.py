"""Compute a parsed Program: with the autograd engine (`lower_to_engine`) or with SymPy (`lower_to_sympy`).

Both lowerings are the same loop: statements in order, each expression folded bottom-up by
`fold` (an explicit-stack post-order walk: trees may be 200,000 nodes deep), every operator and
function looked up in the op table (through the views in functions.py). They differ only in what a number, a name
and a table entry turn into.

Shape mistakes (numpy's ValueError/IndexError from broadcasting, matmul, a bad axis, a ragged
list or an index out of range) become
`AutodiffError("shape", "'+' at column 3: cannot broadcast shapes (2,) and (3,)")`.
"""
import importlib

import numpy as np

from ..settings import limits
from ..errors import AutodiffError
from .functions import BINARY_OPERATORS, FUNCTIONS, INDEX, STACK, UNARY_OPERATORS, as_object_array
from .nodes import Binary, Call, Index, Name, Num, Stack, Unary, column, paused_gc


def fold(nodes, combine):
    """Return `combine(node, child_values)` for the root of a tree given in post-order (its last
    node; `Statement.postorder()` or `postorder(root)`), computing children first; no recursion."""
    values = []
    for node in nodes:
        cls = type(node)
        count = (2 if cls is Binary else 1 if cls is Unary or cls is Index else len(node.args) if cls is Call
                 else len(node.elements) if cls is Stack else 0)
        if count:
            args = values[-count:]
            del values[-count:]
        else:
            args = []
        values.append(combine(node, args))
    return values[0]


def overload_of(node):
    """The op table entry (OpSpec) computing a Binary, Unary, Call, Stack or Index node (None for unary plus)."""
    if isinstance(node, Binary):
        return BINARY_OPERATORS[node.op]
    if isinstance(node, Unary):
        return UNARY_OPERATORS.get(node.op)
    if isinstance(node, Stack):
        return STACK
    if isinstance(node, Index):
        return INDEX
    return FUNCTIONS[node.func][len(node.args)]


def options_of(node):
    """The keyword options of the node's operation: axis, keepdims, shape (reshape), key (indexing)."""
    if isinstance(node, Index):
        return {"key": node.key}
    if not isinstance(node, Call):
        return {}
    options = {}
    if node.axis is not None:
        options["axis"] = node.axis
    if node.keepdims:
        options["keepdims"] = True
    if node.sizes is not None:
        options["shape"] = node.sizes
    return options


def lower_to_engine(program, env, on_node=None):
    """Evaluate `program` with `autodiff_cli.engine`, recording the autograd graph.

    env:     {input name: Tensor}; names the program assigns are taken from the program.
    on_node: optional `on_node(node, tensor)`, called for every node once it is computed.
    Returns (output tensor, {intermediate name: tensor}).
    """
    engine = importlib.import_module("autodiff_cli.engine")
    limit = limits.max_elements()

    def number(node):
        return node.value    # a plain number, as in PyTorch's x**2: PowBackward0 keeps 2 as a parameter

    def compute(node, overload, args, options):
        check_result_size(node, overload, args, limit, program.source)
        function = engine.FUNCTIONS[overload.name]
        if type(node) is Stack:
            return function(args)              # torch.stack's signature: one sequence
        return function(*args, **options)

    def as_tensor(value):
        return value if isinstance(value, engine.Tensor) else engine.Tensor(value)

    report = (lambda node, value: on_node(node, as_tensor(value))) if on_node is not None else None
    value, named = _lower(program, env, number, compute, report)
    return as_tensor(value), {name: as_tensor(v) for name, v in named.items()}


def lower_to_sympy(program, env, on_node=None, cas=None):
    """Build the program's value out of SymPy expressions (for the symbolic cross-check).

    env: {input name: numpy object array of SymPy expressions} (0-d for a scalar; use real
         symbols: `relu` is a Piecewise on `x > 0`, and `abs` differentiates to `sign` only for reals).
    cas: the module (or namespace) to build with, default sympy; the check passes SymEngine's.
    Returns (output object array, {intermediate name: object array}).
    """
    sp = cas if cas is not None else importlib.import_module("sympy")   # lazily: the CLI starts without it

    def number(node):
        if node.constant == "pi":
            value = sp.pi
        elif node.constant == "e":
            value = sp.E
        elif node.value.is_integer() and abs(node.value) < 2**53:
            value = sp.Integer(int(node.value))       # exact, so formulas read 2*x, not 2.0*x
        else:
            value = sp.Float(node.value)              # the float64 itself (inf becomes oo)
        return as_object_array(value)

    def compute(node, overload, args, options):
        return overload.sympy(sp, *args, **options)

    sympy_env = {name: as_object_array(value) for name, value in env.items()}
    with np.errstate(all="ignore"):     # float64 corner cases in _pow, as in the engine: no warnings
        return _lower(program, sympy_env, number, compute, on_node)


def _lower(program, env, number, compute, on_node):
    """The loop both lowerings share; `number` and `compute` say what values are made of."""
    named = {}                   # values of the statements that assign a name, so far

    def combine(node, args):
        cls = type(node)
        if cls is Name:
            value = _lookup(node, named, env, program.source)
        elif cls is Num:
            value = number(node)
        else:
            overload = overload_of(node)
            if overload is None:                       # unary plus
                value = args[0]
            else:
                options = options_of(node)
                try:
                    value = compute(node, overload, args, options)
                except (ValueError, IndexError) as exc:
                    raise _shape_error(node, overload, args, options, exc, program.source) from exc
                except AutodiffError as exc:
                    if exc.position is None:           # the engine does not know columns; we do
                        exc.position, exc.source = column(node), program.source
                    raise
        if on_node is not None:
            on_node(node, value)
        return value

    value = None
    with paused_gc():
        for statement in program.statements:
            value = fold(statement.postorder(), combine)
            if statement.name is not None:
                named[statement.name] = value
    return value, {name: named[name] for name in program.intermediates}


def _lookup(node, named, env, source):
    if node.id in named:
        return named[node.id]
    if node.id in env:
        return env[node.id]
    raise AutodiffError("name", f"no value for the variable '{node.id}'", node.start + 1,
                        hint=f"bind it, e.g. {node.id}=1.5", source=source)


def _shape_of(value):
    shape = getattr(value, "shape", None)
    return tuple(shape) if shape is not None else np.shape(value)


def _where(node, source):
    """'+' at column 3, sum() at column 1, the list [...] at column 1: the operation and its place."""
    if isinstance(node, (Binary, Unary)):
        label = f"'{node.op}'"
    elif isinstance(node, Stack):
        label = "the list [...]"
    elif isinstance(node, Index):
        label = f"the index {source[node.target.end:node.end].strip()}"
    else:
        label = f"{node.func}()"
    return f"{label} at column {column(node)}"


def _result_shape(overload, a, b):
    """The shape numpy will give `overload(a, b)` (two arrays), without computing it; None when
    the shapes do not fit (the op itself then raises the shape error)."""
    try:
        if overload.name != "matmul":
            return np.broadcast_shapes(a, b)
        if len(a) == 1 and len(b) == 1:
            return ()
        if len(b) == 1:
            return a[:-1]
        if len(a) == 1:
            return b[:-2] + b[-1:]
        return np.broadcast_shapes(a[:-2], b[:-2]) + (a[-2], b[-1])
    except ValueError:
        return None


def check_result_size(node, overload, args, limit, source):
    """Refuse an op whose result would be over `limit` elements (as limits.counted_elements counts
    them), before numpy allocates it. The one place results are sized: both array paths (the Tensor
    engine's lowering and the tape's array trace) call it for every op; the tape's scalar compile,
    where every value is one number, never does.

    Only three kinds of op can give more elements than their largest input, and only they are sized:
      - an op of two arrays: broadcasting (+ - * / ** max min pow) and matrix products;
      - a list literal (stack): n equal-shaped elements give n times as many;
      - reshape: its sizes may hold an empty dimension (reshape(x, 10**8, 0) of an empty x).
    Every other op (elementwise functions, reductions, softmax, logsumexp, indexing, transpose) gives
    at most as many elements as its input, which was sized when it was made (tests/settings/test_limits.py
    checks this for every op of the table). An op of scalars costs a len() and a type test or two."""
    count = len(args)
    if count == 2 and type(node) is not Stack:
        if not (getattr(args[0], "ndim", 0) and getattr(args[1], "ndim", 0)):
            return                              # a scalar operand: the result is the other's size
        a, b = _shape_of(args[0]), _shape_of(args[1])
        if limits.counted_elements(a) * limits.counted_elements(b) <= limit:   # a bound on the result's
            return
        shape = _result_shape(overload, a, b)
    elif type(node) is Stack:
        shapes = {_shape_of(a) for a in args}
        if len(shapes) != 1:
            return                              # unequal shapes: the stack refuses them (a shape error)
        shape = (count,) + shapes.pop()
    elif count == 1 and type(node) is Call and node.sizes is not None:
        shape = tuple(1 if size == -1 else size for size in node.sizes)   # -1: what is left, at most the input
    else:
        return
    if shape is not None and limits.counted_elements(shape) > limit:
        empty = ", an empty dimension counting as 1" if 0 in shape else ""
        raise AutodiffError("limit", f"{_where(node, source)}: the result would have shape {shape}, "
                                     f"{limits.counted_elements(shape)} elements{empty}; the limit is {limit}",
                            column(node), hint="set AUTODIFF_MAX_ELEMENTS to raise it", source=source)


def _shape_error(node, overload, args, options, exc, source):
    """Say which operation, where, and with which shapes, instead of numpy's wording."""
    where = _where(node, source)
    shapes = [_shape_of(a) for a in args]
    axis = options.get("axis")
    text = str(exc)
    if isinstance(node, Stack):
        listed = ", ".join(str(s) for s in shapes)
        message = f"{where}: its elements must all have the same shape, got {listed}"
        hint = "a list literal stacks equal-shaped elements: [[a, b], [c, d]]"
    elif isinstance(node, Index):
        message = f"{where}: {_index_problem(options['key'], shapes[0])}"
        hint = "indices count from 0; -1 is the last element"
    elif "shape" in options:
        message = (f"{where}: cannot reshape an array of shape {shapes[0]} ({int(np.prod(shapes[0]))} elements) "
                   f"into {options['shape']}")
        hint = "the sizes must multiply to the number of elements; one of them may be -1"
    elif overload.name == "matmul" and len(shapes) == 2:
        if 0 in (len(shapes[0]), len(shapes[1])):
            message = f"{where}: a matrix product needs arrays, got shapes {shapes[0]} and {shapes[1]}"
            hint = "use * to multiply by a scalar"
        else:
            message = f"{where}: shapes {shapes[0]} and {shapes[1]} do not align for a matrix product"
            hint = "the last dimension of the left must equal the first (or second-to-last) of the right"
    elif axis is not None and "axis" in text:
        message = f"{where}: axis {axis} is out of range for shape {shapes[0]}"
        hint = None
    elif "broadcast" in text and len(shapes) == 2:
        message = f"{where}: cannot broadcast shapes {shapes[0]} and {shapes[1]}"
        hint = "numpy broadcasting: trailing dimensions must be equal or 1"
    else:
        message = f"{where}: {text}"
        hint = None
    return AutodiffError("shape", message, column(node), hint=hint, source=source)


def _index_problem(key, shape):
    """Why numpy refused `array[key]` for an array of this shape, in the language's words."""
    integers = sum(1 for k in key if not isinstance(k, slice))
    if len(key) > len(shape):
        return f"{len(key)} indices for an array of shape {shape}, which has {len(shape)} dimension{'' if len(shape) == 1 else 's'}"
    for axis, k in enumerate(key):
        if not isinstance(k, slice) and not -shape[axis] <= k < shape[axis]:
            return f"index {k} is out of range for axis {axis} of shape {shape}"
    return f"cannot index shape {shape} with {integers} integers and {len(key) - integers} slices"
