"""What a mode is, and what every mode starts from.

A mode (grad, hessian, ...) is one module of this package with one `Mode` object, `MODE`. It says
which options it takes, computes its numbers from a `Bound` program, and tells the verifier which
of those numbers to judge and how to derive each of them symbolically. The verifier never imports
a mode: it is handed the Mode object and calls the methods below (as JAX's transformations call the
rules registered per primitive).
"""
from dataclasses import dataclass, field

import numpy as np

from ..engine import Tensor
from ..errors import AutodiffError
from ..language import lower_to_engine
from ..settings import limits


@dataclass(frozen=True)
class Bound:
    """A parsed program with its inputs bound: what every mode computes from."""
    program: object          # language.Program
    values: dict             # {input name: float64 array}
    wrt: list                # the names differentiated, in order
    rng: object              # numpy Generator (random seeds and tangents)
    trace: bool = False      # record every node (--steps, --graph, --dot)
    check: bool = True       # the result will be verified: keep what diagnosis needs


@dataclass
class Computed:
    """What a mode's `compute` returns: the numbers, and what diagnosis and the verifier need."""
    value: np.ndarray
    gradients: dict
    payload: object                  # the mode's result.Payload
    seed: np.ndarray | None = None   # grad mode's gradient seed (None: implicit ones)
    visited: list | None = None      # (tree node, x) in evaluation order, for kinks and steps
    data: object = None              # data(x) -> x's value (None: x.data, a Tensor)
    steps: list = field(default_factory=list)
    output: object = None            # the graph root Tensor (trace)
    leaves: dict = field(default_factory=dict)


class Mode:
    """The interface of a mode; each method's docstring says who calls it."""
    name = ""
    summary = ""                     # one line, for --help and docs
    options = {}                     # option name -> its default (which of gradient/order/tangents it takes)
    shows = ()                       # what its result can also show: "steps", "graph", "dot" (a trace)
    examples = ()                    # command lines for --help and the docs

    def checked_options(self, **options):
        """api, before parsing: the mode's options with their values checked."""
        return options

    def compute(self, bound, **options):
        """api: the mode's numbers -> Computed."""
        raise NotImplementedError

    def entries(self, result):
        """verify: the engine's numbers to judge, flat, in the order of `reference_entries` (or, with
        `entry_owners`, any order: each number then names the reference entry it reports)."""
        raise NotImplementedError

    def entry_owners(self, result):
        """verify: None (entries(result)[i] is reference entry i), or for every number of
        `entries(result)` the index of the reference entry it reports (derivatives reports every order
        of differentiation of one mixed partial: each is compared with that one reference value)."""
        return None

    def symbolic_parameters(self, result, seed):
        """verify: the numbers (a flat array, or None) that become symbols after the inputs, as grad's
        seed does, so that one derivation serves every value of them (jvp: its tangents)."""
        return seed

    def symbolic_key(self, result):
        """verify: what else, beyond the expression, the names and the shapes, the derivation depends on
        (derivatives: the order)."""
        return None

    def symbolic_functions(self, outputs, seed_symbols, add):
        """verify: the functions (CAS expressions) whose derivatives are the entries; `add` sums CAS terms."""
        return outputs[:1]

    def reference_entries(self, name, functions, by, labels, out_labels, wrt, *, result, parameters):
        """verify: for variable `name`, [(derivative, scale)], [(label, variables)], and the first
        derivatives to show (or None); `by(name, f)` differentiates f by each element of `name`;
        `parameters` are the symbols of `symbolic_parameters` (or None)."""
        raise NotImplementedError

    def finite_difference_problems(self, result, value_of, forward, gradient_of):
        """verify: [(function of points -> rows, the engine's matrix of the same rows)] for finite
        differences along random directions, or [verify.finite_difference.Stencil] (one mixed partial
        or directional derivative each, by differences of the forward pass only)."""
        raise NotImplementedError

    def symbolic_size_problem(self, result):
        """verify: why the symbolic reference is too large for this result (None: it is not)."""
        return None

    def shown_shape(self, result, name):
        """verify/display: (shape of d/d name's formulas, indexed by the variable?)."""
        return np.shape(result.inputs[name]), True


def forward_pass(bound, requires_grad=True):
    """The program on the Tensor engine (a graph is recorded): (output, leaves, named intermediates,
    visited), visited being (tree node, tensor) in evaluation order when tracing or checking, else None."""
    visited = [] if (bound.trace or bound.check) else None
    on_node = (lambda node, t: visited.append((node, t))) if visited is not None else None
    leaves = {name: Tensor(bound.values[name], requires_grad=requires_grad and name in bound.wrt)
              for name in bound.program.inputs}
    output, named = lower_to_engine(bound.program, leaves, on_node=on_node)
    return output, leaves, named, visited


def require_scalar(value, what, hint):
    shape = np.shape(value)
    if shape != () and np.prod(shape) != 1:
        raise AutodiffError("shape", f"{what}, and the output has shape {shape}", hint=hint)


def require_room(kind, elements):
    """A Hessian or Jacobian is allocated whole: refuse one larger than the array limit."""
    if elements > limits.max_elements():
        raise AutodiffError("limit", f"the {kind} would have {elements} elements; the limit is "
                                     f"{limits.max_elements()} (set AUTODIFF_MAX_ELEMENTS to raise it)")


def unit_seeds(shape):
    """One-hot seeds, one per element of an array of this shape."""
    for k in range(int(np.prod(shape))):
        seed = np.zeros(shape)
        seed.flat[k] = 1.0
        yield seed


def gradient_row(result):
    """The gradients of all variables as one row (finite differences' J of the seeded value)."""
    return np.concatenate([np.ravel(result.gradients[n]) for n in result.wrt])[None, :]


def traced(bound, output, leaves):
    """The graph's root and leaves for --graph/--dot when the bound program is traced (else nothing kept)."""
    return {"output": output, "leaves": leaves} if bound.trace else {}


class OutputShaped(Mode):
    """A mode whose entries run over the output's elements (jacobian, jvp): bounded in size like a
    Jacobian, and its formulas shaped like the output then the variable."""

    def symbolic_size_problem(self, result):
        entries = np.size(result.value) * sum(int(np.size(result.inputs[n])) for n in result.wrt)
        if entries > limits.SYMPY_MAX_JACOBIAN_ENTRIES:
            return f"a Jacobian of {entries} entries is too large"
        return None

    def shown_shape(self, result, name):
        return np.shape(result.value) + np.shape(result.inputs[name]), False
