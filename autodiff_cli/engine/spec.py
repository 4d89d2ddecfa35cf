"""What the engine knows about one op: `OpSpec`, the shape of an entry of the table in ops.py.

Everything else is generated from the table: the engine functions and Tensor's operators and
methods (build.py), the expression language's function and operator lists, both lowerings (engine
and SymPy), the cross-check's notes on non-differentiable points, and the per-op tests; a test
compares the docs' function lists with it. So an op is described once, in ops.py.

Formulas take a namespace `F` first: numpy during an ordinary backward, the engine's own functions
under `create_graph=True` (then the formula records a graph and higher derivatives work).
  forward(*arrays, **params) -> array                         numpy
  vjp(F, g, ans, *inputs, **params) -> gradient for one input  one per positional input
  jvp(F, tangents, ans, *inputs, **params) -> output tangent   forward mode (None until it exists)
"""
from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True, eq=False)
class Kink:
    """Where an op is not differentiable, and what PyTorch (and so the engine) does there.

    at(ans, *input_values, **params) -> bool array (or bool): True where the inputs sit on such a point.
    situation: completes "<op> at column 3 (abs(x)) ..." e.g. "is evaluated where its argument is 0".
    convention: PyTorch's choice there, e.g. "abs'(0) = 0".
    """
    at: Callable
    situation: str
    convention: str


@dataclass(frozen=True, eq=False)
class Node:
    """One PyTorch node name an op records, with its forward and VJPs when they differ from the op's."""
    name: str
    forward: Callable | None = None          # None: the op's own
    vjps: tuple | None = None                # None: the op's own
    jvp: Callable | None = None              # None: the op's own, when the forward is the op's own too
    saves_inputs: bool | None = None
    saves_output: bool | None = None


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
    elementwise: output element i depends only on element i of each (broadcast) input, so
                `autodiff plot` can evaluate it over a whole grid at once (False: point by point)
    axis:       takes `axis` / `keepdims` (a reduction)
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
    domain:     for the generated tests: per input, where finite differences are meaningful
                ("any", "small", "pos", "unit", "gt_m1", "nonzero"; see tests/op_domains.py)
    torch:      the same function in torch, dotted from `torch` ("sin", "nn.functional.softplus")
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
    elementwise: bool = False
    axis: bool = False
    saves_inputs: bool = True
    saves_output: bool = True
    methods: tuple = ()
    operators: tuple = ()
    aliases: tuple = ()
    variants: tuple = ()
    front: Callable | None = None
    domain: tuple = ()
    torch: str | None = None
    primitives: dict = field(default_factory=dict, repr=False)   # node name -> primitive, filled by build.py

    @property
    def language_arity(self):
        return self.arity if self.arity is not None else len(self.vjps)

    def nodes(self):
        """Every node this op can record, its own first, each completed with the op's defaults."""
        own = Node(self.node, self.forward, tuple(self.vjps), self.jvp, self.saves_inputs, self.saves_output)
        completed = [Node(v.name, v.forward or self.forward, tuple(v.vjps if v.vjps is not None else self.vjps),
                          v.jvp if v.jvp is not None or v.forward is not None else self.jvp,
                          self.saves_inputs if v.saves_inputs is None else v.saves_inputs,
                          self.saves_output if v.saves_output is None else v.saves_output)
                     for v in self.variants]
        return [own] + completed
