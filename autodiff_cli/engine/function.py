"""Custom ops with a hand-written backward (torch.autograd.Function), and gradcheck to test them."""
import numpy as np

from .graph import FORWARD_LEVEL, Node, Tensor, is_grad_enabled, no_grad, raw, run_backward


class FunctionCtx:
    """What forward() hands to backward(): saved tensors plus any attribute you set on it."""

    def __init__(self):
        self.saved_tensors = ()
        self.needs_input_grad = ()

    def save_for_backward(self, *tensors):
        self.saved_tensors = tensors


class _CustomNode(Node):
    """A node whose VJP is the user's backward(); named `<ClassName>Backward` as in PyTorch."""

    __slots__ = ("ctx", "function", "tensor_positions")

    def name(self):
        return f"{self.function.__name__}Backward"

    def release(self):
        super().release()
        self.ctx = None

    def apply(self, g, create_graph):
        if self.ctx is None:
            super().apply(g, create_graph)   # raises the "backward a second time" error
        with no_grad() if not create_graph else _noop():
            grads = self.function.backward(self.ctx, g if isinstance(g, Tensor) else Tensor._result(g, None))
        if not isinstance(grads, tuple):
            grads = (grads,)
        if len(grads) != len(self.ctx.needs_input_grad):
            raise RuntimeError(f"function {self.function.__name__}Backward returned an incorrect number of "
                               f"gradients (expected {len(self.ctx.needs_input_grad)}, got {len(grads)})")
        result = []
        for position in self.tensor_positions:   # non-tensor arguments' gradients are dropped
            gx = grads[position]
            result.append(None if gx is None else (gx if create_graph else raw(gx)))
        return result


class _noop:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class Function:
    """Subclass with static `forward(ctx, *args)` and `backward(ctx, *grad_outputs)`; call `.apply(*args)`.

    backward returns one gradient per forward argument (None for arguments that are not tensors
    or need none). For forward mode (`jvp`), also define static `jvp(ctx, *tangents)`: the output's
    tangent given one tangent per forward argument (None where it has none).
    """

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError

    jvp = None      # optional: staticmethod jvp(ctx, *tangents) -> the output's tangent (forward mode)

    @classmethod
    def apply(cls, *args):
        level = FORWARD_LEVEL.get()
        token = FORWARD_LEVEL.set(None)       # forward()'s own ops carry no tangents (as in torch)
        try:
            result, ctx = cls._apply(args)
        finally:
            FORWARD_LEVEL.reset(token)
        if level is not None:
            tangents = tuple(level.tangent_of(a) for a in args)
            if any(t is not None for t in tangents):
                if cls.jvp is None:
                    raise NotImplementedError(f"{cls.__name__} has no forward-mode rule: define "
                                              f"jvp(ctx, *tangents) to use it under jvp()")
                tangent = raw(cls.jvp(ctx, *tangents))
                level.tangents[id(result)] = (result, np.array(np.broadcast_to(tangent, result.shape), np.float64))
        return result

    @classmethod
    def _apply(cls, args):
        ctx = FunctionCtx()
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        with no_grad():
            out = cls.forward(ctx, *args)
        out_data = out.data if isinstance(out, Tensor) else np.asarray(out, dtype=np.float64)
        positions = tuple(i for i, a in enumerate(args) if isinstance(a, Tensor))
        edges = tuple(args[i]._edge() for i in positions)
        if not is_grad_enabled() or all(e is None for e in edges):
            return Tensor._result(out_data, None), ctx
        node_class = cls.__dict__.get("_node_class")
        if node_class is None:   # a node class per Function, so type(grad_fn).__name__ reads "MyExpBackward"
            node_class = type(f"{cls.__name__}Backward", (_CustomNode,), {"__slots__": ()})
            cls._node_class = node_class
        node = node_class.__new__(node_class)
        node.inputs = tuple(args[i] for i in positions)
        node.out, node.params, node._retained = out_data, {}, None
        node.edges = edges
        node.ctx, node.function, node.tensor_positions = ctx, cls, positions
        return Tensor._result(out_data, node), ctx


class GradcheckError(RuntimeError):
    pass


def _numerical_jacobian(fn, inputs, index, eps):
    """d(output)/d(inputs[index]) by central differences, shape (output.size, input.size)."""
    x = inputs[index]
    base = np.array(x.data, dtype=np.float64)
    columns = []
    for k in range(base.size):
        values = []
        for step in (eps, -eps):
            moved = base.copy()
            moved.flat[k] += step
            args = list(inputs)
            args[index] = Tensor(moved)
            with no_grad():
                values.append(np.ravel(raw(fn(*args))).astype(np.float64))
        columns.append((values[0] - values[1]) / (2 * eps))
    return np.stack(columns, axis=1) if columns else np.zeros((0, 0))


def _analytical_jacobian(fn, inputs, index):
    """Rows of d(output)/d(inputs[index]) by one backward per output element."""
    out = fn(*inputs)
    rows = []
    for k in range(out.size):
        seed = np.zeros(out.shape)
        seed.flat[k] = 1.0
        capture = {inputs[index]._edge(): None}
        if out.grad_fn is not None:
            run_backward([out], [seed], retain_graph=True, capture=capture)
        g = next(iter(capture.values()))
        rows.append(np.zeros(inputs[index].size) if g is None else np.ravel(raw(g)))
    return np.stack(rows, axis=0) if rows else np.zeros((0, inputs[index].size))


def gradcheck(fn, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """Compare the engine's gradients of fn(*inputs) with central finite differences.

    Like torch.autograd.gradcheck: True when every Jacobian element agrees within
    atol + rtol * |numerical|; otherwise raises GradcheckError (or returns False) naming the worst
    element.
    """
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    for i, x in enumerate(inputs):
        if not isinstance(x, Tensor) or not x.requires_grad:
            continue
        numerical = _numerical_jacobian(fn, inputs, i, eps)
        analytical = _analytical_jacobian(fn, inputs, i)
        excess = np.abs(analytical - numerical) - (atol + rtol * np.abs(numerical))
        if excess.size and (np.nanmax(excess) > 0 or np.isnan(analytical).any() != np.isnan(numerical).any()):
            out_k, in_k = np.unravel_index(np.nanargmax(excess), excess.shape)
            message = (f"Jacobian mismatch for output 0 with respect to input {i}, at output element "
                       f"{int(out_k)} and input element {int(in_k)}: analytical {analytical[out_k, in_k]!r} "
                       f"vs numerical {numerical[out_k, in_k]!r}\nnumerical:{numerical}\nanalytical:{analytical}")
            if raise_exception:
                raise GradcheckError(message)
            return False
    return True
