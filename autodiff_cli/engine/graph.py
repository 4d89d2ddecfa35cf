"""Tensors, graph nodes and the reverse-mode engine.

The whole idea, as in micrograd: every op on tensors that require gradients records a node
(`grad_fn`) that remembers its inputs; `backward()` walks those nodes from the output back to the
leaves in reverse topological order, asking each node for the vector-Jacobian product (VJP) of the
gradient that reached it, and sums what arrives at each leaf into `.grad`.

This module knows nothing about individual ops: an op is made by `defop(name, forward, *vjps)`
from an entry of the op table (ops.py; build.py generates the engine functions from it). The walk is
iterative, so graphs of hundreds of thousands of nodes work at any recursion limit.

VJP formulas take a namespace `F` as their first argument: plain `numpy` during an ordinary
backward (fast: no graph is recorded), or the engine's own ops when `create_graph=True`, so that the
same formula, run on Tensors, records a graph of the backward pass and higher derivatives work.
"""
import contextvars
import gc
import types
import weakref

import numpy as np

__all__ = ["Tensor", "Node", "AccumulateGrad", "RemovableHandle", "defop", "no_grad", "enable_grad",
           "is_grad_enabled", "grad", "backward", "raw", "quiet_numpy", "DIFFERENTIABLE"]


# Per-thread switches, as PyTorch's grad mode is per thread: one tuple `(numpy_quiet, grad_enabled)`
#   numpy_quiet:  True while a caller already holds np.errstate(all="ignore") (errstate is per thread too)
#   grad_enabled: ops record graph nodes
# A ContextVar rather than threading.local: every thread starts from the default, and reading it is
# cheaper than a threading.local attribute (measured 12 ns against 37 ns), which matters once per op.
_MODE = contextvars.ContextVar("autodiff_engine_mode", default=(False, True))
_mode = _MODE.get
# Forward mode: the active level of forward.jvp() (tensor -> tangent), None when no jvp runs.
FORWARD_LEVEL = contextvars.ContextVar("autodiff_forward_level", default=None)
_forward_level = FORWARD_LEVEL.get


# The engine functions VJP formulas call under create_graph=True (sin, where, sum, ...): generated
# from the op table by build.py, which fills this namespace (this module cannot import it: the
# table is built on top of this module).
DIFFERENTIABLE = types.SimpleNamespace()


# --- tensors -------------------------------------------------------------------------------------

class Tensor:
    """A float64 numpy array with an optional place in the autograd graph."""

    __slots__ = ("data", "grad", "requires_grad", "grad_fn", "_accumulator", "__weakref__")
    __array_priority__ = 1000   # numpy defers to our reflected operators: array * Tensor -> Tensor
    __array_ufunc__ = None

    def __init__(self, data, requires_grad=False):
        if isinstance(data, Tensor):
            data = data.data
        self.data = np.asarray(data, dtype=np.float64)   # shares a float64 array: the engine never writes into data
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self.grad_fn = None
        self._accumulator = None

    @classmethod
    def _result(cls, data, grad_fn):
        """An op's output: skips the checks and the copy of the public constructor."""
        t = cls.__new__(cls)
        t.data = data
        t.grad = None
        t.requires_grad = grad_fn is not None
        t.grad_fn = grad_fn
        t._accumulator = None
        return t

    @property
    def is_leaf(self):
        return self.grad_fn is None

    @property
    def shape(self):
        return self.data.shape

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def size(self):
        return self.data.size

    def item(self):
        if self.data.size != 1:
            raise RuntimeError(f"a Tensor with {self.data.size} elements cannot be converted to Scalar")
        return float(np.asarray(self.data).item())

    def numpy(self):
        return np.asarray(self.data)

    def tolist(self):
        return np.asarray(self.data).tolist()

    def detach(self):
        """The same values, cut from the graph (shares memory with self, as in PyTorch)."""
        return Tensor._result(self.data, None)

    def retain_grad(self):
        """Keep .grad on a non-leaf after backward (leaves always keep theirs)."""
        if self.grad_fn is not None:
            self.grad_fn._retained = weakref.ref(self)
        elif not self.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")

    def backward(self, gradient=None, retain_graph=None, create_graph=False):
        backward([self], [gradient], retain_graph=retain_graph, create_graph=create_graph)

    def register_hook(self, hook):
        """Call `hook(grad)` with this tensor's gradient during every backward; a Tensor it returns
        replaces the gradient (what flows on below a non-leaf, what a leaf accumulates into .grad).
        Returns a handle whose remove() unregisters the hook."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        # A non-leaf's hooks belong to its grad_fn, so they fire even after this object is gone.
        hooks = _hooks.setdefault(self.grad_fn if self.grad_fn is not None else self, {})
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        return handle

    def _edge(self):
        """The node an op's gradient for this tensor flows into (PyTorch's next_functions entry)."""
        if self.grad_fn is not None:
            return self.grad_fn
        if not self.requires_grad:
            return None
        node = self._accumulator() if self._accumulator is not None else None
        if node is None:   # one AccumulateGrad per leaf while any graph holds it, as in PyTorch
            node = AccumulateGrad(self)
            self._accumulator = weakref.ref(node)
        return node

    def __repr__(self):
        body = np.array2string(np.asarray(self.data), separator=", ", precision=8)
        extra = f", grad_fn=<{self.grad_fn.name()}>" if self.grad_fn is not None else (
            ", requires_grad=True" if self.requires_grad else "")
        return f"tensor({body}{extra})"

    def __bool__(self):
        return bool(self.data)

    def __float__(self):
        return self.item()

    def __len__(self):
        return len(self.data)

    # Python operators (`+`, `*`, `@`, ...) are attached in ops.py, next to the ops they call.


# --- hooks ---------------------------------------------------------------------------------------

# {leaf Tensor or grad_fn node: {handle id: hook}}, in registration order. Kept out of the objects
# so that building a graph pays nothing for hooks; weak, so a hook dies with what it is attached to.
_hooks = weakref.WeakKeyDictionary()


class RemovableHandle:
    """What register_hook returns: remove() (or leaving a `with` block) unregisters the hook."""

    _next_id = 0

    def __init__(self, hooks):
        self._hooks = hooks
        RemovableHandle._next_id += 1
        self.id = RemovableHandle._next_id

    def remove(self):
        self._hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def _run_hooks(hooks, g, create_graph):
    """The gradient after every hook of its tensor has seen it (and maybe replaced it)."""
    current = g if isinstance(g, Tensor) else Tensor._result(g, None)
    for hook in list(hooks.values()):
        replaced = hook(current)
        if replaced is None:
            continue
        if not isinstance(replaced, Tensor):
            replaced = Tensor(replaced)
        if replaced.shape != current.shape:
            raise RuntimeError(f"hook '{getattr(hook, '__name__', 'hook')}' has changed the size of value "
                               f"from {tuple(current.shape)} to {tuple(replaced.shape)}")
        current = replaced
    return current if create_graph else current.data


def raw(x):
    """The numpy value of a Tensor, or x itself: for masks and shapes inside VJP formulas."""
    return x.data if isinstance(x, Tensor) else x


def _as_input(x):
    """An op argument as stored by its node: Tensors as they are, anything else as a float64 array."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (float, int)) and not isinstance(x, bool):
        return np.float64(x)
    return np.asarray(x, dtype=np.float64)


# --- graph nodes ---------------------------------------------------------------------------------

class Node:
    """One recorded op (PyTorch's grad_fn). Subclasses are named after the op: `MulBackward0`.

    inputs:         the op's arguments (Tensors, or arrays for constants), saved for the VJPs
    out:            the op's output array (some VJPs are cheapest in terms of it: exp, tanh, sqrt)
    params:         the op's keyword arguments (axis, shape, ...)
    edges:          (node or None, ...) one per input: where each input's gradient goes
                    (PyTorch's next_functions without the output indices, which are always 0 here)
    """

    __slots__ = ("inputs", "out", "params", "edges", "_retained", "__weakref__")
    vjps = ()
    jvp = None

    def name(self):
        return type(self).__name__

    @property
    def next_functions(self):
        return tuple((edge, 0) for edge in self.edges)

    def __repr__(self):
        return f"<{self.name()} object at {id(self):#x}>"

    def release(self):
        """Free the saved tensors (what PyTorch does after a backward without retain_graph)."""
        self.inputs = None
        self.out = None

    def apply(self, g, create_graph):
        """Gradients for each input given the gradient `g` of this node's output (None where unused)."""
        if self.inputs is None:
            raise RuntimeError(
                "Trying to backward through the graph a second time (or directly access saved tensors "
                "after they have already been freed). Saved intermediate values of the graph are freed "
                "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
                "backward through the graph a second time or if you need to access saved tensors after "
                "calling backward.")
        if create_graph:
            F = DIFFERENTIABLE
            inputs, ans = self.inputs, Tensor._result(self.out, self)
        else:
            F = np
            inputs, ans = [x.data if isinstance(x, Tensor) else x for x in self.inputs], self.out
            if type(g) is np.ndarray and g.size > _FORGET_ABOVE:
                g = uniform_one(g)
        grads = []
        params = self.params
        for edge, vjp, x in zip(self.edges, self.vjps, inputs):
            if edge is None:
                grads.append(None)
                continue
            gx = vjp(F, g, ans, *inputs, **params)
            if type(g) is UniformOne:
                gx = plain(gx)
            shape = x.shape
            grads.append(gx if gx.shape == shape else _unbroadcast(F, gx, shape))
        return grads


class AccumulateGrad:
    """The sink for a leaf tensor: what arrives here is summed into `variable.grad`."""

    __slots__ = ("variable", "_retained", "__weakref__")
    edges = next_functions = ()

    def __init__(self, variable):
        self.variable = variable
        self._retained = None

    def name(self):
        return "AccumulateGrad"

    def __repr__(self):
        return f"<AccumulateGrad object at {id(self):#x}>"


class UniformOne(np.ndarray):
    """A gradient that is 1 everywhere, as a whole-array sum passes back (a read-only broadcast of 1.0).
    Times an array of its shape it is that array itself, and an array of its shape divided into it is
    1 / that array: the numbers `g * a` and `g / a` give, without a multiply by ones over the array.
    Anything else computes as with a plain array (and gives plain arrays)."""

    def _same_shape(self, other):
        return type(other) is np.ndarray and other.dtype == np.float64 and other.shape == self.shape

    def __mul__(self, other):
        return other if self._same_shape(other) else np.multiply(self.view(np.ndarray), other)

    __rmul__ = __mul__

    def __truediv__(self, other):
        return np.divide(1.0, other) if self._same_shape(other) else np.divide(self.view(np.ndarray), other)

    def __neg__(self):
        return np.broadcast_to(np.float64(-1.0), self.shape)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return getattr(ufunc, method)(*[plain(x) for x in inputs], **kwargs)


def uniform_one(g):
    """g as a UniformOne when it is a broadcast of 1.0 (every stride 0) over more than _FORGET_ABOVE
    elements (below that a pass costs less than the check), else g itself."""
    if type(g) is np.ndarray and g.size > _FORGET_ABOVE and not any(g.strides) and g.flat[0] == 1.0:
        return g.view(UniformOne)
    return g


def plain(a):
    """A UniformOne (or a view of one) as a plain array; anything else as it is."""
    return a.view(np.ndarray) if isinstance(a, UniformOne) else a


def _unbroadcast(F, g, shape):
    """Sum a gradient that numpy broadcasting spread out back down to the input's shape."""
    gshape = np.shape(raw(g))
    if gshape == shape:
        return g
    lead = len(gshape) - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and gshape[lead + i] != 1)
    if axes:
        g = F.sum(g, axis=axes, keepdims=True)
    return F.reshape(g, shape) if np.shape(raw(g)) != shape else g


def _edge_of(x):
    """Where the gradient of op input x goes: its grad_fn, its leaf's AccumulateGrad, or nowhere."""
    if isinstance(x, Tensor):
        if x.grad_fn is not None:
            return x.grad_fn
        if x.requires_grad:
            return x._edge()
    return None


class _ShapeOnly:
    """Stands in for a saved input that no VJP of its op reads (x + y needs only the shapes)."""

    __slots__ = ("shape",)

    def __init__(self, shape):
        self.shape = shape


# Arrays up to this many elements are saved even when not needed: forgetting costs more than keeping.
_FORGET_ABOVE = 4096


def _forget_values(inputs):
    if all(raw(x).size <= _FORGET_ABOVE for x in inputs):
        return inputs
    return tuple(_ShapeOnly(x.shape) if raw(x).size > _FORGET_ABOVE else x for x in inputs)


def defop(name, forward, *vjps, jvp=None, saves_inputs=True, saves_output=True, function_name=None):
    """Make an op from a numpy `forward(*arrays, **params)` and one VJP per positional input.

    name: the node class's name (PyTorch's, `MulBackward0`); function_name: the op function's
    `__name__` (`mul`). Each VJP is `vjp(F, g, ans, *inputs, **params)` and returns the gradient
    for its input: the engine sums it back to the input's shape (broadcasting), so formulas can
    ignore broadcasting. The node class holds the VJPs (`node_class.vjps`, and the forward-mode
    rule `node_class.jvp`): replacing them there changes every derivative through the op (see
    autodiff_cli.testing).
    saves_inputs / saves_output: False where no VJP reads the inputs' values / the output, so
    that large arrays are freed during the forward pass (only their shapes are kept).
    """
    node_class = type(name, (Node,), {"__slots__": (), "vjps": tuple(vjps),
                                         "jvp": staticmethod(jvp) if jvp is not None else None})

    def run_forward(arrays, params):
        with np.errstate(all="ignore"):
            return forward(*arrays, **params)

    def record(inputs, out, params, edges):
        """The output tensor, with a node in the graph when any input requires grad."""
        for edge in edges:
            if edge is not None:
                if not _collector_tuned:
                    _tune_collector()
                node = node_class.__new__(node_class)
                node.inputs = inputs if saves_inputs else _forget_values(inputs)
                node.out = out if saves_output or out.size <= _FORGET_ABOVE else None
                node.params = params
                node.edges = edges
                node._retained = None
                return Tensor._result(out, node)
        return Tensor._result(out, None)

    # The same op specialised by arity: this is the innermost loop of every forward pass, so the
    # one- and two-input cases spell out what the general case does with tuples.
    if len(vjps) == 1:
        def op(x, **params):
            if isinstance(x, Tensor):
                data = x.data
            else:
                x = data = _as_input(x)
            quiet, recording = _mode()
            out = forward(data, **params) if quiet else run_forward((data,), params)
            result = record((x,), out, params, (_edge_of(x),)) if recording else Tensor._result(out, None)
            if _forward_level() is not None:
                _give_tangent(node_class, (x,), result, params)
            return result
    elif len(vjps) == 2:
        def op(a, b, **params):
            if isinstance(a, Tensor):
                da = a.data
            else:
                a = da = _as_input(a)
            if isinstance(b, Tensor):
                db = b.data
            else:
                b = db = _as_input(b)
            quiet, recording = _mode()
            out = forward(da, db, **params) if quiet else run_forward((da, db), params)
            if recording:
                result = record((a, b), out, params, (_edge_of(a), _edge_of(b)))
            else:
                result = Tensor._result(out, None)
            if _forward_level() is not None:
                _give_tangent(node_class, (a, b), result, params)
            return result
    else:
        def op(*args, **params):
            inputs = tuple(_as_input(a) for a in args)
            out = run_forward(tuple(raw(x) for x in inputs), params)
            if _mode()[1]:
                result = record(inputs, out, params, tuple(_edge_of(x) for x in inputs))
            else:
                result = Tensor._result(out, None)
            if _forward_level() is not None:
                _give_tangent(node_class, inputs, result, params)
            return result

    op.__name__ = op.__qualname__ = function_name or name
    op.node_class = node_class
    return op


def _give_tangent(node_class, inputs, result, params):
    """Forward mode is on (forward.jvp is running): the op's output tangent, beside its value."""
    _forward_level().give(node_class.jvp, node_class.__name__, inputs, [raw(x) for x in inputs], result, params)


# --- the cyclic garbage collector ----------------------------------------------------------------
# Recording a graph allocates a few small long-lived objects per op, and with CPython's default
# gen-0 threshold (700 allocations) the cyclic collector then costs more than the ops themselves
# (measured: a 300,000-node chain built and differentiated 1.3x slower). Our graphs hold no
# reference cycles (leaves reach their AccumulateGrad through a weak reference), so while the engine
# records nodes the collector runs less often: the threshold is raised when the first node is
# recorded and put back when a backward pass frees its graph. Importing the engine changes nothing,
# and a program that tuned the collector itself (or disabled it) is left alone.
_RELAXED_GEN0_THRESHOLD = 20_000
_collector_tuned = False      # True while we hold the threshold raised (or decided not to touch it)
_threshold_to_restore = None


def _tune_collector():
    global _collector_tuned, _threshold_to_restore
    _collector_tuned = True
    gen0 = gc.get_threshold()[0]
    if 0 < gen0 < _RELAXED_GEN0_THRESHOLD:
        _threshold_to_restore = gen0
        gc.set_threshold(_RELAXED_GEN0_THRESHOLD, *gc.get_threshold()[1:])


def _restore_collector():
    global _collector_tuned, _threshold_to_restore
    if _threshold_to_restore is not None and gc.get_threshold()[0] == _RELAXED_GEN0_THRESHOLD:
        gc.set_threshold(_threshold_to_restore, *gc.get_threshold()[1:])
    _collector_tuned, _threshold_to_restore = False, None


# --- switches ------------------------------------------------------------------------------------

class _GradMode:
    def __init__(self, enabled):
        self.enabled = enabled

    def __enter__(self):
        self._token = _MODE.set((_mode()[0], self.enabled))

    def __exit__(self, *exc):
        _MODE.reset(self._token)

    def __call__(self, func):   # also usable as a decorator, like torch.no_grad
        def wrapper(*args, **kwargs):
            with _GradMode(self.enabled):
                return func(*args, **kwargs)
        return wrapper


def no_grad():
    """Context manager (or decorator): ops inside record no graph (in this thread)."""
    return _GradMode(False)


def enable_grad():
    return _GradMode(True)


def is_grad_enabled():
    return _mode()[1]


class quiet_numpy:
    """Ignore floating-point warnings once for a whole computation (cheaper than per op)."""

    def __enter__(self):
        self._errstate = np.errstate(all="ignore")
        self._errstate.__enter__()
        self._token = _MODE.set((True, _mode()[1]))

    def __exit__(self, *exc):
        _MODE.reset(self._token)
        self._errstate.__exit__(*exc)


# --- the backward pass ---------------------------------------------------------------------------

def _seed(output, gradient, create_graph):
    """The starting gradient for one output, checked as PyTorch checks it."""
    if gradient is None:
        if output.size != 1:
            raise RuntimeError(
                f"grad can be implicitly created only for scalar outputs (the output has shape "
                f"{tuple(output.shape)}); pass a gradient of that shape, e.g. ones, or reduce the output "
                f"with sum() or mean()")
        g = np.ones_like(output.data)
    else:
        g = gradient.data if isinstance(gradient, Tensor) else np.asarray(gradient, dtype=np.float64)
        if g.shape != output.shape:
            raise RuntimeError(f"Mismatch in shape: gradient has a shape of {g.shape} and output has a "
                               f"shape of {output.shape}")
    if create_graph:
        return gradient if isinstance(gradient, Tensor) else Tensor._result(np.asarray(g, np.float64), None)
    return np.asarray(g, dtype=np.float64)


def _topological_consumers(roots):
    """How many edges lead into each node reachable from the roots (iterative DFS)."""
    consumers = {}
    seen = set(roots)
    stack = list(roots)
    while stack:
        node = stack.pop()
        for nxt in node.edges:
            if nxt is None:
                continue
            consumers[nxt] = consumers.get(nxt, 0) + 1
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return consumers


def _accumulate(total, g):
    return g if total is None else total + g


def is_new_array(gx, given):
    """gx is an array a VJP has just made: not a view and none of the arrays it was `given` (its
    gradient, output and inputs). Nobody else can read it, so gradient sums may go into it in place.
    (Table VJPs return new arrays or views of what they were given, never an array kept elsewhere.)"""
    return (type(gx) is np.ndarray and gx.ndim > 0 and gx.base is None and gx.flags.writeable
            and all(gx is not a for a in given))


def add_gradient(grads, key, gx, owned, new):
    """grads[key] += gx, in place into a buffer of our own (`owned`: keys whose gradient is one) when
    there is one: the total's, else gx's if it is `new` (see is_new_array). Same sum either way."""
    total = grads[key]
    if key in owned:
        np.add(total, gx, out=total)
    elif new:
        np.add(total, gx, out=gx)
        grads[key] = gx
        owned.add(key)
    else:
        grads[key] = total = total + gx
        if type(total) is np.ndarray and total.ndim:
            owned.add(key)


def _store_grad(tensor, g, create_graph):
    """Sum g into tensor.grad (a Tensor), as leaves and retain_grad() tensors do across calls."""
    if create_graph:
        new = g if isinstance(g, Tensor) else Tensor._result(g, None)
        tensor.grad = new if tensor.grad is None else tensor.grad + new
    else:
        value = np.array(raw(g), dtype=np.float64)   # a copy: never alias a seed or another grad
        tensor.grad = Tensor._result(value if tensor.grad is None else tensor.grad.data + value, None)


def run_backward(outputs, gradients, *, retain_graph=None, create_graph=False, capture=None):
    """Propagate gradients from `outputs` to every node they depend on, in topological order.

    A node runs only once all of its consumers have contributed, so each node's gradient is summed
    exactly once before it propagates: shared subexpressions cost nothing extra.
    capture: optional {node: None}; the gradients reaching these nodes are stored there instead of
    in the leaves' .grad (what `grad()` uses).
    """
    if retain_graph is None:
        retain_graph = create_graph
    grads, roots = {}, []
    for i, (out, gradient) in enumerate(zip(outputs, gradients)):
        node = out._edge() if isinstance(out, Tensor) else None
        if node is None:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
        grads[node] = _accumulate(grads.get(node), _seed(out, gradient, create_graph))
        roots.append(node)
    consumers = _topological_consumers(roots)
    ready = [n for n in dict.fromkeys(roots) if consumers.get(n, 0) == 0]
    owned = set()        # nodes whose summed gradient is an array of our own: later sums go into it
    hooked = bool(_hooks)
    with _GradMode(create_graph), quiet_numpy():
        while ready:
            node = ready.pop()
            g = grads.pop(node, None)
            if hooked and g is not None:
                hooks = _hooks.get(node.variable if node.__class__ is AccumulateGrad else node)
                if hooks:
                    g = _run_hooks(hooks, g, create_graph)
            if capture is not None and g is not None and node in capture:
                capture[node] = _accumulate(capture[node], g)
            if node.__class__ is AccumulateGrad:
                if capture is None and g is not None:
                    _store_grad(node.variable, g, create_graph)
                continue
            if node._retained is not None and g is not None:
                retained = node._retained()
                if retained is not None:
                    _store_grad(retained, g, create_graph)
            input_grads = node.apply(g, create_graph) if g is not None else [None] * len(node.edges)
            for nxt, gx in zip(node.edges, input_grads):
                if nxt is None:
                    continue
                if gx is not None:
                    total = grads.get(nxt)
                    if type(gx) is not np.ndarray or gx.size <= _FORGET_ABOVE:   # summing anew is cheaper
                        grads[nxt] = gx if total is None else total + gx
                    else:
                        new = node.__class__.apply is Node.apply and is_new_array(
                            gx, (g, node.out, *[raw(x) for x in node.inputs]))
                        if total is None:
                            grads[nxt] = gx
                            if new:
                                owned.add(nxt)
                        else:
                            add_gradient(grads, nxt, gx, owned, new)
                remaining = consumers[nxt] - 1
                consumers[nxt] = remaining
                if not remaining:
                    ready.append(nxt)
            if not retain_graph:
                node.release()
    if not retain_graph:
        _restore_collector()   # the graph's saved values are freed: recording is over


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False):
    """Sum d(tensors)/d(leaf) (weighted by grad_tensors) into every leaf's .grad."""
    if isinstance(tensors, Tensor):
        tensors = [tensors]
    if grad_tensors is None or isinstance(grad_tensors, (Tensor, np.ndarray, float, int)):
        grad_tensors = [grad_tensors] * len(tensors) if grad_tensors is None else [grad_tensors]
    if len(grad_tensors) != len(tensors):
        raise RuntimeError(f"grad_tensors should have the same length as tensors, but got "
                           f"{len(grad_tensors)} gradients for {len(tensors)} tensors")
    run_backward(list(tensors), list(grad_tensors), retain_graph=retain_graph, create_graph=create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False):
    """Gradients of outputs w.r.t. inputs, returned instead of stored in .grad (torch.autograd.grad)."""
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, (Tensor, np.ndarray)):
        grad_outputs = [grad_outputs]
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(f"grad_outputs should have the same length as outputs, but got "
                           f"{len(grad_outputs)} gradients for {len(outputs)} outputs")
    nodes = []
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError(f"One of the differentiated Tensors (input {i}) does not require grad")
        nodes.append(t._edge())
    capture = dict.fromkeys(nodes)
    run_backward(outputs, list(grad_outputs), retain_graph=retain_graph, create_graph=create_graph,
                 capture=capture)
    result = []
    for i, (t, node) in enumerate(zip(inputs, nodes)):
        g = capture[node]
        if g is None:
            if not allow_unused:
                raise RuntimeError(f"One of the differentiated Tensors (input {i}) appears to not have been "
                                   "used in the graph. Set allow_unused=True if this is the desired behavior.")
            result.append(None)
        elif isinstance(g, Tensor):
            result.append(g)
        else:
            result.append(Tensor._result(np.array(g, dtype=np.float64), None))
    return tuple(result)
