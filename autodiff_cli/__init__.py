"""autodiff: a gradient calculator on a small PyTorch-like reverse-mode autograd engine.

    from autodiff_cli import Tensor, grad, no_grad, Function, evaluate
    import autodiff_cli as ad; ad.sin(ad.Tensor(1.0, requires_grad=True))

The engine lives in `autodiff_cli.engine` (numpy only); its functions (`sin`, `sum`, ...) are also
attributes here. `evaluate` (the expression language, the SymPy cross-check) imports SymPy only when
a check runs, so that `import autodiff_cli` stays fast. Importing changes no process state.
"""
from . import engine
from .engine import __all__ as _engine_names
from .api import evaluate

globals().update({name: getattr(engine, name) for name in _engine_names})
globals().update(engine.FUNCTIONS)   # ad.sum, ad.max, ...: attributes, as torch.sum (not in __all__)

__all__ = list(_engine_names) + ["evaluate", "engine"]
__version__ = "0.1.0"
