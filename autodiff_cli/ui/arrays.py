"""Numbers and arrays for people: one number format, aligned columns, matrices that fit the width.

    number(0.1234567, 6)                -> "0.123457"
    inline(np.array([1, 2.5]), view)    -> "[1, 2.5]"   (or None when it does not fit on one line)
    array_lines(a, view)                -> aligned rows; column blocks ("columns 0-7") when wider than
                                           the terminal; a summary (shape, min, max, norm, largest
                                           entries) when too large to read, saying how to get all of it

Nothing is ever cut to "…" and no row or column is dropped silently: a cell is as wide as its
number, and what is not shown is said. Every function is pure and returns plain strings.
"""
import math
from dataclasses import dataclass

import numpy as np

from ..result import element_labels, finite_stats  # noqa: F401  (element_labels: for the tables)

FULL_LIMIT = 400        # arrays with more elements are summarised (unless --full)
LARGEST_SHOWN = 5       # entries of largest magnitude listed in a summary
GAP = "  "              # between columns


@dataclass(frozen=True)
class View:
    """How results are shown: terminal width, significant digits, everything (--full), LaTeX."""
    width: int = 80
    precision: int = 6
    full: bool = False
    latex: bool = False


def number(x, precision=6):
    """One float: `precision` significant digits, integers without a point, nan/inf as words. A
    one-element array of any shape is its element (numpy 2 refuses float() of a (1,) array)."""
    if isinstance(x, np.ndarray):
        x = x.reshape(())
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"      # also for -0.0
    return f"{x:.{max(1, int(precision))}g}"


def shape_text(shape):
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def inline(a, view, limit=None):
    """A number, or a 1-D array as `[a, b, c]`, if it fits in `limit` characters; else None."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 0:
        return number(a, view.precision)
    if a.ndim != 1:
        return None
    limit = view.width if limit is None else limit
    if 3 * a.size > limit:           # each element takes at least 3 characters
        return None
    text = "[" + ", ".join(number(v, view.precision) for v in a) + "]"
    return text if len(text) <= limit else None


def nested(a, view, limit):
    """An array as nested lists `[[1, 2], [3, 4]]` if that fits in `limit` characters; else None."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 0:
        return number(a, view.precision)
    if 3 * a.size > limit:
        return None
    text = np.array2string(a, separator=", ", max_line_width=10**9, threshold=a.size + 1,
                           formatter={"float_kind": lambda v: number(v, view.precision)})
    text = " ".join(text.split())
    return text if len(text) <= limit else None


def brief(a, view):
    """An array in one short line, for a narrow cell: its inline form, else its shape and norm."""
    text = inline(a, view, limit=30)
    if text is not None:
        return text
    a = np.asarray(a, dtype=np.float64)
    with np.errstate(all="ignore"):
        norm = number(np.linalg.norm(a[np.isfinite(a)]), view.precision) if a.size else "0"
    return f"shape {shape_text(a.shape)}, norm {norm}"


def as_matrix(a):
    """(matrix, row labels, column labels) for a grid: 1-D is one row, N-D rows are index prefixes."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 1:
        return a.reshape(1, -1), [""], [str(j) for j in range(a.shape[0])]
    rows = [",".join(map(str, idx)) for idx in np.ndindex(*a.shape[:-1])]
    return a.reshape(len(rows), a.shape[-1]), rows, [str(j) for j in range(a.shape[-1])]


def grid_lines(matrix, row_labels, col_labels, view):
    """Aligned rows under a header of column labels, in column blocks when wider than the view.

    One width for every column, so the blocks line up under each other; every block says which
    columns it holds ("columns 8-15") when there is more than one.
    """
    cells = [[number(v, view.precision) for v in row] for row in matrix]
    col_width = max([len(c) for row in cells for c in row] + [len(label) for label in col_labels] + [1])
    label_width = max((len(label) for label in row_labels), default=0)
    lead = label_width + len(GAP) if label_width else 0
    per_block = max(1, (view.width - lead + len(GAP)) // (col_width + len(GAP)))
    columns = len(col_labels)
    lines = []
    for start in range(0, max(columns, 1), per_block):
        stop = min(columns, start + per_block)
        if per_block < columns:
            lines.append(f"columns {start}-{stop - 1}" if stop - start > 1 else f"column {start}")
        header = GAP.join(label.rjust(col_width) for label in col_labels[start:stop])
        lines.append((" " * lead + header).rstrip())
        for label, row in zip(row_labels, cells):
            body = GAP.join(cell.rjust(col_width) for cell in row[start:stop])
            lines.append(((label.ljust(label_width) + GAP if lead else "") + body).rstrip())
    return lines


def summary_lines(matrix, view, entry_label=None):
    """A large array as a few lines: shape, min, max, norm, non-finite counts, the largest entries
    (by magnitude, with their indices), and how to see all of it. Linear time, no full copy."""
    a = np.asarray(matrix, dtype=np.float64)
    flat = a.ravel()
    num = lambda v: number(v, view.precision)
    stats = finite_stats(flat)
    lines = [f"shape {shape_text(a.shape)}, {a.size} elements"]
    if stats["min"] is not None:
        lines[0] += f"; min {num(stats['min'])}, max {num(stats['max'])}, norm {num(stats['norm'])}"
    nans, infs = int(np.count_nonzero(np.isnan(flat))), int(np.count_nonzero(np.isinf(flat)))
    bad = [f"{n} {what}" for n, what in ((nans, "nan"), (infs, "inf")) if n]
    if bad:
        lines.append("not finite: " + ", ".join(bad))
    label = entry_label or (lambda k: "[" + ",".join(map(str, np.unravel_index(k, a.shape))) + "]")
    lines.append("largest: " + ", ".join(f"{label(int(k))} {num(flat[k])}" for k in _largest(flat)))
    lines.append("all of it: --full, or --json")
    return lines


def _largest(flat):
    """Indices of the LARGEST_SHOWN entries of largest magnitude (nan first), largest first; among
    equal magnitudes, the lowest indices (deterministic: not whichever a partition happens to pick)."""
    with np.errstate(all="ignore"):
        magnitude = np.abs(flat)
        magnitude[np.isnan(magnitude)] = np.inf
    count = min(LARGEST_SHOWN, flat.size)
    if count == 0:
        return []
    if flat.size > count:
        # Ties are taken by index, whatever the partition picks: the count-th largest magnitude,
        # every entry above it, then the entries equal to it from the first index on. Linear time.
        kth = np.partition(magnitude, flat.size - count)[flat.size - count]
        above = np.flatnonzero(magnitude > kth)
        top = np.concatenate([above, np.flatnonzero(magnitude == kth)[:count - above.size]])
    else:
        top = np.arange(flat.size)
    return sorted(top.tolist(), key=lambda k: (-magnitude[k], k))


def array_lines(a, view):
    """Any array, for people: a number, a grid (in column blocks if needed), or a summary."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 0:
        return [number(a, view.precision)]
    if a.size > FULL_LIMIT and not view.full:
        return summary_lines(a, view)
    if a.size == 0:
        return [f"empty, shape {shape_text(a.shape)}"]
    return grid_lines(*as_matrix(a), view)


def labelled_matrix_lines(matrix, row_labels, col_labels, view):
    """A Hessian or Jacobian: labelled rows and columns, or a summary naming its largest entries."""
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.size > FULL_LIMIT and not view.full:
        columns = max(1, len(col_labels))
        return summary_lines(matrix, view, lambda k: f"{row_labels[k // columns]},{col_labels[k % columns]}")
    return grid_lines(matrix, row_labels, col_labels, view)
