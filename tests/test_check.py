"""Every chapter has 2-4 checked exercises, and a worked solution for each (the checkers' own tests: tests/test_check_NN.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from course_utils import check

CHAPTER_SOURCES = sorted(Path(__file__).resolve().parent.parent.glob("notebooks/src/[0-9][0-9]_*.py"))


@pytest.mark.parametrize("src", CHAPTER_SOURCES, ids=lambda p: p.stem)
def test_every_exercise_has_a_checker_and_a_worked_solution(src):
    nn = src.stem[:2]
    checkers = sorted(n for n in dir(check) if re.fullmatch(rf"exercise_{nn}_\d", n))
    assert 2 <= len(checkers) <= 4, f"notebook {nn} has {len(checkers)} checkers (2-4 expected)"
    assert checkers == [f"exercise_{nn}_{k}" for k in range(1, len(checkers) + 1)]
    for name in checkers:
        assert getattr(check, name).__doc__, f"{name} has no docstring"
    exercises = src.read_text(encoding="utf-8").split("# ## Exercises", 1)
    assert len(exercises) == 2, f"{src.name} has no Exercises section"
    solutions = src.parent.parent / "solutions" / "src" / f"{src.stem}_solutions.py"
    assert solutions.is_file(), f"{src.name} has no solutions source {solutions.name}"
    solved = solutions.read_text(encoding="utf-8")
    for name in checkers:
        assert f"cu.check.{name}(" in exercises[1], f"{src.name}'s exercises do not call {name}"
        assert f"assert cu.check.{name}(" in solved, f"{solutions.name} does not prove {name}"
