"""Custom autograd Functions shared by the engine tests (the seed documents' examples)."""
import autodiff_cli.engine as ad
from autodiff_cli.engine import Function


class MulConstant(Function):
    @staticmethod
    def forward(ctx, tensor, constant):
        ctx.constant = constant
        return tensor * constant

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output * ctx.constant, None


class BuggyMulConstant(MulConstant):
    """The seed document's bug: the gradient is not scaled by the constant."""

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output, None


class MyExp(Function):
    @staticmethod
    def forward(ctx, x):
        y = ad.exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad_output):
        (y,) = ctx.saved_tensors
        return grad_output * y
