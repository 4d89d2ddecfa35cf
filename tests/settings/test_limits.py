"""Limit settings from the environment: numbers in any float notation; anything else warns once."""
from autodiff_cli.settings import limits
from autodiff_cli.api import evaluate


def test_scientific_notation_sets_a_count(monkeypatch):
    monkeypatch.setenv("AUTODIFF_MAX_ELEMENTS", "1e1")
    assert limits.max_elements() == 10
    result = evaluate("sum(x)", {"x": "ones(11)"}, check=False)
    assert result.error.kind == "limit" and "the limit is 10" in result.error.message


def test_invalid_value_falls_back_to_the_default_with_a_warning(monkeypatch, capsys):
    monkeypatch.setattr(limits, "_reported", set())
    for bad in ("abc", "-5", "2.5", "inf"):
        monkeypatch.setenv("AUTODIFF_MAX_DEPTH", bad)
        limits._reported.clear()
        assert limits.max_nesting_depth() == 1_000
        assert f"AUTODIFF_MAX_DEPTH='{bad}'" in capsys.readouterr().err


def test_the_warning_is_given_once(monkeypatch, capsys):
    monkeypatch.setattr(limits, "_reported", set())
    monkeypatch.setenv("AUTODIFF_CHECK_SECONDS", "soon")
    limits.check_time_budget()
    limits.check_time_budget()
    assert capsys.readouterr().err.count("AUTODIFF_CHECK_SECONDS") == 1


def test_fractional_seconds_are_fine(monkeypatch):
    monkeypatch.setenv("AUTODIFF_TIMEOUT", "0.25")
    assert limits.record_timeout() == 0.25


# issue 29, finding 7: every op's result is sized before it is made, in one place
# (language/lowering.check_result_size). For every op of the language, on inputs where its result is
# larger than its inputs where it can be: the check refuses exactly the results over the limit.

def _sized_ops():
    """Expressions over x (2,3), y (3,), c (4,1), r (1,5), z (0,) that use every op of the language."""
    from autodiff_cli.language.functions import BINARY_OPERATORS, FUNCTIONS, UNARY_OPERATORS
    exprs = [f"{op}x" for op in UNARY_OPERATORS] + [f"c {op} r" for op in BINARY_OPERATORS if op != "@"]
    exprs += ["c @ r", "matmul(c, r)", "dot(y, y)", "x @ y", "[x, x, x]", "[[c, c], [c, c]]", "[1, 2, 3]",
              "x[0]", "x[:, 1:]", "reshape(x, 3, 2)", "reshape(x, 3, -1)", "reshape(z, 100, 0)", "reshape(z, 5, -1)",
              "transpose(x)", "softmax(x, axis=0)", "logsumexp(x, axis=1, keepdims=1)", "sum(x, axis=0)"]
    for name, arities in FUNCTIONS.items():
        for arity in arities if name != "reshape" else ():     # reshape: with its sizes, above
            exprs.append(f"{name}(x)" if arity == 1 else f"{name}(c, r)")
    return exprs


def test_every_op_result_is_sized_before_it_is_made(monkeypatch):
    import numpy as np
    from autodiff_cli.engine import Tensor
    from autodiff_cli.errors import AutodiffError
    from autodiff_cli.language import lowering, parse
    from autodiff_cli.language.nodes import column
    values = {"x": np.arange(1.0, 7.0).reshape(2, 3), "y": np.ones(3), "c": np.ones((4, 1)), "r": np.ones((1, 5)),
              "z": np.zeros(0)}
    original, calls, grown, names = lowering.check_result_size, {}, set(), set()
    monkeypatch.setattr(lowering, "check_result_size",
                        lambda node, overload, args, limit, source: (calls.__setitem__(id(node), (overload, list(args))),
                                                                     original(node, overload, args, limit, source)))
    for expr in _sized_ops():
        program = parse(expr)
        seen = []
        calls.clear()                      # keyed by id(node): only this program's nodes
        lowering.lower_to_engine(program, {n: Tensor(values[n]) for n in program.inputs},
                                 on_node=lambda node, t: seen.append((node, t)))
        for node, tensor in seen:
            if id(node) not in calls:
                continue
            overload, args = calls[id(node)]
            names.add(overload.name)
            size = limits.counted_elements(np.shape(tensor.data))
            largest = max(limits.counted_elements(np.shape(getattr(a, "data", a))) for a in args)
            original(node, overload, args, size, expr)                       # at the limit: accepted
            if size > largest:                                               # it grows: refused below
                grown.add(overload.name)
                try:
                    original(node, overload, args, size - 1, expr)
                except AutodiffError as err:
                    assert err.kind == "limit" and err.position == column(node), (expr, err)
                else:
                    raise AssertionError(f"{expr}: {overload.name}'s result of {size} elements passed a limit "
                                         f"of {size - 1}")
    from autodiff_cli.language.functions import STACK, INDEX, BINARY_OPERATORS, FUNCTIONS, UNARY_OPERATORS
    language = {STACK.name, INDEX.name} | {s.name for s in BINARY_OPERATORS.values()} | \
        {s.name for s in UNARY_OPERATORS.values()} | {s.name for v in FUNCTIONS.values() for s in v.values()}
    assert names == language, language - names                     # every op of the language was sized
    assert {"stack", "reshape", "add", "matmul", "maximum"} <= grown, grown
