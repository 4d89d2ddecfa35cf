"""The grad_fn graph of an output, for people: a rich tree (`--graph`), Graphviz DOT text, and
the Graphviz call that renders DOT to an image (`--dot FILE.svg`).

Graphs can be hundreds of thousands of nodes deep: every walk below is iterative, and the
displayed tree is capped (`max_depth`, `max_nodes`) with a count of what was left out.
"""
import numpy as np
from rich.console import Group
from rich.text import Text
from rich.tree import Tree

from .arrays import shape_text

GRAPH_MAX_DEPTH = 40        # deepest level of the --graph tree shown
GRAPH_MAX_NODES = 200       # most tree lines shown by --graph


def leaf_names(leaves):
    """{id(tensor): name} from `result.leaves` ({name: Tensor})."""
    return {id(t): name for name, t in (leaves or {}).items()}


def node_label(node, names):
    label = node.name()
    if label == "AccumulateGrad":
        variable = getattr(node, "variable", None)
        name = names.get(id(variable))
        if name is None and variable is not None:
            name = f"shape {shape_text(np.shape(variable.data))}"
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


IMAGE_FORMATS = ("svg", "png", "pdf")


def dot_problem(path):
    """Why `--dot path` cannot be honoured, as one line (checked before the run), or None: an image
    name (.svg/.png/.pdf) needs Graphviz's `dot`; without it nothing is written (never a file
    the user did not name)."""
    import os
    import shutil
    image_format = os.path.splitext(path)[1].lower().lstrip(".")
    if image_format in IMAGE_FORMATS and not shutil.which("dot"):
        base = os.path.splitext(path)[0]
        return (f"--dot {path}: Graphviz is not installed (no 'dot' program), so the graph cannot be "
                f"rendered as {image_format}; name a .dot file (--dot {base}.dot) to get the DOT text")
    return None


def write_dot(path, dot_text):
    """Write DOT text to `path`; .svg/.png/.pdf go through Graphviz. Only `path` is ever written:
    without Graphviz, or when it fails, nothing is. Returns (written?, one line for stderr)."""
    import subprocess
    problem = dot_problem(path)
    if problem is not None:
        return False, f"error: {problem}"
    import os
    image_format = os.path.splitext(path)[1].lower().lstrip(".")
    try:
        if image_format in IMAGE_FORMATS:
            run = subprocess.run(["dot", f"-T{image_format}", "-o", path],
                                 input=dot_text, text=True, capture_output=True, timeout=60)
            if run.returncode == 0:
                return True, f"wrote {path}"
            return False, f"error: cannot write {path}: Graphviz 'dot' failed: {run.stderr.strip()[:200]}"
        with open(path, "w", encoding="utf-8") as f:
            f.write(dot_text)
    except (OSError, subprocess.SubprocessError) as exc:
        return False, f"error: cannot write {path}: {exc}"
    return True, f"wrote {path}"
