"""The library-level seed examples (tests/data/seed_examples.jsonl), built directly with
the Tensor API and compared with the file's "expect" values (computed with PyTorch in float64)."""
import math

import numpy as np
import pytest

import autodiff_cli.engine as ad
from autodiff_cli import Tensor, grad

from seeds import seed_cases as _records

RTOL, ATOL = 1e-7, 1e-9   # the acceptance checker's tolerances


def _var(rec, name):
    """A binding as a Tensor; it requires grad unless the record's `wrt` leaves it out."""
    wrt = rec.get("wrt")
    return Tensor(rec["bindings"][name], requires_grad=wrt is None or name in wrt)


def _seed(rec, out):
    g = rec.get("gradient")
    if g is None:
        return None
    return Tensor(np.ones(out.shape)) if g == "ones" else Tensor(g)


def _grad_mode(build):
    """A builder for mode "grad": build(v) -> (output, {intermediate name: tensor})."""
    def run(rec):
        v = {name: _var(rec, name) for name in rec["bindings"]}
        out, inter = build(v)
        for t in inter.values():
            t.retain_grad()
        out.backward(gradient=_seed(rec, out))
        result = {"value": out.data.tolist(),
                  "gradients": {n: t.grad.data.tolist() for n, t in v.items() if t.requires_grad}}
        if inter:
            result["intermediates"] = {n: {"value": t.data.tolist(), "gradient": t.grad.data.tolist()}
                                       for n, t in inter.items()}
        return result
    return run


def _hessian_mode(build):
    def run(rec):
        v = {name: _var(rec, name) for name in rec["bindings"]}
        names = list(v)
        out, _ = build(v)
        firsts = grad(out, [v[n] for n in names], create_graph=True)
        hessian = {}
        for row, g in zip(names, firsts):
            seconds = grad(g, [v[n] for n in names], retain_graph=True, allow_unused=True)
            hessian[row] = {col: (0.0 if h is None else h.data.tolist()) for col, h in zip(names, seconds)}
        return {"value": out.data.tolist(), "hessian": hessian}
    return run


def _jacobian_mode(build):
    def run(rec):
        v = {name: _var(rec, name) for name in rec["bindings"]}
        out, _ = build(v)
        jac = {n: np.zeros(out.shape + t.shape) for n, t in v.items()}
        for k in np.ndindex(out.shape):
            onehot = np.zeros(out.shape)
            onehot[k] = 1.0
            rows = grad([out], list(v.values()), grad_outputs=[Tensor(onehot)], retain_graph=True,
                        allow_unused=True)
            for n, r in zip(v, rows):
                if r is not None:
                    jac[n][k] = r.data
        return {"value": out.data.tolist(), "jacobian": {n: j.tolist() for n, j in jac.items()}}
    return run


def _named_intermediate(v):
    z = v["x"] * v["y"]
    return z + v["x"], {"z": z}


def _mean_of_matrix(v):
    y = v["x"] + 1
    z = 2 * y ** 2
    return ad.mean(z), {}


def _chain_log(v):
    z = v["x"] ** 2
    y = z ** 3
    return ad.log(y), {}


def _mean_of_squares(v):
    y = v["x"] * v["x"]
    return ad.mean(y), {}


def _design_card(v):
    x, y = v["x"], v["y"]
    return 3 * x ** 2 + 2 * x * y + y ** 2, {}


BUILDERS = {
    "square-at-3": _grad_mode(lambda v: (v["x"] ** 2, {})),
    "linear-dot": _grad_mode(lambda v: (ad.dot(v["X"], v["W"]) + v["b"], {})),
    "mean-of-matrix": _grad_mode(_mean_of_matrix),
    "seeded-matrix-1": _grad_mode(lambda v: (v["x"] ** 2 + v["x"], {})),
    "seeded-matrix-2": _grad_mode(lambda v: (v["x"] ** 2 + v["x"], {})),
    "named-intermediate": _grad_mode(_named_intermediate),
    "chain-log": _grad_mode(_chain_log),
    "sum-two-vectors": _grad_mode(lambda v: (ad.sum(v["x"] ** 2 + v["y"] ** 3), {})),
    "relu": _grad_mode(lambda v: (ad.sum(ad.relu(v["x"])), {})),
    "mean-of-squares": _grad_mode(_mean_of_squares),
    "max-of-squares": _grad_mode(lambda v: (ad.max(v["x"] * v["x"]), {})),
    "sum-of-sum": _grad_mode(lambda v: (ad.sum(v["x"] + v["y"]), {})),
    "ones-seed": _grad_mode(lambda v: (v["x"] ** 2 + v["y"] ** 3, {})),
    "quadratic": _grad_mode(lambda v: (v["x"] ** 2 + 2 * v["x"] + 1, {})),
    "design-card": _grad_mode(_design_card),
    "design-card-hessian": _hessian_mode(_design_card),
    "vector-jacobian": _jacobian_mode(lambda v: (v["x"] ** 2 + v["x"], {})),
}


def _close(got, want, where="result"):
    if isinstance(want, dict):
        assert isinstance(got, dict), where
        for k, w in want.items():
            assert k in got, f"{where}: missing {k!r}"
            _close(got[k], w, f"{where}.{k}")
    elif isinstance(want, list):
        np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(want, dtype=float),
                                   rtol=RTOL, atol=ATOL, err_msg=where)
    else:
        assert math.isclose(float(got), float(want), rel_tol=RTOL, abs_tol=ATOL), f"{where}: {got} != {want}"


RECORDS = _records()


@pytest.mark.parametrize("rec", RECORDS, ids=[r["id"] for r in RECORDS])
def test_seed_example_with_the_tensor_api(rec):
    build = BUILDERS.get(rec["id"])
    if build is None:
        pytest.skip(f"{rec['id']} is not expressible directly with the Tensor API")
    mode = rec.get("mode", "grad")
    assert build.__qualname__.startswith(f"_{mode}_mode"), "builder and record disagree on the mode"
    _close(build(rec), rec["expect"], rec["id"])


def test_every_listed_builder_has_a_record():
    ids = {r["id"] for r in RECORDS}
    assert set(BUILDERS) <= ids, set(BUILDERS) - ids
