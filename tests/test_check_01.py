"""Checkers of notebook 01: each accepts the worked solution and rejects typical wrong answers with a hint."""

from __future__ import annotations

import functools
import random

import pytest
import torch
from transformers import set_seed

from course_utils import check
from course_utils.check import nb01


@pytest.fixture(scope="module")
def pipe():
    return nb01._sentiment()


def by_hand(pipe, texts, fn="softmax", mask=True):
    inputs = pipe.tokenizer(texts, padding=True, return_tensors="pt")
    if not mask:
        inputs = {"input_ids": inputs["input_ids"]}
    with torch.inference_mode():
        logits = pipe.model(**inputs).logits
    probs = logits.softmax(dim=-1) if fn == "softmax" else logits
    return [{pipe.model.config.id2label[i]: p.item() for i, p in enumerate(row)} for row in probs]


@pytest.fixture(scope="module")
def generator():
    return nb01._generator()


def next_token_probs(generator, prompt, k, position=-1, fn="softmax", decode=True):
    tok, model = generator.tokenizer, generator.model
    with torch.inference_mode():
        logits = model(**tok(prompt, return_tensors="pt")).logits[0, position]
    scores = logits.softmax(dim=-1) if fn == "softmax" else logits
    top = scores.topk(k)
    names = [tok.decode([i]) for i in top.indices.tolist()] if decode else top.indices.tolist()
    return list(zip(names, top.values.tolist()))


def test_01_1(capsys, generator):
    solution = functools.partial(next_token_probs, generator)
    assert check.exercise_01_1(solution)
    assert check.exercise_01_1(lambda p, k: dict(solution(p, k)))  # a dict keeps the order too
    assert capsys.readouterr().out.splitlines() == ["✅ exercise 01.1: correct"] * 2

    def placeholder(prompt, k):
        raise NotImplementedError

    assert not check.exercise_01_1(placeholder)
    assert "not implemented yet" in capsys.readouterr().out
    assert not check.exercise_01_1(
        lambda p, k: [(" Paris", 0.9), (" a", 0.05), (" the", 0.01), (" not", 0.01), (".", 0.01)][:k]
    )
    assert "most likely next tokens are" in capsys.readouterr().out  # a constant that ignores the model
    assert not check.exercise_01_1(functools.partial(next_token_probs, generator, fn="none"))
    assert "not probabilities" in capsys.readouterr().out
    assert not check.exercise_01_1(functools.partial(next_token_probs, generator, position=0))
    assert "the last position" in capsys.readouterr().out
    assert not check.exercise_01_1(functools.partial(next_token_probs, generator, decode=False))
    assert "tokenizer.decode([id])" in capsys.readouterr().out
    assert not check.exercise_01_1(lambda p, k: list(reversed(solution(p, k))))
    assert "wrong order" in capsys.readouterr().out
    assert not check.exercise_01_1(lambda p, k: generator(p, max_new_tokens=1, do_sample=False))
    assert "the pipeline's generated text" in capsys.readouterr().out
    assert not check.exercise_01_1(lambda p, k: solution(p, k)[:1])
    assert "exactly 3 pairs" in capsys.readouterr().out
    assert not check.exercise_01_1(lambda p, k: "Paris")
    assert "(token text, probability) pairs" in capsys.readouterr().out


def test_01_2(capsys, pipe):
    def pair_scores(text, text_pair):
        return by_hand(pipe, [[text, text_pair]])[0]

    def no_token_types(text, text_pair):
        enc = pipe.tokenizer(text, text_pair, return_tensors="pt")
        with torch.inference_mode():
            logits = pipe.model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits
        return {pipe.model.config.id2label[i]: p.item() for i, p in enumerate(logits.softmax(-1)[0])}

    assert check.exercise_01_2(pair_scores)
    assert capsys.readouterr().out.strip() == "✅ exercise 01.2: correct"
    assert not check.exercise_01_2(lambda a, b: by_hand(pipe, [a, b])[0])
    assert not check.exercise_01_2(lambda a, b: by_hand(pipe, [a + " " + b])[0])
    assert not check.exercise_01_2(no_token_types)
    assert not check.exercise_01_2(lambda a, b: pipe({"text": a, "text_pair": b}, top_k=None))
    assert not check.exercise_01_2(lambda a, b: {f"LABEL_{i}": v for i, v in enumerate(pair_scores(a, b).values())})
    out = capsys.readouterr().out
    assert "a batch of two texts, not a pair" in out and "loses the [SEP]" in out and "dropped token_type_ids" in out
    assert "the pipeline's format" in out and "expected keys" in out


def test_01_3(capsys, pipe):
    tok = pipe.tokenizer

    def padded_positions(texts, batch_size):
        lengths = [len(ids) for ids in tok(texts)["input_ids"]]
        return sum(len(b) * max(b) for b in (lengths[i : i + batch_size] for i in range(0, len(lengths), batch_size)))

    def whole_list(texts, batch_size):
        return sum(len(ids) for ids in tok(texts, padding=True)["input_ids"])

    def no_special(texts, batch_size):
        lengths = [len(ids) for ids in tok(texts, add_special_tokens=False)["input_ids"]]
        return sum(len(b) * max(b) for b in (lengths[i : i + batch_size] for i in range(0, len(lengths), batch_size)))

    def full_batches_only(texts, batch_size):
        lengths = [len(ids) for ids in tok(texts)["input_ids"]]
        n = len(lengths) // batch_size * batch_size
        return sum(batch_size * max(lengths[i : i + batch_size]) for i in range(0, n, batch_size))

    assert check.exercise_01_3(padded_positions)
    assert capsys.readouterr().out.strip() == "✅ exercise 01.3: correct"
    assert not check.exercise_01_3(whole_list)
    assert not check.exercise_01_3(lambda texts, bs: sum(len(x) for x in tok(texts)["input_ids"]))
    assert not check.exercise_01_3(no_special)
    assert not check.exercise_01_3(full_batches_only)
    assert not check.exercise_01_3(lambda texts, bs: "many")
    out = capsys.readouterr().out
    assert "each batch to ITS longest" in out and "counts real tokens only" in out and "[CLS] and [SEP]" in out
    assert "the last, smaller batch counts too" in out and "return one int" in out


def test_01_4(capsys, generator):
    kwargs = dict(do_sample=True, temperature=0.7, max_new_tokens=8)

    def sample_story(prompt, seed):
        set_seed(seed)
        return generator(prompt, **kwargs)[0]["generated_text"]

    def made_up(prompt, seed):  # seeded, repeatable, continues the prompt, but not the model's words
        rng = random.Random(seed)
        return (
            prompt
            + " "
            + " ".join(rng.choice(["violet", "spreadsheet", "quantum", "seven", "gravel"]) for _ in range(6))
        )

    assert check.exercise_01_4(sample_story)
    assert capsys.readouterr().out.strip() == "✅ exercise 01.4: correct"
    assert not check.exercise_01_4(lambda prompt, seed: str(seed))
    assert "does not start with it" in capsys.readouterr().out
    assert not check.exercise_01_4(lambda prompt, seed: prompt + " " + str(seed))
    assert not check.exercise_01_4(made_up)
    assert capsys.readouterr().out.count("very unlikely under the model") == 2
    assert not check.exercise_01_4(lambda prompt, seed: prompt)
    assert "nothing was generated" in capsys.readouterr().out
    assert not check.exercise_01_4(lambda prompt, seed: generator(prompt, **kwargs)[0]["generated_text"])
    greedy = lambda prompt, seed: generator(prompt, do_sample=False, max_new_tokens=8)[0]["generated_text"]  # noqa: E731
    assert not check.exercise_01_4(greedy)
    assert not check.exercise_01_4(lambda prompt, seed: generator(prompt, **kwargs))
    out = capsys.readouterr().out
    assert "same seed gave different texts" in out and "greedy decoding" in out and "return the generated text" in out
