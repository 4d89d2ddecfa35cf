"""Tables for people, built from a `Result`: value (and J.t for jvp), gradients (with the check),
named intermediates, Hessian and Jacobian matrices, derivatives by order, `--steps`; and how
numbers and arrays are shown.

Every function here is pure: it takes a result and options and returns rich renderables or
strings; the CLI decides where they are printed. Nothing here forces colour, so rich turns it
off by itself when the stream is not a terminal or when NO_COLOR is set. Text that came from
input (the expression, --steps labels, notes quoting it) is escaped and never read as markup.
"""
import itertools
import math

import numpy as np
from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..result import json_number
from .console import escape_text

SUMMARY_THRESHOLD = 100     # arrays with more elements are summarised, not printed
CELL_LIMIT = 12             # arrays with more elements are summarised inside table cells
MATRIX_LIMIT = 40           # largest labelled Hessian/Jacobian matrix printed cell by cell
STEPS_MAX_ROWS = 200        # most rows shown by --steps (first and last halves)
DERIVATIVES_MAX_ROWS = 200  # most rows of the derivatives table (--json has them all)
TEXT_MAX = 40               # longest source snippet shown in a --steps cell
FORMULA_MAX = 300           # longest SymPy formula shown (--json has it whole)

CHECK_METHODS = {
    "sympy": "checked with SymPy",
    "finite-difference": "checked with central finite differences",
    "none": "not checked",
}


# --- numbers and arrays ------------------------------------------------------------------------

def format_number(x, digits=10):
    """One float for people: `digits` significant digits, nan/inf spelled as numpy spells them."""
    x = float(x)
    if not math.isfinite(x):
        return json_number(x)
    if x == 0:
        return "0"      # also for -0.0
    return f"{x:.{digits}g}"


def shorten(text, limit=TEXT_MAX):
    """`text`, or its start and end around an ellipsis when it is longer than `limit`."""
    if len(text) <= limit:
        return text
    keep = limit - 5
    return f"{text[: keep - keep // 3]} ... {text[len(text) - keep // 3:]}"


def shape_text(shape):
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def summarize_array(a, first=5, digits=5):
    """A large array in a few lines: shape, min/max, mean/norm, non-finite counts, first elements."""
    a = np.asarray(a, dtype=np.float64)
    flat = a.ravel()
    finite = flat[np.isfinite(flat)]

    def num(v):
        return format_number(v, digits)

    parts = [f"shape {shape_text(a.shape)}" + (f", {a.size} elements" if a.ndim > 1 else "")]
    if finite.size:
        with np.errstate(all="ignore"):
            parts.append(f"min {num(finite.min())}, max {num(finite.max())}")
            parts.append(f"mean {num(finite.mean())}, norm {num(np.linalg.norm(finite))}")
    nans, infs = int(np.isnan(flat).sum()), int(np.isinf(flat).sum())
    if nans or infs:
        parts.append(", ".join(f"{n} {what}" for n, what in ((nans, "nan"), (infs, "inf")) if n))
    head = ", ".join(num(v) for v in flat[:first])
    parts.append(f"first: {head}{', ...' if flat.size > first else ''}")
    return "\n".join(parts)


def format_array(a, *, threshold=SUMMARY_THRESHOLD, width=60):
    """A value for people: a number, or numpy's printing with the shape, or a summary if large."""
    if a is None:
        return "—"
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 0:
        return format_number(a)
    if a.size > threshold:
        return summarize_array(a)
    body = np.array2string(a, precision=8, floatmode="maxprec", suppress_small=False,
                           max_line_width=width, threshold=threshold + 1)
    return f"{body}\nshape {shape_text(a.shape)}"


def cell_array(a):
    """A value inside a table cell: small arrays in full (narrow), bigger ones summarised."""
    return format_array(a, threshold=CELL_LIMIT, width=40)


def _full_arrays(title, arrays):
    """Arrays too big for a cell but small enough to read, printed in full below a table."""
    shown = [(name, np.asarray(a, dtype=np.float64)) for name, a in arrays if a is not None]
    shown = [(name, a) for name, a in shown if CELL_LIMIT < a.size <= SUMMARY_THRESHOLD]
    parts = []
    for name, a in shown:
        parts.append(Text(f"{title(name)}, shape {shape_text(a.shape)}:", style="bold"))
        parts.append(Text(np.array2string(a, precision=8, floatmode="maxprec", max_line_width=78,
                                          threshold=SUMMARY_THRESHOLD + 1)))
    return parts


def short_value(a, limit=6):
    """A value in one short line (for headers): the number, a small array, or its shape."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 0:
        return format_number(a)
    if a.size <= limit:
        return np.array2string(a, precision=6, floatmode="maxprec", separator=", ",
                               max_line_width=10**6).replace("\n", "")
    return f"array {shape_text(a.shape)}"


def element_labels(name, shape):
    """`x` for a scalar, else `x[0]`, `x[0,1]`, ... in C order."""
    if len(shape) == 0:
        return [name]
    return [f"{name}[{','.join(map(str, idx))}]" for idx in np.ndindex(*shape)]



# --- the result ----------------------------------------------------------------------------------

def _check_cell(per_variable, name, checked):
    """(text, is_mismatch) for the check column of one variable."""
    vc = per_variable.get(name) if per_variable else None
    if vc is None:
        return (Text("—", style="dim") if not checked else Text("?", style="dim")), False
    error = getattr(vc, "error", None)
    amount = f" {error:.1e}" if isinstance(error, (int, float)) else ""
    if vc.passed is False:
        return Text(f"✗{amount}", style="bold red"), True
    if vc.passed is None:
        return Text("—", style="dim"), False
    return Text(f"✓{amount}", style="green"), False


def _header(result):
    mode = getattr(result, "mode", "grad")
    text = Text()
    text.append(f"{mode} ", style="bold")
    text.append(shorten(escape_text(result.expression), 200), style="bold cyan")
    inputs = getattr(result, "inputs", None) or {}
    if inputs:
        text.append("  at  ")
        text.append(", ".join(f"{name} = {short_value(v)}" for name, v in inputs.items()))
    return text


def _value_table(result):
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    value = np.asarray(result.value)
    table.add_row("value", format_array(value))
    if getattr(result, "grad_norm", None) is not None and getattr(result, "mode", "grad") == "grad":
        table.add_row("grad_norm", format_number(result.grad_norm))
    if getattr(result, "mode", None) == "jvp":
        for name, tangent in result.tangents.items():
            table.add_row(f"tangent {name}", format_array(np.asarray(tangent)))
        table.add_row("J·t", format_array(np.asarray(result.jvp)))
    return table


def _symbolic(result, name):
    check = result.check
    symbolic = getattr(check, "symbolic", None) if check is not None else None
    if not symbolic:
        return None
    return symbolic.get(name)


def _gradients_table(result):
    check = result.check
    checked = check is not None and getattr(check, "method", "none") != "none"
    per_variable = (getattr(check, "per_variable", None) if check is not None else None) or {}
    show_symbolic = any(_symbolic(result, n) for n in result.gradients)
    table = Table(title="Gradients", title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("variable", style="bold")
    table.add_column("value")
    table.add_column("gradient")
    if show_symbolic:
        table.add_column("derivative (SymPy)")
    table.add_column("check")
    shown_elsewhere = set(getattr(check, "notes", None) or []) if check is not None else set()

    def note_of(name):
        note = getattr(per_variable.get(name), "note", None)
        return None if note in shown_elsewhere else note

    notes = any(note_of(n) for n in result.gradients)
    if notes:
        table.add_column("note")
    inputs = getattr(result, "inputs", None) or {}
    for name, grad in result.gradients.items():
        cell, bad = _check_cell(per_variable, name, checked)
        row = [name, cell_array(inputs.get(name)) if name in inputs else "—", cell_array(grad)]
        if show_symbolic:
            row.append(Text(shorten(_symbolic(result, name) or "—", FORMULA_MAX)))
        row.append(cell)
        if notes:
            row.append(Text(escape_text(note_of(name) or "")))
        table.add_row(*row, style="red" if bad else None)
    return table


def _intermediates_table(result):
    table = Table(title="Named intermediates", title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("name", style="bold")
    table.add_column("value")
    table.add_column("gradient")
    for name, entry in result.intermediates.items():
        table.add_row(name, cell_array(entry.get("value")), cell_array(entry.get("gradient")))
    return table


def _labelled_matrix(title, row_labels, col_labels, matrix, corner=""):
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column(corner, style="bold")
    for label in col_labels:
        table.add_column(label, justify="right")
    for label, row in zip(row_labels, matrix):
        table.add_row(label, *(format_number(v) for v in row))
    return table


def _block_summary_table(title, rows):
    """rows: (row name, column name, array) for matrices too big to print cell by cell."""
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("block", style="bold")
    table.add_column("shape")
    table.add_column("values")
    for row, col, block in rows:
        block = np.asarray(block)
        table.add_row(f"{row}, {col}" if col is not None else row, shape_text(block.shape), format_array(block))
    return table


def _hessian_view(result):
    hessian = result.hessian
    names = list(hessian)
    shapes = {}
    for row in names:
        for col, block in hessian[row].items():
            block = np.asarray(block)
            inputs = getattr(result, "inputs", None) or {}
            if row in inputs:
                shapes[row] = np.shape(inputs[row])
            if col in inputs:
                shapes[col] = np.shape(inputs[col])
            shapes.setdefault(row, block.shape[: block.ndim // 2])
            shapes.setdefault(col, block.shape[block.ndim - len(shapes[row]):])
    cols = []
    for row in names:
        for col in hessian[row]:
            if col not in cols:
                cols.append(col)
    row_labels = [lab for n in names for lab in element_labels(n, shapes[n])]
    col_labels = [lab for n in cols for lab in element_labels(n, shapes[n])]
    if len(row_labels) > MATRIX_LIMIT or len(col_labels) > MATRIX_LIMIT:
        return _block_summary_table("Hessian (blocks)", [(r, c, hessian[r][c]) for r in names for c in hessian[r]])
    matrix = np.zeros((len(row_labels), len(col_labels)))
    r0 = 0
    for row in names:
        rsize = int(np.prod(shapes[row], dtype=int))
        c0 = 0
        for col in cols:
            csize = int(np.prod(shapes[col], dtype=int))
            block = hessian[row].get(col)
            if block is not None:
                matrix[r0:r0 + rsize, c0:c0 + csize] = np.asarray(block, dtype=np.float64).reshape(rsize, csize)
            c0 += csize
        r0 += rsize
    return _labelled_matrix("Hessian", row_labels, col_labels, matrix, corner="∂²f")


def _jacobian_view(result):
    jacobian = result.jacobian
    out_shape = np.shape(result.value)
    out_labels = element_labels("f", out_shape)
    inputs = getattr(result, "inputs", None) or {}
    col_labels, blocks = [], []
    for name, block in jacobian.items():
        block = np.asarray(block, dtype=np.float64)
        var_shape = np.shape(inputs[name]) if name in inputs else block.shape[len(out_shape):]
        col_labels += element_labels(name, var_shape)
        blocks.append(block.reshape(len(out_labels), int(np.prod(var_shape, dtype=int))))
    if len(out_labels) > MATRIX_LIMIT or len(col_labels) > MATRIX_LIMIT:
        return _block_summary_table("Jacobian (blocks)", [(f"∂f/∂{n}", None, b) for n, b in jacobian.items()])
    matrix = np.concatenate(blocks, axis=1) if blocks else np.zeros((len(out_labels), 0))
    return _labelled_matrix("Jacobian", out_labels, col_labels, matrix, corner="∂f/∂")


def _derivatives_view(result):
    """One row per distinct derivative (mixed partials are symmetric), order by order."""
    table = Table(title="Derivatives by order", title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("order", justify="right")
    table.add_column("derivative", style="bold")
    table.add_column("value", justify="right")
    names = list(result.derivatives[1]) if result.derivatives else []
    rows = 0
    for order, level in result.derivatives.items():
        for index in itertools.combinations_with_replacement(range(len(names)), order):
            if rows == DERIVATIVES_MAX_ROWS:
                table.caption = f"the first {DERIVATIVES_MAX_ROWS} rows; --json has every derivative"
                return table
            node = level
            for i in index:
                node = node[names[i]]
            table.add_row(str(order), _partial_label(order, [names[i] for i in index]), format_number(node))
            rows += 1
    return table


def _partial_label(order, variables):
    """∂³f/∂x²∂y for the variables differentiated by, in order."""
    counts = {}
    for name in variables:
        counts[name] = counts.get(name, 0) + 1
    power = lambda n: "" if n == 1 else str(n).translate(_SUPERSCRIPTS)
    below = "".join(f"∂{name}{power(n)}" for name, n in counts.items())
    return f"∂{power(order)}f/{below}"


_SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def check_summary(result):
    """One line saying how the result was checked and whether it agreed."""
    check = result.check
    if check is None or getattr(check, "method", "none") == "none":
        text = Text("not checked", style="dim")
    else:
        text = Text(CHECK_METHODS.get(check.method, f"checked with {check.method}"))
        if check.passed is True:
            text.append(": agrees", style="green")
        elif check.passed is False:
            text.append(": MISMATCH", style="bold red")
        if check.max_abs_error is not None:
            text.append(f" (max abs error {check.max_abs_error:.2g})")
    for note in getattr(check, "notes", None) or []:
        text.append(f"\n{escape_text(note)}", style="dim")
    return text


def render_result(result):
    """The renderables for a successful (or mismatched) result, in print order."""
    parts = [_header(result), Text(""), _value_table(result), Text("")]
    if getattr(result, "gradients", None):
        parts.append(_gradients_table(result))
        parts += _full_arrays(lambda name: f"gradient of {name}", result.gradients.items())
    if getattr(result, "intermediates", None):
        parts.append(_intermediates_table(result))
        parts += _full_arrays(lambda name: f"gradient of {name}",
                              [(n, e.get("gradient")) for n, e in result.intermediates.items()])
    if getattr(result, "hessian", None):
        parts.append(_hessian_view(result))
    if getattr(result, "jacobian", None):
        parts.append(_jacobian_view(result))
    if getattr(result, "derivatives", None):
        parts.append(_derivatives_view(result))
    parts.append(check_summary(result))
    return Group(*parts)


# --- --steps -------------------------------------------------------------------------------------

STEPS_CAPTION = ("Forward order. Each gradient is d(output)/d(node), summed by the chain rule over the "
                 "node's consumers: dL/dnode = Σ dL/dconsumer · dconsumer/dnode.")


def render_steps(result, *, max_rows=STEPS_MAX_ROWS):
    """`result.steps` as a table: each node in forward order, its op, where it is, value, gradient.

    Long programs show their first and last `max_rows // 2` steps, with a row saying how many
    were left out (a table of thousands of rows is slow to lay out and unreadable anyway).
    """
    table = Table(title="Steps", title_justify="left", caption=STEPS_CAPTION, caption_justify="left",
                  box=box.SIMPLE_HEAD)
    table.add_column("#", justify="right", style="dim")
    table.add_column("node", style="bold")
    table.add_column("op")
    table.add_column("col", justify="right", style="dim")
    table.add_column("value")
    table.add_column("gradient")
    steps = list(getattr(result, "steps", None) or [])
    head, tail = steps, []
    if len(steps) > max_rows:
        head, tail = steps[: max_rows // 2], steps[len(steps) - max_rows // 2:]

    def add(number, step):
        column = getattr(step, "column", None)
        table.add_row(str(number), Text(shorten(escape_text(step.label))), str(step.op or ""),
                      "" if column is None else str(column), cell_array(step.value), cell_array(step.gradient))

    for i, step in enumerate(head, 1):
        add(i, step)
    if tail:
        table.add_row("…", Text(f"{len(steps) - len(head) - len(tail)} steps not shown", style="dim"),
                      "", "", "", "")
        for i, step in enumerate(tail, len(steps) - len(tail) + 1):
            add(i, step)
    return table
