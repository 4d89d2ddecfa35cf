"""`time_limit(seconds)`: stop a slow pure-Python computation (SymPy, mostly) after a budget.

Built on SIGALRM, so it only interrupts Python code (a single long numpy call finishes first) and
only works in the main thread; elsewhere it does nothing. Limits nest: an outer timer (a batch
record's --timeout) set by anyone with signal.setitimer keeps its own deadline and handler.
"""
import signal
import threading
import time
from contextlib import contextmanager


class TimeLimitExceeded(Exception):
    """Raised inside the `with time_limit(...)` block whose budget ran out."""


@contextmanager
def time_limit(seconds):
    if seconds is None or threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGALRM"):
        yield
        return
    start = time.monotonic()
    deadline = start + seconds
    outer_remaining, _ = signal.getitimer(signal.ITIMER_REAL)
    outer_handler = signal.getsignal(signal.SIGALRM)
    token = TimeLimitExceeded(f"over the time budget of {seconds:g} s")

    def on_alarm(signum, frame):
        if time.monotonic() >= deadline - 1e-3:
            raise token
        if callable(outer_handler):   # the outer deadline came first: it is theirs to handle
            outer_handler(signum, frame)

    signal.signal(signal.SIGALRM, on_alarm)
    # Keep firing every 50 ms after the first alarm: an exception raised while Python runs a
    # __del__ or a garbage-collector callback is swallowed, and the next one then lands.
    first = min(seconds, outer_remaining) if outer_remaining > 0 else seconds
    signal.setitimer(signal.ITIMER_REAL, max(first, 1e-4), 0.05)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, outer_handler)
        if outer_remaining > 0:   # re-arm the outer timer with what is left of it
            signal.setitimer(signal.ITIMER_REAL, max(outer_remaining - (time.monotonic() - start), 1e-4))
