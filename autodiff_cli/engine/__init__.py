"""The autograd engine: numpy only. `graph` has Tensor and the backward walk, `ops` every op with
its derivative, `function` custom ops and gradcheck."""
from .graph import AccumulateGrad, Node, Tensor, enable_grad, grad, is_grad_enabled, no_grad, quiet_numpy, raw
from .graph import backward
from .ops import (abs, acos, add, amax, amin, asin, atan, broadcast_to, cos, cosh, div, dot, exp, expand_dims,
                  expm1, index, log, log1p, logsumexp, matmul, max, maximum, mean, min, minimum, mul, neg, pow, power,
                  reciprocal, relu, reshape, sigmoid, sin, sinh, softmax, sqrt, stack, sub, sum, swapaxes, tan, tanh,
                  transpose, where)
from . import forward, higher
from .forward import jvp
from .higher import derivatives
from .function import Function, FunctionCtx, GradcheckError, gradcheck


def tensor(data, requires_grad=False):
    """torch.tensor spelling of Tensor(...)."""
    return Tensor(data, requires_grad=requires_grad)
