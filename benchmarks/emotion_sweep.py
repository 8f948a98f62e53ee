"""Sweep: which training choices make emotion fine-tuning fast and accurate on a 2-core CPU.

    HF_HUB_OFFLINE=1 COURSE_DATA_DIR=../shared/data python benchmarks/emotion_sweep.py          # configs not yet recorded
    HF_HUB_OFFLINE=1 COURSE_DATA_DIR=../shared/data python benchmarks/emotion_sweep.py NAME ...  # (re)run these

Each configuration is one seed (0) of ``course_utils.scripts.train_emotion``: its YAML, then ``BASE``
(the YAML's recipe when the sweep ran: all 16,000 texts, batch 32, lr 5e-5, no warm-up, two
epochs, length grouping), then the configuration's flags, which win.
It is a screen, not the result: the chosen recipes are then measured over three seeds by
``benchmarks/emotion_finetune.py``. Results go to ``benchmarks/results/emotion_sweep_<device>.json``
(every run, with its flags) and a Markdown table beside it.
"""

from __future__ import annotations

import json
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import course_utils as cu
from course_utils.scripts import train_emotion

RESULTS = Path(__file__).resolve().parent / "results"
#: The starting point every configuration changes (the YAML's full recipe before this sweep chose the new one).
BASE = ["--num_train_epochs", "2", "--learning_rate", "5e-5", "--warmup_steps", "0"]
QUICK = [
    "--max_train_samples",
    "3000",
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
]

#: name -> (what it changes, flags). Full-data configurations first, then quick-budget ones.
CONFIGS: dict[str, tuple[str, list[str]]] = {
    "full/bf16": ("bf16 autocast on the CPU", ["--mixed_precision", "bf16"]),
    "full/bf16-shuffle": (
        "bf16, plain shuffling instead of length grouping",
        ["--mixed_precision", "bf16", "--train_sampling_strategy", "random"],
    ),
    "full/bf16-3ep": ("bf16, three epochs", ["--mixed_precision", "bf16", "--num_train_epochs", "3"]),
    "full/bf16-3ep-lr1e-4-warm": (
        "bf16, three epochs, lr 1e-4 with 10 % warm-up",
        ["--mixed_precision", "bf16", "--num_train_epochs", "3", "--learning_rate", "1e-4", "--warmup_steps", "0.1"],
    ),
    "full/bf16-4ep-lr1e-4-warm": (
        "bf16, four epochs, lr 1e-4 with 10 % warm-up",
        ["--mixed_precision", "bf16", "--num_train_epochs", "4", "--learning_rate", "1e-4", "--warmup_steps", "0.1"],
    ),
    # Step time only: 60 steps of each way to batch the full training set, one after the other.
    **{
        f"speed/{name}": (what, flags + ["--max_steps", "60"])
        for name, (what, flags) in {
            "fp32-grouped": ("float32, length grouping, batch 32", ["--mixed_precision", "no"]),
            "bf16-grouped": ("bf16, length grouping, batch 32", ["--mixed_precision", "bf16"]),
            "fp32-shuffled": (
                "float32, plain shuffling, batch 32",
                ["--mixed_precision", "no", "--train_sampling_strategy", "random"],
            ),
            "bf16-shuffled": (
                "bf16, plain shuffling, batch 32",
                ["--mixed_precision", "bf16", "--train_sampling_strategy", "random"],
            ),
        }.items()
    },
    "quick/bf16": ("quick recipe, bf16", QUICK + ["--mixed_precision", "bf16"]),
    "quick/bf16-5000": (
        "quick recipe, bf16, 5,000 texts",
        QUICK + ["--mixed_precision", "bf16", "--max_train_samples", "5000"],
    ),
}


def run(name: str) -> dict:
    """Train configuration ``name`` once (seed 0) and return its record."""
    description, flags = CONFIGS[name]
    evaluate = str(not name.startswith("speed/"))
    with tempfile.TemporaryDirectory() as tmp:
        result = train_emotion.main(
            BASE
            + flags
            + [
                "--output_dir",
                tmp,
                "--seed",
                "0",
                "--eval_strategy",
                "no",
                "--do_eval",
                evaluate,
                "--do_predict",
                evaluate,
                "--disable_tqdm",
                "True",
            ]
        )
    return {
        "name": name,
        "changes": description,
        "flags": flags,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        **result,
    }


def table(runs: list[dict]) -> str:
    """The runs as Markdown tables: step times, then accuracies."""
    speed = [r for r in runs if r["name"].startswith("speed/")]
    lines = ["| step-time probe (60 steps) | changes | s/step | examples/s |", "|---|---|---|---|"]
    for r in speed:
        examples = r["recipe"]["per_device_train_batch_size"] / r["seconds_per_step"]
        lines.append(f"| {r['name']} | {r['changes']} | {r['seconds_per_step']:.3f} | {examples:.0f} |")
    lines += [
        "",
        "| config | changes | steps | s/step | train s | val acc | val F1 | test acc | test F1 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        if r["name"].startswith("speed/"):
            continue
        lines.append(
            f"| {r['name']} | {r['changes']}{' (CPU shared)' if r.get('cpu_shared') else ''} | {r['steps']} | {r['seconds_per_step']:.3f} | "
            f"{r['train_seconds']:.0f} | {r['validation']['accuracy']:.4f} | {r['validation']['f1']:.4f} | "
            f"{r['test']['accuracy']:.4f} | {r['test']['f1']:.4f} |"
        )
    return "\n".join(lines) + "\n"


def write_markdown(record: dict, path: Path) -> None:
    """The sweep as a Markdown page beside its JSON."""
    shared = (
        "Runs marked (CPU shared) ran while other jobs used the CPU: their step times are "
        "inflated, their accuracies are not affected. The step-time probes ran alone."
    )
    path.write_text(
        f"# Emotion recipe sweep\n\n{record['note']}. {shared}\n\n" + table(record["runs"]), encoding="utf-8"
    )


def main(names: list[str]) -> None:
    unknown = sorted(set(names) - set(CONFIGS))
    if unknown:
        raise SystemExit(f"unknown configuration(s) {unknown}; known: {', '.join(CONFIGS)}")
    cu.logs.quiet()
    path = RESULTS / f"emotion_sweep_{cu.get_device()}.json"
    record = json.loads(path.read_text()) if path.exists() else {"runs": []}
    done = {r["name"] for r in record["runs"]}
    for name in names or [n for n in CONFIGS if n not in done]:
        result = run(name)
        print(json.dumps(result), flush=True)
        record["runs"] = [r for r in record["runs"] if r["name"] != name] + [result]
        record["runs"].sort(key=lambda r: list(CONFIGS).index(r["name"]))
        record["note"] = (
            "seed 0, one run each, on " + cu.get_device() + " with "
            f"{result['threads']} threads: a screen; emotion_finetune.py measures the chosen recipes over 3 seeds"
        )
        RESULTS.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        write_markdown(record, path.with_suffix(".md"))


if __name__ == "__main__":
    main(sys.argv[1:])
