"""course_utils.standins: building a stand-in leaves the caller's random generators where they were.

A notebook's first run builds the stand-ins after ``seed_everything(0)``; every later run finds
them built. Both must draw the same numbers afterwards (notebook 03's masked-LM head once came out
differently on a first run). The builders run here for real, on tiny models and a few texts.
"""

from __future__ import annotations

import functools
import json
import random

import numpy as np
import pytest
import torch

import course_utils as cu
from course_utils import standins


def _draws() -> tuple:
    return random.random(), float(np.random.rand()), torch.rand(3).tolist(), torch.nn.Linear(4, 4).weight.sum().item()


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def _after_build(build) -> tuple:
    """What a seeded caller draws after ``build()``; must equal what it draws without it."""
    cu.seed_everything(0)
    build()
    return _draws()


def _expected() -> tuple:
    cu.seed_everything(0)
    return _draws()


def test_publish_atomically_restores_the_generators_whatever_the_build_draws(empty_cache):
    def build(out):
        torch.manual_seed(123)  # as the sentiment build does
        random.seed(5)
        np.random.seed(5)
        torch.nn.Linear(100, 100)  # a fresh model's initial weights
        (out / "config.json").write_text("{}")

    target = empty_cache / "built"
    assert _after_build(lambda: standins.publish_atomically(build, target)) == _expected()
    assert (target / "config.json").is_file()


def test_the_causal_lm_conversion_keeps_the_random_state(empty_cache, monkeypatch):
    # The GGUF load (20 s) is replaced by a tiny random Llama; the conversion (a fresh model of the
    # same config, which draws its initial weights, then the copy) runs as written.
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tiny = LlamaForCausalLM(
        LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2)
    )

    class Tokenizer:
        def save_pretrained(self, out):
            (out / "tokenizer_config.json").write_text("{}")

    monkeypatch.setattr(standins, "smollm2_gguf", lambda: empty_cache / "model.gguf")
    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", lambda *a, **k: tiny)
    monkeypatch.setattr(AutoTokenizer, "from_pretrained", lambda *a, **k: Tokenizer())
    paths = []
    assert _after_build(lambda: paths.append(standins.smollm2_path())) == _expected()
    assert (paths[0] / "config.json").is_file() and (paths[0] / "model.safetensors").is_file()


def test_the_sentiment_fine_tuning_keeps_the_random_state(empty_cache, monkeypatch):
    # MiniLM's real tokenizer, a 1-layer BERT of its vocabulary and 48 snippets instead of 4,000.
    from transformers import AutoTokenizer, BertConfig, BertModel

    base = empty_cache / "tiny-minilm"
    AutoTokenizer.from_pretrained(standins.minilm_path()).save_pretrained(base)
    torch.manual_seed(1)
    BertModel(
        BertConfig(vocab_size=30522, hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16)
    ).save_pretrained(base)
    texts = [f"{word} film number {i}" for i, word in enumerate(["a dull", "a great"] * 24)]
    monkeypatch.setattr(standins, "minilm_path", lambda: base)
    monkeypatch.setattr(standins, "rotten_tomatoes", lambda: (texts, [i % 2 for i in range(len(texts))]))
    monkeypatch.setattr(
        standins, "_build_sentiment", functools.partial(standins._build_sentiment, n_train=32, n_test=16)
    )
    paths = []
    assert _after_build(lambda: paths.append(standins.sentiment_path())) == _expected()
    record = json.loads((paths[0] / "standin.json").read_text())
    assert record["n_train"] == 32 and record["n_test"] == 16
