"""course_utils.analysis: Trainer's compute_metrics and the confusion-matrix figure."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from sklearn.metrics import f1_score
from transformers import EvalPrediction

from course_utils import analysis

LABELS = ["sadness", "joy", "love"]
Y_TRUE = np.array([0, 0, 0, 0, 1, 1, 2, 2])
Y_PRED = np.array([0, 0, 0, 1, 1, 1, 1, 2])


def _logits_for(preds: np.ndarray, n_classes: int = 3) -> np.ndarray:
    logits = np.full((len(preds), n_classes), -1.0, dtype=np.float32)
    logits[np.arange(len(preds)), preds] = 2.0
    return logits


def test_classification_metrics_from_an_eval_prediction():
    result = analysis.classification_metrics(EvalPrediction(predictions=_logits_for(Y_PRED), label_ids=Y_TRUE))
    assert result["accuracy"] == pytest.approx(6 / 8)
    assert result["f1"] == pytest.approx(f1_score(Y_TRUE, Y_PRED, average="weighted"))
    assert result["f1"] != pytest.approx(f1_score(Y_TRUE, Y_PRED, average="macro"))  # weighted, not macro


def test_classification_metrics_from_a_pair_and_a_logits_tuple():
    pair = analysis.classification_metrics(((_logits_for(Y_PRED),), Y_TRUE))
    assert pair["accuracy"] == pytest.approx(0.75)


def test_classification_metrics_rejects_bad_inputs():
    with pytest.raises(TypeError, match="EvalPrediction"):
        analysis.classification_metrics(_logits_for(Y_PRED))
    with pytest.raises(ValueError, match="n_examples"):
        analysis.classification_metrics((_logits_for(Y_PRED)[:5], Y_TRUE))
    with pytest.raises(ValueError, match="integer"):
        analysis.classification_metrics((_logits_for(Y_PRED), Y_TRUE.astype(float)))


def test_confusion_matrix_is_row_normalised():
    fig = analysis.plot_confusion_matrix(Y_TRUE, Y_PRED, LABELS, title="val")
    ax = fig.axes[0]
    shown = np.asarray(ax.images[0].get_array())
    expected = np.array([[0.75, 0.25, 0.0], [0.0, 1.0, 0.0], [0.0, 0.5, 0.5]])
    np.testing.assert_allclose(shown, expected)
    assert [t.get_text() for t in ax.get_yticklabels()] == LABELS
    assert ax.get_title() == "val" and ax.get_ylabel() == "true label"
    texts = {t.get_text() for t in ax.texts}
    assert {"0.75", "0.25", "0.50"} <= texts


def test_confusion_matrix_counts_when_not_normalised():
    fig = analysis.plot_confusion_matrix(Y_TRUE, Y_PRED, LABELS, normalize=False)
    shown = np.asarray(fig.axes[0].images[0].get_array())
    np.testing.assert_array_equal(shown, [[3, 1, 0], [0, 2, 0], [0, 1, 1]])
    assert shown.sum() == len(Y_TRUE)


def test_confusion_matrix_draws_on_a_given_axes():
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2)
    assert analysis.plot_confusion_matrix(Y_TRUE, Y_PRED, LABELS, ax=right, title="right") is fig
    assert right.get_title() == "right" and not left.images
    np.testing.assert_array_equal(np.asarray(right.images[0].get_array()).sum(axis=1), [1.0, 1.0, 1.0])
    plt.close(fig)


def test_confusion_matrix_rejects_bad_inputs():
    with pytest.raises(ValueError, match="same length"):
        analysis.plot_confusion_matrix(Y_TRUE, Y_PRED[:-1], LABELS)
    with pytest.raises(ValueError, match="0..1"):
        analysis.plot_confusion_matrix(Y_TRUE, Y_PRED, ["a", "b"])
    with pytest.raises(ValueError, match="labels"):
        analysis.plot_confusion_matrix(Y_TRUE, Y_PRED, "abc")
    with pytest.raises(ValueError, match="y_true"):
        analysis.plot_confusion_matrix([], [], LABELS)
