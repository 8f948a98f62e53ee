"""GPU smoke test: one training step of notebook 05's recipe and one generation as in 07, per precision.

    python benchmarks/gpu_smoke.py                     # the best device (cuda, mps, else cpu), every precision
    python benchmarks/gpu_smoke.py --device cpu        # bf16 only: what tests/test_gpu_smoke.py runs
    python benchmarks/gpu_smoke.py --out $OUT/gpu_smoke_cuda.json

Training takes the path of ``course_utils/scripts/train_emotion.py``: its ``parse_args`` reads the
full recipe (``train_emotion.yaml``: batch 32, learning rate 1e-4 with warm-up, weight decay, length
grouping) and resolves ``--mixed_precision`` into ``TrainingArguments``; ``Trainer`` then runs
``--steps`` optimizer steps on a tiny random BERT (2 layers, hidden 128) and synthetic texts of
emotion's lengths (8 to 64 tokens, 6 labels). Generation runs a tiny random Llama greedily, as
notebook 07 does, in the precision's dtype. Each precision records its step times, its loss (must
be finite), the dtype the attention's matrix products ran in, ``Trainer``'s loss scaler, the
generation's tokens per second and how many of its tokens equal the float32 run's.

Precisions: ``no`` (float32, the baseline), ``fp16`` and ``bf16`` on a GPU; only ``bf16`` on a CPU
(fp16 autocast does not run there). Nothing is downloaded and no course data or stand-in is read:
the script needs torch, transformers, accelerate and PyYAML, and runs on a machine without network.
It prints a table and writes a JSON record (default ``benchmarks/results/gpu_smoke_<device>.json``);
the exit status is 1 when a precision failed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the network: everything here is built locally
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from course_utils import env as course_env  # noqa: E402
from course_utils import logs as course_logs  # noqa: E402
from course_utils.scripts import train_emotion  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
PRECISIONS = ("no", "fp16", "bf16")
DEVICES = ("cuda", "mps", "cpu")
#: The recipe's flags that would evaluate, save or log: off for a smoke step.
SMOKE_FLAGS = [
    "--eval_strategy", "no", "--do_eval", "False", "--do_predict", "False", "--save_strategy", "no",
    "--disable_tqdm", "True", "--report_to", "none", "--logging_strategy", "no",
]  # fmt: skip
VOCAB, LABELS = 1000, 6


def synchronize(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()
    elif device == "mps":
        torch.mps.synchronize()


def machine(device: str) -> dict[str, Any]:
    """What ran the smoke test: device and its name, compute capability, library versions, auto's choice."""
    import torch

    info: dict[str, Any] = {
        "device": device,
        "python": platform.python_version(),
        "torch_threads": torch.get_num_threads(),
    }
    if device == "cuda":
        info["gpu"] = torch.cuda.get_device_name()
        info["compute_capability"] = "{}.{}".format(*torch.cuda.get_device_capability())
        info["cuda"] = torch.version.cuda
    for package in ("torch", "transformers", "accelerate"):
        info[package] = course_env.package_version(package)
    info["auto_precision"], info["auto_reason"] = course_env.auto_precision(device)
    return info


def synthetic_examples(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` token-id sequences of emotion's lengths (8 to 64 tokens) with labels 0-5, from a private generator."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    lengths = torch.randint(8, 65, (n,), generator=gen).tolist()
    labels = torch.randint(0, LABELS, (n,), generator=gen).tolist()
    return [
        {
            "input_ids": [101] + torch.randint(1000 - 900, VOCAB, (length - 2,), generator=gen).tolist() + [102],
            "labels": label,
        }
        for length, label in zip(lengths, labels)
    ]


def pad_batch(features: list[dict[str, Any]]) -> dict[str, Any]:
    """Dynamic padding, as 05's collator does: every sequence to the longest of its batch."""
    import torch

    width = max(len(f["input_ids"]) for f in features)
    ids = torch.zeros(len(features), width, dtype=torch.long)
    mask = torch.zeros(len(features), width, dtype=torch.long)
    for row, f in enumerate(features):
        ids[row, : len(f["input_ids"])] = torch.tensor(f["input_ids"])
        mask[row, : len(f["input_ids"])] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": torch.tensor([f["labels"] for f in features])}


def tiny_bert() -> Any:
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=VOCAB, hidden_size=128, num_hidden_layers=2, num_attention_heads=4, intermediate_size=256,
        max_position_embeddings=128, num_labels=LABELS,
    )  # fmt: skip
    model = BertForSequenceClassification(config)
    model.accepts_loss_kwargs = False  # as train_emotion.main does
    return model


def train_steps(precision: str, device: str, steps: int) -> dict[str, Any]:
    """``steps`` optimizer steps of the recipe at ``precision`` through ``Trainer``; times, loss, what ran."""
    import torch
    from transformers import Trainer, TrainerCallback

    with tempfile.TemporaryDirectory() as out:
        argv = ["--output_dir", out, "--mixed_precision", precision, "--max_steps", str(steps), *SMOKE_FLAGS]
        if device == "cpu":
            argv += ["--use_cpu", "True"]
        _, _, args = train_emotion.parse_args(argv)
        model = tiny_bert()
        seen: dict[str, str] = {}
        query = model.bert.encoder.layer[0].attention.self.query

        def record_dtype(module: Any, inputs: Any, output: Any) -> None:  # returns None: the output stays
            seen.setdefault("matmul_dtype", str(output.dtype))

        hook = query.register_forward_hook(record_dtype)
        step_seconds: list[float] = []

        class StepTimer(TrainerCallback):
            def on_step_begin(self, *a: Any, **k: Any) -> None:
                synchronize(device)
                self.t0 = time.perf_counter()

            def on_step_end(self, *a: Any, **k: Any) -> None:
                synchronize(device)
                step_seconds.append(time.perf_counter() - self.t0)

        data = synthetic_examples(steps * args.per_device_train_batch_size)
        trainer = Trainer(model=model, args=args, train_dataset=data, data_collator=pad_batch, callbacks=[StepTimer()])
        output = trainer.train()
        hook.remove()
    scaler = getattr(trainer.accelerator, "scaler", None)
    return {
        "trainer_device": str(args.device),
        "fp16": args.fp16,
        "bf16": args.bf16,
        "accelerate_mixed_precision": str(trainer.accelerator.mixed_precision),
        "matmul_dtype": seen.get("matmul_dtype"),
        "loss_scaler": type(scaler).__name__ if scaler is not None else None,
        "batch_size": args.per_device_train_batch_size,
        "steps": output.global_step,
        "step_seconds": [round(s, 4) for s in step_seconds],
        "first_step_seconds": round(step_seconds[0], 4),
        "later_step_seconds": round(sum(step_seconds[1:]) / len(step_seconds[1:]), 4)
        if len(step_seconds) > 1
        else None,
        "train_loss": round(output.training_loss, 4),
        "loss_finite": math.isfinite(output.training_loss),
        "torch_dtype_of_weights": str(next(model.parameters()).dtype),
        "max_memory_mb": round(torch.cuda.max_memory_allocated() / 2**20, 1) if device == "cuda" else None,
    }


def tiny_llama() -> Any:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=VOCAB, hidden_size=128, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=256, bos_token_id=1, eos_token_id=2, pad_token_id=0,
    )  # fmt: skip
    return LlamaForCausalLM(config).eval()


def generate(precision: str, device: str, new_tokens: int) -> dict[str, Any]:
    """Greedy generation of ``new_tokens`` tokens (07's ``generate(do_sample=False)``) in the precision's dtype."""
    import torch

    dtype = {"no": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]
    prompt = torch.randint(3, VOCAB, (1, 16), generator=torch.Generator().manual_seed(1))
    settings = dict(max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False, eos_token_id=None)
    with torch.inference_mode():
        reference = tiny_llama().generate(prompt, **settings)[0, 16:]  # float32 on the CPU
        model = tiny_llama().to(device=device, dtype=dtype)
        inputs = prompt.to(device)
        model.generate(inputs, **{**settings, "max_new_tokens": 2, "min_new_tokens": 2})  # warm-up: kernels, caches
        synchronize(device)
        t0 = time.perf_counter()
        ids = model.generate(inputs, **settings)[0, 16:].cpu()
        synchronize(device)
        seconds = time.perf_counter() - t0
    return {
        "dtype": str(dtype),
        "new_tokens": int(ids.numel()),
        "seconds": round(seconds, 4),
        "tokens_per_second": round(ids.numel() / seconds, 1),
        "tokens_equal_to_float32": int((ids == reference).sum()),
    }


def run(device: str, precisions: list[str], steps: int, new_tokens: int) -> dict[str, Any]:
    record: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(device),
        "settings": {
            "steps": steps,
            "new_tokens": new_tokens,
            "model": "random BERT 2x128 (train), random Llama 2x128 (generate)",
        },
        "precisions": {},
    }
    for precision in precisions:
        result: dict[str, Any] = {}
        try:
            result["train"] = train_steps(precision, device, steps)
            result["generate"] = generate(precision, device, new_tokens)
            result["ok"] = result["train"]["loss_finite"]
        except Exception as exc:  # recorded, so that one failing precision does not hide the others
            result.update(ok=False, error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc()[-2000:])
        record["precisions"][precision] = result
    return record


def table(record: dict[str, Any]) -> str:
    m = record["machine"]
    lines = [
        f"{m.get('gpu', m['device'])} (compute capability {m.get('compute_capability', '-')}), torch {m['torch']}, "
        f"transformers {m['transformers']}; auto picks {m['auto_precision']} ({m['auto_reason']})",
        "| precision | train: ran in | loss scaler | first step s | later steps s | loss | generate tok/s | = float32 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in record["precisions"].items():
        if "error" in r:
            lines.append(f"| {name} | FAILED: {r['error'][:80]} | | | | | | |")
            continue
        t, g = r["train"], r["generate"]
        lines.append(
            f"| {name} | {t['matmul_dtype']} on {t['trainer_device']} | {t['loss_scaler']} | {t['first_step_seconds']} | "
            f"{t['later_step_seconds']} | {t['train_loss']} | {g['tokens_per_second']} | {g['tokens_equal_to_float32']}/{g['new_tokens']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", choices=DEVICES, default=None, help="default: the best available")
    parser.add_argument(
        "--precisions", nargs="+", choices=PRECISIONS, default=None,
        help="default: no fp16 bf16 on a GPU, bf16 on a CPU",
    )  # fmt: skip
    parser.add_argument("--steps", type=int, default=3, help="optimizer steps per precision (the first is a warm-up)")
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument(
        "--out", type=Path, default=None, help="JSON record (default: benchmarks/results/gpu_smoke_<device>.json)"
    )
    args = parser.parse_args(argv)
    device = args.device or course_env.get_device()
    precisions = args.precisions or (["bf16"] if device == "cpu" else list(PRECISIONS))
    if device == "cpu" and "fp16" in precisions:
        parser.error("fp16 autocast needs a GPU; on a CPU use --precisions bf16 (or no)")
    if args.steps < 1 or args.new_tokens < 1:
        parser.error("--steps and --new-tokens must be positive")
    course_logs.quiet()
    record = run(device, precisions, args.steps, args.new_tokens)
    out = args.out or RESULTS / f"gpu_smoke_{device}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(table(record))
    print(f"record: {out}")
    return record


if __name__ == "__main__":
    result = main()
    sys.exit(0 if all(r["ok"] for r in result["precisions"].values()) else 1)
