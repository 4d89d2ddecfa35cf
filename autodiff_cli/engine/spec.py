"""What the engine knows about one op: `OpSpec`, the shape of an entry of the table in ops.py.

Everything else is generated from the table: the engine functions and Tensor's operators and
methods (build.py), the expression language's function and operator lists, both lowerings (engine
and SymPy), the cross-check's notes on non-differentiable points, and the per-op tests; a test
compares the docs' function lists with it. So an op is described once, in ops.py.

Formulas take a namespace `F` first: numpy during an ordinary backward, the engine's own functions
under `create_graph=True` (then the formula records a graph and higher derivatives work).
  forward(*arrays, **params) -> array                         numpy
  vjp(F, g, ans, *inputs, **params) -> gradient for one input  one per positional input; a new array
      or (a view of) one of its arguments, never an array kept elsewhere (the engine sums into new ones
      in place); g may be a graph.UniformOne (a gradient of ones: g * a is a itself)
  jvp(F, tangents, ans, *inputs, **params) -> output tangent   forward mode (engine/forward.py): one
      tangent per input (None where it has none), F is numpy; or the builder `forward.diagonal`
      (elementwise ops: the VJPs applied to tangents) / `forward.linear` (the forward applied to them)
  scalar(*floats, **params) -> float                           the forward on Python floats, for the
                                                              compiled path (engine/tape.py); declaring
                                                              it also says the VJPs run on floats with
                                                              F = tape.SCALAR_F (math functions)
"""
from dataclasses import dataclass, field
from typing import Callable

import numpy as np


@dataclass(frozen=True, eq=False)
class Kink:
    """Where an op is not differentiable, and what PyTorch (and so the engine) does there.

    where(*input_values, **params) -> signed array: 0 exactly at those points, changing sign across
        them (abs: x; maximum: a - b; nan where there is none), so `autodiff plot` finds them between
        grid points too; for elementwise ops (None: only `at` knows them, as for a reduction's ties)
    at(ans, *input_values, **params) -> bool array (or bool): True where the inputs sit on such a
        point, noted by the forward pass for the cross-check; None: where `where` is 0
    situation: completes "<op> at column 3 (abs(x)) ..." e.g. "is evaluated where its argument is 0".
    convention: PyTorch's choice there, e.g. "abs'(0) = 0".
    text: the plot's name for such a point, e.g. "abs of 0"
    """
    at: Callable | None
    situation: str
    convention: str
    where: Callable | None = None
    text: str = ""

    def found(self, ans, *input_values, **params):
        """`at`, or where `where` is 0: does the forward pass go through such a point?"""
        if self.at is not None:
            return self.at(ans, *input_values, **params)
        return np.asarray(self.where(*input_values, **params)) == 0


@dataclass(frozen=True, eq=False)
class Pole:
    """Where an op's value is infinite (1/x at 0, log at 0): `autodiff plot` marks it.

    where(*input_values, **params) -> signed array, 0 at the pole or changing sign across it (nan
        where there is none; a sign change through the pole itself is told apart by the plot)
    text: the plot's name for it, e.g. "division by zero"
    """
    where: Callable
    text: str


@dataclass(frozen=True, eq=False)
class Node:
    """One PyTorch node name an op records, with its forward and VJPs when they differ from the op's."""
    name: str
    forward: Callable | None = None          # None: the op's own
    vjps: tuple | None = None                # None: the op's own
    jvp: Callable | None = None              # None: the op's own, when the forward is the op's own too
    saves_inputs: bool | None = None
    saves_output: bool | None = None
    scalar: Callable | None = None           # None: the op's own, when the forward is the op's own too
    ufunc: np.ufunc | None = None            # the op's own, when the forward is the op's own


@dataclass(frozen=True, eq=False)
class OpSpec:
    """One op. Only `name`, `node`, `forward` and `vjps` are required; the rest says where it shows up.

    name:       the engine function, `autodiff_cli.engine.<name>` (never a Python built-in's name
                inside our modules: the table's names are exported, not star-imported)
    node:       PyTorch's node name (`SinBackward0`) for the op's usual form
    forward, vjps, jvp: see the module docstring
    language:   names in the expression language: functions ("sin") and operators ("+", "**");
                empty for engine-only ops (reshape, where)
    arity:      how many arguments the language form takes (default: one per VJP); an operator of
                arity 1 is a prefix operator (`-x`)
    sympy:      (sp, *object_arrays, axis=None) -> object array: the same function in SymPy, for the
                symbolic cross-check (`sp` is passed in: the engine never imports SymPy)
    kink:       its non-differentiable points and PyTorch's convention there (None: smooth on its domain)
    pole:       where its value is infinite, for `autodiff plot` (None: nowhere)
    elementwise: output element i depends only on element i of each (broadcast) input, so
                `autodiff plot` can evaluate it over a whole grid at once (False: point by point)
    axis:       takes `axis` / `keepdims` (a reduction; softmax: `axis` only, keepdims=False)
    keepdims:   with `axis`, also takes `keepdims`
    sizes:      the language form takes integer sizes after the array: reshape(x, 2, -1)
    saves_inputs / saves_output: False where no VJP reads the inputs' values / the output, so
                large arrays are freed during the forward pass (only their shapes are kept)
    methods:    Tensor method names (`x.sin()`); operators: Tensor dunders (`__add__`); a reflected
                dunder (`__radd__`) calls the op with the operands swapped; "__rsub__:RsubBackward1"
                binds the dunder to that node's primitive instead of the engine function
    aliases:    other engine names for the same function (`pow` for `power`)
    variants:   other node names the op records for other argument kinds (Node entries)
    front:      when the op picks among its nodes (pow: PowBackward0/1/2) or converts arguments,
                `front(F, nodes) -> the engine function`, `nodes` mapping node name -> primitive and
                F the engine's functions; default: the primitive of `node` itself
    examples:   for the generated tests, when arity and axis do not say how to call the op:
                ((input shape, ...), {param: value}) pairs
    domain:     for the generated tests: per input, where finite differences are meaningful
                ("any", "small", "pos", "unit", "gt_m1", "nonzero"; see tests/support/op_domains.py)
    torch:      the same function in torch, dotted from `torch` ("sin", "nn.functional.softplus")
    scalar:     the forward on Python floats (math functions), raising ArithmeticError/ValueError where
                numpy would give inf/nan (the compiled path then reruns in numpy); None: no float path
    ufunc:      the forward as an elementwise numpy ufunc, when it is one (np.add for `a + b`; default:
                the forward itself if it is a ufunc and the op elementwise): the compiled path then writes large results into an array it
                has made and no longer needs (`out=`), instead of a new one
    """
    name: str
    node: str
    forward: Callable
    vjps: tuple
    jvp: Callable | None = None
    language: tuple = ()
    arity: int | None = None
    sympy: Callable | None = None
    kink: Kink | None = None
    pole: Pole | None = None
    elementwise: bool = False
    axis: bool = False
    keepdims: bool = True
    sizes: bool = False
    examples: tuple = ()
    saves_inputs: bool = True
    saves_output: bool = True
    methods: tuple = ()
    operators: tuple = ()
    aliases: tuple = ()
    variants: tuple = ()
    front: Callable | None = None
    domain: tuple = ()
    torch: str | None = None
    scalar: Callable | None = None
    ufunc: np.ufunc | None = None
    primitives: dict = field(default_factory=dict, repr=False)   # node name -> primitive, filled by build.py

    @property
    def language_arity(self):
        return self.arity if self.arity is not None else len(self.vjps)

    def nodes(self):
        """Every node this op can record, its own first, each completed with the op's defaults."""
        ufunc = self.ufunc or (self.forward if isinstance(self.forward, np.ufunc) and self.elementwise else None)
        own = Node(self.node, self.forward, tuple(self.vjps), self.jvp, self.saves_inputs, self.saves_output,
                   self.scalar, ufunc)
        completed = [Node(v.name, v.forward or self.forward, tuple(v.vjps if v.vjps is not None else self.vjps),
                          v.jvp if v.jvp is not None or v.forward is not None else self.jvp,
                          self.saves_inputs if v.saves_inputs is None else v.saves_inputs,
                          self.saves_output if v.saves_output is None else v.saves_output,
                          v.scalar if v.scalar is not None or v.forward is not None else self.scalar,
                          ufunc if v.forward is None else None)
                     for v in self.variants]
        return [own] + completed
