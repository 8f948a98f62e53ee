"""course_utils.scripts.train_emotion: defaults < YAML < flags, and a tiny training run end to end."""

from __future__ import annotations

import json
import warnings

import pytest

import course_utils as cu
from course_utils.scripts import train_emotion

#: Flags for a run that only trains: no evaluation, no test predictions, no progress bars.
TRAIN_ONLY = ["--eval_strategy", "no", "--do_eval", "False", "--do_predict", "False", "--disable_tqdm", "True"]
WORDS = ["sad", "happy", "loving", "angry", "scared", "amazed"]


def _tiny_emotion(root, rows: int = 24) -> None:
    folder = root / "emotion"
    folder.mkdir(parents=True)
    for split in ("train", "validation", "test"):
        with (folder / f"{split}.jsonl").open("w") as fh:
            for i in range(rows):
                fh.write(json.dumps({"text": f"i feel so {WORDS[i % 6]} about day {i}", "label": i % 6}) + "\n")


@pytest.fixture
def offline_tiny_data(tmp_path, monkeypatch):
    _tiny_emotion(tmp_path / "data")
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return tmp_path


def test_yaml_replaces_defaults_and_flags_win(tmp_path):
    model_args, data_args, args = train_emotion.parse_args(["--output_dir", str(tmp_path)])
    assert args.num_train_epochs == 4 and args.learning_rate == pytest.approx(1e-4)  # from the YAML
    assert args.warmup_steps == pytest.approx(0.1)
    assert (args.bf16 or args.fp16) == (cu.env.auto_precision()[0] != "no")  # mixed_precision: auto
    assert args.per_device_train_batch_size == 32 and args.do_predict is True
    assert args.save_strategy == "no" and args.push_to_hub is False and args.do_eval is True
    assert data_args.max_train_samples is None and model_args.model_name == cu.ENCODER
    _, data_args, args = train_emotion.parse_args(
        ["--output_dir", str(tmp_path), "--num_train_epochs", "1", "--max_train_samples", "64", "--do_predict", "False"]
    )
    assert args.num_train_epochs == 1 and data_args.max_train_samples == 64 and args.do_predict is False
    assert args.learning_rate == pytest.approx(1e-4)  # untouched keys keep the YAML's value


def test_another_yaml_file(tmp_path):
    config = tmp_path / "small.yaml"
    config.write_text("learning_rate: 1.0e-4\nmax_length: 32\nfreeze_embeddings: true\n")
    model_args, data_args, args = train_emotion.parse_args(["--config", str(config), "--output_dir", str(tmp_path)])
    assert args.learning_rate == pytest.approx(1e-4) and data_args.max_length == 32 and model_args.freeze_embeddings
    assert args.num_train_epochs == 3  # not in this file: transformers' own default


def test_bad_configurations_are_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        train_emotion.parse_args([])  # no --output_dir
    assert "--output_dir" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("learning_rate: 1.0e-4\nepochs: 3\n")
    with pytest.raises(SystemExit):
        train_emotion.parse_args(["--config", str(bad), "--output_dir", str(tmp_path)])
    assert "epochs" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        train_emotion.parse_args(["--config", str(tmp_path / "missing.yaml"), "--output_dir", str(tmp_path)])
    with pytest.raises(ValueError, match="max_train_samples"):
        train_emotion.parse_args(["--output_dir", str(tmp_path), "--max_train_samples", "0"])


def test_tiny_run_trains_saves_and_reloads(offline_tiny_data):
    out = offline_tiny_data / "run"
    results = train_emotion.main(
        [
            "--output_dir",
            str(out),
            "--max_steps",
            "3",
            "--per_device_train_batch_size",
            "8",
            "--max_length",
            "16",
            "--freeze_embeddings",
            "True",
            "--head_learning_rate",
            "1e-3",
            "--eval_strategy",
            "no",
            "--disable_tqdm",
            "True",
        ]
    )
    assert results["steps"] == 3 and results["train_examples"] == 24
    assert results["validation"]["examples"] == 24 and results["test"]["examples"] == 24
    for split in ("validation", "test"):
        assert 0.0 <= results[split]["accuracy"] <= 1.0 and 0.0 <= results[split]["f1"] <= 1.0
    assert json.loads((out / "results.json").read_text()) == results
    from transformers import pipeline

    classifier = pipeline("text-classification", model=str(out), device="cpu")
    prediction = classifier("i feel so happy about today")[0]
    assert prediction["label"] in cu.EMOTION_LABELS and 0.0 < prediction["score"] <= 1.0


def test_gradient_accumulation_reports_the_mean_loss(offline_tiny_data):
    # A new 6-class head starts near ln 6 = 1.79. Without `accepts_loss_kwargs = False` transformers
    # 5.24 skips its division by gradient_accumulation_steps for this model: it would report ~3.6.
    results = train_emotion.main(
        [
            "--output_dir",
            str(offline_tiny_data / "ga"),
            "--max_steps",
            "1",
            "--per_device_train_batch_size",
            "4",
            "--gradient_accumulation_steps",
            "2",
            "--learning_rate",
            "1e-8",
            "--max_length",
            "16",
            *TRAIN_ONLY,
        ]
    )
    assert results["steps"] == 1
    assert 1.2 < results["train_loss"] < 2.4, results["train_loss"]


def test_parameter_groups_split_head_from_body():
    model = _tiny_classifier("bert")
    model.get_input_embeddings().weight.requires_grad_(False)
    body, head = train_emotion.parameter_groups(model, 1e-4, 1e-3)
    assert body["lr"] == 1e-4 and head["lr"] == 1e-3
    head_names = {n for n, p in model.named_parameters() if any(p is q for q in head["params"])}
    assert head_names == {"bert.pooler.dense.weight", "bert.pooler.dense.bias", "classifier.weight", "classifier.bias"}
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert sum(p.numel() for p in body["params"] + head["params"]) == trainable  # frozen embeddings left out
    assert train_emotion.is_head_parameter("classifier.weight", "bert")
    assert not train_emotion.is_head_parameter("bert.encoder.layer.0.output.dense.weight", "bert")


def test_parameter_groups_rejects_bad_inputs():
    from torch import nn

    with pytest.raises(ValueError, match="positive"):
        train_emotion.parameter_groups(nn.Linear(2, 2), 0.0, 1e-3)
    with pytest.raises(ValueError, match="base_model_prefix"):
        train_emotion.parameter_groups(nn.Linear(2, 2), 1e-4, 1e-3)


def test_dataset_padding_pads_every_text_to_the_longest(offline_tiny_data):
    from transformers import TrainerCallback

    seen = []

    class Shapes(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            seen.append(state.global_step)

    results = train_emotion.main(
        [
            "--output_dir",
            str(offline_tiny_data / "pad"),
            "--max_steps",
            "2",
            "--per_device_train_batch_size",
            "4",
            "--padding",
            "dataset",
            "--max_length",
            "32",
            *TRAIN_ONLY,
            "--mixed_precision",
            "no",
        ],
        callbacks=[Shapes()],
    )
    assert seen == [0, 1] and results["recipe"]["padding"] == "dataset" and results["recipe"]["bf16"] is False
    assert results["steps"] == 2 and results["seconds_per_step"] > 0 and results["tokenize_seconds"] >= 0
    with pytest.raises(ValueError, match="--padding must be 'batch' or 'dataset'"):
        train_emotion.parse_args(["--output_dir", str(offline_tiny_data), "--padding", "longest"])


def test_dataset_padding_gives_one_length_per_split(offline_tiny_data, monkeypatch):
    # The book's tokenization: batch_size=None makes the whole split one batch, padded to its longest text.
    from datasets import Dataset

    calls = []
    original = Dataset.map

    def spy(self, function=None, *args, **kwargs):
        out = original(self, function, *args, **kwargs)
        if "input_ids" in out.column_names:
            calls.append({len(ids) for ids in out["input_ids"]})
        return out

    monkeypatch.setattr(Dataset, "map", spy)
    train_emotion.main(
        [
            "--output_dir",
            str(offline_tiny_data / "p2"),
            "--max_steps",
            "1",
            "--padding",
            "dataset",
            *TRAIN_ONLY,
            "--mixed_precision",
            "no",
        ]
    )
    assert len(calls) == 3 and all(len(lengths) == 1 for lengths in calls)  # every text of a split: one length


def test_mixed_precision_choices(monkeypatch):
    assert train_emotion.mixed_precision("no", "cuda") == {}
    assert train_emotion.mixed_precision("bf16", "cpu") == {"bf16": True, "use_cpu": True}
    monkeypatch.setattr(cu.env, "cpu_has_fast_bf16", lambda: True)
    assert train_emotion.mixed_precision("auto", "cpu") == {"bf16": True, "use_cpu": True}
    monkeypatch.setattr(cu.env, "cpu_has_fast_bf16", lambda: False)
    assert train_emotion.mixed_precision("auto", "cpu") == {}  # emulated bf16 is slower than float32
    with pytest.raises(ValueError, match="mixed_precision must be one of"):
        train_emotion.mixed_precision("half", "cpu")
    with pytest.raises(ValueError, match="needs a GPU"):
        train_emotion.mixed_precision("fp16", "cpu")


#: (name, compute capability) of the cards learners bring, and what ``auto`` must pick on each.
CARDS = [
    ("Tesla T4", (7, 5), "fp16"),  # Colab's free GPU: no bfloat16 units
    ("Tesla V100-SXM2-16GB", (7, 0), "fp16"),
    ("NVIDIA A100-SXM4-40GB", (8, 0), "bf16"),
    ("NVIDIA H100 80GB HBM3", (9, 0), "bf16"),
]


def _card(monkeypatch, name, capability):
    """Mock the device properties of one CUDA card; is_bf16_supported answers True, as torch does on every card."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: name)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)


@pytest.mark.parametrize(("name", "capability", "expected"), CARDS)
def test_auto_precision_follows_the_compute_capability(monkeypatch, name, capability, expected):
    import torch

    _card(monkeypatch, name, capability)
    assert cu.get_device() == "cuda"
    choice, reason = cu.env.auto_precision()
    assert choice == expected and name in reason and f"{capability[0]}.{capability[1]}" in reason
    assert train_emotion.mixed_precision("auto") == {expected: True}
    bf16 = expected == "bf16"
    assert train_emotion.autocast_dtype("auto") is (torch.bfloat16 if bf16 else None)  # no scaler in a plain loop
    assert train_emotion.autocast_dtype("auto", grad_scaler=True) is (torch.bfloat16 if bf16 else torch.float16)
    assert train_emotion.autocast_dtype("fp16") is torch.float16


@pytest.mark.parametrize(("name", "capability", "expected"), CARDS)
def test_the_recipe_gets_the_precision_of_the_card(tmp_path, monkeypatch, name, capability, expected):
    import torch

    _card(monkeypatch, name, capability)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # TrainingArguments itself stays on the CPU
    monkeypatch.setattr("course_utils.env.get_device", lambda: "cuda")
    monkeypatch.setattr("transformers.training_args.is_torch_bf16_gpu_available", lambda: True)
    model_args, _, args = train_emotion.parse_args(["--output_dir", str(tmp_path)])  # the YAML says auto
    assert (args.fp16, args.bf16) == (expected == "fp16", expected == "bf16") and not args.use_cpu


def test_bf16_forced_on_a_card_without_bfloat16_units_warns(monkeypatch):
    _card(monkeypatch, "Tesla T4", (7, 5))
    with pytest.warns(UserWarning, match="compute capability 7.5"):
        assert train_emotion.mixed_precision("bf16", "cuda") == {"bf16": True}
    _card(monkeypatch, "NVIDIA A100-SXM4-40GB", (8, 0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert train_emotion.mixed_precision("bf16", "cuda") == {"bf16": True}


def test_apple_mps_gets_float16(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert cu.get_device() == "mps"
    choice, reason = cu.env.auto_precision()
    assert choice == "fp16" and "Apple" in reason
    assert train_emotion.mixed_precision("auto") == {"fp16": True}
    assert train_emotion.mixed_precision("bf16") == {"bf16": True}  # allowed when asked (macOS 14 or newer)
    assert (
        train_emotion.autocast_dtype("auto") is None
        and train_emotion.autocast_dtype("auto", grad_scaler=True) is torch.float16
    )


def test_mixed_precision_from_yaml_and_flag(tmp_path, monkeypatch):
    monkeypatch.setattr(cu.env, "cpu_has_fast_bf16", lambda: True)
    monkeypatch.setattr("course_utils.env.get_device", lambda: "cpu")
    config = tmp_path / "bf16.yaml"
    config.write_text("mixed_precision: auto\nnum_train_epochs: 1\n")
    _, _, args = train_emotion.parse_args(["--config", str(config), "--output_dir", str(tmp_path)])
    assert args.bf16 is True and args.use_cpu is True
    _, _, args = train_emotion.parse_args(
        ["--config", str(config), "--output_dir", str(tmp_path), "--mixed_precision", "no"]
    )
    assert args.bf16 is False
    with pytest.raises(SystemExit):
        train_emotion.parse_args(["--output_dir", str(tmp_path), "--mixed_precision", "fp8"])


def _tiny_classifier(model_type: str = "bert"):
    from transformers import (
        BertConfig,
        BertForSequenceClassification,
        DistilBertConfig,
        DistilBertForSequenceClassification,
    )

    if model_type == "bert":
        return BertForSequenceClassification(
            BertConfig(
                vocab_size=50,
                hidden_size=16,
                num_hidden_layers=1,
                num_attention_heads=2,
                intermediate_size=32,
                num_labels=3,
            )
        )
    return DistilBertForSequenceClassification(
        DistilBertConfig(vocab_size=50, dim=16, n_layers=1, n_heads=2, hidden_dim=32, num_labels=3)
    )


def test_lora_config_trains_every_new_layer_in_full():
    from peft import get_peft_model

    assert train_emotion.head_module_names(_tiny_classifier("bert")) == ["classifier", "pooler"]
    assert train_emotion.head_module_names(_tiny_classifier("distilbert")) == ["classifier", "pre_classifier"]
    model = _tiny_classifier("bert")
    config = train_emotion.lora_config(model, rank=4)
    assert config.r == 4 and config.lora_alpha == 8 and set(config.target_modules) == {"query", "value"}
    peft_model = get_peft_model(model, config)
    trainable = {n for n, p in peft_model.named_parameters() if p.requires_grad}
    assert any(".pooler." in n and "modules_to_save" in n for n in trainable)  # the pooler trains, as in full FT
    assert any(n.startswith("base_model.model.classifier.modules_to_save") for n in trainable)
    assert all("lora_" in n or "modules_to_save" in n for n in trainable)
    assert sum(1 for n in trainable if "lora_A" in n) == 2  # one layer x (query, value)


def test_lora_config_rejects_bad_inputs():
    from torch import nn

    with pytest.raises(ValueError, match="rank"):
        train_emotion.lora_config(_tiny_classifier(), rank=0)
    with pytest.raises(ValueError, match="base_model_prefix"):
        train_emotion.head_module_names(nn.Linear(2, 2))
    model = _tiny_classifier()
    model.config.model_type = "gpt2"
    with pytest.raises(ValueError, match="model_type must be one of"):
        train_emotion.lora_config(model)
    with pytest.raises(ValueError, match="lora_rank"):
        train_emotion.ModelArguments(lora_rank=-1)
    with pytest.raises(ValueError, match="head_learning_rate"):
        train_emotion.ModelArguments(lora_rank=8, head_learning_rate=1e-3)


def test_tiny_lora_run_trains_only_the_adapter_and_head(offline_tiny_data):
    out = offline_tiny_data / "lora"
    results = train_emotion.main(
        [
            "--output_dir",
            str(out),
            "--max_steps",
            "2",
            "--per_device_train_batch_size",
            "8",
            "--max_length",
            "16",
            "--lora_rank",
            "4",
            "--learning_rate",
            "1e-3",
            "--eval_strategy",
            "no",
            "--disable_tqdm",
            "True",
        ]
    )
    full = train_emotion.main(
        [
            "--output_dir",
            str(offline_tiny_data / "full"),
            "--max_steps",
            "1",
            "--per_device_train_batch_size",
            "8",
            "--max_length",
            "16",
            *TRAIN_ONLY,
        ]
    )
    assert results["steps"] == 2 and results["recipe"]["lora_rank"] == 4
    assert 0 < results["trainable_parameters"] < full["trainable_parameters"] / 50
    assert (out / "adapter_config.json").is_file() and (out / "adapter_model.safetensors").is_file()
    import torch
    from peft import PeftModel
    from safetensors.torch import load_file
    from transformers import AutoModelForSequenceClassification

    base = AutoModelForSequenceClassification.from_pretrained(
        cu.resolve_checkpoint(cu.ENCODER, verbose=False), num_labels=len(cu.EMOTION_LABELS)
    )
    reloaded = PeftModel.from_pretrained(base, str(out))
    saved = load_file(str(out / "adapter_model.safetensors"))
    head = next(k for k in saved if k.endswith("classifier.weight"))
    assert torch.equal(reloaded.base_model.model.classifier.modules_to_save["default"].weight, saved[head])


def test_autocast_dtype_follows_mixed_precision(monkeypatch):
    import torch

    assert train_emotion.autocast_dtype("no", "cpu") is None
    assert train_emotion.autocast_dtype("bf16", "cpu") is torch.bfloat16
    monkeypatch.setattr(cu.env, "cpu_has_fast_bf16", lambda: False)
    assert train_emotion.autocast_dtype("auto", "cpu") is None
    monkeypatch.setattr(cu.env, "cpu_has_fast_bf16", lambda: True)
    assert train_emotion.autocast_dtype("auto", "cpu") is torch.bfloat16
    with pytest.raises(ValueError, match="mixed_precision must be one of"):
        train_emotion.autocast_dtype("fp8", "cpu")
