"""Optimizers (autodiff_cli.optim), gradient clipping (autodiff_cli.utils) and the fma they rest on,
against PyTorch float64: every step's parameters, on random quadratic and non-convex expressions."""
import math
from fractions import Fraction

import numpy as np
import pytest

from autodiff_cli import engine as ad
from autodiff_cli.engine import Tensor
from autodiff_cli.engine.fma import fma
from autodiff_cli.optim import SGD, Adam
from autodiff_cli.utils import clip_grad_norm_, clip_grad_value_, get_total_norm

torch = pytest.importorskip("torch")

STEPS = 50
RTOL = 1e-12

SGD_CASES = [
    dict(lr=0.01),
    dict(lr=0.01, momentum=0.9),
    dict(lr=0.01, momentum=0.9, nesterov=True),
    dict(lr=0.01, momentum=0.5, dampening=0.3),
    dict(lr=0.01, weight_decay=0.1),
    dict(lr=0.005, momentum=0.9, weight_decay=0.01, nesterov=True),
]
ADAM_CASES = [
    dict(lr=0.01),
    dict(lr=0.05, amsgrad=True),
    dict(lr=0.01, weight_decay=0.1),
    dict(lr=0.02, betas=(0.3, 0.9), eps=1e-6, weight_decay=0.01, amsgrad=True),   # lerp's other branch
]


def quadratic(ns, x, y, consts):
    """0.5 x'Ax + b'x + 3 (y - 2)**2 + x0*y: convex, with a coupling term."""
    A, b, e0 = consts
    return 0.5 * ns.sum(x * (A @ x)) + ns.sum(b * x) + 3 * (y - 2) ** 2 + ns.sum(x * e0) * y


def non_convex(ns, x, y, consts):
    """Many local minima: sin/cos ripples over a bowl, a tanh and an exp."""
    A, b = consts[:2]
    return (ns.sum(ns.sin(3 * x) * ns.cos(y)) + 0.1 * ns.sum(x ** 2) + ns.tanh(y) * ns.sum(b * x)
            + 0.05 * ns.exp(-(y ** 2)) + 0.01 * y ** 4)


def _constants(rng, n, ns):
    m = rng.standard_normal((n, n))
    A = m @ m.T + n * np.eye(n)
    b = rng.standard_normal(n)
    e0 = np.eye(n)[0]
    convert = (lambda a: torch.tensor(a, dtype=torch.float64)) if ns is torch else (lambda a: a)
    return [convert(A), convert(b), convert(e0)]


def _relative(ours, theirs):
    """max |ours - theirs| / max |theirs|: relative to the parameter tensor's size, because an element
    that passes near zero would magnify an ulp of the gradient (numpy's and torch's matmul sum in
    different orders) into a large elementwise ratio."""
    ours, theirs = np.asarray(ours, dtype=np.float64), np.asarray(theirs, dtype=np.float64)
    scale = max(float(np.max(np.abs(theirs))), np.finfo(float).tiny)
    return float(np.max(np.abs(ours - theirs))) / scale


def run_both(expression, ours_class, torch_class, options, n, seed, same_gradients=False):
    """50 steps of our optimizer and of torch's from the same start; the largest relative difference.

    same_gradients: feed torch's gradient to both (isolates the optimizer: should be bit-exact).
    """
    rng = np.random.default_rng(seed)
    x0, y0 = rng.standard_normal(n), float(rng.standard_normal())
    consts_ours, consts_torch = _constants(np.random.default_rng(seed + 1), n, ad), \
        _constants(np.random.default_rng(seed + 1), n, torch)
    x, y = Tensor(x0, requires_grad=True), Tensor(y0, requires_grad=True)
    tx = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    ty = torch.tensor(y0, dtype=torch.float64, requires_grad=True)
    ours = ours_class([x, y], **options)
    theirs = torch_class([tx, ty], **options, foreach=False)
    worst = 0.0
    for step in range(STEPS):
        ours.zero_grad()
        theirs.zero_grad()
        expression(torch, tx, ty, consts_torch).backward()
        if same_gradients:
            x.grad, y.grad = Tensor(tx.grad.numpy().copy()), Tensor(ty.grad.numpy().copy())
        else:
            expression(ad, x, y, consts_ours).backward()
        ours.step()
        theirs.step()
        for mine, reference in ((x, tx), (y, ty)):
            difference = _relative(mine.data, reference.detach().numpy())
            assert difference <= RTOL, f"step {step + 1}: relative difference {difference:.3g}"
            worst = max(worst, difference)
    return worst


@pytest.mark.parametrize("expression", [quadratic, non_convex], ids=["quadratic", "non_convex"])
@pytest.mark.parametrize("n", [3, 17])      # 17: PyTorch's vectorised kernels, with a scalar tail
@pytest.mark.parametrize("options", SGD_CASES, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
def test_sgd_matches_torch_every_step(expression, n, options):
    for seed in range(3):
        run_both(expression, SGD, torch.optim.SGD, options, n, seed)


@pytest.mark.parametrize("expression", [quadratic, non_convex], ids=["quadratic", "non_convex"])
@pytest.mark.parametrize("n", [3, 17])
@pytest.mark.parametrize("options", ADAM_CASES, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
def test_adam_matches_torch_every_step(expression, n, options):
    for seed in range(3):
        run_both(expression, Adam, torch.optim.Adam, options, n, seed)


@pytest.mark.parametrize("cls,torch_cls,options", [(SGD, "SGD", o) for o in SGD_CASES]
                         + [(Adam, "Adam", o) for o in ADAM_CASES])
def test_given_the_same_gradients_the_steps_agree_to_the_bit(cls, torch_cls, options):
    """SGD: bit for bit. Adam: within an ulp or two, because PyTorch's CPU sqrt (MKL's vdSqrt) is
    1 ulp below the correctly rounded square root for about 1% of arguments; numpy's is exact."""
    allowed = 0.0 if cls is SGD else 4 * np.finfo(float).eps
    for n in (1, 3, 17):
        assert run_both(non_convex, cls, getattr(torch.optim, torch_cls), options, n, seed=7,
                        same_gradients=True) <= allowed


def test_parameters_without_gradient_are_skipped_and_zero_grad_sets_none():
    x, y = Tensor(1.0, requires_grad=True), Tensor(2.0, requires_grad=True)
    opt = Adam([x, y], lr=0.1)
    (x * 3).backward()
    opt.step()
    assert y.data == 2.0 and x.data != 1.0 and "step" not in opt.state[id(y)]
    opt.zero_grad()
    assert x.grad is None
    (x * 3).backward()
    opt.zero_grad(set_to_none=False)
    assert x.grad is not None and x.grad.data == 0.0


@pytest.mark.parametrize("make", [
    lambda p: SGD(p, lr=-0.1), lambda p: SGD(p, lr=0.1, momentum=-1), lambda p: SGD(p, lr=0.1, nesterov=True),
    lambda p: Adam(p, lr=float("nan")), lambda p: Adam(p, betas=(1.0, 0.9)), lambda p: Adam([]),
])
def test_invalid_options_are_rejected_as_torch_does(make):
    with pytest.raises(ValueError):
        make([Tensor(1.0, requires_grad=True)])


def test_a_step_does_not_write_into_the_callers_array():
    start = np.array([1.0, 2.0])
    x = Tensor(start, requires_grad=True)
    opt = SGD([x], lr=0.5)
    ad.sum(x * x).backward()
    opt.step()
    assert start.tolist() == [1.0, 2.0] and x.data.tolist() == [0.0, 0.0]


# --- fma --------------------------------------------------------------------------------------------

def test_fma_is_correctly_rounded():
    rng = np.random.default_rng(3)
    n = 4000
    a = rng.standard_normal(n) * 2.0 ** rng.integers(-80, 80, n)
    b = rng.standard_normal(n) * 2.0 ** rng.integers(-80, 80, n)
    # half the c cancel a*b almost exactly: where a double rounding shows
    c = np.where(rng.random(n) < 0.5, -a * b * (1 + rng.standard_normal(n) * 1e-13),
                 rng.standard_normal(n) * 2.0 ** rng.integers(-160, 160, n))
    exact = [float(Fraction(float(p)) * Fraction(float(q)) + Fraction(float(r))) for p, q, r in zip(a, b, c)]
    assert fma(a, b, c).tolist() == exact
    assert fma(1 + 2**-30, 1 - 2**-30, -1.0) == -(2.0**-60)    # a*b + c rounds this to 0
    assert math.isnan(fma(np.inf, 0.0, 1.0)) and fma(np.inf, 2.0, 1.0) == np.inf


# --- clipping -----------------------------------------------------------------------------------------

def _grads_pair(seed):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(5) * 3, rng.standard_normal((2, 3)), np.array(rng.standard_normal() * 10)]
    ours, theirs = [], []
    for a in arrays:
        p, tp = Tensor(np.zeros_like(a), requires_grad=True), torch.zeros(a.shape, dtype=torch.float64,
                                                                          requires_grad=True)
        p.grad, tp.grad = Tensor(a.copy()), torch.tensor(a, dtype=torch.float64)
        ours.append(p)
        theirs.append(tp)
    none_ours, none_theirs = Tensor(1.0, requires_grad=True), torch.tensor(1.0, dtype=torch.float64,
                                                                           requires_grad=True)
    return ours + [none_ours], theirs + [none_theirs]    # one parameter without a gradient


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, 0.5, math.inf, "inf", 0])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    for seed in range(5):
        ours, theirs = _grads_pair(seed)
        total = clip_grad_norm_(ours, max_norm, norm_type=norm_type)
        total_torch = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type, foreach=False)
        assert total.item() == pytest.approx(total_torch.item(), rel=1e-14)
        for p, tp in zip(ours, theirs):
            if tp.grad is None:
                assert p.grad is None
            else:
                np.testing.assert_allclose(p.grad.data, tp.grad.numpy(), rtol=1e-14, atol=0)


def test_clip_grad_norm_with_a_nan_or_no_gradient():
    ours, theirs = _grads_pair(0)
    ours[0].grad.data[1] = np.nan
    theirs[0].grad[1] = np.nan
    assert math.isnan(clip_grad_norm_(ours, 1.0).item())
    torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    assert np.isnan(ours[1].grad.data).all() and torch.isnan(theirs[1].grad).all()
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
    assert clip_grad_norm_([Tensor(1.0, requires_grad=True)], 1.0).item() == 0.0


@pytest.mark.parametrize("clip_value", [0.1, 1.0, 100.0])
def test_clip_grad_value_matches_torch(clip_value):
    ours, theirs = _grads_pair(1)
    clip_grad_value_(ours, clip_value)
    torch.nn.utils.clip_grad_value_(theirs, clip_value, foreach=False)
    for p, tp in zip(ours, theirs):
        if tp.grad is not None:
            assert p.grad.data.tolist() == tp.grad.numpy().tolist()


def test_get_total_norm_matches_torch():
    ours, theirs = _grads_pair(2)
    for norm_type in (2.0, 1.0, math.inf):
        got = get_total_norm([p.grad for p in ours if p.grad is not None], norm_type).item()
        want = torch.nn.utils.get_total_norm([p.grad for p in theirs if p.grad is not None], norm_type).item()
        assert got == pytest.approx(want, rel=1e-14)
