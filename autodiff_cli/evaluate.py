"""`evaluate()`: from expression text and bindings to the contract's result record.

    parse -> bind -> forward (engine) -> backward / Hessian / Jacobian / derivatives / JVP -> cross-check -> Result

The CLI and batch mode only format and route what this returns. A user's mistake never raises
here: it comes back as a Result with status "error" carrying the AutodiffError.
"""
import collections.abc
import functools
import itertools
import time
from contextlib import contextmanager

import numpy as np

from . import engine, limits
from .bindings import parse_gradient_seed, value_from_json, value_of_shape
from .engine import Tensor, forward, higher, quiet_numpy
from .engine.ops import OPS
from .errors import AutodiffError
from .language import lower_to_engine
from .language.compile import NotCompilable, compiled, parsed
from .language.lowering import overload_of
from .language.nodes import Binary, Call, Name, Num, Unary, children, column, label, paused_gc
from .result import Result, Step  # noqa: F401  (re-exported: `from autodiff_cli.evaluate import Result`)
from .utils import get_total_norm

MODES = ("grad", "hessian", "jacobian", "derivatives", "jvp")
DEFAULT_ORDER = 3           # of mode "derivatives"


# --- the pipeline ------------------------------------------------------------------------------

def evaluate(expr, bindings=None, *, wrt=None, gradient=None, mode="grad", check=True, random_seed=None,
             trace=False, latex=False, simplify=False, order=None, tangents=None):
    """Evaluate `expr` at `bindings` and differentiate it; see docs/ARCHITECTURE.md for the Result."""
    started = time.perf_counter()
    result = Result(expression=expr if isinstance(expr, str) else str(expr), mode=mode, random_seed=random_seed)
    # The graph holds no reference cycles and is freed by reference counting when
    # _evaluate_into returns, so the cyclic collector has nothing to find here: pausing it
    # saves it rescanning hundreds of thousands of live nodes (a third of a big run).
    with errors_into(result, expr), quiet_numpy(), paused_gc():
        _evaluate_into(result, expr, bindings or {}, wrt=wrt, gradient=gradient, mode=mode,
                       check=check, random_seed=random_seed, trace=trace, latex=latex, simplify=simplify,
                       order=order, tangents=tangents)
    result.elapsed = time.perf_counter() - started
    return result


@contextmanager
def errors_into(result, expr):
    """A user's mistake (an AutodiffError) or running out of memory inside the block becomes
    result.status "error" with result.error, instead of an exception."""
    try:
        yield
    except MemoryError:
        result.status = "error"
        result.error = AutodiffError("limit", "out of memory: the arrays of this computation do not fit "
                                              "(lower AUTODIFF_MAX_ELEMENTS to be stopped earlier)")
    except AutodiffError as err:
        if err.source is None and isinstance(expr, str) and err.position is not None:
            err.source = expr
        result.status, result.error = "error", err


def _evaluate_into(result, expr, bindings, *, wrt, gradient, mode, check, random_seed, trace, latex, simplify,
                   order, tangents):
    if mode not in MODES:
        raise AutodiffError("usage", f"unknown mode {mode!r}: expected one of {', '.join(MODES)}")
    result.order = _derivative_order(order, mode)
    if tangents is not None and mode != "jvp":
        raise AutodiffError("usage", f"tangents go with mode jvp, not {mode}")
    if not isinstance(expr, str):
        raise AutodiffError("usage", "the expression must be a string")
    if random_seed is not None and (isinstance(random_seed, bool) or not isinstance(random_seed, (int, np.integer))
                                    or random_seed < 0):
        raise AutodiffError("usage", f"the random seed must be a whole number >= 0, not {random_seed!r}")
    program = parsed(expr)
    rng = np.random.default_rng(random_seed)
    values = _bind(program, bindings, rng, result.warnings)
    wrt_names = _differentiate_wrt(program, wrt)
    result.inputs, result.wrt = values, wrt_names

    tape = visits = None
    if mode == "grad" and not trace:
        # The compiled path: a flat tape, no graph (built only for --steps/--graph/--dot).
        try:
            tape = compiled(program, values)
            visits = check and _may_have_kinks(tape)
            if visits and not tape.has_visited:
                tape = compiled(program, values, visit=True)    # kinks are told by tree node
        except NotCompilable:
            pass                 # an op the tape cannot record (stack): the Tensor engine runs it
    data = _tensor_data
    if tape is not None:
        visited, data, seed = _compiled_gradients(result, tape, program, values, gradient, rng, visits)
    else:
        visited, seed = _engine_run(result, program, values, gradient, tangents, mode, rng, check, trace)

    bad_gradients = [name for name, g in result.gradients.items() if not np.isfinite(g).all()]
    if bad_gradients or not np.isfinite(result.value).all():
        shown = _as_tensors(visited, data) if visited is not None else _replay(program, values)
        result.warnings.extend(_non_finite_origins(program.source, shown))
        result.warnings.extend(f"the gradient of {name} is not finite" for name in bad_gradients)

    if check:
        from .check import cross_check   # the CAS is imported only on this path
        kinks = _kinks(program.source, visited, data) if visited is not None else []
        result.check = cross_check(program, result, seed=seed, kinks=kinks, rng=rng,
                                   latex=latex, simplify=simplify)
        if result.check.passed is False:
            result.status = "mismatch"


class _Box:
    """A tape slot's value where the check's helpers expect a tensor (they read `.data`)."""
    __slots__ = ("data",)

    def __init__(self, data):
        self.data = data


def _tensor_data(tensor):
    return tensor.data


@functools.lru_cache(maxsize=None)
def _kink_node_names():
    """The names of the nodes that ops with kinks record (abs, relu, max, **, ...)."""
    return frozenset(node.name for spec in OPS if spec.kink is not None for node in spec.nodes())


def _may_have_kinks(tape):
    """Does the tape run an op with kinks? (If not, the check needs no tree node's value: a big sum
    of products keeps no per-node record.)"""
    return not {node.name for node in set(tape.spec_nodes)}.isdisjoint(_kink_node_names())


def _compiled_gradients(result, tape, program, values, gradient, rng, visits):
    """grad mode on the compiled tape; returns (visited, data, seed): visited, if `visits` asks for it,
    is the tape's (tree node, slot or number) pairs and data(slot) a slot's value, else None."""
    output = tape.output
    seed = _gradient_seed(gradient, tape.shapes[output] if isinstance(output, int) else (), rng)
    inputs = [values[name] for name in program.inputs]
    wrt_slots = [program.inputs.index(name) for name in result.wrt]
    slot_values, grads, needs = tape.run(inputs, wrt_slots, seed, keep_values=visits)

    def value_of(slot):
        return np.asarray(slot_values[slot] if isinstance(slot, int) else slot, dtype=np.float64)

    result.value = value_of(output)
    for name, slot in zip(result.wrt, wrt_slots):
        g = grads[slot]
        result.gradients[name] = np.zeros(np.shape(values[name])) if g is None else np.asarray(g, np.float64)
    result.grad_norm = get_total_norm(list(result.gradients.values())).item()
    result.intermediates = _TapeIntermediates(tape, slot_values, grads, needs)
    if not visits:
        return None, None, seed
    return tape.visited, value_of, seed


class _TapeIntermediates(collections.abc.Mapping):
    """result.intermediates after a tape run: {name: {"value": array, "gradient": array or None}},
    each entry made when it is read. A 100,000-statement program has 100,000 intermediates; making
    them all up front was a twentieth of its run, for callers that mostly read none."""

    def __init__(self, tape, values, grads, needs):
        self._named, self._shapes = tape.named, tape.shapes
        self._values, self._grads, self._needs = values, grads, needs

    def __getitem__(self, name):
        slot = self._named[name]
        if not isinstance(slot, int):                     # an intermediate that is a plain number
            return {"value": np.asarray(slot, dtype=np.float64), "gradient": None}
        grad = None
        if self._needs[slot]:
            g = self._grads[slot]
            grad = np.zeros(self._shapes[slot]) if g is None else np.asarray(g, np.float64)
        return {"value": np.asarray(self._values[slot], dtype=np.float64), "gradient": grad}

    def __iter__(self):
        return iter(self._named)

    def __len__(self):
        return len(self._named)


def _as_tensors(visited, data):
    """(tree node, tensor-like) pairs: the engine's as they are, a tape's slots boxed once each."""
    if data is _tensor_data:
        return visited
    boxes = {}
    tensors = []
    for node, slot in visited:
        if not isinstance(slot, int):
            tensors.append((node, _Box(data(slot))))
            continue
        if slot not in boxes:
            boxes[slot] = _Box(data(slot))
        tensors.append((node, boxes[slot]))
    return tensors


def _engine_run(result, program, values, gradient, tangents, mode, rng, check, trace):
    """Every mode on the Tensor engine (a graph is recorded); returns (visited, seed)."""
    wrt_names = result.wrt
    # (tree node, tensor) in evaluation order, for steps and kinks; skipped on the fast path
    visited = [] if (trace or check) else None
    on_node = (lambda node, t: visited.append((node, t))) if visited is not None else None
    if mode == "jvp":
        result.tangents = _tangents(tangents, values, wrt_names, rng)
        leaves, named = {}, {}
        output = _forward_mode(result, program, values, on_node)
    else:
        leaves = {name: Tensor(values[name], requires_grad=name in wrt_names) for name in program.inputs}
        output, named = lower_to_engine(program, leaves, on_node=on_node)
    result.value = np.asarray(output.data, dtype=np.float64)

    if mode == "grad":
        seed = _gradient_seed(gradient, np.shape(output.data), rng)
        _gradients(result, output, leaves, named, visited if trace else None, seed)
    elif mode == "hessian":
        seed = None
        _hessian(result, output, leaves)
    elif mode == "derivatives":
        seed = None
        _derivatives(result, output, leaves)
    elif mode == "jvp":
        seed = None
    else:
        seed = None
        _jacobian(result, output, leaves)
    if trace:
        result.output, result.leaves = output, leaves
    return visited, seed


def _bind(program, bindings, rng, warnings):
    """Binding values as float64 arrays; unbound variables reported all at once."""
    values = {}
    for name, raw_value in bindings.items():
        if isinstance(raw_value, Tensor):
            raw_value = raw_value.data
        values[name] = value_from_json(raw_value, rng=rng, name=name)
    missing = [n for n in program.inputs if n not in values]
    if missing:
        first = _first_use(program, missing[0])
        names = ", ".join(repr(n) for n in missing)
        example = " ".join(f"{n}=1" for n in missing)
        raise AutodiffError("name", f"unbound variable{'s' if len(missing) > 1 else ''} {names}", first,
                            hint=f"bind {'them' if len(missing) > 1 else 'it'}, e.g. {example}",
                            source=program.source)
    for name in values:
        if name not in program.inputs:
            what = "an intermediate the program computes" if name in program.intermediates else "not used by the expression"
            warnings.append(f"binding {name!r} is {what}; ignored")
    return {n: values[n] for n in program.inputs}


def _first_use(program, name):
    """Column of the first occurrence of variable `name` (iterative walk)."""
    for statement in program.statements:
        stack = [statement.expr]
        while stack:
            node = stack.pop()
            if isinstance(node, Name) and node.id == name:
                return column(node)
            stack.extend(reversed(children(node)))
    return None


def _differentiate_wrt(program, wrt):
    if wrt is None or wrt == "":
        return list(program.inputs)
    names = [w.strip() if isinstance(w, str) else w for w in (wrt.split(",") if isinstance(wrt, str) else wrt)]
    for name in names:
        if not isinstance(name, str) or name not in program.inputs:
            known = ", ".join(program.inputs) or "none"
            raise AutodiffError("usage", f"--wrt names {name!r}, which is not an input variable of the "
                                         f"expression (its inputs: {known})")
    return list(dict.fromkeys(names))


def _gradient_seed(gradient, shape, rng):
    if gradient is None:
        if shape != () and np.prod(shape) != 1:
            raise AutodiffError(
                "shape", f"grad can be implicitly created only for scalar outputs, and the output has shape "
                         f"{shape}", hint="pass --gradient ones, or reduce with sum()/mean()")
        return None
    return parse_gradient_seed(gradient, shape, rng=rng)


def _gradients(result, output, leaves, named, visited, seed):
    for tensor in named.values():
        if tensor.requires_grad:
            tensor.retain_grad()
    if visited is not None:
        for _, tensor in visited:
            if tensor.grad_fn is not None:
                tensor.retain_grad()
    if output.requires_grad:
        output.backward(seed, retain_graph=visited is not None)
    for name in result.wrt:
        g = leaves[name].grad
        result.gradients[name] = np.zeros(np.shape(leaves[name].data)) if g is None else np.asarray(g.data)
    result.grad_norm = get_total_norm(list(result.gradients.values())).item()
    for name, tensor in named.items():
        grad = None
        if tensor.requires_grad:
            grad = tensor.grad.data if tensor.grad is not None else np.zeros(np.shape(tensor.data))
        result.intermediates[name] = {"value": np.asarray(tensor.data), "gradient": grad}
    if visited is not None:
        result.steps = _steps(result.expression, visited, output, seed)


def _steps(source, visited, output, seed):
    steps, seen = [], set()
    for node, tensor in visited:
        if id(tensor) in seen:
            continue
        seen.add(id(tensor))
        if tensor.grad_fn is not None:
            op = tensor.grad_fn.name()
        else:
            op = "input" if isinstance(node, Name) else "constant"
        grad = tensor.grad.data if tensor.grad is not None else None
        if tensor is output and grad is None and output.requires_grad:
            grad = np.ones(np.shape(output.data)) if seed is None else seed
        steps.append(Step(source[node.start:node.end], op, column(node), np.asarray(tensor.data), grad))
    return steps


def _require_room(kind, elements):
    """A Hessian or Jacobian is allocated whole: refuse one larger than the array limit."""
    if elements > limits.max_elements():
        raise AutodiffError("limit", f"the {kind} would have {elements} elements; the limit is "
                                     f"{limits.max_elements()} (set AUTODIFF_MAX_ELEMENTS to raise it)")


def _unit_seeds(shape):
    """One-hot seeds, one per element of an array of this shape."""
    for k in range(int(np.prod(shape))):
        seed = np.zeros(shape)
        seed.flat[k] = 1.0
        yield seed


def _hessian(result, output, leaves):
    """All second derivatives by double backward: differentiate each gradient element again."""
    shape = np.shape(output.data)
    if shape != () and np.prod(shape) != 1:
        raise AutodiffError("shape", f"the Hessian needs a scalar output, and the output has shape {shape}",
                            hint="reduce it with sum()/mean(), or use the jacobian command")
    wanted = [leaves[n] for n in result.wrt]
    _require_room("Hessian", sum(leaf.size for leaf in wanted) ** 2)
    first = (engine.grad(output, wanted, create_graph=True, allow_unused=True)
             if output.requires_grad else [None] * len(wanted))
    for row, g in zip(result.wrt, first):
        row_shape = np.shape(leaves[row].data)
        blocks = {col: np.zeros(row_shape + np.shape(leaves[col].data)) for col in result.wrt}
        if g is not None and g.requires_grad and g.size and all(leaf.size for leaf in wanted):
            for k, seed in enumerate(_unit_seeds(row_shape)):
                second = engine.grad(g, wanted, grad_outputs=seed, retain_graph=True, allow_unused=True)
                for col, s in zip(result.wrt, second):
                    if s is not None:
                        blocks[col].reshape((-1,) + np.shape(leaves[col].data))[k] = s.data
        result.hessian[row] = blocks
        result.gradients[row] = np.zeros(row_shape) if g is None else np.asarray(g.data)


def _tangents(tangents, values, wrt, rng):
    """The tangent of every differentiated variable: given ones checked against its shape, zeros for the rest."""
    given = tangents or {}
    if not isinstance(given, dict):
        raise AutodiffError("usage", "tangents must map variable names to values, e.g. {\"x\": 1}")
    for name in given:
        if name not in wrt:
            known = ", ".join(wrt) or "none"
            raise AutodiffError("usage", f"a tangent is given for {name!r}, which is not a variable being "
                                         f"differentiated (those are: {known})")
    out = {}
    for name in wrt:
        if name not in given:
            out[name] = np.zeros(np.shape(values[name]))
            continue
        out[name] = value_of_shape(given[name], np.shape(values[name]), rng=rng, name=f"tangent of {name}",
                                   must=f"{name} has shape {np.shape(values[name])}",
                                   hint="a tangent has its variable's shape")   # refused before it is built
    return out


def _forward_mode(result, program, values, on_node):
    """The value and J.t in one forward pass (engine/forward.py): tangents ride beside the values."""
    names = list(program.inputs)

    def program_output(*tensors):
        output, _ = lower_to_engine(program, dict(zip(names, tensors)), on_node=on_node)
        return output

    tangents = [result.tangents.get(name, np.zeros(np.shape(values[name]))) for name in names]
    output, tangent = forward.jvp(program_output, [values[n] for n in names], tangents)
    result.jvp = np.asarray(tangent.data, dtype=np.float64)
    return output


def _derivative_order(order, mode):
    """The checked --order of mode derivatives (None for other modes, where giving one is an error)."""
    if mode != "derivatives":
        if order is not None:
            raise AutodiffError("usage", f"an order goes with mode derivatives, not {mode}")
        return None
    if order is None:
        return DEFAULT_ORDER
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or order < 1:
        raise AutodiffError("usage", f"the order must be a whole number >= 1, got {order!r}")
    if order > limits.max_derivative_order():
        raise AutodiffError("limit", f"order {order} is above the limit of {limits.max_derivative_order()} "
                                     "(set AUTODIFF_MAX_ORDER to raise it)")
    return int(order)


def _derivatives(result, output, leaves):
    """Every derivative up to result.order of a scalar output w.r.t. scalar variables."""
    for name in result.wrt:
        if np.shape(leaves[name].data) != ():
            raise AutodiffError("shape", f"derivatives of every order need scalar variables, and {name} has shape "
                                         f"{np.shape(leaves[name].data)}",
                                hint="use the hessian command for array variables (second order), "
                                     "or jacobian for first derivatives")
    shape = np.shape(output.data)
    if shape != () and np.prod(shape) != 1:
        raise AutodiffError("shape", f"derivatives need a scalar output, and the output has shape {shape}",
                            hint="use the jacobian command for a non-scalar output, or reduce it with sum()")
    count = len(result.wrt)
    entries = sum(count ** k for k in range(1, result.order + 1))
    if entries > limits.max_derivative_entries():
        raise AutodiffError("limit", f"{count} variables to order {result.order} make {entries} derivatives; the "
                                     f"limit is {limits.max_derivative_entries()} (set AUTODIFF_MAX_DERIVATIVES "
                                     "to raise it, or name fewer variables with --wrt)")
    wanted = [leaves[n] for n in result.wrt]
    if output.requires_grad and wanted:
        table = higher.derivatives(output, wanted, result.order)
    else:
        table = {k: {index: 0.0 for index in itertools.combinations_with_replacement(range(count), k)}
                 for k in range(1, result.order + 1)}
    for k in range(1, result.order + 1):
        result.derivatives[k] = _nest(result.wrt, k, lambda index: higher.entry(table, index))
    result.gradients = {name: np.asarray(result.derivatives[1][name]) for name in result.wrt}


def _nest(names, order, value_of):
    """{names[i1]: {names[i2]: ... value_of((i1, i2, ...))}} over every multi-index of this order."""
    root = {}
    for index in itertools.product(range(len(names)), repeat=order):
        node = root
        for i in index[:-1]:
            node = node.setdefault(names[i], {})
        node[names[index[-1]]] = value_of(index)
    return root


def _jacobian(result, output, leaves):
    """d output / d input, one backward per output element over the retained graph."""
    out_shape = np.shape(output.data)
    wanted = [leaves[n] for n in result.wrt]
    _require_room("Jacobian", output.size * sum(leaf.size for leaf in wanted))
    blocks = {n: np.zeros(out_shape + np.shape(leaves[n].data)) for n in result.wrt}
    if output.requires_grad and output.size and all(leaf.size for leaf in wanted):
        for k, seed in enumerate(_unit_seeds(out_shape)):
            row = engine.grad(output, wanted, grad_outputs=seed, retain_graph=True, allow_unused=True)
            for name, g in zip(result.wrt, row):
                if g is not None:
                    blocks[name].reshape((-1,) + np.shape(leaves[name].data))[k] = g.data
    result.jacobian = blocks


# --- what the forward pass tells about the point -----------------------------------------------

def _kinks(source, visited, data=_tensor_data):
    """Non-differentiable points the forward pass went through, as the op table describes them:
    (tree node, description) pairs (the check excuses the derivative entries under the node).
    visited: (tree node, x) pairs in evaluation order, data(x) the node's value."""
    tensors = None            # tree node id -> its x, built only if some op has kinks
    found = []
    for node, tensor in visited:
        if not isinstance(node, (Binary, Unary, Call)):
            continue
        spec = overload_of(node)
        if spec is None or spec.kink is None:
            continue
        if tensors is None:
            tensors = {id(n): t for n, t in visited}
        params = {"axis": node.axis} if isinstance(node, Call) and node.axis is not None else {}
        if isinstance(node, Call) and node.keepdims:
            params["keepdims"] = True
        if np.any(spec.kink.found(np.asarray(data(tensor)), *(np.asarray(data(tensors[id(c)])) for c in children(node)),
                               **params)):
            label = node.func if isinstance(node, Call) else f"'{node.op}'"
            found.append((node, f"{label} at column {column(node)} ({source[node.start:node.end]}) {spec.kink.situation}; "
                         f"PyTorch's convention {spec.kink.convention} was used"))
    return found


def _replay(program, values):
    """The forward pass again, recording every node: only needed to explain a nan or inf."""
    visited = []
    with engine.no_grad():
        lower_to_engine(program, {n: Tensor(v) for n, v in values.items()},
                        on_node=lambda node, t: visited.append((node, t)))
    return visited


def _non_finite_origins(source, visited):
    """Where nan/inf first appeared: the nodes whose inputs were finite but whose output is not."""
    finite = {}
    found = []
    computed = set()   # tensors some node computed: a name referring to one is not an origin
    for node, tensor in visited:
        ok = bool(np.isfinite(tensor.data).all())
        finite[id(node)] = ok
        if not isinstance(node, Name):
            computed.add(id(tensor))
        if ok or not all(finite.get(id(c), True) for c in children(node)):
            continue
        if isinstance(node, Num):
            found.append(f"the number at column {column(node)} is {_describe(tensor.data)}")
            continue
        if isinstance(node, Name):   # an input given as nan/inf (an intermediate was reported where computed)
            message = f"the input {node.id} is {_describe(tensor.data)}"
            if id(tensor) not in computed and message not in found:
                found.append(message)
            continue
        what = label(node, quote=False)
        snippet = source[node.start:node.end]
        args = ", ".join(_describe(np.asarray(t.data)) for t in _child_tensors(node, visited))
        found.append(f"{what} at column {column(node)} ({snippet}) produced {_describe(tensor.data)}"
                     + (f" from {args}" if args else ""))
        if len(found) >= 5:
            break
    return found


def _child_tensors(node, visited):
    lookup = {id(n): t for n, t in visited}
    return [lookup[id(c)] for c in children(node) if id(c) in lookup]


def _describe(value):
    array = np.asarray(value)
    if array.size == 1:
        return f"{float(array.reshape(())):g}"
    kinds = [k for k, bad in (("nan", np.isnan(array)), ("inf", np.isinf(array))) if bad.any()]
    return f"an array of shape {array.shape}" + (f" with {' and '.join(kinds)}" if kinds else "")
