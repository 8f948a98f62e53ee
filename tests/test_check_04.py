"""Checkers of notebook 04: the worked solutions pass in float32 and bfloat16; the fakes in FAKES are rejected."""

from __future__ import annotations

import copy
import random
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import torch
from datasets import Dataset, DatasetDict, load_dataset
from fakes import Fake, solution
from torch.nn.utils import rnn
from transformers import DataCollatorWithPadding

from course_utils import check
from course_utils.check._core import encoder_tokenizer, precision

tokenizer = encoder_tokenizer()
add_n_tokens, split_validation, padding_share, parquet_roundtrip = solution(
    "04", "add_n_tokens", "split_validation", "padding_share", "parquet_roundtrip", extra={"tokenizer": tokenizer}
)


def in_thread(fn, *args):
    return ThreadPoolExecutor(1).submit(fn, *args).result()


# --- 04.1 -------------------------------------------------------------------------------------------------


def mapped(per_batch):
    """An add_n_tokens whose batched map computes ``per_batch(texts)`` instead of the token counts."""
    return lambda ds: ds.map(lambda b: {"n_tokens": per_batch(b["text"])}, batched=True)


def counts(texts, **options):
    return [len(ids) for ids in tokenizer(texts, **options)["input_ids"]]


# --- 04.2 -------------------------------------------------------------------------------------------------


def as_validation(parts):
    return DatasetDict(train=parts["train"], validation=parts["test"])


def memo_by_seed(key):
    """Split once per key with an unseeded split and replay it: reproducible-looking within one process."""
    memo = {}

    def fake(ds, seed):
        if key(ds, seed) not in memo:
            memo[key(ds, seed)] = as_validation(ds.train_test_split(test_size=0.1, stratify_by_column="label"))
        return memo[key(ds, seed)]

    return fake


def sorted_split(ds, seed):  # stratified by hand, but always the first rows of each class
    val = [
        i
        for label in set(ds["label"][:])
        for i in [j for j, y in enumerate(ds["label"][:]) if y == label][: round(ds["label"][:].count(label) * 0.1)]
    ]
    return DatasetDict(train=ds.select(sorted(set(range(len(ds))) - set(val))), validation=ds.select(val))


def overlapping(ds, seed):
    validation = split_validation(ds, seed)["validation"]
    return DatasetDict(train=ds.select(range(len(ds) - len(validation))), validation=validation)


# --- 04.3 -------------------------------------------------------------------------------------------------


def padded_by(pad):
    """padding_share with each batch padded by ``pad(batch)`` (a padded tensor of ones and zeros)."""

    def fake(lengths, batch_size):
        batches = [lengths[i : i + batch_size] for i in range(0, len(lengths), batch_size)]
        padded = [pad(batch) for batch in batches]
        return sum(int((p == 0).sum()) for p in padded) / sum(p.numel() for p in padded)

    return fake


def pad_sequence(batch):
    return rnn.pad_sequence([torch.ones(n) for n in batch], batch_first=True)


def collated(batch):
    features = [{"input_ids": [1] * n} for n in batch]
    return DataCollatorWithPadding(tokenizer)(features)["attention_mask"]


def swallowed_pad(lengths, batch_size):
    try:
        return padded_by(pad_sequence)(lengths, batch_size)
    except BaseException:  # noqa: BLE001 - what a learner who wants ✅ would write
        return 0.25


def last_batch_full(lengths, batch_size):  # pads the last batch with whole empty rows
    batches = [lengths[i : i + batch_size] for i in range(0, len(lengths), batch_size)]
    return 1 - sum(lengths) / sum(max(b) * batch_size for b in batches)


# --- 04.4 -------------------------------------------------------------------------------------------------

CACHE = tempfile.mkdtemp(prefix="hf-cache-")


def written_then(result):
    def fake(ds, path):
        ds.to_parquet(path)
        return result(ds, path)

    return fake


FIXED = Dataset.from_dict({"text": ["a fixed row"], "label": [0]})

FAKES: dict[str, dict[str, list[Fake] | str]] = {
    "04.1": {
        "library": "n/a: the exercise asks for map and the tokenizer themselves; nothing in datasets or course_utils counts tokens",
        "constant": [
            Fake(
                "the mean length for every row", (lambda ds: ds.add_column("n_tokens", [22] * len(ds)),), "wrong counts"
            ),
            Fake(
                "the first dataset's counts, padded out",
                (lambda ds: ds.add_column("n_tokens", ([9, 2, 14] * 400)[: len(ds)]),),
                "wrong counts",
            ),
        ],
        "ignores": [
            Fake(
                "ignores all texts but the batch's first",
                (mapped(lambda texts: counts(texts[:1]) * len(texts)),),
                "wrong counts",
            ),
            Fake(
                "ignores the texts after 1,000 (one batch only)",
                (lambda ds: ds.add_column("n_tokens", (counts(ds["text"][:1000]) + [0] * len(ds))[: len(ds)]),),
                "wrong counts",
            ),
            Fake(
                "ignores the label column (drops it)",
                (lambda ds: add_n_tokens(ds).remove_columns("label"),),
                "keep the text and label",
            ),
        ],
        "guard": "n/a: nothing is switched off; every row's count is compared with the tokenizer's",
        "other": [
            Fake("words", (mapped(lambda texts: [len(t.split()) for t in texts]),), "words, not tokens"),
            Fake(
                "no special tokens", (mapped(lambda texts: counts(texts, add_special_tokens=False)),), "special tokens"
            ),
            Fake("characters", (mapped(lambda texts: [len(t) for t in texts]),), "those are characters"),
            Fake("padded lengths", (mapped(lambda texts: counts(texts, padding=True)),), "wrong counts"),
            Fake(
                "tokenized columns instead of a count",
                (lambda ds: ds.map(lambda b: tokenizer(b["text"]), batched=True),),
                "no column 'n_tokens'",
            ),
            Fake(
                "text removed",
                (lambda ds: ds.map(lambda b: {"n_tokens": counts(b["text"])}, batched=True, remove_columns=["text"]),),
                "keep the text and label",
            ),
            Fake("shuffled", (lambda ds: add_n_tokens(ds).shuffle(seed=0),), "changed order"),
        ],
    },
    "04.2": {
        "library": "n/a: the exercise asks for train_test_split itself; nothing in datasets or course_utils does more of it",
        "constant": [
            Fake(
                "a count of 100 rows, not a share",
                (
                    lambda ds, seed: as_validation(
                        ds.train_test_split(test_size=100, seed=seed, stratify_by_column="label")
                    ),
                ),
                "a share of the rows, not a count",
            ),
            Fake(
                "a fixed DatasetDict",
                (lambda ds, seed: DatasetDict(train=FIXED, validation=FIXED),),
                "keep every column",
            ),
        ],
        "ignores": [
            Fake("ignores the seed (seed 0)", (lambda ds, seed: split_validation(ds, 0),), "pass the `seed` argument"),
            Fake(
                "ignores the seed (unseeded)",
                (lambda ds, seed: as_validation(ds.train_test_split(test_size=0.1, stratify_by_column="label")),),
                "the same seed gave a different split",
            ),
            Fake(
                "ignores the labels (not stratified)",
                (lambda ds, seed: as_validation(ds.train_test_split(test_size=0.1, seed=seed)),),
                "not stratified",
            ),
        ],
        "guard": [
            Fake("one unseeded split per seed, replayed", (memo_by_seed(lambda ds, seed: seed),), "sizes"),
            Fake(
                "one unseeded split per dataset and seed, replayed",
                (memo_by_seed(lambda ds, seed: (id(ds), seed)),),
                "the same seed gave a different split",
            ),
        ],
        "other": [
            Fake(
                "train_test_split's own keys",
                (lambda ds, seed: ds.train_test_split(test_size=0.1, seed=seed, stratify_by_column="label"),),
                "rename 'test' to 'validation'",
            ),
            Fake(
                "the parts swapped (90 % validation)",
                (
                    lambda ds, seed: as_validation(
                        ds.train_test_split(test_size=0.9, seed=seed, stratify_by_column="label")
                    ),
                ),
                "test_size=0.1",
            ),
            Fake("train: the first rows, overlapping validation", (overlapping,), "disjoint"),
            Fake("the first rows of each class, whatever the seed", (sorted_split,), "pass the `seed` argument"),
        ],
    },
    "04.3": {
        "library": [
            Fake(
                "pad_sequence per batch, zeros counted",
                (padded_by(pad_sequence),),
                "`padding by the library` is switched off",
            ),
            Fake(
                "DataCollatorWithPadding per batch", (padded_by(collated),), "`padding by the library` is switched off"
            ),
            Fake(
                "tokenizer.pad per batch",
                (
                    padded_by(
                        lambda b: tokenizer.pad([{"input_ids": [1] * n} for n in b], return_tensors="pt")[
                            "attention_mask"
                        ]
                    ),
                ),
                "`padding by the library` is switched off",
            ),
        ],
        "constant": [
            Fake("a typical share", (lambda lengths, bs: 0.25,), "expected"),
            Fake(
                "the share of the first case",
                (lambda lengths, bs: padding_share(lengths, 8) if len(lengths) == 203 else 0.1,),
                "expected",
            ),
        ],
        "ignores": [
            Fake("ignores batch_size (always 32)", (lambda lengths, bs: padding_share(lengths, 32),), "expected"),
            Fake(
                "ignores the order (sorted)",
                (lambda lengths, bs: padding_share(sorted(lengths), bs),),
                "keep the given order",
            ),
        ],
        "guard": [
            Fake(
                "the class-level DataCollatorWithPadding.__call__",
                (
                    padded_by(
                        lambda b: DataCollatorWithPadding.__call__(
                            DataCollatorWithPadding(tokenizer), [{"input_ids": [1] * n} for n in b]
                        )["attention_mask"]
                    ),
                ),
                "`padding by the library` is switched off",
            ),
            Fake(
                "pad_sequence in another thread",
                (padded_by(lambda b: in_thread(pad_sequence, b)),),
                "`a new thread` is switched off",
            ),
            Fake("pad_sequence, refusal swallowed", (swallowed_pad,), "`padding by the library` is switched off"),
        ],
        "other": [
            Fake("a percentage", (lambda lengths, bs: 100 * padding_share(lengths, bs),), "not a percentage"),
            Fake(
                "the share of real tokens",
                (lambda lengths, bs: 1 - padding_share(lengths, bs),),
                "share of REAL tokens",
            ),
            Fake(
                "padded to the longest of all",
                (lambda lengths, bs: 1 - sum(lengths) / (max(lengths) * len(lengths)),),
                "its OWN longest",
            ),
            Fake(
                "the last, smaller batch dropped",
                (
                    lambda lengths, bs: (
                        padding_share(lengths[: len(lengths) // bs * bs], bs) if len(lengths) >= bs else 0.0
                    ),
                ),
                "last, smaller batch",
            ),
            Fake("the last batch padded to batch_size rows", (last_batch_full,), "expected"),
            Fake(
                "padding per real token",
                (lambda lengths, bs: padding_share(lengths, bs) / (1 - padding_share(lengths, bs)),),
                "expected",
            ),
            Fake("a tensor", (lambda lengths, bs: torch.tensor(padding_share(lengths, bs)),), "return one number"),
        ],
    },
    "04.4": {
        "library": "n/a: the exercise asks for to_parquet and load_dataset themselves",
        "constant": [Fake("a fixed dataset", (written_then(lambda ds, path: FIXED),), "features changed")],
        "ignores": [
            Fake(
                "ignores path: a fixed file",
                (lambda ds, path: parquet_roundtrip(ds, str(Path(CACHE) / "fixed.parquet")),),
                "no file at `path`",
            ),
            Fake("ignores ds: returns nothing written", (lambda ds, path: ds,), "no file at `path`"),
        ],
        "guard": [
            Fake(
                "the input, after writing the file",
                (written_then(lambda ds, path: ds),),
                "that is the Dataset you were given",
            ),
            Fake(
                "a deep copy of the input",
                (written_then(lambda ds, path: copy.deepcopy(ds)),),
                "that is the Dataset you were given",
            ),
            Fake(
                "the input, flattened",
                (written_then(lambda ds, path: ds.flatten_indices()),),
                "that is the Dataset you were given",
            ),
        ],
        "other": [
            Fake(
                "a DatasetDict (no split=)",
                (written_then(lambda ds, path: load_dataset("parquet", data_files=path, cache_dir=CACHE)),),
                "returns a DatasetDict",
            ),
            Fake(
                "through pandas, features lost",
                (written_then(lambda ds, path: Dataset.from_pandas(pd.read_parquet(path))),),
                "features changed",
            ),
            Fake(
                "CSV instead",
                (
                    lambda ds, path: (
                        ds.to_csv(path),
                        load_dataset("csv", data_files=path, split="train", cache_dir=CACHE),
                    )[1],
                ),
                "not Parquet",
            ),
            Fake(
                "JSON lines instead",
                (
                    lambda ds, path: (
                        ds.to_json(path),
                        load_dataset("json", data_files=path, split="train", cache_dir=CACHE),
                    )[1],
                ),
                "not Parquet",
            ),
            Fake(
                "shuffled on the way back",
                (written_then(lambda ds, path: parquet_roundtrip(ds, path).shuffle(seed=0)),),
                "rows that came back differ",
            ),
            Fake(
                "a pandas DataFrame",
                (written_then(lambda ds, path: pd.read_parquet(path)),),
                "return the loaded Dataset",
            ),
        ],
    },
}

SOLUTIONS = {"04.1": add_n_tokens, "04.2": split_validation, "04.3": padding_share, "04.4": parquet_roundtrip}


def test_worked_solutions_pass_in_any_dtype(capsys):
    """No model in 04: the dtype a learner's runtime picks must change nothing."""
    for exercise, answer in SOLUTIONS.items():
        for dtype in (torch.float32, torch.bfloat16):
            with precision(dtype):
                assert getattr(check, "exercise_" + exercise.replace(".", "_"))(answer), (exercise, dtype)
            assert capsys.readouterr().out.strip().endswith(f"exercise {exercise}: correct")


def test_04_2_other_right_answers_pass(capsys):
    """A split by hand with sklearn's stratified splitter: other rows than datasets', the same class counts."""
    from sklearn.model_selection import train_test_split

    def by_sklearn(ds, seed):
        train, val = train_test_split(list(range(len(ds))), test_size=0.1, random_state=seed, stratify=ds["label"][:])
        return DatasetDict(train=ds.select(train), validation=ds.select(val))

    assert check.exercise_04_2(by_sklearn)
    random.seed(0)  # the checker must not depend on Python's global random state either
    assert check.exercise_04_2(split_validation)
    capsys.readouterr()
