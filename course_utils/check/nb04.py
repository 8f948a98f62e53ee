"""Checkers for notebook 04 (datasets)."""

from __future__ import annotations

import random
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._core import Verdict, call_safely, encoder_tokenizer, verdict

__all__ = ["exercise_04_1", "exercise_04_2", "exercise_04_3", "exercise_04_4"]

_COMMON = "i feel so happy today and the day was good but a bit long at work with my friends".split()
_RARE = "unbelievably huggingface tokenization photosynthesis overwhelmingly bewilderment kaleidoscope".split()


def _fresh_texts(n: int, seed: int) -> Any:
    """A small emotion-like ``Dataset`` (text, label) the notebook never shows: common and rare (multi-piece) words."""
    from datasets import Dataset

    from ..data import emotion_features

    rng = random.Random(seed)
    texts = []
    for i in range(n):
        if i % 3 == 0:  # few words, many word pieces
            words = rng.choices(_RARE, k=rng.randint(2, 5))
        else:
            words = rng.choices(_COMMON, k=rng.randint(3, 14))
        texts.append(" ".join(words))
    labels = [rng.randrange(6) for _ in range(n)]
    return Dataset.from_dict({"text": texts, "label": labels}, features=emotion_features())


def exercise_04_1(add_n_tokens: Callable[[Any], Any]) -> Verdict | bool:
    """``add_n_tokens(ds)`` -> ``ds`` with a column ``n_tokens``: tokens per text, special tokens included (a batched map)."""
    from datasets import Dataset

    ds = _fresh_texts(60, seed=41)
    ok, got = call_safely("04.1", add_n_tokens, ds)
    if not ok:
        return False
    if not isinstance(got, Dataset):
        return verdict("04.1", False, f"return the Dataset that map gives back, got {type(got).__name__}")
    if "n_tokens" not in got.column_names:
        return verdict(
            "04.1",
            False,
            f"no column 'n_tokens' (columns: {got.column_names}): return {{'n_tokens': [...]}} from the mapped function",
        )
    if got.num_rows != ds.num_rows:
        return verdict("04.1", False, f"{got.num_rows} rows instead of {ds.num_rows}: map keeps every row")
    if not {"text", "label"} <= set(got.column_names):
        return verdict("04.1", False, "keep the text and label columns: no remove_columns here")
    if got["text"][:] != ds["text"][:]:
        return verdict("04.1", False, "the rows changed order or content: map must not shuffle or edit the texts")
    texts = ds["text"][:]
    tok = encoder_tokenizer()
    expected = [len(ids) for ids in tok(texts)["input_ids"]]
    values = list(got["n_tokens"][:])
    if values == expected:
        return verdict("04.1", True)
    if values == [len(t.split()) for t in texts]:
        return verdict(
            "04.1", False, "those are words, not tokens: rare words split into several pieces; use the tokenizer"
        )
    if values == [n - 2 for n in expected]:
        return verdict(
            "04.1",
            False,
            "count the special tokens ([CLS] and [SEP]) too: the model sees them (leave add_special_tokens on)",
        )
    if values == [len(t) for t in texts]:
        return verdict("04.1", False, "those are characters: count the tokenizer's input_ids")
    return verdict(
        "04.1",
        False,
        "wrong counts: n_tokens = len(input_ids) of each text, e.g. "
        "[len(ids) for ids in tokenizer(batch['text'])['input_ids']]",
    )


def _imbalanced(n_per_class: tuple[int, ...] = (350, 290, 150, 110, 70, 30)) -> Any:
    """1,000 rows with emotion-like class shares (surprise 3 %), shuffled, with an ``idx`` column."""
    from datasets import ClassLabel, Dataset, Features, Value

    from ..data import EMOTION_LABELS

    labels = [label for label, n in enumerate(n_per_class) for _ in range(n)]
    random.Random(42).shuffle(labels)
    features = Features({"idx": Value("int64"), "label": ClassLabel(names=list(EMOTION_LABELS))})
    return Dataset.from_dict({"idx": list(range(len(labels))), "label": labels}, features=features)


def exercise_04_2(split_validation: Callable[[Any, int], Any]) -> Verdict | bool:
    """``split_validation(ds, seed)`` -> DatasetDict with ``train`` (90 %) and a stratified ``validation`` (10 %)."""
    from collections import Counter

    ds = _imbalanced()
    n_val = ds.num_rows // 10
    whole = Counter(ds["label"][:])
    expected_counts = {
        label: count * n_val // ds.num_rows for label, count in whole.items()
    }  # exact: shares are whole percents
    splits = {}
    for seed in (11, 12):
        ok, got = call_safely("04.2", split_validation, ds, seed)
        if not ok:
            return False
        keys = set(got.keys()) if hasattr(got, "keys") else set()
        if keys == {"train", "test"}:
            return verdict(
                "04.2",
                False,
                "train_test_split names the parts 'train' and 'test': rename 'test' to 'validation' "
                "(DatasetDict(train=parts['train'], validation=parts['test']))",
            )
        if keys != {"train", "validation"}:
            return verdict(
                "04.2",
                False,
                f"return a DatasetDict with exactly the keys 'train' and 'validation', got {sorted(keys) or type(got).__name__}",
            )
        train, val = got["train"], got["validation"]
        if (train.num_rows, val.num_rows) != (ds.num_rows - n_val, n_val):
            return verdict(
                "04.2",
                False,
                f"sizes {train.num_rows}/{val.num_rows}, expected {ds.num_rows - n_val}/{n_val}: test_size=0.1 (a share, not a count)",
            )
        train_idx, val_idx = set(train["idx"][:]), set(val["idx"][:])
        if train_idx & val_idx or len(train_idx | val_idx) != ds.num_rows:
            return verdict("04.2", False, "the two parts must be disjoint and together hold every row")
        counts = Counter(val["label"][:])
        if any(counts.get(label, 0) != n for label, n in expected_counts.items()):
            surprise = counts.get(5, 0)
            return verdict(
                "04.2",
                False,
                f"not stratified: validation holds {surprise} surprise rows of {n_val} where the whole set "
                f"has {whole[5] / ds.num_rows:.0%}; pass stratify_by_column='label'",
            )
        splits[seed] = sorted(val_idx)
    if splits[11] == splits[12]:
        return verdict(
            "04.2", False, "seeds 11 and 12 gave the same split: pass the `seed` argument on to train_test_split"
        )
    ok, again = call_safely("04.2", split_validation, ds, 11)
    if not ok:
        return False
    if sorted(again["validation"]["idx"][:]) != splits[11]:
        return verdict("04.2", False, "the same seed gave a different split: pass seed=seed to train_test_split")
    return verdict("04.2", True)


def _padding_share_reference(lengths: list[int], batch_size: int) -> float:
    real = sum(lengths)
    total = sum(
        max(lengths[i : i + batch_size]) * len(lengths[i : i + batch_size]) for i in range(0, len(lengths), batch_size)
    )
    return 1 - real / total


def exercise_04_3(padding_share: Callable[[list, int], float]) -> Verdict | bool:
    """``padding_share(lengths, batch_size)`` -> share (0..1) of padding tokens when consecutive batches are padded to their own longest."""
    rng = random.Random(43)
    lengths = [rng.randint(4, 80) for _ in range(203)]  # 203: the last batch is smaller
    for batch_size in (8, 32, 100):
        ok, got = call_safely("04.3", padding_share, list(lengths), batch_size)
        if not ok:
            return False
        try:
            got = float(got)
        except (TypeError, ValueError):
            return verdict("04.3", False, f"return one number (a float), got {type(got).__name__}")
        expected = _padding_share_reference(lengths, batch_size)
        if abs(got - expected) < 1e-9:
            continue
        if abs(got - 100 * expected) < 1e-6:
            return verdict("04.3", False, "give a share between 0 and 1, not a percentage")
        if abs(got - (1 - expected)) < 1e-9:
            return verdict("04.3", False, "that is the share of REAL tokens: padding share = 1 - real / total")
        if abs(got - (1 - sum(lengths) / (max(lengths) * len(lengths)))) < 1e-9:
            return verdict(
                "04.3", False, "that pads everything to the longest text of all: each batch pads to its OWN longest"
            )
        full = len(lengths) // batch_size * batch_size
        if abs(got - _padding_share_reference(lengths[:full], batch_size)) < 1e-9:
            return verdict(
                "04.3", False, "include the last, smaller batch (a DataLoader keeps it unless drop_last=True)"
            )
        if abs(got - _padding_share_reference(sorted(lengths), batch_size)) < 1e-9:
            return verdict(
                "04.3", False, "keep the given order: sorting by length is the third strategy, not dynamic padding"
            )
        return verdict(
            "04.3",
            False,
            f"batch_size={batch_size}: expected {expected:.4f}, got {got:.4f}; batches are "
            "lengths[i:i + batch_size], each padded to its own max",
        )
    return verdict("04.3", True)


def exercise_04_4(parquet_roundtrip: Callable[[Any, str], Any]) -> Verdict | bool:
    """``parquet_roundtrip(ds, path)`` writes ``ds`` to Parquet at ``path`` and returns it loaded with ``load_dataset`` (a ``Dataset``)."""
    from datasets import Dataset, DatasetDict

    ds = _fresh_texts(25, seed=44)
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "fresh.parquet")
        ok, got = call_safely("04.4", parquet_roundtrip, ds, path)
        if not ok:
            return False
        if not Path(path).is_file():
            return verdict("04.4", False, "no file at `path`: write it with ds.to_parquet(path)")
        try:
            import pyarrow.parquet as pq

            pq.read_metadata(path)
        except Exception:
            return verdict("04.4", False, "the file at `path` is not Parquet: use ds.to_parquet(path)")
        if isinstance(got, DatasetDict):
            return verdict(
                "04.4",
                False,
                "load_dataset without split= returns a DatasetDict: pass split='train' (or take ['train'])",
            )
        if not isinstance(got, Dataset):
            return verdict("04.4", False, f"return the loaded Dataset, got {type(got).__name__}")
        if got.features != ds.features:
            return verdict(
                "04.4",
                False,
                f"features changed to {got.features}: read the file with "
                "load_dataset('parquet', data_files=path), which restores the ClassLabel stored in the file",
            )
        if got.to_dict() != ds.to_dict():
            return verdict("04.4", False, "the rows that came back differ from the rows written")
    return verdict("04.4", True)
