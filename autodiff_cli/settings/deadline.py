"""The one time limit: a nestable SIGALRM deadline that raises an exception of your choice.

    with Deadline(5.0, RecordTimeout()):            # a batch record's --timeout
        ...
        with time_limit(2.0):                        # the SymPy budget inside it
            ...                                      # TimeLimitExceeded after 2 s

One handler serves every active deadline: the alarm is set for the earliest one, and when it
fires, the outermost expired deadline's exception is raised (an outer deadline ends the inner
blocks too). A timer someone else set with signal.setitimer keeps its handler and its time.
SIGALRM only interrupts Python code (a single long numpy call finishes first) and exists only
in the main thread: elsewhere, and for seconds=None, a Deadline does nothing.

Inside `with held():` no deadline fires (an import must not stop half-way); one that fell due fires
right after. Installing a signal handler costs more than arming the timer, so a loop that sets a deadline per
item (batch records) holds the handler for the whole loop: `with AlarmScope(): ...`.
"""
import contextlib
import signal
import threading
import time

RETRY = 0.05       # seconds between alarms once a deadline has passed, see _on_alarm
_active = []       # the Deadlines in force, outermost first
_state = {"users": 0, "handler": None, "outer_expiry": None,   # users: Deadlines and AlarmScopes
          "held": 0}                                            # held: blocks inside held()


class TimeLimitExceeded(Exception):
    """Raised inside the `with time_limit(...)` block whose budget ran out."""


def _usable():
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


class AlarmScope:
    """Keeps our SIGALRM handler installed while it is entered (the Deadlines inside then only
    arm the timer); on leaving the last user, the previous handler and timer come back."""

    def __init__(self):
        self.usable = _usable()

    def __enter__(self):
        if self.usable:
            _acquire()
        return self

    def __exit__(self, *exc):
        if self.usable:
            _release()
        return False


class Deadline(AlarmScope):
    """Raise `exception` in this thread once `seconds` have passed (None: never)."""

    def __init__(self, seconds, exception):
        super().__init__()
        self.usable = self.usable and seconds is not None
        self.seconds = seconds
        self.exception = exception
        self.expiry = None

    def __enter__(self):
        if self.usable:
            # Held: a deadline this short (or a loaded machine) can fire before __enter__ returns,
            # and an exception from __enter__ skips __exit__: the handler and timer would stay
            # behind, and a later alarm would kill the process. Held, it fires in the block instead.
            with held():
                _acquire()
                self.expiry = time.monotonic() + self.seconds
                _active.append(self)
                _arm()
        return self

    def __exit__(self, *exc):
        if self in _active:
            _active.remove(self)
            _release()
        return False


def time_limit(seconds):
    """A Deadline raising TimeLimitExceeded (the cross-check's budget; None: no limit)."""
    message = None if seconds is None else f"over the time budget of {seconds:g} s"
    return Deadline(seconds, TimeLimitExceeded(message))


@contextlib.contextmanager
def held():
    """No deadline fires inside the block: one that falls due meanwhile fires within RETRY after it.
    For work that must not stop half-way, like an import (a half-imported module stays broken)."""
    _state["held"] += 1
    try:
        yield
    finally:
        _state["held"] -= 1


def _acquire():
    if _state["users"] == 0:
        remaining = signal.getitimer(signal.ITIMER_REAL)[0]
        _state["outer_expiry"] = time.monotonic() + remaining if remaining > 0 else None
        _state["handler"] = signal.signal(signal.SIGALRM, _on_alarm)
    _state["users"] += 1


def _release():
    _state["users"] -= 1
    if _state["users"]:
        _arm()
        return
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, _state["handler"])
    if _state["outer_expiry"] is not None:       # hand the outer timer back with its time left
        signal.setitimer(signal.ITIMER_REAL, max(_state["outer_expiry"] - time.monotonic(), 1e-4))


def _arm():
    """Set the timer for the earliest deadline (ours, or the outer timer's); none: stop it."""
    expiries = [d.expiry for d in _active]
    if _state["outer_expiry"] is not None:
        expiries.append(_state["outer_expiry"])
    signal.setitimer(signal.ITIMER_REAL, max(min(expiries) - time.monotonic(), 1e-4) if expiries else 0)


def _in_exit(frame):
    """Whether the alarm came inside a Deadline's __exit__ (or what it calls): raised there, the
    exception would escape the block's own handlers and leave the deadline in force (a loaded
    machine: the check's budget falling due as its block ends)."""
    for _ in range(4):
        if frame is None:
            return False
        if frame.f_code is Deadline.__exit__.__code__:
            return True
        frame = frame.f_back
    return False


def _on_alarm(signum, frame):
    if _state["held"] or _in_exit(frame):
        signal.setitimer(signal.ITIMER_REAL, RETRY)      # ask again once the held block may be over
        return
    now = time.monotonic()
    for deadline in _active:
        if now >= deadline.expiry - 1e-3:
            # An exception raised while Python runs a __del__ method or a gc callback is swallowed
            # ("Exception ignored in ..."): fire again soon until one lands.
            signal.setitimer(signal.ITIMER_REAL, RETRY)
            raise deadline.exception
    outer_expiry, handler = _state["outer_expiry"], _state["handler"]
    if outer_expiry is not None and now >= outer_expiry - 1e-3:
        _state["outer_expiry"] = None          # the outer timer was one-shot: it is theirs to handle
        _arm()
        if callable(handler):
            handler(signum, frame)
        return
    _arm()


