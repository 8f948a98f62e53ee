"""Benchmark: emotion classification as in chapter 2 of the O'Reilly book, measured against its figures.

    HF_HUB_OFFLINE=1 python benchmarks/emotion_finetune.py --profile quick   # ~6 min on 2 CPU cores
    HF_HUB_OFFLINE=1 python benchmarks/emotion_finetune.py --profile full    # ~55 min on 2 CPU cores

(set ``COURSE_DATA_DIR`` to the emotion mirror, as ``make test`` does). For the profile it measures

1. the majority-class baseline (``DummyClassifier``) on the validation and test sets;
2. frozen encoder features (``[CLS]`` and mean pooling) + ``LogisticRegression``;
3. fine-tuning with ``course_utils.scripts.train_emotion``, over three seeds (``--seeds``), with two
   recipes (``RECIPES``): the course's (notebook 05's quick recipe, or the YAML's full one) and the
   book's chapter-2 arguments, each stopped by ``TimeBudget`` if it is still training when the
   profile's budget (``BUDGET_SECONDS``) is spent;

and writes ``benchmarks/results/emotion_finetune_<profile>_<device>.json`` with every seed's results
and their mean, min and max. ``train_seconds`` is the wall time of ``trainer.train()`` alone;
``tokenize_seconds`` is the ``map`` that tokenizes the three splits; ``seconds_per_step`` is
``train_seconds / steps``. ``benchmarks/emotion_sweep.py`` records how the course's recipe was chosen.
"""

from __future__ import annotations

import json
import platform
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

import course_utils as cu
from course_utils import embeddings
from course_utils.scripts import train_emotion

RESULTS = Path(__file__).resolve().parent / "results"

#: The O'Reilly book, chapter 2 (distilbert-base-uncased, GPU; validation set).
BOOK = {
    "dummy_accuracy": 0.352,
    "features_lr_accuracy": 0.6085,
    "fine_tuned_accuracy": 0.9225,
    "fine_tuned_f1": 0.9226,
}

#: Training-time budget of each profile, in seconds of ``trainer.train()`` on the course's 2-core CPU.
BUDGET_SECONDS = {"quick": 45, "full": 480}

#: Flags on top of train_emotion.yaml (the YAML alone is the course's full recipe), per recipe and profile.
RECIPES: dict[str, dict[str, list[str]]] = {
    "course": {
        "quick": [
            "--max_train_samples",
            "5000",
            "--num_train_epochs",
            "1",
            "--per_device_train_batch_size",
            "8",
            "--learning_rate",
            "1e-4",
            "--head_learning_rate",
            "1e-3",
            "--freeze_embeddings",
            "True",
            "--max_length",
            "64",
            "--train_sampling_strategy",
            "group_by_length",
            "--mixed_precision",
            "auto",
        ],
        "full": [],
    },
    # The O'Reilly book's chapter-2 arguments: batch 64, lr 2e-5, weight decay 0.01, 2 epochs, every
    # text padded to the longest of the dataset, float32, shuffled batches. The same at both
    # budgets: TimeBudget stops it when the profile's training time is spent.
    "book": {
        profile: [
            "--per_device_train_batch_size",
            "64",
            "--learning_rate",
            "2e-5",
            "--weight_decay",
            "0.01",
            "--num_train_epochs",
            "2",
            "--padding",
            "dataset",
            "--max_length",
            "512",
            "--train_sampling_strategy",
            "random",
            "--mixed_precision",
            "no",
        ]
        for profile in ("quick", "full")
    },
}
#: Training texts whose frozen features train the logistic regression (notebook 05 uses the same).
FEATURE_EXAMPLES = {"quick": 800, "full": 16_000}
#: Targets of issue 16 (means over the seeds), per profile.
TARGETS = {
    "quick": {"validation_accuracy": 0.88},
    "full": {"validation_accuracy": 0.930, "test_accuracy": 0.925, "validation_f1": 0.930, "test_f1": 0.925},
}


def _scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score

    return {
        "accuracy": round(float(accuracy_score(y_true, y_pred)), 4),
        "f1": round(float(f1_score(y_true, y_pred, average="weighted")), 4),
    }


def baselines(n_features: int, device: str) -> dict:
    """Majority class and frozen features ([CLS], mean) + logistic regression, on validation and test."""
    from sklearn.dummy import DummyClassifier
    from sklearn.linear_model import LogisticRegression
    from transformers import AutoModel, AutoTokenizer

    emotion = cu.load_emotion()
    y = {split: np.array(emotion[split]["label"]) for split in ("train", "validation", "test")}
    dummy = DummyClassifier(strategy="most_frequent").fit(np.zeros((len(y["train"]), 1)), y["train"])
    out: dict = {"dummy": {s: _scores(y[s], dummy.predict(np.zeros((len(y[s]), 1)))) for s in ("validation", "test")}}

    checkpoint = cu.resolve_checkpoint(cu.ENCODER)
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    encoder = AutoModel.from_pretrained(checkpoint).to(device).eval()

    def features(texts: list[str]) -> dict[str, np.ndarray]:
        order = np.argsort([len(t) for t in texts])  # similar lengths per batch: little padding
        cls = np.zeros((len(texts), encoder.config.hidden_size), np.float32)
        mean = np.zeros_like(cls)
        for start in range(0, len(texts), 64):
            idx = order[start : start + 64]
            inputs = tokenizer(
                [texts[i] for i in idx], padding=True, truncation=True, max_length=128, return_tensors="pt"
            ).to(device)
            with torch.inference_mode():
                hidden = encoder(**inputs).last_hidden_state
            cls[idx] = embeddings.cls_pool(hidden, inputs["attention_mask"]).float().cpu().numpy()
            mean[idx] = embeddings.mean_pool(hidden, inputs["attention_mask"]).float().cpu().numpy()
        return {"cls": cls, "mean": mean}

    start = time.perf_counter()
    train = emotion["train"].shuffle(seed=0).select(range(min(n_features, emotion["train"].num_rows)))
    feats = {
        "train": features(list(train["text"])),
        "validation": features(list(emotion["validation"]["text"])),
        "test": features(list(emotion["test"]["text"])),
    }
    y_feat = np.array(train["label"])
    seconds = time.perf_counter() - start
    for pooling in ("cls", "mean"):
        clf = LogisticRegression(max_iter=3_000).fit(feats["train"][pooling], y_feat)
        out[f"features_{pooling}_lr"] = {
            "train_examples": len(y_feat),
            **{s: _scores(y[s], clf.predict(feats[s][pooling])) for s in ("validation", "test")},
        }
    out["feature_seconds"] = round(seconds, 1)
    return out


def machine() -> dict:
    """What ran the benchmark: device, threads, CPU or GPU name, library versions."""
    cpu = platform.processor()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    info = {
        "device": cu.get_device(),
        "torch_threads": torch.get_num_threads(),
        "cpu": cpu,
        "python": platform.python_version(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    for package in ("torch", "transformers", "datasets", "scikit-learn"):
        info[package] = cu.env.package_version(package)
    return info


class TimeBudget:
    """A ``TrainerCallback`` that stops training once ``seconds`` of it have passed (checked after each step)."""

    def __new__(cls, seconds: float):  # built lazily so that importing this file does not import transformers
        from transformers import TrainerCallback

        class _TimeBudget(TrainerCallback):
            def on_train_begin(self, args, state, control, **kwargs):
                self.start = time.perf_counter()

            def on_step_end(self, args, state, control, **kwargs):
                if time.perf_counter() - self.start >= seconds:
                    control.should_training_stop = True

        return _TimeBudget()


STATS = (
    "validation_accuracy",
    "validation_f1",
    "test_accuracy",
    "test_f1",
    "train_seconds",
    "seconds_per_step",
    "tokenize_seconds",
    "steps",
    "epochs_done",
)


def _flat(result: dict) -> dict[str, float]:
    return {
        "validation_accuracy": result["validation"]["accuracy"],
        "validation_f1": result["validation"]["f1"],
        "test_accuracy": result["test"]["accuracy"],
        "test_f1": result["test"]["f1"],
        **{k: result[k] for k in STATS[4:]},
    }


def seed_summary(rows: list[dict], keys: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """Mean, min and max over the seeds (one row each) of every figure in ``keys``; every benchmark reports these."""
    return {
        k: {
            "mean": round(float(np.mean([r[k] for r in rows])), 4),
            "min": round(float(min(r[k] for r in rows)), 4),
            "max": round(float(max(r[k] for r in rows)), 4),
        }
        for k in keys
    }


def summarise(runs: list[dict]) -> dict[str, dict[str, float]]:
    """Mean, min and max over the seeds of every figure in ``STATS``."""
    return seed_summary([_flat(r) for r in runs], STATS)


#: What every benchmark run of train_emotion adds to its flags: no evaluation during training, then
#: validation and test once at the end, and no progress bars.
EVAL_FLAGS = ["--eval_strategy", "no", "--do_eval", "True", "--do_predict", "True", "--disable_tqdm", "True"]


def train_recipe(recipe: str, profile: str, seed: int) -> dict:
    """One seed of ``recipe`` at ``profile``'s budget: train_emotion's results, validation and test included."""
    with tempfile.TemporaryDirectory() as tmp:
        flags = RECIPES[recipe][profile] + ["--output_dir", tmp, "--seed", str(seed), *EVAL_FLAGS]
        result = train_emotion.main(flags, callbacks=[TimeBudget(BUDGET_SECONDS[profile])])
    return {"seed": seed, **result}


def main(argv: list[str] | None = None) -> Path:
    """Run the benchmark (the profile's baselines, then every recipe and seed) and write its JSON; return its path."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", choices=("quick", "full"), default=None, help="default: COURSE_PROFILE")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--recipes", nargs="+", choices=sorted(RECIPES), default=list(RECIPES))
    parser.add_argument(
        "--keep-baselines",
        action="store_true",
        help="reuse the baselines already in the results file (they take minutes in the full profile)",
    )
    args = parser.parse_args(argv)
    profile, device = args.profile or cu.get_profile(), cu.get_device()
    cu.logs.quiet()
    hub, reason = cu.hub_status()
    path = RESULTS / f"emotion_finetune_{profile}_{device}.json"
    old = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    report: dict = {
        "benchmark": "emotion_finetune",
        "profile": profile,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "checkpoint": cu.ENCODER + ("" if hub else " (offline stand-in: all-MiniLM-L6-v2)"),
        "hub": reason,
        "machine": machine(),
        "book": BOOK,
        "budget_seconds": BUDGET_SECONDS[profile],
        "targets": TARGETS[profile],
    }
    if args.keep_baselines and "baselines" in old:  # deterministic features + LR: the earlier run's figures
        report["baselines"] = old["baselines"]
        report["baselines_date"] = old.get("baselines_date", old["date"])
    else:
        report["baselines"] = baselines(FEATURE_EXAMPLES[profile], device)
        report["baselines_date"] = report["date"]
        print(json.dumps(report["baselines"]), flush=True)
    report["recipes"] = {k: v for k, v in old.get("recipes", {}).items() if k not in args.recipes}
    for recipe in args.recipes:
        runs = [train_recipe(recipe, profile, seed) for seed in args.seeds]
        report["recipes"][recipe] = {"flags": RECIPES[recipe][profile], "runs": runs, "summary": summarise(runs)}
    course = report["recipes"].get("course")
    if course:
        report["targets_met"] = {k: course["summary"][k]["mean"] >= v for k, v in TARGETS[profile].items()}
        report["targets_met"]["train_seconds"] = course["summary"]["train_seconds"]["max"] <= BUDGET_SECONDS[profile]
    RESULTS.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    for recipe, data in report["recipes"].items():
        print(recipe, json.dumps({k: v["mean"] for k, v in data["summary"].items()}))
    print("targets met:", report.get("targets_met"))
    print(f"wrote {path.relative_to(RESULTS.parent.parent)}")
    return path


if __name__ == "__main__":
    main()
