"""Benchmark: LoRA against full fine-tuning on emotion, with the same data, steps and recipe (notebook 08).

    HF_HUB_OFFLINE=1 python benchmarks/lora_vs_full.py                 # all 16,000 texts, 2 epochs: ~25 min on 2 CPU cores
    HF_HUB_OFFLINE=1 python benchmarks/lora_vs_full.py --train-samples 2000 --seeds 0   # a smoke run

(set ``COURSE_DATA_DIR`` to the emotion mirror, as ``make test`` does). Both methods train with
``course_utils.scripts.train_emotion`` and the same flags (``COMMON``: the course's full recipe from
``train_emotion.yaml`` cut to two epochs); they differ only in what trains and its learning rate:

- **full fine-tuning**: every weight, learning rate ``FULL_LR``;
- **LoRA**: rank 8 on the attention's query and value projections (``train_emotion.lora_config``,
  the configuration notebook 08 builds), with the head and the pooler trained in full, learning
  rate ``LORA_LR`` (LoRA's few parameters need a larger one).

For every seed it records validation and test accuracy and weighted F1, trainable parameters,
steps, ``train_seconds`` (wall time of ``trainer.train()``) and ``seconds_per_step``, and writes
``benchmarks/results/lora_vs_full_<device>.json`` with every seed and the mean, min and max.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from emotion_finetune import EVAL_FLAGS, machine, seed_summary  # noqa: E402

import course_utils as cu  # noqa: E402
from course_utils.scripts import train_emotion  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
#: Flags both methods share, on top of train_emotion.yaml (4 epochs there; two here, as the O'Reilly book).
COMMON = ["--num_train_epochs", "2", *EVAL_FLAGS]
FULL_LR = 1e-4
LORA_LR = 1e-3
METHODS: dict[str, list[str]] = {
    "full fine-tuning": ["--learning_rate", str(FULL_LR)],
    "LoRA r=8": ["--learning_rate", str(LORA_LR), "--lora_rank", "8"],
}
STATS = (
    "validation_accuracy",
    "validation_f1",
    "test_accuracy",
    "test_f1",
    "trainable_parameters",
    "steps",
    "train_seconds",
    "seconds_per_step",
)


def run(method: str, seed: int, train_samples: int | None) -> dict:
    """One seed of one method: train_emotion's results (validation and test included)."""
    with tempfile.TemporaryDirectory() as tmp:
        flags = COMMON + METHODS[method] + ["--output_dir", tmp, "--seed", str(seed)]
        if train_samples:
            flags += ["--max_train_samples", str(train_samples)]
        result = train_emotion.main(flags)
    flat = {
        "validation_accuracy": result["validation"]["accuracy"],
        "validation_f1": result["validation"]["f1"],
        "test_accuracy": result["test"]["accuracy"],
        "test_f1": result["test"]["f1"],
        **{k: result[k] for k in STATS[4:]},
    }
    return {"seed": seed, **flat, "recipe": result["recipe"], "train_examples": result["train_examples"]}


def summarise(runs: list[dict]) -> dict[str, dict[str, float]]:
    """Mean, min and max over the seeds of every figure in ``STATS``."""
    return seed_summary(runs, STATS)


def main(argv: list[str] | None = None) -> Path:
    """Train both methods for every seed; write the JSON report and return its path."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--train-samples", type=int, default=None, help="default: all 16,000 training texts")
    args = parser.parse_args(argv)
    if args.train_samples is not None and args.train_samples < 1:
        parser.error(f"--train-samples must be a positive integer, got {args.train_samples}")
    cu.logs.quiet()
    hub, reason = cu.hub_status()
    suffix = "" if args.train_samples is None else f"_{args.train_samples}"
    path = RESULTS / f"lora_vs_full{suffix}_{cu.get_device()}.json"
    report: dict = {
        "benchmark": "lora_vs_full",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "checkpoint": cu.ENCODER + ("" if hub else " (offline stand-in: all-MiniLM-L6-v2)"),
        "hub": reason,
        "machine": machine(),
        "common_flags": COMMON,
        "methods": {},
    }
    for method, flags in METHODS.items():
        runs = [run(method, seed, args.train_samples) for seed in args.seeds]
        report["methods"][method] = {"flags": flags, "runs": runs, "summary": summarise(runs)}
        print(method, json.dumps({k: v["mean"] for k, v in report["methods"][method]["summary"].items()}), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(RESULTS.parent.parent)}")
    return path


if __name__ == "__main__":
    main()
