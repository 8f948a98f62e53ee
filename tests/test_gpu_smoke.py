"""benchmarks/gpu_smoke.py on the CPU (bf16): the GPU smoke test's own code path, one step at a time."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import gpu_smoke  # noqa: E402


def test_cpu_run_trains_the_recipe_in_bf16_generates_and_writes_its_record(tmp_path, capsys):
    out = tmp_path / "smoke.json"
    record = gpu_smoke.main(["--device", "cpu", "--steps", "2", "--new-tokens", "4", "--out", str(out)])
    assert json.loads(out.read_text()) == record and list(record["precisions"]) == ["bf16"]
    result = record["precisions"]["bf16"]
    assert result["ok"], result.get("traceback")
    train, generate = result["train"], result["generate"]
    assert train["trainer_device"] == "cpu" and train["bf16"] and not train["fp16"]
    assert train["matmul_dtype"] == "torch.bfloat16"  # autocast really ran in bf16
    assert train["torch_dtype_of_weights"] == "torch.float32" and train["loss_scaler"] is None
    assert train["batch_size"] == 32 and train["steps"] == 2 and len(train["step_seconds"]) == 2  # the recipe's batch
    assert generate["dtype"] == "torch.bfloat16" and generate["new_tokens"] == 4 and generate["tokens_per_second"] > 0
    assert "| bf16 | torch.bfloat16 on cpu |" in capsys.readouterr().out


def test_fp16_is_refused_on_a_cpu(tmp_path):
    with pytest.raises(SystemExit):
        gpu_smoke.main(["--device", "cpu", "--precisions", "fp16", "--out", str(tmp_path / "x.json")])


def test_synthetic_examples_have_emotions_lengths_and_labels():
    examples = gpu_smoke.synthetic_examples(64)
    assert all(8 <= len(e["input_ids"]) <= 64 and 0 <= e["labels"] < 6 for e in examples)
    batch = gpu_smoke.pad_batch(examples[:4])
    width = max(len(e["input_ids"]) for e in examples[:4])
    assert batch["input_ids"].shape == (4, width) and int(batch["attention_mask"][0].sum()) == len(
        examples[0]["input_ids"]
    )
    assert examples == gpu_smoke.synthetic_examples(64)  # a private generator: the same examples every run
