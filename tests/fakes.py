"""The adversarial suite's vocabulary: the kinds of fake answer, a fake, and the worked solutions' own code.

Each ``tests/test_check_NN.py`` holds a table ``FAKES``: for every exercise of its chapter, every
kind in :data:`KINDS` maps to the fakes of that kind (each must be rejected with a hint naming what
is wrong) or to the reason why no fake of that kind applies. ``tests/test_check_fakes.py`` runs
them all and checks that the tables are complete.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

#: The kinds of fake answer a learner who wants ✅ without the work would write.
KINDS = {
    "library": "calls the library or course_utils function that the exercise re-implements (or its wrapper)",
    "constant": "returns a constant, right only on one fixed input",
    "ignores": "ignores an argument, or measures something else that agrees on one case",
    "guard": "goes around a guard (the class-level method instead of the instance's, a swallowed error)",
    "other": "answers a different question that coincides on some inputs",
}


@dataclass
class Fake:
    """A wrong answer: ``args`` are what the learner passes to the checker; ``hint`` a substring the
    printed hint must contain; ``label`` says in a few words what the fake does."""

    label: str
    args: tuple[Any, ...]
    hint: str
    kwargs: dict[str, Any] = field(default_factory=dict)


def solution(chapter: str, *names: str, extra: dict[str, Any] | None = None) -> Any:
    """The worked solution's own definitions, read from ``notebooks/solutions/src/<chapter>_*_solutions.py``.

    Executes the source's imports and its top-level ``def``/``class`` statements (nothing else: no
    model is loaded), in a namespace that also holds ``extra``; returns the named object, or a
    tuple of them.
    """
    (src,) = sorted((ROOT / "notebooks" / "solutions" / "src").glob(f"{chapter}_*_solutions.py"))
    tree = ast.parse(src.read_text(encoding="utf-8"))
    keep = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)
    module = ast.Module(body=[node for node in tree.body if isinstance(node, keep)], type_ignores=[])
    namespace: dict[str, Any] = dict(extra or {})
    exec(compile(module, str(src), "exec"), namespace)  # noqa: S102 - the course's own solution source
    missing = [n for n in names if n not in namespace]
    if missing:
        raise LookupError(f"{src.name} defines no {', '.join(missing)}")
    found = tuple(namespace[n] for n in names)
    return found[0] if len(found) == 1 else found


Checker = Callable[..., Any]
