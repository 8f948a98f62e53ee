"""Local ``evaluate`` metric modules that load offline (the Hub's metric scripts do not).

``evaluate.load("accuracy")`` downloads a script from the Hub; without internet it fails. This
folder ships the two metrics the course uses as files, and :func:`load` hands their paths to
``evaluate.load``::

    from course_utils import metrics
    accuracy = metrics.load("accuracy")
    accuracy.compute(predictions=[0, 1], references=[0, 0])   # {'accuracy': 0.5}
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

#: The metric modules in this folder, by the name ``evaluate.load`` gives them on the Hub.
NAMES: tuple[str, ...] = ("accuracy", "f1")

_HERE = Path(__file__).resolve().parent


def path(name: str) -> str:
    """The file of local metric ``name`` (``"accuracy"`` or ``"f1"``), for ``evaluate.load(path)``."""
    if name not in NAMES:
        raise ValueError(f"name must be one of {NAMES}, got {name!r}")
    return str(_HERE / f"{name}.py")


def load(name: str, **kwargs: Any):
    """``evaluate.load`` of local metric ``name`` (``"accuracy"`` or ``"f1"``); works offline."""
    import evaluate

    return evaluate.load(path(name), **kwargs)


@cache
def loaded(name: str):
    """:func:`load` of ``name`` once per process: the metric that :func:`course_utils.analysis.classification_metrics` reuses."""
    return load(name)
