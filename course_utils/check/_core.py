"""Shared machinery of the exercise checkers: one verdict line, a specific hint when wrong.

A checker prints its verdict and returns a :class:`Verdict`, not a bare ``bool``. The two behave
alike in code (``if checker(...)``, ``assert checker(...)``, ``assert not checker(...)``,
``checker(...) == True``), but a :class:`Verdict` displays nothing in Jupyter. A checker call is
the last line of an exercise cell, and Jupyter shows the value of a cell's last expression, so a
bare ``bool`` printed a stray ``False`` under the hint.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Literal


class Verdict:
    """A checker's result: truthy when the answer is right, equal to ``True``/``False`` like a bool, silent in IPython.

    ``exercise`` is the id (``"00.3"``), ``ok`` the plain bool and ``hint`` the text printed when wrong.
    """

    __slots__ = ("exercise", "ok", "hint")

    def __init__(self, exercise: str, ok: bool, hint: str = "") -> None:
        self.exercise = exercise
        self.ok = bool(ok)
        self.hint = hint

    def __bool__(self) -> bool:
        return self.ok

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Verdict):
            return self.ok == other.ok
        if isinstance(other, (bool, int)):
            return self.ok == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.ok)

    def __repr__(self) -> str:
        return f"Verdict(exercise={self.exercise!r}, ok={self.ok})"

    def _ipython_display_(self) -> None:
        """Display nothing: the verdict line was printed already."""


def verdict(exercise: str, ok: bool, hint: str = "") -> Verdict:
    """Print ``✅ exercise <id>: correct`` or ``❌ exercise <id>: <hint>``; return a :class:`Verdict` (truthy iff ``ok``)."""
    if not isinstance(exercise, str) or not exercise:
        raise ValueError(f"exercise must be an id such as '06.1', got {exercise!r}")
    print(f"✅ exercise {exercise}: correct" if ok else f"❌ exercise {exercise}: {hint or 'not yet right'}")
    return Verdict(exercise, bool(ok), "" if ok else hint)


def silent(checker: Callable[..., Any]) -> Callable[..., Verdict]:
    """Decorator: whatever ``checker`` returns (a bare ``False`` after :func:`call_safely`, say) comes back as a :class:`Verdict`.

    Applying it twice is harmless. ``check/__init__.py`` can apply it to every ``exercise_*`` function.
    """
    if getattr(checker, "__silent__", None) is checker:
        return checker

    @functools.wraps(checker)
    def wrapper(*args: Any, **kwargs: Any) -> Verdict:
        result = checker(*args, **kwargs)
        if isinstance(result, Verdict):
            return result
        name = checker.__name__.removeprefix("exercise_").replace("_", ".")
        return Verdict(name, bool(result))

    wrapper.__silent__ = wrapper  # type: ignore[attr-defined]  # (functools.wraps copies it, so compare identity)
    return wrapper


def call_safely(
    exercise: str, fn: Callable[..., Any], *args: Any, **kwargs: Any
) -> tuple[Verdict | Literal[True], Any]:
    """Run the learner's ``fn(*args, **kwargs)``; on an exception print it as the hint and return ``(Verdict(False), None)``.

    On success it returns ``(True, result)``. The failing :class:`Verdict` compares equal to
    ``False``; a checker can hand it back (``if not ok: return ok``) and the cell shows nothing more.
    :func:`call_learner` is the same with options.
    """
    return call_learner(exercise, fn, args, kwargs)


def call_learner(
    exercise: str,
    fn: Callable[..., Any],
    args: tuple = (),
    kwargs: dict[str, Any] | None = None,
    *,
    none_ok: bool = False,
    when: str = "",
    fix: str = "",
) -> tuple[Verdict | Literal[True], Any]:
    """:func:`call_safely` with options: ``none_ok`` accepts a ``None`` result (an answer in some exercises);
    ``when`` and ``fix`` go before and after the learner's error in the hint
    (``f"{when}your function raised ValueError: ...{fix}"``).
    """
    if not callable(fn):
        return verdict(exercise, False, f"pass your function itself (got {type(fn).__name__}), e.g. check(my_fn)"), None
    try:
        result = fn(*args, **(kwargs or {}))
    except NotImplementedError:
        return verdict(exercise, False, "not implemented yet: fill in the function and run the cell again"), None
    except Exception as exc:  # the learner's code failed: show why, do not crash the notebook
        return verdict(exercise, False, f"{when}your function raised {type(exc).__name__}: {exc}{fix}"), None
    if result is None and not none_ok:
        return verdict(exercise, False, "your function returned None: did you forget `return`?"), None
    return True, result


def keeps_rng(checker: Callable[..., Any]) -> Callable[..., Verdict]:
    """Decorator: run ``checker`` without changing the notebook's torch random state (checkers seed their own inputs)."""

    @functools.wraps(checker)
    def wrapper(*args: Any, **kwargs: Any) -> Verdict:
        import torch

        with torch.random.fork_rng(devices=[]):
            return checker(*args, **kwargs)

    return silent(wrapper)


@functools.lru_cache(maxsize=1)
def encoder_tokenizer() -> Any:
    """The course encoder's tokenizer, the one the notebooks use (the stand-in offline), loaded once."""
    from transformers import AutoTokenizer

    from ..models import ENCODER, resolve_checkpoint

    return AutoTokenizer.from_pretrained(resolve_checkpoint(ENCODER, verbose=False))


def tensor_mismatch(got: Any, shape: Any) -> str | None:
    """None when ``got`` is a tensor of ``shape``; else what it is instead (its shape, or its type) for a hint."""
    import torch

    if not isinstance(got, torch.Tensor):
        return type(got).__name__
    return None if tuple(got.shape) == tuple(shape) else str(tuple(got.shape))
