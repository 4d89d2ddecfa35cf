"""Gradient clipping and the total gradient norm, as torch.nn.utils has them.

    total = clip_grad_norm_(params, max_norm=1.0)     # rescale all gradients together; returns the norm before
    clip_grad_value_(params, 0.5)                     # clamp every gradient element into [-0.5, 0.5]
    total = get_total_norm([p.grad for p in params])  # the norm of all gradients viewed as one vector

They change `.grad` of each parameter that has one (a parameter whose `.grad` is None is skipped).
"""
import math

import numpy as np

from .engine import Tensor

__all__ = ["clip_grad_value_", "clip_grad_norm_", "get_total_norm", "vector_norm"]


def _as_list(params):
    return [params] if isinstance(params, Tensor) else list(params)


def vector_norm(values, norm_type=2.0):
    """The p-norm of an array viewed as a vector (torch.linalg.vector_norm): p may be inf, -inf or 0."""
    a = np.abs(np.asarray(values, dtype=np.float64)).ravel()
    p = float(norm_type)
    if p == 2:                      # the common case; a dot product raises no floating-point warning
        return float(np.sqrt(np.dot(a, a)))
    with np.errstate(all="ignore"):
        if p == math.inf:
            return float(a.max()) if a.size else 0.0
        if p == -math.inf:
            if not a.size:
                raise RuntimeError("linalg.vector_norm cannot compute the -inf norm on an empty tensor")
            return float(a.min())
        if p == 0:
            return float(np.count_nonzero(a))
        if p == 1:
            return float(a.sum())
        return float(np.sum(a**p) ** (1.0 / p))


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False):
    """The norm of the norms of the tensors: their norm as if they were one concatenated vector."""
    norms = [vector_norm(t.data if isinstance(t, Tensor) else t, norm_type) for t in _as_list(tensors)]
    total = vector_norm(norms, norm_type) if norms else 0.0
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"The total norm of order {float(norm_type)} for gradients from `parameters` is "
                           "non-finite, so it cannot be clipped. To disable this error and scale the gradients "
                           "by the non-finite norm anyway, set `error_if_nonfinite=False`")
    return Tensor(total)


def clip_grad_norm_(params, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale all gradients by min(1, max_norm / (total_norm + 1e-6)); returns total_norm (a Tensor)."""
    params = _as_list(params)
    grads = [p.grad for p in params if p.grad is not None]
    total = get_total_norm(grads, norm_type, error_if_nonfinite)
    if grads:
        coefficient = min(float(max_norm) / (total.item() + 1e-6), 1.0)
        if math.isnan(total.item()):
            coefficient = math.nan          # torch.clamp keeps nan, so every gradient becomes nan
        for p in params:
            if p.grad is not None:
                p.grad = Tensor(p.grad.data * coefficient)
    return total


def clip_grad_value_(params, clip_value):
    """Clamp every gradient element into [-clip_value, clip_value] (nan stays nan)."""
    clip_value = float(clip_value)
    for p in _as_list(params):
        if p.grad is not None:
            p.grad = Tensor(np.minimum(np.maximum(p.grad.data, -clip_value), clip_value))
