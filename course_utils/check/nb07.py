"""Checkers for notebook 07 (generation).

Decoding checkers run the learner's function on a tiny, seeded, randomly initialised Llama
(2 layers, vocabulary 96): the same code path as SmolLM2, fresh inputs, milliseconds per call.
``generate()`` is switched off while the learner's code runs; a float32 copy of the model checks
each token the learner chose (teacher forcing), so a right answer passes in any dtype.
"""

from __future__ import annotations

import copy
from typing import Any

from ..i18n import N_, _
from ._core import answer, checker, expect, tensor_mismatch, tiny_model, tolerance
from .nb06 import _count, _which

__all__ = ["exercise_07_1", "exercise_07_2", "exercise_07_3", "exercise_07_4"]

_GENERATE = tuple(
    f"transformers.GenerationMixin.{name}" for name in ("generate", "generate_batch", "_sample", "_beam_search")
)


def _lm() -> Any:
    """A fresh tiny Llama (grouped-query attention, RoPE, no EOS) with logits spread enough to rank tokens."""
    return tiny_model("llama", "lm", initializer_range=0.2)


def _ids(shape: tuple[int, int], seed: int) -> Any:
    import torch

    return torch.randint(1, 96, shape, generator=torch.Generator().manual_seed(seed))


def _logp(reference: Any, seqs: Any, start: int, mask: Any = None) -> tuple[Any, Any]:
    """Teacher forcing: the log-probability ``reference`` gives each token of ``seqs[:, start:]``, and the best one there."""
    import torch

    seqs = seqs.cpu().long()
    with torch.no_grad():
        logp = reference(seqs, attention_mask=mask).logits[:, start - 1 : -1].float().log_softmax(-1)
    return logp.gather(-1, seqs[:, start:, None])[..., 0], logp.amax(-1)


@checker(
    "07.1",
    asks=N_("the filter written out"),
    off={"MinPLogitsWarper": ("transformers.MinPLogitsWarper.__init__", "transformers.MinPLogitsWarper.__call__")},
)
def exercise_07_1(min_p_transform: Any) -> None:
    """``min_p_transform(logits, min_p)``: keep tokens with probability >= ``min_p`` x the row's top probability, others ``-inf``."""
    import torch

    gen = torch.Generator().manual_seed(707)
    flat_to_peaked = torch.randn(4, 100, generator=gen) * torch.tensor([[0.5], [1.0], [2.0], [2.5]])
    filtered = (3 * torch.randn(3, 37, generator=gen)).masked_fill(
        torch.rand(3, 37, generator=gen) < 0.3, float("-inf")
    )
    tied = torch.tensor([[2.0, 2.0, 1.0, 0.5, -1.0, 2.0, 0.0]])
    for logits, min_p in (
        (flat_to_peaked, 0.05), (flat_to_peaked, 0.2), (filtered.bfloat16(), 0.5), (tied, 1.0), (filtered, 0.0), (tied, 0.3)
    ):  # fmt: skip
        got = answer(min_p_transform, logits.clone(), min_p)
        probs = logits.float().softmax(-1)
        threshold = min_p * probs.amax(-1, keepdim=True)
        finite = logits.isfinite()
        keep, unsure = (probs >= threshold) & finite, (probs - threshold).abs() <= tolerance(logits.dtype) * threshold
        kept = lambda: torch.isfinite(got.detach().cpu())  # noqa: E731
        expect(
            (tensor_mismatch(got, logits.shape), lambda: _("return logits of the same shape {shape}, got {got}").format(shape=tuple(logits.shape), got=tensor_mismatch(got, logits.shape))),
            (lambda: not torch.equal(got.cpu().float(), logits.float().where(kept(), float("-inf"))), _("right tokens, wrong "
             "values: return the LOGITS, unchanged where kept and -inf where removed (not probabilities, not 0)")),
            (lambda: ((kept() != keep) & ~unsure).any(), lambda: _which(lambda mask: torch.equal(kept(), mask), (
                ((probs >= min_p) & finite, _("min_p is relative: compare each probability with min_p * the top token's "
                 "probability, not with min_p itself")),
                ((probs >= min_p * probs.max()) & finite, _("the top probability of each ROW: probs.max(-1, keepdim=True)")),
                (finite & ~keep, _("inverted: keep the LIKELY tokens (probability >= threshold), remove the rest")),
            ), _("softmax the logits, threshold = min_p * probs.max(-1, keepdim=True).values (per row), "
               "masked_fill(probs < threshold, -inf)"))),
            on=_("logits of shape {shape} ({dtype}), min_p={min_p}").format(shape=tuple(logits.shape), dtype=logits.dtype, min_p=min_p),
        )  # fmt: skip


@checker(
    "07.2",
    asks=N_("the decoding loop"),
    off={"generate()": _GENERATE, "course_utils.generation.greedy_decode": "course_utils.generation.greedy_decode"},
)
def exercise_07_2(greedy_batch: Any) -> None:
    """``greedy_batch(model, input_ids, attention_mask, max_new_tokens)`` on left-padded batches: every new token the argmax."""
    import torch

    model = _lm()
    reference, tol = copy.deepcopy(model).float(), 4 * tolerance(model.dtype)  # logits reach about ±4
    for pads, n_new in (((3, 1, 0), 6), ((0, 4), 1), ((2, 0, 5, 1), 4)):
        mask = (torch.arange(8) >= torch.tensor(pads)[:, None]).long()
        ids, shape = _ids((len(pads), 8), n_new).masked_fill(mask == 0, 0), (len(pads), 8 + n_new)
        with torch.no_grad():
            got = answer(greedy_batch, model, ids.clone().to(model.device), mask.clone().to(model.device), n_new)
        on = _("left padding {pads}, max_new_tokens={n_new}").format(pads=list(pads), n_new=n_new)
        expect(
            (tensor_mismatch(got, (len(pads), n_new)) is None, _("return the prompts AND the new tokens, like generate: shape {shape}").format(shape=shape)),
            (tensor_mismatch(got, shape), lambda: _("expected token ids of shape {shape} (prompt + new tokens), got {got}").format(shape=shape, got=tensor_mismatch(got, shape))),
            (lambda: not torch.equal(got[:, :8].cpu(), ids), _("keep the prompt as it is (left padding included) and append "
             "the new tokens on the right")),
            on=on,
        )  # fmt: skip
        chosen, best = _logp(reference, got, 8, torch.cat([mask, mask.new_ones(len(pads), n_new)], 1))
        bad = ((best - chosen) > tol).any(-1).nonzero().flatten().tolist()
        expect(
            (bad and all(pads[row] for row in bad), _("the padded rows {bad} are not greedy: pass attention_mask to the model and extend it with a column of ones for every new token, so no row attends to its padding").format(bad=bad)),
            (bad, _("rows {bad} are not greedy: take the argmax of logits[:, -1] at every step and append it to every row").format(bad=bad)),
            on=on,
        )  # fmt: skip


@checker("07.3", asks=N_("the beam search"), off={"generate()": _GENERATE})
def exercise_07_3(beam_search: Any) -> None:
    """``beam_search(model, input_ids, num_beams, max_new_tokens)`` -> the best sequence ``(1, prompt + new)``, as ``generate``."""
    import torch

    model = _lm()
    reference, tol = copy.deepcopy(model).float(), 2 * tolerance(model.dtype)
    # prompts where greedy, 2 beams and last-token scores end over 0.3 nats below num_beams (but for 1 new token)
    cases = ((5, 2, 5, 8), (5, 3, 4, 30), (6, 4, 4, 3), (1, 2, 3, 15), (8, 2, 1, 0), (3, 3, 6, 36))
    for prompt_len, beams, n_new, seed in cases:
        prompt = _ids((1, prompt_len), seed)
        with torch.no_grad():
            got = answer(beam_search, model, prompt.clone().to(model.device), beams, n_new)
            want, greedy = (
                reference.generate(input_ids=prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=n_new, do_sample=False, **kw)
                for kw in (dict(num_beams=beams, early_stopping="never", length_penalty=0.0), {})
            )  # fmt: skip
        got = got[None] if isinstance(got, torch.Tensor) and got.dim() == 1 else got
        score = lambda seqs: float(_logp(reference, seqs, prompt_len)[0].sum())  # noqa: E731
        expect(
            (tensor_mismatch(got, want.shape), lambda: _("return the best sequence only, prompt included: shape {shape}, got {got}").format(shape=tuple(want.shape), got=tensor_mismatch(got, want.shape))),
            (lambda: not torch.equal(got[:, :prompt_len].cpu(), prompt), _("keep the prompt and append the new tokens")),
            (lambda: abs(score(got) - score(want)) > tol, lambda: _("your result equals greedy decoding, beam search "
             "found a better sequence: at the first step start from ONE beam (or give the copies score -inf), otherwise "
             "all beams pick the same tokens") if torch.equal(got.cpu(), greedy) else _("score each candidate by the SUM of "
             "the log-probabilities of all its new tokens (beam score + log P(token)), keep the top num_beams over all "
             "beams x vocabulary, return the best at the end")),
            on=_("a prompt of {prompt_len} tokens, num_beams={beams}, max_new_tokens={n_new}").format(prompt_len=prompt_len, beams=beams, n_new=n_new),
        )  # fmt: skip


def _measured_tokens_read(prompt_len: int, new_tokens: int, use_cache: bool) -> int:
    """Token positions the tiny model's forward passes really read while ``generate`` makes ``new_tokens`` tokens."""
    import torch

    model, seen = _lm(), []
    model.model.register_forward_pre_hook(
        lambda module, args, kw: seen.append(kw["input_ids"].numel()), with_kwargs=True
    )
    prompt = torch.arange(1, prompt_len + 1)[None]
    with torch.no_grad():
        model.generate(input_ids=prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=new_tokens,
                       min_new_tokens=new_tokens, do_sample=False, use_cache=use_cache)  # fmt: skip
    return sum(seen)


@checker(
    "07.4",
    asks=N_("the count worked out from the loop"),
    off={"generate()": _GENERATE, N_("the checker's own count"): _measured_tokens_read},
)
def exercise_07_4(tokens_read: Any) -> None:
    """``tokens_read(prompt_len, new_tokens, use_cache)`` -> token positions the model reads in ``generate``, as measured."""
    for p, n in ((6, 5), (13, 3), (4, 1), (1, 7), (9, 12)):
        for use_cache in (True, False):
            on = f"prompt_len={p}, new_tokens={n}, use_cache={use_cache}"
            got, want = _count(on, tokens_read, p, n, use_cache), _measured_tokens_read(p, n, use_cache)
            mistakes = {
                n: _("count the token positions every forward pass reads, not the passes"),
                p * n: _("each step also re-reads the tokens generated so far"),
                n * (p + n): _("without the cache step k (k = 0 .. n-1) re-reads the prompt and the k tokens made so far"),
                sum(p + k for k in range(1, n + 1)): _("off by one: the first step reads the prompt alone (p tokens)"),
            } if not use_cache else {
                p + n: _("with the cache the LAST new token is never fed back: prefill the prompt, then n - 1 steps of one token"),
                n: _("count the token positions every forward pass reads, not the passes"),
                n - 1: _("the first call (the prefill) reads the whole prompt once"),
            }  # fmt: skip
            expect(
                (
                    got != want,
                    lambda: mistakes.get(
                        got, _("the model reads {want} positions, you said {got}").format(want=want, got=got)
                    ),
                ),
                on=on,
            )
