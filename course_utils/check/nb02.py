"""Checkers for notebook 02 (tokenizers)."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from ._core import Verdict, call_learner, call_safely, encoder_tokenizer, silent, verdict

__all__ = ["exercise_02_1", "exercise_02_2", "exercise_02_3", "exercise_02_4"]

# Fresh inputs: none of these texts appears in notebook 02.
_QUESTION = "Which river flows through the old town, past the cathedral and under the seven stone bridges?"
_PASSAGE = (
    "The town grew up on both banks of the Vltava. For centuries merchants crossed it by ferry, until the "
    "first stone bridge was finished in the fourteenth century; six more followed, and today trams, "
    "cyclists and tourists share them. In spring the river floods the lower meadows every few years."
)
_SENTENCES = [
    "Tokenizers fragment unbelievably long words.",
    "Grüße aus Köln, 🤗!",
    "Don't split e-mail addresses like hello@example.org.",
]
_WORDS = (
    "river bridge town merchant ferry stone century tram cyclist tourist spring flood meadow cathedral "
    "lantern harbour wandered quietly unexpectedly extraordinary the a of and in on"
).split()


def _ids(obj: Any) -> list[int] | None:
    """The ``input_ids`` of a learner's answer: a list of ints or an encoding that has them."""
    try:
        if hasattr(obj, "keys") and "input_ids" in obj.keys():
            obj = obj["input_ids"]
        if hasattr(obj, "tolist"):
            obj = obj.tolist()
        if obj and isinstance(obj[0], list) and len(obj) == 1:  # return_tensors="pt" gives one row
            obj = obj[0]
        return [int(i) for i in obj]
    except (TypeError, ValueError, KeyError, IndexError):
        return None


@silent
def exercise_02_1(truncate_pair: Callable[[str, str, int], Any]) -> Verdict:
    """``truncate_pair(question, passage, max_length)`` -> the pair's ``input_ids``, at most ``max_length``, question intact."""
    tok = encoder_tokenizer()
    for max_length in (32, 48):
        ok, got = call_safely("02.1", truncate_pair, _QUESTION, _PASSAGE, max_length)
        if not ok:
            return ok
        ids = _ids(got)
        if ids is None:
            return verdict("02.1", False, "return the input_ids (a list of ints) or the tokenizer's encoding")
        expected = tok(_QUESTION, _PASSAGE, truncation="only_second", max_length=max_length)["input_ids"]
        if ids == expected:
            continue
        question_ids = tok(_QUESTION, add_special_tokens=False)["input_ids"]
        if len(ids) > max_length:
            return verdict(
                "02.1",
                False,
                f"{len(ids)} tokens for max_length={max_length}: truncation only happens when you ask "
                "for it (truncation=..., max_length=max_length)",
            )
        if ids == tok(_QUESTION, _PASSAGE, truncation="longest_first", max_length=max_length)["input_ids"]:
            return verdict(
                "02.1",
                False,
                "truncation=True ('longest_first') trims both segments, so the question lost tokens: "
                "use truncation='only_second'",
            )
        if ids.count(tok.sep_token_id) < 2:
            return verdict(
                "02.1", False, "encode a PAIR, tokenizer(question, passage, ...): [CLS] question [SEP] passage [SEP]"
            )
        if ids[1 : 1 + len(question_ids)] != question_ids:
            return verdict("02.1", False, "the question was cut: only the passage (the second segment) may lose tokens")
        return verdict(
            "02.1",
            False,
            f"for max_length={max_length} expected {len(expected)} ids, got {len(ids)}: "
            "tokenizer(question, passage, truncation='only_second', max_length=max_length)",
        )
    return verdict("02.1", True)


@silent
def exercise_02_2(word_span: Callable[[str, int], Any]) -> Verdict:
    """``word_span(text, token_index)`` -> ``(start, end)`` characters of the word that contains token ``token_index``, None for special tokens."""
    tok = encoder_tokenizer()
    for text in _SENTENCES:
        enc = tok(text, return_offsets_mapping=True)
        words = enc.word_ids()
        # word tokens first, special tokens last: an off-by-one shows up as such, not as a special-token error
        for i in sorted(range(len(words)), key=lambda j: words[j] is None):
            if words[i] is None:  # a special token: None is the answer
                ok, got = call_learner(
                    "02.2",
                    word_span,
                    (text, i),
                    none_ok=True,
                    when=f"for the special token at index {i} ",
                    fix="; return None there (its word id is None)",
                )
                if not ok:
                    return ok
                if got is not None:
                    return verdict(
                        "02.2",
                        False,
                        f"token {i} is {enc.tokens()[i]}, a special token with no word: return None "
                        "(word_ids() gives None there)",
                    )
                continue
            ok, got = call_safely("02.2", word_span, text, i)
            if not ok:
                return ok
            try:
                span = (int(got[0]), int(got[1]))
            except (TypeError, ValueError, IndexError, KeyError):
                return verdict("02.2", False, f"return a (start, end) tuple of ints, got {got!r}")
            expected = tuple(enc.word_to_chars(words[i]))
            if span == expected:
                continue
            token = enc.tokens()[i]
            if span == tuple(enc["offset_mapping"][i]):
                return verdict(
                    "02.2",
                    False,
                    f"{span} is the span of the token {token!r} alone; its word "
                    f"{text[expected[0] : expected[1]]!r} is {expected}: join the spans of all tokens with the same word id",
                )
            shifted = [j for j in (i - 1, i + 1) if 0 <= j < len(words) and words[j] is not None]
            if any(span == tuple(enc.word_to_chars(words[j])) for j in shifted):
                return verdict(
                    "02.2",
                    False,
                    "off by one token: token_index counts the special tokens ([CLS] is index 0), "
                    "like tokenizer(text)['input_ids']",
                )
            return verdict(
                "02.2",
                False,
                f"in {text!r}, token {i} ({token!r}) belongs to {text[expected[0] : expected[1]]!r} "
                f"= characters {expected}, you returned {span}",
            )
    return verdict("02.2", True)


def _tiny_bert(vocab_size: int) -> Any:
    """A randomly initialised 1-layer BERT with the encoder's vocabulary size: cheap, and resizable like the real one."""
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=vocab_size,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
    )
    return BertModel(config).eval()


@silent
def exercise_02_3(add_and_resize: Callable[[Any, Any, list[str]], Any]) -> Verdict:
    """``add_and_resize(tokenizer, model, new_tokens)`` adds the tokens, resizes the embeddings, returns the row count."""
    import copy

    import torch

    with torch.random.fork_rng(devices=[]):
        tok = copy.deepcopy(encoder_tokenizer())
        model = _tiny_bert(len(tok))
    base = len(tok)
    new_tokens = ["zorbaflux", "course", "quibblewick"]  # "course" is already in the vocabulary
    old_rows = model.get_input_embeddings().weight.detach().clone()
    ok, got = call_safely("02.3", add_and_resize, tok, model, new_tokens)
    if not ok:
        return ok
    rows = model.get_input_embeddings().num_embeddings
    if len(tok) == base:
        return verdict("02.3", False, "the tokenizer did not change: call tokenizer.add_tokens(new_tokens)")
    if any(t.special for t in tok.added_tokens_decoder.values() if t.content in new_tokens):
        return verdict(
            "02.3",
            False,
            "add them as normal tokens (tokenizer.add_tokens(new_tokens)): special tokens vanish "
            "from decode(..., skip_special_tokens=True)",
        )
    if rows == old_rows.shape[0]:
        return verdict(
            "02.3",
            False,
            f"the embedding matrix still has its old {rows} rows: resize it with "
            "model.resize_token_embeddings(len(tokenizer)) (tokenizer.vocab_size counts the base vocabulary only)",
        )
    if rows == base + len(new_tokens) and len(tok) == base + 2:
        return verdict(
            "02.3",
            False,
            "'course' was already in the vocabulary, so there are only 2 new ids (whatever "
            "add_tokens returned): resize to len(tokenizer)",
        )
    if rows != len(tok):
        return verdict(
            "02.3",
            False,
            f"the embedding matrix has {rows} rows but the tokenizer has {len(tok)} ids: "
            "model.resize_token_embeddings(len(tokenizer))",
        )
    try:
        answer = int(got)
    except (TypeError, ValueError):
        return verdict("02.3", False, f"return the number of embedding rows as an int (got {type(got).__name__})")
    if answer != rows:
        return verdict(
            "02.3",
            False,
            f"return the number of rows of the embedding matrix ({rows}), "
            f"model.get_input_embeddings().num_embeddings, not {answer}",
        )
    if not torch.equal(model.get_input_embeddings().weight[:base].detach(), old_rows):
        return verdict(
            "02.3",
            False,
            "the old embedding rows changed: resize_token_embeddings keeps them; do not re-create the model",
        )
    inputs = tok("a zorbaflux course on quibblewick", return_tensors="pt")
    try:
        with torch.inference_mode():
            model(**inputs)
    except Exception as exc:  # noqa: BLE001
        return verdict("02.3", False, f"the forward pass with the new tokens still fails: {type(exc).__name__}")
    return verdict("02.3", True)


@silent
def exercise_02_4(qa_chunks: Callable[[str, str, int, int], Any]) -> Verdict:
    """``qa_chunks(question, context, max_length, stride)`` -> one ``[CLS] question [SEP] part of context [SEP]`` id list per chunk, parts sharing ``stride`` tokens."""
    tok = encoder_tokenizer()
    rng = random.Random(404)
    context = " ".join(rng.choice(_WORDS) for _ in range(150))
    for question, max_length, stride in ((_QUESTION, 48, 8), ("Where did the ferry cross?", 40, 0)):
        ok, got = call_safely("02.4", qa_chunks, question, context, max_length, stride)
        if not ok:
            return ok
        if hasattr(got, "keys") and "input_ids" in got.keys():
            got = got["input_ids"]
        if hasattr(got, "tolist"):
            got = got.tolist()
        if isinstance(got, (list, tuple)) and got and all(isinstance(i, int) for i in got):
            return verdict(
                "02.4", False, "that is one list of ids: return a list of chunks (a list of lists), even for one chunk"
            )
        try:
            chunks = [[int(i) for i in c] for c in got]
        except (TypeError, ValueError):
            return verdict("02.4", False, "return a list of chunks, each a list of input ids")
        expected = tok(
            question,
            context,
            truncation="only_second",
            max_length=max_length,
            stride=stride,
            return_overflowing_tokens=True,
        )["input_ids"]
        if chunks == expected:
            continue
        q_ids = tok(question, add_special_tokens=False)["input_ids"]
        head = [tok.cls_token_id, *q_ids, tok.sep_token_id]
        if any(len(c) > max_length for c in chunks):
            return verdict(
                "02.4",
                False,
                f"a chunk has more than max_length={max_length} tokens: truncate "
                "(truncation='only_second', max_length=max_length)",
            )
        if len(chunks) == 1:
            return verdict(
                "02.4",
                False,
                "only the first chunk: return_overflowing_tokens=True keeps the rest of the context as more rows",
            )
        missing = [i for i, c in enumerate(chunks) if c[: len(head)] != head]
        if missing and all(c[1 : 1 + len(q_ids)] != q_ids for c in chunks[1:]):
            return verdict(
                "02.4",
                False,
                "the question is missing from the later chunks: encode the PAIR, tokenizer(question, "
                "context, ...), so that every chunk starts with [CLS] question [SEP]",
            )
        if missing:
            return verdict(
                "02.4",
                False,
                f"chunk {missing[0]} does not start with the whole question: only the context may be "
                "cut, truncation='only_second' (as in 02.1)",
            )
        no_stride = tok(
            question, context, truncation="only_second", max_length=max_length, return_overflowing_tokens=True
        )["input_ids"]
        if stride and chunks == no_stride:
            return verdict(
                "02.4",
                False,
                f"the context parts do not overlap: pass stride={stride} (consecutive chunks share "
                "that many context tokens)",
            )
        if any(c[-1:] != [tok.sep_token_id] for c in chunks):
            return verdict("02.4", False, "every chunk is a full model input: it ends with [SEP]")
        return verdict(
            "02.4",
            False,
            f"for max_length={max_length}, stride={stride} expected {len(expected)} chunks of lengths "
            f"{[len(c) for c in expected]}, got {[len(c) for c in chunks]}",
        )
    return verdict("02.4", True)
