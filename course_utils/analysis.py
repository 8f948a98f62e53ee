"""Classification analysis shared by the fine-tuning chapters (05, 08) and the training script.

- :func:`classification_metrics`: a ``compute_metrics`` for ``Trainer``: accuracy and weighted F1,
  computed by the course's local ``evaluate`` modules (:mod:`course_utils.metrics`), the one path
  to these numbers in the course;
- :func:`plot_confusion_matrix`: the confusion matrix as a figure, normalised per true label.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["classification_metrics", "plot_confusion_matrix"]


def _labels_1d(values: object, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence of class ids, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must hold integer class ids, got dtype {arr.dtype}")
    return arr


def classification_metrics(eval_pred: Any) -> dict[str, float]:
    """Accuracy and weighted F1 from an ``EvalPrediction`` (or a ``(logits, label_ids)`` pair): Trainer's ``compute_metrics``."""
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
    labels = _labels_1d(labels, "label_ids")
    if logits.ndim != 2 or logits.shape[0] != labels.shape[0]:
        raise ValueError(
            f"predictions must be logits of shape (n_examples, n_classes) with n_examples = {labels.shape[0]}, "
            f"got shape {logits.shape}"
        )
    from course_utils import metrics

    preds = logits.argmax(axis=-1)
    return {
        **metrics.loaded("accuracy").compute(predictions=preds, references=labels),
        **metrics.loaded("f1").compute(predictions=preds, references=labels, average="weighted"),
    }


def plot_confusion_matrix(
    y_true: object,
    y_pred: object,
    labels: Sequence[str],
    normalize: bool = True,
    title: str | None = None,
    figsize: tuple[float, float] = (4.8, 4.2),
    ax: Any = None,
):
    """Confusion matrix of class ids ``y_true`` vs ``y_pred``, rows normalised to 1 (recall per class) unless ``normalize=False``.

    ``labels[i]`` names class id ``i``; rows are the true labels, columns the predictions. Draws on
    ``ax`` (a matplotlib ``Axes``, e.g. one panel of a side-by-side comparison) or on a new figure
    of size ``figsize``. Returns the matplotlib ``Figure``.
    """
    true = _labels_1d(y_true, "y_true")
    pred = _labels_1d(y_pred, "y_pred")
    if true.shape != pred.shape:
        raise ValueError(f"y_true and y_pred must have the same length, got {true.shape[0]} and {pred.shape[0]}")
    if isinstance(labels, str) or len(labels) < 2:
        raise ValueError(f"labels must be a sequence of at least two class names, got {labels!r}")
    n = len(labels)
    if true.min() < 0 or pred.min() < 0 or max(true.max(), pred.max()) >= n:
        raise ValueError(f"class ids must lie in 0..{n - 1} (one per entry of labels)")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay, confusion_matrix

    cm = confusion_matrix(true, pred, labels=list(range(n)), normalize="true" if normalize else None)
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
    else:
        fig = ax.figure
    ConfusionMatrixDisplay(cm, display_labels=list(labels)).plot(
        ax=ax, cmap="Blues", values_format=".2f" if normalize else "d", colorbar=False
    )
    ax.set_xlabel("predicted label")
    ax.set_ylabel("true label")
    ax.tick_params(axis="x", labelrotation=45)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig
