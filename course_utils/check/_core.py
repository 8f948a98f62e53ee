"""Shared machinery of the exercise checkers: one verdict line, a specific hint when wrong."""

from __future__ import annotations

import functools
from typing import Any, Callable


def verdict(exercise: str, ok: bool, hint: str = "") -> bool:
    """Print ``✅ exercise <id>: correct`` or ``❌ exercise <id>: <hint>`` and return ``ok``."""
    if not isinstance(exercise, str) or not exercise:
        raise ValueError(f"exercise must be an id such as '06.1', got {exercise!r}")
    print(f"✅ exercise {exercise}: correct" if ok else f"❌ exercise {exercise}: {hint or 'not yet right'}")
    return ok


def call_safely(exercise: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[bool, Any]:
    """Run the learner's ``fn``; on an exception print it as the hint and return ``(False, None)``."""
    if not callable(fn):
        verdict(exercise, False, f"pass your function itself (got {type(fn).__name__}), e.g. check(my_fn)")
        return False, None
    try:
        result = fn(*args, **kwargs)
    except NotImplementedError:
        verdict(exercise, False, "not implemented yet: fill in the function and run the cell again")
        return False, None
    except Exception as exc:  # the learner's code failed: show why, do not crash the notebook
        verdict(exercise, False, f"your function raised {type(exc).__name__}: {exc}")
        return False, None
    if result is None:
        verdict(exercise, False, "your function returned None: did you forget `return`?")
        return False, None
    return True, result


def keeps_rng(checker: Callable[..., bool]) -> Callable[..., bool]:
    """Decorator: run ``checker`` without changing the notebook's torch random state (checkers seed their own inputs)."""

    @functools.wraps(checker)
    def wrapper(*args: Any, **kwargs: Any) -> bool:
        import torch

        with torch.random.fork_rng(devices=[]):
            return checker(*args, **kwargs)

    return wrapper
