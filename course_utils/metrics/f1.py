"""F1 as a local ``evaluate`` module: ``evaluate.load("path/to/f1.py")`` works offline.

Written for the course (Apache-2.0). It has the interface of the Hub's ``f1`` metric:
``compute(predictions=[...], references=[...], average="weighted")`` returns ``{"f1": score}``.
"""

import datasets
import evaluate
from sklearn.metrics import f1_score

_DESCRIPTION = "F1: the harmonic mean of precision and recall, per class or averaged over classes."
_KWARGS_DESCRIPTION = """
Args:
    predictions (list of int): predicted class ids.
    references (list of int): true class ids.
    average (str or None): "binary" (default, two classes), "micro", "macro", "weighted"
        (per-class F1 weighted by each class's number of true examples) or None (one score per class).
    labels (list of int, optional): the classes to include, and their order when average is None.
    pos_label (int): the positive class when average="binary". Defaults to 1.
    sample_weight (list of float, optional): a weight per example.
Returns:
    f1 (float, or a list of floats when average is None).
Example:
    >>> metric = evaluate.load("course_utils/metrics/f1.py")
    >>> metric.compute(predictions=[0, 1, 1, 2], references=[0, 1, 2, 2], average="weighted")
    {'f1': 0.75}
"""


class F1(evaluate.Metric):
    """F1 score (sklearn's ``f1_score``); pass ``average="weighted"`` for more than two classes.

    Taught in: 05 Fine-tuning, "`compute_metrics`".
    """

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}),
        )

    def _compute(self, predictions, references, labels=None, pos_label=1, average="binary", sample_weight=None):
        score = f1_score(
            references, predictions, labels=labels, pos_label=pos_label, average=average, sample_weight=sample_weight
        )
        if average is None:
            return {"f1": [float(s) for s in score]}
        return {"f1": float(score)}
