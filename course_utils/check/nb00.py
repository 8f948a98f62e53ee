"""Checkers for notebook 00 (environment and tensors)."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from ..i18n import N_, _
from ._core import answer, checker, expect, tensor_mismatch

__all__ = ["exercise_00_1", "exercise_00_2", "exercise_00_3"]


def _ints(values: Any) -> Any:
    """``values`` as a tuple of ints (ints, NumPy or torch integers; no strings, no floats), else None (typed ``Any``:
    the rules that use it run only once an earlier rule has ruled None out).

    Notebooks 01 and 02 read their integer answers with it too."""
    try:
        return tuple(operator.index(v) for v in values)
    except TypeError:
        return None


@checker("00.1")
def exercise_00_1(shape: Any) -> None:
    """Shape of ``torch.randn(7, 1, 3, 4) @ torch.randn(2, 4, 6)``, as a tuple of ints."""
    got: Any = _ints(shape) if isinstance(shape, (tuple, list)) else None  # torch.Size is a tuple
    expect(
        (shape is None, _("replace None with your predicted shape, a tuple of ints such as (1, 2, 3)")),
        (got is None, _("give the shape as a tuple of ints, e.g. (1, 2, 3)")),
        (
            lambda: len(got) != 4,
            _("batch dims (7, 1) and (2,) broadcast to two dims, then the matrix dims: 4 dims in all"),
        ),
        (
            lambda: got[:2] != (7, 2),
            _("broadcast the batch dimensions (7, 1) and (2,) right-aligned: size 1 stretches"),
        ),
        (lambda: got[2:] != (3, 6), _("the matrix part is (3, 4) @ (4, 6)")),
    )


#: (lengths, max_len): rows of length 0 and of full length, a batch whose longest row is shorter
#: than max_len, int32 lengths, a single row.
_MASKS = (([2, 0, 4, 1], 4), ([3, 1], 6), ([5, 9, 0, 7, 2, 9], 9), ([1], 3))


@checker("00.2")
def exercise_00_2(padding_mask: Callable[..., Any]) -> None:
    """``padding_mask(lengths, max_len)`` -> bool tensor ``(batch, max_len)``, True at padded positions."""
    import torch

    for row, max_len in _MASKS:
        lengths = torch.tensor(row, dtype=torch.int32 if len(row) == 2 else torch.int64)
        expected = torch.arange(max_len)[None, :] >= lengths[:, None]
        got = answer(padding_mask, lengths.clone(), max_len)
        expect(
            (
                shape := tensor_mismatch(got, expected.shape),
                _("expected a tensor of shape {shape}, got {got}").format(shape=tuple(expected.shape), got=shape),
            ),
            (lambda: got.dtype != torch.bool, _("return a bool tensor (compare positions with lengths)")),
            (
                lambda: torch.equal(got.cpu(), ~expected),
                _("inverted: True must mark PADDING positions (index >= length)"),
            ),
            (
                lambda: not torch.equal(got.cpu(), expected),
                _("wrong for lengths: compare torch.arange(max_len) with lengths[:, None]"),
            ),
            on=f"lengths={row}, max_len={max_len}",
        )


_WHY = {
    "t.T": N_("transpose swaps strides without moving data"),
    "t[:, ::2]": N_("a step in the last dimension leaves gaps between elements"),
    "t[1:]": N_("dropping whole leading rows keeps the rest in one block"),
}


@checker("00.3")
def exercise_00_3(answers: dict[str, bool]) -> None:
    """Contiguity of ``t.T``, ``t[:, ::2]`` and ``t[1:]`` for ``t = torch.randn(4, 6)``, as a dict of bools (None is no answer)."""
    import numpy as np
    import torch

    t = torch.randn(4, 6)
    truth = {"t.T": t.T.is_contiguous(), "t[:, ::2]": t[:, ::2].is_contiguous(), "t[1:]": t[1:].is_contiguous()}
    unanswered = lambda: [k for k in truth if not isinstance(answers[k], (bool, np.bool_))]  # noqa: E731 - None, "False", 0
    wrong = lambda: [k for k in truth if bool(answers[k]) != truth[k]]  # noqa: E731
    expect(
        (
            not isinstance(answers, dict) or set(answers) != set(truth),
            _("answer with a dict whose keys are exactly {truth}").format(truth=sorted(truth)),
        ),
        (
            unanswered,
            lambda: _(
                "replace None with True or False for {names} "
                "(a bool: the string 'False' or the number 0 is not an answer)"
            ).format(names=", ".join(unanswered())),
        ),
        (wrong, lambda: _("; ").join(_("{key}: {why}").format(key=k, why=_(_WHY[k])) for k in wrong())),
    )
