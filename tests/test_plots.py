"""Tests of course_utils.plots (headless: the Agg backend)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from course_utils import plots  # noqa: E402


def test_show_heatmaps_grid_labels_and_values():
    w = torch.rand(2, 3, 4, 5)
    fig = plots.show_heatmaps(
        w, titles=[f"h{i}" for i in range(6)], xticklabels=list("abcde"), yticklabels=list("wxyz")
    )
    axes = fig.axes[:-1]  # the last axes is the shared colour bar
    assert len(axes) == 6 and len(fig.axes) == 7
    assert [a.get_title() for a in axes] == [f"h{i}" for i in range(6)]
    np.testing.assert_allclose(axes[4].images[0].get_array(), w[1, 1].numpy())
    assert [t.get_text() for t in axes[3].get_xticklabels()] == list("abcde")
    assert [t.get_text() for t in axes[3].get_yticklabels()] == list("wxyz")
    plt.close(fig)


def test_show_heatmaps_accepts_2d_and_3d():
    fig = plots.show_heatmaps(np.eye(3))
    assert len(fig.axes) == 2
    plt.close(fig)
    fig = plots.show_heatmaps(torch.rand(4, 3, 3), titles=list("abcd"))
    assert len(fig.axes) == 5 and fig.axes[3].get_title() == "d"
    plt.close(fig)


def test_show_heatmaps_rejects_bad_input():
    with pytest.raises(ValueError, match="2-D, 3-D or 4-D"):
        plots.show_heatmaps(np.zeros(3))
    with pytest.raises(ValueError, match="titles"):
        plots.show_heatmaps(np.zeros((2, 3, 3)), titles=["one"])
    with pytest.raises(ValueError, match="xticklabels"):
        plots.show_heatmaps(np.zeros((3, 4)), xticklabels=["a"])
    with pytest.raises(TypeError, match="matrices"):
        plots.show_heatmaps([["a", "b"]])


def test_plot_lines_draws_each_curve():
    fig = plots.plot_lines(
        [1, 2, 3], {"a": [1, 4, 9], "b": torch.tensor([1.0, 2.0, 3.0])}, xlabel="n", ylabel="t", logy=True
    )
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.lines] == ["a", "b"]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [1, 4, 9])
    assert ax.get_yscale() == "log" and ax.get_xlabel() == "n"
    plt.close(fig)
    with pytest.raises(ValueError, match="must match"):
        plots.plot_lines([1, 2], {"a": [1, 2, 3]})
    with pytest.raises(ValueError, match="non-empty mapping"):
        plots.plot_lines([1, 2], {})


def test_plot_bars_first_label_on_top():
    fig = plots.plot_bars(["x", "y", "z"], [0.5, 0.3, 0.2], xlabel="p")
    ax = fig.axes[0]
    widths = [p.get_width() for p in ax.patches]
    ys = [p.get_y() for p in ax.patches]
    assert widths == [0.5, 0.3, 0.2] and ys[0] > ys[1] > ys[2]
    ticks = dict(zip(ax.get_yticks(), [t.get_text() for t in ax.get_yticklabels()]))
    assert [ticks[y] for y in sorted(ticks, reverse=True)] == ["x", "y", "z"]
    plt.close(fig)
    with pytest.raises(ValueError, match="labels"):
        plots.plot_bars(["x"], [0.5, 0.5])


LABELS = ["sadness", "joy", "love"]
Y_TRUE = np.array([0, 0, 0, 0, 1, 1, 2, 2])
Y_PRED = np.array([0, 0, 0, 1, 1, 1, 1, 2])


def test_confusion_matrix_is_row_normalised():
    fig = plots.plot_confusion_matrix(Y_TRUE, Y_PRED, LABELS, title="val")
    ax = fig.axes[0]
    shown = np.asarray(ax.images[0].get_array())
    expected = np.array([[0.75, 0.25, 0.0], [0.0, 1.0, 0.0], [0.0, 0.5, 0.5]])
    np.testing.assert_allclose(shown, expected)
    assert [t.get_text() for t in ax.get_yticklabels()] == LABELS
    assert ax.get_title() == "val" and ax.get_ylabel() == "true label"
    texts = {t.get_text() for t in ax.texts}
    assert {"0.75", "0.25", "0.50"} <= texts


def test_confusion_matrix_counts_when_not_normalised():
    fig = plots.plot_confusion_matrix(Y_TRUE, Y_PRED, LABELS, normalize=False)
    shown = np.asarray(fig.axes[0].images[0].get_array())
    np.testing.assert_array_equal(shown, [[3, 1, 0], [0, 2, 0], [0, 1, 1]])
    assert shown.sum() == len(Y_TRUE)


def test_confusion_matrix_draws_on_a_given_axes():
    fig, (left, right) = plt.subplots(1, 2)
    assert plots.plot_confusion_matrix(Y_TRUE, Y_PRED, LABELS, ax=right, title="right") is fig
    assert right.get_title() == "right" and not left.images
    np.testing.assert_array_equal(np.asarray(right.images[0].get_array()).sum(axis=1), [1.0, 1.0, 1.0])
    plt.close(fig)


def test_confusion_matrix_rejects_bad_inputs():
    with pytest.raises(ValueError, match="same length"):
        plots.plot_confusion_matrix(Y_TRUE, Y_PRED[:-1], LABELS)
    with pytest.raises(ValueError, match="0..1"):
        plots.plot_confusion_matrix(Y_TRUE, Y_PRED, ["a", "b"])
    with pytest.raises(ValueError, match="labels"):
        plots.plot_confusion_matrix(Y_TRUE, Y_PRED, "abc")
    with pytest.raises(ValueError, match="y_true"):
        plots.plot_confusion_matrix([], [], LABELS)
