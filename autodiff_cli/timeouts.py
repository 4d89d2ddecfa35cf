"""`time_limit(seconds)` and `TimeLimitExceeded`: the cross-check's budget (see deadline.py)."""
from .deadline import TimeLimitExceeded, time_limit

__all__ = ["TimeLimitExceeded", "time_limit"]
