"""Work grows linearly with the size of the expression (issue 13, finding 11: a 200,000-term sum).

Nothing here reads a clock: the work is the number of Python-level calls (`sys.setprofile` counts
every Python and C function call), which is the same on any machine. A quadratic step anywhere in
parse -> compile -> run -> check (a Python loop over what came before, per term or per statement)
shows up as a call count growing faster than the number of terms. Quadratic work inside one C call
(a slice copied per term) is not seen here: the hostile corpus's 5 MB sum under a 0.2 s limit and
benchmark W8 (the 200,000-term record, timed) catch that.
"""
import sys

import pytest

from autodiff_cli.api import evaluate
from autodiff_cli.language.compile import clear_cache

VARIABLES = ("x", "y", "z", "u", "w")
POINT = {"x": 0.3, "y": -0.7, "z": 1.1, "u": 0.5, "w": -1.3}


def flat_sum(terms):
    """`1*x + 2*y + ... `: benchmark W8's record at any size (a left-leaning chain `terms` deep)."""
    return " + ".join(f"{k % 7 + 1}*{VARIABLES[k % 5]}" for k in range(terms))


def program(statements):
    """`f1 = sin(x)*0.0001 + x; f2 = sin(f1)*0.0001 + f1; ...`: benchmark W3's program at any size."""
    lines = ["f1 = sin(x)*0.0001 + x"]
    lines += [f"f{i} = sin(f{i - 1})*0.0001 + f{i - 1}" for i in range(2, statements + 1)]
    return "\n".join(lines + [f"f{statements}"])


def calls_to_evaluate(expr, bindings, **options):
    evaluate("x*y + 1", {"x": 1.0, "y": 2.0}, **options)      # imports and one-time set-up: not counted
    clear_cache()                 # parse and compile every time, as a new expression would be
    calls = 0

    def count(frame, event, arg):
        nonlocal calls
        if event == "call" or event == "c_call":
            calls += 1

    sys.setprofile(count)
    try:
        result = evaluate(expr, dict(bindings), **options)
    finally:
        sys.setprofile(None)
    assert result.status == "ok", result.error
    return calls


@pytest.mark.parametrize("check", [False, True], ids=["no-check", "check"])
def test_a_flat_sum_costs_the_same_per_term_at_any_length(check):
    small = calls_to_evaluate(flat_sum(2_000), POINT, check=check)
    large = calls_to_evaluate(flat_sum(16_000), POINT, check=check)
    assert large <= 8 * small * 1.15, (small, large)       # 8 times the terms: at most ~8 times the calls


def test_a_long_program_costs_the_same_per_statement_at_any_length():
    small = calls_to_evaluate(program(1_000), {"x": 0.5}, check=False)
    large = calls_to_evaluate(program(8_000), {"x": 0.5}, check=False)
    assert large <= 8 * small * 1.15, (small, large)


def test_the_count_sees_quadratic_work():
    """The yardstick itself: a Python-level rescan per term fails the same bound."""
    def quadratic(terms):
        calls = 0

        def count(frame, event, arg):
            nonlocal calls
            calls += event == "c_call"

        sys.setprofile(count)
        try:
            for k in range(terms):
                for _ in range(k // 500):                 # a rescan of what came before, per term
                    len("x")
                len("x")
        finally:
            sys.setprofile(None)
        return calls
    assert quadratic(16_000) > 8 * quadratic(2_000) * 1.15


def test_a_pause_that_leaves_many_objects_alive_moves_them_to_the_oldest_generation():
    import gc
    import weakref

    from autodiff_cli.language.nodes import PROMOTE_AFTER, paused_gc

    class Cycle:
        pass

    gc.collect()
    with paused_gc():
        assert not gc.isenabled()
        alive = [[k] for k in range(PROMOTE_AFTER + 1000)]       # a big tree's worth of new objects
        garbage = Cycle()
        garbage.me = garbage                                      # a reference cycle, unreachable below
        gone = weakref.ref(garbage)
        del garbage
    assert gc.isenabled()
    assert gc.get_count()[0] < PROMOTE_AFTER     # the young generation is not left to rescan them all
    assert gone() is not None                    # the cycle is not freed by reference counting...
    gc.collect()
    assert gone() is None                        # ...but the collector still finds it
    assert len(alive) == PROMOTE_AFTER + 1000
