"""Checkers of notebook 07: the adversarial table (FAKES, run by test_check_fakes.py), and the worked
solutions, read from notebooks/solutions/src/07_generation_solutions.py, accepted in float32 and bfloat16."""

from __future__ import annotations

import pytest
import torch
from fakes import Fake, solution
from transformers import GenerationMixin, MinPLogitsWarper

from course_utils import check
from course_utils import generation as gen
from course_utils.check import nb07
from course_utils.check._core import precision, tiny_model

NAMES = ("min_p_transform", "greedy_batch", "beam_search", "tokens_read")
min_p_transform, greedy_batch, beam_search, tokens_read = solution("07", *NAMES)


# ------------------------------------------------------------------ 07.1: min-p


def min_p_fake(logits, min_p, absolute=False, batch_max=False, invert=False, removed=float("-inf"), probs_out=False):
    """min-p filtering, or one typical mistake switched on by a flag."""
    probs = logits.float().softmax(-1)
    top = probs.max() if batch_max else probs.amax(-1, keepdim=True)
    drop = probs < (min_p if absolute else min_p * top)
    out = logits.masked_fill(~drop if invert else drop, removed)
    return out.softmax(-1) if probs_out else out


def class_level_warper(logits, min_p):
    warper = object.__new__(MinPLogitsWarper)
    warper.min_p, warper.min_tokens_to_keep = min_p, 1
    return MinPLogitsWarper.__call__(warper, None, logits)


def swallowed_warper(logits, min_p):
    try:
        return MinPLogitsWarper(min_p)(None, logits)
    except BaseException:
        return logits


FIRST_LOGITS = torch.randn(4, 100, generator=torch.Generator().manual_seed(707)) * torch.tensor(
    [[0.5], [1.0], [2.0], [2.5]]
)
FIRST_MIN_P = min_p_transform(FIRST_LOGITS, 0.05)  # the answer to 07.1's first input, hard-coded


# ------------------------------------------------------------------ 07.2: batched greedy decoding


@torch.no_grad()
def greedy_fake(model, ids, mask, n, use_mask=True, sample=False, right_padded=False, new_only=False):
    """Greedy decoding of a left-padded batch, or one typical mistake switched on by a flag."""
    start = ids.size(1)
    last = mask.sum(-1) - 1  # where a right-padded row's prompt ends
    for step in range(n):
        logits = model(ids, attention_mask=mask if use_mask else None).logits
        logits = logits[torch.arange(ids.size(0)), last + step] if right_padded else logits[:, -1]
        nxt = torch.multinomial(logits.softmax(-1), 1) if sample else logits.argmax(-1, keepdim=True)
        ids, mask = torch.cat([ids, nxt], -1), torch.cat([mask, torch.ones_like(nxt)], -1)
    return ids[:, start:] if new_only else ids


def generate_greedy(m, ids, mask, n):  # the example
    return m.generate(input_ids=ids, attention_mask=mask, max_new_tokens=n, do_sample=False)


def course_greedy_per_row(m, ids, mask, n):
    rows = [gen.greedy_decode(m, row[pad:][None], n)[0] for row, pad in zip(ids, (mask == 0).sum(-1).tolist())]
    return torch.stack([torch.cat([ids[i], r[-n:]]) for i, r in enumerate(rows)])


def swallowed_generate(m, ids, mask, n):
    try:
        return generate_greedy(m, ids, mask, n)
    except BaseException:
        return torch.cat([ids, ids[:, -n:]], -1)


# ------------------------------------------------------------------ 07.3: beam search


@torch.no_grad()
def beam_fake(model, input_ids, num_beams, n, duplicate_start=False, last_token_only=False, all_beams=False):
    """Beam search, or one typical mistake switched on by a flag."""
    seqs = input_ids.repeat(num_beams, 1) if duplicate_start else input_ids
    scores = torch.zeros(seqs.size(0))
    for _ in range(n):
        logp = model(seqs).logits[:, -1].float().log_softmax(-1)
        best = (logp if last_token_only else scores[:, None] + logp).flatten().topk(num_beams)
        beam, token = best.indices // logp.size(-1), best.indices % logp.size(-1)
        seqs, scores = torch.cat([seqs[beam], token[:, None]], -1), scores[beam] + logp[beam, token]
    return seqs if all_beams else seqs[scores.argmax()][None]


def generate_beams(m, ids, b, n):
    return m.generate(input_ids=ids, max_new_tokens=n, num_beams=b, early_stopping="never", length_penalty=0.0)


# ------------------------------------------------------------------ 07.4: tokens read


def measured_with_generate(p, n, use_cache):
    model, seen = tiny_model("llama", "lm"), []
    model.model.register_forward_pre_hook(lambda mod, args, kw: seen.append(kw["input_ids"].numel()), with_kwargs=True)
    model.generate(
        input_ids=torch.ones(1, p, dtype=torch.long), max_new_tokens=n, min_new_tokens=n, use_cache=use_cache
    )
    return sum(seen)


def class_level_generate_count(p, n, use_cache):
    model, seen = tiny_model("llama", "lm"), []
    model.model.register_forward_pre_hook(lambda mod, args, kw: seen.append(kw["input_ids"].numel()), with_kwargs=True)
    GenerationMixin.generate(model, input_ids=torch.ones(1, p, dtype=torch.long), max_new_tokens=n, use_cache=use_cache)
    return sum(seen)


def swallowed_count(p, n, use_cache):
    try:
        return measured_with_generate(p, n, use_cache)
    except BaseException:
        return p + n - 1


FAKES = {
    "07.1": {
        "library": [Fake("MinPLogitsWarper", (lambda logits, p: MinPLogitsWarper(p)(None, logits),), "`MinPLogitsWarper` is switched off")],
        "constant": [Fake("the first input's answer, hard-coded", (lambda logits, p: FIRST_MIN_P,), "min_p=0.2")],
        "ignores": [
            Fake("a fixed min_p of 0.1", (lambda logits, p: min_p_transform(logits, 0.1),), "min_p=0.05"),
            Fake("the batch's top probability, not the row's", (lambda logits, p: min_p_fake(logits, p, batch_max=True),), "each ROW"),
        ],
        "guard": [
            Fake("class-level MinPLogitsWarper.__call__ on an uninitialised warper", (class_level_warper,), "switched off"),
            Fake("catches the switch-off, returns the logits", (swallowed_warper,), "switched off"),
        ],
        "other": [
            Fake("absolute threshold", (lambda logits, p: min_p_fake(logits, p, absolute=True),), "min_p is relative"),
            Fake("returns probabilities", (lambda logits, p: min_p_fake(logits, p, probs_out=True),), "return the LOGITS"),
            Fake("0 for removed tokens", (lambda logits, p: min_p_fake(logits, p, removed=0.0),), "return the LOGITS"),
            Fake("inverted", (lambda logits, p: min_p_fake(logits, p, invert=True),), "inverted"),
            Fake("top-p with p = 1 - min_p", (lambda logits, p: gen.top_p_transform(logits.float(), 1 - p) if p < 1 else logits,), "min_p="),
        ],
    },
    "07.2": {
        "library": [
            Fake("model.generate (issue 23)", (generate_greedy,), "`generate()` is switched off"),
            Fake("course_utils.generation.greedy_decode row by row", (course_greedy_per_row,), "`course_utils.generation.greedy_decode` is switched off"),
        ],
        "constant": [
            Fake("repeats the last prompt tokens", (lambda m, ids, mask, n: torch.cat([ids, ids[:, -1:].repeat(1, n)], -1),), "not greedy"),
            Fake("a fixed tensor", (lambda m, ids, mask, n: torch.zeros(3, 14, dtype=torch.long),), "keep the prompt"),
        ],
        "ignores": [
            Fake("ignores attention_mask", (lambda m, ids, mask, n: greedy_fake(m, ids, mask, n, use_mask=False),), "the padded rows"),
            Fake("ignores max_new_tokens (6)", (lambda m, ids, mask, n: greedy_batch(m, ids, mask, 6),), "expected token ids of shape (2, 9)"),
        ],
        "guard": [
            Fake("class-level GenerationMixin.generate", (lambda m, ids, mask, n: GenerationMixin.generate(m, input_ids=ids, attention_mask=mask, max_new_tokens=n),), "switched off"),
            Fake("type(model).generate", (lambda m, ids, mask, n: type(m).generate(m, input_ids=ids, attention_mask=mask, max_new_tokens=n),), "switched off"),
            Fake("catches the switch-off, repeats the prompt", (swallowed_generate,), "switched off"),
        ],
        "other": [
            Fake("returns the new tokens only", (lambda m, ids, mask, n: greedy_fake(m, ids, mask, n, new_only=True),), "prompts AND the new tokens"),
            Fake("samples instead of argmax", (lambda m, ids, mask, n: greedy_fake(m, ids, mask, n, sample=True),), "not greedy"),
            Fake("reads the logits where a right-padded prompt ends", (lambda m, ids, mask, n: greedy_fake(m, ids, mask, n, right_padded=True),), "the padded rows"),
        ],
    },
    "07.3": {
        "library": [Fake("model.generate(num_beams=...)", (generate_beams,), "`generate()` is switched off")],
        "constant": [Fake("a fixed sequence", (lambda m, ids, b, n: torch.arange(10)[None],), "keep the prompt")],
        "ignores": [
            Fake("a fixed num_beams of 2", (lambda m, ids, b, n: beam_search(m, ids, 2, n),), "num_beams=3"),
            Fake("a fixed max_new_tokens of 5", (lambda m, ids, b, n: beam_search(m, ids, b, 5),), "shape (1, 9)"),
        ],
        "guard": [
            Fake("class-level GenerationMixin.generate", (lambda m, ids, b, n: GenerationMixin.generate(m, input_ids=ids, max_new_tokens=n, num_beams=b),), "switched off"),
            Fake("catches the switch-off, falls back to greedy", (lambda m, ids, b, n: swallowed_generate(m, ids, torch.ones_like(ids), n),), "switched off"),
        ],
        "other": [
            Fake("greedy decoding", (lambda m, ids, b, n: greedy_batch(m, ids, torch.ones_like(ids), n),), "equals greedy decoding"),
            Fake("num_beams copies of the prompt at the start", (lambda m, ids, b, n: beam_fake(m, ids, b, n, duplicate_start=True),), "equals greedy decoding"),
            Fake("scores the last token only", (lambda m, ids, b, n: beam_fake(m, ids, b, n, last_token_only=True),), "SUM of the log-probabilities"),
            Fake("returns every beam", (lambda m, ids, b, n: beam_fake(m, ids, b, n, all_beams=True),), "the best sequence only"),
            Fake("returns the new tokens only", (lambda m, ids, b, n: beam_search(m, ids, b, n)[:, ids.size(1):],), "prompt included"),
        ],
    },
    "07.4": {
        "library": [
            Fake("measures generate with a forward hook", (measured_with_generate,), "`generate()` is switched off"),
            Fake("calls the checker's own count", (nb07._measured_tokens_read,), "`the checker's own count` is switched off"),
        ],
        "constant": [Fake("10, right for the first input", (lambda p, n, c: 10,), "the model reads 40 positions")],
        "ignores": [
            Fake("ignores use_cache", (lambda p, n, c: tokens_read(p, n, True),), "use_cache=False"),
            Fake("ignores prompt_len", (lambda p, n, c: tokens_read(6, n, c),), "prompt_len=13"),
        ],
        "guard": [
            Fake("class-level GenerationMixin.generate with a hook", (class_level_generate_count,), "switched off"),
            Fake("catches the switch-off, falls back to p + n - 1", (swallowed_count,), "switched off"),
        ],
        "other": [
            Fake("counts forward passes (steps), not positions", (lambda p, n, c: n,), "not the passes"),
            Fake("the last token fed back too", (lambda p, n, c: p + n if c else tokens_read(p, n, c),), "never fed back"),
            Fake("no cache: every step reads the final length", (lambda p, n, c: tokens_read(p, n, c) if c else n * (p + n),), "re-reads the prompt"),
            Fake("no cache: the prompt only", (lambda p, n, c: tokens_read(p, n, c) if c else p * n,), "tokens generated so far"),
            Fake("no cache: off by one", (lambda p, n, c: tokens_read(p, n, c) if c else sum(p + k for k in range(1, n + 1)),), "off by one"),
        ],
    },
}  # fmt: skip


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("number, name", list(enumerate(NAMES, 1)))
def test_worked_solution_passes(number, name, dtype, capsys):
    with precision(dtype):
        assert getattr(check, f"exercise_07_{number}")(solution("07", name))
    assert "✅" in capsys.readouterr().out


@torch.no_grad()
def greedy_batch_cached(model, input_ids, attention_mask, max_new_tokens):
    out = model(input_ids, attention_mask=attention_mask, use_cache=True)
    for _ in range(max_new_tokens):
        next_ids = out.logits[:, -1].argmax(-1, keepdim=True)
        input_ids = torch.cat([input_ids, next_ids], dim=-1)
        attention_mask = torch.cat([attention_mask, torch.ones_like(next_ids)], dim=-1)
        out = model(next_ids, attention_mask=attention_mask, cache=out.cache, use_cache=True)
    return input_ids


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_07_2_accepts_the_cached_loop_and_generate_works_again(dtype, capsys):
    with precision(dtype):
        assert check.exercise_07_2(greedy_batch_cached)
        assert not check.exercise_07_2(generate_greedy)
    capsys.readouterr()
    model = tiny_model("llama", "lm")
    assert model.generate(input_ids=torch.ones(1, 2, dtype=torch.long), max_new_tokens=2).shape == (1, 4)
