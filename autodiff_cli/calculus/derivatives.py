"""derivatives: every derivative of a scalar output up to an order, w.r.t. scalar variables."""
import itertools
from dataclasses import dataclass, field

import numpy as np

from ..engine import higher
from ..errors import AutodiffError
from ..result import Payload, json_value
from ..settings import limits
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
    verified_per_entry = False

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


MODE = Derivatives()


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
