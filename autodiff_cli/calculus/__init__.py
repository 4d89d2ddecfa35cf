"""The modes: one module each, and this registry, the one place that maps a mode's name to its code.

    MODES["hessian"].compute(bound) -> Computed

The CLI's commands, batch records' "mode", the record schema's list of modes and the docs are
made from MODES; adding a mode is one module here (a `Mode` object named MODE, see mode.py) and
one line below.
"""
from ..errors import AutodiffError
from . import derivatives, diagnose, grad, hessian, jacobian, jvp
from .mode import Bound, Computed, Mode

MODES = {module.MODE.name: module.MODE for module in (grad, hessian, jacobian, derivatives, jvp)}

__all__ = ["MODES", "Bound", "Computed", "Mode", "options_for"]


def options_for(mode, given):
    """The options of `mode` from those given (None: not given), defaults filled and values checked;
    an option that belongs to another mode is a usage error naming that mode."""
    for name, value in given.items():
        if value is not None and name not in mode.options:
            owner = next(m.name for m in MODES.values() if name in m.options)
            raise AutodiffError("usage", f"{_OPTION_TEXT[name]} with mode {owner}, not {mode.name}")
    options = {name: given[name] if given.get(name) is not None else default for name, default in mode.options.items()}
    return mode.checked_options(**options)


_OPTION_TEXT = {"gradient": "a gradient seed goes", "order": "an order goes", "tangents": "tangents go"}
