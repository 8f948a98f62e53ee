# Source of notebooks/05_fine_tuning.ipynb (percent format; build with `make notebooks`).

# %% [markdown]
# # 05 · Fine-tuning a classifier on emotion
#
# This is the centre of the course: the complete study of one classification task, as in chapter 2
# of *Natural Language Processing with Transformers*, on today's APIs. We measure two baselines
# first (a model that always answers the most frequent class, and a logistic regression on frozen
# transformer features), then fine-tune the whole encoder with `Trainer`, read what `train()`,
# `evaluate()` and `predict()` return, look at the errors the model makes, and train the same
# model with a plain PyTorch loop and with a configurable script. Every number printed below is
# measured in this run; the one table that comes from elsewhere (section 4.1, the recipes over
# three seeds) names the benchmark run it was read from.
#
# **Learning objectives**
# - measure a majority-class baseline and a frozen-feature baseline, and explain why fine-tuning
#   beats both;
# - choose a training recipe for the hardware you have (padding, length grouping, batch size,
#   learning rates, bf16), and compare it with the book's on the same machine;
# - fine-tune with `TrainingArguments` + `Trainer`: every argument, `compute_metrics`, dynamic
#   padding, callbacks (one prints the training loss every N steps), early stopping and checkpoints;
# - explain what `train()`, `evaluate()` and `predict()` return and how `PredictionOutput` relates
#   to `EvalPrediction`;
# - customise `Trainer` by subclassing (`compute_loss` with class weights) and size a run with
#   gradient accumulation and mixed precision;
# - analyse errors with a confusion matrix and a per-example loss computed with `Dataset.map`;
# - write the same training as a plain PyTorch loop that ends with `Trainer`'s very weights, and
#   as a script configured by YAML and command-line flags with `HfArgumentParser`.
#
# **Prerequisites:** [03 · Models and heads](03_models_and_heads.ipynb), [04 · Datasets](04_datasets.ipynb).
# **Run time:** 2.4 min on a 2-core CPU (quick profile, offline stand-in: 5,000 training texts, one
# epoch). The full profile trains three times on all 16,000 texts (four epochs with `Trainer`, two
# with the plain loop and four with the script's YAML recipe): it is meant for a GPU.
# [Glossary (EN/中文)](../GLOSSARY.md)

# %% [markdown]
# ## Setup
# The profile sets every size in this notebook. `quick` trains on 5,000 of the 16,000 training
# texts for one epoch with a few speed-ups that a CPU needs (explained where they appear), and
# scores on the whole validation and test sets. Those sizes were chosen for the offline stand-in;
# a checkpoint that computes more per token gets smaller ones in proportion (`cu.quick_scale`:
# DistilBERT, which the online branch loads, computes four times as much per token as the stand-in
# and gets a quarter), so the quick profile takes a few minutes either way; the cell prints the
# sizes it chose. `full` is the course's full recipe: the whole training set, four epochs. Both follow the recipes
# that `benchmarks/emotion_finetune.py` measures over three seeds (section 4.1), with three
# differences that this notebook needs for teaching: no warm-up in `quick` (the benchmark warms up
# over 10 % of the steps), evaluations during training, and the best checkpoint kept at the end. So
# this notebook's figures are one more run of a close recipe, not one of the benchmark's seeds.

# %%
import course_utils as cu

env = cu.setup(seed=0)  # first: it also quiets the libraries imported below

import json
import math
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path

import datasets
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from transformers import (
    AutoModel,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DataCollatorWithPadding,
    EarlyStoppingCallback,
    EvalPrediction,
    PrinterCallback,
    ProgressCallback,
    Trainer,
    TrainerCallback,
    TrainingArguments,
    get_linear_schedule_with_warmup,
    pipeline,
)
from transformers.utils.notebook import NotebookProgressCallback

from course_utils import metrics, plots
from course_utils.embeddings import mean_pool
from course_utils.scripts import train_emotion

datasets.disable_progress_bars()  # the maps here take a second each
datasets.disable_caching()  # some maps below run a model: recompute them on every run
warnings.filterwarnings("ignore", message=".*pin_memory.*")  # Trainer asks for pinned memory even on a CPU
SCRATCH = Path("_scratch/05_fine_tuning")  # everything this notebook writes (gitignored)
shutil.rmtree(SCRATCH, ignore_errors=True)

checkpoint = cu.resolve_checkpoint(cu.ENCODER)
SCALE = cu.quick_scale(checkpoint)  # 1.0 for the stand-in; smaller for a checkpoint that computes more per token
N_TRAIN = cu.by_profile(quick=round(5_000 * SCALE), full=16_000)  # training examples for fine-tuning
EPOCHS = cu.by_profile(quick=1, full=4)
BATCH = cu.by_profile(quick=8, full=32)
LR = cu.by_profile(quick=1e-4, full=1e-4)  # the pretrained body
HEAD_LR = cu.by_profile(quick=1e-3, full=1e-4)  # the new head (section 3.3)
WARMUP = cu.by_profile(quick=0, full=0.1)  # fraction of the steps over which the rate rises from 0
FREEZE_EMBEDDINGS = cu.by_profile(quick=True, full=False)  # section 3.2
MAX_LENGTH = cu.by_profile(quick=64, full=128)  # emotion: 95 % of texts are under 45 tokens
PRECISION = train_emotion.mixed_precision("auto", env.device)  # bf16 where the hardware computes it fast
N_FEATURES = cu.by_profile(quick=round(800 * SCALE), full=16_000)  # training texts for the feature baseline
N_EVAL_DURING = cu.by_profile(quick=round(300 * SCALE), full=2_000)  # validation examples checked while training
N_SCORE = cu.by_profile(quick=round(2_000 * SCALE), full=2_000)  # validation and test texts every model is scored on
print(f"quick scale {SCALE}: {N_TRAIN:,} training texts, {N_FEATURES:,} for the feature baseline, "
      f"{N_SCORE:,} validation and {N_SCORE:,} test texts" if cu.get_profile() == "quick" else "full profile: every text")
print("mixed precision:", PRECISION or "none (float32)")

# %% [markdown]
# ## 1 · The data, tokenized once
# Notebook 04 explored emotion: six classes, imbalanced (joy and sadness make up nearly two
# thirds), short texts (22 tokens on average). Here we keep the training texts this profile uses
# (a shuffled subset in the quick profile), the validation set (to compare and choose) and the
# test set (scored once, at the end, for every model), and tokenize them once with a batched `map`.
# We **truncate but do not pad**: padding happens per batch later (*dynamic padding*), so a batch of
# short texts stays short. Padding the whole dataset at once, as the book does
# (`padding=True, batch_size=None`), pads every text to the longest of all 16,000.

# %% tags=["nbval-check-output"]
tokenizer = AutoTokenizer.from_pretrained(checkpoint)
emotion = cu.load_emotion()
labels = emotion["train"].features["label"].names


def tokenize(batch):
    return tokenizer(batch["text"], truncation=True, max_length=MAX_LENGTH)


subset = datasets.DatasetDict(train=emotion["train"].shuffle(seed=0).select(range(N_TRAIN)),
                              validation=emotion["validation"].select(range(N_SCORE)),
                              test=emotion["test"].select(range(N_SCORE)))
emotion_encoded = subset.map(tokenize, batched=True)
print(emotion_encoded)
print(labels)
print(emotion_encoded["train"][0]["input_ids"])

# %% [markdown]
# ## 2 · Baselines: what any model must beat
# ### 2.1 The most frequent class
# scikit-learn's `DummyClassifier(strategy="most_frequent")` ignores the text and always answers
# the class that is most common in the training labels (joy). Its accuracy is that class's share
# of the validation (and test) set: the floor for everything that follows. `results` collects
# every model's (accuracy, weighted F1) on both splits.

# %%
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score


def scores(y_true, y_pred):
    return accuracy_score(y_true, y_pred), f1_score(y_true, y_pred, average="weighted")


y_train_all = np.array(emotion["train"]["label"])
dummy = DummyClassifier(strategy="most_frequent").fit(np.zeros((len(y_train_all), 1)), y_train_all)
results = {"dummy (most frequent)": {}}
for split in ("validation", "test"):
    y = np.array(emotion[split]["label"])
    results["dummy (most frequent)"][split] = scores(y, dummy.predict(np.zeros((len(y), 1))))
    print(f"{split}: always '{labels[dummy.predict(np.zeros((1, 1)))[0]]}': accuracy "
          f"{results['dummy (most frequent)'][split][0]:.4f}, weighted F1 {results['dummy (most frequent)'][split][1]:.4f}")

# %% [markdown]
# ### 2.2 Frozen features + logistic regression
# The encoder without a head (`AutoModel`) turns each text into one vector per token
# (`last_hidden_state`, shape batch × tokens × hidden size: 768 for DistilBERT, 384 for the offline
# stand-in). Two ways to get **one** vector per text:
# the vector of the first token, `[CLS]` (what the book uses), or the **mean** of the token vectors
# where `attention_mask` is 1 (what the offline stand-in, a sentence-embedding model, was trained
# for). Here we use the course's `mean_pool`; you write mean pooling yourself in exercise 10.1 of
# [notebook 10](10_embeddings_reranking.ipynb). We compute both in one batched `map` under
# `torch.inference_mode()` (no gradients, no autograd bookkeeping) and fit a logistic regression
# on each, leaving the encoder untouched.

# %%
encoder = AutoModel.from_pretrained(checkpoint).to(env.device).eval()


def extract_features(batch):
    inputs = tokenizer.pad({k: batch[k] for k in tokenizer.model_input_names}, return_tensors="pt").to(env.device)
    with torch.inference_mode():
        hidden = encoder(**inputs).last_hidden_state
    return {"cls": hidden[:, 0].cpu().numpy(), "mean": mean_pool(hidden, inputs["attention_mask"]).cpu().numpy()}


# %% [markdown]
# Padding must not change a text's mean-pooled vector: the mask removes the padded positions.
# Check it on one text alone and inside a padded batch with a much longer text:

# %%
texts = ["i feel calm", "i have been waiting for this course my whole life and i feel so happy about it"]
alone = tokenizer(texts[:1], return_tensors="pt").to(env.device)
batch = tokenizer(texts, padding=True, return_tensors="pt").to(env.device)
with torch.inference_mode():
    v_alone = mean_pool(encoder(**alone).last_hidden_state, alone["attention_mask"])[0]
    v_batch = mean_pool(encoder(**batch).last_hidden_state, batch["attention_mask"])[0]
print("padded positions in the batch:", int((batch["attention_mask"][0] == 0).sum()))
print(f"max |difference|: {(v_alone - v_batch).abs().max().item():.1e}")
torch.testing.assert_close(v_alone, v_batch, atol=1e-5, rtol=1e-4)

# %% [markdown]
# Now the features. Sorting by length first means each batch of 64 holds texts of similar length
# and is barely padded (the `map` result keeps the sorted order, labels included). The quick
# profile fits the logistic regression on 800 training texts with the stand-in (a forward pass
# costs a few ms per text on two CPU cores), the full profile on all 16,000; both score it on the
# validation and test texts of the setup cell.

# %%
feature_columns = ["input_ids", "attention_mask", "label"] + (["token_type_ids"] if "token_type_ids" in tokenizer.model_input_names else [])


def sort_by_length(ds):
    return ds.select(np.argsort([len(ids) for ids in ds["input_ids"]], kind="stable"))


def features_of(split, n):
    ds = sort_by_length(emotion_encoded[split].select(range(n)))
    return ds.select_columns(feature_columns).map(extract_features, batched=True, batch_size=64)


start = time.perf_counter()
feat_train = features_of("train", N_FEATURES)
feat_val, feat_test = features_of("validation", N_SCORE), features_of("test", N_SCORE)
print(f"features of {feat_train.num_rows} + {feat_val.num_rows} + {feat_test.num_rows} texts in {time.perf_counter() - start:.1f} s")
lr_pred = {}
for pooling in ("cls", "mean"):
    clf = LogisticRegression(max_iter=2_000).fit(np.array(feat_train[pooling]), np.array(feat_train["label"]))
    lr_pred[pooling] = clf.predict(np.array(feat_val[pooling]))  # kept for the confusion matrix of section 5
    name = f"frozen features ({pooling}) + LR"
    results[name] = {"validation": scores(feat_val["label"], lr_pred[pooling]),
                     "test": scores(feat_test["label"], clf.predict(np.array(feat_test[pooling])))}
    print(f"{pooling:>4} pooling + logistic regression: validation accuracy {results[name]['validation'][0]:.4f}, "
          f"test accuracy {results[name]['test'][0]:.4f}")

# %% [markdown]
# A picture of the features helps to see why a linear model struggles. As the book does, we
# project the mean-pooled vectors of the training texts to two dimensions (the book uses UMAP, used
# here when the `umap-learn` package is installed; otherwise PCA, the two directions of largest
# variance) and draw one panel per class: a hexagonal histogram of where that class's texts land,
# on the same axes for every class.

# %%
X = np.array(feat_train["mean"])
y_feat = np.array(feat_train["label"])
try:
    import umap  # optional: pip install umap-learn

    X2, method = umap.UMAP(n_components=2, random_state=0).fit_transform(X), "UMAP"
except ImportError:
    from sklearn.decomposition import PCA

    X2, method = PCA(n_components=2, random_state=0).fit_transform(X), "PCA"
import matplotlib.pyplot as plt

extent = (X2[:, 0].min(), X2[:, 0].max(), X2[:, 1].min(), X2[:, 1].max())
fig, axes = plt.subplots(2, 3, figsize=(7.6, 4.6), sharex=True, sharey=True, layout="constrained")
cells = [ax.hexbin(X2[y_feat == i, 0], X2[y_feat == i, 1], gridsize=16, extent=extent, cmap="Blues", mincnt=1)
         for i, ax in enumerate(axes.flat)]
most = max(c.get_array().max() for c in cells)
for i, (ax, c, name) in enumerate(zip(axes.flat, cells, labels)):
    c.set_clim(0, most)  # one colour scale for the six panels, from 0 texts
    ax.set_title(f"{name} ({(y_feat == i).sum()} texts)", fontsize=9)
    ax.set_xticks([]), ax.set_yticks([])
fig.colorbar(cells[0], ax=axes, shrink=0.8, label="texts per hexagon")
fig.supxlabel(f"{method} component 1 (no unit)", fontsize=9)
fig.supylabel(f"{method} component 2 (no unit)", fontsize=9)
fig.suptitle(f"frozen mean-pooled features of {len(y_feat)} training texts, {method} to 2-D", fontsize=10)
plt.show()

# %% [markdown]
# Every emotion lands in the same region, its densest cells near the middle of the picture: the
# panels differ more in how far they spread (sadness and joy reach furthest) than in where they
# sit. (On the shared colour scale sadness and joy are also the darkest: they have the most
# texts.) These features were trained to say which sentences mean the same thing, not which feeling
# they express, so a linear classifier on top separates the emotions poorly (section 5.1 shows its
# confusions); fine-tuning changes the features themselves.

# ## 3 · Fine-tuning with `Trainer`
# ### 3.1 A model with a classification head
# `AutoModelForSequenceClassification` is the encoder plus a head that maps the text's vector to one
# score (logit) per class. The head is **new**: `from_pretrained` creates it with random weights
# and lists it as missing from the checkpoint (transformers' load report, which `cu.setup` quiets;
# `output_loading_info=True` returns the same list, printed below). `id2label` and
# `label2id` store the class names in the model's config, so a pipeline prints `joy`, not `LABEL_1`.

# %% tags=["nbval-check-output"]
def new_classifier():
    cu.seed_everything(0)  # the new head's random start is reproducible
    return AutoModelForSequenceClassification.from_pretrained(
        checkpoint, num_labels=len(labels), id2label=dict(enumerate(labels)),
        label2id={name: i for i, name in enumerate(labels)}, output_loading_info=True)


model, loading_info = new_classifier()
print("new (randomly initialised) weights:", sorted(loading_info["missing_keys"]))
print(type(model).__name__, "| base model attribute:", model.base_model_prefix)
print(model.config.id2label)

# %% [markdown]
# Offline, the stand-in is a BERT-style model: its head is `classifier` on top of BERT's *pooler* (a
# dense layer with tanh on the `[CLS]` vector). Online, `distilbert-base-uncased` adds two new
# layers instead, `pre_classifier` and `classifier` (the book's model). The stand-in's pooler
# is in the checkpoint but was never trained (its bias is all zeros), so it is effectively new too:

# %% tags=["nbval-check-output"]
pooler = getattr(model.base_model, "pooler", None)
if pooler is not None:
    print("pooler bias all zero:", bool((pooler.dense.bias == 0).all()))
else:
    print("no pooler in this architecture")

# %% [markdown]
# ### 3.2 Which weights train
# Fine-tuning updates every weight by default. In the quick profile we freeze one matrix, the word
# embeddings (30,522 × 384 for the stand-in, about half of its parameters; the count below comes
# from the loaded model): setting `requires_grad` to False means no gradient and no optimizer
# update for it, so each step does less work, and on 5,000 texts the pretrained word vectors have
# little to gain. The full profile trains everything.

# %% tags=["nbval-check-output"]
if FREEZE_EMBEDDINGS:
    model.get_input_embeddings().weight.requires_grad_(False)
total = sum(p.numel() for p in model.parameters())
trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
print(f"parameters: {total:,} | trainable: {trainable:,} ({trainable / total:.0%})")

# %% [markdown]
# ### 3.3 A larger learning rate for the new head
# The body starts from good pretrained weights and needs small steps; the head starts from random
# weights and needs big ones. An optimizer takes **parameter groups**, each with its own learning
# rate. We give the head (and the untrained pooler) ten times the body's rate in the quick profile:
# on a small budget it is what lets the new layers catch up (section 4.1 shows the recipes'
# measurements). The full profile keeps the usual single rate (`HEAD_LR == LR`).
#
# Which parameters are the head? Everything outside the base model (`classifier.*`, and
# `pre_classifier.*` for DistilBERT), plus the pooler. By hand, then checked against the function
# the training script uses, `train_emotion.is_head_parameter`:

# %% tags=["nbval-check-output"]
def is_head(name):
    return not name.startswith(model.base_model_prefix + ".") or ".pooler." in name


param_names = [n for n, _ in model.named_parameters()]
print("head:", [n for n in param_names if is_head(n)])
assert [is_head(n) for n in param_names] == [train_emotion.is_head_parameter(n, model.base_model_prefix) for n in param_names]

# %% [markdown]
# `train_emotion.parameter_groups` builds the two groups from the same test (trainable parameters
# only, so the frozen embeddings stay out). AdamW's `fused=True` updates all tensors in one kernel
# instead of one small update per tensor (fewer calls; not timed here):

# %% tags=["nbval-check-output"]
def make_optimizer(model, lr=LR, head_lr=HEAD_LR, weight_decay=0.01):
    groups = train_emotion.parameter_groups(model, lr, head_lr)
    return torch.optim.AdamW(groups, weight_decay=weight_decay, fused=env.device in ("cpu", "cuda"))


optimizer = make_optimizer(model)
print("learning rates:", [g["lr"] for g in optimizer.param_groups],
      "| tensors per group:", [len(g["params"]) for g in optimizer.param_groups])

# %% [markdown]
# ### 3.4 `compute_metrics`
# During evaluation `Trainer` collects the logits and labels of the whole evaluation set, wraps them
# in an `EvalPrediction` (`.predictions`, the logits; `.label_ids`, the labels) and passes it to
# your `compute_metrics`, which returns a dict of numbers. We report accuracy and **weighted F1**
# (per-class F1 averaged with each class's share as weight: with imbalanced classes it shows whether
# the rare ones are learned). The metrics come from 🤗 Evaluate: `load` a metric, then `compute` it
# on predictions and references. `evaluate.load("accuracy")` downloads the metric's script from the
# Hub, so the course ships the two scripts and `metrics.load` hands their paths to `evaluate.load`
# (it works offline). `metrics.classification_metrics`, which the training script of section 9
# uses, is this function packaged; scikit-learn, which both scripts call, must agree with them:

# %% tags=["nbval-check-output", "same-online"]
accuracy_metric, f1_metric = metrics.load("accuracy"), metrics.load("f1")


def compute_metrics(pred: EvalPrediction) -> dict:
    predicted = pred.predictions.argmax(axis=-1)
    accuracy = accuracy_metric.compute(predictions=predicted, references=pred.label_ids)
    f1 = f1_metric.compute(predictions=predicted, references=pred.label_ids, average="weighted")
    return {**accuracy, **f1}


rng = np.random.default_rng(0)
fake = EvalPrediction(predictions=rng.normal(size=(50, 6)), label_ids=rng.integers(0, 6, size=50))
ours = compute_metrics(fake)
y_hat = fake.predictions.argmax(-1)
assert ours == metrics.classification_metrics(fake)
assert ours == {"accuracy": accuracy_score(fake.label_ids, y_hat), "f1": f1_score(fake.label_ids, y_hat, average="weighted")}
print({k: round(v, 4) for k, v in ours.items()})

# %% [markdown]
# ### 3.5 `TrainingArguments`: every argument
# | argument | value here | what it does |
# |---|---|---|
# | `output_dir` | `_scratch/...` | where checkpoints (and, with `push_to_hub`, the local clone) go |
# | `num_train_epochs` | 1 quick, 4 full | passes over the training set |
# | `learning_rate` | see 3.3 | peak rate of AdamW; the default schedule decays it linearly to 0 |
# | `weight_decay` | 0.01 | AdamW's decoupled weight decay (Trainer skips biases and LayerNorm; our own optimizer above applies it to all) |
# | `per_device_train_batch_size` | 8 quick, 32 full | examples per step **on each device**: with 4 GPUs the step sees 4 × 8 |
# | `per_device_eval_batch_size` | 64 | the same for evaluation (no gradients, so it can be larger) |
# | `gradient_accumulation_steps` | 1 (the appendix: 2) | add the gradients of N batches before one optimizer step: N times the batch for the memory of one; `logging_steps`, `eval_steps`, `save_steps` and `max_steps` count optimizer steps |
# | `warmup_steps` | 0 quick, 0.1 full | raise the rate linearly from 0 over this many steps; a float below 1 is a fraction of all steps (it replaced `warmup_ratio`) |
# | `max_grad_norm` | 1.0 (default) | clip the norm of all gradients together before each step; 0 switches clipping off |
# | `fp16`, `bf16` | `PRECISION` (setup) | mixed precision. `fp16` needs a GPU (CUDA, ...; it adds a loss scaler) and does nothing on a CPU (section 7.3); `bf16` needs an Ampere or newer GPU, or `use_cpu=True` on a CPU, where it pays only with bfloat16 hardware (AVX512-BF16 or AMX). `train_emotion.mixed_precision("auto")` picks for the machine |
# | `dataloader_drop_last` | False | drop the last, incomplete batch of each epoch: every step sees the same number of examples |
# | `eval_strategy` | `"steps"` | when to evaluate: `"no"`, `"steps"` (every `eval_steps`) or `"epoch"`; it was called `evaluation_strategy` until transformers 4.46 |
# | `logging_steps` | `eval_steps` / 5 | how often, in optimizer steps, the training loss is logged (section 7.2); `logging_strategy="epoch"` logs once per epoch |
# | `log_level` | `"error"` | Trainer's own console messages |
# | `disable_tqdm` | False | the progress bar (a live table in Jupyter) |
# | `push_to_hub` | False | True uploads checkpoints to the Hub (below) |
# | `train_sampling_strategy` | `"group_by_length"` | batches of texts of similar length: little padding (was `group_by_length=True`); the default `"random"` shuffles plainly |
# | `save_strategy`, `save_steps`, `save_total_limit` | every evaluation, keep 1 | checkpoints (section 6) |
# | `load_best_model_at_end`, `metric_for_best_model` | True, `"accuracy"` | reload the best checkpoint when training ends |
# | `report_to` | `"none"` | no experiment trackers (TensorBoard, W&B...); "none" is the default in transformers 5 |
#
# On several GPUs in one process, `Trainer` replicates the model on each (`DataParallel`), and the
# slowest device sets the pace; launched with `torchrun` it uses `DistributedDataParallel`
# instead (notebook 09). **Pushing to the Hub:** run `hf auth login` once, then pass
# `push_to_hub=True, hub_model_id="your-name/minilm-emotion"` (or call `trainer.push_to_hub()`
# after training: section 10 has a cell for it). It stays off here: the course runs offline and never
# asks for credentials.

# %%
steps = math.ceil(N_TRAIN / BATCH) * EPOCHS
every = math.ceil(steps / 3)  # three evaluations and checkpoints, the last one at the end
args = TrainingArguments(
    output_dir=str(SCRATCH / "trainer"),
    num_train_epochs=EPOCHS, learning_rate=LR, weight_decay=0.01,
    per_device_train_batch_size=BATCH, per_device_eval_batch_size=64,
    warmup_steps=WARMUP, train_sampling_strategy="group_by_length", **PRECISION,
    eval_strategy="steps", eval_steps=every, logging_steps=max(1, every // 5),
    save_strategy="steps", save_steps=every, save_total_limit=1,
    load_best_model_at_end=True, metric_for_best_model="accuracy",
    log_level="error", disable_tqdm=False, report_to="none", push_to_hub=False, seed=0,
)
print(f"{steps} steps of {BATCH} examples; evaluation and checkpoint every {every} steps")

# %% [markdown]
# How many examples one optimizer step sees is `per_device_train_batch_size` ×
# `gradient_accumulation_steps` × the number of processes (`world_size`, 1 without `torchrun`).
# `args.train_batch_size` is only the first factor times the GPUs of *this* process (for
# `DataParallel`); accumulation is not in it. A common reading takes `train_batch_size` for the
# examples of one step. In fact those are the product of all three; for a command line with
# `--per_device_train_batch_size 8 --gradient_accumulation_steps 4` (one process here, so
# `world_size` is 1):

# %% tags=["nbval-check-output"]
cli_args = TrainingArguments(output_dir=str(SCRATCH / "accumulate"), per_device_train_batch_size=8,
                             gradient_accumulation_steps=4, warmup_steps=0.1, report_to="none")
global_batch = cli_args.per_device_train_batch_size * cli_args.gradient_accumulation_steps * cli_args.world_size
print(f"train_batch_size {cli_args.train_batch_size} | world_size {cli_args.world_size} | "
      f"examples per optimizer step {global_batch}")
print("warm-up steps of a 1,000-step run with warmup_steps=0.1:", cli_args.get_warmup_steps(1_000))
assert global_batch == 32 and cli_args.get_warmup_steps(1_000) == 100

# %% [markdown]
# ### 3.6 Callbacks and early stopping
# A `TrainerCallback` is called at fixed points of the loop (`on_train_begin`, `on_log`,
# `on_evaluate`, `on_save`...) with the arguments, the `TrainerState` (step, epoch, `log_history`)
# and a `TrainerControl` whose flags it may set (`should_training_stop`, `should_save`...); it
# observes or steers the loop but cannot change how a step is computed (section 7 subclasses
# `Trainer` for that). Ours records how many
# seconds of training each evaluation arrived after: accuracy per second is what you pay for on a
# CPU. `EarlyStoppingCallback` stops when `metric_for_best_model` has not improved for
# `early_stopping_patience` evaluations; it needs `load_best_model_at_end=True`.

# %%
class EvalClock(TrainerCallback):
    """Record (step, seconds since training began, validation accuracy) at each evaluation during training."""

    def on_train_begin(self, args, state, control, **kwargs):
        self.start, self.rows, self.training = time.perf_counter(), [], True

    def on_train_end(self, args, state, control, **kwargs):
        self.training = False  # later trainer.evaluate() calls are not part of the record

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if self.training:
            self.rows.append({"step": state.global_step, "seconds": round(time.perf_counter() - self.start, 1),
                              "accuracy": round(metrics["eval_accuracy"], 4)})


clock = EvalClock()
trainer = Trainer(
    model=model, args=args,
    train_dataset=emotion_encoded["train"],
    eval_dataset=emotion_encoded["validation"].shuffle(seed=0).select(range(N_EVAL_DURING)),
    processing_class=tokenizer,  # was `tokenizer=`; saved with every checkpoint
    data_collator=DataCollatorWithPadding(tokenizer),  # dynamic padding (also the default here)
    compute_metrics=compute_metrics,
    optimizers=(optimizer, None),  # our parameter groups; None: Trainer makes the linear schedule
    callbacks=[clock, EarlyStoppingCallback(early_stopping_patience=3)],
)

# %% [markdown]
# ### 3.7 Train
# The table below is `Trainer`'s progress display in Jupyter: training loss, validation loss and
# our metrics at every evaluation (on 300 validation texts in the quick profile with the stand-in, to save time).
# Under it, our callback's record: what each extra second of training bought.

# %%
train_output = trainer.train()
print(train_output)
print(pd.DataFrame(clock.rows).to_string(index=False))

# %% [markdown]
# `train()` returns a `TrainOutput`, a **named tuple** (not a dict) of three fields:

# %% tags=["nbval-check-output", "same-online"]
print(type(train_output).__name__, train_output._fields, isinstance(train_output, tuple))
print(sorted(train_output.metrics))

# %% [markdown]
# ## 4 · `evaluate()`, `predict()` and the metrics
# Before evaluating, one trap: with `group_by_length`, `Trainer` also groups the *evaluation* set
# by length, in a shuffled order. Metrics do not care, but predictions would no longer line up
# with the rows of the dataset. We switch back to the default sampling (evaluation in dataset
# order) and, to keep evaluation fast, sort the validation set by length ourselves: neighbouring
# texts then have similar lengths and batches need little padding.
#
# We also remove `Trainer`'s progress display (`remove_callback`). It is made for training: after
# `train()`, each `evaluate()` or `predict()` would leave a finished one-step bar and a one-row
# table of metrics under a "Training Loss" heading. These calls take seconds, and the cells below
# print what they return.

# %%
trainer.args.train_sampling_strategy = "random"  # evaluation and prediction now go in order
for progress in (NotebookProgressCallback, ProgressCallback):  # Jupyter's live table, or tqdm's bar in a terminal
    trainer.remove_callback(progress)
val_sorted = sort_by_length(emotion_encoded["validation"])
y_sorted = np.array(val_sorted["label"])

# %% [markdown]
# `evaluate()` runs the evaluation loop on `eval_dataset` (or the dataset you pass, here every 40th
# validation text) and returns a plain `dict`: the loss and every key of `compute_metrics`, each
# with the prefix `eval_`.

# %%
eval_metrics = trainer.evaluate(val_sorted.select(range(0, len(val_sorted), 40)))

# %% tags=["nbval-check-output", "same-online"]
print(type(eval_metrics).__name__, sorted(eval_metrics))

# %% [markdown]
# `predict()` runs the same loop on any dataset and returns a `PredictionOutput`, a named tuple of
# `predictions` (the logits), `label_ids` (if the dataset has labels) and `metrics` (the same
# dict with the prefix `test_` by default, plus timings). A common reading is that
# `PredictionOutput` is what `compute_metrics` received, an `EvalPrediction`, plus what it
# returned (and the loss and timings). That is right in spirit, with one correction:
# `EvalPrediction` is a small class, not a named tuple; it unpacks like one.

# %%
pred = trainer.predict(val_sorted)

# %% tags=["nbval-check-output"]
print(type(pred).__name__, pred._fields, pred.predictions.shape)
print("label_ids in dataset order:", np.array_equal(pred.label_ids, y_sorted))
print(sorted(pred.metrics))
again = compute_metrics(EvalPrediction(predictions=pred.predictions, label_ids=pred.label_ids))
print("compute_metrics(EvalPrediction(...)) == predict().metrics:",
      all(math.isclose(v, pred.metrics[f"test_{k}"]) for k, v in again.items()))

# %% [markdown]
# The numbers of this run next to the book's (distilbert-base-uncased fine-tuned on all 16,000
# texts for two epochs on a GPU). In the quick profile ours saw 5,000 texts once, offline with the
# 6-layer 384-wide stand-in; the next section shows what each recipe reaches over three seeds.

# %%
fine_tuned = f"fine-tuned ({N_TRAIN:,} texts, {EPOCHS} epoch{'s' if EPOCHS > 1 else ''})"
test_pred = trainer.predict(sort_by_length(emotion_encoded["test"]))
results[fine_tuned] = {"validation": (pred.metrics["test_accuracy"], pred.metrics["test_f1"]),  # predict() says "test_"
                       "test": (test_pred.metrics["test_accuracy"], test_pred.metrics["test_f1"])}
book = {"dummy (most frequent)": (0.352, None), "frozen features (cls) + LR": (0.6085, None),
        fine_tuned: (0.9225, 0.9226)}  # the book reports the validation set
table = pd.DataFrame([{"model": name, "val. accuracy": r["validation"][0], "val. F1": r["validation"][1],
                       "test accuracy": r["test"][0], "test F1": r["test"][1],
                       "book val. accuracy": book.get(name, (None, None))[0], "book val. F1": book.get(name, (None, None))[1]}
                      for name, r in results.items()])
print(table.to_string(index=False, float_format="{:.4f}".format, na_rep="-"))

# %% [markdown]
# ### 4.1 Recipes on a CPU: the course's and the book's, over three seeds
# One run is one seed: the same recipe with another seed moves validation accuracy by about a
# point. `benchmarks/emotion_finetune.py` therefore trains each recipe with three seeds and
# records every one, at two **time budgets** of the course's 2-core CPU: 45 s of training (quick)
# and 8 minutes (full). The book's recipe (batch 64, learning rate 2e-5, weight decay 0.01, two
# epochs, every text padded to the longest of the dataset, float32) runs on the same stand-in and
# machine, and is stopped when the budget is spent. Training it takes about an hour, so this cell
# reads the recorded results. The course package ships them (`course_utils.recorded`, copies of
# `benchmarks/results/emotion_finetune_<profile>_cpu.json`), so they are there in Colab too; the
# output names the run:

# %%
from course_utils import recorded


def spread(stats):
    """mean (min-max) over the seeds."""
    return f"{stats['mean']:.3f} ({stats['min']:.3f}-{stats['max']:.3f})"


rows = []
for profile in ("quick", "full"):
    record = recorded.load(f"emotion_finetune_{profile}_cpu")
    print(f"{profile}: run of {record['date'][:10]} on {record['machine']['cpu']}, "
          f"{record['machine']['torch_threads']} threads, torch {record['machine']['torch']}")
    for recipe, data in record["recipes"].items():
        m = data["summary"]
        rows.append({"budget": f"{profile} ({record['budget_seconds']} s)", "recipe": recipe,
                     "steps": int(m["steps"]["mean"]), "epochs": m["epochs_done"]["mean"],
                     "s/step": m["seconds_per_step"]["mean"], "validation acc": spread(m["validation_accuracy"]),
                     "validation F1": spread(m["validation_f1"]), "test acc": spread(m["test_accuracy"]),
                     "test F1": spread(m["test_f1"])})
print(pd.DataFrame(rows).to_string(index=False))

# %% [markdown]
# What each choice buys on a CPU (figures from the run named above; the step-time probes and the
# one-seed screens that chose the course's recipe are in `benchmarks/results/emotion_sweep_cpu.md`):
# - **Padding every text to the dataset's longest** (the book's `padding=True, batch_size=None`:
#   87 tokens, where the average text has 22) makes the book's step of 64 texts cost
#   3.3 s, about 20 texts per second; the course's quick recipe, padded per
#   batch, handles about 119. Within 45 s the book's recipe gets through 14 to 15 steps, 6 % of
#   one epoch, and does worse than always answering joy (0.231 against 0.352); within 8 minutes it
#   reaches 0.581 after 0.55 of its two epochs.
# - **Length grouping** with per-batch padding cuts a step by more than a third again: 0.25 s
#   instead of 0.40 s for a bf16 step of 32 texts with plain shuffling (probes).
# - **bf16 autocast** where the CPU has bfloat16 units (this one does; `mixed_precision("auto")`
#   checks, and stays in float32 elsewhere): 0.25 s instead of 0.46 s per length-grouped step.
# - **Many small, cheap steps and a fast head when time is short** (quick): 625 steps of 8 texts,
#   frozen word embeddings and the head at 10 times the body's rate reach 0.902
#   validation and 0.899 test accuracy in 42 s of training.
# - **More epochs at a higher rate when there is time** (full): the same choices, now 2,000 steps
#   of 32 texts (four epochs) at 1e-4 with 10 % warm-up, reach 0.934 validation and 0.929 test accuracy
#   in 393 s, above the book's GPU DistilBERT (0.9225 on validation) with a model a
#   third of its size. Two epochs at 5e-5 had reached 0.9225 / 0.9135 in the screen (seed 0).
#
# None of these choices changes the model: each makes a step cheaper or makes each step count for
# more, which is what a CPU needs.

# %% [markdown]
# ## 5 · Error analysis
# ### 5.1 The confusion matrix
# Entry (i, j) counts the texts of true class i predicted as j. By hand it is one `np.add.at` (add 1
# at each (true, predicted) pair); dividing each row by its sum gives the share of class i that
# went to each column, so the diagonal is the recall of each class. Checked against scikit-learn:

# %% tags=["nbval-check-output"]
val_pred = pred.predictions.argmax(axis=-1)
cm_counts = np.zeros((len(labels), len(labels)), dtype=int)
np.add.at(cm_counts, (pred.label_ids, val_pred), 1)
by_hand = cm_counts / cm_counts.sum(axis=1, keepdims=True)
from sklearn.metrics import confusion_matrix

difference = np.abs(by_hand - confusion_matrix(pred.label_ids, val_pred, normalize="true")).max()
print("texts per true class:", dict(zip(labels, cm_counts.sum(axis=1).tolist())), "| max |difference|:", difference)
assert difference < 1e-12

# %% [markdown]
# The same matrix drawn for the logistic regression on frozen mean-pooled features (section 2.2)
# and for the fine-tuned model, on the same validation texts in the same order:

# %%
assert np.array_equal(np.array(feat_val["label"]), pred.label_ids)  # both sorted by length the same way
fig, axes = plt.subplots(1, 2, figsize=(10, 4.6))
plots.plot_confusion_matrix(pred.label_ids, lr_pred["mean"], labels, ax=axes[0],
                            title="frozen features + logistic regression")
plots.plot_confusion_matrix(pred.label_ids, val_pred, labels, ax=axes[1], title="fine-tuned")
fig.suptitle(f"each row: how the texts of one true class were predicted (shares summing to 1), "
             f"{len(val_pred):,} validation texts", fontsize=10)
fig.tight_layout()

# %% [markdown]
# In the stored quick run, the linear model on frozen features (left) sends almost half of love to
# joy and spreads surprise, anger and fear over sadness and joy. Fine-tuning (right) removes most of
# that; what remains are confusions between related feelings: love taken for joy, surprise for
# fear, anger and fear for sadness. These classes share words ("i feel ... about him"), and the
# rare ones (love, surprise) have the fewest examples to learn from.
#
# ### 5.2 Per-example loss with `Dataset.map`
# The loss of each validation text tells us which ones the model gets most wrong, and those are
# often mislabelled. The book computes them with a function passed to `map`,
# `forward_pass_with_label`, in which five mistakes are easy to make: `model_input_name`
# (the attribute is `model_input_names`), `model(**input)` (the variable is `inputs`), a key typed
# two ways (`"predicated_label"`), no `model.eval()` (dropout stays on, so losses are noisy), and
# batches of unpadded rows, which cannot be stacked into a tensor (the book padded the whole dataset
# to avoid that). The version below pads each batch itself. To compare with `predict()` number
# for number, it runs in the precision `Trainer` used (bf16 autocast where `PRECISION` says so) on
# the same batches of 64 in the same order:

# %%
amp = torch.autocast(env.device, dtype=torch.bfloat16 if PRECISION.get("bf16") else torch.float16,
                     enabled=bool(PRECISION.get("bf16") or PRECISION.get("fp16")))  # the precision Trainer used


def forward_pass_with_label(batch):
    inputs = tokenizer.pad({k: batch[k] for k in tokenizer.model_input_names}, return_tensors="pt")
    inputs = {k: v.to(model.device) for k, v in inputs.items()}
    with torch.inference_mode(), amp:
        logits = model(**inputs).logits
    loss = F.cross_entropy(logits.float(), torch.tensor(batch["label"], device=model.device), reduction="none")
    return {"loss": loss.cpu().numpy(), "predicted_label": logits.argmax(dim=-1).cpu().numpy()}


model.eval()
val_loss = val_sorted.map(forward_pass_with_label, batched=True, batch_size=64)  # predict()'s batches, in its order
reference = F.cross_entropy(torch.tensor(pred.predictions).float(), torch.tensor(y_sorted), reduction="none")
map_loss = torch.tensor(np.array(val_loss["loss"]), dtype=torch.float32)
print(f"max |map loss - predict() loss|: {(map_loss - reference).abs().max().item():.1e}")
torch.testing.assert_close(map_loss, reference, atol=1e-4, rtol=1e-4)
assert np.array_equal(val_loss["predicted_label"], val_pred)

# %% [markdown]
# The highest losses: confident mistakes. Read the texts and judge the *labels*, not only the model.

# %%
frame = val_loss.select_columns(["text", "label", "predicted_label", "loss"]).to_pandas()
frame["label"] = frame["label"].map(dict(enumerate(labels)))
frame["predicted_label"] = frame["predicted_label"].map(dict(enumerate(labels)))
pd.set_option("display.max_colwidth", 80)
frame.sort_values("loss", ascending=False).head(8).round(2)

# %% [markdown]
# Several of these are defensible predictions with doubtful labels: emotion was labelled
# automatically from hashtags, so some texts carry a label their words do not support. Cleaning
# such examples (or at least knowing about them) often helps more than a bigger model. The lowest
# losses are the easy, confident and correct cases:

# %%
frame.sort_values("loss").head(5).round(4)

# %% [markdown]
# ## 6 · Curves, the clock and checkpoints
# `trainer.state.log_history` is the list of every dict `Trainer` logged: training loss entries,
# evaluation entries and a final summary. The training loss falls fast, and the validation loss
# follows it (no overfitting in one epoch).

# %%
history = pd.DataFrame(trainer.state.log_history)
train_log = history.dropna(subset=["loss"])
eval_log = history.dropna(subset=["eval_loss"]).iloc[:len(clock.rows)]  # during training (evaluate() came later)
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(train_log["step"], train_log["loss"], label="training loss (mean since the last log)")
ax.plot(eval_log["step"], eval_log["eval_loss"], "o-", label=f"validation loss ({N_EVAL_DURING} texts)")
ax.set(xlabel="optimizer step", ylabel="cross-entropy (nats)", title="trainer.state.log_history")
ax.grid(alpha=0.3), ax.legend()
fig.tight_layout()

# %% [markdown]
# Each checkpoint folder holds what is needed to resume training exactly where it stopped
# (`trainer.train(resume_from_checkpoint=True)`): the model (`config.json`, `model.safetensors`),
# the tokenizer, the optimizer and scheduler states, the random-number states, the
# `TrainerState` as JSON (log history, best metric) and the `TrainingArguments`. The `.pt`, `.pth`
# and `.bin` files are torch pickles: load them only from checkpoints you wrote yourself.

# %% tags=["nbval-check-output", "same-online"]
best = Path(trainer.state.best_model_checkpoint)
print(sorted(p.name for p in best.iterdir()))
state = json.loads((best / "trainer_state.json").read_text())
print(sorted(state)[:6], "...")

# %% [markdown]
# ## 7 · Customising `Trainer`
# ### 7.1 Changing the loss: subclass `Trainer`
# A callback observes and steers the loop; to change what a step *computes*, subclass `Trainer`
# and override one method. The loss comes from `compute_loss(self, model, inputs,
# return_outputs=False, num_items_in_batch=None)`, the signature in transformers 5 (`Trainer` passes
# `num_items_in_batch` by keyword, so an override written for older releases, without it, fails
# with a `TypeError`). Notebook 04 recommended **class weights** against the imbalance but never
# showed them: each class's loss is multiplied by N / (C · n_c) (scikit-learn's `"balanced"`), so the rare
# classes (love, surprise) weigh as much in total as the frequent ones. The weights come from the
# training labels only:

# %% tags=["nbval-check-output"]
from sklearn.utils.class_weight import compute_class_weight

y_train = np.array(emotion_encoded["train"]["label"])
counts = np.bincount(y_train, minlength=len(labels))
class_weights = torch.tensor(len(y_train) / (len(labels) * counts), dtype=torch.float32)
balanced = compute_class_weight("balanced", classes=np.arange(len(labels)), y=y_train)
np.testing.assert_allclose(class_weights.numpy(), balanced, rtol=1e-6)
print({name: f"{n} texts, weight {w:.2f}" for name, n, w in zip(labels, counts, class_weights.tolist())})

# %% [markdown]
# The subclass computes the weighted cross-entropy from the logits. `loss_is_scaled_for_ga = False`
# tells `Trainer` that this loss is a mean over one batch, so that it divides it by
# `gradient_accumulation_steps` (the appendix shows why that line matters).

# %%
class WeightedLossTrainer(Trainer):
    """Trainer with a class-weighted cross-entropy."""

    loss_is_scaled_for_ga = False  # our loss is a per-batch mean: let Trainer divide it for gradient accumulation

    def __init__(self, *args, class_weights, **kwargs):
        super().__init__(*args, **kwargs)
        self.class_weights = class_weights

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels = inputs["labels"]
        outputs = model(**{k: v for k, v in inputs.items() if k != "labels"})
        loss = F.cross_entropy(outputs.logits, labels, weight=self.class_weights.to(outputs.logits.device))
        return (loss, outputs) if return_outputs else loss


# %% [markdown]
# The proof on one batch of a fresh model, in eval mode so that dropout is off: the subclass's loss
# is exactly `F.cross_entropy(logits, labels, weight=w)`, and not the model's own unweighted loss.
# Whether the weights pay off on emotion is an experiment for a full run: train with and without
# them and compare the per-class recall on the diagonal of section 5.1's matrix.

# %%
w_model, _ = new_classifier()
tiny_train = emotion_encoded["train"].select(range(64))
w_args = TrainingArguments(output_dir=str(SCRATCH / "weighted"), report_to="none")
w_trainer = WeightedLossTrainer(model=w_model, args=w_args, train_dataset=tiny_train,
                                processing_class=tokenizer, class_weights=class_weights)
one_batch = DataCollatorWithPadding(tokenizer)(list(tiny_train.remove_columns("text").select(range(8))))
one_batch = {k: v.to(w_model.device) for k, v in one_batch.items()}
w_model.eval()
with torch.inference_mode():
    ours = w_trainer.compute_loss(w_model, one_batch)
    logits = w_model(**{k: v for k, v in one_batch.items() if k != "labels"}).logits
    reference = F.cross_entropy(logits, one_batch["labels"], weight=class_weights.to(logits.device))
    unweighted = w_model(**one_batch).loss
print(f"subclass {ours.item():.4f} | F.cross_entropy(weight=w) {reference.item():.4f} | model's own loss {unweighted.item():.4f}")
torch.testing.assert_close(ours, reference)
assert not torch.isclose(ours, unweighted)

# %% [markdown]
# ### 7.2 Print the training loss every N steps
# A common reading of `Trainer`'s source is that it cannot log the training loss every 100
# batches, that metrics such as accuracy or recall need an overridden `evaluate()`, and that
# anything more needs a rewritten `train()`. None of it holds. `logging_steps=N` logs the mean
# training loss since the previous log (with `grad_norm` and `learning_rate`) every N **optimizer
# steps**: with `gradient_accumulation_steps=4`, that is every 4 × N batches. Each entry goes to
# `trainer.state.log_history` and to every callback's `on_log(args, state, control, logs=None,
# **kwargs)`, so a few lines print it as you like. Eight steps on 64 texts, logged every 2 steps,
# with a callback that prints each training-loss entry:

# %%
class PrintLoss(TrainerCallback):
    """Print the training loss each time Trainer logs it (every `logging_steps` optimizer steps)."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            print(f"step {state.global_step}: training loss {logs['loss']:.4f}")


log_model, _ = new_classifier()
log_args = TrainingArguments(output_dir=str(SCRATCH / "logging"), max_steps=8, per_device_train_batch_size=8,
                             logging_steps=2, save_strategy="no", report_to="none", disable_tqdm=True,
                             log_level="error", seed=0)
log_trainer = Trainer(model=log_model, args=log_args, train_dataset=tiny_train, processing_class=tokenizer,
                      callbacks=[PrintLoss()])
log_trainer.remove_callback(PrinterCallback)  # without a progress bar, Trainer would also print every log dict
log_trainer.train()
print("the same values in log_history:", [round(entry["loss"], 4) for entry in log_trainer.state.log_history if "loss" in entry])

# %% [markdown]
# The rest comes from the same arguments and hooks. `eval_strategy="steps", eval_steps=100`
# evaluates every 100 optimizer steps, and `compute_metrics` (3.4) adds any metric to every
# evaluation; your own scalars go through `self.log({...})` in a subclass (override
# `log(self, logs, start_time=None)` and add a key before calling `super().log`), and `on_log` sees
# them too, as `EvalClock` (3.6) sees every evaluation. All loggers read that one stream:
# `report_to="tensorboard"` (it needs `pip install tensorboard`; the course keeps `"none"`) writes
# every entry to `output_dir/runs/<date>_<host>` (or `$TENSORBOARD_LOGGING_DIR`), and
# `tensorboard --logdir <output_dir>/runs` plots them.
#
# ### 7.3 Mixed precision
# A common command line trains with `--fp16`. On a GPU that runs most operations in float16
# with a loss scaler; on a CPU, `fp16=True` is accepted and silently does nothing (accelerate
# switches autocast on for fp16 only on accelerators): the run stays float32. On a CPU the option is
# `bf16=True` with `use_cpu=True`, and it pays only on CPUs with bfloat16 instructions (section 4.1):

# %%
fp16_trainer = Trainer(model=w_model, args=TrainingArguments(output_dir=str(SCRATCH / "fp16"), fp16=True, report_to="none"))
print(f"fp16=True on {fp16_trainer.args.device.type}: mixed_precision={fp16_trainer.accelerator.mixed_precision!r}, "
      f"autocast {'on' if fp16_trainer.accelerator.native_amp else 'off'}, loss scaler {type(fp16_trainer.accelerator.scaler).__name__}")
if fp16_trainer.args.device.type == "cpu":
    assert not fp16_trainer.accelerator.native_amp and fp16_trainer.accelerator.scaler is None

# %% [markdown]
# ### 7.4 `Seq2SeqTrainer`
# Summarisers and translators are trained with `Seq2SeqTrainer` and `Seq2SeqTrainingArguments`.
# They are for encoder-decoder models (T5, BART, Marian: summaries, translation) and add one thing:
# with `predict_with_generate=True`, `evaluate()` and `predict()` call `model.generate()`
# (`generation_max_length`, `generation_num_beams`), so `compute_metrics` receives generated token
# ids to score with ROUGE or BLEU instead of teacher-forced logits. A common reading is that it
# overrides key steps of `training_step`. In fact it trains exactly as `Trainer` does and overrides
# only `evaluate`, `predict` and `prediction_step` (plus a helper that loads the generation
# config), as the next cell lists. A classifier needs plain `Trainer`.

# %% tags=["nbval-check-output", "same-online"]
import dataclasses

from transformers import Seq2SeqTrainer, Seq2SeqTrainingArguments

print(Seq2SeqTrainer.__bases__[0].__name__, sorted(m for m in vars(Seq2SeqTrainer) if not m.startswith("_")))
extra = sorted({f.name for f in dataclasses.fields(Seq2SeqTrainingArguments)} - {f.name for f in dataclasses.fields(TrainingArguments)})
print("Seq2SeqTrainingArguments adds:", extra)

# %% [markdown]
# ## 8 · The same training as a plain PyTorch loop
# The loop that `Trainer` runs, written out: batches from a `DataLoader` with the same
# dynamic-padding collator, forward, `loss.backward()`, gradient clipping, optimizer and scheduler
# steps, then an evaluation pass per epoch. Then `Trainer` trains a second copy on the same data
# with the same seed, so that the two can be compared number for number. In the quick profile both
# train on 160 texts (with the stand-in) for two epochs, enough to see the losses fall but far from the accuracy of
# section 4 (the full profile runs them on all 16,000). A loop usually reshuffles the texts every
# epoch (`shuffle=True`); here both read them in the order of section 1's shuffle, so that they see
# the same batches.

# %%
N_LOOP, LOOP_EPOCHS = cu.by_profile(quick=round(160 * SCALE), full=16_000), 2
loop_model, _ = new_classifier()
if FREEZE_EMBEDDINGS:
    loop_model.get_input_embeddings().weight.requires_grad_(False)
loop_model.to(env.device)
collate = DataCollatorWithPadding(tokenizer)
columns = [c for c in emotion_encoded["train"].column_names if c != "text"]
loop_train = emotion_encoded["train"].select(range(N_LOOP)).select_columns(columns)
train_loader = DataLoader(loop_train, batch_size=BATCH, collate_fn=collate)  # in order: Trainer below reads the same
val_loader = DataLoader(val_sorted.select(range(0, len(val_sorted), cu.by_profile(quick=25, full=1))).select_columns(columns),
                        batch_size=64, collate_fn=collate,  # every 25th text of the sorted set: all lengths
                        generator=torch.Generator())  # its own random generator: evaluating leaves dropout's alone
loop_optimizer = make_optimizer(loop_model)
scheduler = get_linear_schedule_with_warmup(loop_optimizer, 0, LOOP_EPOCHS * len(train_loader))

# %%
cu.seed_everything(0)  # the seed Trainer sets when it is built: dropout draws the same masks in both runs
loop_losses = []
for epoch in range(LOOP_EPOCHS):
    loop_model.train()
    train_loss = 0.0
    for batch in train_loader:
        batch = {k: v.to(env.device) for k, v in batch.items()}
        loss = loop_model(**batch).loss  # the model computes cross-entropy when `labels` is given
        loss.backward()
        torch.nn.utils.clip_grad_norm_(loop_model.parameters(), 1.0)  # Trainer's max_grad_norm
        loop_optimizer.step()
        scheduler.step()
        loop_optimizer.zero_grad()
        train_loss += loss.item()
    loop_losses.append(train_loss / len(train_loader))
    loop_model.eval()
    eval_loss, correct = 0.0, 0
    with torch.inference_mode():
        for batch in val_loader:
            batch = {k: v.to(env.device) for k, v in batch.items()}
            out = loop_model(**batch)
            eval_loss += out.loss.item()
            correct += (out.logits.argmax(-1) == batch["labels"]).sum().item()
    print(f"epoch {epoch}: train loss {loop_losses[-1]:.3f} | "
          f"eval loss {eval_loss / len(val_loader):.3f} | eval accuracy {correct / len(val_loader.dataset):.3f}")

# %% [markdown]
# Now `Trainer` on the same texts in the same order (`train_sampling_strategy="sequential"`), from
# the same starting weights (`new_classifier` seeds the new head), with the same optimizer, linear
# schedule without warm-up, batch size, gradient clipping and seed, in float32 like the loop (no
# `bf16`). If the loop does what `Trainer` does, both end with the same weights:

# %%
same_model, _ = new_classifier()
if FREEZE_EMBEDDINGS:
    same_model.get_input_embeddings().weight.requires_grad_(False)
same_args = TrainingArguments(output_dir=str(SCRATCH / "same_as_loop"), num_train_epochs=LOOP_EPOCHS,
                              per_device_train_batch_size=BATCH, train_sampling_strategy="sequential",
                              logging_strategy="epoch", eval_strategy="no", save_strategy="no",
                              log_level="error", disable_tqdm=False, report_to="none", seed=0)
same_trainer = Trainer(model=same_model, args=same_args, train_dataset=loop_train, data_collator=collate,
                       optimizers=(make_optimizer(same_model), None))  # None: Trainer builds the linear schedule
same_trainer.train()
trainer_losses = [entry["loss"] for entry in same_trainer.state.log_history if "loss" in entry]
print("mean training loss per epoch, loop:   ", [round(x, 4) for x in loop_losses])
print("mean training loss per epoch, Trainer:", [round(x, 4) for x in trainer_losses])
weight_diff = max((p - q).abs().max().item() for p, q in zip(loop_model.parameters(), same_model.parameters()))
print(f"max |loop weights - Trainer weights| after {same_trainer.state.global_step} steps: {weight_diff:.1e}")
np.testing.assert_allclose(loop_losses, trainer_losses, rtol=1e-4)
assert weight_diff < 1e-4

# %% [markdown]
# The same losses and the same weights: the difference is 0 where both runs do the same operations
# in the same order, as on a CPU (on a GPU, some kernels add in a varying order and leave float
# rounding). What `Trainer` adds is everything around these 20 lines: device placement,
# length-grouped sampling, logging, periodic evaluation with your metrics, checkpoints with
# resumable state, early stopping, loading the best model, mixed precision (`bf16=True`), gradient
# accumulation, and the same code on many GPUs.
#
# ## 9 · A training script: `HfArgumentParser`, YAML and flags
# Long runs belong in a script, not a notebook. `course_utils/scripts/train_emotion.py` describes
# its options with dataclasses; `HfArgumentParser` turns each field into a command-line flag (with
# `--help`). Its values come, lowest priority first, from the dataclass defaults, a YAML file
# (`train_emotion.yaml` beside the script: the full recipe), then the command line:

# %% tags=["nbval-check-output", "same-online"]
from course_utils.scripts import train_emotion

model_args, data_args, training_args = train_emotion.parse_args(
    ["--output_dir", str(SCRATCH / "parsed"), "--num_train_epochs", "1", "--max_train_samples", "128"])
print(model_args)
print(data_args)
print("from the YAML:", training_args.learning_rate, training_args.per_device_train_batch_size,
      training_args.train_sampling_strategy, "| from the flags:", training_args.num_train_epochs)

# %% [markdown]
# A common way to merge YAML and flags turns every YAML entry into `--key str(value)` in front of
# the real flags. That works for simple values, but `str(None)` is `"None"`, which an `int` option
# rejects, and lists become `"[1, 2]"`. The script instead hands the YAML to
# `parser.set_defaults(...)`, so the flags still win and every value keeps its type. Two YAML traps
# are worth knowing too:

# %% tags=["nbval-check-output", "same-online"]
import yaml

print(yaml.safe_load("learning_rate: 5e-5\nlr_with_dot: 5.0e-5\nsave_strategy: no\nquoted: 'no'"))

# %% [markdown]
# PyYAML follows YAML 1.1: `5e-5` without a dot is a **string** and an unquoted `no` is the boolean
# False.
#
# `HfArgumentParser` can also read a whole configuration from one file: `parse_json_file` (the
# `if len(sys.argv) == 2 and sys.argv[1].endswith(".json")` branch of transformers' example script
# `run_summarization.py`) and `parse_yaml_file`. Each fills every dataclass from the file alone, with
# no flags on top (hence the script's `set_defaults`), and rejects a key that no dataclass has,
# unless `allow_extra_keys=True`:

# %% tags=["nbval-check-output", "same-online"]
from transformers import HfArgumentParser

file_parser = HfArgumentParser((train_emotion.ModelArguments, train_emotion.DataArguments, TrainingArguments))
config = {"output_dir": str(SCRATCH / "from_file"), "max_train_samples": 64, "learning_rate": 1e-4,
          "freeze_embeddings": True}
SCRATCH.mkdir(parents=True, exist_ok=True)
(SCRATCH / "tiny.json").write_text(json.dumps(config))
(SCRATCH / "tiny.yaml").write_text(yaml.safe_dump(config))
from_json = file_parser.parse_json_file(SCRATCH / "tiny.json")
from_yaml = file_parser.parse_yaml_file(SCRATCH / "tiny.yaml")
print([type(a).__name__ for a in from_json])
print("freeze_embeddings", from_json[0].freeze_embeddings, "| max_train_samples", from_json[1].max_train_samples,
      "| learning_rate", from_json[2].learning_rate, "| num_train_epochs (default)", from_json[2].num_train_epochs)
assert from_json[:2] == from_yaml[:2] and from_json[2].learning_rate == from_yaml[2].learning_rate == 1e-4
(SCRATCH / "typo.json").write_text(json.dumps({**config, "learning_rat": 1e-4}))
try:
    file_parser.parse_json_file(SCRATCH / "typo.json")
except ValueError as err:
    print("typo.json:", err)

# %% [markdown]
# Now the script itself, run the way you would run it in a terminal, with a tiny
# configuration in the quick profile (64 texts, one epoch, no evaluation) and the YAML's full
# recipe otherwise:

# %%
tiny = ["--max_train_samples", "64", "--num_train_epochs", "1", "--per_device_train_batch_size", "8",
        "--learning_rate", "1e-4", "--head_learning_rate", "1e-3", "--freeze_embeddings", "True",
        "--max_length", "64", "--eval_strategy", "no", "--do_eval", "False", "--do_predict", "False"]
command = ["-m", "course_utils.scripts.train_emotion", "--output_dir", str(SCRATCH / "script"),
           "--disable_tqdm", "True"] + cu.by_profile(quick=tiny, full=[])
print("python", " ".join(command))
run = subprocess.run([sys.executable, *command], capture_output=True, text=True)
if run.returncode != 0:
    raise RuntimeError(run.stderr[-2000:])
script_results = json.loads(run.stdout.strip().splitlines()[-1])
print({k: script_results[k] for k in ("train_examples", "steps", "train_seconds", "train_loss")})
print("written:", sorted(p.name for p in (SCRATCH / "script").iterdir()))

# %% [markdown]
# ## 10 · Save, reload as a pipeline, classify new text
# `trainer.save_model(dir)` writes the (best) model and the tokenizer; `pipeline` loads them back
# like any Hub checkpoint. With `top_k=None` (which replaced `return_all_scores=True`) it returns
# every class with its probability. The pipeline is tokenizer → model → softmax, so it must agree
# with doing those steps by hand:

# %%
trainer.save_model(str(SCRATCH / "model"))
classifier = pipeline("text-classification", model=str(SCRATCH / "model"), top_k=None, device=env.device)
text = "I saw a movie today and it was really good."
scores = classifier(text)[0]
reloaded = classifier.model  # the saved model as the pipeline loaded it (float32; the trained one still runs under Trainer's autocast)
with torch.inference_mode():
    by_hand = reloaded(**classifier.tokenizer(text, return_tensors="pt").to(reloaded.device)).logits.softmax(-1)[0].cpu()
from_pipeline = torch.tensor([next(s["score"] for s in scores if s["label"] == name) for name in labels])
print(f"max |pipeline - by hand|: {(from_pipeline - by_hand).abs().max().item():.1e}")
torch.testing.assert_close(from_pipeline, by_hand, atol=1e-5, rtol=1e-4)
fig = plots.plot_bars([s["label"] for s in scores], [s["score"] for s in scores], xlabel="probability (0 to 1)",
                      title=f'"{text}"', figsize=(6, 2.8))
fig.axes[0].set_ylabel("class")
plt.show()

# %%
new_texts = ["i feel so alone since you left", "i am furious about the delay",
             "what a lovely surprise, i never expected this", "i am scared of the dark"]
for t, s in zip(new_texts, classifier(new_texts)):
    print(f"{s[0]['label']:>8} {s[0]['score']:.2f}  {t}")

# %% [markdown]
# **Uploading to the Hub.** `trainer.push_to_hub()` saves the model into
# `output_dir` and uploads it with the tokenizer and a generated model card to the repository
# `args.hub_model_id` under your account (created if needed; default name: the `output_dir`
# folder's). The cell uploads only when you name a repository, the Hub is reachable and you are
# logged in (`hf auth login` or `HF_TOKEN`); it never asks for a token, and `push_to_hub=False`
# stays the default in the arguments above:

# %%
from huggingface_hub import get_token

HUB_REPO = None  # e.g. "your-name/minilm-emotion": set it to upload this notebook's model (private)
if HUB_REPO and env.hub and get_token():
    trainer.args.hub_model_id = HUB_REPO
    commit = trainer.push_to_hub(commit_message="MiniLM fine-tuned on emotion (course notebook 05)", private=True)
    print("uploaded:", commit.commit_url)
else:
    why = "set HUB_REPO" if not HUB_REPO else "the Hub is offline" if not env.hub else "no token: run `hf auth login`"
    print(f"push_to_hub skipped ({why})")

# %% [markdown]
# ## Common pitfalls
# - **Renamed and removed APIs.** `evaluation_strategy` → `eval_strategy`; `Trainer(tokenizer=...)`
#   → `processing_class=`; `group_by_length=True` → `train_sampling_strategy="group_by_length"`;
#   `warmup_ratio=0.1` → `warmup_steps=0.1` (a float below 1 is a ratio); `datasets.load_metric` is
#   gone (use `evaluate`, or plain scikit-learn); `return_all_scores=True` → `top_k=None`.
# - **`evaluate.load("accuracy")` needs the Hub** (it downloads a script): offline, load a local
#   module file, as `course_utils.metrics.load("accuracy")` does.
# - **Padding the whole dataset** (`padding=True, batch_size=None`, the book's way) pads every
#   text to the longest one: on a CPU each step costs several times more (4.1). Truncate in `map`
#   and pad per batch with `DataCollatorWithPadding`.
# - **`forward_pass_with_label`**: `model_input_names` (plural), `model(**inputs)`, the same key
#   name everywhere, `model.eval()` first, and pad each batch.
# - **Row order after `predict()`**: with `group_by_length`, evaluation batches are length-grouped
#   and shuffled; switch to `"random"` (sequential evaluation) before aligning predictions with rows.
# - **`compute_loss` overrides written for older releases** (`def compute_loss(self, model, inputs,
#   return_outputs=False)`) fail with a `TypeError`: transformers 5 passes `num_items_in_batch=`.
# - **Gradient accumulation with this model** (appendix): plain `Trainer` logs N times the loss and
#   applies N times the gradient; set `model.accepts_loss_kwargs = False`, or
#   `loss_is_scaled_for_ga = False` in a subclass that returns a per-batch mean.
# - **Mixed precision on a CPU.** `--fp16` is accepted and does nothing there; `bf16=True`
#   (with `use_cpu=True`) helps only where the CPU computes bfloat16 natively (AVX512-BF16 or AMX)
#   and is slower than float32 elsewhere. `train_emotion.mixed_precision("auto")` checks.

# ## Exercises
# Each exercise ends with a checker from `cu.check`: it tests your answer on fresh inputs and prints
# ✅ or a specific hint. Worked solutions: [solutions/05_fine_tuning_solutions.ipynb](solutions/05_fine_tuning_solutions.ipynb).
#
# **05.1** Write a `compute_metrics(pred)` for `Trainer` with scikit-learn alone: it returns
# `{"accuracy": ..., "f1": ...}` with **weighted** F1, and also works when `pred.predictions` is a
# tuple whose first element is the logits (what `Trainer` passes when the model returns more
# outputs, e.g. with `output_hidden_states=True`). Think: why does weighted F1 say more than
# accuracy on emotion, and what would macro F1 add?

# %% tags=["nbval-check-output", "same-online"]
def my_compute_metrics(pred: EvalPrediction) -> dict:
    raise NotImplementedError  # your code here


cu.check.exercise_05_1(my_compute_metrics)

# %% [markdown]
# **05.2** Write `TimeLimitCallback(max_seconds)`, a `TrainerCallback` that stops training once
# `max_seconds` have passed since **training began** (`on_train_begin`; the trainer may be built
# long before), by setting `control.should_training_stop = True` in `on_step_end`. The checker
# drives it through transformers' own `CallbackHandler`. Think: when is a time budget better than a
# fixed number of steps, and what does it cost in reproducibility?

# %% tags=["nbval-check-output", "same-online"]
class TimeLimitCallback(TrainerCallback):
    def __init__(self, max_seconds: float):
        self.max_seconds = max_seconds

    def on_train_begin(self, args, state, control, **kwargs):
        raise NotImplementedError  # your code here

    def on_step_end(self, args, state, control, **kwargs):
        raise NotImplementedError  # your code here


cu.check.exercise_05_2(TimeLimitCallback)

# %% [markdown]
# **05.3** Write `per_example_loss(model, tokenizer, batch)` for `Dataset.map(..., batched=True)`:
# `batch` is a dict of lists (unpadded `input_ids` of different lengths, `attention_mask`, `label`,
# `text`), and the function returns `{"loss": ..., "predicted_label": ...}`, one value per row, as
# numpy arrays (float32: numpy has no bfloat16). Avoid the five mistakes of section 5.2 (the checker hands
# you a model in train mode; `pipeline()` and `Trainer.predict()` are switched off while it runs).
# Think: among the 8 highest-loss validation texts of section 5.2, how many labels would you call
# wrong, and what would you do with such texts in the training set?

# %% tags=["nbval-check-output", "same-online"]
def per_example_loss(model, tokenizer, batch: dict) -> dict:
    raise NotImplementedError  # your code here


cu.check.exercise_05_3(per_example_loss)

# %% [markdown]
# **05.4** Write `optimizer_steps(n_examples, batch_size, epochs, grad_accum, drop_last=False)`: the
# number of optimizer steps `Trainer` plans for one process (what `max_steps`, `logging_steps` and
# the schedule count). The checker asks `Trainer` itself, and switches `Trainer` and `len(DataLoader)`
# off while your function runs. Check yourself: this notebook's quick run
# is `optimizer_steps(5000, 8, 1, 1)` = 625. Think: how many steps does the book's recipe take
# (batch 64, two epochs on 16,000 texts; `python -m course_utils.scripts.train_emotion --help` lists
# the flags), how many did it manage within the quick budget (section 4.1), and why does a small
# budget call for small batches?

# %% tags=["nbval-check-output", "same-online"]
def optimizer_steps(n_examples: int, batch_size: int, epochs: int, grad_accum: int, drop_last: bool = False) -> int:
    raise NotImplementedError  # your code here


cu.check.exercise_05_4(optimizer_steps)

# %% [markdown]
# ## Recap
# - Always measure baselines: the majority class and frozen features + logistic regression show
#   what the task costs and what fine-tuning buys.
# - `Trainer` = `TrainingArguments` (what to do) + model, data, collator, `compute_metrics`,
#   callbacks (how); `train()` → `TrainOutput`, `evaluate()` → dict, `predict()` →
#   `PredictionOutput` = the `EvalPrediction` plus its metrics.
# - On a small budget, a new head learns faster with its own, larger learning rate; dynamic padding
#   and length grouping keep steps cheap, and bf16 halves them on a CPU with bfloat16 units. Compare
#   recipes over several seeds and at the same time budget, on validation and test (4.1).
# - To change what a step computes, subclass `Trainer` (`compute_loss` with class weights, `log`
#   for your own scalars); `logging_steps`, `eval_steps` and `compute_metrics` cover the rest. One
#   optimizer step sees per-device batch × `gradient_accumulation_steps` × `world_size` examples.
# - Error analysis by per-example loss finds label noise as well as model errors.
# - The same loop by hand is twenty lines; a script with `HfArgumentParser` makes runs
#   reproducible from a YAML file and a few flags.
#
# **Next:** [06 · Attention, opened up](06_attention.ipynb), inside the layers we just fine-tuned.

# %% [markdown]
# ## Appendix · Gradient accumulation and the scale of the loss
# Read this before you train with `gradient_accumulation_steps` greater than 1 (section 3.5 says
# what it does). With `gradient_accumulation_steps` = N, the loss of each batch must be divided by
# N before `backward()`. `Trainer` skips that division when it believes the
# model already normalised its loss over all N batches: when the model's `forward` accepts
# `**kwargs`, it passes `num_items_in_batch` and assumes the model used it. BERT's classification
# head accepts the keyword and ignores it, so with plain `Trainer` the logged loss, and the gradient,
# come out N times too large ([transformers#37766](https://github.com/huggingface/transformers/issues/37766)
# is the mirror case, a model without `**kwargs`). One optimizer step on two batches of 4, with a
# subclass that only records each batch's loss, shows it; `model.accepts_loss_kwargs = False`
# fixes it (the training script sets it; `WeightedLossTrainer` has its own fix):

# %%
class RecordingTrainer(Trainer):
    """Plain Trainer that remembers the loss of every batch (it changes nothing else)."""

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        result = super().compute_loss(model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch)
        self.batch_losses.append((result[0] if return_outputs else result).item())
        return result


def one_accumulated_step(model):
    args = TrainingArguments(output_dir=str(SCRATCH / "accumulation"), max_steps=1, per_device_train_batch_size=4,
                             gradient_accumulation_steps=2, logging_steps=1, save_strategy="no",
                             report_to="none", disable_tqdm=True, log_level="error", seed=0)
    recorder = RecordingTrainer(model=model, args=args, train_dataset=tiny_train, processing_class=tokenizer)
    recorder.remove_callback(PrinterCallback)  # no printed log dicts: the line below says what was logged
    recorder.batch_losses = []
    recorder.train()
    return recorder.state.log_history[0]["loss"], recorder.batch_losses


logged, batch_losses = one_accumulated_step(w_model)
print(f"default: batch losses {np.round(batch_losses, 3)}, logged {logged:.3f} (their sum)")
assert math.isclose(logged, sum(batch_losses), rel_tol=1e-4)
w_model.accepts_loss_kwargs = False  # Trainer now divides by gradient_accumulation_steps
logged, batch_losses = one_accumulated_step(w_model)
print(f"fixed:   batch losses {np.round(batch_losses, 3)}, logged {logged:.3f} (their mean)")
assert math.isclose(logged, np.mean(batch_losses), rel_tol=1e-4)
