"""Checkers for notebook 07 (generation).

Decoding checkers run the learner's function on a tiny, seeded, randomly initialised Llama
(2 layers, vocabulary 96): the same code path as SmolLM2, fresh inputs, milliseconds per call.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from ._core import Verdict, call_safely, tensor_mismatch, verdict

__all__ = ["exercise_07_1", "exercise_07_2", "exercise_07_3", "exercise_07_4"]


@functools.lru_cache(maxsize=1)
def _tiny_lm() -> Any:
    """A seeded random Llama-style causal LM (grouped-query attention, RoPE), without an EOS token."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=96,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        pad_token_id=0,
        bos_token_id=None,
        eos_token_id=None,
        initializer_range=0.2,
        tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    return LlamaForCausalLM(config).eval()


def _ids(shape: tuple[int, int], seed: int) -> Any:
    import torch

    return torch.randint(1, 96, shape, generator=torch.Generator().manual_seed(seed))


def exercise_07_1(min_p_transform: Callable[..., Any]) -> Verdict | bool:
    """``min_p_transform(logits, min_p)``: keep tokens with probability >= ``min_p`` x the top probability, others ``-inf``."""
    import torch
    from transformers import MinPLogitsWarper

    gen = torch.Generator().manual_seed(707)
    logits = torch.randn(4, 100, generator=gen) * torch.tensor([[0.5], [1.0], [2.0], [4.0]])  # flat ... peaked rows
    input_ids = torch.zeros(4, 1, dtype=torch.long)
    for min_p in (0.05, 0.2, 0.5):
        ok, got = call_safely("07.1", min_p_transform, logits.clone(), min_p)
        if not ok:
            return ok  # the failing verdict, already printed
        # transformers annotates input_ids as torch.LongTensor, a legacy class no long tensor is an instance of
        expected = MinPLogitsWarper(min_p)(input_ids, logits.clone())  # type: ignore[arg-type]
        if (shape := tensor_mismatch(got, logits.shape)) is not None:
            return verdict("07.1", False, f"return logits of the same shape {tuple(logits.shape)}, got {shape}")
        if torch.equal(got, expected):
            continue
        kept, kept_expected = torch.isfinite(got), torch.isfinite(expected)
        probs = logits.softmax(-1)
        if torch.equal(kept, kept_expected) or (got == 0).any() and torch.equal(got != 0, kept_expected):
            return verdict(
                "07.1",
                False,
                "right tokens, wrong values: return the LOGITS, unchanged where kept and "
                "-inf where removed (not probabilities, not 0)",
            )
        if torch.equal(kept, probs >= min_p):
            return verdict(
                "07.1",
                False,
                "min_p is relative: compare each probability with min_p * the top "
                "token's probability, not with min_p itself",
            )
        if torch.equal(kept, ~kept_expected):
            return verdict(
                "07.1", False, "inverted: keep the LIKELY tokens (probability >= threshold), remove the rest"
            )
        return verdict(
            "07.1",
            False,
            f"wrong for min_p={min_p}: softmax the logits, threshold = min_p * "
            "probs.max(-1, keepdim=True).values, masked_fill(probs < threshold, -inf)",
        )
    return verdict("07.1", True)


def _left_padded_batch() -> tuple[Any, Any]:
    ids = _ids((3, 7), 5)
    mask = ids.new_ones(ids.shape)
    mask[0, :3] = 0
    mask[1, :1] = 0
    return ids.masked_fill(mask == 0, 0), mask


def exercise_07_2(greedy_batch: Callable[..., Any]) -> Verdict | bool:
    """``greedy_batch(model, input_ids, attention_mask, max_new_tokens)`` on a left-padded batch equals ``generate``."""
    import torch

    model = _tiny_lm()
    ids, mask = _left_padded_batch()
    n_new = 6
    with torch.no_grad():
        ok, got = call_safely("07.2", greedy_batch, model, ids.clone(), mask.clone(), n_new)
        if not ok:
            return ok  # the failing verdict, already printed
        expected = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=n_new, do_sample=False)
    if (shape := tensor_mismatch(got, expected.shape)) is not None:
        if isinstance(got, torch.Tensor) and tuple(got.shape) == (ids.size(0), n_new):
            return verdict(
                "07.2", False, f"return the prompts AND the new tokens, like generate: shape {tuple(expected.shape)}"
            )
        return verdict(
            "07.2", False, f"expected token ids of shape {tuple(expected.shape)} (prompt + new tokens), got {shape}"
        )
    if torch.equal(got, expected):
        return verdict("07.2", True)
    rows = [i for i in range(ids.size(0)) if not torch.equal(got[i], expected[i])]
    padded = [i for i in range(ids.size(0)) if bool((mask[i] == 0).any())]
    if not torch.equal(got[:, : ids.size(1)], ids):
        return verdict(
            "07.2", False, "keep the prompt as it is (left padding included) and append new tokens on the right"
        )
    if rows and set(rows) <= set(padded):
        return verdict(
            "07.2",
            False,
            f"the padded rows {rows} differ from generate: pass attention_mask to the model "
            "and extend it with a column of ones for every new token, so no row attends to its padding",
        )
    return verdict(
        "07.2",
        False,
        f"rows {rows} differ from generate: take the argmax of logits[:, -1] at each step and append it to every row",
    )


def _beam_reference(model: Any, prompt: Any, num_beams: int, n_new: int) -> Any:
    return model.generate(
        input_ids=prompt,
        max_new_tokens=n_new,
        num_beams=num_beams,
        early_stopping="never",
        length_penalty=0.0,
        do_sample=False,
    )


def exercise_07_3(beam_search: Callable[..., Any]) -> Verdict | bool:
    """``beam_search(model, input_ids, num_beams, max_new_tokens)`` -> the best sequence ``(1, prompt + new)``, as ``generate``."""
    import torch

    model = _tiny_lm()
    n_new = 5
    for seed, num_beams in ((101, 2), (102, 2), (103, 2), (112, 3)):
        prompt = _ids((1, 5), seed)
        with torch.no_grad():
            ok, got = call_safely("07.3", beam_search, model, prompt.clone(), num_beams, n_new)
            if not ok:
                return ok  # the failing verdict, already printed
            expected = _beam_reference(model, prompt, num_beams, n_new)
            greedy = model.generate(input_ids=prompt, max_new_tokens=n_new, do_sample=False)
        if isinstance(got, torch.Tensor) and got.dim() == 1:
            got = got[None]
        if (shape := tensor_mismatch(got, expected.shape)) is not None:
            return verdict(
                "07.3",
                False,
                f"return the best sequence only, prompt included: shape {tuple(expected.shape)}, got {shape}",
            )
        if torch.equal(got, expected):
            continue
        if torch.equal(got, greedy):
            return verdict(
                "07.3",
                False,
                "your result equals greedy decoding, beam search found a better sequence: at "
                "the first step start from ONE beam (or give the copies score -inf), otherwise all beams pick "
                "the same tokens",
            )
        return verdict(
            "07.3",
            False,
            f"wrong for num_beams={num_beams}: score each candidate by the SUM of the "
            "log-probabilities of all its new tokens (beam score + log P(token)), keep the top num_beams "
            "over all beams x vocabulary, return the best at the end",
        )
    return verdict("07.3", True)


def _measured_tokens_read(prompt_len: int, new_tokens: int, use_cache: bool) -> int:
    """Token positions the tiny model's forward passes really read during ``generate``."""
    import torch

    model = _tiny_lm()
    seen: list[int] = []

    def count(module: Any, args: tuple, kwargs: dict) -> None:
        ids = kwargs.get("input_ids", args[0] if args else None)
        if ids is None:
            ids = kwargs["inputs_embeds"]
        seen.append(ids.shape[0] * ids.shape[1])

    handle = model.model.register_forward_pre_hook(count, with_kwargs=True)
    try:
        with torch.no_grad():
            model.generate(
                input_ids=_ids((1, prompt_len), prompt_len),
                max_new_tokens=new_tokens,
                min_new_tokens=new_tokens,
                do_sample=False,
                use_cache=use_cache,
            )
    finally:
        handle.remove()
    return sum(seen)


def exercise_07_4(tokens_read: Callable[..., Any]) -> Verdict | bool:
    """``tokens_read(prompt_len, new_tokens, use_cache)`` -> token positions the model reads in ``generate``, as measured."""
    for prompt_len, new_tokens in ((6, 5), (13, 3), (4, 1), (9, 12)):
        for use_cache in (True, False):
            ok, got = call_safely("07.4", tokens_read, prompt_len, new_tokens, use_cache)
            if not ok:
                return ok  # the failing verdict, already printed
            try:
                got = int(got)
            except (TypeError, ValueError):
                return verdict("07.4", False, f"return an int, got {type(got).__name__}")
            expected = _measured_tokens_read(prompt_len, new_tokens, use_cache)
            if got == expected:
                continue
            p, n = prompt_len, new_tokens
            if use_cache:
                hints = {
                    p
                    + n: "with the cache the LAST new token is never fed back: prefill the prompt, then n - 1 steps of one token",
                    n: "the first call (the prefill) reads the whole prompt once",
                    n - 1: "the first call (the prefill) reads the whole prompt once",
                }
            else:
                hints = {
                    n
                    * (
                        p + n
                    ): "without the cache step k (k = 0 .. n-1) re-reads the prompt and the k tokens made so far",
                    sum(p + k for k in range(1, n + 1)): "off by one: the first step reads the prompt alone (p tokens)",
                    p * n: "each step also re-reads the tokens generated so far",
                }
            where = "with" if use_cache else "without"
            return verdict(
                "07.4",
                False,
                hints.get(
                    got,
                    f"prompt {p}, {n} new tokens, {where} the cache: "
                    f"the model reads {expected} positions, you said {got}",
                ),
            )
    return verdict("07.4", True)
