"""Every resource limit in one place: its default, and the environment variable that overrides it
(the functions below; the constants are fixed).

Limits exist so that hostile or accidental input (a giant array, an exponent tower, 10,000 nested
parentheses) gets a clear error instead of a crash, a hang or an out-of-memory kill.
"""
import math
import os
import sys

from ..errors import AutodiffError

MAX_NUMBER_LENGTH = 400        # characters in one number literal; float64 needs at most ~25
MAX_LIST_DEPTH = 32            # nesting of a list binding (numpy itself supports at most 64 dimensions)
MAX_RECORD_DEPTH = 64          # nesting of any JSON value in a batch record (an id, a binding)
WORKER_QUEUE_BYTES = 32 * 1024  # batch: bytes of records that may queue up behind a busy worker
WINDOW_BYTES = 8 * 1024 * 1024  # batch: bytes of input lines in flight (read, not yet written), past the first
SYMPY_MAX_ELEMENTS = 64        # check: total input elements SymPy gets element symbols for
SYMPY_MAX_NODES = 400          # check: parse-tree size beyond which symbolic derivatives get unwieldy
SYMPY_MAX_SECOND_ORDER = 16    # check: Hessian symbols differentiated twice
SYMPY_MAX_JACOBIAN_ENTRIES = 4096  # check: Jacobian entries (outputs x inputs) derived symbolically
SYMPY_MAX_DERIVATIVES = 120    # check: distinct derivatives of every order (derivatives mode) derived symbolically
CHECK_CACHE_SIZE = 256         # check: expressions whose compiled derivatives a process keeps (LRU)

MAX_SECONDS = 1_000_000       # any time limit or budget (11.5 days; the OS timer overflows near 10^9)
MAX_TRACE_ENTRIES = 10_000     # minimize --trace: most trajectory entries kept
MAX_JOBS_PER_CPU = 4           # batch --jobs is clamped to this many workers per CPU

_reported = set()


class SettingOutOfRange(AutodiffError):
    """An environment variable holds a number outside its range: a usage error (exit 2)."""

    def __init__(self, message):
        super().__init__("usage", message, None)


def _env_number(name, default, kind=int, maximum=None):
    """The variable's value (`1e9` is fine for a count), or the default with a one-time warning
    when it is not a number; SettingOutOfRange when it is one above `maximum`."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
        if math.isfinite(value) and value >= 0 and (kind is float or value.is_integer()):
            if maximum is not None and value > maximum:
                raise SettingOutOfRange(f"{name}={raw.strip()} is out of range: it must be between 0 and "
                                        f"{maximum:.0f}{' seconds' if kind is float else ''}")
            return kind(value)
    except SettingOutOfRange:
        raise
    except ValueError:
        pass
    if name not in _reported:
        _reported.add(name)
        sys.stderr.write(f"warning: {name}={raw!r} is not a {'whole ' if kind is int else ''}non-negative "
                         f"number; using the default {default}\n")
    return default


def counted_elements(shape):
    """Elements an array of this shape counts as against max_elements(): an empty dimension counts
    as 1, so that zeros(10000000,0) (ten million empty rows, each printed as []) is as big as
    zeros(10000000)."""
    return math.prod(max(int(d), 1) for d in shape)


def max_elements():
    """Largest array a binding may construct or load, or an op may compute (elements, as
    counted_elements counts them). AUTODIFF_MAX_ELEMENTS."""
    return _env_number("AUTODIFF_MAX_ELEMENTS", 10**8)


def max_plot_values():
    """What `plot` may cost: grid points times the values each point costs (sampling.grid.point_cost:
    ~66 for a vectorised pass, 1000 per graph node point by point, plus the kink and pole arguments
    kept), checked before sampling. AUTODIFF_MAX_PLOT_VALUES."""
    return _env_number("AUTODIFF_MAX_PLOT_VALUES", 10**8)


def max_derivative_entries():
    """Most entries (variables**1 + ... + variables**order) `derivatives --order N` may report.
    AUTODIFF_MAX_DERIVATIVES."""
    return _env_number("AUTODIFF_MAX_DERIVATIVES", 100_000)


def max_derivative_order():
    """Highest order `derivatives --order N` accepts (each order differentiates a larger graph). AUTODIFF_MAX_ORDER."""
    return _env_number("AUTODIFF_MAX_ORDER", 12)


def max_expression_length():
    """Longest expression text accepted (characters). AUTODIFF_MAX_EXPR_LENGTH."""
    return _env_number("AUTODIFF_MAX_EXPR_LENGTH", 10_000_000)


def max_nesting_depth():
    """Deepest nesting of parentheses/calls/unary signs accepted. AUTODIFF_MAX_DEPTH."""
    return _env_number("AUTODIFF_MAX_DEPTH", 1_000)


def check_time_budget():
    """Seconds the SymPy cross-check may take before falling back to finite differences. AUTODIFF_CHECK_SECONDS."""
    return _env_number("AUTODIFF_CHECK_SECONDS", 2.0, float, MAX_SECONDS)


def display_time_budget():
    """Seconds simplifying one result's symbolic derivatives for display may take (then they are
    shown as derived). AUTODIFF_DISPLAY_SECONDS."""
    return _env_number("AUTODIFF_DISPLAY_SECONDS", 0.5, float, MAX_SECONDS)


def record_timeout():
    """Seconds one batch record may run before it is stopped and reported (default of --timeout). AUTODIFF_TIMEOUT."""
    return _env_number("AUTODIFF_TIMEOUT", 10.0, float, MAX_SECONDS)


def dask_connect_seconds():
    """How long `batch --dask ADDRESS` tries to reach a scheduler (and waits for its first worker).
    AUTODIFF_DASK_CONNECT_SECONDS."""
    return _env_number("AUTODIFF_DASK_CONNECT_SECONDS", 10.0, float, MAX_SECONDS)


def max_line_bytes():
    """Longest batch input line accepted (bytes); a longer line becomes an error record without
    ever being held in memory whole. AUTODIFF_MAX_LINE_BYTES."""
    return _env_number("AUTODIFF_MAX_LINE_BYTES", 64 * 1024 * 1024)


def max_minimize_steps():
    """Most optimizer steps one `minimize` may take (--steps). AUTODIFF_MAX_MINIMIZE_STEPS."""
    return _env_number("AUTODIFF_MAX_MINIMIZE_STEPS", 100_000)


def settings_problem():
    """The first environment variable set out of its range, as a message, or None: the CLI checks
    this before any work, so that a bad setting is one usage error, not one per record."""
    for setting in (max_elements, max_expression_length, max_nesting_depth, check_time_budget,
                    display_time_budget, record_timeout, dask_connect_seconds, max_line_bytes,
                    max_minimize_steps):
        try:
            setting()
        except SettingOutOfRange as exc:
            return exc.message
    return None
