"""autodiff: a gradient calculator on a small PyTorch-like reverse-mode autograd engine.

    from autodiff_cli import Tensor, grad, no_grad, Function, evaluate

The engine lives in `autodiff_cli.engine` (numpy only); `evaluate` (the expression language, the
SymPy cross-check) is imported lazily so that `import autodiff_cli` stays fast.
"""
from .engine import *  # noqa: F401,F403  (Tensor, ops, grad, no_grad, Function, gradcheck)
from .engine import Function, Tensor, grad, gradcheck, no_grad  # noqa: F401  (named for readers)

__version__ = "0.1.0"


def evaluate(expr, bindings=None, **options):
    """Parse, evaluate and differentiate an expression; see autodiff_cli.evaluate.evaluate."""
    from .evaluate import evaluate as _evaluate
    return _evaluate(expr, bindings, **options)
