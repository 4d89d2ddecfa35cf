"""The expression language: text -> tree (parser) -> engine tensors or SymPy expressions (lowering).

    program = parse("y = x + 1; f = 2*y**2")
    program.inputs, program.intermediates        # ['x'], ['y']
    value, named = lower_to_engine(program, {"x": Tensor(3.0, requires_grad=True)})
    expr, named = lower_to_sympy(program, {"x": numpy_object_array_of_a_real_symbol})

Files, top-down: parser.py (grammar, errors) uses tokenizer.py and builds nodes.py; functions.py
lists the functions and operators (views of the engine's op table); lowering.py computes a Program.
Importing this package imports the engine's op table (numpy only), never SymPy.
"""
from .functions import BINARY_OPERATORS, CONSTANTS, FUNCTIONS, UNARY_OPERATORS
from .lowering import fold, lower_to_engine, lower_to_sympy
from .nodes import Binary, Call, Name, Num, Program, Statement, Unary, children, column
from .parser import parse

__all__ = [
    "parse", "Program", "Statement", "Num", "Name", "Unary", "Binary", "Call", "children", "column",
    "FUNCTIONS", "BINARY_OPERATORS", "UNARY_OPERATORS", "CONSTANTS",
    "lower_to_engine", "lower_to_sympy", "fold",
]
