"""Binding a parsed program's inputs: values for its variables, the names to differentiate, the seed."""
import numpy as np

from ..engine import Tensor
from ..errors import AutodiffError
from ..language.nodes import Name, children, column
from .bindings import parse_gradient_seed, value_from_json


def bind(program, bindings, rng):
    """({input name: float64 array} in the program's order, warnings); unbound variables are
    reported all at once, bindings the program does not use are warned about."""
    values, warnings = {}, []
    for name, raw_value in bindings.items():
        if isinstance(raw_value, Tensor):
            raw_value = raw_value.data
        values[name] = value_from_json(raw_value, rng=rng, name=name)
    missing = [n for n in program.inputs if n not in values]
    if missing:
        names = ", ".join(repr(n) for n in missing)
        example = " ".join(f"{n}=1" for n in missing)
        raise AutodiffError("name", f"unbound variable{'s' if len(missing) > 1 else ''} {names}",
                            _first_use(program, missing[0]),
                            hint=f"bind {'them' if len(missing) > 1 else 'it'}, e.g. {example}",
                            source=program.source)
    for name in values:
        if name not in program.inputs:
            what = "an intermediate the program computes" if name in program.intermediates else "not used by the expression"
            warnings.append(f"binding {name!r} is {what}; ignored")
    return {n: values[n] for n in program.inputs}, warnings


def _first_use(program, name):
    """Column of the first occurrence of variable `name` (iterative walk)."""
    for statement in program.statements:
        stack = [statement.expr]
        while stack:
            node = stack.pop()
            if isinstance(node, Name) and node.id == name:
                return column(node)
            stack.extend(reversed(children(node)))
    return None


def differentiated(program, wrt):
    """The names to differentiate by: --wrt's (a list, or "x,y"), else every input."""
    if wrt is None or wrt == "":
        return list(program.inputs)
    names = [w.strip() if isinstance(w, str) else w for w in (wrt.split(",") if isinstance(wrt, str) else wrt)]
    for name in names:
        if not isinstance(name, str) or name not in program.inputs:
            known = ", ".join(program.inputs) or "none"
            raise AutodiffError("usage", f"--wrt names {name!r}, which is not an input variable of the "
                                         f"expression (its inputs: {known})")
    return list(dict.fromkeys(names))


def gradient_seed(gradient, shape, rng):
    """The backward pass's seed for an output of this shape (None: implicit, a scalar output's 1)."""
    if gradient is None:
        if shape != () and np.prod(shape) != 1:
            raise AutodiffError(
                "shape", f"grad can be implicitly created only for scalar outputs, and the output has shape "
                         f"{shape}", hint="pass --gradient ones, or reduce with sum()/mean()")
        return None
    return parse_gradient_seed(gradient, shape, rng=rng)
