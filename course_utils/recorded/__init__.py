"""Recorded benchmark results that the notebooks quote, shipped inside the package.

A notebook opened outside the repository (Colab, a copied file) cannot read
``benchmarks/results/``, so the package carries a copy of each results file a notebook reads;
``tests/test_recorded_results.py`` checks that every copy equals its original::

    from course_utils import recorded
    record = recorded.load("emotion_finetune_quick_cpu")   # benchmarks/results/emotion_finetune_quick_cpu.json
    record["recipes"]["course"]["summary"]["validation_accuracy"]["mean"]

After rerunning a benchmark, copy its new file here (``cp benchmarks/results/NAME.json course_utils/recorded/``).
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

__all__ = ["NAMES", "load"]

#: The results files shipped here: ``benchmarks/results/<name>.json`` for each name.
NAMES: tuple[str, ...] = ("emotion_finetune_quick_cpu", "emotion_finetune_full_cpu")


def load(name: str) -> dict[str, Any]:
    """The recorded results ``name`` (``benchmarks/results/<name>.json``) as a dict; notebook 05, section 4.1.

    Taught in: 05 Fine-tuning, "Recipes on a CPU: the course's and the book's, over three seeds".
    """
    if name not in NAMES:
        raise ValueError(f"name must be one of {NAMES}, got {name!r}")
    return json.loads(resources.files(__name__).joinpath(f"{name}.json").read_text(encoding="utf-8"))
