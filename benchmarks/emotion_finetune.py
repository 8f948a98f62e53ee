"""Benchmark: emotion classification as in chapter 2 of the O'Reilly book, measured against its figures.

    HF_HUB_OFFLINE=1 COURSE_PROFILE=quick python benchmarks/emotion_finetune.py   # ~3 min on 2 CPU cores
    HF_HUB_OFFLINE=1 COURSE_PROFILE=full  python benchmarks/emotion_finetune.py   # ~20 min on 2 CPU cores

(set ``COURSE_DATA_DIR`` to the emotion mirror, as ``make test`` does). It measures

1. the majority-class baseline (``DummyClassifier``) on the validation and test sets;
2. frozen encoder features (``[CLS]`` and mean pooling) + ``LogisticRegression``;
3. fine-tuning with ``course_utils.scripts.train_emotion``: the quick profile uses the recipe of
   notebook 05 (3,000 texts, one epoch, batch 8, body lr 1e-4, head lr 1e-3, frozen word
   embeddings), the full profile the script's YAML (all 16,000 texts, two epochs, batch 32, lr 5e-5),

and writes ``benchmarks/results/emotion_finetune_<profile>_<device>.json``. ``train_seconds`` is the
wall time of ``trainer.train()`` alone (no evaluation during training).
"""

from __future__ import annotations

import json
import platform
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

import course_utils as cu
from course_utils.scripts import train_emotion

RESULTS = Path(__file__).resolve().parent / "results"

#: The O'Reilly book, chapter 2 (distilbert-base-uncased, GPU; validation set).
BOOK = {
    "dummy_accuracy": 0.352,
    "features_lr_accuracy": 0.6085,
    "fine_tuned_accuracy": 0.9225,
    "fine_tuned_f1": 0.9226,
}

#: Flags on top of train_emotion.yaml, per profile (the YAML alone is the full recipe).
RECIPES = {
    "quick": [
        "--max_train_samples", "3000", "--num_train_epochs", "1", "--per_device_train_batch_size", "8",
        "--learning_rate", "1e-4", "--head_learning_rate", "1e-3", "--freeze_embeddings", "True",
        "--max_length", "64",
    ],
    "full": [],
}
#: Training texts whose frozen features train the logistic regression (notebook 05 uses the same).
FEATURE_EXAMPLES = {"quick": 800, "full": 16_000}


def _scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score

    return {"accuracy": round(float(accuracy_score(y_true, y_pred)), 4),
            "f1": round(float(f1_score(y_true, y_pred, average="weighted")), 4)}


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
            idx = order[start:start + 64]
            inputs = tokenizer([texts[i] for i in idx], padding=True, truncation=True, max_length=128,
                               return_tensors="pt").to(device)
            with torch.inference_mode():
                hidden = encoder(**inputs).last_hidden_state
            mask = inputs["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            cls[idx] = hidden[:, 0].float().cpu().numpy()
            mean[idx] = ((hidden * mask).sum(1) / mask.sum(1)).float().cpu().numpy()
        return {"cls": cls, "mean": mean}

    start = time.perf_counter()
    train = emotion["train"].shuffle(seed=0).select(range(min(n_features, emotion["train"].num_rows)))
    feats = {"train": features(list(train["text"])),
             "validation": features(list(emotion["validation"]["text"])),
             "test": features(list(emotion["test"]["text"]))}
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
    info = {"device": cu.get_device(), "torch_threads": torch.get_num_threads(), "cpu": cpu,
            "python": platform.python_version()}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    for package in ("torch", "transformers", "datasets", "scikit-learn"):
        info[package] = cu.env.package_version(package)
    return info


def main() -> Path:
    """Run the benchmark for the current profile and write its JSON; return the file's path."""
    profile, device = cu.get_profile(), cu.get_device()
    cu.env.quiet()
    hub, reason = cu.hub_status()
    report: dict = {
        "benchmark": "emotion_finetune",
        "profile": profile,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "checkpoint": cu.ENCODER + ("" if hub else " (offline stand-in: all-MiniLM-L6-v2)"),
        "hub": reason,
        "machine": machine(),
        "book": BOOK,
    }
    report["baselines"] = baselines(FEATURE_EXAMPLES[profile], device)
    print(json.dumps(report["baselines"]), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        flags = ["--output_dir", tmp, "--eval_strategy", "no", "--do_predict", "True", "--disable_tqdm", "True"]
        report["fine_tuned"] = train_emotion.main(RECIPES[profile] + flags)
    val = report["fine_tuned"]["validation"]
    report["summary"] = {
        "train_seconds": report["fine_tuned"]["train_seconds"],
        "validation_accuracy": round(val["accuracy"], 4),
        "validation_f1": round(val["f1"], 4),
        "test_accuracy": round(report["fine_tuned"]["test"]["accuracy"], 4),
        "test_f1": round(report["fine_tuned"]["test"]["f1"], 4),
        "dummy_validation_accuracy": report["baselines"]["dummy"]["validation"]["accuracy"],
        "features_cls_lr_validation_accuracy": report["baselines"]["features_cls_lr"]["validation"]["accuracy"],
        "features_mean_lr_validation_accuracy": report["baselines"]["features_mean_lr"]["validation"]["accuracy"],
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"emotion_finetune_{profile}_{device}.json"
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report["summary"], indent=2))
    print(f"wrote {path.relative_to(RESULTS.parent.parent)}")
    return path


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
