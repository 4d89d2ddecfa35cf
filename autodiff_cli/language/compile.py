"""Compile a parsed Program into a `Tape` (engine/tape.py): the flat program `evaluate()` runs.

Compiling is one pass of the ordinary lowering (`lowering._lower`, so errors and their columns are
the same) over engine functions that record instead of building a graph: each op's `front` from
the table picks the node PyTorch would record (PowBackward0/1/2, reciprocal-times for number/x,
a reduction's axes), exactly as the engine does, and the recording primitive appends that node
to the tape. That pass needs the inputs' shapes (fronts and broadcasting look at them), so a tape
is made for one expression and one set of input shapes; `compiled()` caches tapes by both.
"""
import collections
import functools
import threading
import types

import numpy as np

from ..engine.graph import Tensor, _as_input
from ..settings import limits
from ..errors import AutodiffError
from ..engine.ops import OPS
from ..engine.tape import Tape
from .functions import BINARY_OPERATORS, FUNCTIONS, UNARY_OPERATORS
from .lowering import _lower, check_result_size, options_of
from .nodes import Binary, Call, Name, Num, Stack, Unary
from .nodes import paused_gc
from .parser import parse

__all__ = ["compile_program", "compiled", "parsed", "clear_cache", "NotCompilable"]

# Cache bounds: expressions, and instructions over all their tapes (a 300,000-instruction tape holds
# ~100 MB).
CACHE_ENTRIES = 128
CACHE_INSTRUCTIONS = 2_000_000


class _Traced(Tensor):
    """A value during compilation: a Tensor to the fronts (isinstance checks, .data), plus its slot."""
    __slots__ = ("slot",)


def _traced(data, slot):
    t = _Traced.__new__(_Traced)
    t.data, t.slot = data, slot
    return t


class NotCompilable(Exception):
    """The program uses an op the tape cannot record: run it on the Tensor engine instead.
    (stack: its node takes one input per element, so its VJPs are made per element count.)"""


class _NotScalar(Exception):
    """A scalar-only compile met an op with no float forward: compile again with values."""


class _Recorder:
    """Engine functions that record onto `self.tape` (set per compile), built once per thread from the
    table as build.py builds the engine: `functions[engine name]`.

    scalar: every input is 0-d, so every op with a float forward gives a 0-d result: record without
    computing anything (values are None; fronts only look at types and ndim), and raise _NotScalar
    at any other op. Otherwise compute each forward with numpy, keeping in `tape.saved` what the VJPs
    read (as the engine's nodes keep it)."""

    def __init__(self):
        self.tape, self.scalar = None, False
        self.functions = {}
        namespace = types.SimpleNamespace()
        for spec in OPS:
            primitives = {node.name: self._primitive(spec, node) for node in spec.nodes()}
            function = primitives[spec.node] if spec.front is None else spec.front(namespace, primitives)
            for name in (spec.name,) + spec.aliases:
                self.functions[name] = function
        vars(namespace).update(self.functions)

    def _primitive(self, spec, node):
        node_class = spec.primitives[node.name].node_class
        forward = node.forward

        def record(*args, **params):
            tape = self.tape
            slots = [a.slot if type(a) is _Traced else tape.constant(_as_input(a)) for a in args]
            if self.scalar:
                if node.scalar is None:
                    raise _NotScalar(node.name)
                # A number option (pow's exponent) as a float: the float run's VJPs stay in plain floats.
                params = {k: float(v) if type(v) is np.float64 else v for k, v in params.items()}
                return _traced(None, tape.add(node_class, node, *_two(slots), params, ()))
            arrays = [a.data if type(a) is _Traced else tape.constants[s] for a, s in zip(args, slots)]
            out = forward(*arrays, **params)
            slot = tape.add(node_class, node, *_two(slots), params, np.shape(out))
            if node.saves_inputs:
                tape.saved.update(zip(slots, arrays))
            if node.saves_output:
                tape.saved[slot] = out
            return _traced(out, slot)
        return record


def _two(slots):
    """A tape instruction's (first, second) input slots: every op the tape records has one or two."""
    return (slots[0], -1) if len(slots) == 1 else slots


_recorders = threading.local()


def _recording_functions(tape, scalar):
    """This thread's recording functions, now recording onto `tape`."""
    recorder = getattr(_recorders, "recorder", None)
    if recorder is None:
        recorder = _recorders.recorder = _Recorder()
    recorder.tape, recorder.scalar = tape, scalar
    return recorder.functions


def compile_program(program, inputs, visit=False):
    """A Tape for `program` at inputs of these shapes: `inputs` is {input name: float64 array}.

    visit: also fill `tape.visited` (tree node -> slot, for the cross-check's notes).
    Raises AutodiffError for shape mistakes, as the engine lowering does (same messages), and
    NotCompilable for a program the tape cannot run."""
    if all(np.shape(inputs[name]) == () for name in program.inputs):
        try:
            return _compile_scalars(program, visit)
        except (_NotScalar, ValueError, TypeError, AttributeError, AutodiffError):
            pass               # an op with no float forward, or an error the full trace reports properly
    return _trace(program, inputs, visit, scalar=False)


@functools.lru_cache(maxsize=None)
def _direct_ops():
    """{engine name: (node class, table node)} of the ops a scalar compile appends without a front."""
    return {spec.name: (spec.primitives[spec.node].node_class, spec.nodes()[0])
            for spec in OPS if spec.front is None and spec.scalar is not None}


_NO_PARAMS = {}      # shared by every instruction without options (no one writes to it)


def _compile_scalars(program, visit):
    """compile_program for scalar inputs, in one tight loop: the ordinary lowering's walk (statements
    in order, each tree in post-order), where an op without a `front` is appended to the tape directly
    and one with a front goes through it (the front picks the node). Values on the stack are slots
    (ints) or the program's plain numbers (floats), as the engine sees Tensors and numbers."""
    tape = Tape(len(program.inputs))
    tape.shapes.extend([()] * len(program.inputs))
    functions = _recording_functions(tape, scalar=True)
    direct = _direct_ops()
    add, constant = tape.add, tape.constant
    env = {name: slot for slot, name in enumerate(program.inputs)}   # then the intermediates too
    visited = tape.visited if visit else None
    float64 = np.float64
    with paused_gc():
        for statement in program.statements:
            stack = []
            push, pop = stack.append, stack.pop
            for node in statement.postorder():
                cls = type(node)
                if cls is Binary:
                    right, left = pop(), pop()
                    spec = BINARY_OPERATORS[node.op]
                    args = (left, right)
                elif cls is Name:
                    push(env[node.id])
                    if visited is not None:
                        visited.append((node, stack[-1]))
                    continue
                elif cls is Num:
                    push(node.value)
                    if visited is not None:
                        visited.append((node, node.value))
                    continue
                elif cls is Call:
                    count = len(node.args)
                    args = tuple(stack[-count:])
                    del stack[-count:]
                    spec = FUNCTIONS[node.func][count]
                elif cls is Unary:
                    args = (pop(),)
                    spec = UNARY_OPERATORS.get(node.op)
                else:
                    raise _NotScalar(cls.__name__)    # a list literal or indexing: the array trace
                entry = direct.get(spec.name) if spec is not None else None
                if spec is None:                      # unary plus
                    value = args[0]
                elif entry is not None:
                    node_class, table_node = entry
                    first = args[0] if type(args[0]) is int else constant(float64(args[0]))
                    if len(args) == 1:
                        second = -1
                    else:
                        second = args[1] if type(args[1]) is int else constant(float64(args[1]))
                    value = add(node_class, table_node, first, second, _NO_PARAMS, ())
                else:
                    options = options_of(node) if cls is Call else {}
                    traced = [_traced(None, a) if type(a) is int else a for a in args]
                    value = functions[spec.name](*traced, **options).slot
                push(value)
                if visited is not None:
                    visited.append((node, value))
            if statement.name is not None:
                env[statement.name] = stack[0]
        tape.output = stack[0]
        tape.named = {name: env[name] for name in program.intermediates}
        tape.finish(visited=visit, scalar=True)
    return tape


def _trace(program, inputs, visit, scalar):
    tape = Tape(len(program.inputs))
    env = {}
    for slot, name in enumerate(program.inputs):
        tape.shapes.append(np.shape(inputs[name]))
        env[name] = _traced(None if scalar else np.asarray(inputs[name], dtype=np.float64), slot)
    functions = _recording_functions(tape, scalar)
    limit = limits.max_elements()

    def number(node):
        return node.value

    def compute(node, overload, args, options):
        function = functions[overload.name]
        if type(node) is Stack:
            raise NotCompilable("stack")
        if not scalar:
            check_result_size(node, overload, args, limit, program.source)
        return function(*args, **options)

    visited = tape.visited

    def on_node(node, value):
        visited.append((node, value.slot if type(value) is _Traced else value))

    with paused_gc():    # a tape is hundreds of thousands of long-lived tuples: nothing for the collector
        output, named = _lower(program, env, number, compute, on_node if visit else None)
        tape.output = output.slot if type(output) is _Traced else output
        tape.named = {name: v.slot if type(v) is _Traced else v for name, v in named.items()}
        if not scalar:           # the values this pass computed serve the first run at these inputs
            tape.saved.update((v.slot, v.data) for v in [output, *named.values()] if type(v) is _Traced)
            tape.traced_inputs = tuple(env[name].data for name in program.inputs)
        tape.finish(visited=visit)
    return tape


# --- the cache ------------------------------------------------------------------------------------
# One entry per expression text: its parsed Program and its tapes by input shapes. A batch of the
# same expression at many points parses and compiles once.

_cache = collections.OrderedDict()      # source -> [Program, {input shapes: Tape}], least recent first
_cache_size = 0                          # instructions held, over all entries
_cache_lock = threading.Lock()


def parsed(source):
    """parse(source), remembered (a Program is never modified after parsing)."""
    with _cache_lock:
        entry = _cache.get(source)
        if entry is not None:
            _cache.move_to_end(source)
            return entry[0]
    program = parse(source)
    with _cache_lock:
        _cache.setdefault(source, [program, {}])
    return program


def compiled(program, inputs, visit=False):
    """compile_program, remembered by the program's text and the inputs' shapes (bounded LRU)."""
    global _cache_size
    shapes = tuple(np.shape(inputs[name]) for name in program.inputs)
    with _cache_lock:
        entry = _cache.get(program.source)
        tape = entry[1].get(shapes) if entry is not None else None
        if tape is not None and (tape.has_visited or not visit):
            return tape
    tape = compile_program(program, inputs, visit)
    size = tape.size + 1
    with _cache_lock:
        entry = _cache.setdefault(program.source, [program, {}])
        if size <= CACHE_INSTRUCTIONS:
            old = entry[1].get(shapes)
            entry[1][shapes] = tape
            _cache_size += size - (old.size + 1 if old is not None else 0)
        while len(_cache) > CACHE_ENTRIES or _cache_size > CACHE_INSTRUCTIONS:
            _, (_, dropped) = _cache.popitem(last=False)
            _cache_size -= sum(t.size + 1 for t in dropped.values())
    return tape


def clear_cache():
    global _cache_size
    with _cache_lock:
        _cache.clear()
        _cache_size = 0
