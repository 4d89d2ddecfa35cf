"""The autograd engine: numpy only.

graph.py has Tensor, nodes and the backward walk; ops.py is the op table (one OpSpec per op, spec.py);
build.py generates the engine functions and Tensor's operators and methods from it; function.py has
custom ops and gradcheck; forward.py is forward mode (`jvp`), higher.py derivatives of any order
(`derivatives`). The functions (`sin`, `sum`, `matmul`, ...) are attributes of this
package, as `torch.sin` and `torch.sum` are; `import *` leaves out those named like Python built-ins.
"""
import builtins as _builtins

from . import forward, higher
from .build import FUNCTIONS, SPECS
from .forward import jvp
from .higher import derivatives
from .function import Function, FunctionCtx, GradcheckError, gradcheck
from .graph import (AccumulateGrad, Node, Tensor, backward, enable_grad, grad, is_grad_enabled, no_grad,
                    quiet_numpy, raw)


def tensor(data, requires_grad=False):
    """torch.tensor spelling of Tensor(...)."""
    return Tensor(data, requires_grad=requires_grad)


globals().update(FUNCTIONS)

__all__ = (["Tensor", "tensor", "Node", "AccumulateGrad", "backward", "grad", "no_grad", "enable_grad",
            "is_grad_enabled", "quiet_numpy", "raw", "Function", "FunctionCtx", "GradcheckError", "gradcheck",
            "FUNCTIONS", "SPECS", "jvp", "derivatives"]
           + [name for name in FUNCTIONS if not hasattr(_builtins, name)])
