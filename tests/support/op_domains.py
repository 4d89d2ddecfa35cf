"""Where and how each op's derivative is checked by finite differences: the value domains named by the
op table's `domain` field (engine/ops.py) and used by the hand-written op tests.

Each input is drawn as one or two arrays u, n with entries in [-1, 1], then mapped into the domain.
"""
import numpy as np


def _sign(u):
    return np.where(u >= 0, 1.0, -1.0)


DOMAINS = {
    "any": lambda u, n: 2.5 * u,
    "small": lambda u, n: 1.2 * u,                     # tan, sinh/cosh/exp stay moderate
    "pos": lambda u, n: 0.3 + 2.0 * np.abs(u),         # log, sqrt, base of a real power
    "unit": lambda u, n: 0.85 * u,                     # asin, acos
    "gt_m1": lambda u, n: -0.6 + 1.8 * (u + 1),        # log1p
    "nonzero": lambda u, n: _sign(u) * (0.3 + 2.0 * np.abs(u)),   # divisors, abs, relu: away from 0
    "lattice": lambda u, n: np.round(3 * u) + 0.2 * n,             # maximum/minimum: first argument
    "lattice_half": lambda u, n: np.round(3 * u) + 0.5 + 0.2 * n,  # ... second: |a - b| >= 0.1
}


def distinct(size, rng):
    """max/min reductions: all values distinct, gaps >= 0.3 (no ties)."""
    return 0.5 * rng.permutation(size) + rng.uniform(0.0, 0.2, size) - 0.25 * size


def sample(domain, shape, rng):
    """A float64 array of this shape in the named domain."""
    if domain == "distinct":
        return distinct(int(np.prod(shape, dtype=int)), rng).reshape(shape)
    u, n = rng.uniform(-1.0, 1.0, shape), rng.uniform(-1.0, 1.0, shape)
    return np.asarray(DOMAINS[domain](u, n), dtype=np.float64).reshape(shape)


FD_STEP = 1e-6


def fd_gradient(f, arrays, i, h=FD_STEP):
    """Central finite-difference gradient of the scalar function f(list of arrays) w.r.t. arrays[i]."""
    arrays = [np.array(a, dtype=np.float64, copy=True) for a in arrays]
    x = arrays[i]
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        orig = x[idx]
        x[idx] = orig + h
        fp = f(arrays)
        x[idx] = orig - h
        fm = f(arrays)
        x[idx] = orig
        g[idx] = (fp - fm) / (2 * h)
    return g
