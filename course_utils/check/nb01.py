"""Checkers for notebook 01 (pipelines)."""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from typing import Any

from ._core import Verdict, call_safely, silent, verdict

__all__ = ["exercise_01_1", "exercise_01_2", "exercise_01_3", "exercise_01_4"]

# Fresh inputs: none of these texts appears in notebook 01.
_PAIRS = [
    ("The first act is slow.", "The finale more than makes up for it."),
    ("Great cast, beautiful photography and a clever script.", "Still, I was bored."),
    ("Terrible.", "Absolutely terrible, and the sequel is worse."),
]
_WORDS = (
    "the a movie film plot actor story scene music ending really very quite slow fast funny sad "
    "boring brilliant characters dialogue camera director screenplay unexpectedly wonderfully"
).split()


@functools.lru_cache(maxsize=1)
def _sentiment() -> Any:
    """The course's sentiment pipeline on the CPU (stand-in offline), loaded once."""
    from transformers import pipeline

    from ..models import SENTIMENT, resolve_checkpoint

    return pipeline("text-classification", model=resolve_checkpoint(SENTIMENT, verbose=False), device="cpu")


def _as_score_dict(obj: Any) -> dict[str, float] | None:
    """A ``{label: score}`` dict from a dict or from a pipeline-style list of ``{label, score}``."""
    if isinstance(obj, dict) and obj and all(isinstance(k, str) for k in obj):
        try:
            return {k: float(v) for k, v in obj.items()}
        except (TypeError, ValueError):
            return None
    return None


def _pipeline_style(obj: Any) -> bool:
    """True for the pipeline's own ``{"label": ..., "score": ...}`` (or a list of them)."""
    if isinstance(obj, (list, tuple)) and obj:
        obj = obj[0]
    return isinstance(obj, dict) and set(obj) == {"label", "score"}


_PIPELINE_HINT = (
    "that is the pipeline's format ({'label', 'score'}); compute it by hand and return {label name: probability}"
)


def _close(a: dict[str, float], b: dict[str, float], atol: float = 1e-4) -> bool:
    return set(a) == set(b) and all(abs(a[k] - b[k]) <= atol for k in a)


def _probs(logits: Any, id2label: dict[int, str], fn: str = "softmax") -> list[dict[str, float]]:
    scores = logits.softmax(dim=-1) if fn == "softmax" else logits.sigmoid() if fn == "sigmoid" else logits
    return [{id2label[i]: float(p) for i, p in enumerate(row)} for row in scores]


#: Fresh prompts for 01.1: none appears in notebook 01.
_NEXT_TOKEN_PROMPTS = (("The capital of France is", 3), ("After the rain stopped, the children ran outside to", 5))


def _next_token_reference(prompt: str, k: int) -> tuple[list[tuple[str, float]], Any]:
    """The ``k`` most likely next tokens after ``prompt`` under the course's causal LM, and the last-position logits."""
    import torch

    gen = _generator()
    tok, model = gen.tokenizer, gen.model
    with torch.inference_mode():
        logits = model(**tok(prompt, return_tensors="pt")).logits[0].float()
    top = logits[-1].softmax(dim=-1).topk(k)
    return [(tok.decode([i]), p) for i, p in zip(top.indices.tolist(), top.values.tolist())], logits


def _as_pairs(obj: Any) -> list[tuple[Any, float]] | None:
    """A learner's answer as ``[(token, probability), ...]``, or None when it has another shape."""
    if isinstance(obj, dict):
        obj = list(obj.items())
    if not isinstance(obj, (list, tuple)):
        return None
    pairs = []
    for item in obj:
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            return None
        token, prob = item
        try:
            prob = float(prob.item() if hasattr(prob, "item") else prob)
        except (TypeError, ValueError):
            return None
        pairs.append((token.item() if hasattr(token, "item") else token, prob))
    return pairs


@silent
def exercise_01_1(next_token_probs: Callable[[str, int], Any]) -> Verdict:
    """``next_token_probs(prompt, k)`` -> the ``k`` most likely next tokens as ``(text, probability)`` pairs, most likely first."""
    for prompt, k in _NEXT_TOKEN_PROMPTS:
        ok, got = call_safely("01.1", next_token_probs, prompt, k)
        if not ok:
            return ok
        if isinstance(got, (list, tuple)) and got and isinstance(got[0], dict) and "generated_text" in got[0]:
            return verdict(
                "01.1",
                False,
                "that is the pipeline's generated text: compute the next-token probabilities by hand, "
                "tokenizer -> model -> logits[0, -1] -> softmax",
            )
        pairs = _as_pairs(got)
        if pairs is None:
            return verdict(
                "01.1",
                False,
                "return a list of (token text, probability) pairs, most likely first, "
                "e.g. [(' Paris', 0.41), (' a', 0.12)]",
            )
        if len(pairs) != k:
            return verdict("01.1", False, f"for k={k} return exactly {k} pairs (got {len(pairs)}): probs.topk(k)")
        expected, logits = _next_token_reference(prompt, k)
        tok = _generator().tokenizer
        top_ids = logits[-1].topk(k).indices.tolist()
        if all(isinstance(t, int) for t, _ in pairs) and [t for t, _ in pairs] == top_ids:
            return verdict(
                "01.1",
                False,
                "those are token ids: name each one with tokenizer.decode([id]), "
                "the generator's counterpart of model.config.id2label",
            )
        if not all(isinstance(t, str) for t, _ in pairs):
            return verdict("01.1", False, "each pair starts with the token's text, a str: tokenizer.decode([id])")
        tokens = [t for t, _ in pairs]
        if tokens == [t for t, _ in expected] and all(abs(p - e) <= 1e-3 for (_, p), (_, e) in zip(pairs, expected)):
            continue
        probs = [p for _, p in pairs]
        if tokens == [t for t, _ in expected] and any(p < 0 or p > 1 for p in probs):
            return verdict(
                "01.1",
                False,
                "these are not probabilities (logits or log-probabilities?): apply softmax(dim=-1) over the vocabulary",
            )
        first = logits[0].softmax(dim=-1).topk(k)
        if tokens == [tok.decode([i]) for i in first.indices.tolist()]:
            return verdict(
                "01.1",
                False,
                "those are the predictions after the FIRST token: the last position, logits[0, -1], "
                "predicts the token that follows the whole prompt",
            )
        if sorted(tokens) == sorted(t for t, _ in expected) and tokens != [t for t, _ in expected]:
            return verdict("01.1", False, "right tokens, wrong order: most likely first (topk sorts them)")
        return verdict(
            "01.1",
            False,
            f"after {prompt!r} the {k} most likely next tokens are "
            f"{[(t, round(p, 3)) for t, p in expected]}, you returned {[(t, round(p, 3)) for t, p in pairs]}: "
            "tokenizer(prompt) -> model(**inputs).logits[0, -1] -> softmax(dim=-1) -> topk(k) -> decode each id",
        )
    return verdict("01.1", True)


@silent
def exercise_01_2(pair_scores: Callable[[str, str], Any]) -> Verdict:
    """``pair_scores(text, text_pair)`` -> ``{label: probability}`` equal to ``classifier({"text", "text_pair"}, top_k=None)``."""
    import torch

    pipe = None
    for text, text_pair in _PAIRS:
        ok, got = call_safely("01.2", pair_scores, text, text_pair)
        if not ok:
            return ok
        got_d = _as_score_dict(got)
        if _pipeline_style(got):
            return verdict("01.2", False, _PIPELINE_HINT)
        if got_d is None:
            return verdict("01.2", False, "return one dict {label name: probability} for the pair")
        pipe = pipe or _sentiment()
        tok, model, id2label = pipe.tokenizer, pipe.model, pipe.model.config.id2label
        expected = {d["label"]: d["score"] for d in pipe({"text": text, "text_pair": text_pair}, top_k=None)}
        if _close(got_d, expected):
            continue
        if set(got_d) != set(expected):
            return verdict(
                "01.2", False, f"name the labels with model.config.id2label: expected keys {sorted(expected)}"
            )
        with torch.inference_mode():
            first_alone = _probs(model(**tok(text, return_tensors="pt")).logits, id2label)[0]
            joined = _probs(model(**tok(text + " " + text_pair, return_tensors="pt")).logits, id2label)[0]
            enc = tok(text, text_pair, return_tensors="pt")
            no_types = _probs(model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits, id2label)[
                0
            ]
        if _close(got_d, first_alone):
            return verdict(
                "01.2",
                False,
                "tokenizer([text, text_pair]) is a batch of two texts, not a pair: call tokenizer(text, text_pair)",
            )
        if _close(got_d, joined):
            return verdict(
                "01.2",
                False,
                "joining the strings loses the [SEP] between them and the segment ids: call tokenizer(text, text_pair)",
            )
        if "token_type_ids" in enc and _close(got_d, no_types):
            return verdict(
                "01.2",
                False,
                "you dropped token_type_ids (0 for the text, 1 for the pair): pass them too, model(**inputs)",
            )
        return verdict("01.2", False, f"for ({text!r}, {text_pair!r}) expected {expected}, got {got_d}")
    return verdict("01.2", True)


def _pipeline_positions(pipe: Any, texts: list[str], batch_size: int) -> int:
    """Token positions (real + padding) the pipeline's model really receives, counted by a forward hook."""
    seen: list[int] = []

    def hook(module: Any, args: tuple, kwargs: dict) -> None:
        ids = kwargs.get("input_ids", args[0] if args else None)
        assert ids is not None  # text pipelines always pass input_ids
        seen.append(int(ids.numel()))

    handle = pipe.model.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        pipe(texts, batch_size=batch_size)
    finally:
        handle.remove()
    return sum(seen)


@silent
def exercise_01_3(padded_positions: Callable[[list[str], int], Any]) -> Verdict:
    """``padded_positions(texts, batch_size)`` -> token positions (padding included) the model runs for ``classifier(texts, batch_size=...)``."""
    rng = random.Random(303)
    texts = [" ".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 30))) for _ in range(13)]
    pipe = None
    for batch_size in (4, 5):
        ok, got = call_safely("01.3", padded_positions, texts, batch_size)
        if not ok:
            return ok
        try:
            got_n = int(got)
        except (TypeError, ValueError):
            return verdict(
                "01.3", False, f"return one int, the total number of token positions (got {type(got).__name__})"
            )
        pipe = pipe or _sentiment()
        truth = _pipeline_positions(pipe, texts, batch_size)
        if got_n == truth:
            continue
        lengths = [len(ids) for ids in pipe.tokenizer(texts)["input_ids"]]
        batches = [lengths[i : i + batch_size] for i in range(0, len(lengths), batch_size)]
        if got_n == len(texts) * max(lengths):
            return verdict(
                "01.3",
                False,
                "that pads every text to the longest of the whole list: the pipeline pads each batch to ITS longest text",
            )
        if got_n == sum(lengths):
            return verdict(
                "01.3", False, "that counts real tokens only: every text in a batch is padded to the batch's longest"
            )
        if got_n == sum(len(b) * (max(b) - 2) for b in batches):
            return verdict(
                "01.3", False, "count the special tokens too: the tokenizer adds [CLS] and [SEP] to every text"
            )
        if got_n == sum(len(b) * max(b) for b in batches if len(b) == batch_size):
            return verdict(
                "01.3",
                False,
                f"{len(texts)} texts do not divide into batches of {batch_size}: the last, smaller batch counts too",
            )
        return verdict(
            "01.3",
            False,
            f"for 13 texts and batch_size={batch_size} the model ran {truth} positions, you said {got_n}: "
            "per batch, (texts in the batch) x (longest text in the batch, special tokens included)",
        )
    return verdict("01.3", True)


@functools.lru_cache(maxsize=1)
def _generator() -> Any:
    from transformers import pipeline

    from ..models import CAUSAL_LM, resolve_checkpoint

    return pipeline("text-generation", model=resolve_checkpoint(CAUSAL_LM, verbose=False), device="cpu")


#: Mean log-probability per new token (temperature 0.7) below which a continuation is not the model's.
#: Measured on the stand-in: samples of seeds 11-18 score -0.8 to -2.4; made-up words -5.4 to -7.5.
_MIN_MEAN_LOGPROB = -4.0


def _continuation_logprob(prompt: str, text: str, temperature: float = 0.7) -> float:
    """Mean log-probability of the tokens of ``text`` after ``prompt`` under the course's causal LM at ``temperature``."""
    import torch

    tok, model = _generator().tokenizer, _generator().model
    prompt_ids, ids = tok(prompt)["input_ids"], tok(text)["input_ids"]
    n = 0
    while n < min(len(prompt_ids), len(ids)) and prompt_ids[n] == ids[n]:  # tokens can merge across the border
        n += 1
    n = max(n, 1)
    if len(ids) <= n:
        return float("-inf")
    with torch.inference_mode():
        logits = model(torch.tensor([ids])).logits[0, n - 1 : -1].float()
    logprobs = (logits / temperature).log_softmax(dim=-1)
    return logprobs.gather(-1, torch.tensor(ids[n:])[:, None]).mean().item()


@silent
def exercise_01_4(sample_story: Callable[[str, int], Any]) -> Verdict:
    """``sample_story(prompt, seed)`` -> the prompt and a continuation sampled from the model: the same for the same seed, another for another seed."""
    import torch

    prompt = "The old lighthouse keeper opened the door and"
    with torch.random.fork_rng(devices=[]):  # leave the notebook's own random state alone
        ok, first = call_safely("01.4", sample_story, prompt, 11)
        if not ok:
            return ok
        if not isinstance(first, str):
            return verdict(
                "01.4",
                False,
                f"return the generated text, a str (got {type(first).__name__}): generator(...)[0]['generated_text']",
            )
        if not first.startswith(prompt):
            return verdict(
                "01.4",
                False,
                f"the text must continue the prompt, and {first[:40]!r} does not start with it: "
                "return generator(prompt, ...)[0]['generated_text'] (return_full_text=True, the default)",
            )
        if not first[len(prompt) :].strip():
            return verdict("01.4", False, "nothing was generated after the prompt: max_new_tokens=8")
        if _continuation_logprob(prompt, first) < _MIN_MEAN_LOGPROB:
            return verdict(
                "01.4",
                False,
                f"{first[len(prompt) :]!r} is very unlikely under the model, so it was not sampled "
                "from it: generate it with generator(prompt, do_sample=True, temperature=0.7, max_new_tokens=8)",
            )
        ok, again = call_safely("01.4", sample_story, prompt, 11)
        if not ok:
            return ok
        if again != first:
            return verdict(
                "01.4",
                False,
                "two calls with the same seed gave different texts: seed right before generating, "
                "inside the function (transformers.set_seed(seed))",
            )
        ok, other = call_safely("01.4", sample_story, prompt, 12)
        if not ok:
            return ok
        if other == first:
            greedy = _generator()(prompt, do_sample=False, max_new_tokens=8)[0]["generated_text"]
            if first in (greedy, greedy.removeprefix(prompt)) or greedy.startswith(first) or first.startswith(greedy):
                return verdict("01.4", False, "this is greedy decoding, which ignores the seed: pass do_sample=True")
            return verdict("01.4", False, "seeds 11 and 12 gave the same text: use the seed argument, set_seed(seed)")
        if (
            not isinstance(other, str)
            or not other.startswith(prompt)
            or _continuation_logprob(prompt, other) < _MIN_MEAN_LOGPROB
        ):
            return verdict(
                "01.4",
                False,
                "with seed 12 the text does not continue the prompt with the model's tokens: "
                "return generator(prompt, do_sample=True, ...)[0]['generated_text'] for every seed",
            )
    return verdict("01.4", True)
