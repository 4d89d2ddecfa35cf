"""display/matrix_form.py: closed matrix forms for the gradients of mean squared error and L2
penalties, each kept only if, written out element by element, it gives back the elementwise
derivatives it is handed (at the bound point and at a second, random one)."""
import numpy as np
import pytest
import sympy as sp

from autodiff_cli.display.matrix_form import matrix_gradients
from autodiff_cli.language import parse


def element(name, *index):
    return sp.Symbol(f"{name}[{','.join(map(str, index))}]", real=True)


def symbols_like(name, shape):
    return np.array([element(name, *index) for index in np.ndindex(*shape)], dtype=object).reshape(shape)


RNG = np.random.default_rng(20261208)
INPUTS = {"X": RNG.standard_normal((4, 2)), "w": RNG.standard_normal(2), "y": RNG.standard_normal(4),
          "lam": np.asarray(0.75)}


def elementwise(f, wrt, inputs=INPUTS):
    """The elementwise derivatives of f (a SymPy expression of element symbols) by each variable
    in wrt, with every other variable's elements replaced by its numbers (as the check derives them)."""
    constants = {}
    for name, value in inputs.items():
        if name in wrt:
            continue
        if np.ndim(value) == 0:
            constants[sp.Symbol(name, real=True)] = sp.Float(float(value))
        else:
            for index in np.ndindex(*np.shape(value)):
                constants[element(name, *index)] = sp.Float(float(value[index]))
    out = {}
    for name in wrt:
        variables = [sp.Symbol(name, real=True)] if np.ndim(inputs[name]) == 0 else \
            list(symbols_like(name, np.shape(inputs[name])).ravel())
        out[name] = [sp.diff(f, v).xreplace(constants) for v in variables]
    return out


X, w, y = symbols_like("X", (4, 2)), symbols_like("w", (2,)), symbols_like("y", (4,))
LAM = sp.Symbol("lam", real=True)
RESIDUALS = [sum(X[i, k] * w[k] for k in range(2)) - y[i] for i in range(4)]
MSE = sum(r**2 for r in RESIDUALS) / 4
L2 = sum(v**2 for v in w)


def forms(expr, wrt, f, given=None):
    inputs = {n: v for n, v in INPUTS.items() if n in parse(expr).inputs}
    found = matrix_gradients(parse(expr), inputs, wrt, given if given is not None else elementwise(f, wrt, inputs))
    return {name: text for name, (text, _) in found.items()}


def test_mean_squared_error():
    assert forms("mean((X@w - y)**2)", ["w", "y"], MSE) == {
        "w": "1/2 * X.T @ (X @ w - y)", "y": "-1/2 * X @ w + 1/2 * y"}
    # sum instead of mean: no 1/n
    assert forms("sum((X@w - y)**2)", ["w"], 4 * MSE) == {"w": "2 * X.T @ (X @ w - y)"}
    # the same through an intermediate and matmul()
    assert forms("r = matmul(X, w) - y; mean(r**2)", ["w"], MSE) == {"w": "1/2 * X.T @ (X @ w - y)"}


def test_l2_penalty_and_ridge():
    assert forms("sum(w**2)", ["w"], L2) == {"w": "2 * w"}
    assert forms("dot(w, w)", ["w"], L2) == {"w": "2 * w"}
    assert forms("mean(w**2)", ["w"], L2 / 2) == {"w": "w"}
    assert forms("mean((X@w - y)**2) + lam*sum(w**2)", ["w"], MSE + LAM * L2) == {
        "w": "2*lam * w + 1/2 * X.T @ (X @ w - y)"}


def test_latex_is_given_with_each_form():
    inputs = {"w": INPUTS["w"]}
    (name, (text, latex)), = matrix_gradients(parse("sum(w**2)"), inputs, ["w"], elementwise(L2, ["w"], inputs)).items()
    assert (name, text, latex) == ("w", "2 * w", "2 w")


def test_a_wrong_elementwise_derivative_rejects_the_form():
    right = elementwise(MSE, ["w"])
    assert forms("mean((X@w - y)**2)", ["w"], MSE, right) == {"w": "1/2 * X.T @ (X @ w - y)"}
    one_element_off = {"w": [right["w"][0], right["w"][1] * (1 + sp.Float(1e-6))]}
    assert forms("mean((X@w - y)**2)", ["w"], MSE, one_element_off) == {}
    swapped = {"w": right["w"][::-1]}
    assert forms("mean((X@w - y)**2)", ["w"], MSE, swapped) == {}
    too_few = {"w": right["w"][:1]}
    assert forms("mean((X@w - y)**2)", ["w"], MSE, too_few) == {}
    too_many = {"w": right["w"] + [right["w"][0]]}
    assert forms("mean((X@w - y)**2)", ["w"], MSE, too_many) == {}


def test_a_derivative_right_only_at_the_bound_point_is_rejected():
    # 2*w + (w[0] - its bound value)**2 equals the true derivative at the bound point only: the
    # second, random point must catch it
    right = elementwise(L2, ["w"], {"w": INPUTS["w"]})
    at_point_only = {"w": [e + (w[0] - sp.Float(float(INPUTS["w"][0])))**2 for e in right["w"]]}
    assert forms("sum(w**2)", ["w"], L2, right) == {"w": "2 * w"}
    assert forms("sum(w**2)", ["w"], L2, at_point_only) == {}


def test_one_variable_rejected_does_not_hide_another():
    given = elementwise(MSE, ["w", "y"])
    given["y"] = [e + 1 for e in given["y"]]
    assert forms("mean((X@w - y)**2)", ["w", "y"], MSE, given) == {"w": "1/2 * X.T @ (X @ w - y)"}


@pytest.mark.parametrize("expr", [
    "X@w - y",                       # not a scalar
    "sum(exp(w))",                   # outside the small language
    "sum(w**3)",
    "sum(X@w + 1)",                  # broadcasting a number over a vector
    "sum(X, axis=0)[0] + sum(w)",    # an axis
])
def test_no_form_outside_the_small_language(expr):
    inputs = {n: INPUTS[n] for n in parse(expr).inputs}
    wrt = [n for n in parse(expr).inputs if np.ndim(inputs[n])]
    # the elementwise derivatives do not matter: nothing is even compared
    given = {n: [sp.Integer(0)] * int(np.size(inputs[n])) for n in wrt}
    assert matrix_gradients(parse(expr), inputs, wrt, given) == {}


def test_scalar_variables_get_no_matrix_form():
    assert forms("mean((X@w - y)**2) + lam*sum(w**2)", ["lam"], MSE + LAM * L2) == {}


@pytest.mark.parametrize("expr, shown, latex", [
    ("2*pi*x", "2*pi", "\\pi"),
    ("e**(2*x)", "exp(2*x)", "e^{2 x}"),
    ("x*pi + y*e", "pi", "\\pi"),
])
def test_pi_and_e_are_shown_as_themselves(expr, shown, latex):
    """issue 29, finding 4: pi and e became decimals in formulas and LaTeX (6.28318530717959*x);
    the check still evaluates them as the float64 numbers the engine uses."""
    from autodiff_cli import evaluate
    result = evaluate(expr, {"x": 0.5, "y": 2.0}, latex=True)
    assert result.status == "ok" and result.check.method == "sympy", result.to_json()
    texts = " ".join(str(v) for v in result.check.symbolic.values())
    assert shown in texts and "3.14159" not in texts and "2.71828" not in texts and "6.28318" not in texts, texts
    assert latex in " ".join(str(v) for v in result.check.latex.values())
