"""Reference decoding, written to be read: logits transforms, greedy decoding, sampling, sequence scores.

Notebook 07 writes each of these by hand and checks it against ``model.generate`` and
transformers' logits processors; the exercise checkers compare a learner's code with them.
Logits are ``(batch, vocab)`` float tensors; a filtered token gets ``-inf`` (probability 0).
Each function's body is the computation only; its argument checks come first in this file and run
at the public boundary (:func:`course_utils._args.checked_by`), before the body.
"""

from __future__ import annotations

import torch

from course_utils._args import checked_by, number, positive_int

__all__ = [
    "greedy_decode",
    "sample_next_token",
    "sequence_logprob",
    "temperature_transform",
    "top_k_transform",
    "top_p_transform",
]


# ------------------------------------------------------------------------------- argument checks


def _check_logits(logits: object) -> torch.Tensor:
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point():
        raise TypeError(f"logits must be a floating-point torch.Tensor, got {type(logits).__name__}")
    if logits.dim() != 2:
        raise ValueError(f"logits must be 2-D (batch, vocab), got shape {tuple(logits.shape)}")
    return logits


def _check_input_ids(input_ids: object) -> torch.Tensor:
    if not isinstance(input_ids, torch.Tensor) or input_ids.dtype != torch.long or input_ids.dim() != 2:
        raise ValueError("input_ids must be a 2-D torch.long tensor (batch, seq) of token ids")
    if input_ids.size(1) == 0:
        raise ValueError("input_ids must hold at least one token per row")
    return input_ids


def _temperature_arguments(logits, temperature) -> None:
    _check_logits(logits)
    number("temperature", temperature, 0)


def _top_k_arguments(logits, k) -> None:
    _check_logits(logits)
    positive_int("k", k)


def _top_p_arguments(logits, p, min_tokens_to_keep=1) -> None:
    _check_logits(logits)
    number("p", p, 0, 1)
    positive_int("min_tokens_to_keep", min_tokens_to_keep)


def _sample_arguments(logits, temperature=1.0, top_k=None, top_p=None, generator=None) -> None:
    _check_logits(logits)


def _greedy_arguments(model, input_ids, max_new_tokens, eos_token_id=None, pad_token_id=None, use_cache=True) -> None:
    _check_input_ids(input_ids)
    positive_int("max_new_tokens", max_new_tokens)


def _sequence_logprob_arguments(model, sequences, prompt_length, eos_token_id=None) -> None:
    _check_input_ids(sequences)
    if not isinstance(prompt_length, int) or not 1 <= prompt_length < sequences.size(1):
        raise ValueError(
            f"prompt_length must be an int in [1, {sequences.size(1) - 1}] (tokens before the generated part), "
            f"got {prompt_length!r}"
        )


# ------------------------------------------------------------------------------- the reference


@checked_by(_temperature_arguments)
def temperature_transform(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Divide the logits by ``temperature`` (> 0): below 1 sharpens the distribution, above 1 flattens it.

    Taught in: 07 Text generation, "Temperature, top-k, top-p: logits transforms".
    """
    return logits / temperature


@checked_by(_top_k_arguments)
def top_k_transform(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the ``k`` largest logits of each row (ties with the k-th are kept), set the rest to ``-inf``.

    Taught in: 07 Text generation, "Temperature, top-k, top-p: logits transforms".
    """
    k = min(k, logits.size(-1))
    kth_largest = logits.topk(k, dim=-1).values[:, -1:]
    return logits.masked_fill(logits < kth_largest, float("-inf"))


@checked_by(_top_p_arguments)
def top_p_transform(logits: torch.Tensor, p: float, min_tokens_to_keep: int = 1) -> torch.Tensor:
    """Nucleus filter: keep the most likely tokens until their probabilities sum to at least ``p``.

    A token is dropped when the tokens more likely than it already reach ``p``. At least
    ``min_tokens_to_keep`` tokens survive. ``p`` is in (0, 1]; ``p=1`` keeps everything.

    Taught in: 07 Text generation, "Temperature, top-k, top-p: logits transforms".
    """
    # Ascending order, as transformers does: the mass *at or below* a token is compared with 1 - p,
    # which is "the mass above it is at least p" without a second rounding-sensitive subtraction.
    sorted_logits, order = logits.sort(dim=-1, descending=False)
    mass_up_to = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
    drop_sorted = mass_up_to <= 1 - p
    drop_sorted[:, -min_tokens_to_keep:] = False
    drop = drop_sorted.scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))


@checked_by(_sample_arguments)
def sample_next_token(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Draw one token per row: temperature, then top-k, then top-p (transformers' order), softmax, multinomial.

    Returns ``(batch,)`` token ids. With ``generator=None`` it uses torch's global RNG, like ``generate``.

    Taught in: 07 Text generation, "Temperature, top-k, top-p: logits transforms".
    """
    scores = logits.float()
    if temperature != 1.0:
        scores = temperature_transform(scores, temperature)
    if top_k is not None:
        scores = top_k_transform(scores, top_k)
    if top_p is not None and top_p < 1.0:
        scores = top_p_transform(scores, top_p)
    probs = scores.softmax(dim=-1)
    return torch.multinomial(probs, num_samples=1, generator=generator).squeeze(1)


@checked_by(_greedy_arguments)
@torch.no_grad()
def greedy_decode(
    model: torch.nn.Module,
    input_ids: torch.Tensor,
    max_new_tokens: int,
    eos_token_id: int | None = None,
    pad_token_id: int | None = None,
    use_cache: bool = True,
) -> torch.Tensor:
    """Greedy decoding of a causal LM from ``input_ids`` (equal-length prompts, no padding).

    Each step appends the argmax token. With ``use_cache`` the model gets only the new token and
    its key/value cache; without, it re-reads the whole sequence. A row that produced
    ``eos_token_id`` is finished and is filled with ``pad_token_id`` (default: the EOS id); decoding
    stops when every row is finished or after ``max_new_tokens``. Returns prompt + new tokens, like
    ``model.generate(input_ids, do_sample=False, max_new_tokens=...)``.

    Taught in: 07 Text generation, "Greedy decoding by hand, equal to `generate`".
    """
    if pad_token_id is None:
        pad_token_id = eos_token_id
    sequences = input_ids
    finished = torch.zeros(input_ids.size(0), dtype=torch.bool, device=input_ids.device)
    past = None
    step_input = input_ids
    for _ in range(max_new_tokens):
        if use_cache:
            out = model(step_input, cache=past, use_cache=True)  # `past_key_values` before transformers 5.24
            past = out.cache
        else:
            out = model(sequences, use_cache=False)
        next_tokens = out.logits[:, -1].float().argmax(dim=-1)
        if eos_token_id is not None:
            assert pad_token_id is not None  # it defaults to eos_token_id
            next_tokens = torch.where(finished, torch.full_like(next_tokens, pad_token_id), next_tokens)
            finished = finished | (next_tokens == eos_token_id)
        sequences = torch.cat([sequences, next_tokens[:, None]], dim=-1)
        step_input = next_tokens[:, None]
        if bool(finished.all()):
            break
    return sequences


@checked_by(_sequence_logprob_arguments)
@torch.no_grad()
def sequence_logprob(
    model: torch.nn.Module,
    sequences: torch.Tensor,
    prompt_length: int,
    eos_token_id: int | None = None,
) -> torch.Tensor:
    """Sum of ``log P(token | previous tokens)`` over the tokens after ``prompt_length``, one value per row.

    With ``eos_token_id`` a row counts up to and including its first EOS after the prompt (the
    padding that follows it is ignored).

    Taught in: 07 Text generation, "Beam search".
    """
    logprobs = model(sequences, use_cache=False).logits[:, :-1].float().log_softmax(dim=-1)
    token_lp = logprobs.gather(-1, sequences[:, 1:, None]).squeeze(-1)[:, prompt_length - 1 :]
    generated = sequences[:, prompt_length:]
    keep = torch.ones_like(generated, dtype=torch.bool)
    if eos_token_id is not None:
        is_eos = (generated == eos_token_id).long()
        eos_before = is_eos.cumsum(dim=-1) - is_eos  # EOS tokens strictly before each position
        keep = eos_before == 0
    return (token_lp * keep).sum(dim=-1)
