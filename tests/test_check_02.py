"""Checkers of notebook 02: each accepts the worked solution and rejects typical wrong answers with a hint."""

from __future__ import annotations

import pytest

from course_utils import check
from course_utils.check._core import encoder_tokenizer


@pytest.fixture(scope="module")
def tok():
    return encoder_tokenizer()


def test_02_1(capsys, tok):
    def truncate_pair(question, passage, max_length):
        return tok(question, passage, truncation="only_second", max_length=max_length)

    assert check.exercise_02_1(truncate_pair)
    assert check.exercise_02_1(lambda q, p, n: truncate_pair(q, p, n)["input_ids"])
    assert capsys.readouterr().out.splitlines() == ["✅ exercise 02.1: correct"] * 2
    assert not check.exercise_02_1(lambda q, p, n: tok(q, p, truncation=True, max_length=n))
    assert not check.exercise_02_1(lambda q, p, n: tok(q, p))
    assert not check.exercise_02_1(lambda q, p, n: tok(q + " " + p, truncation=True, max_length=n))
    assert not check.exercise_02_1(lambda q, p, n: tok(q, p, truncation="only_first", max_length=n))  # raises
    assert not check.exercise_02_1(lambda q, p, n: "ids")
    out = capsys.readouterr().out
    assert "'longest_first') trims both segments" in out and "truncation only happens when you ask" in out
    assert "encode a PAIR" in out and "your function raised" in out and "return the input_ids" in out


def test_02_2(capsys, tok):
    def word_span(text, token_index):
        enc = tok(text)
        word = enc.word_ids()[token_index]
        return None if word is None else tuple(enc.word_to_chars(word))

    def token_span(text, token_index):
        enc = tok(text, return_offsets_mapping=True)
        return tuple(enc["offset_mapping"][token_index])

    def off_by_one(text, token_index):  # indexes the tokens without [CLS]
        enc = tok(text, add_special_tokens=False)
        words = enc.word_ids()
        return tuple(enc.word_to_chars(words[min(token_index, len(words) - 1)]))

    def zero_for_special(text, token_index):
        return word_span(text, token_index) or (0, 0)

    assert check.exercise_02_2(word_span)
    assert capsys.readouterr().out.strip() == "✅ exercise 02.2: correct"
    assert not check.exercise_02_2(token_span)
    assert not check.exercise_02_2(off_by_one)
    assert not check.exercise_02_2(zero_for_special)
    assert not check.exercise_02_2(lambda text, i: str(word_span(text, i)))
    out = capsys.readouterr().out
    assert "is the span of the token" in out and "off by one token" in out and "a special token with no word" in out
    assert "return a (start, end) tuple" in out


def test_02_3(capsys):
    def add_and_resize(tokenizer, model, new_tokens):
        tokenizer.add_tokens(new_tokens)
        model.resize_token_embeddings(len(tokenizer))
        return model.get_input_embeddings().num_embeddings

    def to_vocab_size(tokenizer, model, new_tokens):
        tokenizer.add_tokens(new_tokens)
        model.resize_token_embeddings(tokenizer.vocab_size)
        return tokenizer.vocab_size

    def count_requested(tokenizer, model, new_tokens):
        tokenizer.add_tokens(new_tokens)
        model.resize_token_embeddings(tokenizer.vocab_size + len(new_tokens))
        return model.get_input_embeddings().num_embeddings

    def no_resize(tokenizer, model, new_tokens):
        return tokenizer.add_tokens(new_tokens)

    def returns_added(tokenizer, model, new_tokens):
        added = tokenizer.add_tokens(new_tokens)
        model.resize_token_embeddings(len(tokenizer))
        return added

    def as_special(tokenizer, model, new_tokens):
        tokenizer.add_tokens(new_tokens, special_tokens=True)
        model.resize_token_embeddings(len(tokenizer))
        return len(tokenizer)

    assert check.exercise_02_3(add_and_resize)
    assert capsys.readouterr().out.strip() == "✅ exercise 02.3: correct"
    for wrong in (to_vocab_size, count_requested, no_resize, returns_added, as_special):
        assert not check.exercise_02_3(wrong)
    out = capsys.readouterr().out
    assert (
        "still has its old 30522 rows" in out
        and "was already in the vocabulary" in out
        and "whatever add_tokens returned" in out
    )
    assert "return the number of rows" in out and "add them as normal tokens" in out
    # resizing to vocab_size is resizing to the old size: the same hint as not resizing, naming vocab_size
    assert out.count("still has its old 30522 rows") == 2 and "vocab_size counts the base vocabulary only" in out


def test_02_4(capsys, tok):
    def qa_chunks(question, context, max_length, stride):
        return tok(
            question,
            context,
            truncation="only_second",
            max_length=max_length,
            stride=stride,
            return_overflowing_tokens=True,
        )["input_ids"]

    def context_alone(question, context, max_length, stride):  # the chapter's single-text chunking, question dropped
        return tok(context, truncation=True, max_length=max_length, stride=stride, return_overflowing_tokens=True)[
            "input_ids"
        ]

    def question_first_chunk_only(question, context, max_length, stride):
        return tok(
            question + " " + context,
            truncation=True,
            max_length=max_length,
            stride=stride,
            return_overflowing_tokens=True,
        )["input_ids"]

    def placeholder(question, context, max_length, stride):
        raise NotImplementedError

    assert check.exercise_02_4(qa_chunks)
    assert check.exercise_02_4(
        lambda q, c, n, s: tok(q, c, truncation="only_second", max_length=n, stride=s, return_overflowing_tokens=True)
    )  # the whole encoding
    assert capsys.readouterr().out.splitlines() == ["✅ exercise 02.4: correct"] * 2
    assert not check.exercise_02_4(placeholder)
    assert not check.exercise_02_4(lambda q, c, n, s: [[101, 102]])  # a constant that ignores the inputs
    assert not check.exercise_02_4(lambda q, c, n, s: tok(q, c)["input_ids"])
    assert not check.exercise_02_4(lambda q, c, n, s: [tok(q, c)["input_ids"]])
    assert not check.exercise_02_4(lambda q, c, n, s: [tok(q, c, truncation="only_second", max_length=n)["input_ids"]])
    assert not check.exercise_02_4(lambda q, c, n, s: qa_chunks(q, c, n, 0))
    assert not check.exercise_02_4(context_alone)
    assert not check.exercise_02_4(question_first_chunk_only)
    out = capsys.readouterr().out
    assert "not implemented yet" in out and "a list of lists" in out and "more than max_length" in out
    assert "only the first chunk" in out and "do not overlap: pass stride=8" in out
    assert out.count("the question is missing from the later chunks") == 2
