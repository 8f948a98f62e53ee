"""The adversarial suite: every fake in the chapters' ``FAKES`` tables is rejected with its hint,
and every table says, for each exercise and each kind of fake, which fakes apply or why none does."""

from __future__ import annotations

import importlib
import re

import pytest
from fakes import KINDS, Fake

from course_utils import check

CHAPTERS = [f"{n:02d}" for n in range(11)]
EXERCISES = sorted(
    n.removeprefix("exercise_").replace("_", ".") for n in dir(check) if re.fullmatch(r"exercise_\d\d_\d", n)
)


def _table(chapter: str) -> dict[str, dict[str, list[Fake] | str]]:
    """The chapter's FAKES table (empty when its test file has none: the full-row test then fails)."""
    try:
        module = importlib.import_module(f"test_check_{chapter}")
    except ModuleNotFoundError as exc:
        if exc.name != f"test_check_{chapter}":
            raise
        return {}
    return getattr(module, "FAKES", {})


def _all_fakes() -> list[tuple[str, str, Fake]]:
    return [
        (exercise, kind, fake)
        for chapter in CHAPTERS
        for exercise, kinds in _table(chapter).items()
        for kind, fakes in kinds.items()
        if not isinstance(fakes, str)
        for fake in fakes
    ]


def test_every_exercise_has_a_full_row():
    rows = {exercise: kinds for chapter in CHAPTERS for exercise, kinds in _table(chapter).items()}
    assert sorted(rows) == EXERCISES, "FAKES tables and checkers disagree on the exercises"
    for exercise, kinds in rows.items():
        assert set(kinds) == set(KINDS), f"{exercise}: kinds {sorted(kinds)} (expected {sorted(KINDS)})"
        for kind, fakes in kinds.items():
            if isinstance(fakes, str):
                assert fakes.startswith("n/a: ") and len(fakes) > 12, f"{exercise}/{kind}: give the reason"
            else:
                assert fakes, f"{exercise}/{kind}: an empty list; give fakes or 'n/a: reason'"


@pytest.mark.parametrize("exercise, kind, fake", _all_fakes(), ids=lambda v: v.label if isinstance(v, Fake) else str(v))
def test_fake_is_rejected_with_its_hint(exercise, kind, fake, capsys):
    checker = getattr(check, "exercise_" + exercise.replace(".", "_"))
    verdict = checker(*fake.args, **fake.kwargs)
    out = capsys.readouterr().out
    assert not verdict, f"{exercise} accepted the {kind} fake '{fake.label}'"
    assert fake.hint in out, f"{exercise}: the hint for '{fake.label}' should say {fake.hint!r}, got {out!r}"
