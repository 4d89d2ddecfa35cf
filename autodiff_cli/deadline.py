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
"""
import signal
import threading
import time

RETRY = 0.05       # seconds between alarms once a deadline has passed, see _on_alarm
_active = []       # the Deadlines in force, outermost first
_outer = {}        # while any is: the SIGALRM handler and timer expiry we found before the first


class TimeLimitExceeded(Exception):
    """Raised inside the `with time_limit(...)` block whose budget ran out."""


class Deadline:
    def __init__(self, seconds, exception):
        self.seconds = seconds
        self.exception = exception
        self.expiry = None
        self.usable = (seconds is not None and hasattr(signal, "setitimer")
                       and threading.current_thread() is threading.main_thread())

    def __enter__(self):
        if self.usable:
            if not _active:
                remaining = signal.getitimer(signal.ITIMER_REAL)[0]
                _outer["expiry"] = time.monotonic() + remaining if remaining > 0 else None
                _outer["handler"] = signal.signal(signal.SIGALRM, _on_alarm)
            self.expiry = time.monotonic() + self.seconds
            _active.append(self)
            _arm()
        return self

    def __exit__(self, *exc):
        if self in _active:
            _active.remove(self)
            if _active:
                _arm()
            else:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, _outer["handler"])
                if _outer["expiry"] is not None:     # hand the outer timer back with its time left
                    signal.setitimer(signal.ITIMER_REAL, max(_outer["expiry"] - time.monotonic(), 1e-4))
        return False


def time_limit(seconds):
    """A Deadline raising TimeLimitExceeded (the cross-check's budget; None: no limit)."""
    message = None if seconds is None else f"over the time budget of {seconds:g} s"
    return Deadline(seconds, TimeLimitExceeded(message))


def _arm():
    expiries = [d.expiry for d in _active]
    if _outer["expiry"] is not None:
        expiries.append(_outer["expiry"])
    signal.setitimer(signal.ITIMER_REAL, max(min(expiries) - time.monotonic(), 1e-4))


def _on_alarm(signum, frame):
    now = time.monotonic()
    for deadline in _active:
        if now >= deadline.expiry - 1e-3:
            # An exception raised while Python runs a __del__ method or a gc callback is swallowed
            # ("Exception ignored in ..."): fire again soon until one lands.
            signal.setitimer(signal.ITIMER_REAL, RETRY)
            raise deadline.exception
    outer_expiry, handler = _outer["expiry"], _outer["handler"]
    if outer_expiry is not None and now >= outer_expiry - 1e-3:
        _outer["expiry"] = None          # the outer timer was one-shot: it is theirs to handle
        _arm()
        if callable(handler):
            handler(signum, frame)
        return
    _arm()
