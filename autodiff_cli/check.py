"""The cross-check: is the engine's derivative right? Asked of someone who does not use the engine's VJPs.

1. SymPy, where the problem is small: the same parse tree lowered to SymPy, differentiated
   symbolically, evaluated at the bindings (substitution + evalf), compared element by element.
2. Otherwise (too large, unsupported, or over the time budget): central finite differences of the
   forward pass along a few random directions: g.v against (f(x+hv) - f(x-hv)) / 2h.

At a non-differentiable point (abs/relu at 0, ties in max/min, 0**y) the engine follows PyTorch's
convention, which no symbolic or numerical derivative has to agree with: a disagreement there is
reported as a note (passed = None), never as a mismatch.
"""
from dataclasses import dataclass, field

import numpy as np

from . import limits
from .engine import Tensor, no_grad
from .errors import AutodiffError
from .engine import grad as engine_grad
from .language import lower_to_engine, lower_to_sympy
from .language.nodes import children
from .timeouts import TimeLimitExceeded, time_limit

RTOL, ATOL = 1e-7, 1e-9          # SymPy vs engine: both exact up to rounding
FD_TOL = 1e-5                     # finite differences: truncation and rounding error
SYMPY_MAX_ELEMENTS = 64           # total input elements SymPy gets element symbols for
SYMPY_MAX_NODES = 400             # parse-tree size beyond which symbolic derivatives get unwieldy
SYMPY_MAX_SECOND_ORDER = 16       # Hessian: symbols differentiated twice
FD_DIRECTIONS = 3


@dataclass
class VariableCheck:
    error: float | None
    passed: bool | None
    note: str | None = None


@dataclass
class CheckReport:
    method: str                      # "sympy" | "finite-difference" | "none"
    passed: bool | None
    max_abs_error: float | None
    symbolic: dict = field(default_factory=dict)      # var -> derivative for people (formulas.describe), or None
    per_variable: dict = field(default_factory=dict)  # var -> VariableCheck
    notes: list = field(default_factory=list)
    latex: dict = field(default_factory=dict)         # var -> the same as LaTeX (when asked for)
    derivatives: dict = field(default_factory=dict)   # var -> (shape, [SymPy expressions], indexed by var) to show

    def as_dict(self):
        error = self.max_abs_error
        if error is not None and not np.isfinite(error):
            error = "nan" if np.isnan(error) else "inf"
        return {"method": self.method, "passed": self.passed, "max_abs_error": error}


class _Unsuitable(Exception):
    """SymPy cannot serve this problem; the message says why (shown as a note)."""


def cross_check(program, result, *, seed=None, kinks=(), rng=None, latex=False, simplify=False):
    """Check result's gradients / Hessian / Jacobian; returns a CheckReport (with the symbolic
    derivatives for people: as LaTeX if `latex`, simplified and in matrix form if `simplify`)."""
    rng = rng if rng is not None else np.random.default_rng(0)
    notes = []
    if not result.wrt:
        return CheckReport("none", None, None, notes=["no variables to differentiate"])
    if not all(np.isfinite(v).all() for v in result.inputs.values()):
        return CheckReport("none", None, None, notes=["an input is not finite; nothing to check against"])
    if any(np.size(result.inputs[name]) == 0 for name in result.wrt):
        return CheckReport("none", None, None, notes=["an input is empty; nothing to check"])
    report = None
    try:
        _require_small(program, result)
        with time_limit(limits.check_time_budget()):
            report = _sympy_check(program, result, seed)
    except _Unsuitable as why:
        notes.append(f"SymPy not used: {why}")
    except TimeLimitExceeded:
        notes.append(f"SymPy took longer than {limits.check_time_budget():g} s (set AUTODIFF_CHECK_SECONDS to "
                     f"give it longer); finite differences used instead")
    except (TypeError, ValueError, AttributeError, NotImplementedError, ZeroDivisionError, OverflowError,
            RecursionError, AutodiffError) as err:
        notes.append(f"SymPy could not differentiate this ({type(err).__name__}); finite differences used instead")
    if report is None:
        report = _finite_difference_check(program, result, seed, rng)
    else:
        _describe(report, program, result, seed, latex=latex, simplify=simplify)
    report.notes[:0] = notes
    if report.passed is False and not np.isfinite(result.value).all():
        report.passed = None   # e.g. 0*log(x) at 0: nan here, while SymPy simplified it to 0 first
        report.notes.append("the value itself is not finite here, so the check cannot judge the derivative")
    if kinks:
        report.notes.extend(kinks)
        if report.passed is False:
            report.passed = None
            report.notes.append("the check disagrees at this non-differentiable point, as expected; "
                                "the engine's value is PyTorch's")
            for var in report.per_variable.values():
                if var.passed is False:
                    var.passed, var.note = None, "non-differentiable point: PyTorch's convention"
    return report


def _require_small(program, result):
    elements = sum(int(np.size(v)) for v in result.inputs.values())
    if elements > SYMPY_MAX_ELEMENTS:
        raise _Unsuitable(f"the inputs have {elements} elements (SymPy is used up to {SYMPY_MAX_ELEMENTS})")
    nodes = 0
    for statement in program.statements:
        stack = [statement.expr]
        while stack:
            nodes += 1
            stack.extend(children(stack.pop()))
    if nodes > SYMPY_MAX_NODES:
        raise _Unsuitable(f"the expression has {nodes} nodes (SymPy is used up to {SYMPY_MAX_NODES})")
    wrt_elements = sum(int(np.size(result.inputs[n])) for n in result.wrt)
    if result.mode == "hessian" and wrt_elements > SYMPY_MAX_SECOND_ORDER:
        raise _Unsuitable(f"a Hessian in {wrt_elements} variables is too large to expand symbolically")


# --- SymPy ---------------------------------------------------------------------------------------

def _symbols(sp, name, value):
    """Element symbols for a differentiated variable: x, or W[0], W[1], ... shaped like its value."""
    shape = np.shape(value)
    if shape == ():
        out = np.empty((), dtype=object)
        out[()] = sp.Symbol(name, real=True)
        return out
    flat = [sp.Symbol(f"{name}[{','.join(map(str, idx))}]", real=True) for idx in np.ndindex(*shape)]
    return np.array(flat, dtype=object).reshape(shape)


def _constants(sp, value):
    """A variable we do not differentiate enters the SymPy expression as its numbers."""
    exact = lambda v: sp.Integer(int(v)) if float(v).is_integer() and abs(v) < 2**53 else sp.Float(float(v))
    floats = np.frompyfunc(exact, 1, 1)(np.asarray(value, dtype=np.float64))
    return np.asarray(floats, dtype=object)


def _evaluate_at(sp, expressions, point):
    """Float values of SymPy expressions at a point {symbol: Float}.

    Substitution and evalf rather than lambdify: lambdify's printer simplifies every Piecewise
    condition (relu, max) and took seconds where this takes milliseconds.
    """
    values, unsigned_infinity = [], []
    for expression in expressions:
        value = expression.xreplace(point).evalf()
        unsigned_infinity.append(value == sp.zoo)   # 1/0: SymPy does not know the sign, numpy does
        try:
            values.append(float(value))
        except (TypeError, ValueError):   # zoo, nan, AccumBounds, or a complex result
            values.append(float("inf") if value in (sp.zoo, sp.oo) else float("-inf") if value == -sp.oo else float("nan"))
    return np.array(values, dtype=np.float64), np.array(unsigned_infinity, dtype=bool)


def _compare(engine_values, reference, unsigned_infinity=False):
    """Max abs error and agreement of two arrays; nan == nan and same-signed infinities agree
    (and any infinity agrees with SymPy's unsigned one, zoo)."""
    a = np.asarray(engine_values, dtype=np.float64)
    b = np.asarray(reference, dtype=np.float64).reshape(a.shape)
    same_nonfinite = (np.isnan(a) & np.isnan(b)) | (np.isinf(a) & ((a == b) | np.reshape(unsigned_infinity, a.shape)))
    diff = np.where(same_nonfinite, 0.0, np.abs(a - b))
    diff = np.where(np.isnan(diff), np.inf, diff)
    ok = diff <= ATOL + RTOL * np.maximum(np.abs(np.where(np.isfinite(a), a, 0)), np.abs(np.where(np.isfinite(b), b, 0)))
    return (float(diff.max()) if diff.size else 0.0), bool(ok.all())


def _sympy_check(program, result, seed):
    import sympy as sp

    env, symbols = {}, {}
    for name, value in result.inputs.items():
        if name in result.wrt:
            env[name] = symbols[name] = _symbols(sp, name, value)
        else:
            env[name] = _constants(sp, value)
    output, _ = lower_to_sympy(program, env)
    point = {s: sp.Float(float(v)) for name in result.wrt
             for s, v in zip(symbols[name].ravel(), np.ravel(result.inputs[name]))}

    if result.mode == "grad":
        if seed is None:
            loss = output.ravel()[0]
        else:
            loss = sp.Add(*[o if w == 1 else sp.Float(float(w)) * o for w, o in zip(np.ravel(seed), output.ravel()) if w != 0])
        derivatives = {n: [sp.diff(loss, s) for s in symbols[n].ravel()] for n in result.wrt}
        engine_blocks = result.gradients
    elif result.mode == "hessian":
        loss = output.ravel()[0]
        first = {n: [sp.diff(loss, s) for s in symbols[n].ravel()] for n in result.wrt}
        derivatives = {}
        for row in result.wrt:
            derivatives[row] = [sp.diff(d, s) for d in first[row] for col in result.wrt for s in symbols[col].ravel()]
        engine_blocks = {row: np.concatenate([np.reshape(result.hessian[row][col], (int(np.size(result.inputs[row])), -1))
                                              for col in result.wrt], axis=1) for row in result.wrt}
    else:
        derivatives = {n: [sp.diff(o, s) for o in output.ravel() for s in symbols[n].ravel()] for n in result.wrt}
        engine_blocks = result.jacobian

    report = CheckReport("sympy", True, 0.0)
    shown = first if result.mode == "hessian" else derivatives
    for name in result.wrt:
        shape = np.shape(result.inputs[name])
        if result.mode == "jacobian":
            report.derivatives[name] = (np.shape(result.value) + shape, shown[name], False)
        else:
            report.derivatives[name] = (shape, shown[name], True)
    for name in result.wrt:
        reference, unsigned_infinity = _evaluate_at(sp, derivatives[name], point)
        error, ok = _compare(np.ravel(engine_blocks[name]), reference, unsigned_infinity)
        report.per_variable[name] = VariableCheck(error, ok)
        report.max_abs_error = max(report.max_abs_error, error)
        report.passed = report.passed and ok
    return report


def _describe(report, program, result, seed, *, latex, simplify):
    """The derivatives for people (formulas.describe_all), after the check: display has its own
    time budget and never slows the verdict; a formula too long to read is None."""
    from .formulas import describe_all
    report.symbolic, shown_latex = describe_all(program, result, seed, report.derivatives, latex=latex,
                                                simplify=simplify)
    if latex:
        report.latex = shown_latex


# --- finite differences --------------------------------------------------------------------------

def _forward(program, values):
    with no_grad():
        out, _ = lower_to_engine(program, {n: Tensor(v) for n, v in values.items()})
    return np.asarray(out.data, dtype=np.float64)


def _gradient_at(program, values, wrt):
    leaves = {n: Tensor(v, requires_grad=n in wrt) for n, v in values.items()}
    out, _ = lower_to_engine(program, leaves)
    if not out.requires_grad:
        return [np.zeros(np.shape(values[n])) for n in wrt]
    grads = engine_grad(out, [leaves[n] for n in wrt], allow_unused=True)
    return [np.zeros(np.shape(values[n])) if g is None else np.asarray(g.data) for n, g in zip(wrt, grads)]


def _finite_difference_check(program, result, seed, rng):
    """Directional derivatives: the engine's (J v) against central differences of the forward pass."""
    wrt = result.wrt
    sizes = [int(np.size(result.inputs[n])) for n in wrt]
    x0 = np.concatenate([np.ravel(result.inputs[n]) for n in wrt])

    def at(x):
        values = dict(result.inputs)
        offset = 0
        for name, size in zip(wrt, sizes):
            values[name] = x[offset:offset + size].reshape(np.shape(result.inputs[name]))
            offset += size
        return values

    if result.mode == "grad":
        weights = np.ones(np.shape(result.value)) if seed is None else np.asarray(seed)
        fn = lambda x: np.array([np.sum(weights * _forward(program, at(x)))])
        jac = np.concatenate([np.ravel(result.gradients[n]) for n in wrt])[None, :]
    elif result.mode == "hessian":
        fn = lambda x: np.concatenate([np.ravel(g) for g in _gradient_at(program, at(x), wrt)])
        jac = np.concatenate([np.concatenate([np.reshape(result.hessian[r][c], (np.size(result.inputs[r]), -1))
                                              for c in wrt], axis=1) for r in wrt], axis=0)
    else:
        fn = lambda x: np.ravel(_forward(program, at(x)))
        jac = np.concatenate([np.reshape(result.jacobian[n], (np.size(result.value), -1)) for n in wrt], axis=1)

    scale = max(1.0, float(np.max(np.abs(x0)))) if x0.size else 1.0
    h = 1e-6 * scale
    worst, passed = 0.0, True
    with np.errstate(all="ignore"):
        for _ in range(FD_DIRECTIONS):
            v = rng.standard_normal(x0.size)
            v /= np.linalg.norm(v) or 1.0
            numeric = (fn(x0 + h * v) - fn(x0 - h * v)) / (2 * h)
            analytic = jac @ v
            if not (np.isfinite(numeric).all() and np.isfinite(analytic).all()):
                return CheckReport("finite-difference", None, None, {n: None for n in wrt},
                                   {n: VariableCheck(None, None, "not finite near this point") for n in wrt},
                                   ["values near this point are not finite; finite differences cannot judge"])
            error = np.abs(numeric - analytic)
            worst = max(worst, float(error.max(initial=0.0)))
            passed &= bool((error <= FD_TOL * np.maximum(1.0, np.maximum(np.abs(numeric), np.abs(analytic)))).all())
    note = f"central differences along {FD_DIRECTIONS} random directions (all variables together)"
    return CheckReport("finite-difference", passed, worst, {n: None for n in wrt},
                       {n: VariableCheck(worst, passed, note) for n in wrt}, [note])
