"""Checkers for notebook 01 (pipelines).

Each reference runs on the course's own checkpoint, in the dtype and on the device of the model
that the learner's code ran (a forward hook sees it): the Hub serves SmolLM2 in bfloat16, the
offline stand-in is float32, and a right answer must pass with either, on any device.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from typing import Any

from ..i18n import N_, _
from ._core import answer, checker, expect, model_dtype, tolerance
from .nb00 import _ints

__all__ = ["exercise_01_1", "exercise_01_2", "exercise_01_3", "exercise_01_4"]

_CALL = "transformers.Pipeline.__call__"  # every pipeline's call goes through it
#: What the first two exercises ask for by hand: the library's forms, switched off while their code runs.
_GENERATION = {N_("the pipeline call"): _CALL, "generate()": "transformers.GenerationMixin.generate"}
_STAGES = ("transformers.TextClassificationPipeline.preprocess", "transformers.TextClassificationPipeline.postprocess")
_CLASSIFIER = {N_("the pipeline"): (_CALL, *_STAGES)}
_WORDS = (
    "the a movie film plot actor story scene music ending really very quite slow fast funny sad "
    "boring brilliant characters dialogue camera director screenplay unexpectedly wonderfully"
).split()


@functools.lru_cache(maxsize=4)
def _pipe(task: str, dtype: Any, device: str) -> Any:
    """The course's ``task`` pipeline ("text-generation" or "text-classification"; stand-ins offline), once per dtype and device."""
    from transformers import pipeline

    from ..models import CAUSAL_LM, SENTIMENT, resolve_checkpoint

    name = CAUSAL_LM if task == "text-generation" else SENTIMENT
    return pipeline(task, model=resolve_checkpoint(name, verbose=False), dtype=dtype, device=device)  # type: ignore[call-overload]


def _learner(task: str, fn: Callable[..., Any], *args: Any) -> tuple[Any, Any]:
    """``answer(fn, *args)`` and the course's ``task`` pipeline in the dtype and on the device of the first
    model the learner's code ran (CPU and :func:`model_dtype` when it ran none)."""
    import torch
    from transformers import PreTrainedModel

    seen: list[tuple[Any, str]] = []

    def hook(module: Any, args: Any) -> None:
        if isinstance(module, PreTrainedModel):
            seen.append((module.dtype, str(module.device)))

    handle = torch.nn.modules.module.register_module_forward_pre_hook(hook)
    try:
        got = answer(fn, *args)
    finally:
        handle.remove()
    return got, _pipe(task, *(seen[0] if seen else (model_dtype(), "cpu")))


def _pairs(obj: Any) -> Any:
    """A learner's answer as ``[(token, probability), ...]`` (a dict keeps its order too), or None for another shape."""
    try:
        items = list(obj.items() if isinstance(obj, dict) else obj)
        return [(t.item() if hasattr(t, "item") else t, float(p)) for t, p in items]
    except (TypeError, ValueError, RuntimeError):
        return None


#: Fresh prompts (none appears in notebook 01) and k, 1 included.
_PROMPTS = (
    ("The capital of France is", 3),
    ("After the rain stopped, the children ran outside to", 5),
    ("My favourite colour is", 1),
)


@checker("01.1", asks=N_("the probabilities from the tokenizer and the model"), off=_GENERATION)
def exercise_01_1(next_token_probs: Callable[[str, int], Any]) -> None:
    """``next_token_probs(prompt, k)`` -> the ``k`` most likely next tokens as ``(text, probability)`` pairs, most likely first."""
    import torch

    for prompt, k in _PROMPTS:
        got, pipe = _learner("text-generation", next_token_probs, prompt, k)
        tok, pairs, tol = pipe.tokenizer, _pairs(got), tolerance(pipe.model.dtype)
        with torch.inference_mode():
            probs = pipe.model(**tok(prompt, return_tensors="pt").to(pipe.device)).logits[0].float().softmax(-1).cpu()
        top = probs[-1].topk(k + 20)
        expected = [(tok.decode([i]), p) for i, p in zip(top.indices.tolist(), top.values.tolist())]
        prob_of = dict(reversed(expected))  # a text's highest probability among the ids that decode to it
        tokens = lambda: [t for t, _p in pairs]  # noqa: E731

        def mismatch() -> bool:  # a probability off, or a likelier token left out
            off = any(abs(p - prob_of.get(t, 0.0)) > tol for t, p in pairs)
            return off or min(prob_of.get(t, 0.0) for t, _p in pairs) + tol < expected[k - 1][1]

        expect(
            (
                pairs is None,
                _(
                    "return a list of (token text, probability) pairs, most likely first, e.g. [(' Paris', 0.41), (' a', 0.12)]"
                ),
            ),
            (
                lambda: len(pairs) != k,
                lambda: _("for k={k} return exactly {k} pairs (got {n_pairs}): probs.topk(k)").format(
                    k=k, n_pairs=len(pairs)
                ),
            ),
            (
                lambda: tokens() == top.indices[:k].tolist(),
                _(
                    "those are token ids: name each one with tokenizer.decode([id]), "
                    "the generator's counterpart of model.config.id2label"
                ),
            ),
            (
                lambda: not all(isinstance(t, str) for t in tokens()),
                _("each pair starts with the token's text, a str: tokenizer.decode([id])"),
            ),
            (
                lambda: any(not 0 <= p <= 1 for _t, p in pairs),
                _(
                    "these are not probabilities (logits or log-probabilities?): apply softmax(dim=-1) over the vocabulary"
                ),
            ),
            (
                lambda: mismatch() and tokens() == [tok.decode([i]) for i in probs[0].topk(k).indices.tolist()],
                _(
                    "those are the predictions after the FIRST token: the last position, logits[0, -1], predicts the token that follows the whole prompt"
                ),
            ),
            (
                mismatch,
                lambda: _(
                    "the {k} most likely next tokens are {expected}, you returned {got}: tokenizer(prompt) -> model(**inputs).logits[0, -1] -> softmax(dim=-1) over the whole vocabulary -> topk(k) -> decode each id"
                ).format(
                    k=k, expected=[(t, round(p, 3)) for t, p in expected[:k]], got=[(t, round(p, 3)) for t, p in pairs]
                ),
            ),
            (
                lambda: [p for _t, p in pairs] != sorted((p for _t, p in pairs), reverse=True),
                _("right tokens, wrong order: most likely first (topk sorts them)"),
            ),
            on=f"prompt={prompt!r}, k={k}",
        )


def _scores(pipe: Any, *texts: str, types: bool = True) -> dict[str, float]:
    """``{label: probability}`` of the pipeline's model for one text or a pair, softmax in float32 (as the pipeline does)."""
    import torch

    enc = pipe.tokenizer(*texts, return_tensors="pt").to(pipe.device)
    if not types:
        enc.pop("token_type_ids", None)
    with torch.inference_mode():
        probs = pipe.model(**enc).logits[0].float().softmax(-1).tolist()
    return {pipe.model.config.id2label[i]: p for i, p in enumerate(probs)}


#: Fresh pairs (none appears in notebook 01) whose halves lean different ways.
_PAIRS = (
    ("The first act is slow.", "The finale more than makes up for it."),
    ("Great cast, beautiful photography and a clever script.", "Still, I was bored."),
    ("Terrible.", "Absolutely terrible, and the sequel is worse."),
)


@checker("01.2", asks=N_("the scores from the tokenizer and the model"), off=_CLASSIFIER)
def exercise_01_2(pair_scores: Callable[[str, str], Any]) -> None:
    """``pair_scores(text, text_pair)`` -> ``{label: probability}`` equal to ``classifier({"text", "text_pair"}, top_k=None)``."""
    for text, text_pair in _PAIRS:
        got, pipe = _learner("text-classification", pair_scores, text, text_pair)
        expected, tol = _scores(pipe, text, text_pair), tolerance(pipe.model.dtype)
        first = got[0] if isinstance(got, list) and got else got
        scores: Any = (
            dict(_pairs(got) or []) if isinstance(got, dict) and all(isinstance(k, str) for k in got) else None
        )
        close = lambda ref: set(scores) == set(ref) and all(abs(scores[k] - ref[k]) <= tol for k in ref)  # noqa: E731
        expect(
            (
                isinstance(first, dict) and set(first) == {"label", "score"},
                _(
                    "that is the pipeline's format ({'label', 'score'}); compute it by hand and return {label name: probability}"
                ),
            ),
            (not scores, _("return one dict {label name: probability} for the pair")),
            (
                lambda: set(scores) != set(expected),
                _("name the labels with model.config.id2label: expected keys {expected}").format(
                    expected=sorted(expected)
                ),
            ),
            (
                lambda: not close(expected) and close(_scores(pipe, text)),
                _("tokenizer([text, text_pair]) is a batch of two texts, not a pair: call tokenizer(text, text_pair)"),
            ),
            (
                lambda: not close(expected) and close(_scores(pipe, text + " " + text_pair)),
                _(
                    "joining the strings loses the [SEP] between them and the segment ids: call tokenizer(text, text_pair)"
                ),
            ),
            (
                lambda: not close(expected) and close(_scores(pipe, text, text_pair, types=False)),
                _("you dropped token_type_ids (0 for the text, 1 for the pair): pass them too, model(**inputs)"),
            ),
            (
                lambda: not close(expected),
                lambda: _("expected {expected}, got {got}").format(expected=_round(expected), got=_round(scores)),
            ),
            on=f"text={text!r}, text_pair={text_pair!r}",
        )


def _round(scores: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 4) for k, v in scores.items()}


def _positions(pipe: Any, texts: list[str], batch_size: int) -> int:
    """Token positions (real and padding) the pipeline's model receives in ``pipe(texts, batch_size=...)``, counted by a hook."""
    seen: list[int] = []
    handle = pipe.model.register_forward_pre_hook(
        lambda module, args, kwargs: seen.append(kwargs["input_ids"].numel()), with_kwargs=True
    )
    try:
        pipe(texts, batch_size=batch_size)
    finally:
        handle.remove()
    return sum(seen)


#: (number of texts, batch_size): sizes that do not divide, batch_size 1 (no padding), one batch for all texts.
_BATCHES = ((13, 4), (13, 5), (7, 1), (6, 8), (11, 3))


@checker("01.3", asks=N_("the count from the tokenizer alone"), off={N_("the pipeline"): _CALL})
def exercise_01_3(padded_positions: Callable[[list[str], int], Any]) -> None:
    """``padded_positions(texts, batch_size)`` -> token positions (padding included) the model runs for ``classifier(texts, batch_size=...)``."""
    rng, pipe = random.Random(303), _pipe("text-classification", model_dtype(), "cpu")
    for n, size in _BATCHES:
        texts = [" ".join(rng.choice(_WORDS) for _word in range(rng.randint(1, 30))) for _text in range(n)]
        got = answer(padded_positions, texts, size)
        (value,), truth = _ints([got]) or (None,), _positions(pipe, texts, size)
        lengths = [len(ids) for ids in pipe.tokenizer(texts)["input_ids"]]

        def padded(
            lengths: list[int], full: bool = False
        ) -> int:  # per batch: texts x longest (full: whole batches only)
            batches = [lengths[i : i + size] for i in range(0, len(lengths), size)]
            return sum(len(b) * max(b) for b in batches if len(b) == size or not full)

        expect(
            (
                value is None,
                _("return one int, the total number of token positions (got {type})").format(type=type(got).__name__),
            ),
            (
                value == n * max(lengths) != truth,
                _(
                    "that pads every text to the longest of the whole list: the pipeline pads each batch to ITS longest text"
                ),
            ),
            (
                value == sum(lengths) != truth,
                _("that counts real tokens only: every text in a batch is padded to the batch's longest"),
            ),
            (
                value == padded([x - 2 for x in lengths]) != truth,
                _("count the special tokens too: the tokenizer adds [CLS] and [SEP] to every text"),
            ),
            (
                value == padded(lengths, full=True) != truth,
                _("{n} texts do not divide into batches of {size}: the last, smaller batch counts too").format(
                    n=n, size=size
                ),
            ),
            (
                value == padded(sorted(lengths)) != truth,
                _("the pipeline batches the texts in the order given: do not sort them"),
            ),
            (
                value != truth,
                _(
                    "the model ran {truth} positions, you said {value}: per batch, (texts in the batch) x (longest text in the batch, special tokens included)"
                ).format(truth=truth, value=value),
            ),
            on=_("{n} texts, batch_size={size}").format(n=n, size=size),
        )


#: (prompt, seed): the first twice (the same seed gives the same text), then another seed, another prompt.
_STORIES = (("The old lighthouse keeper opened the door and", 11),) * 2 + (
    ("The old lighthouse keeper opened the door and", 12),
    ("Under the bridge, a small green frog", 13),
)


@checker("01.4")
def exercise_01_4(sample_story: Callable[[str, int], Any]) -> None:
    """``sample_story(prompt, seed)`` -> the prompt and a continuation sampled from the model: the same for the same seed, another for another seed."""
    import torch

    runs = [(prompt, seed, *_learner("text-generation", sample_story, prompt, seed)) for prompt, seed in _STORIES]
    for prompt, seed, got, _pipeline in runs:
        expect(
            (
                not isinstance(got, str),
                _("return the generated text, a str (got {type}): generator(...)[0]['generated_text']").format(
                    type=type(got).__name__
                ),
            ),
            (
                lambda: not got.startswith(prompt),
                lambda: _(
                    "the text must continue the prompt, and {got!r} does not start with it: return generator(prompt, ...)[0]['generated_text'] (return_full_text=True, the default)"
                ).format(got=got[:40]),
            ),
            (lambda: not got[len(prompt) :].strip(), _("nothing was generated after the prompt: max_new_tokens=8")),
            on=f"prompt={prompt!r}, seed={seed}",
        )
    (prompt, _seed, first, pipe), again, other = runs[0], runs[1][2], runs[2][2]
    greedy = lambda: pipe(prompt, do_sample=False, max_new_tokens=8)[0]["generated_text"]  # noqa: E731
    expect(
        (
            again != first,
            _(
                "two calls with the same seed gave different texts: seed right before generating, inside the function (transformers.set_seed(seed))"
            ),
        ),
        (
            lambda: other == first and ((g := greedy()).startswith(first) or first.startswith(g)),
            _("this is greedy decoding, which ignores the seed: pass do_sample=True"),
        ),
        (other == first, _("seeds 11 and 12 gave the same text: use the seed argument, set_seed(seed)")),
        on=_("prompt={prompt!r}, seeds 11, 11 and 12").format(prompt=prompt),
    )
    for prompt, seed, got, pipe in runs[::3]:  # one draw per prompt
        if pipe.device.type == "cpu":  # an accelerator may not draw the same twice: there, the rules above
            torch.manual_seed(seed)  # what set_seed does for torch, the only generator sampling draws from
            expected = pipe(prompt, do_sample=True, temperature=0.7, max_new_tokens=8)[0]["generated_text"]
            expect(
                (
                    got != expected,
                    _(
                        "the model samples {expected!r} after set_seed({seed}), you returned {got!r}: set_seed(seed), then generator(prompt, do_sample=True, temperature=0.7, max_new_tokens=8)[0]['generated_text']"
                    ).format(expected=expected, seed=seed, got=got),
                ),
                on=f"prompt={prompt!r}, seed={seed}",
            )
