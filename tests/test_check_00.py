"""Checkers of notebook 00: the adversarial table (FAKES, run by test_check_fakes.py), and the worked
solutions, read from notebooks/solutions/src/00_environment_and_tensors_solutions.py, accepted in float32 and bfloat16."""

from __future__ import annotations

import pytest
import torch
from fakes import Fake, solution

from course_utils import check
from course_utils.check._core import precision

padding_mask = solution("00", "padding_mask")

# ------------------------------------------------------------------ 00.2: padding mask


def overwrites_lengths(lengths, max_len):
    """Sets every length to max_len in place: a reference computed from `lengths` afterwards is all False too."""
    lengths.fill_(max_len)
    return torch.zeros(len(lengths), max_len, dtype=torch.bool)


def swallowed_width(lengths, max_len):
    """Takes the width from the lengths, and falls back on max_len only when that fails."""
    try:
        return torch.arange(int(lengths.max()))[None, :] >= lengths[:, None]
    except BaseException:
        return torch.zeros(len(lengths), max_len, dtype=torch.bool)


FIRST_MASK = padding_mask(torch.tensor([2, 0, 4, 1]), 4)

NOT_A_FUNCTION = "n/a: the answer is a value, not a function: nothing of the learner's runs, nothing to switch off"

FAKES = {
    "00.1": {
        "library": NOT_A_FUNCTION,
        "constant": "n/a: the exercise asks for the shape of one fixed expression: the right answer is a constant",
        "ignores": "n/a: the answer has no argument to ignore",
        "guard": [
            Fake("the notebook's placeholder None", (None,), "replace None with your predicted shape"),
            Fake("the right digits in a string", ("7236",), "tuple of ints"),
            Fake("the right digits as bytes (iterate to ints)", (b"\x07\x02\x03\x06",), "tuple of ints"),
            Fake("floats", ((7.0, 2.0, 3.0, 6.0),), "tuple of ints"),
            Fake("a dict whose keys are the digits", (dict.fromkeys((7, 2, 3, 6)),), "tuple of ints"),
        ],
        "other": [
            Fake("the left operand's batch dims only", ((7, 1, 3, 6),), "broadcast the batch dimensions"),
            Fake("batch dims in the wrong order", ((2, 7, 3, 6),), "right-aligned"),
            Fake("bmm's 3-dim result", ((2, 3, 6),), "4 dims in all"),
            Fake("the matrix part transposed", ((7, 2, 6, 3),), "the matrix part is (3, 4) @ (4, 6)"),
        ],
    },
    "00.2": {
        "library": "n/a: no torch, transformers or course_utils function turns lengths into a mask "
        "(course_utils.attention.padding_mask reshapes an attention_mask the learner would first have to build)",
        "constant": [
            Fake(
                "the first input's mask, always",
                (lambda lengths, max_len: FIRST_MASK,),
                "expected a tensor of shape (2, 6)",
            ),
            Fake(
                "all False (no padding anywhere)",
                (lambda lengths, max_len: torch.zeros(len(lengths), max_len, dtype=torch.bool),),
                "wrong for lengths",
            ),
        ],
        "ignores": [
            Fake(
                "ignores max_len: width from lengths.max()",
                (lambda lengths, max_len: torch.arange(int(lengths.max()))[None, :] >= lengths[:, None],),
                "expected a tensor of shape (2, 6)",
            ),
            Fake(
                "ignores lengths: the last position is padding",
                (lambda lengths, max_len: (torch.arange(max_len) == max_len - 1).expand(len(lengths), -1),),
                "wrong for lengths",
            ),
        ],
        "guard": [
            Fake("overwrites lengths in place", (overwrites_lengths,), "wrong for lengths"),
            Fake(
                "an int 0/1 tensor (== compares equal)",
                (lambda lengths, max_len: padding_mask(lengths, max_len).int(),),
                "return a bool tensor",
            ),
            Fake("swallows an error and pads with nothing", (swallowed_width,), "expected a tensor of shape (2, 6)"),
        ],
        "other": [
            Fake(
                "inverted: the 'may attend' convention",
                (lambda lengths, max_len: ~padding_mask(lengths, max_len),),
                "inverted",
            ),
            Fake(
                "> instead of >=: off by one",
                (lambda lengths, max_len: torch.arange(max_len)[None, :] > lengths[:, None],),
                "wrong for lengths",
            ),
            Fake(
                "a Hugging Face attention_mask (long, 1 = attend)",
                (lambda lengths, max_len: (~padding_mask(lengths, max_len)).long(),),
                "return a bool tensor",
            ),
        ],
    },
    "00.3": {
        "library": NOT_A_FUNCTION,
        "constant": "n/a: the exercise asks about one fixed tensor: the right answer is a constant",
        "ignores": "n/a: the answer has no argument to ignore",
        "guard": [
            Fake(
                "the placeholder None left in (falsy like False)",
                ({"t.T": None, "t[:, ::2]": None, "t[1:]": True},),
                "replace None with True or False for t.T, t[:, ::2]",
            ),
            Fake(
                "a string and a number",
                ({"t.T": "False", "t[:, ::2]": 0, "t[1:]": True},),
                "replace None with True or False",
            ),
            Fake("only one key", ({"t.T": False},), "keys are exactly"),
            Fake("a list instead of a dict", ([False, False, True],), "keys are exactly"),
        ],
        "other": [
            Fake(
                "is it a view? (all True)",
                ({"t.T": True, "t[:, ::2]": True, "t[1:]": True},),
                "transpose swaps strides",
            ),
            Fake(
                "does it keep the shape? (only t.T)",
                ({"t.T": True, "t[:, ::2]": False, "t[1:]": False},),
                "dropping whole leading rows",
            ),
            Fake(
                "is it a copy? (all False)",
                ({"t.T": False, "t[:, ::2]": False, "t[1:]": False},),
                "t[1:]: dropping whole leading rows",
            ),
        ],
    },
}


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_worked_solutions_pass(dtype, capsys):
    t = torch.randn(4, 6)  # the solution's own expressions
    answers = {"t.T": t.T.is_contiguous(), "t[:, ::2]": t[:, ::2].is_contiguous(), "t[1:]": t[1:].is_contiguous()}
    with precision(dtype):
        assert check.exercise_00_1(tuple((torch.randn(7, 1, 3, 4) @ torch.randn(2, 4, 6)).shape))
        assert check.exercise_00_1(torch.Size((7, 2, 3, 6))) and check.exercise_00_1([7, 2, 3, 6])
        assert check.exercise_00_2(padding_mask)
        assert check.exercise_00_3(answers)
    assert capsys.readouterr().out.count("correct") == 5


def test_hints_of_ordinary_mistakes(capsys):
    def placeholder(lengths, max_len):
        raise NotImplementedError

    assert not check.exercise_00_2(placeholder)
    assert "not implemented yet" in capsys.readouterr().out
    assert not check.exercise_00_3({"t.T": True, "t[:, ::2]": False, "t[1:]": True})
    out = capsys.readouterr().out
    assert "t.T: transpose swaps strides" in out and "t[1:]" not in out  # only the wrong entries are explained
