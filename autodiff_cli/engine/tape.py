"""The compiled path's runtime: a `Tape` of instructions over numbered slots, run forward and backward
by the loops below, with no graph nodes or Tensors.

A tape is data (language/compile.py fills it once per expression and input shapes):
    slots 0..n_inputs-1      the program's inputs, in `program.inputs` order
    constants                {slot: value} numbers of the program
    code                     [(node_class, spec_node, input slots, params, output slot)] in forward order
                             (stored as one list per field: a 400,000-op program would otherwise leave
                             800,000 tuples for the garbage collector to scan again and again)
Every instruction is a node of the op table (engine/ops.py, built by build.py): its numpy forward, its
VJPs (read from the node class at run time, so `autodiff_cli.testing.wrong_derivative` reaches them),
and, when the table declares one, its float forward (`scalar=`).

Two ways to run it, giving the same numbers to a few ulps:
  floats  every slot is a scalar and every op has a float forward: plain Python floats and `math`
          (VJP formulas get F = SCALAR_F); an ArithmeticError/ValueError (where numpy would give
          inf or nan) makes the whole run start again in numpy, so nan/inf come out exactly as numpy's
  numpy   arrays, exactly as the Tensor engine computes them (same forwards, VJPs with F = numpy,
          the same un-broadcasting); values no VJP needs are dropped as soon as they are used, a
          gradient summed from several uses is summed in place into a buffer of our own, and a
          gradient of ones (what a whole-array sum passes back) multiplies nothing (graph.UniformOne)
"""
import itertools
import math
import types

import numpy as np

from .graph import _FORGET_ABOVE, UniformOne, _ShapeOnly, _unbroadcast, add_gradient, is_new_array, plain, uniform_one

__all__ = ["Tape", "SCALAR_F"]

# What VJP formulas may call on floats (the same names numpy has).
SCALAR_F = types.SimpleNamespace(
    sin=math.sin, cos=math.cos, tan=math.tan, sinh=math.sinh, cosh=math.cosh, tanh=math.tanh,
    exp=math.exp, log=math.log, log1p=math.log1p, expm1=math.expm1, sqrt=math.sqrt, power=math.pow,
    where=lambda condition, a, b: a if condition else b)

_FLOAT_FAILURES = (ArithmeticError, ValueError)


class Tape:
    def __init__(self, n_inputs):
        self.n_inputs = n_inputs
        self.n_slots = n_inputs
        self.constants = {}
        # the instructions, one list per field (see `code`); every op has one or two inputs
        self.node_classes, self.spec_nodes, self.params = [], [], []
        self.first, self.second, self.outs = [], [], []         # input slots (second: -1 if none), output slot
        self._code = None
        self.shapes = []           # per slot, as the compiling run found them (inputs filled by the compiler)
        self.output = None         # slot of the result, or a plain number
        self.named = {}            # intermediate name -> slot or plain number
        self.visited = []          # (tree node, slot or plain number) in evaluation order, for the check
        self.has_visited = False
        self._float_forwards = None
        self._keep = set()           # slots whose values and gradients the caller reads
        self._free_after = None
        self._reuse = None
        self._needs_by_wrt = {}
        self.saved = {}             # slot -> value the compiling pass computed (a numpy compile only)...
        self.traced_inputs = None   # ...at these input arrays: the first run at them skips its forward

    # --- building (language/compile.py) ---------------------------------------------------------

    def constant(self, value):
        """A slot holding `value` (a float64 scalar or array, as the engine makes numbers)."""
        slot = self.n_slots
        self.n_slots += 1
        self.shapes.append(value.shape)
        self.constants[slot] = value
        return slot

    def add(self, node_class, spec_node, first, second, params, out_shape):
        """Append an instruction on input slots `first` and `second` (-1: a one-input op); returns its output slot."""
        out = self.n_slots
        self.n_slots = out + 1
        self.shapes.append(out_shape)
        self.node_classes.append(node_class)
        self.spec_nodes.append(spec_node)
        self.params.append(params)
        self.first.append(first)
        self.second.append(second)
        self.outs.append(out)
        return out

    @property
    def size(self):
        """The number of instructions."""
        return len(self.outs)

    @property
    def code(self):
        """The instructions as (node_class, spec_node, input slots, params, output slot), in order."""
        if self._code is None or len(self._code) != len(self.outs):     # none yet, or instructions added since
            self._code = [(node_class, spec_node, (a,) if b < 0 else (a, b), params, out)
                          for node_class, spec_node, a, b, params, out in zip(
                              self.node_classes, self.spec_nodes, self.first, self.second, self.params, self.outs)]
        return self._code

    def finish(self, visited, scalar=None):
        """Decide how the tape can run (after the last instruction); visited: `visited` was filled;
        scalar: the compiler knows every slot is a scalar and every op has a float forward (None: look)."""
        self.has_visited = visited
        if scalar is None:
            scalar = (all(shape == () for shape in self.shapes)
                      and all(n.scalar is not None for n in self.spec_nodes))
        if scalar:
            # per instruction, its float forward with its options bound (run with first, second, outs)
            self._float_forwards = [_bound(n.scalar, params) for n, params in zip(self.spec_nodes, self.params)]
        self._keep = set(range(self.n_inputs)) | set(self.constants)
        self._keep.update(s for s in [self.output, *self.named.values()] if isinstance(s, int))

    def _plan_release(self):
        """Per instruction, the slots no later instruction and no VJP reads: dropped after it in numpy runs."""
        kept = set(self._keep)
        last_use = {}
        for i, (_, node, slots, _, out) in enumerate(self.code):
            for s in slots:
                last_use[s] = i
                if node.saves_inputs:
                    kept.add(s)
            if node.saves_output:
                kept.add(out)
        free_after = {}
        for s, i in last_use.items():
            if s not in kept:
                free_after.setdefault(i, []).append(s)
        return free_after

    def _plan_reuse(self, free_after):
        """{instruction: an input slot dropped after it whose array can take its output}: for ufunc
        forwards of large arrays (numpy's out=; the run checks that the array is one it made)."""
        reuse = {}
        for i, (_, node, slots, params, out) in enumerate(self.code):
            shape = self.shapes[out]
            if node.ufunc is None or params or math.prod(shape) <= _FORGET_ABOVE:
                continue
            for s in free_after.get(i, ()):
                if self.shapes[s] == shape:
                    reuse[i] = s
                    break
        return reuse

    @property
    def scalar(self):
        return self._float_forwards is not None

    # --- running ----------------------------------------------------------------------------------

    def run(self, inputs, wrt, seed=None, keep_values=False):
        """Forward and (if any input in `wrt` reaches the output) backward.

        inputs: values of the input slots (arrays); wrt: input slot numbers to differentiate;
        seed: the output's gradient (None: ones); keep_values: keep every slot's value (else a numpy run
        drops what the caller does not read). Returns (values, gradients, needs): values per slot,
        gradients per slot (None where none arrived), needs[slot]: it depends on wrt.
        """
        needs = self._needs(wrt)
        if self._float_forwards is not None:
            try:
                values = self._forward_floats(inputs)
                return values, self._backward_floats(values, needs, seed), needs
            except _FLOAT_FAILURES:
                pass            # where numpy gives inf or nan: compute it as numpy does
        values = self._traced_values(inputs)    # taken either way: a cached tape must not hold arrays
        if values is None or keep_values:
            values = self._forward_numpy(inputs, keep_values)
        return values, self._backward_numpy(values, needs, seed, keep_values), needs

    def _traced_values(self, inputs):
        """The compiling pass's values, once, if `inputs` are the very arrays it ran on (else None)."""
        traced, saved = self.traced_inputs, self.saved
        self.traced_inputs, self.saved = None, {}
        if traced is None or len(traced) != len(inputs) or any(a is not b for a, b in zip(traced, inputs)):
            return None
        values = [None] * self.n_slots
        values[:len(inputs)] = inputs
        for s, v in self.constants.items():
            values[s] = v
        for s, v in saved.items():
            values[s] = v
        return values

    def value(self, inputs):
        """The output's value only (no gradients): what finite differences evaluate."""
        if not isinstance(self.output, int):
            return np.float64(self.output)
        if self._float_forwards is not None:
            try:
                return np.float64(self._forward_floats(inputs)[self.output])
            except _FLOAT_FAILURES:
                pass
        return np.asarray(self._forward_numpy(inputs, keep_values=False)[self.output], dtype=np.float64)

    def _needs(self, wrt):
        """needs[slot]: the slot depends on an input in wrt (so gradients flow through it); cached per wrt."""
        key = tuple(wrt)
        needs = self._needs_by_wrt.get(key)
        if needs is None:
            needs = self._needs_by_wrt[key] = self._depends_on(key)
        return needs

    def _depends_on(self, wrt):
        needs = [False] * self.n_slots
        for s in wrt:
            needs[s] = True
        for a, b, out in zip(self.first, self.second, self.outs):
            if needs[a] or (b >= 0 and needs[b]):
                needs[out] = True
        return needs

    def _forward_floats(self, inputs):
        values = [None] * self.n_slots
        for s, v in enumerate(inputs):
            values[s] = float(v)
        for s, v in self.constants.items():
            values[s] = float(v)
        for f, a, b, out in zip(self._float_forwards, self.first, self.second, self.outs):
            values[out] = f(values[a]) if b < 0 else f(values[a], values[b])
        return values

    def _forward_numpy(self, inputs, keep_values):
        values = [None] * self.n_slots
        values[:len(inputs)] = inputs
        for s, v in self.constants.items():
            values[s] = v
        if self._free_after is None:
            self._free_after = self._plan_release()
            self._reuse = self._plan_reuse(self._free_after)
        free_after, reuse = (self._free_after, self._reuse) if not keep_values else ({}, {})
        if not reuse:
            for i, (_, node, slots, params, out) in enumerate(self.code):
                values[out] = node.forward(*[values[s] for s in slots], **params)
                for s in free_after.get(i, ()):
                    values[s] = None
            return values
        made = set()            # slots holding an array this run made and nobody else sees (reusable)
        for i, (_, node, slots, params, out) in enumerate(self.code):
            args = [values[s] for s in slots]
            target = reuse.get(i)
            if target in made:
                values[out] = node.ufunc(*args, out=values[target])
                made.add(out)
            else:
                values[out] = value = node.forward(*args, **params)
                if is_new_array(value, args):
                    made.add(out)
                elif type(value) is np.ndarray:      # maybe a view of an input: never reuse those
                    made.difference_update(slots)
            for s in free_after.get(i, ()):
                values[s] = None
        return values

    def _seeded(self, needs, seed, floats):
        """The gradient list with the output's seed in place, or None when no gradient is wanted."""
        out = self.output
        if not isinstance(out, int) or not needs[out]:
            return None
        grads = [None] * self.n_slots
        if floats:
            grads[out] = 1.0 if seed is None else float(seed)
        else:
            grads[out] = np.ones(self.shapes[out]) if seed is None else np.asarray(seed, dtype=np.float64)
        return grads

    def _backward_floats(self, values, needs, seed):
        grads = self._seeded(needs, seed, floats=True)
        if grads is None:
            return [None] * self.n_slots
        F = SCALAR_F
        for node_class, a, b, params, out in zip(reversed(self.node_classes), reversed(self.first),
                                                 reversed(self.second), reversed(self.params), reversed(self.outs)):
            g = grads[out]
            if g is None:
                continue
            vjps = node_class.vjps          # read now: autodiff_cli.testing.wrong_derivative swaps them
            if b < 0:
                gx = vjps[0](F, g, values[out], values[a], **params) if params else \
                    vjps[0](F, g, values[out], values[a])
                total = grads[a]
                grads[a] = gx if total is None else total + gx
                continue
            x, y = values[a], values[b]
            if needs[a]:
                gx = vjps[0](F, g, values[out], x, y, **params) if params else vjps[0](F, g, values[out], x, y)
                total = grads[a]
                grads[a] = gx if total is None else total + gx
            if needs[b]:
                gx = vjps[1](F, g, values[out], x, y, **params) if params else vjps[1](F, g, values[out], x, y)
                total = grads[b]
                grads[b] = gx if total is None else total + gx
        return grads

    def _backward_numpy(self, values, needs, seed, keep_values):
        grads = self._seeded(needs, seed, floats=False)
        if grads is None:
            return [None] * self.n_slots
        owned = set()            # slots whose gradient is an array of our own: later sums go into it in place
        aliases = False          # a gradient of ones passed values on as gradients (g * a is a)
        shapes = self.shapes
        keep = self._keep
        for node_class, _, slots, params, out in reversed(self.code):
            g = grads[out]
            if g is None:
                continue
            ans = values[out]
            inputs = [values[s] if values[s] is not None else _ShapeOnly(shapes[s]) for s in slots]
            if type(g) is np.ndarray and g.size > _FORGET_ABOVE:
                g = uniform_one(g)
                aliases = aliases or type(g) is UniformOne
            for s, vjp in zip(slots, node_class.vjps):
                if not needs[s]:
                    continue
                gx = np.asarray(plain(vjp(np, g, ans, *inputs, **params)), dtype=np.float64)
                if gx.shape != shapes[s]:
                    gx = _unbroadcast(np, gx, shapes[s])
                total = grads[s]
                if gx.size <= _FORGET_ABOVE:      # small: summing anew costs less than the bookkeeping
                    grads[s] = gx if total is None else total + gx
                elif total is None:
                    grads[s] = gx
                    if is_new_array(gx, (g, ans, *inputs)):
                        owned.add(s)
                else:
                    add_gradient(grads, s, gx, owned, is_new_array(gx, (g, ans, *inputs)))
            if out not in keep:          # every use of this slot is done: free its arrays now
                grads[out] = None
                if not keep_values:
                    values[out] = None
        # A gradient the caller reads is never (a view of) one of the values: x's array in d(x*y)/dy = x.
        read = [s for s in keep if s not in owned and type(grads[s]) is np.ndarray and grads[s].ndim] if aliases else ()
        if read:
            buffers = {id(_buffer(v)) for v in values if type(v) is np.ndarray}
            for s in read:
                if id(_buffer(grads[s])) in buffers:
                    grads[s] = grads[s].copy()
        return grads

    # --- many points in one pass (the cross-check's finite differences) -------------------------

    def values_at(self, points):
        """The output at each of several points (each a list of input values) in one float pass:
        a slot holds one float per point and each instruction maps its float forward over them, so
        the numbers are value()'s at each point, the instructions interpreted once (10 points of a
        400,000-op sum: about half of what 10 single runs cost).
        None when the tape does not run on floats, or a float forward fails at some point (where
        numpy gives inf or nan: ask value() point by point)."""
        if self._float_forwards is None:
            return None
        if not isinstance(self.output, int):
            return [float(self.output)] * len(points)
        functions, first, second, outs = self._float_forwards, self.first, self.second, self.outs
        # per slot, the last instruction reading it (a dict built from the columns keeps the last)
        last = dict(zip(itertools.chain.from_iterable(zip(first, second)),
                        itertools.chain.from_iterable(zip(range(len(outs)), range(len(outs))))))
        last[self.output] = len(outs)
        count = len(points)
        values = [None] * self.n_slots
        for s in range(self.n_inputs):
            values[s] = [float(point[s]) for point in points]
        for s, v in self.constants.items():
            values[s] = [float(v)] * count
        try:
            for i, f, a, b, out in zip(itertools.count(), functions, first, second, outs):
                if b < 0:
                    values[out] = list(map(f, values[a]))
                else:
                    values[out] = list(map(f, values[a], values[b]))
                    if last[b] == i:         # K floats per slot: keep only what later instructions read
                        values[b] = None
                if last[a] == i:
                    values[a] = None
        except _FLOAT_FAILURES:
            return None
        return values[self.output]

def _buffer(array):
    """The array that owns `array`'s memory (itself unless it is a view)."""
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


def _bound(function, params):
    if not params:
        return function
    return lambda *args: function(*args, **params)
