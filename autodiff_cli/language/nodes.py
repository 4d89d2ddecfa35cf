"""The tree the parser produces: a handful of small node types, plus `Statement` and `Program`.

Every expression node carries `start` and `end`, 0-based character offsets into the program text
(`source[node.start:node.end]` is the node's snippet, `node.start + 1` its 1-based column), so
later stages can point at the exact place a shape error or a nan came from.

The tree can be very deep (a flat sum of 200,000 terms is a left-leaning chain 200,000 nodes
deep), so nothing here or anywhere that walks it may recurse: use `children()` with an explicit
stack (see `lowering.fold`).
"""
import contextlib
import gc
from dataclasses import dataclass, field


@dataclass(slots=True, eq=False)
class Num:
    """A number literal, or the constant `pi`/`e` (then `constant` holds its name)."""
    value: float
    start: int
    end: int
    constant: str | None = None


@dataclass(slots=True, eq=False)
class Name:
    """A variable: an input of the program or a named intermediate."""
    id: str
    start: int
    end: int


@dataclass(slots=True, eq=False)
class Unary:
    """`-operand` or `+operand`."""
    op: str
    operand: object
    start: int
    end: int


@dataclass(slots=True, eq=False)
class Binary:
    """`left op right`; op is one of + - * / ** @ (`^` is stored as `**`).

    `op_start` is the offset of the operator itself: errors about the operation point there.
    """
    op: str
    left: object
    right: object
    start: int
    end: int
    op_start: int


@dataclass(slots=True, eq=False)
class Call:
    """`func(args...)`, `func(arg, axis=k, keepdims=1)` or `reshape(arg, 2, -1)`.

    `func` is a key of `functions.FUNCTIONS`; `args` are the expression arguments only: the
    integer sizes of `reshape` are in `sizes` (they are part of the call, not values).
    """
    func: str
    args: list
    axis: int | None
    start: int
    end: int
    keepdims: bool = False
    sizes: tuple | None = None


@dataclass(slots=True, eq=False)
class Stack:
    """A stacking literal `[e1, e2, ...]`: the elements stacked along a new first axis."""
    elements: list
    start: int
    end: int


@dataclass(slots=True, eq=False)
class Index:
    """`target[i, j:k:s, ...]`: basic indexing by integers and slices only.

    `key` is a tuple of ints and `slice` objects (whose bounds are ints or None), ready for numpy.
    """
    target: object
    key: tuple
    start: int
    end: int


@dataclass(slots=True, eq=False)
class Statement:
    """One statement: `name = expr` (name set) or a bare expression (name None, only last).

    `nodes` is what the parser recorded: the tree's nodes in post-order (it makes them in that
    order), so no pass has to walk a big tree to find it. A Statement made otherwise has None."""
    name: str | None
    expr: object
    start: int
    end: int
    nodes: list | None = field(default=None, init=False, repr=False)

    def postorder(self):
        """The nodes of the statement's tree, children before parents, left to right."""
        return self.nodes if self.nodes is not None else postorder(self.expr)


@dataclass(slots=True, eq=False)
class Program:
    """A parsed program. The last statement is the output.

    inputs:        free variables, in order of first appearance
    intermediates: names assigned by the program, in order, except the output's own name
    """
    source: str
    statements: list
    inputs: list = field(default_factory=list)
    intermediates: list = field(default_factory=list)

    @property
    def output(self):
        return self.statements[-1].expr

    @property
    def output_name(self):
        return self.statements[-1].name


def children(node):
    """The direct sub-expressions of a node, left to right."""
    if isinstance(node, Binary):
        return (node.left, node.right)
    if isinstance(node, Unary):
        return (node.operand,)
    if isinstance(node, Call):
        return node.args
    if isinstance(node, Stack):
        return node.elements
    if isinstance(node, Index):
        return (node.target,)
    return ()


def postorder(root):
    """All nodes of the tree under `root`, children before parents, left to right; no recursion."""
    order = []
    stack = [root]
    while stack:
        node = stack.pop()
        order.append(node)
        stack.extend(children(node))     # the last child is popped next: node, right..., left...
    order.reverse()                      # ...so reversed: left..., right..., node
    return order


def label(node, quote=True):
    """How messages name a node's operation: sin, '+' (quote=False: +), the list [...], indexing."""
    if isinstance(node, Call):
        return node.func
    if isinstance(node, (Binary, Unary)):
        return f"'{node.op}'" if quote else node.op
    if isinstance(node, Stack):
        return "the list [...]"
    if isinstance(node, Index):
        return "indexing"
    return ""


def column(node):
    """The 1-based column an error about this node should point at (a binary node's operator,
    an index's '[')."""
    if isinstance(node, Binary):
        return node.op_start + 1
    if isinstance(node, Index):
        return node.target.end + 1
    return node.start + 1


# A pause that leaves more new objects alive than this promotes them to the oldest generation.
PROMOTE_AFTER = 50_000


@contextlib.contextmanager
def paused_gc():
    """Pause the cyclic garbage collector while building or walking a big tree.

    Parsing or lowering a 200,000-term expression allocates hundreds of thousands of objects
    that all stay alive; the collector would rescan them again and again (half the run time).
    Nothing is lost: collection resumes when the block ends. When the block leaves many new
    objects alive (a big tree and its compiled program, cached for the next call), they are moved
    straight to the oldest generation (freeze, then unfreeze, both documented as exactly that):
    otherwise the first young collection after the block scans every one of them, then the next
    middle one again (a tenth of a big run), to find what the block already knows is alive. Any
    garbage among them is still collected, by the next full collection.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            if gc.get_count()[0] > PROMOTE_AFTER:
                gc.freeze()
                gc.unfreeze()
            gc.enable()
