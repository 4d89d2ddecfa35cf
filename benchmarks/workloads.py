"""Deterministic workload generators shared by the runner and the per-case child processes.

Everything here is plain Python + numpy (no autodiff, no peer imports), so every system sees
exactly the same expression text, the same bindings and the same records.
"""
import json
import random
import re

import numpy as np

# Five scalar variables (not `e`: that is the constant e in autodiff's language).
W1_VARS = ("x", "y", "z", "u", "w")
W1_POINT = {"x": 0.3, "y": -0.7, "z": 1.1, "u": 0.5, "w": -1.3}

FULL = {"W1_terms": 4000, "W2_sizes": (10**6, 10**7), "W3_steps": 100_000, "W5_vars": 20, "W5_ops": 2000,
        "W6_records": 10_000, "W6_checked": 1000, "W7_expressions": 30, "W7_points": 100, "W7_distinct": 600,
        "W8_terms": 200_000}
QUICK = {"W1_terms": 800, "W2_sizes": (10**5,), "W3_steps": 5_000, "W5_vars": 20, "W5_ops": 500,
         "W6_records": 500, "W6_checked": 40, "W7_expressions": 10, "W7_points": 10, "W7_distinct": 60,
         "W8_terms": 20_000}


def sizes(quick):
    return QUICK if quick else FULL


# --- combining terms without deep nesting ---------------------------------------------------------
def balanced_sum(terms, rng):
    """Join terms with + / - as a balanced tree of parentheses (depth ~log2 n).

    A flat `t1 + t2 + ... + t4000` is a 4,000-deep left-leaning tree: CPython's own compiler refuses
    it ("maximum recursion depth exceeded during compilation"), and peers must `eval` the same text.
    """
    level = list(terms)
    while len(level) > 1:
        nxt = []
        for i in range(0, len(level) - 1, 2):
            op = "+" if rng.random() < 0.75 else "-"
            nxt.append(f"({level[i]} {op} {level[i + 1]})")
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def count_binary_ops(expr):
    """Binary operators in the text (`**` counted once; unary minus only appears inside numbers here)."""
    return expr.count("**") + sum(expr.count(c) for c in "+-*/") - 2 * expr.count("**")


# --- W1: random scalar graph over 5 variables -----------------------------------------------------
def _coef(rng):
    return f"{rng.uniform(0.1, 2.0):.3f}"


def _factor(rng, names):
    v, u = rng.choice(names), rng.choice(names)
    c = _coef(rng)
    k = rng.randrange(12)
    return [
        f"sin({c}*{v})",
        f"cos({v} + {c})",
        f"exp({rng.uniform(0.05, 0.4):.3f}*{v})",
        f"log(1 + {v}**2)",
        f"sqrt(1 + {v}**2)",
        f"tanh({v}*{u})",
        f"{v}**2",
        f"{v}**3",
        f"{v}/(2 + cos({u}))",
        f"({v} - {u})",
        f"({v} + {c})",
        f"sin({v})*cos({u})",
    ][k]


def w1_expression(n_terms, seed=1):
    rng = random.Random(seed)
    terms = []
    for _ in range(n_terms):
        nf = 2 if rng.random() < 0.6 else 3
        terms.append("*".join([_coef(rng)] + [_factor(rng, W1_VARS) for _ in range(nf)]))
    return balanced_sum(terms, rng)


def w1p_expression(n_terms, seed=2):
    """Polynomial only (+ - * and ** by small integers): what micrograd's Value can run."""
    rng = random.Random(seed)
    terms = []
    for _ in range(n_terms):
        factors = [_coef(rng)]
        for _ in range(rng.choice((2, 3, 3, 4))):
            v, u = rng.choice(W1_VARS), rng.choice(W1_VARS)
            factors.append(rng.choice((f"{v}", f"{v}**2", f"{v}**3", f"({v} - {u})", f"({v} + {_coef(rng)})")))
        terms.append("*".join(factors))
    return balanced_sum(terms, rng)


# --- W2: large array ------------------------------------------------------------------------------
W2_EXPR = "sum(sin(x)*exp(-x**2) + x*log1p(x**2))"


def w2_array(n, seed=3):
    return np.random.default_rng(seed).uniform(-2.0, 2.0, n)


# --- W3: deep chain -------------------------------------------------------------------------------
W3_X = 0.7


def w3_program(steps):
    """`f1 = sin(x)*0.0001 + x; f2 = sin(f1)*0.0001 + f1; ...` (the language refuses reassigning a name)."""
    lines = ["f1 = sin(x)*0.0001 + x"]
    lines += [f"f{i} = sin(f{i - 1})*0.0001 + f{i - 1}" for i in range(2, steps + 1)]
    lines.append(f"f{steps}")          # the output: a bare last statement
    return "\n".join(lines)


# --- W5: Hessian ----------------------------------------------------------------------------------
def w5_vars(n):
    return tuple(f"v{i}" for i in range(n))


def w5_point(n):
    rng = np.random.default_rng(5)
    return {name: float(v) for name, v in zip(w5_vars(n), np.round(rng.uniform(-1, 1, n), 3))}


def w5_expression(n_vars, n_ops, seed=5):
    rng = random.Random(seed)
    names = w5_vars(n_vars)
    terms, ops = [], 0
    while ops < n_ops:
        t = "*".join([_coef(rng)] + [_factor(rng, names) for _ in range(2)])
        terms.append(t)
        ops += count_binary_ops(t) + 1
    return balanced_sum(terms, rng)


# --- W4: cold start -------------------------------------------------------------------------------
W4_EXPR = "3*x**2+2*x*y+y**2"
W4_POINT = {"x": 2.0, "y": 1.0}


# --- W9: a one-shot command's CPU time ---------------------------------------------------------------
W9_ARGS = ("grad", W4_EXPR, "x=2", "y=1")      # `autodiff grad "3*x**2+2*x*y+y**2" x=2 y=1`
W9_RUNS = 20                                    # processes per timed call (CPU time is summed over them)


# --- W6: batch ------------------------------------------------------------------------------------
_W6_TEMPLATES = (
    "{a}*x*y + sin({b}*x)",
    "exp(-{a}*x**2)*cos(y + {b})",
    "log(1 + {a}*x**2) + sqrt(1 + {b}*y**2)",
    "tanh({a}*x*y) - x/(2 + cos({b}*y))",
    "(x - {a}*y)**2 + {b}*x*y",
    "sin({a}*x)*cos(y) + {b}*z**3",
    "x**3 - {a}*x*y*z + z/(1 + {b}*y**2)",
    "exp({a}*x) * log(2 + sin(z)) + {b}*y",
)


def w6_records(n, seed=6):
    """n small scalar JSON-Lines records (2-3 variables each). Random coefficients make every expression text
    distinct, as in a real batch: nothing can be served from a cache keyed by the text."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        template = rng.choice(_W6_TEMPLATES)
        names = [v for v in ("x", "y", "z") if v in template.replace("exp", "")]
        expr = template.format(a=round(rng.uniform(0.2, 2.0), 4), b=round(rng.uniform(0.2, 2.0), 4))
        bindings = {v: round(rng.uniform(-1.5, 1.5), 4) for v in names}
        out.append({"id": i, "expr": expr, "bindings": bindings})
    return out


def write_w6_file(path, n):
    with open(path, "w") as fh:
        for record in w6_records(n):
            fh.write(json.dumps(record) + "\n")
    return path


# --- W7: the cross-check's throughput -------------------------------------------------------------
_W7_EXTRA_TEMPLATES = (   # beyond W6's: small arrays, kinks, a Hessian and a Jacobian
    ("sum(w*sin({a}*x)) + {b}*mean(x**2)", "grad", {"x": 3, "w": 3}),
    ("sum(relu(x - {a})) + abs(y - {b})", "grad", {"x": 4}),
    ("max(x*{a}, y) + min(x, {b}*y)", "grad", {}),
    ("x**2*y + {a}*y**3 - {b}*x*y", "hessian", {}),
    ("sin({a}*x)*exp(-{b}*x)", "jacobian", {"x": 3}),
)


def _w7_record(rng, i, template_index=None):
    """One record of a template with random coefficients (and point)."""
    templates = [(t, "grad", {}) for t in _W6_TEMPLATES] + list(_W7_EXTRA_TEMPLATES)
    template, mode, sizes_of = templates[rng.randrange(len(templates)) if template_index is None else template_index]
    expr = template.format(a=round(rng.uniform(0.2, 2.0), 4), b=round(rng.uniform(0.2, 2.0), 4))
    names = [v for v in ("x", "y", "z", "w") if re.search(rf"\b{v}\b", expr)]
    bindings = {v: _w7_value(rng, sizes_of.get(v)) for v in names}
    return {"id": i, "expr": expr, "bindings": bindings, "mode": mode}


def _w7_value(rng, size):
    value = lambda: round(rng.uniform(-1.5, 1.5), 4)
    return value() if size is None else [value() for _ in range(size)]


def w7_records(kind, quick=False, seed=7):
    """W7r: a few expressions, each at many points (a batch re-using expressions: the cache's case).
    W7d: every record a distinct expression (each derived and compiled once: the cold path)."""
    s = sizes(quick)
    rng = random.Random(seed)
    if kind == "W7d":
        return [_w7_record(rng, i) for i in range(s["W7_distinct"])]
    shapes = [_w7_record(rng, 0) for _ in range(s["W7_expressions"])]
    out = []
    for point in range(s["W7_points"]):
        for k, shape in enumerate(shapes):
            record = dict(shape, id=len(out))
            record["bindings"] = {v: _w7_value(rng, None if np.ndim(b) == 0 else len(b)) for v, b in shape["bindings"].items()}
            out.append(record)
    return out


def write_w7_file(path, kind, quick=False):
    with open(path, "w") as fh:
        for record in w7_records(kind, quick):
            fh.write(json.dumps(record) + "\n")
    return path


# --- W8: one huge record through batch --------------------------------------------------------------
def w8_record(terms):
    """`x1 + 2*x2 + ... ` over 5 variables, flat (a left-leaning chain `terms` deep)."""
    names = W1_VARS
    return {"id": "w8", "expr": " + ".join(f"{k % 7 + 1}*{names[k % len(names)]}" for k in range(terms)),
            "bindings": dict(W1_POINT)}


def write_w8_file(path, terms):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(w8_record(terms)) + "\n")
