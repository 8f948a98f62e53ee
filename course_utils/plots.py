"""Small plotting helpers in the spirit of d2l: one call, one figure, returned for further tweaks.

- :func:`show_heatmaps`: a grid of matrices (attention maps: layers x heads) with token labels;
- :func:`plot_lines`: several named curves on shared axes (losses, timings against length);
- :func:`plot_bars`: labelled horizontal bars (next-token probabilities, class scores);
- :func:`plot_confusion_matrix`: a classifier's confusion matrix, normalised per true label.

Each returns the matplotlib ``Figure``. In a notebook, assign it (``fig = ...``) so it is shown once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .metrics import _class_ids

__all__ = ["plot_bars", "plot_confusion_matrix", "plot_lines", "show_heatmaps"]


def _to_numpy(x: object, name: str) -> np.ndarray:
    if hasattr(x, "detach"):  # torch tensors, on any device
        x = x.detach().float().cpu().numpy()
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be array-like numbers (list, NumPy array or torch tensor)") from exc
    return arr


def show_heatmaps(
    matrices: object,
    xlabel: str = "keys",
    ylabel: str = "queries",
    titles: Sequence[str] | None = None,
    xticklabels: Sequence[str] | None = None,
    yticklabels: Sequence[str] | None = None,
    figsize: tuple[float, float] | None = None,
    cmap: str = "Reds",
    vmin: float | None = 0.0,
    vmax: float | None = None,
):
    """Draw a grid of heatmaps, like d2l's: ``matrices`` is 2-D, 3-D (panels) or 4-D (rows, cols, n, m).

    ``titles`` has one entry per panel (row-major). Tick labels (for example the tokens) are
    written on the left column and the bottom row only; one colour bar serves all panels.

    Taught in: 06 Attention, "What the heads look at".
    """
    arr = _to_numpy(matrices, "matrices")
    if arr.ndim == 2:
        arr = arr[None, None]
    elif arr.ndim == 3:
        arr = arr[None]
    elif arr.ndim != 4:
        raise ValueError(f"matrices must be 2-D, 3-D or 4-D, got shape {arr.shape}")
    rows, cols, n, m = arr.shape
    if titles is not None and len(titles) != rows * cols:
        raise ValueError(f"titles must have one entry per panel ({rows * cols}), got {len(titles)}")
    if xticklabels is not None and len(xticklabels) != m:
        raise ValueError(f"xticklabels must have {m} entries (columns of a matrix), got {len(xticklabels)}")
    if yticklabels is not None and len(yticklabels) != n:
        raise ValueError(f"yticklabels must have {n} entries (rows of a matrix), got {len(yticklabels)}")
    import matplotlib.pyplot as plt

    if figsize is None:
        figsize = (min(2.2 * cols + 1.0, 10.0), min(2.2 * rows + 0.6, 8.0))
    fig, axes = plt.subplots(rows, cols, figsize=figsize, sharex=True, sharey=True, squeeze=False, layout="constrained")
    top = vmax if vmax is not None else float(np.nanmax(arr))
    image = None
    for i in range(rows):
        for j in range(cols):
            ax = axes[i, j]
            image = ax.imshow(arr[i, j], cmap=cmap, vmin=vmin, vmax=top)
            if titles is not None:
                ax.set_title(titles[i * cols + j], fontsize=9)
            if i == rows - 1:
                ax.set_xlabel(xlabel)
                if xticklabels is not None:
                    ax.set_xticks(range(m), labels=list(xticklabels), rotation=90, fontsize=8)
            if j == 0:
                ax.set_ylabel(ylabel)
                if yticklabels is not None:
                    ax.set_yticks(range(n), labels=list(yticklabels), fontsize=8)
    assert image is not None  # plt.subplots refuses an empty grid, so the loop drew at least one panel
    fig.colorbar(image, ax=axes, shrink=0.6)
    return fig


def plot_lines(
    x: object,
    ys: Mapping[str, object],
    xlabel: str = "",
    ylabel: str = "",
    title: str | None = None,
    logy: bool = False,
    figsize: tuple[float, float] = (6, 3.5),
):
    """Plot named curves ``ys = {label: values}`` against ``x`` on one set of axes, with a legend.

    Taught in: 06 Attention, "Scaled dot-product attention with `bmm`".
    """
    xs = _to_numpy(x, "x")
    if xs.ndim != 1:
        raise ValueError(f"x must be 1-D, got shape {xs.shape}")
    if not isinstance(ys, Mapping) or not ys:
        raise ValueError("ys must be a non-empty mapping {label: values}")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=figsize)
    for label, values in ys.items():
        v = _to_numpy(values, f"ys[{label!r}]")
        if v.shape != xs.shape:
            raise ValueError(f"ys[{label!r}] has shape {v.shape}, x has {xs.shape}: they must match")
        ax.plot(xs, v, marker="o", markersize=3, label=str(label))
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def plot_bars(
    labels: Sequence[str],
    values: object,
    xlabel: str = "",
    title: str | None = None,
    figsize: tuple[float, float] = (6, 3.5),
):
    """Horizontal bars, first label on top (e.g. the most likely next tokens and their probabilities).

    Taught in: 05 Fine-tuning, "Save, reload as a pipeline, classify new text".
    """
    v = _to_numpy(values, "values")
    if v.ndim != 1:
        raise ValueError(f"values must be 1-D, got shape {v.shape}")
    if isinstance(labels, str) or len(labels) != len(v):
        raise ValueError(f"labels must be a sequence of {len(v)} strings, one per value")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=figsize)
    positions = np.arange(len(v))[::-1]
    ax.barh(positions, v)
    ax.set_yticks(positions, labels=[str(s) for s in labels])
    ax.set_xlabel(xlabel)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


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

    Taught in: 05 Fine-tuning, "The confusion matrix".
    """
    true = _class_ids(y_true, "y_true")
    pred = _class_ids(y_pred, "y_pred")
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
