"""derivatives: every derivative of a scalar output up to an order, w.r.t. scalar variables."""
import itertools
from dataclasses import dataclass, field

import numpy as np

from ..engine import higher
from ..errors import AutodiffError
from ..result import Payload, json_value
from ..settings import limits
from ..verify.finite_difference import Stencil
from .mode import Computed, Mode, forward_pass, require_scalar

DEFAULT_ORDER = 3


@dataclass
class DerivativesPayload(Payload):
    order: int = DEFAULT_ORDER
    derivatives: dict = field(default_factory=dict)   # {order: {var: {var: ... float}}}

    def record(self, result):
        return {"order": self.order,
                "derivatives": {str(k): json_value(level) for k, level in self.derivatives.items()}}


class Derivatives(Mode):
    name = "derivatives"
    summary = "Every derivative of a scalar EXPR up to --order, by repeated backward."
    options = {"order": DEFAULT_ORDER}
    examples = ('autodiff derivatives "x**4*y" x=2 y=1 --order 3',
                'autodiff derivatives "sin(x)*exp(y)" x=0.5 y=1 --order 4 --wrt x --json')

    def checked_options(self, order):
        return {"order": _checked_order(order)}

    def compute(self, bound, *, order):
        output, leaves, _, visited = forward_pass(bound)
        for name in bound.wrt:
            if np.shape(leaves[name].data) != ():
                raise AutodiffError("shape", f"derivatives of every order need scalar variables, and {name} has "
                                             f"shape {np.shape(leaves[name].data)}",
                                    hint="use the hessian command for array variables (second order), "
                                         "or jacobian for first derivatives")
        require_scalar(output.data, "derivatives need a scalar output",
                       "use the jacobian command for a non-scalar output, or reduce it with sum()")
        count = len(bound.wrt)
        entries = sum(count ** k for k in range(1, order + 1))
        if entries > limits.max_derivative_entries():
            raise AutodiffError("limit", f"{count} variables to order {order} make {entries} derivatives; the "
                                         f"limit is {limits.max_derivative_entries()} (set AUTODIFF_MAX_DERIVATIVES "
                                         "to raise it, or name fewer variables with --wrt)")
        wanted = [leaves[n] for n in bound.wrt]
        if output.requires_grad and wanted:
            table = higher.derivatives(output, wanted, order)
        else:
            table = {k: {index: 0.0 for index in itertools.combinations_with_replacement(range(count), k)}
                     for k in range(1, order + 1)}
        nested = {k: _nest(bound.wrt, k, lambda index: higher.entry(table, index)) for k in range(1, order + 1)}
        gradients = {name: np.asarray(nested[1][name]) for name in bound.wrt}
        return Computed(np.asarray(output.data, dtype=np.float64), gradients, DerivativesPayload(order, nested),
                        visited=visited)


    # The check: one entry per distinct mixed partial (sorted multi-index) of every order, in blocks by
    # its first variable; every order of differentiation the record reports is compared with it.

    def entries(self, result):
        return np.array([value for _, value in _reported(result)], dtype=np.float64)

    def entry_owners(self, result):
        position = {index: i for i, index in enumerate(_reference_order(len(result.wrt), result.order))}
        return np.array([position[tuple(sorted(index))] for index, _ in _reported(result)], dtype=np.intp)

    def symbolic_key(self, result):
        return result.order

    def reference_entries(self, name, functions, by, labels, out_labels, wrt, *, result, parameters):
        first = by(name, functions[0])[0]
        found, names = [first], [(name, {name})]
        level = {(wrt.index(name),): first[0]}
        for _ in range(2, result.order + 1):
            following = {}
            for index, derivative in level.items():
                for j in range(index[-1], len(wrt)):
                    pair = by(wrt[j], derivative)[0]
                    following[index + (j,)] = pair[0]
                    found.append(pair)
                    names.append(("/".join(wrt[i] for i in index + (j,)), {wrt[i] for i in index + (j,)}))
            level = following
        return found, names, [first[0]]

    def symbolic_size_problem(self, result):
        count = len(_reference_order(len(result.wrt), result.order))
        if count > limits.SYMPY_MAX_DERIVATIVES:
            return f"{count} distinct derivatives are too many to expand symbolically"
        return None

    def finite_difference_problems(self, result, value_of, forward, gradient_of):
        count = len(result.wrt)
        reports = {}
        for index, value in _reported(result):
            reports.setdefault(tuple(sorted(index)), []).append(value)
        stencils = []
        for index in _reference_order(count, result.order):
            directions = []
            for j in sorted(set(index)):
                v = np.zeros(count)
                v[j] = 1.0
                directions.append((v, index.count(j)))
            stencils.append(Stencil(["/".join(result.wrt[i] for i in index)], {result.wrt[i] for i in index},
                                    np.array([reports[index]]), directions))
        return stencils


MODE = Derivatives()


def _reference_order(count, order):
    """The sorted multi-indices in the order of the reference's entries: by first variable, then order."""
    return [(first,) + rest for first in range(count) for k in range(1, order + 1)
            for rest in itertools.combinations_with_replacement(range(first, count), k - 1)]


def _reported(result):
    """(multi-index, number) for every derivative the record reports (each order of differentiation)."""
    out = []
    for k, level in result.derivatives.items():
        stack = [((), level)]
        while stack:
            index, node = stack.pop()
            if isinstance(node, dict):
                stack.extend((index + (result.wrt.index(name),), child) for name, child in node.items())
            else:
                out.append((index, float(node)))
    return out


def _checked_order(order):
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or order < 1:
        raise AutodiffError("usage", f"the order must be a whole number >= 1, got {order!r}")
    if order > limits.max_derivative_order():
        raise AutodiffError("limit", f"order {order} is above the limit of {limits.max_derivative_order()} "
                                     "(set AUTODIFF_MAX_ORDER to raise it)")
    return int(order)


def _nest(names, order, value_of):
    """{names[i1]: {names[i2]: ... value_of((i1, i2, ...))}} over every multi-index of this order."""
    root = {}
    for index in itertools.product(range(len(names)), repeat=order):
        node = root
        for i in index[:-1]:
            node = node.setdefault(names[i], {})
        node[names[index[-1]]] = value_of(index)
    return root
