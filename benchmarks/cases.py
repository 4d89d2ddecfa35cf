"""One (workload, system) measurement per process: `python benchmarks/cases.py W1 torch --repeat 5`.

Prints exactly one JSON line on stdout:
    {"case", "system", "status": "ok"|"unavailable"|"error", "first": s, "times": [s, ...],
     "median": s, "rss_base_kb", "rss_peak_kb", "answer": {"value": [...], "grad": [...]},
     "recursion_limit", "note"}
`first` is the warm-up call (for jax-jit: trace + XLA compile + first run); `times` are the repeated
calls after it. Peers get the expression as text and `eval`/`exec` it over their own namespace, so
every system pays for turning the string into a graph on every call (jax-jit only on its first).
Memory: ru_maxrss of this process (for cases that start processes: of the started process tree).
"""
import argparse
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import workloads as W  # noqa: E402

import numpy as np  # noqa: E402

perf = time.perf_counter


class Unavailable(Exception):
    pass


def rss_kb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def children_cpu():
    """CPU seconds (user + system) of this process's finished children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(run, repeat, budget, process=False):
    """One warm-up call, then up to `repeat` timed calls (fewer if the warm-up says they won't fit the budget).

    A whole-process run (W4, W6) has nothing to warm up but the OS file cache: when one run alone exceeds
    the budget, that first run is the measurement. A run with `clock` (W9) is timed by that clock, not
    wall time, and divided by its `per_call` processes."""
    clock, per = getattr(run, "clock", perf), getattr(run, "per_call", 1)
    gc.collect()
    t, w = clock(), perf()
    answer = run()
    first, first_wall = (clock() - t) / per, perf() - w
    if process and first_wall > budget:
        return first, [first], answer
    n = max(1, min(repeat, int(budget // max(first_wall, 1e-9))))
    times = []
    for _ in range(n):
        gc.collect()
        t = clock()
        answer = run()
        times.append((clock() - t) / per)
    return first, times, answer


def floats(values):
    return [float(v) for v in np.ravel(np.asarray(values, dtype=np.float64))]


def digest(grad):
    """A large gradient array summarised for cross-checking: sum, norm, a fixed random projection, samples."""
    g = np.ravel(np.asarray(grad, dtype=np.float64))
    weights = np.random.default_rng(99).standard_normal(g.size)
    return [float(g.sum()), float(np.linalg.norm(g)), float(g @ weights), float(g[0]), float(g[g.size // 2]),
            float(g[-1])]


# --- namespaces the peers evaluate the expression text in --------------------------------------
FUNCS = ("sin", "cos", "exp", "log", "tanh", "sqrt", "log1p", "sum")


def torch_ns():
    import torch
    ns = {f: getattr(torch, f) for f in FUNCS}
    ns["__builtins__"] = {}
    return torch, ns


def jax_ns():
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    ns = {f: getattr(jnp, f) for f in FUNCS}
    ns["__builtins__"] = {}
    return jax, jnp, ns


def autograd_ns():
    import autograd
    import autograd.numpy as anp
    ns = {f: getattr(anp, f) for f in FUNCS}
    ns["__builtins__"] = {}
    return autograd, anp, ns


# --- scalar expressions: W1, W1p (gradient), W5 (Hessian) ----------------------------------------
def scalar_case(system, expr, names, point, mode):
    """Returns run() -> {"value": [...], "grad": [...]} (grad = gradient, or the flattened Hessian)."""
    values = [point[n] for n in names]
    hess = mode == "hessian"

    if system in ("autodiff", "autodiff-cached"):
        import autodiff_cli  # noqa: F401  (imported before the timed calls)

        def run():
            r = evaluated(expr, dict(point), mode=mode, check=False, cached=system == "autodiff-cached")
            if hess:
                return {"value": floats(r.value), "grad": [float(r.hessian[a][b]) for a in names for b in names]}
            return {"value": floats(r.value), "grad": [float(r.gradients[n]) for n in names]}
        return run

    if system == "torch":
        torch, base = torch_ns()
        if hess:
            from torch.autograd.functional import hessian

            def run():
                code = compile(expr, "<expr>", "eval")
                def f(v):
                    ns = dict(base)
                    ns.update({n: v[i] for i, n in enumerate(names)})
                    return eval(code, ns)
                h = hessian(f, torch.tensor(values, dtype=torch.float64))
                return {"value": [], "grad": floats(h.numpy())}
            return run

        def run():
            code = compile(expr, "<expr>", "eval")
            ns = dict(base)
            leaves = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in values]
            ns.update(zip(names, leaves))
            out = eval(code, ns)
            out.backward()
            return {"value": [out.item()], "grad": [t.grad.item() for t in leaves]}
        return run

    if system in ("jax", "jax-jit"):
        jax, jnp, base = jax_ns()
        x0 = jnp.asarray(values, dtype=jnp.float64)
        holder = {}

        def f(v):
            ns = dict(base)
            ns.update({n: v[i] for i, n in enumerate(names)})
            return eval(holder["code"], ns)

        if system == "jax-jit":
            holder["code"] = compile(expr, "<expr>", "eval")
            fn = jax.jit(jax.hessian(f) if hess else jax.value_and_grad(f))

            def run():   # first call: trace (evaluating the text) + XLA compile; later: the compiled program
                out = jax.block_until_ready(fn(x0))
                return {"value": [], "grad": floats(out)} if hess else {"value": floats(out[0]), "grad": floats(out[1])}
            return run

        def run():
            holder["code"] = compile(expr, "<expr>", "eval")
            if hess:
                out = jax.block_until_ready(jax.hessian(f)(x0))
                return {"value": [], "grad": floats(out)}
            val, g = jax.block_until_ready(jax.value_and_grad(f)(x0))
            return {"value": floats(val), "grad": floats(g)}
        return run

    if system == "autograd":
        autograd, anp, base = autograd_ns()
        x0 = np.asarray(values, dtype=np.float64)

        def run():
            code = compile(expr, "<expr>", "eval")
            def f(v):
                ns = dict(base)
                ns.update({n: v[i] for i, n in enumerate(names)})
                return eval(code, ns)
            if hess:
                return {"value": [], "grad": floats(autograd.hessian(f)(x0))}
            val, g = autograd.value_and_grad(f)(x0)
            return {"value": floats(val), "grad": floats(g)}
        return run

    if system == "micrograd":
        if hess or any(fn + "(" in expr for fn in FUNCS):
            raise Unavailable("micrograd's Value has only + - * / ** by a number (and relu)")
        from micrograd.engine import Value

        def run():
            code = compile(expr, "<expr>", "eval")
            leaves = [Value(v) for v in values]
            out = eval(code, {"__builtins__": {}, **dict(zip(names, leaves))})
            out.backward()
            return {"value": [out.data], "grad": [float(t.grad) for t in leaves]}
        return run

    raise Unavailable(f"no {system} implementation for this workload")


# --- W2: one large array --------------------------------------------------------------------------
def w2_case(system, n):
    expr = W.W2_EXPR
    x = W.w2_array(n)

    if system == "numpy-analytic":
        def run():
            x2 = x * x
            s = np.sin(x)
            e = np.exp(-x2)
            l = np.log1p(x2)
            value = np.sum(s * e + x * l)
            grad = e * (np.cos(x) - 2.0 * x * s) + l + 2.0 * x2 / (1.0 + x2)
            return {"value": [float(value)], "grad": digest(grad)}
        return run

    if system == "autodiff":
        import autodiff_cli  # noqa: F401  (imported before the timed calls)

        def run():
            r = evaluated(expr, {"x": x}, check=False)
            return {"value": floats(r.value), "grad": digest(r.gradients["x"])}
        return run

    if system == "autodiff-tensor":
        import autodiff_cli as ad

        def run():
            t = ad.Tensor(x, requires_grad=True)
            out = ad.sum(ad.sin(t) * ad.exp(-t ** 2) + t * ad.log1p(t ** 2))
            out.backward()
            return {"value": [out.item()], "grad": digest(t.grad.data)}
        return run

    if system == "torch":
        torch, base = torch_ns()

        def run():
            code = compile(expr, "<expr>", "eval")
            t = torch.from_numpy(x).requires_grad_(True)
            out = eval(code, {**base, "x": t})
            out.backward()
            return {"value": [out.item()], "grad": digest(t.grad.numpy())}
        return run

    if system in ("jax", "jax-jit"):
        jax, jnp, base = jax_ns()
        xj = jax.block_until_ready(jnp.asarray(x))
        holder = {"code": compile(expr, "<expr>", "eval")}

        def f(v):
            return eval(holder["code"], {**base, "x": v})
        fn = jax.jit(jax.value_and_grad(f)) if system == "jax-jit" else None

        def run():
            if fn is None:
                holder["code"] = compile(expr, "<expr>", "eval")
                val, g = jax.block_until_ready(jax.value_and_grad(f)(xj))
            else:
                val, g = jax.block_until_ready(fn(xj))
            return {"value": floats(val), "grad": digest(np.asarray(g))}
        return run

    if system == "autograd":
        autograd, anp, base = autograd_ns()

        def run():
            code = compile(expr, "<expr>", "eval")
            val, g = autograd.value_and_grad(lambda v: eval(code, {**base, "x": v}))(x)
            return {"value": floats(val), "grad": digest(g)}
        return run

    raise Unavailable(f"no {system} implementation for W2")


# --- W3: deep chain -------------------------------------------------------------------------------
def evaluated(*args, cached=False, **kwargs):
    """autodiff's evaluate(), failing loudly: a benchmark must never time an error record.

    cached=False empties autodiff's cache of compiled programs first, so the call parses and compiles
    the text as the peers `eval` theirs; cached=True measures evaluating the same text again."""
    from autodiff_cli import evaluate
    if not cached:
        try:
            from autodiff_cli.language.compile import clear_cache
        except ImportError:          # a version without the compiled path
            pass
        else:
            clear_cache()
    r = evaluate(*args, **kwargs)
    if r.status != "ok":
        raise RuntimeError(f"autodiff: {r.error}")
    return r


def w3_case(system, steps):
    program = W.w3_program(steps)
    body, last = program.rsplit("\n", 1)
    x0 = W.W3_X

    if system in ("autodiff", "autodiff-cached"):
        import autodiff_cli  # noqa: F401  (imported before the timed calls)

        def run():
            r = evaluated(program, {"x": x0}, check=False, cached=system == "autodiff-cached")
            return {"value": floats(r.value), "grad": floats(r.gradients["x"])}
        return run

    if system == "autodiff-tensor":
        import autodiff_cli as ad

        def run():
            x = ad.Tensor(x0, requires_grad=True)
            f = x
            for _ in range(steps):
                f = ad.sin(f) * 0.0001 + f
            f.backward()
            return {"value": [f.item()], "grad": [x.grad.item()]}
        return run

    if system == "torch-loop":
        import torch

        def run():
            x = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
            f = x
            for _ in range(steps):
                f = torch.sin(f) * 0.0001 + f
            f.backward()
            return {"value": [f.item()], "grad": [x.grad.item()]}
        return run

    def exec_program(base, x):
        ns = dict(base)
        ns["x"] = x
        exec(compile(body, "<program>", "exec"), ns)
        return ns[last]

    if system == "torch":
        torch, base = torch_ns()

        def run():
            x = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
            f = exec_program(base, x)
            f.backward()
            return {"value": [f.item()], "grad": [x.grad.item()]}
        return run

    if system in ("jax", "jax-jit"):
        jax, jnp, base = jax_ns()
        vg = jax.value_and_grad(lambda v: exec_program(base, v))
        fn = jax.jit(vg) if system == "jax-jit" else vg
        xj = jnp.asarray(x0, dtype=jnp.float64)

        def run():
            val, g = jax.block_until_ready(fn(xj))
            return {"value": floats(val), "grad": floats(g)}
        return run

    if system == "autograd":
        autograd, anp, base = autograd_ns()

        def run():
            val, g = autograd.value_and_grad(lambda v: exec_program(base, v))(x0)
            return {"value": floats(val), "grad": floats(g)}
        return run

    raise Unavailable(f"no {system} implementation for W3")


# --- processes: W4 (cold start) and W6 (batch) ----------------------------------------------------
def run_process(argv, stdin=None):
    """Run a command to completion: (stdout, stderr, exit code)."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL if stdin is None else stdin, text=True)
    out, err = proc.communicate()
    return out, err, proc.returncode


class ProcessRun:
    """Times a command as a whole (fork/exec included); peak RSS from RUSAGE_CHILDREN of this process."""

    def __init__(self, argv, parse, ok_codes=(0,)):
        self.argv, self.parse, self.ok_codes = argv, parse, ok_codes

    def __call__(self):
        out, err, code = run_process(self.argv)
        if code not in self.ok_codes:
            raise RuntimeError(f"{' '.join(self.argv[:3])}... exited {code}: {err.strip()[-400:]}")
        return self.parse(out)


def autodiff_bin():
    path = Path(sys.executable).parent / "autodiff"
    if not path.exists():
        raise Unavailable(f"no console script {path}")
    return str(path)


def _json_answer(out, names):
    rec = json.loads(out.strip().splitlines()[-1])
    if rec.get("status") not in ("ok", None):
        raise RuntimeError(f"status {rec.get('status')}: {rec.get('error')}")
    grads = rec.get("gradients", rec.get("grad"))
    return {"value": floats(rec["value"]), "grad": [float(grads[n]) for n in names]}


W4_SNIPPETS = {
    "torch": """import json, torch
x = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
y = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
f = eval({expr!r}, {{"__builtins__": {{}}, "x": x, "y": y}})
f.backward()
print(json.dumps({{"value": f.item(), "gradients": {{"x": x.grad.item(), "y": y.grad.item()}}}}))""",
    "jax": """import json, jax
jax.config.update("jax_enable_x64", True)
f = lambda x, y: eval({expr!r}, {{"__builtins__": {{}}, "x": x, "y": y}})
v, (gx, gy) = jax.value_and_grad(f, argnums=(0, 1))(2.0, 1.0)
print(json.dumps({{"value": float(v), "gradients": {{"x": float(gx), "y": float(gy)}}}}))""",
    "autograd": """import json
from autograd import value_and_grad
f = lambda x, y: eval({expr!r}, {{"__builtins__": {{}}, "x": x, "y": y}})
v, gx = value_and_grad(f, 0)(2.0, 1.0)
gy = value_and_grad(f, 1)(2.0, 1.0)[1]
print(json.dumps({{"value": float(v), "gradients": {{"x": float(gx), "y": float(gy)}}}}))""",
    "micrograd": """import json
from micrograd.engine import Value
x, y = Value(2.0), Value(1.0)
f = eval({expr!r}, {{"__builtins__": {{}}, "x": x, "y": y}})
f.backward()
print(json.dumps({{"value": f.data, "gradients": {{"x": x.grad, "y": y.grad}}}}))""",
}


def w4_case(system):
    py = sys.executable
    names = ("x", "y")
    if system == "python-pass":
        return ProcessRun([py, "-c", "pass"], lambda out: None)
    if system == "python-numpy":
        return ProcessRun([py, "-c", "import numpy"], lambda out: None)
    if system in ("autodiff-nocheck", "autodiff-check"):
        argv = [autodiff_bin(), "grad", W.W4_EXPR, "x=2", "y=1", "--json"]
        if system == "autodiff-nocheck":
            argv.append("--no-check")
        return ProcessRun(argv, lambda out: _json_answer(out, names))
    if system in W4_SNIPPETS:
        module = {"micrograd": "micrograd.engine"}.get(system, system)
        import importlib.util
        if importlib.util.find_spec(module.split(".")[0]) is None:
            raise Unavailable(f"{module} is not installed")
        return ProcessRun([py, "-c", W4_SNIPPETS[system].format(expr=W.W4_EXPR)], lambda out: _json_answer(out, names))
    raise Unavailable(f"no {system} implementation for W4")


class CpuRuns(ProcessRun):
    """W9: a command run `runs` times in a row, one after the other; timed by the CPU time (user +
    system) of the finished processes, per process: on a shared machine CPU time is what the
    command costs, wall time also what the others cost it."""
    clock = staticmethod(children_cpu)

    def __init__(self, argv, parse, runs):
        super().__init__(argv, parse)
        self.per_call = runs

    def __call__(self):
        answer = None
        for _ in range(self.per_call):
            answer = super().__call__()
        return answer


def _bytecode_written():
    """autodiff_cli's bytecode written, as `pip install` writes it for an installed package (numpy's
    is): an editable install run with PYTHONDONTWRITEBYTECODE=1 would otherwise compile all its
    modules from source at every start, a third of a one-shot's CPU time that no user pays twice."""
    import compileall
    import importlib.util
    spec = importlib.util.find_spec("autodiff_cli")
    if spec is not None and spec.origin:
        compileall.compile_dir(os.path.dirname(spec.origin), quiet=1)


def w9_case(system):
    """One-shot CPU time: `autodiff grad EXPR x=2 y=1 --json` with the check on (and, for reference,
    --no-check and the human output) against the floor `python -c "import numpy"`."""
    names = ("x", "y")
    runs = W.W9_RUNS
    _bytecode_written()
    if system == "python-numpy":
        return CpuRuns([sys.executable, "-c", "import numpy"], lambda out: None, runs)
    argv = [autodiff_bin(), *W.W9_ARGS]
    if system == "autodiff-check":
        return CpuRuns(argv + ["--json"], lambda out: _json_answer(out, names), runs)
    if system == "autodiff-nocheck":
        return CpuRuns(argv + ["--json", "--no-check"], lambda out: _json_answer(out, names), runs)
    if system == "autodiff-human":       # the terminal output (rich tables), stdout a pipe here
        return CpuRuns(argv, lambda out: None, runs)
    raise Unavailable(f"no {system} implementation for W9")


def _batch_answer(out):
    """Every record's value and derivatives, flattened (gradients, Hessian or Jacobian alike)."""
    values, grads = [], []
    for line in out.strip().splitlines():
        rec = json.loads(line)
        if rec.get("status") != "ok":
            raise RuntimeError(f"record {rec.get('id')}: status {rec.get('status')}: {rec.get('error') or rec.get('check')}")
        values.extend(floats(rec["value"]))
        grads.extend(_flat(rec.get("gradients") or rec.get("hessian") or rec.get("jacobian")))
    return {"value": values, "grad": grads}


def _flat(nested):
    """Numbers of nested dicts (in key order) and lists, in order."""
    if isinstance(nested, dict):
        return [v for key in sorted(nested) for v in _flat(nested[key])]
    if isinstance(nested, list):
        return [v for item in nested for v in _flat(item)]
    return [float(nested)]


def torch_loop(path, out):
    """The W6 peer: every record of a JSON-Lines file through torch in one Python loop."""
    import torch
    base = {f: getattr(torch, f) for f in FUNCS}
    base["__builtins__"] = {}
    with open(path) as fh:
        for line in fh:
            rec = json.loads(line)
            leaves = {k: torch.tensor(float(v), dtype=torch.float64, requires_grad=True)
                      for k, v in rec["bindings"].items()}
            f = eval(compile(rec["expr"], "<expr>", "eval"), {**base, **leaves})
            f.backward()
            out.write(json.dumps({"id": rec.get("id"), "expression": rec["expr"], "status": "ok", "value": f.item(),
                                  "gradients": {k: t.grad.item() for k, t in leaves.items()}}) + "\n")


def w6_case(case, system, quick, workdir):
    n = W.sizes(quick)["W6_records" if case == "W6" else "W6_checked"]
    path = Path(workdir) / f"w6_{n}.jsonl"
    W.write_w6_file(path, n)    # always regenerated: a file left by an older generator must not be reused
    if system.startswith("autodiff"):
        import importlib.util
        if importlib.util.find_spec("autodiff_cli.batch") is None:
            raise Unavailable("autodiff_cli.batch does not exist yet")
        argv = [autodiff_bin(), "batch", str(path), "--json"]
        if case == "W6":
            argv.append("--no-check")
        if system.startswith("autodiff-jobs"):
            argv += ["--jobs", system[len("autodiff-jobs"):]]
        return ProcessRun(argv, _batch_answer)
    if system == "torch-loop":          # a fresh process, like `autodiff batch` (import torch included)
        return ProcessRun([sys.executable, str(HERE / "cases.py"), "--torch-loop", str(path)], _batch_answer)
    if system == "torch-loop-inproc":   # the loop alone, torch already imported
        import io
        import torch  # noqa: F401

        def run():
            buf = io.StringIO()
            torch_loop(path, buf)
            return _batch_answer(buf.getvalue())
        return run
    raise Unavailable(f"no {system} implementation for {case}")


def w7_case(case, system, quick, workdir):
    """The check's throughput: the same records with and without the check, whole processes."""
    path = W.write_w7_file(Path(workdir) / f"{case.lower()}{'_quick' if quick else ''}.jsonl", case, quick)
    if system not in ("autodiff-check", "autodiff-nocheck"):
        raise Unavailable(f"no {system} implementation for {case}")
    argv = [autodiff_bin(), "batch", str(path), "--json"] + (["--no-check"] if system == "autodiff-nocheck" else [])
    return ProcessRun(argv, _batch_answer)


def w8_case(system, terms, workdir):
    """One record, a flat sum of `terms` terms, through `autodiff batch` (default flags: the check on)."""
    path = Path(workdir) / f"w8_{terms}.jsonl"
    W.write_w8_file(path, terms)
    if system not in ("autodiff-batch", "autodiff-batch-nocheck"):
        raise Unavailable(f"no {system} implementation for W8 (no peer evaluates a {terms:,}-term chain from text)")
    argv = [autodiff_bin(), "batch", str(path), "--json"] + (["--no-check"] if system.endswith("nocheck") else [])
    return ProcessRun(argv, _batch_answer)


# --- dispatch -------------------------------------------------------------------------------------
def make_case(case, system, quick, workdir):
    s = W.sizes(quick)
    if case == "W1":
        return scalar_case(system, W.w1_expression(s["W1_terms"]), W.W1_VARS, W.W1_POINT, "grad")
    if case == "W1p":
        return scalar_case(system, W.w1p_expression(s["W1_terms"]), W.W1_VARS, W.W1_POINT, "grad")
    if case.startswith("W2-"):
        return w2_case(system, int(float(case[3:])))
    if case == "W3":
        return w3_case(system, s["W3_steps"])
    if case == "W4":
        return w4_case(system)
    if case == "W5":
        n = s["W5_vars"]
        return scalar_case(system, W.w5_expression(n, s["W5_ops"]), W.w5_vars(n), W.w5_point(n), "hessian")
    if case in ("W6", "W6c"):
        return w6_case(case, system, quick, workdir)
    if case in ("W7r", "W7d"):
        return w7_case(case, system, quick, workdir)
    if case == "W8":
        return w8_case(system, s["W8_terms"], workdir)
    if case == "W9":
        return w9_case(system)
    raise Unavailable(f"unknown case {case}")


def stage_split(case, quick, repeat=3):
    """Where a cold `evaluate()` of W1, W1p or W3 spends its time: tokenize, parse (the rest of it),
    compile, run (forward + backward on the tape), and the rest of evaluate (binding, the result,
    the garbage collector); seconds, medians of `repeat` calls, each stage with the collector paused
    as evaluate pauses it. None for other cases."""
    s = W.sizes(quick)
    if case in ("W1", "W1p"):
        make = W.w1_expression if case == "W1" else W.w1p_expression
        expr, bindings = make(s["W1_terms"]), dict(W.W1_POINT)
    elif case == "W3":
        expr, bindings = W.w3_program(s["W3_steps"]), {"x": W.W3_X}
    else:
        return None
    import numpy as np
    from autodiff_cli.language.compile import compile_program
    from autodiff_cli.language.nodes import paused_gc
    from autodiff_cli.language.parser import parse
    from autodiff_cli.language.tokenizer import tokenize

    def timed(function):
        times = []
        for _ in range(repeat):
            with paused_gc():
                started = time.perf_counter()
                out = function()
                times.append(time.perf_counter() - started)
        return statistics.median(times), out

    tokenizing, _ = timed(lambda: tokenize(expr))
    parsing, program = timed(lambda: parse(expr))
    inputs = {name: np.float64(bindings[name]) for name in program.inputs}
    compiling, tape = timed(lambda: compile_program(program, inputs))
    values = [inputs[name] for name in program.inputs]
    running, _ = timed(lambda: tape.run(values, list(range(len(values)))))
    total, _ = timed(lambda: evaluated(expr, dict(bindings), check=False))
    return {"tokenize": tokenizing, "parse": parsing - tokenizing, "compile": compiling, "run": running,
            "rest": max(total - parsing - compiling - running, 0.0), "total": total, "ops": tape.size}


def write_profile(run, path):
    import cProfile
    import io
    import pstats
    prof = cProfile.Profile()
    prof.enable()
    run()
    prof.disable()
    buf = io.StringIO()
    stats = pstats.Stats(prof, stream=buf)
    stats.sort_stats("tottime").print_stats(25)
    buf.write("\n--- by cumulative time ---\n")
    stats.sort_stats("cumulative").print_stats(25)
    Path(path).write_text(buf.getvalue())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("case", nargs="?")
    ap.add_argument("system", nargs="?")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--budget", type=float, default=20.0, help="seconds of timed repeats at most (after the warm-up)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--workdir", default=str(HERE / "_work"))
    ap.add_argument("--profile", metavar="FILE", help="also run once under cProfile and write the top functions here")
    ap.add_argument("--torch-loop", metavar="FILE", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.torch_loop:
        torch_loop(args.torch_loop, sys.stdout)
        return 0

    record = {"case": args.case, "system": args.system, "status": "ok", "recursion_limit": sys.getrecursionlimit()}
    try:
        Path(args.workdir).mkdir(parents=True, exist_ok=True)
        run = make_case(args.case, args.system, args.quick, args.workdir)
        record["rss_base_kb"] = rss_kb()
        first, times, answer = measure(run, args.repeat, args.budget, process=isinstance(run, ProcessRun))
        record.update(first=first, times=times, median=statistics.median(times), answer=answer,
                      rss_peak_kb=rss_kb(), recursion_limit=sys.getrecursionlimit())   # after: not raised inside
        if isinstance(run, ProcessRun):   # the started processes, not this one
            children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            record.update(rss_base_kb=0, rss_peak_kb=children, note="whole process timed from outside")
        if isinstance(run, CpuRuns):
            record.update(clock="cpu", note=f"CPU time (user + system) per process, over {run.per_call} "
                                            "processes per timed call")
    except Unavailable as exc:
        record.update(status="unavailable", note=str(exc))
    except ImportError as exc:
        record.update(status="unavailable", note=f"{type(exc).__name__}: {exc}")
    except RecursionError as exc:
        record.update(status="error", note=f"RecursionError: {exc}")
    except Exception as exc:  # noqa: BLE001  (reported in the table, the run goes on)
        record.update(status="error", note=f"{type(exc).__name__}: {str(exc)[:500]}")
    if args.profile and record["status"] == "ok" and args.system == "autodiff":
        record["stages"] = stage_split(args.case, args.quick)
    print(json.dumps(record), flush=True)   # before profiling: a slow profile can't lose the measurement
    if args.profile and record["status"] == "ok":
        write_profile(run, args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
