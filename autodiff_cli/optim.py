"""Optimizers with torch.optim's update rules: `SGD` and `Adam`, each with `zero_grad()` and `step()`.

    x = Tensor([1.0, 2.0], requires_grad=True)
    opt = Adam([x], lr=0.1)
    for _ in range(100):
        opt.zero_grad()
        loss = sum(x**2)
        loss.backward()
        opt.step()

Each `step()` mirrors PyTorch's single-tensor implementation (`_single_tensor_sgd`,
`_single_tensor_adam` in torch/optim/) operation by operation, in float64: where PyTorch's CPU
kernels fuse a multiply and an add (`add(.., alpha=)`, `lerp`, `addcmul`) we use a correctly rounded
fma, so the parameters agree with PyTorch's bit for bit (tests/engine/test_optim.py measures it).

Parameters are leaf Tensors that require grad; a parameter whose `.grad` is None is skipped, as in
PyTorch. A step gives the parameter a new array instead of writing into the old one, because the
engine shares arrays with whoever built the Tensor (and with graphs that saved it).
"""
import math

import numpy as np

from .engine import Tensor
from .engine.fma import fma

__all__ = ["Optimizer", "SGD", "Adam"]


class Optimizer:
    """What SGD and Adam share: the parameter list, per-parameter state, zero_grad()."""

    def __init__(self, params, defaults):
        params = [params] if isinstance(params, Tensor) else list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        self.params = params
        self.defaults = dict(defaults)
        self.state = {id(p): {} for p in params}

    def zero_grad(self, set_to_none=True):
        """Forget the gradients (PyTorch's default sets them to None rather than to zeros)."""
        for p in self.params:
            if p.grad is not None:
                p.grad = None if set_to_none else Tensor(np.zeros_like(p.grad.data))

    def _with_grads(self):
        """(parameter, its gradient array, its state dict) for every parameter that has a gradient."""
        for p in self.params:
            if p.grad is not None:
                yield p, np.asarray(p.grad.data, dtype=np.float64), self.state[id(p)]

    def __repr__(self):
        options = ", ".join(f"{k}={v!r}" for k, v in self.defaults.items())
        return f"{type(self).__name__}({options})"


def _check_lr(lr):
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr >= 0):
        raise ValueError(f"Invalid learning rate: {lr}")


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, dampening, weight decay and Nesterov momentum.

    For each parameter p with gradient g (torch.optim.SGD, maximize=False):
        g = g + weight_decay * p                      (if weight_decay != 0)
        b = g on the first step, else momentum * b + (1 - dampening) * g   (if momentum != 0)
        g = g + momentum * b if nesterov else b       (if momentum != 0)
        p = p - lr * g
    """

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
        _check_lr(lr)
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))

    def step(self):
        lr, momentum, dampening, weight_decay, nesterov = (
            self.defaults[k] for k in ("lr", "momentum", "dampening", "weight_decay", "nesterov"))
        for p, grad, state in self._with_grads():
            if weight_decay != 0:
                grad = fma(weight_decay, p.data, grad)                      # grad.add(param, alpha=wd)
            if momentum != 0:
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = grad.copy()
                else:
                    buf = fma(1 - dampening, grad, buf * momentum)          # buf.mul_(m).add_(grad, alpha=1-d)
                state["momentum_buffer"] = buf
                grad = fma(momentum, buf, grad) if nesterov else buf        # grad.add(buf, alpha=m)
            p.data = np.asarray(fma(-lr, grad, p.data), dtype=np.float64)  # param.add_(grad, alpha=-lr)


class Adam(Optimizer):
    """Adam (Kingma & Ba), with L2 weight decay and the AMSGrad variant, as torch.optim.Adam.

    For each parameter p with gradient g, at step t = 1, 2, ...:
        g = g + weight_decay * p                      (if weight_decay != 0)
        m = lerp(m, g, 1 - beta1)                     (= beta1 * m + (1 - beta1) * g)
        v = beta2 * v + (1 - beta2) * g * g
        vmax = max(vmax, v) and use vmax for v        (if amsgrad)
        p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False):
        _check_lr(lr)
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        for i, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {beta}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad))

    def step(self):
        lr, (beta1, beta2), eps, weight_decay, amsgrad = (
            self.defaults[k] for k in ("lr", "betas", "eps", "weight_decay", "amsgrad"))
        for p, grad, state in self._with_grads():
            if not state:
                zeros = np.zeros_like(p.data)
                state.update(step=0.0, exp_avg=zeros, exp_avg_sq=zeros, max_exp_avg_sq=zeros)
            state["step"] += 1
            step = state["step"]
            if weight_decay != 0:
                grad = fma(weight_decay, p.data, grad)                      # grad.add(param, alpha=wd)
            exp_avg = _lerp(state["exp_avg"], grad, 1 - beta1)
            exp_avg_sq = fma((1 - beta2) * grad, grad, state["exp_avg_sq"] * beta2)  # mul_(b2).addcmul_(g, g, 1-b2)
            state["exp_avg"], state["exp_avg_sq"] = exp_avg, exp_avg_sq

            bias_correction1 = 1 - beta1**step
            bias_correction2 = 1 - beta2**step
            step_size = lr / bias_correction1
            bias_correction2_sqrt = bias_correction2**0.5
            if amsgrad:
                state["max_exp_avg_sq"] = np.maximum(state["max_exp_avg_sq"], exp_avg_sq)
                exp_avg_sq = state["max_exp_avg_sq"]
            denom = np.sqrt(exp_avg_sq) / bias_correction2_sqrt + eps
            p.data = np.asarray(p.data + (-step_size * exp_avg) / denom, dtype=np.float64)  # addcdiv_


def _lerp(start, end, weight):
    """torch.lerp as PyTorch's CPU kernel computes it (the branch keeps it exact at both ends)."""
    if abs(weight) < 0.5:
        return fma(weight, end - start, start)
    return fma(weight - 1, end - start, end)
