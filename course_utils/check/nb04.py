"""Checkers for notebook 04 (datasets)."""

from __future__ import annotations

import math
import numbers
import random
import tempfile
from pathlib import Path
from typing import Any

from ..i18n import N_, _
from ._core import answer, checker, encoder_tokenizer, expect, fail
from .nb03 import _THREAD

__all__ = ["exercise_04_1", "exercise_04_2", "exercise_04_3", "exercise_04_4"]

_COMMON = "i feel so happy today and the day was good but a bit long at work with my friends".split()
_RARE = "unbelievably huggingface tokenization photosynthesis overwhelmingly bewilderment kaleidoscope".split()


def _texts(n: int, seed: int) -> Any:
    """An emotion-like ``Dataset`` (text, label) the notebook never shows: common and rare (multi-piece) words,
    an empty text and punctuation."""
    from datasets import Dataset

    from ..data import emotion_features

    rng = random.Random(seed)
    texts = [
        " ".join(rng.choices(_RARE, k=rng.randint(2, 5)) if i % 3 == 0 else rng.choices(_COMMON, k=rng.randint(3, 14)))
        for i in range(n)
    ]
    texts[1], texts[2] = "", texts[2] + "!!! ... :)"
    return Dataset.from_dict(
        {"text": texts, "label": [rng.randrange(6) for _row in range(n)]}, features=emotion_features()
    )


@checker("04.1", asks=N_("a batched map with the tokenizer"))
def exercise_04_1(add_n_tokens: Any) -> None:
    """``add_n_tokens(ds)`` -> ``ds`` with a column ``n_tokens``: tokens per text, special tokens included (a batched map)."""
    from datasets import Dataset

    for n, seed in ((60, 41), (1_003, 42)):  # 1,003 rows: a batched map's last batch is short
        ds = _texts(n, seed)
        texts = ds["text"][:]
        want = [len(ids) for ids in encoder_tokenizer()(texts)["input_ids"]]
        got = answer(add_n_tokens, ds)

        def counts(got: Any = got) -> list[Any]:
            return list(got["n_tokens"][:])

        expect(
            (
                not isinstance(got, Dataset),
                _("return the Dataset that map gives back, got {type}").format(type=type(got).__name__),
            ),
            (
                lambda: "n_tokens" not in got.column_names,
                lambda: _(
                    "no column 'n_tokens' (columns: {columns}): return {{'n_tokens': [...]}} from the mapped function"
                ).format(columns=got.column_names),
            ),
            (
                lambda: got.num_rows != n,
                lambda: _("{rows} rows instead of {n}: map keeps every row").format(rows=got.num_rows, n=n),
            ),
            (
                lambda: not {"text", "label"} <= set(got.column_names),
                _("keep the text and label columns: no remove_columns"),
            ),
            (
                lambda: got["text"][:] != texts or got["label"][:] != ds["label"][:],
                _("the rows changed order or content: map must not shuffle or edit them"),
            ),
            (
                lambda: counts() == [len(t.split()) for t in texts],
                _("those are words, not tokens: rare words split into several pieces; use the tokenizer"),
            ),
            (
                lambda: counts() == [k - 2 for k in want],
                _("count the special tokens ([CLS] and [SEP]) too: the model sees them (leave add_special_tokens on)"),
            ),
            (lambda: counts() == [len(t) for t in texts], _("those are characters: count the tokenizer's input_ids")),
            (
                lambda: counts() != want,
                _(
                    "wrong counts: n_tokens = len(input_ids) of each text, e.g. "
                    "[len(ids) for ids in tokenizer(batch['text'])['input_ids']]"
                ),
            ),
            on=_("a Dataset of {n} fresh texts").format(n=n),
        )


def _labelled(counts: tuple[int, ...], seed: int) -> Any:
    """Rows with these class sizes (emotion's labels), shuffled, with an ``idx`` column."""
    from datasets import ClassLabel, Dataset, Features, Value

    from ..data import EMOTION_LABELS

    labels = [label for label, n in enumerate(counts) for _row in range(n)]
    random.Random(seed).shuffle(labels)
    features = Features({"idx": Value("int64"), "label": ClassLabel(names=list(EMOTION_LABELS))})
    return Dataset.from_dict({"idx": list(range(len(labels))), "label": labels}, features=features)


@checker("04.2", asks=N_("a stratified, seeded split"))
def exercise_04_2(split_validation: Any) -> None:
    """``split_validation(ds, seed)`` -> DatasetDict with ``train`` (90 %) and a stratified ``validation`` (10 %)."""
    from collections import Counter

    from datasets import Dataset

    big, small = (350, 290, 150, 110, 70, 33), (201, 160, 99, 70, 41, 16)  # 1,003 and 587 rows: 10 % is no integer
    cases = [("a", big, 11), ("a", big, 12), ("b", small, 11), (N_("a fresh copy of a"), big, 11)]
    splits = {}
    for name, counts, seed in cases:
        ds = _labelled(counts, seed=sum(counts))  # the same rows for the same class sizes
        n, whole = ds.num_rows, Counter(ds["label"][:])
        got = answer(split_validation, ds, seed)
        keys = set(got.keys()) if hasattr(got, "keys") else set()
        on = _("dataset {name} ({n} rows, classes {counts}), seed={seed}").format(
            name=_(name), n=n, counts=counts, seed=seed
        )
        expect(
            (
                keys == {"train", "test"},
                _(
                    "train_test_split names the parts 'train' and 'test': rename 'test' to "
                    "'validation' (DatasetDict(train=parts['train'], validation=parts['test']))"
                ),
            ),
            (
                keys != {"train", "validation"},
                _("return a DatasetDict with exactly the keys 'train' and 'validation', got {got}").format(
                    got=sorted(keys) or type(got).__name__
                ),
            ),
            (lambda: not all(isinstance(got[k], Dataset) for k in keys), _("both parts must be Datasets")),
            on=on,
        )
        train, val = got["train"], got["validation"]
        val_counts, n_val = Counter(val["label"][:]), val.num_rows
        expect(
            (
                set(train.column_names) != set(ds.column_names) or set(val.column_names) != set(ds.column_names),
                _("keep every column in both parts"),
            ),
            (
                n_val not in (n // 10, -(-n // 10)) or train.num_rows != n - n_val,
                _(
                    "sizes {train}/{validation}, expected about {want_train}/{want_validation}: test_size=0.1 (a share of the rows, not a count)"
                ).format(train=train.num_rows, validation=n_val, want_train=n - n // 10, want_validation=n // 10),
            ),
            (
                lambda: sorted(train["idx"][:] + val["idx"][:]) != list(range(n)),
                _("the two parts must be disjoint and together hold every row"),
            ),
            (
                lambda: any(abs(val_counts[c] - whole[c] * n_val / n) >= 1 for c in whole),
                lambda: _(
                    "not stratified: validation's class counts {counts}, where each class's share gives {shares}; pass stratify_by_column='label'"
                ).format(
                    counts=[val_counts[c] for c in sorted(whole)],
                    shares=[round(whole[c] * n_val / n, 1) for c in sorted(whole)],
                ),
            ),
            on=on,
        )
        splits[name, seed] = sorted(val["idx"][:])
    expect(
        (splits["a", 11] == splits["a", 12], _("seeds 11 and 12 gave the same split: pass the `seed` argument on")),
        (
            splits["a", 11] != splits["a fresh copy of a", 11],
            _(
                "the same seed gave a different split (on a fresh copy of "
                "the same rows): pass seed=seed to train_test_split"
            ),
        ),
        on=_("dataset a, called twice with seed 11 and once with seed 12"),
    )


def _padding_share(lengths: list[int], batch_size: int) -> float:
    batches = [lengths[i : i + batch_size] for i in range(0, len(lengths), batch_size)]
    return 1 - sum(lengths) / sum(max(batch) * len(batch) for batch in batches)


@checker(
    "04.3",
    asks=N_("the padding counted by hand"),
    off={
        N_("padding by the library"): (
            "torch.nn.utils.rnn.pad_sequence",
            "transformers.DataCollatorWithPadding.__call__",
            "transformers.PreTrainedTokenizerBase.pad",
        )
    }
    | _THREAD,
)
def exercise_04_3(padding_share: Any) -> None:
    """``padding_share(lengths, batch_size)`` -> share (0..1) of padding tokens when consecutive batches are padded to their own longest."""
    rng = random.Random(43)
    long = [rng.randint(4, 80) for _row in range(203)]  # 203 lengths: no batch size below divides them
    cases = [(long, 8), (long, 32), (long[:96], 16), (long, 1), (long, 500), ([5, 1, 1, 9, 2], 2), ([7] * 10, 3)]
    for lengths, batch_size in cases:
        want = _padding_share(lengths, batch_size)
        got = answer(padding_share, list(lengths), batch_size)

        def near(value: Any, got: Any = got) -> bool:
            return math.isclose(got, value() if callable(value) else value, abs_tol=1e-6)

        on = _("batch_size={batch_size}, {n} lengths {lengths}{more}").format(
            batch_size=batch_size, n=len(lengths), lengths=lengths[:6], more="..." * (len(lengths) > 6)
        )
        expect(
            (
                not isinstance(got, numbers.Real),
                _("return one number (a float), got {type}").format(type=type(got).__name__),
            ),
            on=on,
        )
        if near(want):
            continue
        expect(
            (near(100 * want), _("give a share between 0 and 1, not a percentage")),
            (near(1 - want), _("that is the share of REAL tokens: padding share = 1 - real / total")),
            (
                near(1 - sum(lengths) / (max(lengths) * len(lengths))),
                _("that pads everything to the longest text of all: each batch pads to its OWN longest"),
            ),
            (
                lambda: (
                    len(lengths) > batch_size
                    and near(lambda: _padding_share(lengths[: len(lengths) // batch_size * batch_size], batch_size))
                ),
                _("include the last, smaller batch (a DataLoader keeps it unless drop_last)"),
            ),
            (
                lambda: near(lambda: _padding_share(sorted(lengths), batch_size)),
                _("keep the given order: sorting by length is the third strategy, not dynamic padding"),
            ),
            on=on,
        )
        fail(
            _(
                "expected {want:.4f}, got {got:.4f}; batches are lengths[i:i + batch_size], each padded to its own max"
            ).format(want=want, got=got),
            on=on,
        )


def _with_extra_columns() -> Any:
    """A dataset of other columns than emotion's: a two-name ClassLabel, a float and a list of ints."""
    from datasets import ClassLabel, Dataset, Features, List, Value

    features = Features(
        {
            "sentence": Value("string"),
            "label": ClassLabel(names=["neg", "pos"]),
            "score": Value("float32"),
            "ids": List(Value("int32")),
        }
    )
    rows = {"sentence": ["a", "", "b c"], "label": [1, 0, 1], "score": [0.5, -1.25, 3.0], "ids": [[1, 2], [], [3]]}
    return Dataset.from_dict(rows, features=features)


@checker("04.4", asks=N_("the round trip through a Parquet file"))
def exercise_04_4(parquet_roundtrip: Any) -> None:
    """``parquet_roundtrip(ds, path)`` writes ``ds`` to Parquet at ``path`` and returns it loaded with ``load_dataset`` (a ``Dataset``)."""
    from datasets import Dataset, DatasetDict

    for ds, on in (
        (_texts(25, seed=44), _("25 emotion-like rows")),
        (_with_extra_columns(), _("3 rows of 4 other columns")),
    ):
        ds.info.description = marker = f"in memory only: {on}"  # Parquet does not keep it: a loaded copy has none
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "fresh.parquet"
            got = answer(parquet_roundtrip, ds, str(path))
            expect(
                (not path.is_file(), _("no file at `path`: write it with ds.to_parquet(path)")),
                (
                    lambda: path.read_bytes()[:4] != b"PAR1",
                    _("the file at `path` is not Parquet: use ds.to_parquet(path)"),
                ),
                (
                    isinstance(got, DatasetDict),
                    _("load_dataset without split= returns a DatasetDict: pass split='train' (or take ['train'])"),
                ),
                (
                    not isinstance(got, Dataset),
                    _("return the loaded Dataset, got {type}").format(type=type(got).__name__),
                ),
                (
                    lambda: got.info.description == marker,
                    _(
                        "that is the Dataset you were given (or a copy): return what "
                        "load_dataset('parquet', data_files=path, split='train') reads back from the file"
                    ),
                ),
                (
                    lambda: got.features != ds.features,
                    lambda: _(
                        "features changed to {features}: read the file with load_dataset('parquet', data_files=path), which restores the ClassLabel stored in the file"
                    ).format(features=got.features),
                ),
                (lambda: got.to_dict() != ds.to_dict(), _("the rows that came back differ from the rows written")),
                on=on,
            )
