"""Argument checks at the public boundary, so that the reference code itself stays bare.

:mod:`course_utils.attention` and :mod:`course_utils.generation` are written to be read next to
the notebooks: each function's body is the computation and nothing else. Its argument checks live
in a function of the same signature, attached with :func:`checked_by`, which runs them before the
body (and keeps the name, docstring and signature of the function it wraps).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import torch

P = ParamSpec("P")
R = TypeVar("R")


def checked_by(check: Callable[P, object]) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorator: call ``check(*args, **kwargs)`` (which raises on a bad argument) before the function."""

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def checked(*args: P.args, **kwargs: P.kwargs) -> R:
            check(*args, **kwargs)
            return fn(*args, **kwargs)

        return checked

    return decorate


def tensor(name: str, value: object, min_dim: int = 0) -> torch.Tensor:
    """``value`` if it is a tensor with at least ``min_dim`` dimensions, else TypeError/ValueError naming ``name``."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if value.dim() < min_dim:
        raise ValueError(f"{name} must have at least {min_dim} dimensions, got shape {tuple(value.shape)}")
    return value


def positive_int(name: str, value: object) -> int:
    """``value`` if it is an int >= 1 (not a bool), else ValueError naming ``name``."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def number(name: str, value: object, low: float, high: float | None = None) -> float:
    """``value`` if it is a real number above ``low`` (and at most ``high``), else ValueError naming ``name``."""
    if (
        not isinstance(value, (int, float))
        or isinstance(value, bool)
        or not value > low
        or (high is not None and not value <= high)
    ):
        bound = f"in ({low}, {high}]" if high is not None else f"> {low}"
        raise ValueError(f"{name} must be a number {bound}, got {value!r}")
    return float(value)
