"""Ranges of `autodiff plot`: `a:b`, `a:b:n` or `linspace(a, b[, n])` -> a Sweep of evenly spaced points."""
import re
from dataclasses import dataclass

import numpy as np

from ..settings import limits
from ..inputs.bindings import parse_value
from ..errors import AutodiffError

DEFAULT_POINTS = 200          # points of a one-variable sweep without an explicit count
DEFAULT_POINTS_2D = 81        # points per axis of a two-variable grid (odd: a symmetric range hits 0)
DEFAULT_RANGE = (-5.0, 5.0)   # the sweep of a variable that is left unbound

_RANGE = re.compile(r"^\s*([^:]+):([^:]+)(?::([^:]+))?\s*$")
_LINSPACE = re.compile(r"^\s*linspace\s*\((.*)\)\s*$", re.DOTALL)


def is_range(value):
    """Whether a binding value is written as a range (it may still be a bad one)."""
    return isinstance(value, str) and bool(_RANGE.match(value) or _LINSPACE.match(value))


@dataclass(frozen=True)
class Sweep:
    """One swept variable: `count` evenly spaced points from `start` to `stop` (both included)."""
    name: str
    start: float
    stop: float
    count: int

    def points(self):
        width = self.stop - self.start
        if np.isfinite(width):
            return np.linspace(self.start, self.stop, self.count)
        # the width overflows (-1e308:1e308): linspace's step would be inf and its points nan/inf;
        # a weighted mean of the ends stays finite (and exact at both ends)
        t = np.linspace(0.0, 1.0, self.count)
        return self.start * (1.0 - t) + self.stop * t


def parse_sweep(name, text, *, default_count=DEFAULT_POINTS):
    """`a:b`, `a:b:n` or `linspace(a, b[, n])` -> Sweep; None when `text` is not a range."""
    match = _RANGE.match(text)
    if match:
        parts = match.groups()
    else:
        match = _LINSPACE.match(text)
        if not match:
            return None
        parts = [p for p in match.group(1).split(",")]
        if len(parts) not in (2, 3):
            _fail(name, text, "linspace takes (start, stop) or (start, stop, count)")
        parts = parts + [None] * (3 - len(parts))
    start, stop = (_bound(name, text, part) for part in parts[:2])
    count = default_count if parts[2] is None else _count(name, text, parts[2])
    if not start < stop:
        _fail(name, text, f"the range must go up: start {start:g} is not below stop {stop:g}")
    if count < 2:
        _fail(name, text, f"a range needs at least 2 points, not {count}")
    if count > limits.max_elements():
        raise AutodiffError("limit", f"{name}={text}: {count} points; the limit is {limits.max_elements()} "
                                     f"(set AUTODIFF_MAX_ELEMENTS to raise it)")
    return Sweep(name, start, stop, count)


def _fail(name, text, message):
    raise AutodiffError("binding", f"{name}={text.strip()}: {message}")


def _bound(name, text, part):
    try:
        value = parse_value(part.strip(), name=name)
    except AutodiffError:
        value = None
    if value is None or value.shape != () or not np.isfinite(value):
        _fail(name, text, f"'{part.strip()}' is not a finite number (a range is start:stop or start:stop:count)")
    return float(value)


def _count(name, text, part):
    token = part.strip()
    if not re.fullmatch(r"[+-]?\d+", token):
        _fail(name, text, f"the number of points '{token}' is not a whole number")
    if len(token.lstrip("+-")) > 18:
        raise AutodiffError("limit", f"{name}={text.strip()}: {token[:20]}... points is far beyond the "
                                     f"element limit {limits.max_elements()} (set AUTODIFF_MAX_ELEMENTS to raise it)")
    return int(token)
