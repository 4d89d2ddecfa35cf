"""A closed matrix form of a gradient, where SymPy's matrix calculus gives one:

    mean((X@w - y)**2)   ->   d/dw = 2/5 * X.T @ (X@w - y)

The program is lowered to SymPy matrix expressions (vectors as columns) for a small language:
names, numbers, + - with equal shapes, * and / by a scalar, @ / matmul / dot, unary minus,
sum(v) and mean(v) of a vector, and sum/mean(v**2) as v.T @ v. Anything else has no matrix form
here (None). A form is shown only after it was checked to equal the elementwise derivatives the
cross-check derived, so a gap in SymPy's matrix calculus can hide a form but never show a wrong one.
"""
import numpy as np

from .sympy_forms import as_sympy
from ..language.nodes import Binary, Call, Name, Num, Unary


class _NoForm(Exception):
    pass


def matrix_gradients(program, inputs, wrt, elementwise):
    """{name: (text, LaTeX)} of the closed forms found for the scalar program's gradient by each
    array variable in `wrt`; `elementwise[name]` is the list of element derivatives (SymPy, C
    order, element symbols named like "X[0,1]") the form must equal."""
    import sympy as sp
    try:
        env = {name: _symbol(sp, name, np.shape(value)) for name, value in inputs.items()}
        output = None
        for statement in program.statements:
            output = _lower(sp, statement.expr, env)
            if statement.name is not None:
                env[statement.name] = output
        if output is None or not (_is_scalar(output)):
            return {}
    except (_NoForm, TypeError, ValueError, AttributeError, sp.ShapeError):
        return {}
    forms = {}
    for name in wrt:
        if np.ndim(inputs[name]) == 0 or name not in elementwise:
            continue
        try:
            derivative = output.diff(env[name])
        except Exception:  # noqa: BLE001 - SymPy's matrix calculus gives up on many shapes: no form
            continue
        if _is_matrix_form(sp, derivative) and _agrees(sp, derivative, name, np.shape(inputs[name]),
                                                       elementwise[name], inputs, wrt):
            forms[name] = (matrix_text(derivative), sp.latex(derivative))
    return forms


def _symbol(sp, name, shape):
    if len(shape) == 0:
        return sp.Symbol(name, real=True)
    if len(shape) == 1:
        return sp.MatrixSymbol(name, shape[0], 1)
    if len(shape) == 2:
        return sp.MatrixSymbol(name, *shape)
    raise _NoForm(name)


def _is_scalar(expr):
    return not getattr(expr, "is_Matrix", False) or expr.shape == (1, 1)


def _lower(sp, node, env):
    if isinstance(node, Num):
        return sp.nsimplify(node.value) if float(node.value).is_integer() else sp.Float(node.value)
    if isinstance(node, Name):
        if node.id not in env:
            raise _NoForm(node.id)
        return env[node.id]
    if isinstance(node, Unary):
        operand = _lower(sp, node.operand, env)
        return -operand if node.op == "-" else operand
    if isinstance(node, Binary):
        return _binary(sp, node, env)
    if isinstance(node, Call):
        return _call(sp, node, env)
    raise _NoForm(type(node).__name__)


def _binary(sp, node, env):
    op = node.op
    if op in ("**", "^") and isinstance(node.right, Num) and node.right.value == 2 and not _is_scalar(
            left := _lower(sp, node.left, env)):
        return _Squares(left)            # only meaningful under sum/mean
    left, right = _lower(sp, node.left, env), _lower(sp, node.right, env)
    if isinstance(left, _Squares) or isinstance(right, _Squares):
        raise _NoForm("elementwise square outside sum/mean")
    if op == "@":
        return _matmul(left, right)
    if op in ("+", "-"):
        if _is_scalar(left) != _is_scalar(right) or (not _is_scalar(left) and left.shape != right.shape):
            raise _NoForm("broadcasting")
        return left + right if op == "+" else left - right
    if op == "*" and (_is_scalar(left) or _is_scalar(right)):
        return left * right
    if op == "/" and _is_scalar(right) and not getattr(right, "is_Matrix", False):
        return left / right
    if op in ("**", "^") and _is_scalar(left) and _is_scalar(right) and not getattr(left, "is_Matrix", False):
        return left ** right
    raise _NoForm(op)


def _matmul(left, right):
    if _is_scalar(left) or _is_scalar(right) or left.shape[1] != right.shape[0]:
        raise _NoForm("@")
    return left * right


def _call(sp, node, env):
    args = [_lower(sp, a, env) for a in node.args]
    if node.axis is not None:
        raise _NoForm("axis")
    if node.func in ("sum", "mean") and len(args) == 1:
        (arg,) = args
        if isinstance(arg, _Squares):
            total, count = (arg.vector.T * arg.vector), arg.vector.shape[0]
        elif not _is_scalar(arg) and arg.shape[1] == 1:
            total, count = sp.OneMatrix(1, arg.shape[0]) * arg, arg.shape[0]
        else:
            raise _NoForm(node.func)
        return total if node.func == "sum" else total / count
    if node.func == "matmul" and len(args) == 2:
        return _matmul(*args)
    if node.func == "dot" and len(args) == 2 and all(not _is_scalar(a) and a.shape[1] == 1 for a in args):
        return args[0].T * args[1]
    raise _NoForm(node.func)


class _Squares:
    """v**2 of a vector v, waiting for sum/mean to make it v.T @ v."""

    def __init__(self, vector):
        if vector.shape[1] != 1:
            raise _NoForm("square of a matrix")
        self.vector = vector


def _is_matrix_form(sp, expr):
    """A plain matrix expression (SymPy returns array expressions where it has no matrix form)."""
    if not isinstance(expr, sp.MatrixExpr):
        return False
    stack = [expr]
    while stack:
        e = stack.pop()
        if "Array" in type(e).__name__ or "PermuteDims" in type(e).__name__:
            return False
        stack.extend(e.args)
    return True


def _agrees(sp, form, name, shape, elementwise, inputs, wrt):
    """Whether the form, written out element by element, equals the cross-check's derivatives:
    compared in float64 at the bound point and at a second, random point of the wrt variables."""
    explicit = form.as_explicit()
    values = [explicit[k, 0] if len(shape) == 1 else explicit[k // shape[1], k % shape[1]]
              for k in range(int(np.prod(shape)))]
    if len(values) != len(elementwise):
        return False
    rng = np.random.default_rng(0)
    for point in (inputs, {n: (rng.standard_normal(np.shape(v)) if n in wrt else v) for n, v in inputs.items()}):
        in_form, in_elements = {}, {}
        for n, v in point.items():
            v = np.asarray(v, dtype=np.float64)
            if v.ndim == 0:
                in_form[sp.Symbol(n, real=True)] = in_elements[sp.Symbol(n, real=True)] = sp.Float(float(v))
                continue
            matrix = sp.MatrixSymbol(n, v.shape[0], 1 if v.ndim == 1 else v.shape[1])
            for index in np.ndindex(*v.shape):
                element = matrix[index[0], index[1] if v.ndim == 2 else 0]
                in_form[element] = sp.Float(float(v[index]))
                if n in wrt:
                    in_elements[sp.Symbol(f"{n}[{','.join(map(str, index))}]", real=True)] = sp.Float(float(v[index]))
        mine = np.array([float(e.xreplace(in_form).evalf()) for e in values])
        theirs = np.array([float(as_sympy(e).xreplace(in_elements).evalf()) for e in elementwise])
        if not np.allclose(mine, theirs, rtol=1e-9, atol=1e-12):
            return False
    return True


def matrix_text(expr):
    """A matrix expression in the language's own notation: @ for products, .T for transposes,
    ones(n) for a vector of ones."""
    from sympy.printing.precedence import precedence
    from sympy.printing.str import StrPrinter

    class MatrixPrinter(StrPrinter):
        def _print_MatMul(self, expr):
            coefficient, factors = expr.as_coeff_matrices()
            body = " @ ".join(self.parenthesize(f, precedence(expr)) for f in factors)
            if coefficient == 1:
                return body
            if coefficient == -1:
                return f"-{body}"
            return f"{self._print(coefficient)} * {body}"

        def _print_OneMatrix(self, expr):
            rows, cols = expr.shape
            return f"ones({rows})" if cols == 1 else f"ones({rows},{cols})"

        def _print_Transpose(self, expr):
            return f"{self.parenthesize(expr.arg, 999)}.T"

    return MatrixPrinter().doprint(expr)
