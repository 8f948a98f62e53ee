"""Checkers for notebook 00 (environment and tensors)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._core import Verdict, call_safely, silent, tensor_mismatch, verdict

__all__ = ["exercise_00_1", "exercise_00_2", "exercise_00_3"]


@silent
def exercise_00_1(shape: Any) -> Verdict:
    """Shape of ``torch.randn(7, 1, 3, 4) @ torch.randn(2, 4, 6)``, as a tuple of ints."""
    if shape is None:
        return verdict("00.1", False, "replace None with your predicted shape, a tuple of ints such as (1, 2, 3)")
    try:
        got = tuple(int(d) for d in shape)
    except (TypeError, ValueError):
        return verdict("00.1", False, "give the shape as a tuple of ints, e.g. (1, 2, 3)")
    expected = (7, 2, 3, 6)
    if got == expected:
        return verdict("00.1", True)
    if len(got) != 4:
        return verdict(
            "00.1", False, "batch dims (7, 1) and (2,) broadcast to two dims, then the matrix dims: 4 dims in all"
        )
    if got[:2] != (7, 2):
        return verdict("00.1", False, "broadcast the batch dimensions (7, 1) and (2,) right-aligned: size 1 stretches")
    return verdict("00.1", False, "the matrix part is (3, 4) @ (4, 6)")


@silent
def exercise_00_2(padding_mask: Callable[..., Any]) -> Verdict:
    """``padding_mask(lengths, max_len)`` -> bool tensor ``(batch, max_len)``, True at padded positions."""
    import torch

    gen = torch.Generator().manual_seed(1234)
    for max_len in (4, 9):
        lengths = torch.randint(0, max_len + 1, (6,), generator=gen)
        ok, got = call_safely("00.2", padding_mask, lengths, max_len)
        if not ok:
            return ok
        expected = torch.arange(max_len)[None, :] >= lengths[:, None]
        if (shape := tensor_mismatch(got, expected.shape)) is not None:
            return verdict("00.2", False, f"expected a tensor of shape {tuple(expected.shape)}, got {shape}")
        if got.dtype != torch.bool:
            return verdict("00.2", False, "return a bool tensor (compare positions with lengths)")
        if torch.equal(got, ~expected):
            return verdict("00.2", False, "inverted: True must mark PADDING positions (index >= length)")
        if not torch.equal(got, expected):
            return verdict(
                "00.2",
                False,
                f"wrong for lengths {lengths.tolist()}: compare torch.arange(max_len) with lengths[:, None]",
            )
    return verdict("00.2", True)


@silent
def exercise_00_3(answers: dict[str, bool]) -> Verdict:
    """Contiguity of ``t.T``, ``t[:, ::2]`` and ``t[1:]`` for ``t = torch.randn(4, 6)``, as a dict of bools (None is no answer)."""
    import numpy as np
    import torch

    t = torch.randn(4, 6)
    truth = {"t.T": t.T.is_contiguous(), "t[:, ::2]": t[:, ::2].is_contiguous(), "t[1:]": t[1:].is_contiguous()}
    if not isinstance(answers, dict) or set(answers) != set(truth):
        return verdict("00.3", False, f"answer with a dict whose keys are exactly {sorted(truth)}")
    unanswered = [k for k in truth if not isinstance(answers[k], (bool, np.bool_))]  # None, "False", 0 are no answers
    if unanswered:
        return verdict(
            "00.3",
            False,
            f"replace None with True or False for {', '.join(unanswered)} "
            "(a bool: the string 'False' or the number 0 is not an answer)",
        )
    wrong = [k for k in truth if bool(answers[k]) != truth[k]]
    if not wrong:
        return verdict("00.3", True)
    why = {
        "t.T": "transpose swaps strides without moving data",
        "t[:, ::2]": "a step in the last dimension leaves gaps between elements",
        "t[1:]": "dropping whole leading rows keeps the rest in one block",
    }
    return verdict("00.3", False, "; ".join(f"{k}: {why[k]}" for k in wrong))
