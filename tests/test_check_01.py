"""Checkers of notebook 01: the adversarial table (FAKES, run by test_check_fakes.py), and the worked
solutions, read from notebooks/solutions/src/01_pipelines_solutions.py, accepted in float32 and bfloat16.

The learner's objects are loaded as the notebook loads them (the stand-ins offline), on first use."""

from __future__ import annotations

import functools
import random
import types

import pytest
import torch
from fakes import Fake, solution

from course_utils import check
from course_utils.check import nb01
from course_utils.check._core import precision
from course_utils.models import CAUSAL_LM, SENTIMENT, resolve_checkpoint

NAMES = ("next_token_probs", "pair_scores", "padded_positions", "sample_story")


@functools.lru_cache(maxsize=2)
def nb(dtype: torch.dtype = torch.float32) -> types.SimpleNamespace:
    """What notebook 01 gives the learner, loaded as the notebook does (objects apart from the checker's), in
    ``dtype`` (the Hub's SmolLM2 is bfloat16): its pipelines, tokenizer and model, and the worked solutions."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

    sentiment, causal = (resolve_checkpoint(name, verbose=False) for name in (SENTIMENT, CAUSAL_LM))
    objects = dict(
        classifier=pipeline("sentiment-analysis", model=sentiment, device="cpu", dtype=dtype),
        tokenizer=AutoTokenizer.from_pretrained(sentiment),
        model=AutoModelForSequenceClassification.from_pretrained(sentiment, dtype=dtype).eval(),
        generator=pipeline("text-generation", model=causal, device="cpu", dtype=dtype),
        env=types.SimpleNamespace(device="cpu"),
    )
    return types.SimpleNamespace(**objects, **dict(zip(NAMES, solution("01", *NAMES, extra=objects))))


# ------------------------------------------------------------------ 01.1: next-token probabilities


def next_token(prompt, k, position=-1, scores=lambda logits: logits.softmax(-1), name="decode"):
    """The worked solution's steps, or one typical mistake: another position, another score, another name."""
    tok, model = nb().generator.tokenizer, nb().generator.model
    with torch.inference_mode():
        logits = model(**tok(prompt, return_tensors="pt")).logits[0, position]
    top = scores(logits).topk(k)
    names = {"decode": lambda i: tok.decode([i]), "ids": lambda i: i, "pieces": tok.convert_ids_to_tokens}[name]
    return [(names(i), p) for i, p in zip(top.indices.tolist(), top.values.tolist())]


def by_generate(prompt, k, class_level=False):
    """The probabilities generate() reports for its first new token: right numbers, by the library."""
    from transformers import GenerationMixin

    tok, model = nb().generator.tokenizer, nb().generator.model
    generate = functools.partial(GenerationMixin.generate, model) if class_level else model.generate
    out = generate(
        **tok(prompt, return_tensors="pt"),
        max_new_tokens=1,
        do_sample=False,
        output_scores=True,
        return_dict_in_generate=True,
    )
    top = out.scores[0][0].softmax(-1).topk(k)
    return [(tok.decode([i]), p) for i, p in zip(top.indices.tolist(), top.values.tolist())]


def swallowed_pipeline(prompt, k):
    try:
        return nb().generator(prompt, max_new_tokens=1, do_sample=False)
    except BaseException:
        return [(" Paris", 0.77), (" the", 0.06), (" London", 0.01), (" a", 0.01), (" not", 0.01)][:k]


# ------------------------------------------------------------------ 01.2: a pair of texts


def pair(text, text_pair, texts=None, drop_types=False, fn="softmax", names=None):
    """The worked solution's steps, or one typical mistake: other texts, no token types, another function, other names."""
    tok, model = nb().tokenizer, nb().model
    enc = tok(texts, return_tensors="pt", padding=True) if texts else tok(text, text_pair, return_tensors="pt")
    if drop_types:
        enc.pop("token_type_ids")
    with torch.inference_mode():
        logits = model(**enc).logits[0]
    probs = logits.softmax(-1) if fn == "softmax" else logits.sigmoid()
    return {(names or model.config.id2label)[i]: p.item() for i, p in enumerate(probs)}


def pipeline_by_hand(text, text_pair):
    """The pipeline's own stages, called one by one instead of through its __call__."""
    clf = nb().classifier
    return clf.postprocess(clf.forward(clf.preprocess({"text": text, "text_pair": text_pair})), top_k=None)


def class_level_pair(text, text_pair):
    from transformers import Pipeline

    return {
        d["label"]: d["score"]
        for d in Pipeline.__call__(nb().classifier, {"text": text, "text_pair": text_pair}, top_k=None)
    }


# ------------------------------------------------------------------ 01.3: padded positions


def positions(texts, batch_size, add_special_tokens=True, key=None, full_only=False, size=None):
    """The worked solution's steps, or one typical mistake: no special tokens, sorted texts, full batches only, a fixed size."""
    size = size or batch_size
    lengths = (
        sorted(len(ids) for ids in nb().tokenizer(texts, add_special_tokens=add_special_tokens)["input_ids"])
        if key
        else [len(ids) for ids in nb().tokenizer(texts, add_special_tokens=add_special_tokens)["input_ids"]]
    )
    groups = [lengths[i : i + size] for i in range(0, len(lengths), size)]
    return sum(len(g) * max(g) for g in groups if len(g) == size or not full_only)


def measured(texts, batch_size, call=None):
    """Runs the classifier with a hook and counts what its model receives: the truth, measured by the library."""
    from transformers import Pipeline

    clf, seen = nb().classifier, []
    handle = clf.model.register_forward_pre_hook(
        lambda m, a, kw: seen.append(kw["input_ids"].numel()), with_kwargs=True
    )
    try:
        (call or Pipeline.__call__)(clf, texts, batch_size=batch_size)
    finally:
        handle.remove()
    return sum(seen)


# ------------------------------------------------------------------ 01.4: seeded sampling

LIGHTHOUSE = "The old lighthouse keeper opened the door and"


def sample(prompt, seed=None, **kwargs):
    """The pipeline's sample (seeded when seed is given), or one typical mistake through kwargs."""
    from transformers import set_seed

    if seed is not None:
        set_seed(seed)
    return nb().generator(prompt, **{"do_sample": True, "temperature": 0.7, "max_new_tokens": 8, **kwargs})[0][
        "generated_text"
    ]


@functools.cache
def memo(prompt, seed):
    """Unseeded samples, kept per (prompt, seed): the same seed gives the same text, another seed another."""
    return sample(prompt)


def seeded_once(prompt, seed, seeded=[]):  # noqa: B006 - the list remembers the one seeding
    """Seeds once, on its first call, never again."""
    if not seeded:
        seeded.append(torch.manual_seed(0))
    return sample(prompt)


MADE_UP = {11: " walked out into the storm", 12: " looked at the sea", 13: " sat on a stone"}

FAKES = {
    "01.1": {
        "library": [
            Fake(
                "the pipeline's own greedy step",
                (lambda p, k: nb().generator(p, max_new_tokens=1, do_sample=False),),
                "`the pipeline call` is switched off",
            ),
            Fake(
                "generate()'s scores for its first token",
                (lambda p, k: by_generate(p, k),),
                "`generate()` is switched off",
            ),
        ],
        "constant": [
            Fake(
                "typed-in tokens and probabilities",
                (lambda p, k: [(" Paris", 0.9), (" the", 0.05), (" London", 0.01), (" a", 0.01), (" not", 0.01)][:k],),
                "most likely next tokens are",
            ),
            Fake(
                "the first prompt's answer, always",
                (lambda p, k: next_token("The capital of France is", k),),
                "most likely next tokens are",
            ),
        ],
        "ignores": [
            Fake("ignores k: always 3", (lambda p, k: next_token(p, 3),), "return exactly 5 pairs"),
            Fake(
                "ignores the prompt: the notebook's own",
                (lambda p, k: next_token("Once upon a time", k),),
                "most likely next tokens are",
            ),
        ],
        "guard": [
            Fake(
                "class-level generate() on the instance's model",
                (lambda p, k: by_generate(p, k, class_level=True),),
                "`generate()` is switched off",
            ),
            Fake(
                "catches the switched-off call and answers a constant",
                (swallowed_pipeline,),
                "`the pipeline call` is switched off",
            ),
        ],
        "other": [
            Fake(
                "logits, not probabilities", (lambda p, k: next_token(p, k, scores=lambda x: x),), "not probabilities"
            ),
            Fake(
                "log-probabilities",
                (lambda p, k: next_token(p, k, scores=lambda x: x.log_softmax(-1)),),
                "not probabilities",
            ),
            Fake(
                "the first position's predictions",
                (lambda p, k: next_token(p, k, position=0),),
                "after the FIRST token",
            ),
            Fake("token ids instead of text", (lambda p, k: next_token(p, k, name="ids"),), "those are token ids"),
            Fake(
                "byte-level pieces ('ĠParis')",
                (lambda p, k: next_token(p, k, name="pieces"),),
                "most likely next tokens are",
            ),
            Fake("least likely first", (lambda p, k: next_token(p, k)[::-1],), "wrong order"),
            Fake(
                "softmax over the top k only",
                (
                    lambda p, k: next_token(
                        p, k, scores=lambda x: x.masked_fill(x < x.topk(k).values[-1], float("-inf")).softmax(-1)
                    ),
                ),
                "most likely next tokens are",
            ),
            Fake(
                "sampling temperature 0.7",
                (lambda p, k: next_token(p, k, scores=lambda x: (x / 0.7).softmax(-1)),),
                "most likely next tokens are",
            ),
        ],
    },
    "01.2": {
        "library": [
            Fake(
                "the pipeline itself, as a dict",
                (
                    lambda a, b: {
                        d["label"]: d["score"] for d in nb().classifier({"text": a, "text_pair": b}, top_k=None)
                    },
                ),
                "`the pipeline` is switched off",
            ),
            Fake(
                "the pipeline's preprocess, forward and postprocess",
                (pipeline_by_hand,),
                "`the pipeline` is switched off",
            ),
        ],
        "constant": [
            Fake("typed-in scores", (lambda a, b: {"NEGATIVE": 0.5, "POSITIVE": 0.5},), "expected {"),
            Fake("the first pair's scores, always", (lambda a, b: pair(*nb01._PAIRS[0]),), "expected {"),
        ],
        "ignores": [
            Fake("ignores text_pair", (lambda a, b: pair(a, None, texts=[a]),), "a batch of two texts, not a pair"),
            Fake("ignores text", (lambda a, b: pair(a, b, texts=[b]),), "expected {"),
        ],
        "guard": [
            Fake("the base class's __call__ on the instance", (class_level_pair,), "`the pipeline` is switched off"),
            Fake(
                "the pipeline's {label, score} format, built by hand",
                (lambda a, b: [{"label": k, "score": v} for k, v in pair(a, b).items()],),
                "the pipeline's format",
            ),
        ],
        "other": [
            Fake(
                "a batch of the two texts, first row",
                (lambda a, b: pair(a, b, texts=[a, b]),),
                "a batch of two texts, not a pair",
            ),
            Fake("the two texts joined", (lambda a, b: pair(a, b, texts=[a + " " + b]),), "loses the [SEP]"),
            Fake("no token_type_ids", (lambda a, b: pair(a, b, drop_types=True),), "dropped token_type_ids"),
            Fake("LABEL_i names", (lambda a, b: pair(a, b, names=["LABEL_0", "LABEL_1"]),), "expected keys"),
            Fake("sigmoid instead of softmax", (lambda a, b: pair(a, b, fn="sigmoid"),), "expected {"),
        ],
    },
    "01.3": {
        "library": [
            Fake(
                "runs the classifier and counts with a hook",
                (lambda t, b: measured(t, b, call=lambda clf, *a, **kw: clf(*a, **kw)),),
                "`the pipeline` is switched off",
            )
        ],
        "constant": [
            Fake("a typed-in count", (lambda t, b: 300,), "the model ran"),
            Fake("the first input's count, always", (lambda t, b: positions(random_texts(), 4),), "the model ran"),
        ],
        "ignores": [
            Fake(
                "ignores batch_size: pads the whole list",
                (lambda t, b: sum(len(x) for x in nb().tokenizer(t, padding=True)["input_ids"]),),
                "each batch to ITS longest",
            ),
            Fake("ignores batch_size: always 8", (lambda t, b: positions(t, b, size=8),), "the model ran"),
            Fake("ignores the order: sorts by length", (lambda t, b: positions(t, b, key=len),), "do not sort them"),
        ],
        "guard": [
            Fake("the pipeline's class-level __call__ with a hook", (measured,), "`the pipeline` is switched off"),
            Fake("the right number as a float", (lambda t, b: float(positions(t, b)),), "return one int"),
        ],
        "other": [
            Fake(
                "real tokens only",
                (lambda t, b: sum(len(x) for x in nb().tokenizer(t)["input_ids"]),),
                "counts real tokens only",
            ),
            Fake("no special tokens", (lambda t, b: positions(t, b, add_special_tokens=False),), "[CLS] and [SEP]"),
            Fake(
                "full batches only",
                (lambda t, b: positions(t, b, full_only=True),),
                "the last, smaller batch counts too",
            ),
        ],
    },
    "01.4": {
        "library": "n/a: the exercise asks for the generation pipeline's own sampling; it re-implements nothing",
        "constant": [
            Fake(
                "a typed-in continuation",
                (lambda p, s: p + " walked out into the storm.",),
                "seeds 11 and 12 gave the same text",
            ),
            Fake("typed-in continuations, one per seed", (lambda p, s: p + MADE_UP[s],), "the model samples"),
        ],
        "ignores": [
            Fake("ignores the seed: set_seed(0)", (lambda p, s: sample(p, 0),), "seeds 11 and 12 gave the same text"),
            Fake(
                "ignores the prompt: the notebook's own",
                (lambda p, s: sample("Once upon a time", s),),
                "does not start with it",
            ),
        ],
        "guard": [
            Fake("unseeded samples, memoised by (prompt, seed)", (memo,), "the model samples"),
            Fake("seeds once, outside the function", (seeded_once,), "same seed gave different texts"),
        ],
        "other": [
            Fake("greedy decoding", (lambda p, s: sample(p, do_sample=False),), "greedy decoding"),
            Fake(
                "greedy, its length chosen by the seed",
                (lambda p, s: sample(p, do_sample=False, max_new_tokens=s - 5),),
                "the model samples",
            ),
            Fake("sampled at temperature 1", (lambda p, s: sample(p, s, temperature=1.0),), "the model samples"),
            Fake("the seed as text", (lambda p, s: str(s),), "does not start with it"),
            Fake("the prompt alone", (lambda p, s: p,), "nothing was generated"),
            Fake(
                "the pipeline's list",
                (lambda p, s: nb().generator(p, do_sample=True, max_new_tokens=8),),
                "return the generated text, a str",
            ),
        ],
    },
}


def random_texts():
    """The checker's first list of texts (13 texts drawn with its seed)."""
    rng = random.Random(303)
    return [" ".join(rng.choice(nb01._WORDS) for _ in range(rng.randint(1, 30))) for _ in range(13)]


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_worked_solutions_pass(dtype, capsys):
    """The solutions on the stand-ins cast to ``dtype``: the Hub serves SmolLM2 in bfloat16, where 01.1's
    solution got (' Paris', 0.766) and the old checker wanted 0.767."""
    learner = nb(dtype)
    with precision(dtype):
        assert learner.generator.model.dtype == dtype
        for k, name in enumerate(NAMES, 1):
            assert getattr(check, f"exercise_01_{k}")(getattr(learner, name)), name
    assert capsys.readouterr().out.count("correct") == 4


def test_01_1_right_answers_in_any_precision(capsys):
    """A float32 softmax of bfloat16 logits, and the answer as a dict, are right too."""
    learner = nb(torch.bfloat16)
    tok, model = learner.generator.tokenizer, learner.generator.model

    def float_softmax(prompt, k):
        with torch.inference_mode():
            probs = model(**tok(prompt, return_tensors="pt")).logits[0, -1].float().softmax(-1)
        top = probs.topk(k)
        return {tok.decode([i]): p for i, p in zip(top.indices.tolist(), top.values)}

    assert check.exercise_01_1(float_softmax)
    assert check.exercise_01_1(lambda p, k: dict(nb().next_token_probs(p, k)))
    assert capsys.readouterr().out.count("correct") == 2


def test_01_placeholders_say_not_implemented(capsys):
    def placeholder(*args):
        raise NotImplementedError

    for k in range(1, 5):
        assert not getattr(check, f"exercise_01_{k}")(placeholder)
    assert capsys.readouterr().out.count("not implemented yet") == 4
