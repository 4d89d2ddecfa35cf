"""What the expression language can call, as views of the engine's op table (engine/ops.py).

    FUNCTIONS:         name -> {arity: OpSpec}     sin(x), max(x) and max(a, b), pow(x, y)
    BINARY_OPERATORS:  symbol -> OpSpec            + - * / ** @
    UNARY_OPERATORS:   symbol -> OpSpec            - (unary plus is the identity and has no entry)
    STACK, INDEX:      the OpSpecs of the two forms that are syntax, not names: [a, b] and x[0, 1:3]

The parser validates calls against them; both lowerings compute with the entry they find (its
engine function, its SymPy form). An op joins the language by naming itself in its table entry's
`language` field: nothing here changes.
"""
import numpy as np

from ..engine.ops import OPS
from ..engine.cas_forms import as_object_array  # noqa: F401  (the lowerings' object arrays)

FUNCTIONS: dict = {}
BINARY_OPERATORS: dict = {}
UNARY_OPERATORS: dict = {}
for _spec in OPS:
    for _name in _spec.language:
        if _name.isidentifier():
            FUNCTIONS.setdefault(_name, {})[_spec.language_arity] = _spec
        elif _spec.language_arity == 2:
            BINARY_OPERATORS[_name] = _spec
        else:
            UNARY_OPERATORS[_name] = _spec

STACK = next(spec for spec in OPS if spec.name == "stack")
INDEX = next(spec for spec in OPS if spec.name == "index")

CONSTANTS = {"pi": np.pi, "e": np.e}


def arity_text(name):
    """'1 argument', '2 arguments' or '1 or 2 arguments', for error messages."""
    counts = sorted(FUNCTIONS[name])
    words = " or ".join(str(n) for n in counts)
    return f"{words} argument{'s' if counts[-1] != 1 else ''}"


def spec_of(name, arity):
    """The table entry the language name means with this many operands (operators and functions)."""
    if name in FUNCTIONS:
        return FUNCTIONS[name].get(arity)
    return (BINARY_OPERATORS if arity == 2 else UNARY_OPERATORS).get(name)
