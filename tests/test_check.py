"""Exercise checkers: each accepts the worked solution and rejects typical wrong answers with a hint."""

from __future__ import annotations

import pytest
import torch

from course_utils import check


def test_verdict_prints_and_returns(capsys):
    assert check.verdict("9.9", True) is True
    assert check.verdict("9.9", False, "try again") is False
    assert capsys.readouterr().out.splitlines() == ["✅ exercise 9.9: correct", "❌ exercise 9.9: try again"]
    with pytest.raises(ValueError, match="exercise must be an id"):
        check.verdict("", True)


def test_call_safely_turns_learner_errors_into_hints(capsys):
    def stub():
        raise NotImplementedError

    def broken():
        return 1 / 0

    assert check.call_safely("9.9", stub) == (False, None)
    assert check.call_safely("9.9", broken) == (False, None)
    assert check.call_safely("9.9", lambda: None) == (False, None)
    assert check.call_safely("9.9", "not a function") == (False, None)
    out = capsys.readouterr().out
    assert "not implemented yet" in out and "ZeroDivisionError" in out and "forget `return`" in out
    assert check.call_safely("9.9", lambda x: x + 1, 1) == (True, 2)


def test_00_1(capsys):
    assert check.exercise_00_1((7, 2, 3, 6))
    assert not check.exercise_00_1((7, 1, 3, 6))
    assert not check.exercise_00_1((2, 3, 6))
    assert not check.exercise_00_1(None)
    assert "broadcast" in capsys.readouterr().out


def test_00_2(capsys):
    def solution(lengths, max_len):
        return torch.arange(max_len)[None, :] >= lengths[:, None]

    assert check.exercise_00_2(solution)
    assert not check.exercise_00_2(lambda lengths, max_len: ~solution(lengths, max_len))
    assert not check.exercise_00_2(lambda lengths, max_len: solution(lengths, max_len).int())
    assert not check.exercise_00_2(lambda lengths, max_len: torch.arange(max_len)[None, :] > lengths[:, None])
    out = capsys.readouterr().out
    assert "inverted" in out and "bool" in out and "wrong for lengths" in out


def test_00_3(capsys):
    assert check.exercise_00_3({"t.T": False, "t[:, ::2]": False, "t[1:]": True})
    assert not check.exercise_00_3({"t.T": True, "t[:, ::2]": False, "t[1:]": True})
    assert not check.exercise_00_3({"t.T": False})
    assert "transpose swaps strides" in capsys.readouterr().out
