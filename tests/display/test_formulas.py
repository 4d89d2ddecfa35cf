"""formulas.py and matrix_form.py: symbolic derivatives as people read them, checked against
SymPy's own elementwise derivatives (never a form that does not give them back)."""
import pytest
import sympy as sp

from autodiff_cli.display import formulas
from autodiff_cli.display import matrix_form
from autodiff_cli.api import evaluate
from autodiff_cli.language import parse


def element(name, *index):
    return sp.Symbol(f"{name}[{','.join(map(str, index))}]", real=True)


def test_index_form_only_when_every_element_has_the_same_formula():
    x = [element("x", i) for i in range(3)]
    entry, latex = formulas.describe("x", (3,), [2 * s * sp.cos(s**2) for s in x], latex=True)
    assert entry == {"kind": "index", "variable": "x[i]", "text": "2*x[i]*cos(x[i]**2)"}
    assert latex == {"kind": "index", "variable": "x_{i}", "text": "2 x_{i} \\cos{\\left(x_{i}^{2} \\right)}"}
    W = [[element("W", i, j) for j in range(2)] for i in range(2)]
    v = [element("v", j) for j in range(2)]
    entry, _ = formulas.describe("W", (2, 2), [v[j] * sp.exp(W[i][j]) for i in range(2) for j in range(2)])
    assert entry == {"kind": "index", "variable": "W[i,j]", "text": "v[j]*exp(W[i,j])"}
    coupled = [x[0] + x[1] + x[2]] * 3          # the same text, but not "up to its own index"
    entry, _ = formulas.describe("x", (3,), coupled)
    assert entry == ["x[0] + x[1] + x[2]"] * 3
    entry, _ = formulas.describe("x", (3,), [x[0], x[0] * 2, x[0] * 3])
    assert entry == ["x[0]", "2*x[0]", "3*x[0]"]


def test_exact_numbers_and_short_floats():
    x = sp.Symbol("x", real=True)
    assert formulas.describe("x", (), [sp.Float(4.0) * x])[0] == "4*x"
    assert formulas.describe("x", (), [sp.Float(0.1) * x])[0] == "0.1*x"


def test_simplification_is_bounded_by_the_budget():
    x = sp.Symbol("x", real=True)
    messy = (x**2 - 1) / (x - 1) + sp.sin(x)**2 + sp.cos(x)**2
    assert formulas.describe("x", (), [messy], budget=0)[0] == formulas.text(messy)   # shown as derived
    assert formulas.describe("x", (), [messy], budget=30)[0] == "x + 2"
    assert formulas.describe("x", (), [messy], budget=0)[0] == formulas.text(messy)   # not even from the cache


def _elementwise(expr, bindings, wrt=None):
    result = evaluate(expr, bindings, wrt=wrt)
    assert result.check.method == "sympy", result.check.notes
    return result, {n: exprs for n, (_, exprs, _) in result.check.derivatives.items()}


@pytest.fixture(autouse=True)
def generous_budgets(monkeypatch):
    monkeypatch.setenv("AUTODIFF_CHECK_SECONDS", "300")
    monkeypatch.setenv("AUTODIFF_DISPLAY_SECONDS", "300")


def test_matrix_form_of_least_squares():
    bindings = {"X": "randn(5,3)", "w": "randn(3)", "y": "randn(5)"}
    result = evaluate("mean((X@w - y)**2)", bindings, random_seed=0, wrt="w,y", simplify=True)
    assert result.check.passed
    record = result.as_dict()
    assert record["symbolic"]["w"] == {"kind": "matrix", "variable": "w", "text": "2/5 * X.T @ (X @ w - y)"}
    assert record["symbolic"]["y"] == {"kind": "matrix", "variable": "y", "text": "-2/5 * X @ w + 2/5 * y"}
    plain = evaluate("mean((X@w - y)**2)", bindings, random_seed=0, wrt="w,y").as_dict()    # batch: no search
    assert isinstance(plain["symbolic"]["y"], list) and isinstance(plain["symbolic"]["w"], list)


def test_matrix_form_is_shown_only_when_it_gives_back_the_elementwise_derivatives():
    result, elementwise = _elementwise("sum(A@x) + dot(x, x)", {"A": [[1, 2], [3, 4]], "x": [1, -1]})
    forms = matrix_form.matrix_gradients(parse("sum(A@x) + dot(x, x)"), result.inputs, result.wrt, elementwise)
    assert forms == {"x": ("2 * x + A.T @ ones(2)", forms["x"][1]), "A": ("ones(2) @ x.T", forms["A"][1])}
    wrong = {name: [e + 1 for e in exprs] for name, exprs in elementwise.items()}
    assert matrix_form.matrix_gradients(parse("sum(A@x) + dot(x, x)"), result.inputs, result.wrt, wrong) == {}


def test_no_matrix_form_outside_the_small_language():
    result, elementwise = _elementwise("sum(sigmoid(W@x))", {"W": [[1, 2], [3, 4]], "x": [1, -1]})
    assert matrix_form.matrix_gradients(parse("sum(sigmoid(W@x))"), result.inputs, result.wrt, elementwise) == {}
    result, elementwise = _elementwise("sum(x + y)", {"x": [1, 2], "y": 3})          # broadcasting
    assert matrix_form.matrix_gradients(parse("sum(x + y)"), result.inputs, result.wrt, elementwise) == {}


def test_matrix_text_uses_the_languages_notation():
    X, w = sp.MatrixSymbol("X", 3, 2), sp.MatrixSymbol("w", 2, 1)
    assert matrix_form.matrix_text(3 * X.T * (X * w)) == "3 * X.T @ X @ w"
    assert matrix_form.matrix_text((X * w + X * w).T) == "2 * w.T @ X.T"
    assert matrix_form.matrix_text(sp.OneMatrix(1, 3) * X) == "ones(1,3) @ X"
