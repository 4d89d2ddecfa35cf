"""The expression language: text -> tree (parser) -> engine tensors or SymPy expressions (lowering).

    program = parse("y = x + 1; f = 2*y**2")
    program.inputs, program.intermediates        # ['x'], ['y']
    value, named = lower_to_engine(program, {"x": Tensor(3.0, requires_grad=True)})
    expr, named = lower_to_sympy(program, {"x": numpy_object_array_of_a_real_symbol})

Files, top-down: parser.py (grammar, errors) uses tokenizer.py and builds nodes.py; functions.py
is the table of operators and functions; lowering.py computes a Program.
Importing this package imports neither the engine nor SymPy; the lowerings import them when called.
"""
from .functions import BINARY_OPERATORS, CONSTANTS, FUNCTIONS, UNARY_OPERATORS, Overload
from .lowering import fold, lower_to_engine, lower_to_sympy
from .nodes import Binary, Call, Name, Num, Program, Statement, Unary, children, column
from .parser import parse

__all__ = [
    "parse", "Program", "Statement", "Num", "Name", "Unary", "Binary", "Call", "children", "column",
    "FUNCTIONS", "BINARY_OPERATORS", "UNARY_OPERATORS", "CONSTANTS", "Overload",
    "lower_to_engine", "lower_to_sympy", "fold",
]
