"""Tables for people, built from a `Result`: value (and J·t for jvp), gradients (with the check),
named intermediates, Hessian and Jacobian matrices, derivatives by order, `--steps`.

Every function here is pure: it takes a result and a `View` (width, precision, --full, --latex)
and returns rich renderables; the CLI decides where they are printed. Numbers and arrays are
formatted by ui/arrays.py (one format everywhere); an array or formula too wide for its cell is
printed in full below the table, never cut. Nothing here forces colour, so rich turns it off by
itself when the stream is not a terminal or when NO_COLOR is set. Text that came from input (the
expression, --steps labels, notes quoting it) is escaped and never read as markup.
"""
import itertools

import numpy as np
from rich import box
from rich.console import Group
from rich.table import Table as _RichTable
from rich.text import Text

from .arrays import View, array_lines, brief, element_labels, inline, labelled_matrix_lines, number, shape_text
from .console import escape_text

__all__ = ["View", "Table", "render_result", "render_steps", "check_summary", "shorten", "shape_text",
           "element_labels"]

STEPS_MAX_ROWS = 200        # most rows shown by --steps (first and last halves)
DERIVATIVES_MAX_ROWS = 200  # most rows of the derivatives table (--json has them all)
TEXT_MAX = 40               # longest source snippet shown in a --steps cell
CELL_MAX = 24               # widest array shown inside a table cell (else printed below the table)
FORMULA_CELL_MAX = 40       # widest formula shown inside a table cell (else printed below the table)
FORMULAS_BELOW_MAX = 1200   # most characters of one variable's formulas printed below (unless --full)
BELOW = "below"
NUMBERS = "fold"            # a column of numbers too narrow for them folds them onto more lines, never cuts them


class Table(_RichTable):
    """A rich Table whose cells wrap (fold) when the terminal is too narrow for it, instead of
    ending in "…": a number, a formula or a node name is never cut (rich's default overflow)."""

    def add_column(self, *args, overflow="fold", **options):
        return super().add_column(*args, overflow=overflow, **options)

CHECK_METHODS = {
    "sympy": "checked with SymPy",
    "finite-difference": "checked with central finite differences",
    "none": "not checked",
}


def shorten(text, limit=TEXT_MAX):
    """`text`, or its start and end around an ellipsis when it is longer than `limit`."""
    if len(text) <= limit:
        return text
    keep = limit - 5
    return f"{text[: keep - keep // 3]} ... {text[len(text) - keep // 3:]}"


def _cell(a, view):
    """An array inside a table cell if it fits on one short line, else its shape and BELOW (it is
    printed in full after the table)."""
    if a is None:
        return "—"
    return inline(a, view, limit=CELL_MAX) or f"{shape_text(np.shape(a))} {BELOW}"


def _block(title, lines):
    """A titled array printed below a table."""
    return [Text(title, style="bold")] + [Text(line) for line in lines]


def _array_block(title, a, view):
    a = np.asarray(a, dtype=np.float64)
    return _block(f"{title}, shape {shape_text(a.shape)}:", array_lines(a, view))


# --- formulas ------------------------------------------------------------------------------------

def _formula(result, name, view):
    """The symbolic derivative by `name` as the check shows it: a string (scalar variable), nested
    lists of strings shaped like the variable, a {"kind", "text"} form, or None; LaTeX under --latex."""
    check = result.check
    if check is None:
        return None
    source = getattr(check, "latex", None) if view.latex else None
    return (source or getattr(check, "symbolic", None) or {}).get(name)


def _formula_cell(name, formula):
    """The formula in one line for the derivative column, or BELOW when it needs more room."""
    if formula is None:
        return "—"
    if isinstance(formula, dict):
        text = f"d/d{formula.get('variable', name)} = {formula['text']}"
    elif isinstance(formula, str):
        text = formula
    else:
        return BELOW
    return text if len(text) <= FORMULA_CELL_MAX else BELOW


def _formula_lines(name, formula, view):
    """Every line of a formula printed below the table: one per element for elementwise lists;
    past FORMULAS_BELOW_MAX characters (unless --full), a line saying how many more and where."""
    if isinstance(formula, dict):
        return [f"d/d{formula.get('variable', name)} = {formula['text']}"]
    if isinstance(formula, str):
        return [f"d/d{name} = {formula}"]
    texts = np.array(formula, dtype=object)
    lines = [f"d/d{label} = {text}" for label, text in zip(element_labels(name, texts.shape), texts.ravel())]
    shown, used = [], 0
    for line in lines:
        if used + len(line) > FORMULAS_BELOW_MAX and shown and not view.full:
            key = "latex" if view.latex else "symbolic"
            shown.append(f"... {len(lines) - len(shown)} more formulas (all of them: --full, or --json \"{key}\")")
            break
        shown.append(line)
        used += len(line)
    return shown


# --- the result ----------------------------------------------------------------------------------

def _check_cell(per_variable, name, checked):
    """(text, is_mismatch) for the check column of one variable."""
    vc = per_variable.get(name) if per_variable else None
    if vc is None:
        return (Text("—", style="dim") if not checked else Text("?", style="dim")), False
    error = getattr(vc, "error", None)
    # An agreeing variable's error is within the check's tolerance (rounding noise that differs
    # between machines): only a mismatch shows its figure; --json has every error.
    amount = f" {error:.1e}" if isinstance(error, (int, float)) and vc.passed is not True else ""
    if vc.passed is False:
        return Text(f"✗{amount}", style="bold red"), True
    if vc.passed is None:
        return Text("—", style="dim"), False
    return Text(f"✓{amount}", style="green"), False


def _header(result, view):
    mode = getattr(result, "mode", "grad")
    text = Text()
    text.append(f"{mode} ", style="bold")
    text.append(shorten(escape_text(result.expression), 200), style="bold cyan")
    inputs = getattr(result, "inputs", None) or {}
    if inputs:
        text.append("  at  ")
        text.append(", ".join(f"{name} = {inline(v, view, limit=CELL_MAX) or 'array ' + shape_text(np.shape(v))}"
                              for name, v in inputs.items()))
    return text


def _value_part(result, view):
    """value (and grad_norm; for jvp the tangents and J·t), labels aligned."""
    rows = [("value", result.value)]
    if getattr(result, "grad_norm", None) is not None:
        rows.append(("grad_norm", result.grad_norm))
    if getattr(result, "jvp", None) is not None:
        rows += [(f"tangent {name}", tangent) for name, tangent in result.tangents.items()] + [("J·t", result.jvp)]
    width = max(len(label) for label, _ in rows) if len(rows) > 1 else 0
    return [part for label, a in rows for part in _labelled_array(label.ljust(width), a, view)]


def _labelled_array(label, a, view):
    """`label  [1, 2, 3]` on one line if it fits, else the array in a titled block."""
    one_line = inline(a, view, limit=view.width - len(label) - 2)
    if one_line is not None:
        return [Text.assemble((label, "bold"), "  ", one_line)]
    return _array_block(label.rstrip(), a, view)


def _table(title, first_column):
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column(first_column, style="bold")
    return table


def _gradients_part(result, view):
    check = result.check
    checked = check is not None and getattr(check, "method", "none") != "none"
    per_variable = (getattr(check, "per_variable", None) if check is not None else None) or {}
    formulas = {name: _formula(result, name, view) for name in result.gradients}
    show_formulas = any(f is not None for f in formulas.values())
    table = _table("Gradients", "variable")
    table.add_column("value", overflow=NUMBERS)
    table.add_column("gradient", overflow=NUMBERS)
    if show_formulas:
        table.add_column("derivative (LaTeX)" if view.latex else "derivative (SymPy)")
    table.add_column("check", overflow=NUMBERS)
    shown_elsewhere = set(getattr(check, "notes", None) or []) if check is not None else set()

    def note_of(name):
        note = getattr(per_variable.get(name), "note", None)
        return None if note in shown_elsewhere else note

    notes = any(note_of(n) for n in result.gradients)
    if notes:
        table.add_column("note")
    inputs = getattr(result, "inputs", None) or {}
    below = []
    for name, grad in result.gradients.items():
        cell, bad = _check_cell(per_variable, name, checked)
        value = inputs.get(name)
        row = [name, _cell(value, view), _cell(grad, view)]
        if value is not None and row[1].endswith(BELOW):
            below += _array_block(name, value, view)
        if row[2].endswith(BELOW):
            below += _array_block(f"gradient of {name}", grad, view)
        if show_formulas:
            row.append(Text(_formula_cell(name, formulas[name])))
            if row[-1].plain == BELOW:
                below += _block(f"derivative by {name}:", _formula_lines(name, formulas[name], view))
        row.append(cell)
        if notes:
            row.append(Text(escape_text(note_of(name) or "")))
        table.add_row(*row, style="red" if bad else None)
    return [table] + below


def _intermediates_part(result, view):
    table = _table("Named intermediates", "name")
    table.add_column("value", overflow=NUMBERS)
    table.add_column("gradient", overflow=NUMBERS)
    below = []
    for name, entry in result.intermediates.items():
        cells = [_cell(entry.get("value"), view), _cell(entry.get("gradient"), view)]
        for title, key, cell in ((name, "value", cells[0]), (f"gradient of {name}", "gradient", cells[1])):
            if cell.endswith(BELOW):
                below += _array_block(title, entry[key], view)
        table.add_row(name, *cells)
    return [table] + below


def _variable_shapes(result, blocks_by_row):
    """{name: shape} of the differentiated variables, from the inputs (or the blocks' shapes)."""
    inputs = getattr(result, "inputs", None) or {}
    return {name: np.shape(inputs[name]) if name in inputs else np.shape(block)[:np.ndim(block) // 2]
            for name, block in blocks_by_row.items()}


def _matrix_part(title, row_labels, col_labels, matrix, view):
    matrix = np.asarray(matrix, dtype=np.float64)
    heading = f"{title} ({len(row_labels)} x {len(col_labels)})"
    return [Text(heading, style="bold")] + [Text(line) for line in
                                            labelled_matrix_lines(matrix, row_labels, col_labels, view)]


def _hessian_part(result, view):
    hessian = result.hessian
    names = list(hessian)
    shapes = _variable_shapes(result, {n: hessian[n][n] for n in names})
    sizes = {n: int(np.prod(shapes[n], dtype=int)) for n in names}
    labels = [lab for n in names for lab in element_labels(n, shapes[n])]
    matrix = np.zeros((len(labels), len(labels)))
    r0 = 0
    for row in names:
        c0 = 0
        for col in names:
            block = hessian[row].get(col)
            if block is not None:
                matrix[r0:r0 + sizes[row], c0:c0 + sizes[col]] = np.reshape(block, (sizes[row], sizes[col]))
            c0 += sizes[col]
        r0 += sizes[row]
    return _matrix_part("Hessian", labels, labels, matrix, view)


def _jacobian_part(result, view):
    out_shape = np.shape(result.value)
    out_labels = element_labels("f", out_shape)
    inputs = getattr(result, "inputs", None) or {}
    col_labels, blocks = [], []
    for name, block in result.jacobian.items():
        var_shape = np.shape(inputs[name]) if name in inputs else np.shape(block)[len(out_shape):]
        col_labels += element_labels(name, var_shape)
        blocks.append(np.reshape(block, (len(out_labels), int(np.prod(var_shape, dtype=int)))))
    matrix = np.concatenate(blocks, axis=1) if blocks else np.zeros((len(out_labels), 0))
    return _matrix_part("Jacobian", out_labels, col_labels, matrix, view)


def _derivatives_part(result, view):
    """One row per distinct derivative (mixed partials are symmetric), order by order."""
    table = Table(title="Derivatives by order", title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("order", justify="right")
    table.add_column("derivative", style="bold")
    table.add_column("value", justify="right", overflow=NUMBERS)
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
            table.add_row(str(order), _partial_label(order, [names[i] for i in index]), number(node, view.precision))
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
    """One line saying how the result was checked and whether it agreed (the verdict)."""
    check = result.check
    if check is None or getattr(check, "method", "none") == "none":
        text = Text("not checked", style="dim")
    else:
        text = Text(CHECK_METHODS.get(check.method, f"checked with {check.method}"))
        if check.passed is True:
            text.append(": agrees", style="green")
        elif check.passed is False:
            text.append(": MISMATCH", style="bold red")
        # agreeing, the error is below the check's tolerance: rounding noise that differs between
        # machines, not shown (--json has it); a mismatch or an unjudged check shows its figure
        if check.max_abs_error is not None and check.passed is not True:
            text.append(f" (max abs error {check.max_abs_error:.2g})")
    for note in getattr(check, "notes", None) or []:
        text.append(f"\n{escape_text(note)}", style="dim")
    return text


def render_result(result, view=None, *, before_verdict=()):
    """The renderables for a successful (or mismatched) result, in print order; `before_verdict`
    (the --steps table, the --graph tree) goes just before the closing check line."""
    view = view or View()
    parts = [_header(result, view), Text("")] + _value_part(result, view) + [Text("")]
    if getattr(result, "gradients", None):
        parts += _gradients_part(result, view)
    if getattr(result, "intermediates", None):
        parts += _intermediates_part(result, view)
    if getattr(result, "hessian", None):
        parts += [Text("")] + _hessian_part(result, view)
    if getattr(result, "jacobian", None):
        parts += _jacobian_part(result, view)
    if getattr(result, "derivatives", None):
        parts.append(_derivatives_part(result, view))
    if not isinstance(parts[-1], Table) and parts[-1].plain != "":   # a table ends in a blank line of its own
        parts.append(Text(""))
    parts += list(before_verdict) + [check_summary(result)]
    return Group(*parts)


# --- --steps -------------------------------------------------------------------------------------

STEPS_CAPTION = ("Forward order. Each gradient is d(output)/d(node), summed by the chain rule over the "
                 "node's consumers: dL/dnode = Σ dL/dconsumer · dconsumer/dnode.")


def render_steps(result, view=None, *, max_rows=STEPS_MAX_ROWS):
    """`result.steps` as a table: each node in forward order, its op, where it is, value, gradient.

    Long programs show their first and last `max_rows // 2` steps, with a row saying how many
    were left out (a table of thousands of rows is slow to lay out and unreadable anyway).
    """
    view = view or View()
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

    def add(index, step):
        column = getattr(step, "column", None)
        gradient = "—" if step.gradient is None else brief(step.gradient, view)
        table.add_row(str(index), Text(shorten(escape_text(step.label))), str(step.op or ""),
                      "" if column is None else str(column), brief(step.value, view), gradient)

    for i, step in enumerate(head, 1):
        add(i, step)
    if tail:
        table.add_row("…", Text(f"{len(steps) - len(head) - len(tail)} steps not shown", style="dim"),
                      "", "", "", "")
        for i, step in enumerate(tail, len(steps) - len(tail) + 1):
            add(i, step)
    return table
