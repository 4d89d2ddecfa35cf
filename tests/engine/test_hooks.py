"""Tensor.register_hook against PyTorch: hooks on leaves and non-leaves see the gradient during
backward, a returned tensor replaces it, handles remove them; with grad(), double backward,
retain_grad and shared subexpressions."""
import numpy as np
import pytest

import autodiff_cli.engine as ad
from autodiff_cli.engine import Tensor

torch = pytest.importorskip("torch")


def pair(values):
    """The same leaf in both engines."""
    values = np.asarray(values, dtype=np.float64)
    return Tensor(values, requires_grad=True), torch.tensor(values, dtype=torch.float64, requires_grad=True)


def same(ours, theirs):
    assert ours is not None and theirs is not None
    np.testing.assert_allclose(np.asarray(ours.data if isinstance(ours, Tensor) else ours),
                               theirs.detach().numpy(), rtol=1e-14, atol=0)


def test_a_hook_on_a_leaf_replaces_the_gradient_that_is_accumulated():
    x, tx = pair([0.5, -1.5, 2.0])
    for leaf in (x, tx):
        leaf.register_hook(lambda g: g * 2)
    ad.sum(x**3).backward()
    torch.sum(tx**3).backward()
    same(x.grad, tx.grad)
    np.testing.assert_allclose(x.grad.data, 2 * 3 * x.data**2)


def test_a_hook_on_a_non_leaf_changes_what_flows_below_it():
    x, tx = pair([0.5, -1.5, 2.0])
    y, ty = x * 3, tx * 3
    y.register_hook(lambda g: g + 1)
    ty.register_hook(lambda g: g + 1)
    ad.sum(ad.sin(y) * y).backward()
    torch.sum(torch.sin(ty) * ty).backward()
    same(x.grad, tx.grad)


def test_a_hook_returning_none_observes_the_summed_gradient_once():
    seen, seen_torch = [], []
    x, tx = pair([0.5, -1.5, 2.0])
    y, ty = ad.exp(x), torch.exp(tx)
    y.register_hook(lambda g: seen.append(np.array(g.data)))
    ty.register_hook(lambda g: seen_torch.append(g.detach().numpy().copy()))
    ad.sum(y * y + 2 * y).backward()      # y is used three times: one call with the sum
    torch.sum(ty * ty + 2 * ty).backward()
    assert len(seen) == len(seen_torch) == 1
    np.testing.assert_allclose(seen[0], seen_torch[0], rtol=1e-14)
    same(x.grad, tx.grad)


def test_hooks_run_in_registration_order_and_remove_works():
    calls = []
    x = Tensor(2.0, requires_grad=True)
    first = x.register_hook(lambda g: calls.append("first") or g * 10)
    x.register_hook(lambda g: calls.append(("second", float(g.data))))
    (x * x).backward()
    assert calls == ["first", ("second", 40.0)] and x.grad.data == 40.0
    first.remove()
    first.remove()           # removing twice is harmless, as in PyTorch
    calls.clear()
    x.grad = None
    (x * x).backward()
    assert calls == [("second", 4.0)] and x.grad.data == 4.0


def test_a_handle_is_a_context_manager():
    x = Tensor(1.0, requires_grad=True)
    with x.register_hook(lambda g: g * 0):
        (x * 5).backward()
    assert x.grad.data == 0.0
    (x * 5).backward()
    assert x.grad.data == 5.0


def test_a_hook_on_the_output_sees_the_seed():
    x, tx = pair([1.0, 2.0])
    y, ty = x * x, tx * tx
    y.register_hook(lambda g: g * np.array([1.0, -1.0]))
    ty.register_hook(lambda g: g * torch.tensor([1.0, -1.0], dtype=torch.float64))
    y.backward(np.ones(2))
    ty.backward(torch.ones(2, dtype=torch.float64))
    same(x.grad, tx.grad)


def test_retain_grad_sees_the_gradient_after_the_hooks():
    x, tx = pair([0.5, 1.5])
    y, ty = x * 2, tx * 2
    y.retain_grad()
    ty.retain_grad()
    y.register_hook(lambda g: g * 3)
    ty.register_hook(lambda g: g * 3)
    ad.sum(y * y).backward()
    torch.sum(ty * ty).backward()
    same(y.grad, ty.grad)
    same(x.grad, tx.grad)


def test_hooks_apply_to_grad_and_to_double_backward():
    x, tx = pair([0.5, -1.0, 2.0])
    x.register_hook(lambda g: g * 2)
    tx.register_hook(lambda g: g * 2)
    (g,) = ad.grad(ad.sum(x**3), [x], create_graph=True)
    (tg,) = torch.autograd.grad(torch.sum(tx**3), [tx], create_graph=True)
    same(g, tg)
    (h,) = ad.grad(ad.sum(g), [x])
    (th,) = torch.autograd.grad(torch.sum(tg), [tx])
    same(h, th)


def test_a_hook_on_a_non_leaf_fires_after_its_tensor_object_is_gone():
    x, tx = pair([1.0, 3.0])
    y, ty = x + 1, tx + 1
    y.register_hook(lambda g: g * -1)
    ty.register_hook(lambda g: g * -1)
    z, tz = ad.sum(y * y), torch.sum(ty * ty)
    del y, ty
    z.backward()
    tz.backward()
    same(x.grad, tx.grad)


def test_hooks_fire_on_every_backward_and_accumulate():
    x, tx = pair([1.0, 2.0])
    x.register_hook(lambda g: g + 1)
    tx.register_hook(lambda g: g + 1)
    for _ in range(2):
        ad.sum(x * 3).backward()
        torch.sum(tx * 3).backward()
    same(x.grad, tx.grad)


def test_a_hook_cannot_change_the_shape_or_go_on_a_tensor_without_grad():
    x = Tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: ad.sum(g))
    with pytest.raises(RuntimeError, match="changed the size"):
        ad.sum(x * 2).backward()
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        Tensor(1.0).register_hook(lambda g: g)


def test_a_detached_graph_is_not_affected_by_hooks_on_another_graph():
    x = Tensor(3.0, requires_grad=True)
    y = x * 2
    y.register_hook(lambda g: g * 100)
    (x * 2).backward()                   # a different node: its hook-free gradient
    assert x.grad.data == 2.0
