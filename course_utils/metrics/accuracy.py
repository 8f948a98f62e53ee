"""Accuracy as a local ``evaluate`` module: ``evaluate.load("path/to/accuracy.py")`` works offline.

Written for the course (Apache-2.0). It has the interface of the Hub's ``accuracy`` metric:
``compute(predictions=[...], references=[...])`` returns ``{"accuracy": fraction correct}``.
"""

import datasets
import evaluate
from sklearn.metrics import accuracy_score

_DESCRIPTION = "Accuracy: the fraction of predictions equal to their reference label."
_KWARGS_DESCRIPTION = """
Args:
    predictions (list of int): predicted class ids.
    references (list of int): true class ids.
    normalize (bool): True (default) for the fraction correct, False for the count.
    sample_weight (list of float, optional): a weight per example.
Returns:
    accuracy (float): between 0 and 1 (or a count when normalize=False).
Example:
    >>> metric = evaluate.load("course_utils/metrics/accuracy.py")
    >>> metric.compute(predictions=[0, 1, 1, 2], references=[0, 1, 2, 2])
    {'accuracy': 0.75}
"""


class Accuracy(evaluate.Metric):
    """Fraction of correct class predictions (sklearn's ``accuracy_score``).

    Taught in: 05 Fine-tuning, "`compute_metrics`".
    """

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}),
        )

    def _compute(self, predictions, references, normalize=True, sample_weight=None):
        score = accuracy_score(references, predictions, normalize=normalize, sample_weight=sample_weight)
        return {"accuracy": float(score)}
