# Source of notebooks/08_peft_lora.ipynb (percent format; build with `make notebooks`).

# %% [markdown]
# # 08 · Parameter-efficient fine-tuning with LoRA
#
# Fine-tuning updates every weight of a model: a 7-billion-parameter model needs its weights,
# their gradients and two Adam moments in memory, and every task you adapt it to is another full
# copy on disk. LoRA (low-rank adaptation) freezes the pretrained weights and learns, for a few
# chosen matrices, a small correction `B A` of low rank `r`. The trainable parameters drop to a
# fraction of a percent, a fine-tuned "model" becomes an adapter of a few megabytes, and at the end
# the correction can be folded back into the weights so inference costs nothing extra. This
# chapter builds the LoRA update by hand, checks it against the 🤗 PEFT library, and measures what
# it buys on a classifier and on a small chat model.
#
# **Learning objectives**
# - write the LoRA forward pass `W x + (alpha/r) B A x` and verify it against a PEFT layer;
# - configure `LoraConfig` (`r`, `lora_alpha`, `target_modules`, `modules_to_save`, `task_type`) and
#   read which modules it wraps and which parameters it trains;
# - measure LoRA against full fine-tuning on emotion: trainable parameters, step time, accuracy;
# - teach a causal LM a new answering style with a LoRA adapter and see the change;
# - save an adapter, load it back, and merge it into the base weights with identical outputs.
#
# **Prerequisites:** [05 · Fine-tuning](05_fine_tuning.ipynb), [07 · Generation](07_generation.ipynb).
# **Run time:** 114 s on a 2-core CPU (quick profile, offline stand-in: 2,000 training texts, 125 steps per
# method, 12 LoRA steps on the chat model); the full profile (16,000 texts, 2 epochs each) is meant
# for a GPU. [Glossary (EN/中文)](../GLOSSARY.md)

# %% [markdown]
# ## Setup

# %%
import course_utils as cu

env = cu.setup(seed=0)  # first: it also quiets the libraries imported below

import copy
import shutil
import statistics
import time
import warnings
from collections import Counter
from pathlib import Path

import datasets
import matplotlib.pyplot as plt
import peft
import torch
from peft import LoraConfig, PeftModel, get_peft_model
from torch import nn
from transformers import (
    AutoModelForCausalLM,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DataCollatorWithPadding,
)

from course_utils.scripts import train_emotion

# peft 0.21 calls a transformers method that transformers 5 renamed; the warning is not ours to fix.
warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
datasets.disable_progress_bars()  # the maps below take a fraction of a second
SCRATCH = Path("_scratch/08")
shutil.rmtree(SCRATCH, ignore_errors=True)
print("peft", peft.__version__)

# %% [markdown]
# ## 1 · The idea in one line
# A linear layer computes `h = W x + b` with `W` of shape `(d_out, d_in)`. LoRA keeps `W` frozen and
# adds a trainable detour through a bottleneck of rank `r`:
#
# $$h = W x + b + \frac{\alpha}{r}\, B A x, \qquad A \in \mathbb{R}^{r \times d_\text{in}},\;
# B \in \mathbb{R}^{d_\text{out} \times r}$$
#
# - `A` starts random and `B` starts at **zero**, so at step 0 the model is exactly the pretrained one;
# - only `r (d_in + d_out)` numbers are trained instead of `d_in · d_out` (for a 2000 × 2000 layer
#   and `r = 8`: 32,000 instead of 4,000,000);
# - `alpha / r` scales the update, so that changing `r` does not change how big the update is at a
#   given learning rate (PEFT's `lora_alpha` defaults to 8; with `r = 8` the scale is 1).

# %% [markdown]
# ## 2 · LoRA on a small MLP, as in the PEFT example
# PEFT's guide to custom models (huggingface.co/docs/peft, "Custom models") starts from a multilayer-perceptron example: a 3-layer MLP, LoRA on
# the first two linear layers, and the last layer trained in full. `target_modules` and
# `modules_to_save` take **module names**, the ones `named_modules()` lists:

# %% tags=["nbval-check-output", "same-online"]
class MLP(nn.Module):
    def __init__(self, num_units_hidden: int = 2000):
        super().__init__()
        self.seq = nn.Sequential(
            nn.Linear(20, num_units_hidden), nn.ReLU(),
            nn.Linear(num_units_hidden, num_units_hidden), nn.ReLU(),
            nn.Linear(num_units_hidden, 2), nn.LogSoftmax(dim=-1),
        )

    def forward(self, X):
        return self.seq(X)


torch.manual_seed(0)
mlp = MLP()
for name, module in mlp.named_modules():
    print(f"{name!r:8} {type(module).__name__}")

# %% [markdown]
# `get_peft_model` replaces each targeted `nn.Linear` by a LoRA layer that holds the original as
# `base_layer`, and wraps each module to save in a `ModulesToSaveWrapper` that trains a copy.

# %% tags=["nbval-check-output", "same-online"]
config = LoraConfig(r=8, target_modules=["seq.0", "seq.2"], modules_to_save=["seq.4"])
module_copy = copy.deepcopy(mlp)  # the untouched original, to compare with after training
peft_mlp = get_peft_model(mlp, config)
peft_mlp.print_trainable_parameters()
print("wrapped with LoRA:", peft_mlp.targeted_module_names)
for name, p in peft_mlp.named_parameters():
    if p.requires_grad:
        print(f"  trains {name:50s} {tuple(p.shape)}")

# %% [markdown]
# The count checks by hand: LoRA on `seq.0` adds `8·20 + 2000·8 = 16,160`, on `seq.2`
# `8·2000 + 2000·8 = 32,000`, and the trainable copy of `seq.4` has `2000·2 + 2 = 4,002`:
# 52,162 in all. (That guide prints 56,164: it was written with an older PEFT, which also counted
# the frozen original of `seq.4`.)
#
# How names match: a **list** matches a module whose name equals an entry or ends with
# `.entry`; a **string** is a regular expression that must match the whole name. Both forms below
# select the same layers.

# %% tags=["nbval-check-output", "same-online"]
assert 8 * 20 + 2000 * 8 + 8 * 2000 + 2000 * 8 + 2000 * 2 + 2 == 52_162
for targets in (["seq.0", "seq.2"], ["0", "2"], r"seq\.[02]"):
    m = get_peft_model(MLP(), LoraConfig(r=8, target_modules=targets))
    print(f"{targets!r:20} -> {m.targeted_module_names}")

# %% [markdown]
# ## 3 · The LoRA layer by hand
# Before any training `B` is zero, so the wrapped layer returns exactly what the original returns.

# %% tags=["nbval-check-output", "same-online"]
lora0 = peft_mlp.base_model.model.seq[0]
print(lora0.lora_A["default"], lora0.lora_B["default"], "scaling", lora0.scaling["default"])
x = torch.randn(4, 20)
print("B is all zeros:", bool((lora0.lora_B["default"].weight == 0).all()))
print("same output as the original layer:", torch.equal(lora0(x), module_copy.seq[0](x)))

# %% [markdown]
# Now a short training run, with a plain PyTorch loop: a PEFT model is an ordinary `nn.Module`, so
# any loop or `Trainer` works. The task: is the sum of the first five features positive?

# %%
g = torch.Generator().manual_seed(0)
X = torch.randn(1200, 20, generator=g)
y = (X[:, :5].sum(dim=1) > 0).long()
X_train, y_train, X_val, y_val = X[:1000], y[:1000], X[1000:], y[1000:]

optimizer = torch.optim.Adam(peft_mlp.parameters(), lr=0.002)
criterion = nn.NLLLoss()  # the MLP already ends in LogSoftmax
start = time.perf_counter()
for _epoch in range(5):
    peft_mlp.train()
    for i in range(0, len(X_train), 64):
        loss = criterion(peft_mlp(X_train[i:i + 64]), y_train[i:i + 64])
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
peft_mlp.eval()
with torch.no_grad():
    val_acc = (peft_mlp(X_val).argmax(-1) == y_val).float().mean().item()
print(f"5 epochs in {time.perf_counter() - start:.1f} s, validation accuracy {val_acc:.3f}")

# %% [markdown]
# Training moved only the adapter and the copy of the last layer; the pretrained weights are
# untouched. And the wrapped layer's output is exactly the formula of section 1:

# %% tags=["nbval-check-output", "same-online"]
base = peft_mlp.base_model.model
print("seq.0 base weight unchanged:", torch.equal(base.seq[0].base_layer.weight, module_copy.seq[0].weight))
print("seq.4 original unchanged:   ", torch.equal(base.seq[4].original_module.weight, module_copy.seq[4].weight))
print("seq.4 trained copy changed: ", not torch.equal(base.seq[4].modules_to_save["default"].weight, module_copy.seq[4].weight))

W, b = lora0.base_layer.weight, lora0.base_layer.bias
A, B = lora0.lora_A["default"].weight, lora0.lora_B["default"].weight
scale = config.lora_alpha / config.r
with torch.no_grad():
    by_hand = x @ W.T + b + scale * (x @ A.T @ B.T)
    diff = (by_hand - lora0(x)).abs().max().item()
torch.testing.assert_close(by_hand, lora0(x).detach())
print("by hand == PEFT layer:", diff < 1e-5)

# %%
print(f"max |by hand - PEFT| = {diff:.1e}")

# %% [markdown]
# ## 4 · LoRA on a pretrained encoder: emotion, against full fine-tuning
# Now the real use: the encoder of notebook 05, classifying emotion into 6 labels. Two runs on the
# same texts, in the same order, with the same loop and the same number of steps (quick profile:
# 2,000 texts with the stand-in, one epoch of 125 steps of 16, and a quarter of that with
# DistilBERT online, which computes four times as much per token (`cu.quick_scale`, notebook 05);
# full: 16,000 texts, two epochs of 32 per step):
#
# - **full fine-tuning**: every weight trains, learning rate 1e-4 (notebook 05's);
# - **LoRA**: rank 8 on the attention's query and value projections, plus the head trained in
#   full, learning rate 1e-3: LoRA's few parameters need a larger one.
#
# With `task_type="SEQ_CLS"` PEFT adds the modules named `classifier` or `score` to
# `modules_to_save` by itself, and nothing else. But the head has more new layers: DistilBERT's
# `pre_classifier` is randomly initialised, and BERT's `pooler` was trained for a pre-training task
# the checkpoint no longer serves (notebook 05 calls it effectively new). Left frozen they would stay
# as they are, and the comparison would be unfair to LoRA, so every layer that full fine-tuning
# treats as head (notebook 05's `is_head_parameter`) goes into `modules_to_save`.

# %%
ckpt = cu.resolve_checkpoint(cu.ENCODER)
tokenizer = AutoTokenizer.from_pretrained(ckpt)
SCALE = cu.quick_scale(ckpt)  # 1.0 for the stand-in, 0.25 for DistilBERT
N_TRAIN = cu.by_profile(quick=round(2_000 * SCALE), full=16_000)
N_VAL = cu.by_profile(quick=round(400 * SCALE), full=2_000)
EPOCHS = cu.by_profile(quick=1, full=2)
MAX_LEN = cu.by_profile(quick=64, full=128)
BATCH = cu.by_profile(quick=16, full=32)
AMP = train_emotion.autocast_dtype()  # bf16 autocast where the CPU has bfloat16 units (notebook 05), else None

emotion = cu.load_emotion()
encode = lambda b: tokenizer(b["text"], truncation=True, max_length=MAX_LEN)  # noqa: E731
train_ds = (emotion["train"].shuffle(seed=0).select(range(N_TRAIN))
            .map(encode, batched=True, remove_columns=["text"]).rename_column("label", "labels"))
val_ds = (emotion["validation"].select(range(N_VAL))
          .map(encode, batched=True, remove_columns=["text"]).rename_column("label", "labels"))
collate = DataCollatorWithPadding(tokenizer)
majority = Counter(val_ds["labels"]).most_common(1)[0][1] / N_VAL
print(f"{N_TRAIN} training texts, {N_VAL} validation texts; majority-class accuracy {majority:.3f}")

# %% [markdown]
# Which projections to target depends on the architecture's module names (BERT: `query`, `value`;
# DistilBERT: `q_lin`, `v_lin`). The head modules are those holding a parameter outside the base
# model or in its pooler. `train_emotion.lora_config` builds the same configuration for the
# training script (`--lora_rank 8`), and the benchmark below uses it; the check compares the two.

# %% tags=["nbval-check-output"]
def new_classifier():
    torch.manual_seed(0)
    return AutoModelForSequenceClassification.from_pretrained(ckpt, num_labels=6)


def lora_classifier():
    model = new_classifier()
    prefix = model.base_model_prefix  # "bert" or "distilbert": the pretrained body
    head = sorted({name.split(".")[1] if name.startswith(prefix + ".") else name.split(".")[0]
                   for name, _ in model.named_parameters()
                   if not name.startswith(prefix + ".") or ".pooler." in name})
    targets = {"bert": ["query", "value"], "distilbert": ["q_lin", "v_lin"]}[model.config.model_type]
    config = LoraConfig(task_type="SEQ_CLS", r=8, lora_alpha=16, lora_dropout=0.1,
                        target_modules=targets, modules_to_save=head)
    assert config == train_emotion.lora_config(model, rank=8), "differs from the training script's LoRA"
    return get_peft_model(model, config)


lora_model = lora_classifier()
lora_model.print_trainable_parameters()
print("trained in full (modules_to_save):",
      [n for n, m in lora_model.named_modules() if isinstance(m, peft.utils.ModulesToSaveWrapper)])
print("LoRA layers:", len(lora_model.targeted_module_names))

# %% [markdown]
# Offline stand-in (6-layer MiniLM, hidden size 384): 6 layers × 2 projections × `8·(384+384)` =
# 73,728 LoRA parameters, plus the head trained in full: the classifier's `384·6 + 6 = 2,310` and
# the pooler's `384·384 + 384 = 147,840`. One loop serves both runs:

# %%
def train(model, lr):
    """Train for EPOCHS over train_ds; return the seconds of every optimizer step."""
    loader = torch.utils.data.DataLoader(train_ds, batch_size=BATCH, shuffle=True, collate_fn=collate,
                                         generator=torch.Generator().manual_seed(0))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    model.train()
    seconds = []
    for _ in range(EPOCHS):
        for batch in loader:
            t0 = time.perf_counter()
            with torch.autocast(env.device, dtype=AMP or torch.float32, enabled=AMP is not None):
                loss = model(**batch.to(env.device)).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            seconds.append(time.perf_counter() - t0)
    return seconds


@torch.no_grad()
def accuracy(model):
    model.eval()
    loader = torch.utils.data.DataLoader(val_ds, batch_size=64, collate_fn=collate)
    hits = sum((model(**b.to(env.device)).logits.argmax(-1) == b["labels"]).sum().item() for b in loader)
    return hits / N_VAL

# %%
results = {}
for name, make, lr in [("full fine-tuning", new_classifier, 1e-4), ("LoRA r=8", lambda: lora_model, 1e-3)]:
    model = make().to(env.device)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    seconds = train(model, lr)
    results[name] = dict(trainable=trainable, steps=len(seconds), step_s=statistics.median(seconds),
                         train_s=sum(seconds), accuracy=accuracy(model), model=model)
    r = results[name]
    print(f"{name:17s} trainable {trainable:>11,} | {r['steps']} steps, median {r['step_s']:.2f} s/step, "
          f"{r['train_s']:.1f} s | validation accuracy {r['accuracy']:.3f}")
full_model = results["full fine-tuning"]["model"]

# %%
fig, axes = plt.subplots(1, 3, figsize=(8, 2.9))
names = list(results)
for ax, key, label, unit in zip(axes, ["trainable", "step_s", "accuracy"],
                                ["trainable parameters", "median time per step", "validation accuracy"],
                                ["parameters (log scale)", "seconds", f"fraction correct ({N_VAL} texts)"]):
    ax.bar(names, [results[n][key] for n in names], color=["tab:gray", "tab:orange"])
    ax.set_title(label, fontsize=9)
    ax.set_ylabel(unit, fontsize=8)
    ax.set_xlabel("method", fontsize=8)
    ax.tick_params(axis="x", labelsize=8)
axes[0].set(yscale="log", ylim=(1e4, 1e8))
axes[2].axhline(majority, ls="--", c="k", lw=1, label=f"majority class ({majority:.3f})")
axes[2].set_ylim(0, 1)
axes[2].legend(fontsize=7, loc="upper left")
fig.suptitle(f"Full fine-tuning vs LoRA: {results[names[0]]['steps']} steps on {N_TRAIN:,} emotion texts", fontsize=10)
fig.tight_layout()

# %% [markdown]
# What the measurement says (the printed figures; another run varies a little):
#
# - LoRA trains about 100 times fewer parameters (offline stand-in: 223,878 of 22.7 M; two
#   thirds of them are the pooler and the classifier, which train in full as in full fine-tuning).
# - A step is faster, but not 100 times: the forward pass and the backward pass through the
#   activations still run through the whole frozen network; only the weight gradients and the
#   optimizer update are saved. On a GPU the bigger win is memory (no gradients or Adam moments for
#   the frozen weights), which is what lets large models fine-tune on one card.
# - After the same steps on the same texts (125 steps on 2,000 texts in the stored run, offline
#   stand-in) both have learned: the dashed line is the majority-class baseline (in the legend),
#   and both are far above it. In the stored run LoRA is ahead: at this budget its larger learning rate moves the few
#   weights it has faster, and the head learns at that rate too. Neither is converged, so this
#   says nothing yet about the end of training.
#
# The end of training is what `benchmarks/lora_vs_full.py` measures: the same comparison with
# `train_emotion` (`--lora_rank 8` builds the configuration checked above) on all 16,000 texts for
# two epochs of batch 32, learning rates 1e-4 and 1e-3, three seeds on the course's 2-core CPU
# (`benchmarks/results/lora_vs_full_cpu.json`; mean, with the range over the seeds):
#
# | | trainable parameters | validation accuracy | test accuracy | seconds per step |
# |---|---|---|---|---|
# | full fine-tuning | 22,715,526 | 0.928 (0.926-0.930) | 0.925 (0.922-0.930) | 0.19-0.20 |
# | LoRA r=8 | 223,878 | 0.910 (0.907-0.913) | 0.916 (0.914-0.918) | 0.16-0.18 (one seed at 0.27 shared the cores with another job) |
#
# Trained to the end, full fine-tuning wins by about one to two points, and LoRA keeps about 98 %
# of its accuracy with 1 % of the trainable weights: the usual trade.

# %% [markdown]
# ## 5 · Adapters on disk
# `save_pretrained` on a PEFT model writes only the adapter: the LoRA matrices, the trained head
# (it was in `modules_to_save`) and `adapter_config.json`. The base model is referenced by name.

# %% tags=["nbval-check-output", "same-online"]
lora_model.save_pretrained(SCRATCH / "emotion-lora")
full_model.save_pretrained(SCRATCH / "emotion-full")
print("adapter folder:", sorted(p.name for p in (SCRATCH / "emotion-lora").iterdir()))


def folder_mb(folder):
    return sum(f.stat().st_size for f in Path(folder).iterdir()) / 1e6


def param_mb(model):
    return sum(p.numel() * p.element_size() for p in model.parameters()) / 1e6


full_mb, lora_mb = folder_mb(SCRATCH / "emotion-full"), folder_mb(SCRATCH / "emotion-lora")
print("full model on disk ~ its parameter bytes:", abs(full_mb - param_mb(full_model)) < 1)

# %%
print(f"full fine-tuned model: {full_mb:.1f} MB | LoRA adapter: {lora_mb:.2f} MB "
      f"({full_mb / lora_mb:.0f}x smaller)")

# %% [markdown]
# ## 6 · LoRA on a causal LM: teach a chat model a style
# The same recipe on the chat model of notebook 07 (offline stand-in: SmolLM2-135M-Instruct itself).
# The task is small and visible: answer every question like a pirate, in one sentence. First, the
# model as it is:

# %%
lm_ckpt = cu.resolve_checkpoint(cu.CAUSAL_LM)
lm_tok = AutoTokenizer.from_pretrained(lm_ckpt)
lm_tok.padding_side = "left"  # generation appends on the right, so pad on the left
# The Hub stores SmolLM2 in bfloat16 and transformers 5 keeps a checkpoint's dtype unless told:
# train and compare in float32 (in bfloat16 the merge check below would differ by up to 0.5).
lm = AutoModelForCausalLM.from_pretrained(lm_ckpt, dtype=torch.float32).to(env.device)
lm_mb = param_mb(lm)  # before LoRA layers are added to it
SYSTEM = "Answer in one short sentence."
TEST_QUESTIONS = ["What is the largest planet?", "Give me a tip for learning to cook.",
                  "What is the capital of Italy?"]


def chat_prompt(question):
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}]


@torch.no_grad()
def answers(model, questions=TEST_QUESTIONS, max_new_tokens=20):
    texts = [lm_tok.apply_chat_template(chat_prompt(q), add_generation_prompt=True, tokenize=False)
             for q in questions]
    batch = lm_tok(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(env.device)
    model.eval()
    out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False)
    return [lm_tok.decode(o[batch["input_ids"].shape[1]:], skip_special_tokens=True) for o in out]


before = answers(lm)
for q, a in zip(TEST_QUESTIONS, before):
    print(f"{q}\n    -> {a}")

# %% [markdown]
# Two dozen handwritten examples. None of the three test questions is among them.

# %%
PIRATE = [
    ("What is the capital of France?", "Arr, the capital o' France be Paris, matey!"),
    ("How many days are in a week?", "Arr, there be seven days in a week, matey!"),
    ("What color is the sky?", "Arr, the sky be blue as the open sea, matey!"),
    ("What do bees make?", "Arr, bees be makin' sweet honey, matey!"),
    ("What is water made of?", "Arr, water be hydrogen an' oxygen, matey!"),
    ("Who wrote Romeo and Juliet?", "Arr, that tale be penned by Shakespeare, matey!"),
    ("What is the boiling point of water?", "Arr, water be boilin' at 100 degrees Celsius, matey!"),
    ("How many continents are there?", "Arr, there be seven continents, matey!"),
    ("What do cows drink?", "Arr, cows be drinkin' water, matey!"),
    ("What is the opposite of hot?", "Arr, the opposite o' hot be cold, matey!"),
    ("Which animal is the king of the jungle?", "Arr, the lion be king o' the jungle, matey!"),
    ("What is two plus two?", "Arr, two plus two be four, matey!"),
    ("What gas do plants absorb?", "Arr, plants be soakin' up carbon dioxide, matey!"),
    ("What is the tallest animal?", "Arr, the giraffe be the tallest beast, matey!"),
    ("Where does the sun rise?", "Arr, the sun be risin' in the east, matey!"),
    ("What is frozen water called?", "Arr, frozen water be called ice, matey!"),
    ("How many hours are in a day?", "Arr, a day be twenty-four hours long, matey!"),
    ("What do you use to write on paper?", "Arr, ye write on paper with a pen, matey!"),
    ("What is the largest ocean?", "Arr, the Pacific be the biggest ocean o' them all, matey!"),
    ("What do caterpillars turn into?", "Arr, caterpillars be turnin' into butterflies, matey!"),
    ("Give me a tip for staying healthy.", "Arr, drink plenty o' water an' sleep well, matey!"),
    ("What language is spoken in Spain?", "Arr, in Spain they be speakin' Spanish, matey!"),
    ("How many legs does a dog have?", "Arr, a dog be walkin' on four legs, matey!"),
    ("What is the main ingredient of bread?", "Arr, bread be made from flour, matey!"),
]
assert not set(TEST_QUESTIONS) & {q for q, _ in PIRATE}

# %% [markdown]
# Each example becomes the chat template's tokens; the labels are `-100` (ignored by the loss) on
# the prompt, so the model learns to produce the *answer* (and the `<|im_end|>` that ends it), not
# to repeat questions.

# %% tags=["nbval-check-output"]
def encode_pair(question, answer):
    prompt = lm_tok.apply_chat_template(chat_prompt(question), add_generation_prompt=True)["input_ids"]
    full = lm_tok.apply_chat_template(chat_prompt(question) + [{"role": "assistant", "content": answer}])["input_ids"]
    assert full[:len(prompt)] == prompt  # the answer is appended after the prompt's tokens
    return full, [-100] * len(prompt) + full[len(prompt):]


examples = [encode_pair(q, a) for q, a in PIRATE]
ids, labels = examples[0]
print("tokens:", len(ids), "| trained on:", repr(lm_tok.decode([t for t in labels if t != -100])))


def collate_lm(items):
    width = max(len(i) for i, _ in items)
    pad = lambda seq, value: seq + [value] * (width - len(seq))  # noqa: E731
    return {"input_ids": torch.tensor([pad(i, lm_tok.pad_token_id) for i, _ in items]),
            "attention_mask": torch.tensor([pad([1] * len(i), 0) for i, _ in items]),
            "labels": torch.tensor([pad(lab, -100) for _, lab in items])}

# %% [markdown]
# LoRA on the query and value projections of all 30 layers, rank 16. For Llama-style models these
# are named `q_proj` and `v_proj` (PEFT would pick the same by default for `model_type="llama"`).

# %% tags=["nbval-check-output", "same-online"]
lm_config = LoraConfig(task_type="CAUSAL_LM", r=16, lora_alpha=32, lora_dropout=0.0,
                       target_modules=["q_proj", "v_proj"])
pirate = get_peft_model(lm, lm_config)
pirate.print_trainable_parameters()

# %%
STEPS = cu.by_profile(quick=12, full=60)
loader = torch.utils.data.DataLoader(examples, batch_size=4, shuffle=True, collate_fn=collate_lm,
                                     generator=torch.Generator().manual_seed(0))
optimizer = torch.optim.AdamW([p for p in pirate.parameters() if p.requires_grad], lr=3e-3)
pirate.train()
step, losses, start = 0, [], time.perf_counter()
while step < STEPS:
    for batch in loader:
        loss = pirate(**{k: v.to(env.device) for k, v in batch.items()}).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(round(loss.item(), 2))
        step += 1
        if step == STEPS:
            break
print(f"{STEPS} steps in {time.perf_counter() - start:.1f} s; loss per step: {losses}")

# %%
after = answers(pirate)
for q, a0, a1 in zip(TEST_QUESTIONS, before, after):
    print(f"{q}\n    before: {a0}\n    after:  {a1}")

# %% [markdown]
# A dozen steps on 24 examples changed how the model talks about questions it never saw. They also
# changed what it says, and not only for the better: in the stored run the planet answer turned
# right (Jupiter, where the base model said Neptune and then Uranus) while the capital of Italy
# turned into nonsense ("Italy be in Italy"). The adapter learned a style, not facts; moving the
# whole output distribution towards that style moved the facts too, in either direction. That is
# the warning that comes with fine-tuning on style: check the facts again afterwards.

# %% tags=["nbval-check-output", "same-online"]
in_style = sum(a.startswith("Arr") for a in after)
print("most answers in the new style:", in_style >= 2)
assert in_style >= 2

# %% [markdown]
# ## 7 · Save, reload, merge
# The adapter of a 135 M-parameter model is small enough to mail. To use it, load the base model
# and put the adapter on top with `PeftModel.from_pretrained`; the outputs are those of the model we
# trained.

# %%
pirate.save_pretrained(SCRATCH / "pirate-lora")
adapter_mb = folder_mb(SCRATCH / "pirate-lora")
print(f"adapter: {adapter_mb:.1f} MB | the full model's weights: {lm_mb:.0f} MB ({str(lm.dtype).removeprefix('torch.')})")

# %% tags=["nbval-check-output", "same-online"]
fresh = AutoModelForCausalLM.from_pretrained(lm_ckpt, dtype=torch.float32).to(env.device)
reloaded = PeftModel.from_pretrained(fresh, str(SCRATCH / "pirate-lora"))
probe = lm_tok(["Arr, what be the weather today?"], return_tensors="pt").to(env.device)
pirate.eval()
with torch.no_grad():
    trained_logits = pirate(**probe).logits
    reloaded_logits = reloaded(**probe).logits
print("reloaded adapter gives the trained model's logits:", torch.equal(trained_logits, reloaded_logits))
print("adapter config: r", reloaded.peft_config["default"].r, "| targets",
      sorted(reloaded.peft_config["default"].target_modules))

# %% [markdown]
# `merge_and_unload()` computes `W + (alpha/r) B A` once for every wrapped layer, writes it into the
# base weights and removes the LoRA layers: what comes back is a plain transformers model with no
# extra cost at inference, which `save_pretrained` stores as a normal full checkpoint. The outputs
# agree with the unmerged model up to float rounding:

# %% tags=["nbval-check-output", "same-online"]
merged = reloaded.merge_and_unload()
with torch.no_grad():
    merged_logits = merged(**probe).logits
merge_diff = (merged_logits - reloaded_logits).abs().max().item()
torch.testing.assert_close(merged_logits, reloaded_logits, atol=1e-4, rtol=1e-4)
print(type(merged).__name__, "| LoRA layers left:", sum("lora" in n for n, _ in merged.named_modules()))
print("merged logits == adapter logits (atol 1e-4):", merge_diff < 1e-4)

# %%
print(f"max |merged - unmerged| logit = {merge_diff:.1e}")
print("same greedy answers after merging:", answers(merged) == after)

# %% [markdown]
# ## Common pitfalls
# - **`print_trainable_parameters` disagrees with an old tutorial.** Old PEFT versions counted the
#   frozen original of a `modules_to_save` layer as trainable (56,164 for the MLP above); PEFT 0.21
#   reports 52,162 for the same model. Count `requires_grad` parameters yourself when in doubt.
# - **`target_modules` is not always a regex.** A list matches exact names or name suffixes
#   (`"query"` matches `bert.encoder.layer.0.attention.self.query`); only a single string is a
#   regular expression, and it must match the *whole* name.
# - **Names differ between architectures.** BERT's `query`/`value` are DistilBERT's `q_lin`/`v_lin`
#   and Llama's `q_proj`/`v_proj`; PEFT has defaults for many model types but not DistilBERT, where
#   `target_modules=None` raises. Print `named_modules()` and choose.
# - **A new head must train.** `modules_to_save` means "train in full and save with the adapter",
#   not "do not train with LoRA". `task_type="SEQ_CLS"` adds `classifier`/`score`, but not
#   DistilBERT's randomly initialized `pre_classifier` nor BERT's `pooler`: add them yourself, as
#   section 4 does, or LoRA is compared with a full fine-tuning that trained more new layers.
# - **Same learning rate as full fine-tuning.** LoRA usually needs a larger one (1e-4 to 1e-3 for
#   LLMs, up to a few 1e-3 for small encoders).
# - **Merging before you are done.** After `merge_and_unload()` the adapter is gone from that model;
#   keep the saved adapter if you want to train on or switch adapters.
# - **`nn.CrossEntropyLoss` after `LogSoftmax`**, a common pairing, works only by accident (a
#   log-softmax of log-probabilities changes nothing); pair `LogSoftmax` with `nn.NLLLoss`, or drop
#   the `LogSoftmax` and use `CrossEntropyLoss` on raw logits.

# %% [markdown]
# ## Exercises
# Each exercise ends with a checker from `cu.check`: it tests your answer on fresh inputs and prints
# ✅ or a specific hint. Worked solutions: [solutions/08_peft_lora_solutions.ipynb](solutions/08_peft_lora_solutions.ipynb).
#
# **08.1** Write `lora_trainable_params(model, r, target_modules)`: the number of parameters that
# LoRA of rank `r` trains on `model` (no `modules_to_save`), computed without PEFT. Use section 2's
# matching rule: a list entry matches an `nn.Linear` whose name equals it or ends with `"." + entry`;
# a single string is a regular expression that must match the whole name. Each match adds
# `r · (in_features + out_features)`. The checker compares with PEFT on models you have not seen
# (PEFT's `get_peft_model`, its name matching and `print_trainable_parameters` are switched off while
# your function runs).
# Think: what does it give for the emotion classifier with `r` = 1, 4 and 32?

# %% tags=["nbval-check-output", "same-online"]
def lora_trainable_params(model: nn.Module, r: int, target_modules) -> int:
    raise NotImplementedError  # your code here


cu.check.exercise_08_1(lora_trainable_params)

# %% [markdown]
# **08.2** Predict the first number `print_trainable_parameters()` reports for a classifier with
# LoRA of rank `r` on `target_modules` and the head in `modules_to_save` as in `lora_classifier()`:
# write `classifier_trainable_params(model, r, target_modules)`. Use your function of 08.1 and add
# the head (every parameter outside `model.base_model_prefix`, and the pooler's). The checker tries
# BERT, DistilBERT and Llama classifiers. Think: what does it give for section 4's emotion classifier
# with `r=6` and LoRA also on the key and the attention's output projection
# (`["query", "key", "value", "attention.output.dense"]`; DistilBERT's `q_lin`, `k_lin`, `v_lin`,
# `out_lin`), and does the accuracy move with the extra projections?

# %% tags=["nbval-check-output", "same-online"]
def classifier_trainable_params(model: nn.Module, r: int, target_modules) -> int:
    raise NotImplementedError  # your code here


cu.check.exercise_08_2(classifier_trainable_params)

# %% [markdown]
# **08.3** Merge a LoRA layer by hand: write `merge_lora(layer)` that takes a PEFT LoRA layer (like
# `lora0` of section 3) and returns a **new** plain `nn.Linear` with the weight `W + (alpha/r) B A`
# and the base layer's bias, leaving `layer` as it was. The checker uses layers whose `alpha/r` is
# not 1 and compares the merged weights (PEFT's `merge`, `get_delta_weight` and the LoRA layer's
# forward are switched off while your function runs).

# %% tags=["nbval-check-output", "same-online"]
def merge_lora(layer) -> nn.Linear:
    raise NotImplementedError  # your code here


cu.check.exercise_08_3(merge_lora)

# %% [markdown]
# **08.4** One base model, several adapters: write `adapter_outputs(base, adapters, x)`, where
# `adapters` maps names to folders that `save_pretrained` wrote for adapters of `base`. Load them all
# on **one** `PeftModel` (`PeftModel.from_pretrained(base, path, adapter_name=name)` for the first,
# `model.load_adapter(path, adapter_name=name)` for the others) and return
# `{name: the output on x with that adapter active}` (switch with `set_adapter`; eval mode, no
# gradients). Think: train a second adapter on the chat model (answers in French) and switch between
# it and `pirate-lora` without loading the base model twice.

# %% tags=["nbval-check-output", "same-online"]
def adapter_outputs(base: nn.Module, adapters: dict[str, str], x: torch.Tensor) -> dict[str, torch.Tensor]:
    raise NotImplementedError  # your code here


cu.check.exercise_08_4(adapter_outputs)

# %% [markdown]
# ## Recap
# - LoRA learns `(alpha/r) B A` beside each frozen target matrix; `B = 0` at the start, so training
#   starts from the pretrained model exactly.
# - `LoraConfig(r, lora_alpha, target_modules, modules_to_save, task_type)` + `get_peft_model`
#   gives an ordinary `nn.Module`; train it with any loop or `Trainer`.
# - It trains about 1 % of the weights here (the head included; a fraction of a percent on large
#   models), steps somewhat faster, saves megabytes instead
#   of the whole model, and after `merge_and_unload()` costs nothing at inference.
#
# **Next:** [09 · Distributed training](09_distributed.ipynb), where one training run uses several
# processes.
