"""autodiff: a gradient calculator on a small PyTorch-like reverse-mode autograd engine.

    from autodiff_cli import Tensor, grad, no_grad, Function, evaluate

The engine lives in `autodiff_cli.engine` (numpy only); `evaluate` (the expression language, the
SymPy cross-check) imports SymPy only when a check runs, so that `import autodiff_cli` stays fast.
"""
from .engine import *  # noqa: F401,F403  (Tensor, ops, grad, no_grad, Function, gradcheck)
from .engine import Function, Tensor, grad, gradcheck, no_grad  # noqa: F401  (named for readers)

from .evaluate import evaluate  # noqa: E402  (after the engine; imports no SymPy)

__version__ = "0.1.0"
