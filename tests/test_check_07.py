"""Checkers of notebook 07: each accepts the worked solution and rejects typical wrong answers with a hint."""

from __future__ import annotations

import torch

from course_utils import check


def min_p(logits, min_p):
    probs = logits.softmax(-1)
    return logits.masked_fill(probs < min_p * probs.max(-1, keepdim=True).values, float("-inf"))


def test_07_1_accepts_solution_and_names_mistakes(capsys):
    assert check.exercise_07_1(min_p)
    capsys.readouterr()
    assert not check.exercise_07_1(lambda logits, p: logits.masked_fill(logits.softmax(-1) < p, float("-inf")))
    assert "min_p is relative" in capsys.readouterr().out
    assert not check.exercise_07_1(lambda logits, p: min_p(logits, p).softmax(-1))
    assert "return the LOGITS" in capsys.readouterr().out
    assert not check.exercise_07_1(lambda logits, p: torch.where(torch.isfinite(min_p(logits, p)), logits, 0.0))
    assert "return the LOGITS" in capsys.readouterr().out
    assert not check.exercise_07_1(
        lambda logits, p: logits.masked_fill(torch.isfinite(min_p(logits, p)), float("-inf"))
    )
    assert "inverted" in capsys.readouterr().out


@torch.no_grad()
def greedy_batch(model, input_ids, attention_mask, max_new_tokens):
    """The worked solution: re-read the whole (left-padded) batch each step, mask extended by one column."""
    for _ in range(max_new_tokens):
        next_ids = model(input_ids, attention_mask=attention_mask).logits[:, -1].argmax(-1, keepdim=True)
        input_ids = torch.cat([input_ids, next_ids], dim=-1)
        attention_mask = torch.cat([attention_mask, torch.ones_like(next_ids)], dim=-1)
    return input_ids


@torch.no_grad()
def greedy_batch_cached(model, input_ids, attention_mask, max_new_tokens):
    out = model(input_ids, attention_mask=attention_mask, use_cache=True)
    for _ in range(max_new_tokens):
        next_ids = out.logits[:, -1].argmax(-1, keepdim=True)
        input_ids = torch.cat([input_ids, next_ids], dim=-1)
        attention_mask = torch.cat([attention_mask, torch.ones_like(next_ids)], dim=-1)
        out = model(next_ids, attention_mask=attention_mask, cache=out.cache, use_cache=True)
    return input_ids


def test_07_2_accepts_solution_and_names_mistakes(capsys):
    assert check.exercise_07_2(greedy_batch)
    assert check.exercise_07_2(greedy_batch_cached)
    capsys.readouterr()

    @torch.no_grad()
    def ignores_mask(model, input_ids, attention_mask, max_new_tokens):
        for _ in range(max_new_tokens):
            next_ids = model(input_ids).logits[:, -1].argmax(-1, keepdim=True)
            input_ids = torch.cat([input_ids, next_ids], dim=-1)
        return input_ids

    assert not check.exercise_07_2(ignores_mask)
    assert "padded rows" in capsys.readouterr().out
    assert not check.exercise_07_2(lambda m, ids, mask, n: greedy_batch(m, ids, mask, n)[:, ids.size(1) :])
    assert "prompts AND the new tokens" in capsys.readouterr().out
    assert not check.exercise_07_2(lambda m, ids, mask, n: greedy_batch(m, ids, mask, n - 1))
    assert "expected token ids of shape" in capsys.readouterr().out


@torch.no_grad()
def beam_search(model, input_ids, num_beams, max_new_tokens, duplicate_start=False, last_token_only=False):
    """The worked solution (and two typical mistakes, switched on by the flags)."""
    seqs = input_ids.repeat(num_beams, 1) if duplicate_start else input_ids
    scores = torch.zeros(seqs.size(0))
    for _ in range(max_new_tokens):
        logp = model(seqs).logits[:, -1].log_softmax(-1)
        candidates = logp if last_token_only else scores[:, None] + logp
        best = candidates.flatten().topk(num_beams)
        beam, token = best.indices // logp.size(-1), best.indices % logp.size(-1)
        seqs = torch.cat([seqs[beam], token[:, None]], dim=-1)
        scores = scores[beam] + logp[beam, token]
    return seqs[scores.argmax()][None]


def test_07_3_accepts_solution_and_names_mistakes(capsys):
    assert check.exercise_07_3(beam_search)
    capsys.readouterr()
    assert not check.exercise_07_3(lambda m, ids, b, n: beam_search(m, ids, b, n, duplicate_start=True))
    assert "equals greedy decoding" in capsys.readouterr().out
    assert not check.exercise_07_3(lambda m, ids, b, n: beam_search(m, ids, b, n, last_token_only=True))
    assert "SUM of the log-probabilities" in capsys.readouterr().out
    assert not check.exercise_07_3(lambda m, ids, b, n: beam_search(m, ids, b, n)[0, ids.size(1) :])
    assert "prompt included" in capsys.readouterr().out


def test_07_4_accepts_solution_and_names_mistakes(capsys):
    def tokens_read(prompt_len, new_tokens, use_cache):
        if use_cache:
            return prompt_len + new_tokens - 1
        return sum(prompt_len + k for k in range(new_tokens))

    assert check.exercise_07_4(tokens_read)
    capsys.readouterr()
    assert not check.exercise_07_4(lambda p, n, c: p + n if c else tokens_read(p, n, c))
    assert "never fed back" in capsys.readouterr().out
    assert not check.exercise_07_4(lambda p, n, c: tokens_read(p, n, c) if c else n * (p + n))
    assert "re-reads the prompt" in capsys.readouterr().out
    assert not check.exercise_07_4(lambda p, n, c: n if c else tokens_read(p, n, c))
    assert "prefill" in capsys.readouterr().out
