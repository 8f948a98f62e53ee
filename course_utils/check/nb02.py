"""Checkers for notebook 02 (tokenizers)."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from ..i18n import _
from ._core import answer, checker, encoder_tokenizer, expect, tiny_model
from .nb00 import _ints

__all__ = ["exercise_02_1", "exercise_02_2", "exercise_02_3", "exercise_02_4"]

# Fresh inputs: none of these texts appears in notebook 02.
_QUESTION = "Which river flows through the old town, past the cathedral and under the seven stone bridges?"
_PASSAGE = (
    "The town grew up on both banks of the Vltava. For centuries merchants crossed it by ferry, until the "
    "first stone bridge was finished in the fourteenth century; six more followed, and today trams, "
    "cyclists and tourists share them. In spring the river floods the lower meadows every few years."
)
_WORDS = (
    "river bridge town merchant ferry stone century tram cyclist tourist spring flood meadow cathedral "
    "lantern harbour wandered quietly unexpectedly extraordinary the a of and in on"
).split()


def _plain(obj: Any) -> Any:
    """A learner's ids as plain Python: an encoding's ``input_ids``, a tensor's ``tolist()``."""
    obj = obj["input_ids"] if hasattr(obj, "keys") and "input_ids" in obj.keys() else obj
    return obj.tolist() if hasattr(obj, "tolist") else obj


def _rows(obj: Any) -> list[list[int]] | None:
    """A learner's ids as rows of ints (a list of ids is one row, a list of lists several), else None."""
    obj = _plain(obj)
    if not isinstance(obj, (list, tuple)) or not obj:
        return None
    rows = (
        [_ints(r) if isinstance(r, (list, tuple)) else None for r in obj]
        if isinstance(obj[0], (list, tuple))
        else [_ints(obj)]
    )
    return None if any(r is None for r in rows) else [list(r) for r in rows]  # type: ignore[arg-type]


#: (question, passage, max_length): 'longest_first' cuts the question (32) or not (48), nothing to cut (96), another
#: question with most of the passage cut (21).
_TRUNCATIONS = (
    (_QUESTION, _PASSAGE, 32),
    (_QUESTION, _PASSAGE, 48),
    ("Who crossed the river?", _PASSAGE[:90], 96),
    ("Who crossed the river?", _PASSAGE, 21),
)


@checker("02.1")
def exercise_02_1(truncate_pair: Callable[[str, str, int], Any]) -> None:
    """``truncate_pair(question, passage, max_length)`` -> the pair's ``input_ids``, at most ``max_length``, question intact."""
    tok = encoder_tokenizer()
    for question, passage, max_length in _TRUNCATIONS:
        got = answer(truncate_pair, question, passage, max_length)
        rows = _rows(got)
        ids = rows[0] if rows else []  # a batch of one row counts as that row
        expected = tok(question, passage, truncation="only_second", max_length=max_length)["input_ids"]
        q_ids = tok(question, add_special_tokens=False)["input_ids"]
        expect(
            (rows is None or len(rows) != 1, _("return the input_ids (a list of ints) or the tokenizer's encoding")),
            (
                lambda: len(ids) > max_length,
                _(
                    "{n_ids} tokens for max_length={max_length}: truncation only happens when you ask for it (truncation=..., max_length=max_length)"
                ).format(n_ids=len(ids), max_length=max_length),
            ),
            (
                lambda: (
                    ids != expected
                    and ids == tok(question, passage, truncation="longest_first", max_length=max_length)["input_ids"]
                ),
                _(
                    "truncation=True ('longest_first') trims both segments, so the question lost tokens: use truncation='only_second'"
                ),
            ),
            (
                lambda: ids[-1] != tok.sep_token_id,
                _("the ids must end with [SEP]: let the tokenizer truncate (cutting the list drops it)"),
            ),
            (
                lambda: ids.count(tok.sep_token_id) < 2,
                _("encode a PAIR, tokenizer(question, passage, ...): [CLS] question [SEP] passage [SEP]"),
            ),
            (
                lambda: ids[1 : 1 + len(q_ids)] != q_ids,
                _("the question was cut: only the passage (the second segment) may lose tokens"),
            ),
            (
                lambda: ids != expected,
                _(
                    "expected {n_expected} ids, got {n_ids}: tokenizer(question, passage, truncation='only_second', max_length=max_length)"
                ).format(n_expected=len(expected), n_ids=len(ids)),
            ),
            on=f"question={question!r}, max_length={max_length}",
        )


#: Accents, an emoji ([UNK]), punctuation inside words, a word split into pieces, and a repeated word.
_SENTENCES = (
    "Tokenizers fragment unbelievably long words.",
    "Grüße aus Köln, 🤗!",
    "Don't split e-mail addresses like hello@example.org.",
    "The river, the bridge and the river again.",
)


@checker("02.2")
def exercise_02_2(word_span: Callable[[str, int], Any]) -> None:
    """``word_span(text, token_index)`` -> ``(start, end)`` characters of the word that contains token ``token_index``, None for special tokens."""
    tok = encoder_tokenizer()
    for text in _SENTENCES:
        enc = tok(text, return_offsets_mapping=True)
        words, tokens = enc.word_ids(), enc.tokens()
        span_of = lambda j: tuple(enc.word_to_chars(words[j])) if 0 <= j < len(words) and words[j] is not None else None  # noqa: E731
        for i in sorted(
            range(len(words)), key=lambda j: words[j] is None
        ):  # special tokens last: an off-by-one shows as such
            if words[i] is None:
                got = answer(
                    word_span,
                    text,
                    i,
                    none_ok=True,
                    when=_("for the special token at index {i} ").format(i=i),
                    fix=_("; return None there (its word id is None)"),
                )
                expect(
                    (
                        got is not None,
                        _(
                            "token {i} is {token}, a special token with no word: return None (word_ids() gives None there)"
                        ).format(i=i, token=tokens[i]),
                    ),
                    on=f"text={text!r}",
                )
                continue
            got, expected = answer(word_span, text, i), tuple(enc.word_to_chars(words[i]))
            span = _ints(got) if isinstance(got, (tuple, list)) else None
            expect(
                (span is None or len(span) != 2, _("return a (start, end) tuple of ints, got {got!r}").format(got=got)),
                (
                    lambda: span != expected and span == tuple(enc["offset_mapping"][i]),
                    _(
                        "that is the span of the token {token!r} alone; its word {word!r} is {expected}: join the spans of all tokens with the same word id"
                    ).format(token=tokens[i], word=text[expected[0] : expected[1]], expected=expected),
                ),
                (
                    lambda: span != expected and span in (span_of(i - 1), span_of(i + 1)),
                    _(
                        "off by one token: token_index counts the special tokens "
                        "([CLS] is index 0), like tokenizer(text)['input_ids']"
                    ),
                ),
                (
                    lambda: span != expected,
                    _(
                        "token {i} ({token!r}) belongs to {word!r} = characters {expected}, you returned {span}: a word is what word_ids() calls one (the pre-tokenizer splits on spaces and punctuation)"
                    ).format(i=i, token=tokens[i], word=text[expected[0] : expected[1]], expected=expected, span=span),
                ),
                on=f"text={text!r}, token_index={i}",
            )


@checker("02.3")
def exercise_02_3(add_and_resize: Callable[[Any, Any, list[str]], Any]) -> None:
    """``add_and_resize(tokenizer, model, new_tokens)`` adds the tokens, resizes the embeddings, returns the row count."""
    import copy

    import torch

    # "course" and "the" are in the vocabulary already; "flumbergast" comes twice: neither adds an id
    for seed, new_tokens in enumerate((["zorbaflux", "course", "quibblewick"], ["flumbergast", "the", "flumbergast"])):
        tok = copy.deepcopy(encoder_tokenizer())
        base, model = len(tok), tiny_model("bert", seed=seed, vocab_size=len(tok))
        old = model.get_input_embeddings().weight.detach().clone()
        got = answer(add_and_resize, tok, model, list(new_tokens))
        (value,), weight = _ints([got]) or (None,), model.get_input_embeddings().weight
        rows = weight.shape[0]
        expect(
            (len(tok) == base, _("the tokenizer did not change: call tokenizer.add_tokens(new_tokens)")),
            (
                [t for t in new_tokens if tok.tokenize(t) != [t]],
                _("the tokenizer did not learn new_tokens (all of them): tokenizer.add_tokens(new_tokens)"),
            ),
            (
                any(t.special for t in tok.added_tokens_decoder.values() if t.content in new_tokens),
                _(
                    "add them as normal tokens "
                    "(tokenizer.add_tokens(new_tokens)): special tokens vanish from decode(..., skip_special_tokens=True)"
                ),
            ),
            (
                rows == old.shape[0],
                _(
                    "the embedding matrix still has its old {rows} rows: resize it with model.resize_token_embeddings(len(tokenizer)) (tokenizer.vocab_size counts the base vocabulary only)"
                ).format(rows=rows),
            ),
            (
                rows == base + len(new_tokens) != len(tok),
                _(
                    "only {new} of the {n} tokens were new (whatever add_tokens returned): resize to len(tokenizer)"
                ).format(new=len(tok) - base, n=len(new_tokens)),
            ),
            (
                rows != len(tok),
                _(
                    "the embedding matrix has {rows} rows but the tokenizer has {ids} ids: model.resize_token_embeddings(len(tokenizer))"
                ).format(rows=rows, ids=len(tok)),
            ),
            (
                value is None,
                _("return the number of embedding rows as an int (got {type})").format(type=type(got).__name__),
            ),
            (
                value != rows,
                _(
                    "return the number of rows of the embedding matrix ({rows}), model.get_input_embeddings().num_embeddings, not {value}"
                ).format(rows=rows, value=value),
            ),
            (
                lambda: not torch.equal(weight[:base].detach(), old),
                _("the old embedding rows changed: resize_token_embeddings keeps them; do not re-create the model"),
            ),
            on=f"new_tokens={new_tokens}",
        )


#: (question, max_length, stride): overlapping chunks, none (stride 0), a question almost half the chunk (where
#: 'longest_first' cuts it), one chunk.
_CHUNKS = ((_QUESTION, 48, 8), ("Where did the ferry cross?", 40, 0), (_QUESTION, 37, 5), ("Which tram?", 200, 16))


@checker("02.4")
def exercise_02_4(qa_chunks: Callable[[str, str, int, int], Any]) -> None:
    """``qa_chunks(question, context, max_length, stride)`` -> one ``[CLS] question [SEP] part of context [SEP]`` id list per chunk, parts sharing ``stride`` tokens."""
    tok, rng = encoder_tokenizer(), random.Random(404)
    context = " ".join(rng.choice(_WORDS) for _word in range(150))
    for question, max_length, stride in _CHUNKS:
        got = answer(qa_chunks, question, context, max_length, stride)
        chunks = _rows(got) or []
        kwargs = dict(truncation="only_second", max_length=max_length, return_overflowing_tokens=True)
        expected = tok(question, context, stride=stride, **kwargs)["input_ids"]
        head = tok(question)["input_ids"]  # [CLS] question [SEP]
        missing = [c for c in chunks if c[: len(head)] != head]
        expect(
            (not chunks, _("return a list of chunks, each a list of input ids")),
            (
                not isinstance(_plain(got)[0], (list, tuple)),
                _("that is one list of ids: return a list of chunks (a list of lists), even for one chunk"),
            ),
            (
                any(len(c) > max_length for c in chunks),
                _(
                    "a chunk has more than max_length={max_length} tokens: truncate (truncation='only_second', max_length=max_length)"
                ).format(max_length=max_length),
            ),
            (
                len(chunks) == 1 < len(expected),
                _("only the first chunk: return_overflowing_tokens=True keeps the rest of the context as more rows"),
            ),
            (
                missing and all(c[1:3] != head[1:3] for c in chunks[1:]),
                _(
                    "the question is missing from the later chunks: encode the "
                    "PAIR, tokenizer(question, context, ...), so that every chunk starts with [CLS] question [SEP]"
                ),
            ),
            (
                missing,
                _(
                    "a chunk does not start with the whole question: only the context may be cut, truncation='only_second', as when truncating a pair"
                ),
            ),
            (
                lambda: stride and chunks != expected and chunks == tok(question, context, **kwargs)["input_ids"],
                _(
                    "the context parts do not overlap: pass stride={stride} (consecutive chunks share that many context tokens)"
                ).format(stride=stride),
            ),
            (
                any(c[-1:] != [tok.sep_token_id] for c in chunks),
                _("every chunk is a full model input: it ends with [SEP]"),
            ),
            (
                chunks != expected,
                _("expected {n} chunks of lengths {expected}, got {got}").format(
                    n=len(expected), expected=[len(c) for c in expected], got=[len(c) for c in chunks]
                ),
            ),
            on=f"question={question!r}, max_length={max_length}, stride={stride}",
        )
