"""Checkers for notebook 01 (pipelines)."""

from __future__ import annotations

import functools
import random
from typing import Any, Callable

from ._core import call_safely, verdict

__all__ = ["exercise_01_1", "exercise_01_2", "exercise_01_3", "exercise_01_4"]

# Fresh inputs: none of these sentences appears in notebook 01.
_REVIEWS = [
    "A dull, lifeless film that wastes a talented cast.",
    "Wonderful!",
    "The soundtrack is gorgeous and the ending made me cry in the best way.",
    "I wanted to like it, but the second half drags on forever and nothing happens.",
    "Meh.",
    "Sharp writing, brave performances and a story that stays with you for days.",
    "Not worth the ticket.",
    "It is clumsy, loud and far too long, although the lead actor tries hard.",
    "An instant classic.",
    "The jokes fall flat and the plot makes no sense at all.",
]
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


_PIPELINE_HINT = "that is the pipeline's format ({'label', 'score'}); compute it by hand and return {label name: probability}"


def _close(a: dict[str, float], b: dict[str, float], atol: float = 1e-4) -> bool:
    return set(a) == set(b) and all(abs(a[k] - b[k]) <= atol for k in a)


def _probs(logits: Any, id2label: dict[int, str], fn: str = "softmax") -> list[dict[str, float]]:
    scores = logits.softmax(dim=-1) if fn == "softmax" else logits.sigmoid() if fn == "sigmoid" else logits
    return [{id2label[i]: float(p) for i, p in enumerate(row)} for row in scores]


def exercise_01_1(scores_by_hand: Callable[[list[str]], Any]) -> bool:
    """``scores_by_hand(texts)`` -> one ``{label: probability}`` dict per text, equal to the pipeline's scores."""
    import torch

    texts = random.Random(101).sample(_REVIEWS, 5)
    ok, got = call_safely("01.1", scores_by_hand, texts)
    if not ok:
        return False
    if not isinstance(got, (list, tuple)) or len(got) != len(texts):
        return verdict("01.1", False, f"return a list with one {{label: probability}} dict per text ({len(texts)} texts)")
    dicts = [_as_score_dict(d) for d in got]
    if any(_pipeline_style(d) for d in got):
        return verdict("01.1", False, _PIPELINE_HINT)
    if any(d is None for d in dicts):
        return verdict("01.1", False, "each item must be a dict {label name: probability}, e.g. {'NEGATIVE': 0.9, 'POSITIVE': 0.1}")
    pipe = _sentiment()
    id2label = pipe.model.config.id2label
    expected = [{d["label"]: d["score"] for d in res} for res in pipe(texts, top_k=None)]
    if all(_close(g, e) for g, e in zip(dicts, expected)):
        return verdict("01.1", True)
    if any(set(g) != set(e) for g, e in zip(dicts, expected)):
        return verdict("01.1", False, f"name the labels with model.config.id2label: expected keys {sorted(expected[0])}")
    if any(abs(sum(g.values()) - 1) > 1e-3 for g in dicts):
        return verdict("01.1", False, "these are not probabilities (a row does not sum to 1): apply softmax(dim=-1) to the logits")
    tok, model = pipe.tokenizer, pipe.model
    batch = tok(texts, padding=True, return_tensors="pt")
    with torch.inference_mode():
        no_mask = model(input_ids=batch["input_ids"]).logits
    if all(_close(g, e) for g, e in zip(dicts, _probs(no_mask, id2label))):
        return verdict("01.1", False, "you passed only input_ids: padded texts then attend to [PAD]; pass the attention_mask too, model(**inputs)")
    swapped = [{k: e[other] for k, other in zip(e, reversed(list(e)))} for e in expected]
    if all(_close(g, s) for g, s in zip(dicts, swapped)):
        return verdict("01.1", False, "the labels are swapped: label id i is model.config.id2label[i]")
    return verdict("01.1", False, f"for {texts[0]!r} expected {expected[0]}, got {dicts[0]}: tokenizer(texts, padding=True, "
                   "return_tensors='pt') -> model(**inputs).logits -> softmax(dim=-1)")


def exercise_01_2(pair_scores: Callable[[str, str], Any]) -> bool:
    """``pair_scores(text, text_pair)`` -> ``{label: probability}`` equal to ``classifier({"text", "text_pair"}, top_k=None)``."""
    import torch

    pipe = None
    for text, text_pair in _PAIRS:
        ok, got = call_safely("01.2", pair_scores, text, text_pair)
        if not ok:
            return False
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
            return verdict("01.2", False, f"name the labels with model.config.id2label: expected keys {sorted(expected)}")
        with torch.inference_mode():
            first_alone = _probs(model(**tok(text, return_tensors="pt")).logits, id2label)[0]
            joined = _probs(model(**tok(text + " " + text_pair, return_tensors="pt")).logits, id2label)[0]
            enc = tok(text, text_pair, return_tensors="pt")
            no_types = _probs(model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits, id2label)[0]
        if _close(got_d, first_alone):
            return verdict("01.2", False, "tokenizer([text, text_pair]) is a batch of two texts, not a pair: call tokenizer(text, text_pair)")
        if _close(got_d, joined):
            return verdict("01.2", False, "joining the strings loses the [SEP] between them and the segment ids: call tokenizer(text, text_pair)")
        if "token_type_ids" in enc and _close(got_d, no_types):
            return verdict("01.2", False, "you dropped token_type_ids (0 for the text, 1 for the pair): pass them too, model(**inputs)")
        return verdict("01.2", False, f"for ({text!r}, {text_pair!r}) expected {expected}, got {got_d}")
    return verdict("01.2", True)


def _pipeline_positions(pipe: Any, texts: list[str], batch_size: int) -> int:
    """Token positions (real + padding) the pipeline's model really receives, counted by a forward hook."""
    seen: list[int] = []

    def hook(module: Any, args: tuple, kwargs: dict) -> None:
        ids = kwargs.get("input_ids", args[0] if args else None)
        seen.append(int(ids.numel()))

    handle = pipe.model.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        pipe(texts, batch_size=batch_size)
    finally:
        handle.remove()
    return sum(seen)


def exercise_01_3(padded_positions: Callable[[list[str], int], Any]) -> bool:
    """``padded_positions(texts, batch_size)`` -> token positions (padding included) the model runs for ``classifier(texts, batch_size=...)``."""
    rng = random.Random(303)
    texts = [" ".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 30))) for _ in range(13)]
    pipe = None
    for batch_size in (4, 5):
        ok, got = call_safely("01.3", padded_positions, texts, batch_size)
        if not ok:
            return False
        try:
            got_n = int(got)
        except (TypeError, ValueError):
            return verdict("01.3", False, f"return one int, the total number of token positions (got {type(got).__name__})")
        pipe = pipe or _sentiment()
        truth = _pipeline_positions(pipe, texts, batch_size)
        if got_n == truth:
            continue
        lengths = [len(ids) for ids in pipe.tokenizer(texts)["input_ids"]]
        batches = [lengths[i : i + batch_size] for i in range(0, len(lengths), batch_size)]
        if got_n == len(texts) * max(lengths):
            return verdict("01.3", False, "that pads every text to the longest of the whole list: the pipeline pads each batch to ITS longest text")
        if got_n == sum(lengths):
            return verdict("01.3", False, "that counts real tokens only: every text in a batch is padded to the batch's longest")
        if got_n == sum(len(b) * (max(b) - 2) for b in batches):
            return verdict("01.3", False, "count the special tokens too: the tokenizer adds [CLS] and [SEP] to every text")
        if got_n == sum(len(b) * max(b) for b in batches if len(b) == batch_size):
            return verdict("01.3", False, f"{len(texts)} texts do not divide into batches of {batch_size}: the last, smaller batch counts too")
        return verdict("01.3", False, f"for 13 texts and batch_size={batch_size} the model ran {truth} positions, you said {got_n}: "
                       "per batch, (texts in the batch) x (longest text in the batch, special tokens included)")
    return verdict("01.3", True)


@functools.lru_cache(maxsize=1)
def _generator() -> Any:
    from transformers import pipeline

    from ..models import CAUSAL_LM, resolve_checkpoint

    return pipeline("text-generation", model=resolve_checkpoint(CAUSAL_LM, verbose=False), device="cpu")


def exercise_01_4(sample_story: Callable[[str, int], Any]) -> bool:
    """``sample_story(prompt, seed)`` -> a sampled continuation that is the same for the same seed and changes with it."""
    import torch

    prompt = "The old lighthouse keeper opened the door and"
    with torch.random.fork_rng(devices=[]):  # leave the notebook's own random state alone
        ok, first = call_safely("01.4", sample_story, prompt, 11)
        if not ok:
            return False
        if not isinstance(first, str):
            return verdict("01.4", False, f"return the generated text, a str (got {type(first).__name__}): "
                           "generator(...)[0]['generated_text']")
        ok, again = call_safely("01.4", sample_story, prompt, 11)
        if not ok:
            return False
        if again != first:
            return verdict("01.4", False, "two calls with the same seed gave different texts: seed right before generating, "
                           "inside the function (transformers.set_seed(seed))")
        ok, other = call_safely("01.4", sample_story, prompt, 12)
        if not ok:
            return False
        if other == first:
            greedy = _generator()(prompt, do_sample=False, max_new_tokens=8)[0]["generated_text"]
            if first in (greedy, greedy.removeprefix(prompt)) or greedy.startswith(first) or first.startswith(greedy):
                return verdict("01.4", False, "this is greedy decoding, which ignores the seed: pass do_sample=True")
            return verdict("01.4", False, "seeds 11 and 12 gave the same text: use the seed argument, set_seed(seed)")
    return verdict("01.4", True)
