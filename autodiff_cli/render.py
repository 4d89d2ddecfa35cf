"""What people see: rich renderables built from a `Result` (and plain text for errors and DOT).

Every function here is pure: it takes a result (or a graph root) and options and returns
renderables or strings; `cli.py` decides where they are printed. Nothing here forces colour, so
rich turns it off by itself when the stream is not a terminal or when NO_COLOR is set.

Graphs can be hundreds of thousands of nodes deep: every walk below is iterative, and the
displayed tree is capped (`max_depth`, `max_nodes`) with a count of what was left out.
"""
import math

import numpy as np
from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

SUMMARY_THRESHOLD = 100     # arrays with more elements are summarised, not printed
CELL_LIMIT = 12             # arrays with more elements are summarised inside table cells
MATRIX_LIMIT = 40           # largest labelled Hessian/Jacobian matrix printed cell by cell
GRAPH_MAX_DEPTH = 40        # deepest level of the --graph tree shown
GRAPH_MAX_NODES = 200       # most tree lines shown by --graph
STEPS_MAX_ROWS = 200        # most rows shown by --steps (first and last halves)
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
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"      # also for -0.0
    return f"{x:.{digits}g}"


def shorten(text, limit=TEXT_MAX):
    """`text`, or its start and end around an ellipsis when it is longer than `limit`."""
    if len(text) <= limit:
        return text
    keep = limit - 5
    return f"{text[: keep - keep // 3]} ... {text[len(text) - keep // 3:]}"


def _shape_text(shape):
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def summarize_array(a, first=5, digits=5):
    """A large array in a few lines: shape, min/max, mean/norm, non-finite counts, first elements."""
    a = np.asarray(a, dtype=np.float64)
    flat = a.ravel()
    finite = flat[np.isfinite(flat)]

    def num(v):
        return format_number(v, digits)

    parts = [f"shape {_shape_text(a.shape)}" + (f", {a.size} elements" if a.ndim > 1 else "")]
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
    return f"{body}\nshape {_shape_text(a.shape)}"


def cell_array(a):
    """A value inside a table cell: small arrays in full (narrow), bigger ones summarised."""
    return format_array(a, threshold=CELL_LIMIT, width=40)


def _full_arrays(title, arrays):
    """Arrays too big for a cell but small enough to read, printed in full below a table."""
    shown = [(name, np.asarray(a, dtype=np.float64)) for name, a in arrays if a is not None]
    shown = [(name, a) for name, a in shown if CELL_LIMIT < a.size <= SUMMARY_THRESHOLD]
    parts = []
    for name, a in shown:
        parts.append(Text(f"{title(name)}, shape {_shape_text(a.shape)}:", style="bold"))
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
    return f"array {_shape_text(a.shape)}"


def element_labels(name, shape):
    """`x` for a scalar, else `x[0]`, `x[0,1]`, ... in C order."""
    if len(shape) == 0:
        return [name]
    return [f"{name}[{','.join(map(str, idx))}]" for idx in np.ndindex(*shape)]


# --- errors --------------------------------------------------------------------------------------

def caret_picture(source, position, indent="  "):
    """The line of `source` holding 1-based offset `position`, with a caret under it (or None)."""
    if not source or position is None:
        return None
    offset = max(0, min(int(position) - 1, len(source)))
    line_start = source.rfind("\n", 0, offset) + 1
    line_end = source.find("\n", offset)
    line = source[line_start:] if line_end < 0 else source[line_start:line_end]
    column = offset - line_start
    if len(line) > 100:             # keep the caret on screen: a window around it
        start = max(0, column - 50)
        shown = ("..." if start else "") + line[start:start + 100] + ("..." if start + 100 < len(line) else "")
        column = column - start + (3 if start else 0)
        line = shown
    # one visible character per source character, so the caret stays aligned and a control or
    # line-separator character (U+2028, NUL, ...) cannot break the picture into extra lines
    line = "".join(ch if ch.isprintable() else ("·" if ch != "\t" else " ") for ch in line)
    return f"{indent}{line}\n{indent}{' ' * column}^"


def error_text(error):
    """The lines of an error for stderr: `error: ...`, then the caret picture where there is one."""
    lines = [f"error: {error}"]
    picture = caret_picture(getattr(error, "source", None), getattr(error, "position", None))
    if picture:
        lines.append(picture)
    return "\n".join(lines)


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
    text.append(shorten(result.expression, 200), style="bold cyan")
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
            row.append(shorten(_symbolic(result, name) or "—", FORMULA_MAX))
        row.append(cell)
        if notes:
            row.append(note_of(name) or "")
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
        table.add_row(f"{row}, {col}" if col is not None else row, _shape_text(block.shape), format_array(block))
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
        text.append(f"\n{note}", style="dim")
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
        table.add_row(str(number), shorten(str(step.label)), str(step.op or ""),
                      "" if column is None else str(column), cell_array(step.value), cell_array(step.gradient))

    for i, step in enumerate(head, 1):
        add(i, step)
    if tail:
        table.add_row("…", Text(f"{len(steps) - len(head) - len(tail)} steps not shown", style="dim"),
                      "", "", "", "")
        for i, step in enumerate(tail, len(steps) - len(tail) + 1):
            add(i, step)
    return table


# --- --graph and --dot ---------------------------------------------------------------------------

def leaf_names(leaves):
    """{id(tensor): name} from `result.leaves` ({name: Tensor})."""
    return {id(t): name for name, t in (leaves or {}).items()}


def node_label(node, names):
    label = node.name()
    if label == "AccumulateGrad":
        variable = getattr(node, "variable", None)
        name = names.get(id(variable))
        if name is None and variable is not None:
            name = f"shape {_shape_text(np.shape(variable.data))}"
        return f"AccumulateGrad({name})" if name else label
    return label


def _children(node):
    return [nxt for nxt, _ in getattr(node, "next_functions", ()) or () if nxt is not None]


def count_nodes(root):
    """How many distinct nodes the graph below `root` has (iterative)."""
    if root is None:
        return 0
    seen = {id(root)}
    stack = [root]
    while stack:
        for nxt in _children(stack.pop()):
            if id(nxt) not in seen:
                seen.add(id(nxt))
                stack.append(nxt)
    return len(seen)


def render_graph(output, leaves=None, *, max_depth=GRAPH_MAX_DEPTH, max_nodes=GRAPH_MAX_NODES):
    """The grad_fn graph of `output` as a rich Tree, built without recursion.

    A node reached a second time (a shared subexpression) is shown once more by name, marked
    "(shared, above)", and not expanded again. At most `max_nodes` lines and `max_depth` levels are
    shown; the caption says how many distinct nodes were left out.
    """
    names = leaf_names(leaves)
    root = getattr(output, "grad_fn", None)
    if root is None:
        variable = names.get(id(output))
        return Tree(Text(f"{variable or 'output'}: a leaf, no graph (nothing to differentiate)"))
    total = count_nodes(root)
    tree = Tree(Text(node_label(root, names), style="bold"))
    shown = {id(root)}
    lines = 1
    truncated = False
    stack = [(child, tree, 1) for child in reversed(_children(root))]
    while stack:
        node, parent, depth = stack.pop()
        if lines >= max_nodes:
            truncated = True
            break
        label = node_label(node, names)
        lines += 1
        if id(node) in shown:
            parent.add(Text(f"{label} (shared, above)", style="dim"))
            continue
        shown.add(id(node))
        style = "green" if label.startswith("AccumulateGrad") else None
        branch = parent.add(Text(label, style=style))
        children = _children(node)
        if not children:
            continue
        if depth >= max_depth:
            branch.add(Text("…", style="dim"))
            truncated = True
            continue
        for child in reversed(children):
            stack.append((child, branch, depth + 1))
    elided = total - len(shown)
    footer = f"{total} node{'s' if total != 1 else ''}"
    if elided > 0 or truncated:
        footer += f"; {elided} not shown (display capped at depth {max_depth}, {max_nodes} lines)"
    return Group(tree, Text(footer, style="dim"))


def _dot_quote(text):
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def graph_to_dot(output, leaves=None, *, title=None):
    """Graphviz DOT of the grad_fn graph of `output` (iterative; every node once, edges input -> op)."""
    names = leaf_names(leaves)
    lines = ["digraph autodiff {", "  rankdir=BT;", '  node [shape=box, fontname="Helvetica"];']
    if title:
        lines.append(f"  label={_dot_quote(title)}; labelloc=t;")
    root = getattr(output, "grad_fn", None)
    if root is None:
        lines.append('  n0 [label="output (a leaf: no graph)"];')
        lines.append("}")
        return "\n".join(lines) + "\n"
    ids = {id(root): 0}
    order = [root]
    stack = [root]
    edges = []
    while stack:
        node = stack.pop()
        for nxt in _children(node):
            if id(nxt) not in ids:
                ids[id(nxt)] = len(order)
                order.append(nxt)
                stack.append(nxt)
            edges.append((ids[id(nxt)], ids[id(node)]))
    for i, node in enumerate(order):
        label = node_label(node, names)
        if label.startswith("AccumulateGrad"):
            attrs = f"label={_dot_quote(label)}, style=filled, fillcolor=lightblue"
        elif i == 0:
            attrs = f"label={_dot_quote(label + ' (output)')}, style=filled, fillcolor=darkolivegreen1"
        else:
            attrs = f"label={_dot_quote(label)}"
        lines.append(f"  n{i} [{attrs}];")
    for a, b in edges:
        lines.append(f"  n{a} -> n{b};")
    lines.append("}")
    return "\n".join(lines) + "\n"
