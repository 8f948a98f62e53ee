"""Metrics: Trainer's ``compute_metrics`` for the course, and local ``evaluate`` modules that load offline.

:func:`classification_metrics` is the ``compute_metrics`` of chapters 05 and 08 and of the training
script: accuracy and weighted F1, computed by the two metric modules of this folder.

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

import numpy as np

#: The metric modules in this folder, by the name ``evaluate.load`` gives them on the Hub.
NAMES: tuple[str, ...] = ("accuracy", "f1")

_HERE = Path(__file__).resolve().parent


def path(name: str) -> str:
    """The file of local metric ``name`` (``"accuracy"`` or ``"f1"``), for ``evaluate.load(path)``.

    Course plumbing: not taught.
    """
    if name not in NAMES:
        raise ValueError(f"name must be one of {NAMES}, got {name!r}")
    return str(_HERE / f"{name}.py")


def load(name: str, **kwargs: Any):
    """``evaluate.load`` of local metric ``name`` (``"accuracy"`` or ``"f1"``); works offline.

    Taught in: 05 Fine-tuning, "`compute_metrics`".
    """
    import evaluate

    return evaluate.load(path(name), **kwargs)


@cache
def loaded(name: str):
    """:func:`load` of ``name`` once per process: the metric that :func:`classification_metrics` reuses.

    Course plumbing: not taught.
    """
    return load(name)


def _class_ids(values: object, name: str) -> np.ndarray:
    """``values`` as a 1-D integer array of class ids; ``ValueError`` naming ``name`` if it is empty, not 1-D or not integers."""
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence of class ids, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must hold integer class ids, got dtype {arr.dtype}")
    return arr


def classification_metrics(eval_pred: Any) -> dict[str, float]:
    """Accuracy and weighted F1 from an ``EvalPrediction`` (or a ``(logits, label_ids)`` pair): Trainer's ``compute_metrics``.

    Taught in: 05 Fine-tuning, "`compute_metrics`".
    """
    if hasattr(eval_pred, "predictions") and hasattr(eval_pred, "label_ids"):
        logits, labels = eval_pred.predictions, eval_pred.label_ids
    elif isinstance(eval_pred, (tuple, list)) and len(eval_pred) == 2:
        logits, labels = eval_pred
    else:
        raise TypeError(
            "eval_pred must be an EvalPrediction (with .predictions and .label_ids) or a (logits, label_ids) "
            f"pair, got {type(eval_pred).__name__}"
        )
    if isinstance(logits, tuple):  # models that return extra outputs: the logits come first
        logits = logits[0]
    logits = np.asarray(logits)
    labels = _class_ids(labels, "label_ids")
    if logits.ndim != 2 or logits.shape[0] != labels.shape[0]:
        raise ValueError(
            f"predictions must be logits of shape (n_examples, n_classes) with n_examples = {labels.shape[0]}, "
            f"got shape {logits.shape}"
        )
    preds = logits.argmax(axis=-1)
    return {
        **loaded("accuracy").compute(predictions=preds, references=labels),
        **loaded("f1").compute(predictions=preds, references=labels, average="weighted"),
    }
