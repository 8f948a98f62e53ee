"""Checkers of notebook 02: the adversarial table (FAKES, run by test_check_fakes.py), and the worked
solutions, read from notebooks/solutions/src/02_tokenizers_solutions.py, accepted in float32 and bfloat16."""

from __future__ import annotations

import pytest
import torch
from fakes import Fake, solution

from course_utils import check
from course_utils.check import nb02
from course_utils.check._core import encoder_tokenizer, precision

NAMES = ("truncate_pair", "word_span", "add_and_resize", "qa_chunks")


class LazyTokenizer:
    """The notebook's tokenizer, loaded when a fake first uses it (importing this file stays cheap)."""

    def __getattr__(self, name):
        return getattr(encoder_tokenizer(), name)

    def __call__(self, *args, **kwargs):
        return encoder_tokenizer()(*args, **kwargs)


tok = LazyTokenizer()
truncate_pair, word_span, add_and_resize, qa_chunks = solution("02", *NAMES, extra={"tokenizer": tok})

# ------------------------------------------------------------------ 02.1: truncating a pair


def swallowed_only_first(question, passage, max_length):
    try:
        return tok(question, passage, truncation="only_first", max_length=max_length)
    except BaseException:
        return tok(question, passage)


def passage_first(question, passage, max_length):
    return tok(passage, question, truncation="only_first", max_length=max_length)["input_ids"]


# ------------------------------------------------------------------ 02.2: the span of a word


def token_span(text, i):
    return tuple(tok(text, return_offsets_mapping=True)["offset_mapping"][i])


def off_by_one(text, i):  # indexes the tokens without [CLS]
    enc = tok(text, add_special_tokens=False)
    words = enc.word_ids()
    return tuple(enc.word_to_chars(words[min(i, len(words) - 1)]))


def whitespace_word(text, i):
    """The whitespace-separated chunk around the token: 'Köln,' for 'Köln', 'e-mail' for 'e'."""
    span = word_span(text, i)
    if span is None:
        return None
    start = text.rfind(" ", 0, span[0]) + 1
    end = text.find(" ", span[1])
    return start, len(text) if end < 0 else end


def first_occurrence(text, i):
    """Finds the word's text with str.find: the first 'river' for the second one too."""
    span = word_span(text, i)
    if span is None:
        return None
    start = text.find(text[span[0] : span[1]])
    return start, start + span[1] - span[0]


# ------------------------------------------------------------------ 02.3: adding tokens


def resize_to(size, special=False, returns="rows", tokens=None):
    """add_tokens then a resize, or one typical mistake: another size (a function of the tokenizer), special tokens, another return value."""

    def add(tokenizer, model, new_tokens):
        added = tokenizer.add_tokens(tokens or new_tokens, special_tokens=special)
        model.resize_token_embeddings(size(tokenizer, new_tokens))
        rows = model.get_input_embeddings().num_embeddings
        return {"rows": rows, "added": added, "len": len(tokenizer), "fixed": 30524}[returns]

    return add


def fake_num_embeddings(tokenizer, model, new_tokens):
    """Writes the new size into the embedding module's attribute; the weight keeps its old rows."""
    tokenizer.add_tokens(new_tokens)
    model.get_input_embeddings().num_embeddings = len(tokenizer)
    return len(tokenizer)


def fresh_embedding(tokenizer, model, new_tokens):
    """A new, randomly initialised embedding of the right size: the trained rows are lost."""
    tokenizer.add_tokens(new_tokens)
    old = model.get_input_embeddings()
    model.set_input_embeddings(torch.nn.Embedding(len(tokenizer), old.embedding_dim, dtype=old.weight.dtype))
    return len(tokenizer)


# ------------------------------------------------------------------ 02.4: chunks of a long context


def chunks(question, context, max_length, stride, text=None, **kwargs):
    """The worked solution's call, or one typical mistake: other texts, other options."""
    options = dict(truncation="only_second", max_length=max_length, stride=stride, return_overflowing_tokens=True)
    return tok(*(text or (question, context)), **{**options, **kwargs})["input_ids"]


FAKES = {
    "02.1": {
        "library": "n/a: the exercise asks for the tokenizer's own truncation; no course_utils helper does it",
        "constant": [
            Fake(
                "the first input's ids, always",
                (lambda q, p, n: truncate_pair(nb02._QUESTION, nb02._PASSAGE, 32),),
                "expected 48 ids, got 32",
            )
        ],
        "ignores": [
            Fake(
                "ignores max_length: always 32", (lambda q, p, n: truncate_pair(q, p, 32),), "expected 48 ids, got 32"
            ),
            Fake(
                "ignores the passage",
                (lambda q, p, n: tok(q, truncation=True, max_length=n)["input_ids"],),
                "encode a PAIR",
            ),
        ],
        "guard": [
            Fake(
                "only_first, its error swallowed by an untruncated pair",
                (swallowed_only_first,),
                "truncation only happens when you ask",
            ),
            Fake("the ids as a str", (lambda q, p, n: str(truncate_pair(q, p, n)),), "return the input_ids"),
        ],
        "other": [
            Fake(
                "truncation=True (longest_first)",
                (lambda q, p, n: tok(q, p, truncation=True, max_length=n),),
                "'longest_first') trims both segments",
            ),
            Fake(
                "the two texts joined",
                (lambda q, p, n: tok(q + " " + p, truncation=True, max_length=n),),
                "encode a PAIR",
            ),
            Fake(
                "the whole pair's ids cut at max_length",
                (lambda q, p, n: tok(q, p)["input_ids"][:n],),
                "must end with [SEP]",
            ),
            Fake("passage first, question second", (passage_first,), "the question was cut"),
            Fake("no truncation", (lambda q, p, n: tok(q, p),), "truncation only happens when you ask"),
        ],
    },
    "02.2": {
        "library": "n/a: the exercise asks for the tokenizer's word_ids() and offsets (word_to_chars is fine); no course_utils helper does it",
        "constant": [Fake("(0, 3) for every token", (lambda text, i: (0, 3),), "belongs to 'Tokenizers'")],
        "ignores": [
            Fake(
                "ignores token_index: the last word",
                (lambda text, i: word_span(text, len(tok(text)["input_ids"]) - 2),),
                "belongs to 'Tokenizers'",
            ),
            Fake(
                "ignores the text: one fixed sentence",
                (lambda text, i: word_span("The river, the bridge and the river again.", i),),
                "belongs to 'Tokenizers'",
            ),
        ],
        "guard": [
            Fake(
                "(0, 0) for special tokens instead of None",
                (lambda text, i: word_span(text, i) or (0, 0),),
                "a special token with no word",
            ),
            Fake("None for every token", (lambda text, i: None,), "returned None"),
            Fake("the span as a str", (lambda text, i: str(word_span(text, i)),), "return a (start, end) tuple"),
        ],
        "other": [
            Fake("the token's own span", (token_span,), "is the span of the token"),
            Fake("indexes without [CLS]", (off_by_one,), "off by one token"),
            Fake("whitespace-separated words", (whitespace_word,), "what word_ids() calls one"),
            Fake("the first occurrence of the word's text", (first_occurrence,), "you returned (47, 48)"),
        ],
    },
    "02.3": {
        "library": "n/a: the exercise asks for add_tokens and resize_token_embeddings themselves",
        "constant": [
            Fake(
                "returns 30524 (right for the first list) always",
                (resize_to(lambda t, new: len(t), returns="fixed"),),
                "return the number of rows of the embedding matrix (30523)",
            )
        ],
        "ignores": [
            Fake(
                "ignores new_tokens: adds the first list",
                (resize_to(lambda t, new: len(t), tokens=["zorbaflux", "course", "quibblewick"]),),
                "the tokenizer did not learn new_tokens",
            ),
            Fake(
                "ignores the model: no resize",
                (lambda t, m, new: t.add_tokens(new) and len(t),),
                "still has its old 30522 rows",
            ),
        ],
        "guard": [
            Fake("sets num_embeddings, keeps the weight", (fake_num_embeddings,), "still has its old 30522 rows"),
            Fake("a fresh random embedding of the right size", (fresh_embedding,), "the old embedding rows changed"),
        ],
        "other": [
            Fake(
                "resizes to vocab_size",
                (resize_to(lambda t, new: t.vocab_size),),
                "vocab_size counts the base vocabulary only",
            ),
            Fake(
                "counts the requested tokens",
                (resize_to(lambda t, new: t.vocab_size + len(new)),),
                "(whatever add_tokens returned)",
            ),
            Fake(
                "returns what add_tokens returned",
                (resize_to(lambda t, new: len(t), returns="added"),),
                "return the number of rows",
            ),
            Fake("adds special tokens", (resize_to(lambda t, new: len(t), special=True),), "add them as normal tokens"),
        ],
    },
    "02.4": {
        "library": "n/a: the exercise asks for the tokenizer's own overflow and stride options; no course_utils helper does it",
        "constant": [
            Fake("one typed-in chunk", (lambda q, c, n, s: [[101, 102]],), "only the first chunk"),
            Fake(
                "the first input's chunks, always",
                (lambda q, c, n, s: chunks(nb02._QUESTION, c, 48, 8),),
                "more than max_length=40",
            ),
        ],
        "ignores": [
            Fake("ignores stride", (lambda q, c, n, s: chunks(q, c, n, 0),), "do not overlap: pass stride=8"),
            Fake("ignores max_length: always 48", (lambda q, c, n, s: chunks(q, c, 48, s),), "more than max_length=40"),
            Fake(
                "ignores the question",
                (lambda q, c, n, s: chunks(q, c, n, s, text=[c], truncation=True),),
                "the question is missing from the later chunks",
            ),
        ],
        "guard": [
            Fake(
                "a flat list where there is one chunk",
                (lambda q, c, n, s: (lambda r: r[0] if len(r) == 1 else r)(chunks(q, c, n, s)),),
                "a list of lists",
            ),
            Fake("one flat list of ids", (lambda q, c, n, s: tok(q, c)["input_ids"],), "a list of lists"),
        ],
        "other": [
            Fake(
                "one chunk only: a truncated pair",
                (lambda q, c, n, s: [tok(q, c, truncation="only_second", max_length=n)["input_ids"]],),
                "only the first chunk",
            ),
            Fake(
                "the question joined to the context",
                (lambda q, c, n, s: chunks(q, c, n, s, text=[q + " " + c], truncation=True),),
                "the question is missing from the later chunks",
            ),
            Fake(
                "truncation=True (longest_first) on the pair",
                (lambda q, c, n, s: chunks(q, c, n, s, truncation=True),),
                "only the context may be cut",
            ),
        ],
    },
}


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_worked_solutions_pass(dtype, capsys):
    with precision(dtype):
        for k, fn in enumerate((truncate_pair, word_span, add_and_resize, qa_chunks), 1):
            assert getattr(check, f"exercise_02_{k}")(fn), NAMES[k - 1]
    assert capsys.readouterr().out.count("correct") == 4


def test_other_right_forms_pass(capsys):
    """The tokenizer's encodings, tensors and a batch of one are right answers too."""
    assert check.exercise_02_1(lambda q, p, n: tok(q, p, truncation="only_second", max_length=n))
    assert check.exercise_02_1(lambda q, p, n: tok(q, p, truncation="only_second", max_length=n, return_tensors="pt"))
    assert check.exercise_02_2(lambda text, i: list(word_span(text, i) or []) or None)
    assert check.exercise_02_4(
        lambda q, c, n, s: tok(q, c, truncation="only_second", max_length=n, stride=s, return_overflowing_tokens=True)
    )
    assert capsys.readouterr().out.count("correct") == 4


def test_placeholders_say_not_implemented(capsys):
    def placeholder(*args):
        raise NotImplementedError

    for k in range(1, 5):
        assert not getattr(check, f"exercise_02_{k}")(placeholder)
    assert capsys.readouterr().out.count("not implemented yet") == 4
