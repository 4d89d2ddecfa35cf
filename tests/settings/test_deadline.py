"""deadline.py: the one nestable SIGALRM deadline (batch records' --timeout, the SymPy budget)."""
import signal
import sys
import threading
import time

import pytest

from autodiff_cli.settings.deadline import Deadline
from autodiff_cli.settings.deadline import TimeLimitExceeded
from autodiff_cli.settings.deadline import held
from autodiff_cli.settings.deadline import time_limit
from autodiff_cli.settings.deadline import TimeLimitExceeded as AliasedExceeded
from autodiff_cli.settings.deadline import time_limit as aliased_limit


class Stop(BaseException):
    pass


def spin(seconds=30):
    """Python code running until interrupted (never for `seconds`: the test fails then)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass
    raise AssertionError("no deadline fired")


def assert_clean():
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, signal.default_int_handler, None)


def test_the_timeouts_names_are_the_deadline_names():
    assert AliasedExceeded is TimeLimitExceeded and aliased_limit is time_limit


def test_a_deadline_raises_its_exception_and_cleans_up():
    with pytest.raises(Stop):
        with Deadline(0.05, Stop()):
            spin()
    assert_clean()


def test_inner_deadline_first():
    with Deadline(30, Stop()):
        with pytest.raises(TimeLimitExceeded, match="0.05 s"):
            with time_limit(0.05):
                spin()
        assert signal.getitimer(signal.ITIMER_REAL)[0] > 1      # the outer one is armed again
    assert_clean()


def test_a_held_block_finishes_and_the_deadline_fires_right_after():
    finished = False
    with pytest.raises(Stop):
        with Deadline(0.05, Stop()):
            with held():
                end = time.monotonic() + 0.3             # well past the deadline, uninterrupted
                while time.monotonic() < end:
                    pass
                finished = True
            spin()                                       # ...and it fires once the block is over
    assert finished
    assert_clean()


def test_an_alarm_inside_enter_fires_in_the_block(monkeypatch):
    """A 1e-6 s limit on a loaded machine fired inside Deadline.__enter__, which skipped __exit__
    and left the timer behind: the process was killed by SIGALRM (hostile corpus, timeout-env-tiny)."""
    from autodiff_cli.settings import deadline
    arm = deadline._arm

    def arm_and_ring():
        arm()
        signal.raise_signal(signal.SIGALRM)              # the alarm, before __enter__ has returned
        sum(range(10))                                   # a few bytecodes: a handler would run here
    monkeypatch.setattr(deadline, "_arm", arm_and_ring)
    entered = False
    with pytest.raises(Stop):
        with Deadline(0.001, Stop()):
            entered = True
            spin()
    assert entered
    monkeypatch.setattr(deadline, "_arm", arm)
    assert_clean()


def test_an_alarm_inside_exit_does_not_escape_the_block(monkeypatch):
    """The check's budget fell due just as its block ended (a loaded machine): the alarm came inside
    Deadline.__exit__, before the deadline was removed, and TimeLimitExceeded escaped the handlers
    around the block (and the deadline stayed in force, firing again later in unrelated code)."""
    from autodiff_cli.settings import deadline

    class RingingList(list):
        ring = True

        def __contains__(self, item):                   # `if self in _active:`, first in __exit__
            if self.ring:
                self.ring = False
                item.expiry = time.monotonic() - 1      # due: the alarm comes now, inside __exit__
                deadline._on_alarm(signal.SIGALRM, sys._getframe(1))
            return super().__contains__(item)
    monkeypatch.setattr(deadline, "_active", RingingList())
    with time_limit(30):
        pass
    assert deadline._active == [] and not deadline._active.ring
    monkeypatch.undo()
    assert_clean()


def test_outer_deadline_first_ends_the_inner_block_too():
    with pytest.raises(Stop):
        with Deadline(0.05, Stop()):
            with time_limit(30):
                spin()
    assert_clean()


def test_a_timer_set_by_someone_else_keeps_its_handler_and_time():
    fired = []
    previous = signal.signal(signal.SIGALRM, lambda *args: fired.append(1))
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        with time_limit(30):
            end = time.monotonic() + 5
            while not fired and time.monotonic() < end:
                pass
        assert fired == [1]
        signal.setitimer(signal.ITIMER_REAL, 30)
        with time_limit(1):
            pass
        assert signal.getitimer(signal.ITIMER_REAL)[0] > 20     # handed back with its time left
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_none_and_other_threads_mean_no_limit():
    with Deadline(None, Stop()):
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    seen = []
    thread = threading.Thread(target=lambda: seen.append(Deadline(0.01, Stop()).__enter__().usable))
    thread.start()
    thread.join()
    assert seen == [False]
