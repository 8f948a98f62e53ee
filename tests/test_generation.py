"""Tests of course_utils.generation against transformers' generate and logits processors."""

from __future__ import annotations

import pytest
import torch
from transformers import (
    LlamaConfig,
    LlamaForCausalLM,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from course_utils import generation as gen


@pytest.fixture(scope="module")
def tiny_lm() -> LlamaForCausalLM:
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
    )
    return LlamaForCausalLM(config).eval()


def _logits(seed: int = 0, batch: int = 4, vocab: int = 50) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, vocab, generator=g) * 3


def test_temperature_transform_matches_warper():
    logits = _logits()
    ids = torch.zeros(4, 1, dtype=torch.long)
    for t in (0.3, 1.0, 2.5):
        torch.testing.assert_close(gen.temperature_transform(logits, t), TemperatureLogitsWarper(t)(ids, logits))
    with pytest.raises(ValueError, match="temperature"):
        gen.temperature_transform(logits, 0)


def test_top_k_transform_matches_warper():
    logits = _logits(1)
    ids = torch.zeros(4, 1, dtype=torch.long)
    for k in (1, 5, 50, 80):
        out = gen.top_k_transform(logits, k)
        assert torch.equal(out, TopKLogitsWarper(k)(ids, logits))
        assert (out > float("-inf")).sum(-1).tolist() == [min(k, 50)] * 4
    with pytest.raises(ValueError, match="k must be"):
        gen.top_k_transform(logits, 0)
    with pytest.raises(ValueError, match="2-D"):
        gen.top_k_transform(logits[0], 3)


def test_top_p_transform_matches_warper_and_keeps_the_nucleus():
    ids = torch.zeros(4, 1, dtype=torch.long)
    for seed in range(5):
        logits = _logits(seed)
        for p in (0.1, 0.5, 0.9, 0.99, 1.0):
            out = gen.top_p_transform(logits, p)
            assert torch.equal(out, TopPLogitsWarper(p)(ids, logits)), (seed, p)
            kept = logits.softmax(-1).masked_fill(out == float("-inf"), 0).sum(-1)
            assert bool((kept >= p - 1e-6).all())
    one_token = torch.tensor([[10.0, 0.0, 0.0]])
    assert (gen.top_p_transform(one_token, 0.5) > float("-inf")).sum().item() == 1
    assert (gen.top_p_transform(one_token, 0.5, min_tokens_to_keep=2) > float("-inf")).sum().item() == 2
    with pytest.raises(ValueError, match="p must be"):
        gen.top_p_transform(one_token, 0.0)


def test_sample_next_token_matches_global_rng_and_respects_top_k():
    logits = _logits(2)
    torch.manual_seed(3)
    a = gen.sample_next_token(logits, temperature=0.7, top_k=5, top_p=0.9)
    torch.manual_seed(3)
    scores = TopPLogitsWarper(0.9)(None, TopKLogitsWarper(5)(None, logits / 0.7))
    b = torch.multinomial(scores.softmax(-1), 1).squeeze(1)
    assert torch.equal(a, b)
    top1 = logits.argmax(-1)
    assert torch.equal(gen.sample_next_token(logits, top_k=1), top1)
    with pytest.raises(TypeError, match="logits"):
        gen.sample_next_token(torch.ones(2, 3, dtype=torch.long))


@pytest.mark.parametrize("use_cache", [True, False])
def test_greedy_decode_equals_generate(tiny_lm, use_cache):
    prompt = torch.tensor([[1, 5, 9, 13], [1, 7, 7, 3]])
    ref = tiny_lm.generate(prompt, max_new_tokens=12, do_sample=False, eos_token_id=None, pad_token_id=0)
    ours = gen.greedy_decode(tiny_lm, prompt, max_new_tokens=12, use_cache=use_cache)
    assert ours.shape == (2, 16)
    assert torch.equal(ours, ref)


def test_greedy_decode_stops_and_pads_after_eos(tiny_lm):
    prompt = torch.tensor([[1, 5, 9, 13], [1, 7, 7, 3]])
    free = gen.greedy_decode(tiny_lm, prompt, max_new_tokens=12)
    eos = int(free[0, 6])  # pretend the 3rd generated token of row 0 is EOS
    ref = tiny_lm.generate(prompt, max_new_tokens=12, do_sample=False, eos_token_id=eos, pad_token_id=0)
    ours = gen.greedy_decode(tiny_lm, prompt, max_new_tokens=12, eos_token_id=eos, pad_token_id=0)
    assert torch.equal(ours, ref)
    assert (ours[0, 7:] == 0).all() or ours.shape[1] == 7
    with pytest.raises(ValueError, match="max_new_tokens"):
        gen.greedy_decode(tiny_lm, prompt, max_new_tokens=0)
    with pytest.raises(ValueError, match="input_ids"):
        gen.greedy_decode(tiny_lm, prompt.float(), max_new_tokens=2)


def test_sequence_logprob_sums_token_logprobs(tiny_lm):
    seq = torch.tensor([[1, 5, 9, 13, 2, 2]])
    with torch.no_grad():
        lp = tiny_lm(seq).logits.log_softmax(-1)
    expected = lp[0, 2, 13] + lp[0, 3, 2] + lp[0, 4, 2]
    torch.testing.assert_close(gen.sequence_logprob(tiny_lm, seq, prompt_length=3), expected[None])
    until_eos = lp[0, 2, 13] + lp[0, 3, 2]
    torch.testing.assert_close(gen.sequence_logprob(tiny_lm, seq, 3, eos_token_id=2), until_eos[None])
    with pytest.raises(ValueError, match="prompt_length"):
        gen.sequence_logprob(tiny_lm, seq, prompt_length=6)
