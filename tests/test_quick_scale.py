"""The quick profile shrinks with the checkpoint's compute (issue 25: 05, 08 and 10 under 180 s online)."""

from __future__ import annotations

import json

import pytest

import course_utils as cu
from course_utils.models import QUICK_REFERENCE_PARAMETERS, compute_parameters, quick_scale

DISTILBERT = {  # distilbert-base-uncased's config.json, as the Hub serves it
    "architectures": ["DistilBertForMaskedLM"],
    "model_type": "distilbert",
    "dim": 768,
    "hidden_dim": 3072,
    "n_heads": 12,
    "n_layers": 6,
    "vocab_size": 30522,
    "max_position_embeddings": 512,
}


def _config(tmp_path, config: dict):
    (tmp_path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return str(tmp_path)


def test_the_reference_is_the_encoder_stand_in():
    """The constant is what the offline stand-in counts: its quick sizes stay as they were chosen."""
    stand_in = cu.resolve_checkpoint(cu.ENCODER, verbose=False)
    assert compute_parameters(stand_in) == QUICK_REFERENCE_PARAMETERS
    assert quick_scale(stand_in) == 1.0


def test_distilbert_gets_a_quarter(tmp_path):
    # 6 layers x (4 x 768 x 768 + 2 x 768 x 3072 + biases and norms), no embedding tables
    assert compute_parameters(_config(tmp_path, DISTILBERT)) == 42_528_768
    assert quick_scale(_config(tmp_path, DISTILBERT)) == 0.25


def test_embeddings_do_not_count(tmp_path):
    """A bigger vocabulary costs no compute per token: the scale must not move (a wrong count would)."""
    small = compute_parameters(_config(tmp_path, DISTILBERT))
    assert compute_parameters(_config(tmp_path, {**DISTILBERT, "vocab_size": 120_000})) == small
    norm = 2 * 768  # the embeddings' LayerNorm, counted once however many layers follow
    assert compute_parameters(_config(tmp_path, {**DISTILBERT, "n_layers": 12})) == 2 * (small - norm) + norm


def test_bounds_and_bad_arguments(tmp_path):
    tiny = {**DISTILBERT, "dim": 32, "hidden_dim": 64, "n_heads": 2, "n_layers": 1}
    assert quick_scale(_config(tmp_path, tiny)) == 1.0  # never more than the stand-in's sizes
    huge = {**DISTILBERT, "n_layers": 200}
    assert quick_scale(_config(tmp_path, huge)) == 0.05  # never less than a twentieth
    with pytest.raises(ValueError, match="reference must be a positive number"):
        quick_scale(_config(tmp_path, DISTILBERT), reference=0)
    with pytest.raises(ValueError, match="checkpoint must be a Hub id or a local folder"):
        compute_parameters("")
