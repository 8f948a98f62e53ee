# Source of notebooks/04_datasets.ipynb (percent format; build with `make notebooks`).

# %% [markdown]
# # 04 · Datasets
#
# Before a model can learn from text, the text has to be loaded, looked at, tokenized and cut into
# batches. 🤗 `datasets` does this with Arrow tables on disk: fast column access, transformations
# that are cached, and the same API for the Hub, your CSV files and Python generators. This
# chapter studies one dataset completely: **emotion** (English tweets labelled with six
# emotions), the data that notebook 05 fine-tunes on. It ends with a measurement that changes how
# you batch: padding every text to the longest one wastes most of the computation.
#
# **Learning objectives**
# - navigate a `DatasetDict`: splits, `features`, `ClassLabel` names, rows, columns, pandas;
# - explore class balance and text length with plots, and say what they mean for training;
# - transform data with `map` (batched or not, `batch_size`, `remove_columns`), `filter`,
#   `select`, `shuffle`, `train_test_split` and `with_format("torch")`; `num_proc`; sentence pairs;
# - use `load_dataset`'s arguments (split slicing, `streaming`, `revision`, `token`...), create
#   datasets from Python, pandas, CSV and JSON, save and reload them, find the cache files
#   `map` writes and read one with `pyarrow`;
# - measure dynamic padding against padding the whole dataset: wasted tokens and speed.
#
# **Prerequisites:** [02 · Tokenizers](02_tokenizers.ipynb), [03 · Models and heads](03_models_and_heads.ipynb).
# **Run time:** 30 s on a 2-core CPU (quick profile). [Glossary (EN/中文)](../GLOSSARY.md)

# %% [markdown]
# ## Setup

# %%
import course_utils as cu

env = cu.setup(seed=0)  # first: it also quiets the libraries imported below (`with cu.show_warnings():` undoes it for a block)

import re
import shutil
import time
from pathlib import Path

import datasets
import matplotlib.pyplot as plt
import numpy as np
import torch
from datasets import ClassLabel, Dataset, Features, Value, load_dataset, load_from_disk
from torch.utils.data import DataLoader
from transformers import AutoModel, AutoTokenizer, DataCollatorWithPadding

datasets.disable_progress_bars()  # this notebook's maps take a second or two; datasets.enable_progress_bars() to see them
SCRATCH = Path("_scratch/04_datasets")  # files this notebook writes (gitignored)
shutil.rmtree(SCRATCH, ignore_errors=True)
SCRATCH.mkdir(parents=True)

# %% [markdown]
# ## 1 · The `DatasetDict`
# `cu.load_emotion()` returns [dair-ai/emotion](https://huggingface.co/datasets/dair-ai/emotion)
# (from the Hub at a pinned revision, or from a local copy offline; it is
# `load_dataset("dair-ai/emotion")` underneath). A `DatasetDict` is a dictionary of splits; each
# `Dataset` is a table whose rows are examples and whose columns are features.

# %% tags=["nbval-check-output", "same-online"]
emotion = cu.load_emotion()
print(emotion)
print("iterating gives the split names:", list(emotion))

# %% [markdown]
# 16,000 / 2,000 / 2,000 rows: an 80 / 10 / 10 split. `features` describes the columns. `label` is
# a `ClassLabel`: the table stores integers, and the feature knows their names.

# %% tags=["nbval-check-output", "same-online"]
train = emotion["train"]
label_feature = train.features["label"]
print(train.features)
print(label_feature.num_classes, label_feature.names)
print("int2str(3) =", label_feature.int2str(3), "| str2int('fear') =", label_feature.str2int("fear"))

# %% [markdown]
# Indexing a row gives a dict; a slice gives a dict of lists (columns); a column name gives a
# lazy `Column` you can slice or turn into a list.

# %% tags=["nbval-check-output", "same-online"]
print(train[0])
print(train[:2])
print(type(train["label"]).__name__, train["label"][:10])

# %% [markdown]
# `to_pandas()` copies a split into a DataFrame, convenient for exploring (16,000 short texts fit
# in memory easily; for very large datasets explore a `select`ed sample).

# %% tags=["nbval-check-output", "same-online"]
df = train.to_pandas()
df["label_name"] = df["label"].map(label_feature.int2str)
df["words"] = df["text"].str.split().str.len()
print(df.head().to_string(max_colwidth=45))

# %% [markdown]
# ## 2 · Look at the data: classes and lengths
# Two questions before any training: are the classes balanced, and how long are the texts?

# %% tags=["nbval-check-output", "same-online"]
counts = df["label_name"].value_counts()
table = counts.to_frame("rows").assign(share=(counts / len(df)).round(3))
table["median words"] = df.groupby("label_name")["words"].median()
print(table.to_string())

# %%
fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
counts.sort_values().plot.barh(ax=axes[0], color="tab:blue")
axes[0].set_title("Class frequency (train)")
axes[0].set_xlabel("rows (texts)")
axes[0].set_ylabel("class")
order = counts.index.tolist()
axes[1].boxplot([df.loc[df["label_name"] == name, "words"] for name in order], showfliers=False)
axes[1].set_xticks(range(1, len(order) + 1), order, rotation=30)
axes[1].set_title("Words per text (train; box: quartiles and median)")
axes[1].set_xlabel("class")
axes[1].set_ylabel("words (split on spaces)")
plt.tight_layout()
plt.show()

# %% [markdown]
# What this means for training:
# - **Imbalance.** joy and sadness make up nearly two thirds of the data; surprise is under 4 %.
#   A model that never predicts surprise loses little accuracy, so report a *weighted or macro
#   F1* next to accuracy, keep class proportions when you split (`stratify_by_column`, below),
#   and consider class weights or resampling if the rare classes matter.
# - **Length.** Texts are short and similar across classes (a median under 20 words), far below
#   the 512-token limit: truncation will rarely cut anything. Token counts come in section 3.

# %% [markdown]
# ## 3 · `map`: one example or a batch at a time
# Python's built-in `map(function, iterable)` and `Dataset.map` share a name and little else. The
# built-in returns a lazy iterator: nothing runs until you iterate, each item is computed when it
# is asked for, and the iterator is used up after one pass. `Dataset.map` runs at once over the
# whole dataset, hands your function one example or a batch (a dict), writes the columns it
# returns into a new Arrow table (a cache file when the dataset lives on disk, section 5) and
# returns a new `Dataset`; the original keeps its columns.

# %% tags=["nbval-check-output", "same-online"]
few = train.select(range(3))
lazy = map(len, few["text"][:])  # built-in: an iterator, nothing computed yet
print(type(lazy).__name__, "->", list(lazy), "| a second pass:", list(lazy))
counted = few.map(lambda batch: {"n_chars": [len(t) for t in batch["text"]]}, batched=True)
print(type(counted).__name__, counted.column_names, counted["n_chars"][:], "| few keeps", few.column_names)
assert counted["n_chars"][:] == list(map(len, few["text"][:]))

# %% [markdown]
# `map(fn)` calls `fn` on each example (a dict) and adds or replaces the columns `fn` returns.
# With `batched=True`, `fn` receives a **batch**: a dict of lists of `batch_size` rows (default
# 1000), which lets a fast tokenizer process many texts in one call.

# %%
checkpoint = cu.resolve_checkpoint(cu.ENCODER)
tokenizer = AutoTokenizer.from_pretrained(checkpoint)
sample = train.select(range(4000))

start = time.perf_counter()
one_by_one = sample.map(lambda ex: tokenizer(ex["text"], truncation=True), keep_in_memory=True)
t_single = time.perf_counter() - start
start = time.perf_counter()
batched = sample.map(lambda batch: tokenizer(batch["text"], truncation=True), batched=True, keep_in_memory=True)
t_batched = time.perf_counter() - start
assert one_by_one["input_ids"][:] == batched["input_ids"][:]
print(f"4,000 texts: one by one {t_single:.2f} s, batched {t_batched:.2f} s ({t_single / t_batched:.1f}x faster)")

# %% [markdown]
# (`keep_in_memory=True` stops `map` from writing, and re-reading, a cache file, so the timing is
# honest; section 5 looks at that cache.) What does `batch_size` change? A function that records
# the size of each batch it receives answers it, and shows the meaning of `batch_size=None`:
# **the whole dataset as one batch**, not "the default".

# %% tags=["nbval-check-output", "same-online"]
for batch_size in (1000, 4096, None):
    seen = []
    train.map(lambda batch: seen.append(len(batch["text"])), batched=True, batch_size=batch_size, keep_in_memory=True)
    print(f"batch_size={batch_size!s:5s} -> {len(seen):2d} calls, sizes {seen[:3]}{' ...' if len(seen) > 3 else ''}")

# %% [markdown]
# Now tokenize all three splits at once (`DatasetDict.map` maps every split). `remove_columns`
# drops the raw text, which the model cannot use and the batching code in section 6 cannot
# stack. The tokenizer decides the new columns (offline stand-in: a BERT, so `token_type_ids`
# too; DistilBERT has none). The tokenizer is a default argument, so the function carries it
# with it: on macOS and Windows, `map` with several processes (below) starts them with `spawn`,
# and a spawned worker does not see the notebook's globals (a `NameError` there).

# %%
def tokenize(batch, tokenizer=tokenizer):
    return tokenizer(batch["text"], truncation=True)


encoded = emotion.map(tokenize, batched=True, remove_columns=["text"])

# %% tags=["nbval-check-output", "same-online"]
print(encoded["train"].column_names)
lengths = np.array([len(ids) for ids in encoded["train"]["input_ids"]])
print(f"tokens per text: mean {lengths.mean():.1f}, median {int(np.median(lengths))}, "
      f"95th percentile {int(np.percentile(lengths, 95))}, max {lengths.max()}")
print("decoded back:", tokenizer.decode(encoded["train"][0]["input_ids"]))

# %% [markdown]
# So `truncation=True` cuts nothing in emotion. Without it, a text longer than the model's limit
# is tokenized whole and fails only later, inside the model (it has no position beyond the
# limit). The tokenizer warns when that happens, but `cu.setup()` hides transformers' warnings;
# `cu.show_warnings()` shows them again for one block (here on 30 tweets joined into one text):

# %%
long_text = " ".join(train["text"][:30])
with cu.show_warnings(progress_bars=False):
    whole = tokenizer(long_text)["input_ids"]  # the warning goes to stderr, below
cut = tokenizer(long_text, truncation=True)["input_ids"]
print(f"{len(whole)} tokens without truncation, {len(cut)} with truncation=True (the limit: {tokenizer.model_max_length})")
assert len(whole) > tokenizer.model_max_length == len(cut)

# %% [markdown]
# `map(num_proc=n)` cuts the dataset into `n` shards, maps them in `n` processes and joins the
# results in the original order: the same rows as `num_proc=1`. It pays off for slow Python
# functions on many cores; for a fast tokenizer on 2,000 texts, starting the processes can cost
# about as much as it saves (not timed here: time both on your machine). (`load_dataset(num_proc=...)`, below, is something else: processes
# that *prepare* the data files.)

# %% tags=["nbval-check-output", "same-online"]
validation = emotion["validation"]
one_process = validation.map(tokenize, batched=True, keep_in_memory=True)
two_processes = validation.map(tokenize, batched=True, num_proc=2, keep_in_memory=True)
print("num_proc=2 gives the same rows as num_proc=1:", two_processes["input_ids"][:] == one_process["input_ids"][:])

# %% [markdown]
# ### Sentence pairs
# GLUE's MRPC is the classic sentence-pair task (pairs of sentences, label 1 when they are
# paraphrases). Its Hub id today is `nyu-mll/glue` with the configuration `mrpc`:
# `load_dataset("nyu-mll/glue", "mrpc")`, columns `sentence1`, `sentence2`, `label`, `idx`.
# Offline we build a dataset with the same columns from emotion tweets with `Dataset.from_dict`
# (label 1 when the two share an emotion: a made-up task, but the same mechanics). A tokenizer
# called with two lists encodes pairs: `[CLS] first [SEP] second [SEP]`, and for BERT
# `token_type_ids` 0 for the first sentence and 1 for the second.

# %%
if env.hub:
    pairs = load_dataset("nyu-mll/glue", "mrpc", split="train[:1000]")
else:
    texts, labels = train["text"][:2000], train["label"][:2000]
    pairs = Dataset.from_dict({
        "sentence1": texts[0::2],
        "sentence2": texts[1::2],
        "label": [int(a == b) for a, b in zip(labels[0::2], labels[1::2])],
        "idx": list(range(1000)),
    })


def tokenize_pairs(batch):
    return tokenizer(batch["sentence1"], batch["sentence2"], truncation=True)


pairs_file = SCRATCH / "pairs-tokenized.arrow"
pairs_encoded = pairs.map(tokenize_pairs, batched=True, cache_file_name=str(pairs_file))

# %% tags=["nbval-check-output"]
print(pairs_encoded.column_names, pairs_encoded.num_rows)
first = pairs_encoded[0]
if "token_type_ids" in first:
    types = first["token_type_ids"]
    print(f"token_type_ids of row 0: {types.count(0)} zeros (first sentence), then {types.count(1)} ones (second)")
n_sep = first["input_ids"].count(tokenizer.sep_token_id)
print("row 0 starts with [CLS]:", first["input_ids"][0] == tokenizer.cls_token_id, "| [SEP] tokens:", n_sep)
assert n_sep == 2

# %% [markdown]
# A common shortcut calls the tokenizer on whole columns instead:
# `tokenizer(raw["train"]["sentence1"], raw["train"]["sentence2"], padding=True, truncation=True)`.
# That works, but returns **one** `BatchEncoding`, a dict of Python lists for every row, which must
# fit in RAM at once and is padded to the longest pair of the whole split. `map` tokenizes 1,000
# rows at a time and writes each batch to an Arrow file on disk (here the `cache_file_name` we
# gave; rows are memory-mapped, read when used), so it scales to datasets larger than memory and
# keeps the result as a `Dataset`.

# %% tags=["nbval-check-output"]
at_once = tokenizer(pairs["sentence1"][:], pairs["sentence2"][:], padding=True, truncation=True)
print(type(at_once).__name__, "of", type(at_once["input_ids"]).__name__, "| rows:", len(at_once["input_ids"]),
      "| every row padded to", len(at_once["input_ids"][0]), "tokens")
widths = [len(ids) for ids in pairs_encoded["input_ids"][:]]
print("map wrote:", [Path(f["filename"]).name for f in pairs_encoded.cache_files], f"| unpadded rows of {min(widths)}..{max(widths)} tokens")
assert [ids[: len(row)] for ids, row in zip(at_once["input_ids"], pairs_encoded["input_ids"][:])] == pairs_encoded["input_ids"][:]

# %% [markdown]
# ## 4 · Choosing rows: `filter`, `select`, `shuffle`, `train_test_split`
# All four return a new `Dataset`; most return a view of the same Arrow data through an
# *indices mapping* (no copy). `shuffle` needs a `seed` to be reproducible.

# %% tags=["nbval-check-output", "same-online"]
short = train.filter(lambda ex: len(ex["text"].split()) <= 4)
print("texts of at most 4 words:", short.num_rows, "| e.g.", short[:3]["text"])
print("select([0, 5, 7]) labels:", train.select([0, 5, 7])["label"][:])
shuffled = train.shuffle(seed=0)
print("shuffle(seed=0), first labels:", shuffled["label"][:8])

# %% [markdown]
# `train_test_split` cuts a split in two. `stratify_by_column` keeps each class's share equal
# in both parts, which matters with rare classes such as surprise:

# %% tags=["nbval-check-output", "same-online"]
parts = train.train_test_split(test_size=0.1, seed=0, stratify_by_column="label")
print({name: part.num_rows for name, part in parts.items()})
for name, part in parts.items():
    share = np.bincount(part["label"][:], minlength=6) / part.num_rows
    print(f"{name:5s} class shares:", np.round(share, 3))

# %% [markdown]
# ### Formats: Python lists or tensors
# By default rows come back as Python objects. `with_format("torch")` returns a *new* dataset
# that gives tensors; `set_format` does the same *in place* (`set_format("torch", columns=[...])`
# also hides the other columns).

# %% tags=["nbval-check-output", "same-online"]
as_torch = encoded["train"].with_format("torch", columns=["input_ids", "attention_mask", "label"])
row = as_torch[0]
print({k: (type(v).__name__, tuple(v.shape)) for k, v in row.items()})
print("the original is unchanged:", type(encoded["train"][0]["input_ids"]).__name__)
print("a slice of ragged rows:", type(as_torch[:2]["input_ids"]).__name__, "of", [tuple(t.shape) for t in as_torch[:2]["input_ids"]])

# %% [markdown]
# A slice cannot be one tensor when rows have different lengths: making them equal is the job of
# padding (section 6).

# %% [markdown]
# ## 5 · Making datasets, saving them, and the cache
# ### From Python and from files

# %% tags=["nbval-check-output", "same-online"]
features = Features({"text": Value("string"), "label": ClassLabel(names=list(cu.EMOTION_LABELS))})
tiny = Dataset.from_dict({"text": ["what a lovely day", "i am so scared"], "label": [1, 4]}, features=features)
print(tiny, tiny.features["label"].int2str(tiny["label"][:]))


def generate():
    for i in range(10):
        yield {"idx": i, "text": f"text_{i}"}


generated = Dataset.from_generator(generate)  # rows produced lazily, written to an Arrow file
print(generated.num_rows, generated.features)

# %% [markdown]
# `load_dataset` with a *format name* reads your own files ("csv", "json", "parquet", "text"...).
# `data_files` may be one file, a list, or a dict of splits. It converts them to Arrow in a
# cache folder (here `cache_dir=` keeps it inside the scratch folder). CSV and JSON have no
# notion of `ClassLabel`: pass `features=` to get the label names back.

# %% tags=["nbval-check-output", "same-online"]
small = train.select(range(100))
small.to_csv(SCRATCH / "emotion_small.csv")
small.to_json(SCRATCH / "emotion_small.jsonl")  # JSON Lines: one object per row
from_csv = load_dataset("csv", data_files={"train": str(SCRATCH / "emotion_small.csv")}, cache_dir=str(SCRATCH / "hf-cache"))
from_json = load_dataset("json", data_files=str(SCRATCH / "emotion_small.jsonl"), features=features, cache_dir=str(SCRATCH / "hf-cache"))
print("csv :", from_csv["train"].num_rows, from_csv["train"].features)
print("json:", from_json["train"].num_rows, from_json["train"].features)
arrow = Path(from_csv["train"].cache_files[0]["filename"])
print("Arrow file:", re.sub("[0-9a-f]{16,}", "<hash>", str(arrow.relative_to(SCRATCH.resolve()))))

# %% [markdown]
# ### `load_dataset`, argument by argument
# Several of its arguments are easy to misread. In datasets 5:
#
# | argument | what it does |
# |---|---|
# | `path` | a Hub id (`"dair-ai/emotion"`), a local folder, or a builder name: `"json"`, `"csv"`, `"parquet"`, `"text"`, `"arrow"`... |
# | `name` | the **configuration** (subset) of a dataset that has several: `load_dataset("nyu-mll/glue", "mrpc")` |
# | `data_files`, `data_dir` | your files for a builder: one path, a list, or `{split: path(s)}` (globs allowed); or a folder of them |
# | `split` | return one `Dataset` instead of a `DatasetDict`; slices and sums: `"train[:10%]"`, `"train[:500]+validation[:100]"` |
# | `features` | the schema to cast to, e.g. a `ClassLabel` for integer labels |
# | `cache_dir` | where the Arrow files go (default `~/.cache/huggingface/datasets`, or `HF_DATASETS_CACHE`) |
# | `keep_in_memory` | copy the data into RAM instead of memory-mapping the Arrow files |
# | `streaming` | `True`: no download and no Arrow files; an `IterableDataset` that reads rows as you iterate |
# | `num_proc` | processes that download and *prepare* the files (not `map`'s `num_proc`) |
# | `revision` | branch, tag or commit of a Hub dataset: pin it for reproducibility (`cu.load_emotion` does) |
# | `token` | a Hub token (`True`: the one saved by `hf auth login`) for private or gated datasets |
# | `download_mode` | `"reuse_dataset_if_exists"` (default), `"reuse_cache_if_exists"` (keep downloads, rebuild the Arrow files), `"force_redownload"` |
# | `verification_mode` | checks after preparing: `"basic_checks"` (default: split sizes), `"all_checks"` (also the downloaded files' checksums), `"no_checks"` |
# | `storage_options` | options for the fsspec filesystem that serves remote `data_files` (`s3://`, `gs://`, `hf://`...), e.g. `{"anon": True}` or credentials |
# | `**config_kwargs` | options of the builder: `sep=";"` for csv, `field="data"` for JSON nested under a key |
#
# Gone: `use_auth_token` (use `token`), `task` (task templates, removed in datasets 3),
# `ignore_verifications` (use `verification_mode`), and `trust_remote_code` (datasets 4 runs no
# loading scripts). On the local emotion files (`$COURSE_DATA_DIR/emotion`, found by
# `cu.data.emotion_dir()`; where there is no local mirror, we write the splits ourselves):

# %%
emotion_folder = cu.data.emotion_dir()  # None when COURSE_DATA_DIR is unset
if emotion_folder is None:
    emotion_folder = SCRATCH / "emotion"
    emotion_folder.mkdir()
    for split, part in emotion.items():
        part.to_json(str(emotion_folder / f"{split}.jsonl"))
emotion_files = {split: str(emotion_folder / f"{split}.jsonl") for split in emotion}
json_cache = str(SCRATCH / "hf-cache")

# %% tags=["nbval-check-output", "same-online"]
ten_percent = load_dataset("json", data_files=emotion_files, split="train[:10%]", cache_dir=json_cache)
mixed = load_dataset("json", data_files=emotion_files, split="train[:500]+validation[:100]", cache_dir=json_cache)
print("train[:10%]:", ten_percent.num_rows, "rows | train[:500]+validation[:100]:", mixed.num_rows, "rows")
assert ten_percent["text"][:] == train["text"][:1600]
assert mixed["text"][:] == train["text"][:500] + emotion["validation"]["text"][:100]
for removed in ({"use_auth_token": True}, {"task": "text-classification"}):
    try:
        load_dataset("json", data_files=emotion_files, split="train", cache_dir=json_cache, **removed)
    except TypeError as err:
        print("TypeError:", str(err))

# %% [markdown]
# With `streaming=True` nothing is converted: you get an `IterableDataset`, read in order as you
# iterate (`next(iter(...))`, `take(n)`, a `for` loop). It has no length and no indexing;
# `map`, `filter` and `shuffle(buffer_size=...)` work lazily, row by row as you read. That is how
# you look at a dataset too big to download.

# %% tags=["nbval-check-output", "same-online"]
stream = load_dataset("json", data_files=emotion_files, split="train", streaming=True)
print(type(stream).__name__, "| first row:", next(iter(stream)))
print("labels of take(5):", [row["label"] for row in stream.take(5)])
assert [row["text"] for row in stream.take(5)] == train["text"][:5]

# %% [markdown]
# ### From pandas
# A common first step reads JSON lines with pandas and keeps `df.values.tolist()`: rows as lists,
# with the column names and types gone. `Dataset.from_pandas` keeps the columns (pass `features=` to get
# the `ClassLabel` back; `preserve_index=False` drops a non-default index). And `load_dataset("json")`
# above does the same without pandas.

# %% tags=["nbval-check-output", "same-online"]
import pandas as pd

frame = pd.read_json(emotion_files["validation"], lines=True)  # the common first step
print("df.values.tolist()[0]:", frame.values.tolist()[0])
from_pandas = Dataset.from_pandas(frame, features=features, preserve_index=False)
print(from_pandas)
print("row 0:", from_pandas[0], "->", from_pandas.features["label"].int2str(from_pandas[0]["label"]))
assert from_pandas["text"][:] == emotion["validation"]["text"][:]

# %% [markdown]
# ### `save_to_disk`, `load_from_disk`, and the files `map` writes
# `save_to_disk` writes a folder (Arrow data + two JSON files) that only `load_from_disk` reads.
# A dataset backed by Arrow files on disk gets a
# `cache-<fingerprint>.arrow` file **next to them** for every `map`; the fingerprint hashes the
# previous state and your function, so running the same `map` again reads that file instead of
# calling your function.

# %% tags=["nbval-check-output", "same-online"]
folder = SCRATCH / "hf-data-temp"


def files():
    return sorted(re.sub("[0-9a-f]{16}", "<fingerprint>", p.name) for p in folder.iterdir())


def add_a(example):
    return {"a": "a" + example["text"]}


def add_b(example):
    return {"b": "b" + example["text"]}


generated.save_to_disk(folder)
print("saved:", files())
reloaded = load_from_disk(folder)
step_a = reloaded.map(add_a)
step_b = step_a.map(add_b)
print("after two maps:", files())
again = step_a.map(add_b)  # same data, same function: served from the cache
print("after repeating the second map:", files())
print("same cache file:", again.cache_files == step_b.cache_files)

# %% [markdown]
# A cache file is plain Arrow, so `pyarrow` reads it without `datasets`. Arrow
# has two on-disk layouts: the IPC *file* format (with a footer for random access, read by
# `pa.ipc.open_file`) and the IPC *stream* format (`pa.ipc.open_stream`). `datasets` writes
# streams (its `ArrowWriter` uses `pa.RecordBatchStreamWriter`), so `open_stream` is the right
# reader and `open_file` fails. `pa.memory_map` maps the file instead of reading it
# into RAM, which is how `datasets` opens it too. The schema's `huggingface` metadata holds the
# `features` (a `ClassLabel`'s names, for instance), which plain Arrow types cannot express.

# %% tags=["nbval-check-output", "same-online"]
import pyarrow as pa

arrow_path = step_b.cache_files[0]["filename"]  # the cache-<fingerprint>.arrow of the second map
with pa.memory_map(arrow_path) as source:
    arrow_table = pa.ipc.open_stream(source).read_all()
    try:
        pa.ipc.open_file(source)
    except pa.ArrowInvalid as err:
        print("open_file:", err)
print(arrow_table.schema.remove_metadata())
print("rows:", arrow_table.num_rows, "| schema metadata:", [key.decode() for key in arrow_table.schema.metadata])
assert arrow_table.num_rows == step_b.num_rows and arrow_table.schema == step_b.data.schema
assert arrow_table.equals(step_b.data.table)  # the same columns and values as the Dataset

# %% [markdown]
# `cache_file_name=` picks the file yourself. It must end in an extension (`.arrow`) and it is a
# single Arrow file, not a `save_to_disk` folder: read it with `Dataset.from_file`, not
# `load_from_disk` (which fails on it, as the cell shows). Datasets that live in memory (`from_dict`,
# `keep_in_memory=True`) write no cache files at all.

# %% tags=["nbval-check-output", "same-online"]
own = SCRATCH / "ssss" / "hug.arrow"
own.parent.mkdir()
reloaded.map(add_b, cache_file_name=str(own))
try:
    load_from_disk(own)
except FileNotFoundError as err:
    print("load_from_disk:", type(err).__name__, "(not a dataset folder)")
print("Dataset.from_file:", Dataset.from_file(str(own)).column_names)
print("in-memory dataset, cache files after map:", tiny.map(lambda ex: {"n": len(ex["text"])}).cache_files)

# %% [markdown]
# The emotion splits are Arrow files in the `datasets` cache (`~/.cache/huggingface/datasets`
# by default, `HF_DATASETS_CACHE` to move it), so `encoded` above is backed by cache files there.
# Disable caching with `datasets.disable_caching()`, force a recomputation with
# `load_from_cache_file=False`, and delete a split's cache files with `cleanup_cache_files()`.

# %% tags=["nbval-check-output"]
print("emotion train is stored in:", [Path(f["filename"]).name for f in train.cache_files])
print("encoded train is stored in:", [re.sub("[0-9a-f]{16}", "<fingerprint>", Path(f["filename"]).name) for f in encoded["train"].cache_files])

# %% [markdown]
# ## 6 · Padding: everything to the longest, or each batch to its own longest
# The O'Reilly book *Natural Language Processing with Transformers* (chapter 2) tokenizes emotion
# with `padding=True` and `batch_size=None`. From
# section 3 you know what that means: one batch holding the whole split, so **every text is
# padded to the longest text of the split**, and each split gets its own width:

# %%
def tokenize_and_pad(batch):
    return tokenizer(batch["text"], padding=True, truncation=True)


padded_everything = emotion.map(tokenize_and_pad, batched=True, batch_size=None, remove_columns=["text"])

# %% tags=["nbval-check-output", "same-online"]
for split, part in padded_everything.items():
    widths = {len(ids) for ids in part["input_ids"][:]}
    print(f"{split:10s} every row has {widths} tokens")

# %% [markdown]
# The alternative is **dynamic padding**: tokenize without padding, and let a *collator* pad each
# batch to its own longest text when the batch is formed. `DataCollatorWithPadding` does this (it
# is what `Trainer` uses by default when you give it a tokenizer). A third option also sorts the
# texts by length first, so that each batch holds texts of similar length (the idea behind
# `TrainingArguments(train_sampling_strategy="group_by_length")`, which notebook 05 uses; older
# releases called it `group_by_length=True`).
#
# We compare the three on the **same** texts, the same model (the course's encoder) and the same
# batch size, measuring the share of padding tokens and the time of a forward pass over all of them.

# %%
n_texts = cu.by_profile(quick=512, full=4000)
batch_size = 32
model = AutoModel.from_pretrained(checkpoint).to(env.device).eval()
collator = DataCollatorWithPadding(tokenizer)

pad_all = padded_everything["train"].select(range(n_texts)).remove_columns("label").with_format("torch")
dynamic = encoded["train"].select(range(n_texts)).remove_columns("label")
by_length = dynamic.select(np.argsort([len(ids) for ids in dynamic["input_ids"]], kind="stable"))
loaders = {
    "pad everything": DataLoader(pad_all, batch_size=batch_size),
    "dynamic padding": DataLoader(dynamic, batch_size=batch_size, collate_fn=collator),
    "dynamic, sorted by length": DataLoader(by_length, batch_size=batch_size, collate_fn=collator),
}

# %% tags=["nbval-check-output", "same-online"]
padding_share = {}
for name, loader in loaders.items():
    masks = [batch["attention_mask"] for batch in loader]
    real, total = sum(int(m.sum()) for m in masks), sum(m.numel() for m in masks)
    padding_share[name] = 1 - real / total
    widths = sorted({m.shape[1] for m in masks})
    print(f"{name:26s} {len(masks)} batches, widths {widths[0]}..{widths[-1]}, padding {padding_share[name]:.1%} of all tokens")

# %% [markdown]
# Padding does not change the result for the real tokens, as long as the `attention_mask` goes
# in with the ids (notebook 02). Check it on the first batch, same texts, two paddings:

# %% tags=["nbval-check-output", "same-online"]
first_all, first_dyn = next(iter(loaders["pad everything"])), next(iter(loaders["dynamic padding"]))
width = first_dyn["input_ids"].shape[1]
with torch.inference_mode():
    h_all = model(**{k: v.to(env.device) for k, v in first_all.items()}).last_hidden_state[:, :width]
    h_dyn = model(**{k: v.to(env.device) for k, v in first_dyn.items()}).last_hidden_state
real = first_dyn["attention_mask"].bool().to(env.device)
torch.testing.assert_close(h_all[real], h_dyn[real], atol=1e-4, rtol=1e-4)
print("same hidden states on real tokens (atol 1e-4):", True)

# %% [markdown]
# Now the time of one forward pass over all the texts, per strategy (after one warm-up batch).
# Your numbers will differ; the ratio is what matters.

# %%
def forward_time(loader):
    """Seconds for a forward pass over every batch of ``loader``."""
    start = time.perf_counter()
    with torch.inference_mode():
        for batch in loader:
            model(**{k: v.to(env.device) for k, v in batch.items()})
    if env.device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


with torch.inference_mode():
    model(**{k: v.to(env.device) for k, v in first_dyn.items()})  # warm-up
seconds = {name: forward_time(loader) for name, loader in loaders.items()}
base = seconds["pad everything"]
for name, s in seconds.items():
    print(f"{name:26s} {s:6.2f} s  {n_texts / s:6.0f} texts/s  speed-up {base / s:.1f}x")

# %%
fig, axes = plt.subplots(1, 2, figsize=(9, 3))
names = list(loaders)
axes[0].barh(names, [padding_share[n] * 100 for n in names], color="tab:orange")
axes[0].set_xlabel("padding tokens (% of all tokens)")
axes[0].set_ylabel("padding strategy")
axes[0].set_title("Wasted tokens")
axes[1].barh(names, [seconds[n] for n in names], color="tab:blue")
axes[1].set_xlabel(f"forward pass over {n_texts} texts (s)")
axes[1].set_title("Time, this run")
axes[1].set_yticks([])
fig.suptitle(f"Three ways to pad, batches of {batch_size} texts")
axes[0].invert_yaxis()
axes[1].invert_yaxis()
plt.tight_layout()
plt.show()

# %% [markdown]
# Padding everything to the split's longest text (87 tokens in emotion's training split) makes
# most of the computed tokens padding; dynamic padding removes a good part of that waste, and
# sorting by length removes almost all of it. The time falls with the tokens computed, and faster
# than their count here (the widest batches also cost the most attention per token). For
# training, use dynamic padding (`DataCollatorWithPadding`, the `Trainer` default with a
# tokenizer); `train_sampling_strategy="group_by_length"` adds the sorting while keeping some
# randomness.

# %% [markdown]
# ## Common pitfalls
# - **`batch_size=None` is not "the default (about 1000)"**: it is the whole dataset in one batch.
#   Combined with `padding=True` it pads every row to the longest row of its split (section 6).
#   The default `batch_size` is 1000.
# - **Strings in a batch break the collator.** Remove the text column before batching, or the
#   collator fails with a misleading message about padding:

# %% tags=["nbval-check-output", "same-online"]
with_text = emotion["train"].select(range(2)).map(tokenize, batched=True)
try:
    collator([with_text[0], with_text[1]])
except ValueError as err:
    print("ValueError:", str(err).split(".")[0])
print("without text:", {k: tuple(v.shape) for k, v in collator([dynamic[0], dynamic[1]]).items()})

# %% [markdown]
# - **`cache_file_name`** needs an extension and names one Arrow file: read it with
#   `Dataset.from_file`, not `load_from_disk`.
# - **A cached `map` does not call your function again.** If the function's result depends on
#   something the fingerprint cannot see (a file it reads, a model you changed), pass
#   `load_from_cache_file=False`.
# - **`set_format` changes the dataset in place**; `with_format` returns a new one. Both can hide
#   columns (`columns=[...]`).
# - **Dataset ids and scripts.** The dataset is `dair-ai/emotion` (the old id `emotion` is gone),
#   and `datasets` no longer runs loading scripts (editing a script such as `glue.py` changes nothing;
#   datasets on the Hub are data files, usually Parquet). `load_metric` was removed: use
#   `evaluate` or scikit-learn.
# - **An evaluation `map` that runs a model**: the attribute is `tokenizer.model_input_names`
#   (plural), the call is `model(**inputs)`, and the batches it receives need `with_format("torch")`
#   first.
# - **Tokenizing whole columns** (`tokenizer(raw["train"]["sentence1"], raw["train"]["sentence2"],
#   padding=True)`): one dict of Python lists in RAM, every row padded to the split's longest pair.
#   Use `pairs.map(tokenize_pairs, batched=True)` and pad per batch. MRPC is `nyu-mll/glue`, `mrpc`.
# - **`df.values.tolist()`** throws away column names and types: use
#   `Dataset.from_pandas(df, features=...)`, or skip pandas with `load_dataset("json", data_files=...)`.
# - **Removed `load_dataset` arguments** that older code passes: `use_auth_token` is now `token`;
#   `task` and `ignore_verifications` are gone (`verification_mode` replaces the latter); unknown
#   keywords reach the builder's config and fail with `TypeError`.
# - **An `IterableDataset` (`streaming=True`) has no `len` and no `ds[i]`**: iterate, `take(n)`,
#   or `skip(n)`.
# - **`train["text"]` is a lazy `Column`** in datasets 4+; call `[:]` or `list(...)` when you
#   need a list.

# %% [markdown]
# ## Exercises
# Each exercise ends with a checker from `cu.check`: it tests your answer on fresh inputs and prints
# ✅ or a specific hint. Worked solutions: [solutions/04_datasets_solutions.ipynb](solutions/04_datasets_solutions.ipynb).
#
# **04.1** Write `add_n_tokens(ds)`: return `ds` with a new column `n_tokens`, the number of
# tokens of each text as the model sees them (special tokens included), computed with a *batched*
# `map` and this notebook's `tokenizer`; keep the other columns. Then print the longest text of each
# class of `train`.

# %% tags=["nbval-check-output", "same-online"]
def add_n_tokens(ds: Dataset) -> Dataset:
    raise NotImplementedError  # your code here


cu.check.exercise_04_1(add_n_tokens)

# %% [markdown]
# **04.2** Write `split_validation(ds, seed)`: a `DatasetDict` with `train` (90 %) and a
# `validation` split (10 %) that keeps each class's share, reproducible with `seed`. Think: compare
# the share of surprise in a split made without `stratify_by_column`.

# %% tags=["nbval-check-output", "same-online"]
def split_validation(ds: Dataset, seed: int) -> datasets.DatasetDict:
    raise NotImplementedError  # your code here


cu.check.exercise_04_2(split_validation)

# %% [markdown]
# **04.3** Write `padding_share(lengths, batch_size)`: the share (0 to 1) of padding tokens when
# texts of these token lengths are cut, in order, into batches of `batch_size` and each batch is
# padded to its own longest text (dynamic padding; no model needed: the checker switches off
# `pad_sequence`, `DataCollatorWithPadding` and `tokenizer.pad`). Think: print it for
# `lengths` (section 3) with batch sizes 8, 32 and 128, and explain the trend.

# %% tags=["nbval-check-output", "same-online"]
def padding_share(lengths: list[int], batch_size: int) -> float:
    raise NotImplementedError  # your code here


cu.check.exercise_04_3(padding_share)

# %% [markdown]
# **04.4** Write `parquet_roundtrip(ds, path)`: write `ds` to Parquet at `path` with `to_parquet`
# and return it loaded back with `load_dataset("parquet", data_files=...)` as a `Dataset`. The
# checker verifies that the rows and the `features` (the `ClassLabel` included) survived.

# %% tags=["nbval-check-output", "same-online"]
def parquet_roundtrip(ds: Dataset, path: str) -> Dataset:
    raise NotImplementedError  # your code here


cu.check.exercise_04_4(parquet_roundtrip)

# %% [markdown]
# ## Recap
# - A `DatasetDict` maps split names to `Dataset`s; `features` carries the schema, and
#   `ClassLabel` turns label ids into names.
# - emotion is imbalanced (joy and sadness nearly two thirds, surprise under 4 %) and short (about 22
#   tokens on average): stratify, report F1, and do not worry about truncation.
# - `map(batched=True)` is the fast path; `batch_size=None` means one batch of everything;
#   `num_proc` parallelises without changing the rows; results are cached as
#   `cache-<fingerprint>.arrow` beside the data, batch by batch, never all in RAM. Python's own
#   `map` is something else: a lazy, one-pass iterator.
# - A cache file is an Arrow IPC stream: `pa.ipc.open_stream(pa.memory_map(path)).read_all()`.
# - Sentence pairs: `tokenizer(batch["sentence1"], batch["sentence2"])` inside a batched map.
# - `load_dataset("json", data_files=..., split="train[:10%]")` slices while loading;
#   `streaming=True` gives an `IterableDataset`; `token` replaced `use_auth_token`.
# - Pad per batch (`DataCollatorWithPadding`), not per dataset: far fewer wasted tokens and a
#   faster forward pass, with identical outputs.
#
# **Next:** [05 · Fine-tuning a classifier](05_fine_tuning.ipynb), which trains the head of notebook
# 03 on these batches.
