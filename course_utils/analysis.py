"""Moved: :func:`classification_metrics` is in :mod:`course_utils.metrics`, :func:`plot_confusion_matrix` in :mod:`course_utils.plots`.

The old paths (``from course_utils import analysis; analysis.classification_metrics``) still work
and warn (``DeprecationWarning``) with the new one.
"""

from __future__ import annotations

from typing import Any

from . import _moved

_MOVED = {
    "classification_metrics": "course_utils.metrics.classification_metrics",
    "plot_confusion_matrix": "course_utils.plots.plot_confusion_matrix",
}


def __getattr__(name: str) -> Any:
    return _moved.attribute(__name__, name, _MOVED)
