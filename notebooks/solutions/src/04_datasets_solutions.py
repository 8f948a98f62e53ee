# Worked solutions of notebook 04's exercises (built with `make notebooks`).

# %% [markdown]
# # 04 · Solutions: datasets
#
# Worked solutions to the exercises of [04 · Datasets](../04_datasets.ipynb).
# Try them yourself first: each checker prints a hint when an answer is wrong.

# %%
import course_utils as cu

env = cu.setup(seed=0)

import tempfile
from pathlib import Path

import datasets
import numpy as np
from datasets import Dataset, DatasetDict, load_dataset
from transformers import AutoTokenizer

datasets.disable_progress_bars()
emotion = cu.load_emotion()
train = emotion["train"]
tokenizer = AutoTokenizer.from_pretrained(cu.resolve_checkpoint(cu.ENCODER))

# %% [markdown]
# **04.1** A batched map receives a dict of lists and returns a dict of lists of the same length:
# one call of the fast tokenizer per 1,000 texts. `len(input_ids)` counts `[CLS]` and `[SEP]`,
# which the model processes like any other token. Counting words instead would miss that rare
# words split into several pieces.

# %% tags=["nbval-check-output", "same-online"]
def add_n_tokens(ds: Dataset) -> Dataset:
    def count(batch):
        return {"n_tokens": [len(ids) for ids in tokenizer(batch["text"])["input_ids"]]}

    return ds.map(count, batched=True)


with_counts = add_n_tokens(train).to_pandas()
longest = with_counts.loc[with_counts.groupby("label")["n_tokens"].idxmax()]
for label, n, text in zip(longest["label"], longest["n_tokens"], longest["text"]):
    print(f"{cu.EMOTION_LABELS[label]:8s} {n:3d} tokens: {text[:60]}...")
assert cu.check.exercise_04_1(add_n_tokens)

# %% [markdown]
# **04.2** `train_test_split` names its parts `train` and `test`; rebuild a `DatasetDict` with the
# name you want. With `stratify_by_column` (it needs a `ClassLabel` column) the rare class keeps its
# share exactly; without it the share drifts by chance.

# %% tags=["nbval-check-output", "same-online"]
def split_validation(ds: Dataset, seed: int) -> DatasetDict:
    parts = ds.train_test_split(test_size=0.1, seed=seed, stratify_by_column="label")
    return DatasetDict(train=parts["train"], validation=parts["test"])


stratified = split_validation(train, seed=0)["validation"]
plain = train.train_test_split(test_size=0.1, seed=0)["test"]
surprise = cu.EMOTION_LABELS.index("surprise")
print(f"surprise in all of train: {np.mean(np.array(train['label'][:]) == surprise):.4f}")
for name, part in [("stratified", stratified), ("not stratified", plain)]:
    print(f"{name:15s} validation: {np.mean(np.array(part['label'][:]) == surprise):.4f}")
assert cu.check.exercise_04_2(split_validation)

# %% [markdown]
# **04.3** Cut the lengths in order, pad each batch to its own maximum, and divide the padding by
# everything computed. The last batch counts too (a `DataLoader` keeps it). The larger the batch,
# the more likely it holds one long text that all the others are padded to, so the share grows
# with the batch size (and with batch size 1 it is zero).

# %% tags=["nbval-check-output", "same-online"]
def padding_share(lengths: list[int], batch_size: int) -> float:
    batches = [lengths[i:i + batch_size] for i in range(0, len(lengths), batch_size)]
    computed = sum(max(batch) * len(batch) for batch in batches)
    return 1 - sum(lengths) / computed


lengths = [len(ids) for ids in tokenizer(train["text"][:])["input_ids"]]
for batch_size in (1, 8, 32, 128):
    print(f"batch_size {batch_size:3d}: padding {padding_share(lengths, batch_size):.1%} of all tokens")
assert cu.check.exercise_04_3(padding_share)

# %% [markdown]
# **04.4** `to_parquet` stores the `features` in the Parquet schema's metadata, and
# `load_dataset("parquet")` reads them back, so the `ClassLabel` survives (CSV keeps only
# integers). Without `split=` `load_dataset` returns a `DatasetDict` with one `train` split.

# %% tags=["nbval-check-output", "same-online"]
def parquet_roundtrip(ds: Dataset, path: str) -> Dataset:
    ds.to_parquet(path)
    return load_dataset("parquet", data_files=path, split="train", cache_dir=str(Path(path).parent / "hf-cache"))


with tempfile.TemporaryDirectory() as tmp:
    back = parquet_roundtrip(train, str(Path(tmp) / "train.parquet"))
    print(back.num_rows, back.features)
    print("same rows:", back["text"][:] == train["text"][:] and back["label"][:] == train["label"][:])
assert cu.check.exercise_04_4(parquet_roundtrip)
