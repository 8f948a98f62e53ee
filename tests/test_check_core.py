"""The checkers' shared machinery: a Verdict acts like a bool in code and displays nothing in Jupyter."""

from __future__ import annotations

import re

import pytest
from IPython.core.formatters import DisplayFormatter

from course_utils import check
from course_utils.check import _core


def test_verdict_is_a_silent_bool(capsys):
    right, wrong = _core.verdict("9.9", True), _core.verdict("9.9", False, "try again")
    assert right and not wrong
    assert right == True and wrong == False and wrong != True  # noqa: E712 - comparisons with the bools
    assert right == 1 and wrong == 0 and right == _core.verdict("9.8", True)
    assert (right.exercise, right.ok, wrong.hint) == ("9.9", True, "try again")
    assert repr(wrong) == "Verdict(exercise='9.9', ok=False)"
    assert capsys.readouterr().out.splitlines() == [
        "✅ exercise 9.9: correct",
        "❌ exercise 9.9: try again",
        "✅ exercise 9.8: correct",
    ]
    formatter = DisplayFormatter()
    assert formatter.format(wrong) == ({}, {})  # what Jupyter shows for a cell ending in a checker call: nothing
    assert formatter.format(False)[0] == {"text/plain": "False"}  # what it showed before


def test_call_safely_returns_a_silent_failure(capsys):
    ok, got = _core.call_safely("9.9", lambda: None)
    assert isinstance(ok, _core.Verdict) and not ok and got is None
    assert DisplayFormatter().format(ok) == ({}, {})
    assert _core.call_safely("9.9", lambda: 3) == (True, 3)
    capsys.readouterr()


def test_silent_turns_any_result_into_a_verdict(capsys):
    @_core.silent
    def exercise_99_1(answer):
        """A checker in the old style: bare bools."""
        ok, got = _core.call_safely("99.1", answer)
        if not ok:
            return False
        return got == 42

    assert exercise_99_1.__doc__ and exercise_99_1.__name__ == "exercise_99_1"
    placeholder = exercise_99_1(lambda: (_ for _ in ()).throw(NotImplementedError))
    assert isinstance(placeholder, _core.Verdict) and not placeholder and placeholder.exercise == "99.1"
    assert exercise_99_1(lambda: 42) and isinstance(exercise_99_1(lambda: 42), _core.Verdict)
    assert _core.silent(exercise_99_1) is exercise_99_1  # applying it twice changes nothing
    assert "not implemented yet" in capsys.readouterr().out


@pytest.mark.parametrize("name", [n for n in dir(check) if re.fullmatch(r"exercise_0[0-3]_\d", n)])
def test_chapters_00_to_03_return_silent_verdicts(name, capsys):
    def placeholder(*args, **kwargs):
        raise NotImplementedError

    result = getattr(check, name)(placeholder)
    assert isinstance(result, _core.Verdict) and not result, f"{name} returned {result!r}"
    assert DisplayFormatter().format(result) == ({}, {})
    assert "❌" in capsys.readouterr().out


@pytest.mark.parametrize("name", [n for n in dir(check) if re.fullmatch(r"exercise_0[67]_\d", n)])
def test_function_placeholders_get_one_line(name, capsys):
    # 06 and 07: every exercise cell holds a function that raises NotImplementedError until filled in
    def placeholder(*args, **kwargs):
        raise NotImplementedError

    assert not getattr(check, name)(placeholder)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "not implemented yet" in out, (name, out)
