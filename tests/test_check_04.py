"""Checkers of notebook 04: each accepts the worked solution and rejects typical wrong answers with a hint."""

from __future__ import annotations

import pandas as pd
import pytest
from datasets import Dataset, DatasetDict, load_dataset

from course_utils import check


@pytest.fixture(scope="module")
def tokenizer():
    import os

    from transformers import AutoTokenizer

    import course_utils as cu

    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the checker resolves the same checkpoint
    return AutoTokenizer.from_pretrained(cu.resolve_checkpoint(cu.ENCODER, verbose=False))


def test_04_1(capsys, tokenizer):
    def add_n_tokens(ds):
        return ds.map(lambda b: {"n_tokens": [len(ids) for ids in tokenizer(b["text"])["input_ids"]]}, batched=True)

    assert check.exercise_04_1(add_n_tokens)
    assert capsys.readouterr().out.strip() == "✅ exercise 04.1: correct"
    assert not check.exercise_04_1(
        lambda ds: ds.map(lambda b: {"n_tokens": [len(t.split()) for t in b["text"]]}, batched=True)
    )
    assert "words, not tokens" in capsys.readouterr().out
    no_special = lambda b: {"n_tokens": [len(i) for i in tokenizer(b["text"], add_special_tokens=False)["input_ids"]]}  # noqa: E731
    assert not check.exercise_04_1(lambda ds: ds.map(no_special, batched=True))
    assert "special tokens" in capsys.readouterr().out
    assert not check.exercise_04_1(
        lambda ds: ds.map(
            lambda b: {"n_tokens": [len(i) for i in tokenizer(b["text"])["input_ids"]]},
            batched=True,
            remove_columns=["text"],
        )
    )
    assert "keep the text and label" in capsys.readouterr().out
    assert not check.exercise_04_1(lambda ds: ds.map(lambda b: tokenizer(b["text"]), batched=True))
    assert "no column 'n_tokens'" in capsys.readouterr().out


def test_04_2(capsys):
    def split_validation(ds, seed):
        parts = ds.train_test_split(test_size=0.1, seed=seed, stratify_by_column="label")
        return DatasetDict(train=parts["train"], validation=parts["test"])

    assert check.exercise_04_2(split_validation)
    assert capsys.readouterr().out.strip() == "✅ exercise 04.2: correct"

    def unstratified(ds, seed):
        return DatasetDict(zip(("train", "validation"), ds.train_test_split(test_size=0.1, seed=seed).values()))

    assert not check.exercise_04_2(unstratified)
    assert "not stratified" in capsys.readouterr().out
    assert not check.exercise_04_2(
        lambda ds, seed: ds.train_test_split(test_size=0.1, seed=seed, stratify_by_column="label")
    )
    assert "rename 'test' to 'validation'" in capsys.readouterr().out
    assert not check.exercise_04_2(lambda ds, seed: split_validation(ds, 0))
    assert "pass the `seed` argument" in capsys.readouterr().out

    def counted(ds, seed):
        return DatasetDict(zip(("train", "validation"), ds.train_test_split(test_size=10, seed=seed).values()))

    assert not check.exercise_04_2(counted)
    assert "a share, not a count" in capsys.readouterr().out


def padding_share(lengths, batch_size):
    batches = [lengths[i : i + batch_size] for i in range(0, len(lengths), batch_size)]
    return 1 - sum(lengths) / sum(max(b) * len(b) for b in batches)


def test_04_3(capsys):
    assert check.exercise_04_3(padding_share)
    assert capsys.readouterr().out.strip() == "✅ exercise 04.3: correct"
    assert not check.exercise_04_3(lambda lengths, bs: 100 * padding_share(lengths, bs))
    assert "not a percentage" in capsys.readouterr().out
    assert not check.exercise_04_3(lambda lengths, bs: 1 - padding_share(lengths, bs))
    assert "share of REAL tokens" in capsys.readouterr().out
    assert not check.exercise_04_3(lambda lengths, bs: 1 - sum(lengths) / (max(lengths) * len(lengths)))
    assert "its OWN longest" in capsys.readouterr().out
    assert not check.exercise_04_3(lambda lengths, bs: padding_share(lengths[: len(lengths) // bs * bs], bs))
    assert "last, smaller batch" in capsys.readouterr().out
    assert not check.exercise_04_3(lambda lengths, bs: padding_share(sorted(lengths), bs))
    assert "keep the given order" in capsys.readouterr().out


def test_04_4(capsys, tmp_path):
    cache = str(tmp_path / "hf-cache")

    def parquet_roundtrip(ds, path):
        ds.to_parquet(path)
        return load_dataset("parquet", data_files=path, split="train", cache_dir=cache)

    assert check.exercise_04_4(parquet_roundtrip)
    assert capsys.readouterr().out.strip() == "✅ exercise 04.4: correct"

    def as_dict(ds, path):
        ds.to_parquet(path)
        return load_dataset("parquet", data_files=path, cache_dir=cache)

    def through_pandas(ds, path):
        ds.to_parquet(path)
        return Dataset.from_pandas(pd.read_parquet(path))

    def csv_instead(ds, path):
        ds.to_csv(path)
        return load_dataset("csv", data_files=path, split="train", cache_dir=cache)

    assert not check.exercise_04_4(as_dict)
    assert "returns a DatasetDict" in capsys.readouterr().out
    assert not check.exercise_04_4(through_pandas)
    assert "features changed" in capsys.readouterr().out
    assert not check.exercise_04_4(csv_instead)
    assert "not Parquet" in capsys.readouterr().out
    assert not check.exercise_04_4(lambda ds, path: ds)
    assert "no file at `path`" in capsys.readouterr().out
