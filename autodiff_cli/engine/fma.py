"""A correctly rounded fused multiply-add, `fma(a, b, c) = round(a*b + c)`, for float64 numpy arrays.

Why: PyTorch's CPU kernels compute `add(x, alpha=k)`, `lerp` and `addcmul` as one fused
multiply-add (a single rounding); numpy has no fma, and `a*b + c` rounds twice. The optimizers
in optim.py use this so that their steps agree with torch.optim bit for bit, not just to an ulp.

How (Boldo & Melquiond, "Emulation of FMA and correctly-rounded sums: proved algorithms using
rounding to odd", IEEE Trans. Computers 2008):
    a*b = ph + pl exactly          (Dekker's product with Veltkamp's split)
    c + ph = sh + sl exactly       (Knuth's TwoSum)
    v = round_to_odd(sl + pl)      (TwoSum again, then pick the odd neighbour when inexact)
    fma = round_to_nearest(sh + v)
The split needs |a|, |b| below 2**995 and a product away from the subnormal range; elsewhere
(and wherever anything is not finite) the plain `a*b + c` is returned, at most an ulp away.
"""
import numpy as np

_SPLITTER = 2.0**27 + 1.0
_SAFE_MAGNITUDE = 2.0**995     # Veltkamp's split overflows above this
_TINY_PRODUCT = 2.0**-969      # below this the product's error term falls into subnormals


def _split(x):
    t = _SPLITTER * x
    hi = t - (t - x)
    return hi, x - hi


def _two_product(a, b):
    p = a * b
    ah, al = _split(a)
    bh, bl = _split(b)
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def _two_sum(a, b):
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _round_to_odd_sum(a, b):
    s, err = _two_sum(a, b)
    even = (s.view(np.int64) & 1) == 0
    toward = np.nextafter(s, np.where(err > 0, np.inf, -np.inf))
    return np.where((err != 0) & even, toward, s)


def fma(a, b, c):
    """round(a*b + c) with one rounding, elementwise, broadcasting like numpy; returns float64."""
    a, b, c = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (a, b, c)))
    with np.errstate(all="ignore"):
        ph, pl = _two_product(a, b)
        sh, sl = _two_sum(c, ph)
        fused = sh + _round_to_odd_sum(np.atleast_1d(sl), np.atleast_1d(pl)).reshape(sl.shape)
        naive = a * b + c
        safe = (np.isfinite(fused) & (np.abs(a) < _SAFE_MAGNITUDE) & (np.abs(b) < _SAFE_MAGNITUDE)
                & ((np.abs(ph) > _TINY_PRODUCT) | (ph == 0)))
        out = np.where(safe, fused, naive)
    return out if out.ndim else out[()]
