"""course_utils.metrics: the local evaluate modules load offline and agree with scikit-learn; Trainer's compute_metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score
from transformers import EvalPrediction

from course_utils import metrics

RNG = np.random.default_rng(0)
REFS = RNG.integers(0, 6, size=200).tolist()
PREDS = [r if RNG.random() < 0.7 else int(RNG.integers(0, 6)) for r in REFS]


def test_path_points_at_the_shipped_file():
    for name in metrics.NAMES:
        path = Path(metrics.path(name))
        assert path.is_file() and path.name == f"{name}.py"


def test_path_rejects_unknown_names():
    with pytest.raises(ValueError, match="accuracy"):
        metrics.path("bleu")


def test_accuracy_module_matches_sklearn():
    accuracy = metrics.load("accuracy")
    assert accuracy.name == "accuracy"
    result = accuracy.compute(predictions=PREDS, references=REFS)
    assert result == {"accuracy": pytest.approx(accuracy_score(REFS, PREDS))}
    counted = accuracy.compute(predictions=[0, 1, 1, 2], references=[0, 1, 2, 2], normalize=False)
    assert counted == {"accuracy": 3.0}


def test_f1_module_matches_sklearn_for_every_average():
    f1 = metrics.load("f1")
    for average in ("macro", "micro", "weighted"):
        result = f1.compute(predictions=PREDS, references=REFS, average=average)
        assert result["f1"] == pytest.approx(f1_score(REFS, PREDS, average=average))
    per_class = f1.compute(predictions=PREDS, references=REFS, average=None)["f1"]
    assert per_class == pytest.approx(f1_score(REFS, PREDS, average=None).tolist())
    assert f1.compute(predictions=[0, 1, 1, 2], references=[0, 1, 2, 2], average="weighted") == {"f1": 0.75}


def test_f1_defaults_to_binary_like_the_hub_module():
    f1 = metrics.load("f1")
    assert f1.compute(predictions=[0, 1, 1, 0], references=[0, 1, 0, 0])["f1"] == pytest.approx(2 / 3)
    with pytest.raises(ValueError):
        f1.compute(predictions=PREDS, references=REFS)  # six classes need an average


def test_modules_check_their_inputs():
    accuracy = metrics.load("accuracy")
    with pytest.raises(ValueError):
        accuracy.compute(predictions=[0, 1, 2], references=[0, 1])


Y_TRUE = np.array([0, 0, 0, 0, 1, 1, 2, 2])
Y_PRED = np.array([0, 0, 0, 1, 1, 1, 1, 2])


def _logits_for(preds: np.ndarray, n_classes: int = 3) -> np.ndarray:
    logits = np.full((len(preds), n_classes), -1.0, dtype=np.float32)
    logits[np.arange(len(preds)), preds] = 2.0
    return logits


def test_classification_metrics_from_an_eval_prediction():
    result = metrics.classification_metrics(EvalPrediction(predictions=_logits_for(Y_PRED), label_ids=Y_TRUE))
    assert result["accuracy"] == pytest.approx(6 / 8)
    assert result["f1"] == pytest.approx(f1_score(Y_TRUE, Y_PRED, average="weighted"))
    assert result["f1"] != pytest.approx(f1_score(Y_TRUE, Y_PRED, average="macro"))  # weighted, not macro


def test_classification_metrics_from_a_pair_and_a_logits_tuple():
    pair = metrics.classification_metrics(((_logits_for(Y_PRED),), Y_TRUE))
    assert pair["accuracy"] == pytest.approx(0.75)


def test_classification_metrics_rejects_bad_inputs():
    with pytest.raises(TypeError, match="EvalPrediction"):
        metrics.classification_metrics(_logits_for(Y_PRED))
    with pytest.raises(ValueError, match="n_examples"):
        metrics.classification_metrics((_logits_for(Y_PRED)[:5], Y_TRUE))
    with pytest.raises(ValueError, match="integer"):
        metrics.classification_metrics((_logits_for(Y_PRED), Y_TRUE.astype(float)))
