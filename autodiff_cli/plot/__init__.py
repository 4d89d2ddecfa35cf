"""Sample an expression over a range of one variable (or a grid of two) for `autodiff plot`.

    samples = sample("sin(x)*x", {"x": "-6:6"}, order=2)
    samples.axes[0], samples.value, samples.derivatives["x"], samples.second_derivative

The values and derivatives are the engine's, computed in one vectorised pass: the swept variable
is bound to the whole grid and, because an elementwise f gives d/dx_i sum_j f(x_j) = f'(x_i), one
backward pass with a seed of ones yields f' at every point (and a second one, f''). An expression
that is not elementwise in the swept variables (a reduction or matrix product of them, or an
array-valued constant beside them) is evaluated point by point instead, and a note says so.

Along the way it finds where the function is not differentiable or not finite: the arguments of
abs/relu/sqrt/max/min/pow changing sign between grid points (kinks), denominators and the
arguments of log/tan crossing their singular value (poles), and the nodes where nan/inf first
appear (the engine's rule for non-finite origins, applied point by point). The derivatives are
then checked along the whole curve: SymPy's derivative lambdified once over the grid, or central
finite differences of the forward pass when SymPy cannot serve in its time budget.

Nothing here draws: `ui/plot.py` does.
"""
import math

import numpy as np

from ..settings import limits
from ..inputs.bindings import value_from_json
from ..engine import quiet_numpy
from ..errors import AutodiffError
from ..language import parse
from .curve_check import check_curve, failure_marks
from .grid import Sampler, not_elementwise, point_cost
from .ranges import DEFAULT_POINTS, DEFAULT_POINTS_2D, DEFAULT_RANGE, Sweep, is_range, parse_sweep
from .samples import CurveCheck, Mark, Samples
from .singular import singular_marks

__all__ = ["sample", "parse_sweep", "Sweep", "Samples", "Mark", "CurveCheck", "DEFAULT_POINTS",
           "DEFAULT_POINTS_2D", "DEFAULT_RANGE"]

MAX_SWEPT = 2


def sample(expr, bindings, *, order=1, points=None, check=True, random_seed=None):
    """Sample `expr` over the swept variables of `bindings` ({name: text or value}); see the module doc.

    A binding whose text is a range (`-3:3`, `0:1:11`, `linspace(0,1,5)`) is swept; a variable
    left unbound is swept over DEFAULT_RANGE; at most two are swept. `points` replaces the default
    count of a range that gives none. Raises AutodiffError for bad input.
    """
    if order not in (1, 2):
        raise AutodiffError("usage", f"--order must be 1 or 2, not {order}")
    if points is not None and not 2 <= points <= limits.max_elements():
        raise AutodiffError("usage" if points < 2 else "limit",
                            f"--points {points}: a range needs at least 2 points" if points < 2 else
                            f"--points {points}: the limit is {limits.max_elements()} (set AUTODIFF_MAX_ELEMENTS "
                            f"to raise it)")
    program = parse(expr)
    rng = np.random.default_rng(random_seed)
    sweeps, fixed, notes = _split_bindings(program, bindings, points, rng)
    if len(sweeps) == 2 and order == 2:
        raise AutodiffError("usage", "--order 2 plots f'' of one variable; with two variables the plot shows "
                                     "the gradient field")
    grid_size = math.prod(s.count for s in sweeps)
    if grid_size > limits.max_elements():
        raise AutodiffError("limit", f"the grid would have {grid_size} points; the limit is {limits.max_elements()} "
                                     f"(set AUTODIFF_MAX_ELEMENTS to raise it)")
    vectorised = not_elementwise(program, [s.name for s in sweeps], fixed) is None
    cost = point_cost(program, fixed, vectorised)
    budget = limits.max_plot_values()
    if grid_size * cost > budget:        # before anything is allocated
        raise AutodiffError("limit", f"plotting {grid_size} points costs about {cost} stored values each "
                                     f"({'one vectorised pass' if vectorised else 'a graph per point'}): "
                                     f"{grid_size * cost} in all, over the limit of {budget}; at most "
                                     f"{budget // cost} points here (fewer with --points or a:b:n, or set "
                                     f"AUTODIFF_MAX_PLOT_VALUES)")
    with quiet_numpy():
        sampler = Sampler(program, sweeps, fixed)
        samples = sampler.run(order)
        samples.notes[:0] = notes
        samples.marks = singular_marks(program, sampler, samples)
        if check:
            samples.check = check_curve(program, sampler, samples)
            samples.marks.extend(failure_marks(samples))
    return samples


def _split_bindings(program, bindings, points, rng):
    """(sweeps, fixed values, notes): ranges and unbound variables are swept, the rest are fixed."""
    ranged = [name for name, value in bindings.items() if is_range(value)]
    for name in ranged:
        if name not in program.inputs:
            raise AutodiffError("binding", f"{name} is swept but the expression does not use it "
                                           f"(its variables: {', '.join(program.inputs) or 'none'})")
    unbound = [name for name in program.inputs if name not in bindings]
    swept = [name for name in program.inputs if name in ranged] + unbound
    if len(swept) > MAX_SWEPT:
        raise AutodiffError("usage", f"plot sweeps one or two variables, and {len(swept)} are free "
                                     f"({', '.join(swept)})", hint=f"bind the others to numbers, e.g. {swept[-1]}=1")
    if not swept:
        raise AutodiffError("usage", "nothing to plot against: bind a variable to a range",
                            hint=f"e.g. {(program.inputs or ['x'])[0]}=-3:3")
    count = points or (DEFAULT_POINTS if len(swept) == 1 else DEFAULT_POINTS_2D)
    sweeps = [parse_sweep(name, bindings[name], default_count=count) if name in ranged
              else Sweep(name, *DEFAULT_RANGE, count) for name in swept]
    notes = [f"{name} is not bound: swept over {DEFAULT_RANGE[0]:g}:{DEFAULT_RANGE[1]:g}" for name in unbound]
    fixed = {name: value_from_json(value, rng=rng, name=name)
             for name, value in bindings.items() if name not in ranged and name in program.inputs}
    return sweeps, fixed, notes
