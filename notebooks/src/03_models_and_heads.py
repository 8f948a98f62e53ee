# Source of notebooks/03_models_and_heads.ipynb (percent format; build with `make notebooks`).

# %% [markdown]
# # 03 · Models and heads
#
# `from_pretrained` hides three things: a **config** (the architecture as numbers), the **weights**
# (a file of named tensors) and a **class** that decides which layers sit on top of the shared
# transformer body. This chapter opens each of them: it builds a model from a config and from a
# checkpoint, reads a safetensors file byte by byte, runs every common head once, counts
# parameters without downloading anything, and shows where the Hub's files end up on disk.
#
# **Learning objectives**
# - distinguish a config from weights: build a model both ways, save it and reload it exactly;
# - read a `.safetensors` file by hand and explain why it replaced pickled `.bin` files;
# - choose between `AutoModel` and the `AutoModelFor...` classes, run six heads and read their
#   outputs (`ModelOutput` by attribute, key and index);
# - explain "newly initialized weights" and what `post_init()` does (initialisation, tying), and
#   count parameters (bert-base vs distilbert) from configs;
# - decode a question-answering span correctly (context tokens only, `offset_mapping`);
# - find the Hugging Face cache, explain how offline mode resolves files, fetch files for an
#   offline machine (`hf_hub_download`, `snapshot_download`, `hf download`) and verify them by sha256.
#
# **Prerequisites:** [02 · Tokenizers](02_tokenizers.ipynb).
# **Run time:** 8 s on a 2-core CPU (quick profile). [Glossary (EN/中文)](../GLOSSARY.md)

# %% [markdown]
# ## Setup

# %%
import course_utils as cu

env = cu.setup(seed=0)  # first: it also quiets the libraries imported below

import io
import json
import logging
import os
import pickle
import re
import shutil
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
import transformers
from safetensors import safe_open
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForMaskedLM,
    AutoModelForMultipleChoice,
    AutoModelForQuestionAnswering,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    AutoTokenizer,
)

SCRATCH = Path("_scratch/03_models_and_heads")  # files this notebook writes (gitignored)
shutil.rmtree(SCRATCH, ignore_errors=True)
SCRATCH.mkdir(parents=True)

# %% [markdown]
# ## 1 · Three classes and a file layout
# Every model in `transformers` is made of the same three kinds of object:
#
# | class | role | file in `transformers/models/bert/` |
# |---|---|---|
# | `PretrainedConfig` (here `BertConfig`) | the architecture as numbers: sizes, layers, vocabulary | `configuration_bert.py` |
# | `PreTrainedModel` (here `BertModel`, `BertForSequenceClassification`, ...) | an `nn.Module` with `from_pretrained`/`save_pretrained` | `modeling_bert.py` |
# | the tokenizer (`BertTokenizerFast`, notebook 02) | text to ids | `tokenization_bert*.py` |
#
# `transformers` deliberately repeats code: each model family has its own `modeling_*.py` with
# every layer written out, so you can read one file top to bottom. A `pipeline` (notebook 01) just
# combines a tokenizer and a model. We use the course's encoder; `resolve_checkpoint` says which
# one you got.

# %%
ckpt = cu.resolve_checkpoint(cu.ENCODER)
tokenizer = AutoTokenizer.from_pretrained(ckpt)
config = AutoConfig.from_pretrained(ckpt)  # reads config.json only: a few hundred bytes

# %% [markdown]
# `AutoConfig` read `model_type` from `config.json` and picked the matching config class. The
# model class knows its config class, and its source file and ancestors answer "where is the
# code?" (offline stand-in: a BERT; online: DistilBERT, with `modeling_distilbert.py`):

# %% tags=["nbval-check-output", "online-expected"]
print(type(config).__name__, "| model_type:", config.model_type)
for field in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "max_position_embeddings"):
    print(f"  {field:24s} {getattr(config, field)}")
model_class = transformers.MODEL_MAPPING[type(config)]  # what AutoModel will instantiate
print(model_class.__name__, "uses", model_class.config_class.__name__)
print("defined in module:", model_class.__module__)
print("ancestors:", " -> ".join(c.__name__ for c in model_class.__mro__[1:4]))

# %% [markdown]
# ## 2 · Config vs weights
# A config describes *shapes*; it contains no learned numbers. `AutoModel.from_config(config)`
# builds the architecture and fills it with random numbers (normal with standard deviation
# `config.initializer_range`). `AutoModel.from_pretrained(ckpt)` builds the same architecture and
# then copies the checkpoint's tensors into it.

# %%
torch.manual_seed(0)
random_body = AutoModel.from_config(config)  # architecture only, random weights, training mode
body = AutoModel.from_pretrained(ckpt)  # same architecture + the checkpoint's weights, eval mode

# %% tags=["nbval-check-output", "online-expected"]
w_random = random_body.get_input_embeddings().weight
w_pretrained = body.get_input_embeddings().weight
print(type(random_body).__name__, "and", type(body).__name__)
print("same number of parameters:", random_body.num_parameters() == body.num_parameters())
print("same word embeddings:", torch.equal(w_random, w_pretrained))
print(f"std of random embeddings: {w_random.std():.3f} (initializer_range = {config.initializer_range})")
print("training mode after from_config / from_pretrained:", random_body.training, body.training)

# %% [markdown]
# Who draws those random numbers? Every model's `__init__` ends with `self.post_init()` (open any
# `modeling_*.py`, BART's or BERT's, to see it). It initialises every module with the class's
# `_init_weights` (normal with std `initializer_range` for Linear and Embedding weights, zeros for
# biases, ones and zeros for LayerNorms) and then
# **ties** the weights the config asks to share: with `tie_word_embeddings=True` the masked-LM
# decoder *is* the word-embedding matrix. A tiny random BERT shows both:

# %% tags=["nbval-check-output", "same-online"]
from transformers import BertConfig, BertForMaskedLM

tiny_sizes = dict(vocab_size=100, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64)
for tie in (True, False):
    tiny_mlm = BertForMaskedLM(BertConfig(**tiny_sizes, tie_word_embeddings=tie))
    decoder, embedding = tiny_mlm.get_output_embeddings().weight, tiny_mlm.get_input_embeddings().weight
    print(f"tie_word_embeddings={tie!s:5s} decoder shares storage with the embeddings: "
          f"{decoder.data_ptr() == embedding.data_ptr()} | tied by post_init: {sorted(tiny_mlm.all_tied_weights_keys)}")
norm = tiny_mlm.bert.embeddings.LayerNorm
assert torch.equal(norm.weight, torch.ones(32)) and torch.equal(norm.bias, torch.zeros(32))  # LayerNorm init

# %% [markdown]
# The difference matters: the pretrained weights place related sentences close together, the
# random ones do not. Mean-pooled sentence vectors (the average of the last hidden states over the
# real tokens, not the padding: notebook 10 explains it, and exercise 10.1 has you write it) and
# their cosine similarities:

# %%
from course_utils.embeddings import mean_pool


def sentence_vectors(model, texts):
    """Mean of the last hidden states over real (non-padding) tokens, scaled to length 1."""
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    model.eval()
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    return torch.nn.functional.normalize(mean_pool(hidden, batch["attention_mask"]), dim=-1)


texts = ["I loved this film.", "What a wonderful movie!", "The invoice is due on Friday."]
for name, model in [("random", random_body), ("pretrained", body)]:
    v = sentence_vectors(model, texts)
    print(f"{name:10s} related pair {v[0] @ v[1]:.2f} | unrelated pair {v[0] @ v[2]:.2f}")

# %% [markdown]
# `save_pretrained` writes the config and the weights (and `tokenizer.save_pretrained` the
# tokenizer files). Current versions write `model.safetensors`, not the `pytorch_model.bin` that
# older tutorials show. Loading the folder back gives exactly the same tensors and outputs.

# %%
save_dir = SCRATCH / "my-encoder"
body.save_pretrained(save_dir)
tokenizer.save_pretrained(save_dir)
reloaded = AutoModel.from_pretrained(save_dir)

# %% tags=["nbval-check-output", "online-expected"]
print(sorted(p.name for p in save_dir.iterdir()))
before, after = body.state_dict(), reloaded.state_dict()
assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
inputs = tokenizer("I've been waiting for a HuggingFace course my whole life.", return_tensors="pt")
with torch.no_grad():
    diff = (body(**inputs).last_hidden_state - reloaded(**inputs).last_hidden_state).abs().max().item()
print(f"{len(before)} tensors identical after reload; max |difference| of the outputs: {diff}")
config_again = type(config).from_json_file(save_dir / "config.json")  # same as AutoConfig.from_pretrained(save_dir)
print("hidden_size from the saved config.json:", config_again.hidden_size)

# %% [markdown]
# ## 3 · The safetensors format, by hand
# A `.safetensors` file is deliberately simple:
#
# 1. 8 bytes: the length `N` of the header, an unsigned 64-bit **little-endian** integer;
# 2. `N` bytes: a JSON header mapping each tensor name to its `dtype`, `shape` and
#    `data_offsets` `[begin, end)`, plus an optional `__metadata__` entry;
# 3. the raw tensor bytes; offsets count from the **start of this data section** (byte `8 + N`),
#    not from the start of the file.

# %% tags=["nbval-check-output"]
weights_file = save_dir / "model.safetensors"
with open(weights_file, "rb") as f:
    header_len = int.from_bytes(f.read(8), "little")  # or struct.unpack("<Q", ...)
    header = json.loads(f.read(header_len))
print("header bytes:", header_len, "| tensors:", len(header) - 1, "| metadata:", header.get("__metadata__"))
entries = sorted((v["data_offsets"][0], k) for k, v in header.items() if k != "__metadata__")
for _, name in entries[:3]:
    print(f"  {name:40s} {header[name]}")

# %% [markdown]
# To read one tensor: seek to `8 + N + begin`, read `end - begin` bytes, interpret them with the
# dtype (little-endian) and reshape. We read a tensor from the *middle* of the file and compare
# it with `safe_open` (the library reader) and with the model in memory.

# %% tags=["nbval-check-output"]
NUMPY_DTYPES = {"F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "U8": "u1", "BOOL": "?"}  # BF16: no NumPy dtype


def read_tensor(path, name):
    """Read one tensor from a .safetensors file with nothing but open(), json and NumPy."""
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        info = json.loads(f.read(n))[name]
        begin, end = info["data_offsets"]
        f.seek(8 + n + begin)
        raw = f.read(end - begin)
    return np.frombuffer(raw, dtype=NUMPY_DTYPES[info["dtype"]]).reshape(info["shape"])


name = "encoder.layer.0.attention.output.LayerNorm.bias"
if name not in header:  # the online DistilBERT names its tensors differently: take the middle one
    name = entries[len(entries) // 2][1]
by_hand = read_tensor(weights_file, name)
with safe_open(weights_file, framework="np") as f:
    by_library = f.get_tensor(name)
print(name, by_hand.dtype, by_hand.shape, "| first values:", np.round(by_hand[:3], 4))
print("equal to safe_open:", np.array_equal(by_hand, by_library))
print("equal to the model in memory:", torch.equal(torch.from_numpy(by_hand.copy()), body.state_dict()[name]))

# %% [markdown]
# Because every offset is known, a reader can fetch *part* of a tensor without touching the rest
# (that is also how `safe_open` memory-maps files and how large models load lazily). One row of
# the word-embedding matrix, the vector of the token "course":

# %% tags=["nbval-check-output", "online-expected"]
emb_name = next(k for k in header if k.endswith("word_embeddings.weight"))
info = header[emb_name]
token_id = tokenizer.convert_tokens_to_ids("course")
row_bytes = info["shape"][1] * 4  # float32
with open(weights_file, "rb") as f:
    f.seek(8 + header_len + info["data_offsets"][0] + token_id * row_bytes)
    row = np.frombuffer(f.read(row_bytes), dtype="<f4")
with safe_open(weights_file, framework="pt") as f:
    row_lib = f.get_slice(emb_name)[token_id]
print(emb_name, info["shape"], "| token id of 'course':", token_id)
print("row read by hand equals get_slice:", torch.equal(torch.from_numpy(row.copy()), row_lib))

# %% [markdown]
# **Why not pickle?** `torch.save` writes a pickle, and unpickling can run code: a pickle may
# tell the loader "call this function with these arguments". The harmless example below prints a
# line while it is being *loaded*; a malicious file could run any command instead. safetensors
# files contain only a JSON header and numbers, so loading them cannot execute anything (and they
# load faster, with memory mapping). Since PyTorch 2.6, `torch.load` defaults to
# `weights_only=True` and refuses such files.

# %% tags=["nbval-check-output", "same-online"]
class NotJustWeights:
    def __reduce__(self):  # pickle stores "call print(...)" instead of data
        return (print, ("!! this line was printed while LOADING the file: it could have been any command",))


pickle.loads(pickle.dumps(NotJustWeights()))
torch.save({"weight": torch.ones(2), "extra": NotJustWeights()}, SCRATCH / "suspicious.bin")
try:
    torch.load(SCRATCH / "suspicious.bin")  # weights_only=True by default
except pickle.UnpicklingError as err:
    print("torch.load refused it:", next(line.strip() for line in str(err).splitlines() if "WeightsUnpickler" in line)[:80])

# %% [markdown]
# ## 4 · The body and its heads
# The two classes side by side:
#
# | | `AutoModel` | `AutoModelForSequenceClassification` |
# |---|---|---|
# | what it builds | the body only (`BertModel`, `DistilBertModel`...) | the same body + a classification head |
# | output | `last_hidden_state` (batch, tokens, hidden) and, for BERT, `pooler_output` | `logits` (batch, `num_labels`), and `loss` when you pass `labels` |
# | use | features, embeddings, your own head | classification: sentiment, topics, emotion |
# | from a base checkpoint | every weight loaded | body loaded, **head newly initialized** (random): train it |
#
# Other heads follow the same pattern: `AutoModelForTokenClassification`, `...ForQuestionAnswering`,
# `...ForMultipleChoice`, `...ForMaskedLM`, `...ForCausalLM`. Loading a head that the checkpoint
# does not contain is allowed: its weights are drawn at random, and `output_loading_info=True`
# tells you which ones.

# %% tags=["nbval-check-output"]
labels = list(cu.EMOTION_LABELS)
clf, loading_info = AutoModelForSequenceClassification.from_pretrained(
    ckpt,
    num_labels=len(labels),
    id2label=dict(enumerate(labels)),
    label2id={label: i for i, label in enumerate(labels)},
    output_loading_info=True,
)
print(type(clf).__name__, "| children:", [name for name, _ in clf.named_children()])
print("newly initialized:", sorted(loading_info["missing_keys"]))
print("in the checkpoint but unused:", sorted(loading_info["unexpected_keys"]))
print("body weights equal to AutoModel's:", torch.equal(clf.base_model.get_input_embeddings().weight, w_pretrained))
print("id2label:", clf.config.id2label)

# %% [markdown]
# The body is the pretrained one; only the head (for BERT: `classifier`; for DistilBERT:
# `pre_classifier` and `classifier`, two linear layers = four tensors) is new. In an interactive
# session `transformers` announces this with a **LOAD REPORT** table; the course's `setup()`
# silences it, so here we capture it once (with the checkpoint's location shortened):

# %%
buffer = io.StringIO()
handler = logging.StreamHandler(buffer)
transformers.utils.logging.set_verbosity_warning()
transformers.utils.logging.disable_default_handler()  # to our buffer, not to stderr
transformers.utils.logging.add_handler(handler)
try:
    AutoModelForSequenceClassification.from_pretrained(ckpt, num_labels=len(labels))
finally:
    transformers.utils.logging.remove_handler(handler)
    transformers.utils.logging.enable_default_handler()
    transformers.utils.logging.set_verbosity_error()
report = re.sub(r"\x1b\[[0-9;]*m", "", buffer.getvalue())  # drop terminal colours
print(report.replace(ckpt, "<checkpoint>"))

# %% [markdown]
# "Newly initialized" means random: two loads with different seeds give different heads and the
# same body. Seed before loading if you want a reproducible starting point. Before fine-tuning
# (notebook 05) the head's predictions are meaningless.

# %% tags=["nbval-check-output", "same-online"]
transformers.set_seed(1)
clf_other = AutoModelForSequenceClassification.from_pretrained(ckpt, num_labels=len(labels))
print("same head:", torch.equal(clf.classifier.weight, clf_other.classifier.weight))  # last head layer
print("same body:", all(torch.equal(a, b) for a, b in zip(clf.base_model.parameters(), clf_other.base_model.parameters())))
_ = cu.seed_everything(0)  # it returns the seed

# %% [markdown]
# ### Six heads, one forward pass each
# Each head needs its own inputs: a sentence, a sentence with a `[MASK]`, a (question, context)
# pair, and for multiple choice a tensor of shape **(batch, choices, tokens)**: the
# (prompt, choice) pairs are encoded as a batch of 3 and then given a leading batch dimension.
# The causal LM comes from the course's causal checkpoint, with its own tokenizer.

# %%
sentence = tokenizer("Hugging Face is based in New York City.", return_tensors="pt")
masked = tokenizer(f"The capital of France is {tokenizer.mask_token}.", return_tensors="pt")
qa_pair = tokenizer("Where is Hugging Face based?", "Hugging Face is a company based in New York City.", return_tensors="pt")
prompt, choices = "To keep the milk fresh, put it", ["in the fridge.", "in the oven.", "under the sun."]
mc_pairs = tokenizer([prompt] * len(choices), choices, padding=True, return_tensors="pt")
multiple_choice = {k: v.unsqueeze(0) for k, v in mc_pairs.items()}  # (1, 3, tokens)

lm_ckpt = cu.resolve_checkpoint(cu.CAUSAL_LM)
lm_tokenizer = AutoTokenizer.from_pretrained(lm_ckpt)
lm_inputs = lm_tokenizer("The capital of France is", return_tensors="pt")

heads = [  # (auto class, checkpoint, extra from_pretrained arguments, inputs)
    (AutoModelForSequenceClassification, ckpt, {"num_labels": 6}, sentence),
    (AutoModelForTokenClassification, ckpt, {"num_labels": 9}, sentence),
    (AutoModelForQuestionAnswering, ckpt, {}, qa_pair),
    (AutoModelForMultipleChoice, ckpt, {}, multiple_choice),
    (AutoModelForMaskedLM, ckpt, {}, masked),
    (AutoModelForCausalLM, lm_ckpt, {}, lm_inputs),
]
models, outputs, new_tensors = {}, {}, {}
for auto_class, checkpoint, kwargs, batch in heads:
    key = auto_class.__name__.removeprefix("AutoModelFor")
    models[key], info = auto_class.from_pretrained(checkpoint, output_loading_info=True, **kwargs)
    new_tensors[key] = len(info["missing_keys"])
    extra = {"use_cache": False} if key == "CausalLM" else {}  # no key/value cache: logits only
    with torch.no_grad():
        outputs[key] = models[key](**batch, **extra)

# %% tags=["nbval-check-output"]
for (_, _, _, batch), (key, out) in zip(heads, outputs.items()):
    fields = ", ".join(f"{k} {tuple(v.shape)}" for k, v in out.items())
    print(f"{type(models[key]).__name__:28s} input_ids {str(tuple(batch['input_ids'].shape)):11s} -> {fields}")
    print(f"{'':28s} newly initialized tensors: {new_tensors[key]}")

# %% [markdown]
# Read the shapes: sequence classification gives one row of `num_labels` scores per *text*;
# token classification one row per *token*; question answering two scores per token (is the
# answer's start here? its end?); multiple choice one score per *choice*; both language-model
# heads one score per *vocabulary entry* at every position. Offline, the encoder stand-in has no
# masked-LM head (6 newly initialized tensors; the decoder reuses the word embeddings), so its
# `[MASK]` guesses are noise; online, DistilBERT's own head loads. The causal LM is complete,
# so its next-token prediction is meaningful:

# %% tags=["nbval-check-output"]
next_id = outputs["CausalLM"].logits[0, -1].argmax().item()
print("The capital of France is ->", repr(lm_tokenizer.decode(next_id)))
mask_pos = masked["input_ids"][0].tolist().index(tokenizer.mask_token_id)
guess = tokenizer.decode(outputs["MaskedLM"].logits[0, mask_pos].argmax().item())
print("The capital of France is [MASK]. ->", repr(guess), "" if new_tensors["MaskedLM"] == 0 else "(random head: ignore it)")
qa = outputs["QuestionAnswering"]
print("QA span indices:", qa.start_logits.argmax().item(), qa.end_logits.argmax().item(), "(untrained head)" if new_tensors["QuestionAnswering"] else "")

# %% [markdown]
# ### Decoding a question-answering span
# A common reading takes the answer as tokens `argmax(start_logits)` to `argmax(end_logits) + 1`.
# Taken separately, the two argmaxes can land in the *question* or on `[CLS]`, put the end before the
# start, or span half the text. Correct decoding (what the `question-answering` pipeline does):
# score every pair (start `i`, end `j`) by `start_logits[i] + end_logits[j]`, keep only **context
# tokens** (`sequence_ids == 1`) with `i <= j < i + max_answer_len`, take the best pair, and map it
# back to characters of the context with `offset_mapping`. Neither checkpoint here has a trained QA
# head (online, a SQuAD model such as `distilbert/distilbert-base-cased-distilled-squad` has one),
# so the answer below is meaningless, but the mechanics are right.

# %%
def best_span(start_logits, end_logits, sequence_ids, max_answer_len=15):
    """Token indices (start, end), inclusive, of the best-scoring span inside the context (sequence 1)."""
    n = len(sequence_ids)
    in_context = torch.tensor([s == 1 for s in sequence_ids])
    i, j = torch.arange(n)[:, None], torch.arange(n)[None, :]
    allowed = in_context[:, None] & in_context[None, :] & (j >= i) & (j < i + max_answer_len)
    scores = (start_logits[:, None] + end_logits[None, :]).masked_fill(~allowed, float("-inf"))
    start, end = divmod(scores.argmax().item(), n)
    return start, end


question, context = "Where is Hugging Face based?", "Hugging Face is a company based in New York City."
qa_inputs = tokenizer(question, context, return_offsets_mapping=True, return_tensors="pt")
offsets = qa_inputs.pop("offset_mapping")[0].tolist()  # (char start, char end) of each token
sequence_ids = qa_inputs.sequence_ids(0)  # None for special tokens, 0 question, 1 context
with torch.no_grad():
    qa_out = models["QuestionAnswering"](**qa_inputs)
start_logits, end_logits = qa_out.start_logits[0], qa_out.end_logits[0]
naive = start_logits.argmax().item(), end_logits.argmax().item()
start, end = best_span(start_logits, end_logits, sequence_ids)
start_char, end_char = offsets[start][0], offsets[end][1]
answer = context[start_char:end_char]
decoded = tokenizer.decode(qa_inputs["input_ids"][0][start : end + 1])
print(f"naive argmaxes: start {naive[0]} (sequence {sequence_ids[naive[0]]}), end {naive[1]} (sequence {sequence_ids[naive[1]]})")
print(f"best context span: tokens {start}..{end} -> characters {start_char}..{end_char}: {answer!r}")
assert sequence_ids[start] == sequence_ids[end] == 1 and start <= end
assert decoded.replace(" ", "") == answer.lower().replace(" ", "")  # the tokens spell the characters (uncased tokenizer)

# %% [markdown]
# To see the decoder do its job, give it planted scores: "New" and "City" score well as start
# and end, but the highest start score sits in the question and the highest end score on the
# context's first word. The naive reading returns a piece of the question, `[SEP]` included;
# `best_span` finds "New York City". The answer is cut from the context by character offsets, so
# it keeps the original case (decoding the tokens of an uncased model would give "new york city").

# %% tags=["nbval-check-output", "same-online"]
def token_at(char_index):
    """Index of the context token that starts at ``char_index``."""
    return next(t for t, (s, _) in enumerate(offsets) if sequence_ids[t] == 1 and s == char_index)


planted_start, planted_end = torch.zeros(len(offsets)), torch.zeros(len(offsets))
planted_start[token_at(context.index("New"))] = 4.0
planted_end[token_at(context.index("City"))] = 3.0
planted_start[sequence_ids.index(0)] = 6.0  # "where", in the question
planted_end[token_at(context.index("Hugging"))] = 3.5  # the context's first token, before "New"
s_naive, e_naive = planted_start.argmax().item(), planted_end.argmax().item() + 1
print("two separate argmaxes:", repr(tokenizer.decode(qa_inputs["input_ids"][0][s_naive:e_naive])), f"(tokens {s_naive}:{e_naive})")
s_best, e_best = best_span(planted_start, planted_end, sequence_ids)
print("best_span:", repr(context[offsets[s_best][0] : offsets[e_best][1]]))
assert context[offsets[s_best][0] : offsets[e_best][1]] == "New York City"

# %% [markdown]
# A head is a small layer on the body's hidden states. Recomputing two of them by hand (the
# models are in eval mode, so dropout does nothing) gives the same logits:

# %% tags=["nbval-check-output", "same-online"]
tok_clf, lm = models["TokenClassification"], models["CausalLM"]
with torch.no_grad():
    hidden = tok_clf.base_model(**sentence).last_hidden_state  # (1, tokens, hidden)
    by_hand = tok_clf.classifier(hidden)  # one Linear(hidden, num_labels)
    lm_hidden = lm.base_model(**lm_inputs).last_hidden_state
    lm_by_hand = lm.lm_head(lm_hidden)  # Linear(hidden, vocab_size), no bias
for what, mine, theirs in [("token classification", by_hand, outputs["TokenClassification"].logits),
                           ("causal LM", lm_by_hand, outputs["CausalLM"].logits)]:
    torch.testing.assert_close(mine, theirs)
    print(f"{what:22s} head by hand == model: max |difference| {(mine - theirs).abs().max().item():.1e}")
print("causal LM head shares the embedding matrix:", lm.lm_head.weight is lm.get_input_embeddings().weight)

# %% [markdown]
# ### `ModelOutput`: attribute, key or index
# Every model returns a `ModelOutput`, a dataclass that is also an ordered dict. Fields that are
# `None` (no `labels`, so no `loss`) are *left out*, so index 0 is `logits` without labels and
# `loss` with them: prefer names. `return_dict=False` gives a plain tuple, as very old versions did.

# %% tags=["nbval-check-output", "online-expected"]
with torch.no_grad():
    out = clf(**sentence)
    out_with_loss = clf(**sentence, labels=torch.tensor([1]))
    as_tuple = clf(**sentence, return_dict=False)
    with_hidden = clf(**sentence, output_hidden_states=True)
print(type(out).__name__, "| a dict:", isinstance(out, dict), "| keys:", list(out.keys()))
assert out.logits is out["logits"] is out[0] and torch.equal(out.to_tuple()[0], out.logits)
print("with labels, keys:", list(out_with_loss.keys()), "| [0] is now the loss:", out_with_loss[0] is out_with_loss.loss)
print("return_dict=False:", type(as_tuple).__name__, "of", len(as_tuple))
print("hidden_states: embeddings + one per layer =", len(with_hidden.hidden_states), "tensors of", tuple(with_hidden.hidden_states[-1].shape))

# %% [markdown]
# ## 5 · Counting parameters without downloading
# The figures usually quoted are 109,482,240 parameters for `bert-base-uncased` and 66,362,880 for
# `distilbert-base-uncased`. The default `BertConfig()` and `DistilBertConfig()` *are* those two
# architectures, so we can check the numbers without any download. Building under
# `torch.device("meta")` creates tensors that have a shape but no memory and no values: instant,
# even for billions of parameters.

# %%
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    BertModel,
    DistilBertConfig,
    DistilBertForSequenceClassification,
    DistilBertModel,
)

with torch.device("meta"):  # shapes only
    meta = {
        "BertModel (bert-base)": BertModel(BertConfig()),
        "BertModel without pooler": BertModel(BertConfig(), add_pooling_layer=False),
        "DistilBertModel (distilbert-base)": DistilBertModel(DistilBertConfig()),
        "BertForSequenceClassification, 6 labels": BertForSequenceClassification(BertConfig(num_labels=6)),
        "DistilBertForSequenceClassification, 6": DistilBertForSequenceClassification(DistilBertConfig(num_labels=6)),
    }

# %% [markdown]
# The same numbers follow from the shapes. Per BERT layer with hidden size `H` and feed-forward
# size `I`: four attention projections `4(H²+H)`, the feed-forward pair `HI+I + IH+H`, two
# LayerNorms `4H`. Embeddings: `(vocab + positions + token types)·H` plus a LayerNorm `2H`. The
# pooler (BERT only) is one more `H²+H`.

# %% tags=["nbval-check-output", "same-online"]
def layer_parameters(hidden, ffn):
    """Parameters of one transformer encoder layer."""
    return 4 * (hidden * hidden + hidden) + (hidden * ffn + ffn) + (ffn * hidden + hidden) + 4 * hidden


def encoder_parameters(vocab, positions, token_types, hidden, ffn, layers, pooler):
    """Parameters of a BERT-style encoder body, from its shapes."""
    embeddings = (vocab + positions + token_types) * hidden + 2 * hidden
    return embeddings + layers * layer_parameters(hidden, ffn) + (hidden * hidden + hidden if pooler else 0)


formula = {
    "BertModel (bert-base)": encoder_parameters(30522, 512, 2, 768, 3072, 12, pooler=True),
    "BertModel without pooler": encoder_parameters(30522, 512, 2, 768, 3072, 12, pooler=False),
    "DistilBertModel (distilbert-base)": encoder_parameters(30522, 512, 0, 768, 3072, 6, pooler=False),
}
for name, model in meta.items():
    n = model.num_parameters()
    check = f"formula {formula[name]:,}" if name in formula else ""
    print(f"{name:42s} {n:>12,}  {check}")
    assert name not in formula or formula[name] == n
assert meta["BertModel (bert-base)"].num_parameters() == 109_482_240
assert meta["DistilBertModel (distilbert-base)"].num_parameters() == 66_362_880

# %% [markdown]
# So the quoted figures are the **bodies**: 109,482,240 includes BERT's pooler (590,592), and
# DistilBERT has neither a pooler nor token-type embeddings. Where the 43 million go:

# %% tags=["nbval-check-output", "same-online"]
layer_size = layer_parameters(768, 3072)
pooler_size, token_types = 768 * 768 + 768, 2 * 768
print(f"one transformer layer: {layer_size:,} | pooler: {pooler_size:,} | token-type embeddings: {token_types:,}")
gap = 109_482_240 - 66_362_880
assert gap == 6 * layer_size + pooler_size + token_types
print(f"bert-base - distilbert = {gap:,} = 6 layers + pooler + token types")
head_bert = meta["BertForSequenceClassification, 6 labels"].num_parameters() - 109_482_240
head_distil = meta["DistilBertForSequenceClassification, 6"].num_parameters() - 66_362_880
print(f"a 6-label head adds {head_bert:,} (BERT: classifier) or {head_distil:,} (DistilBERT: pre_classifier + classifier)")

# %%
def parameter_groups(model):
    """Parameters per top-level block: embeddings, layers, pooler."""
    groups = {}
    for name, p in model.named_parameters():
        part = "embeddings" if "embeddings" in name else "pooler" if "pooler" in name else "layers"
        groups[part] = groups.get(part, 0) + p.numel()
    return groups


fig, ax = plt.subplots(figsize=(6, 2.8))
names = ["BertModel (bert-base)", "DistilBertModel (distilbert-base)"]
left = np.zeros(len(names))
for part, colour in [("embeddings", "tab:blue"), ("layers", "tab:orange"), ("pooler", "tab:green")]:
    sizes = np.array([parameter_groups(meta[n]).get(part, 0) / 1e6 for n in names])
    ax.barh(["bert-base", "distilbert-base"], sizes, left=left, color=colour, label=part)
    left += sizes
ax.set_xlabel("parameters (millions)")
ax.set_ylabel("model body")
ax.set_title("Where the parameters sit (built on the meta device)", pad=24)  # room for the legend
ax.legend(ncol=3, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)  # the pooler is a sliver: 0.6 M
plt.tight_layout()
plt.show()

# %% [markdown]
# The embedding matrix alone (30,522 × 768 ≈ 23.4 M) is about a fifth of BERT and a third of
# DistilBERT. The models this notebook actually loaded (offline stand-ins: MiniLM and SmolLM2;
# online: DistilBERT and SmolLM2):

# %% tags=["nbval-check-output", "online-expected"]
def shape_of(model):
    """What was loaded, from its config (not from the name that was asked for)."""
    c = model.config
    return f"{c.model_type}, {c.num_hidden_layers} layers, hidden {c.hidden_size}"


print(f"encoder body ({shape_of(body)}): {body.num_parameters():,}")
print(f"causal LM ({shape_of(lm)}): {lm.num_parameters():,}")
naive = sum(t.numel() for t in lm.state_dict().values())
print(f"  summing its state_dict counts the shared embedding twice: {naive:,}")

# %% [markdown]
# ## 6 · Where the files live: the cache, and offline mode
# `from_pretrained("org/name")` downloads into the **hub cache** (`$HF_HOME/hub`, by default
# `~/.cache/huggingface/hub`; override with `HF_HOME` or `HF_HUB_CACHE`). `datasets` keeps its
# Arrow files separately in `$HF_HOME/datasets` (`HF_DATASETS_CACHE`). `TRANSFORMERS_CACHE` no
# longer exists in transformers 5. One repository in the hub cache looks like this:
#
# ```
# hub/models--distilbert--distilbert-base-uncased/
# ├── blobs/                 # file contents, named by their hash, stored once
# ├── refs/main              # the commit that "main" pointed to when you downloaded
# └── snapshots/<commit>/    # the repository as you know it: symlinks into blobs/
#     ├── config.json -> ../../blobs/<hash>
#     └── model.safetensors -> ../../blobs/<hash>
# ```
#
# Two revisions that share a file share its blob. `huggingface_hub.scan_cache_dir()` lists what
# is cached; it raises `CacheNotFound` when nothing was ever downloaded (as on the course's CI
# machine). `make prefetch` stores its downloads in the same layout inside the course folder.

# %%
import datasets
from huggingface_hub import constants, scan_cache_dir
from huggingface_hub.errors import CacheNotFound


def shown(path):
    """A path for printing: ~/... under the home folder, else relative to this notebook."""
    path = Path(path).expanduser().resolve()
    home = Path.home().resolve()
    return "~/" + str(path.relative_to(home)) if path.is_relative_to(home) else os.path.relpath(path)


print("HF_HOME          ", shown(constants.HF_HOME))
print("hub cache        ", shown(constants.HF_HUB_CACHE))
print("datasets cache   ", shown(datasets.config.HF_DATASETS_CACHE))
print("HF_HUB_OFFLINE   ", constants.HF_HUB_OFFLINE)
for folder in (constants.HF_HUB_CACHE, cu.paths.prefetch_dir()):
    try:
        cache = scan_cache_dir(folder)
    except CacheNotFound:
        print(f"{shown(folder)}: not created yet (nothing downloaded)")
        continue
    print(f"{shown(folder)}: {len(cache.repos)} repositories, {cache.size_on_disk / 1e6:.0f} MB")
    for repo in sorted(cache.repos, key=lambda r: r.repo_id):
        revisions = ", ".join(r.commit_hash[:7] for r in repo.revisions)
        print(f"  {repo.repo_type}: {repo.repo_id} ({repo.size_on_disk / 1e6:.1f} MB; snapshots {revisions})")

# %% [markdown]
# **Offline mode.** With `HF_HUB_OFFLINE=1` (set *before* importing the libraries; its old name
# `TRANSFORMERS_OFFLINE` still works) nothing is requested from the Hub: names are looked up in
# the cache only, and a miss fails at once instead of after several retries. `local_files_only=True`
# does the same for one call. A local folder path (as `resolve_checkpoint` returns offline) never
# touches the network.

# %% tags=["nbval-check-output", "online-expected"]
try:
    AutoConfig.from_pretrained("hf-course/not-in-any-cache", local_files_only=True)
except OSError as err:
    print("not cached + local_files_only -> OSError:", type(err).__name__ == "OSError")
print("a saved folder loads anywhere:", AutoConfig.from_pretrained(save_dir).model_type)

# %% [markdown]
# ### Getting files for an offline machine
# The Hub is an **HTTP service**: `huggingface_hub` asks its REST API for metadata
# (`/api/models/<id>`) and downloads each file from its own URL (`/<id>/resolve/<revision>/<file>`).
# Each repository is also a git repository (you may `git clone` it, big files through git-lfs or
# Xet), but the library runs no git and the cache is not a clone. Three ways to fetch files on a
# machine with internet, then copy them to one without:
#
# | call | fetches | returns |
# |---|---|---|
# | `hf_hub_download(repo_id, filename)` | one file | its path in the hub cache |
# | `snapshot_download(repo_id, allow_patterns=[...])` | every file matching a pattern (`ignore_patterns=` excludes) | the snapshot folder; with `local_dir=`, plain files in a folder of your choice |
# | `hf download <repo_id> --include "*.json" --include "*.safetensors" --local-dir <dir>` | the same from a shell (repeat `--include`; list file names instead to get just those) | prints the folder |
#
# On the offline machine, `from_pretrained(<dir>)` loads such a folder; a copied cache works with
# `HF_HUB_OFFLINE=1` (that is `make prefetch`, with `course_utils.prefetch.ALLOW_PATTERNS`).
# `dry_run=True` (online) lists what would be downloaded, with sizes, without downloading.

# %%
from huggingface_hub import hf_hub_download, snapshot_download

patterns = ["*.json", "*.safetensors", "*.txt"]  # configs, weights, vocab: no pickled .bin files
offline_copy = SCRATCH / "offline-copy"
if env.hub:
    config_path = hf_hub_download(cu.ENCODER, "config.json")  # one file, into the hub cache
    folder = snapshot_download(cu.ENCODER, allow_patterns=patterns, local_dir=offline_copy)
    print("downloaded:", sorted(p.name for p in Path(folder).iterdir() if p.is_file()))
    print("loads from the folder:", AutoConfig.from_pretrained(folder).model_type)
else:
    print(f"offline; online this cell runs hf_hub_download({cu.ENCODER!r}, 'config.json')")
    print(f"  and snapshot_download({cu.ENCODER!r}, allow_patterns={patterns}, local_dir={str(offline_copy)!r})")
print("the same from a shell: hf download", cu.ENCODER, " ".join(f'--include "{p}"' for p in patterns), "--local-dir", offline_copy)

# %% [markdown]
# **Is the copy intact?** Large files are stored with Git LFS (or Xet, which keeps the LFS
# metadata): the repository holds a small pointer with the file's **sha256** and size, and
# `HfApi().get_paths_info(repo_id, [paths])` reports them for the files you name (each entry has
# `.lfs.sha256`; `.lfs` is None for small files kept in git itself, identified by their git hash
# `blob_id`); `model_info(repo_id, files_metadata=True).siblings` does it for every file. The
# cache is content-addressed: `blobs/` names each LFS file by that sha256 (small files by their git
# hash). So hashing a file and comparing verifies it; `hf cache verify <repo_id>` does it for a whole
# cached repository. Hashing works offline; the Hub's value needs the Hub:

# %%
import hashlib


def sha256_of(path, chunk_size=1 << 20):
    """Hex sha256 of a file, read in 1 MB chunks (never the whole file in memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


local_hash = sha256_of(weights_file)  # the model.safetensors that section 2 saved
assert local_hash == hashlib.sha256(weights_file.read_bytes()).hexdigest() and len(local_hash) == 64
print(f"sha256 of our saved model.safetensors ({weights_file.stat().st_size / 1e6:.0f} MB): {local_hash[:16]}...")
if env.hub:
    from huggingface_hub import HfApi

    (info,) = HfApi().get_paths_info(cu.ENCODER, ["model.safetensors"])
    cached = hf_hub_download(cu.ENCODER, "model.safetensors")  # already cached by from_pretrained
    print("Hub's sha256 == sha256 of the cached file:", info.lfs.sha256 == sha256_of(cached))
    print("the cache's blob is named by it:", Path(cached).resolve().name == info.lfs.sha256)
else:
    print("offline: online this cell compares it with HfApi().get_paths_info(repo_id, ['model.safetensors'])[0].lfs.sha256")

# %% [markdown]
# ## Common pitfalls
# - **`save_pretrained` writes `model.safetensors`**, not `pytorch_model.bin` (folder listings that
#   show the latter come from older versions). Load old `.bin` files only from sources you trust:
#   they are pickles.
# - **A hand-written safetensors reader** (exercise 03.2) easily gets four things wrong. Reading the
#   header length with `np.frombuffer(f.read(8), dtype=int64)` raises a `NameError` (`int64` is
#   not defined; NumPy's is `np.int64`), and the length is an unsigned little-endian number:
#   use `int.from_bytes(b, "little")` or `np.frombuffer(b, "<u8")`.
#   `np.frombuffer(3072, ...)`, given a byte count, fails too: it must receive the *bytes* read.
#   The offsets count from byte `8 + N`, so `seek` there instead of assuming the first tensor
#   follows the header (files differ in their first tensor: some checkpoints store an int64
#   `embeddings.position_ids` before the weights). And the library call is
#   `with safe_open(path, framework="np") as f: f.get_tensor(name)`, not `open(...)`.
# - **`T5Config(json.load(...))`** passes the dict as one positional argument: use
#   `T5Config(**json.load(f))` or `T5Config.from_json_file(path)`. (The class is
#   `T5ForConditionalGeneration`.)
# - **"Some weights ... are newly initialized"** is not an error: the head is random until you
#   train it. A common reading counts three layers in DistilBERT's head; in fact it is two
#   (`pre_classifier`, `classifier`), four tensors. An `UNEXPECTED` key (for example BERT's `pooler` when loading a masked-LM) is
#   a checkpoint tensor the class does not use.
# - **QA answers are not two independent argmaxes** (`argmax(start)` to `argmax(end) + 1`):
#   restrict to context tokens (`sequence_ids == 1`), require `start <= end` within a maximum
#   length, pick the best *pair* by `start_logit + end_logit`, and cut the answer from the context
#   with `offset_mapping` (`best_span` above).
# - **The Hub is not "a wrapper around git"**, as it is often described: `huggingface_hub` speaks
#   HTTP to the Hub's API; the repositories are git repositories, but the cache holds
#   content-addressed blobs (LFS files named by their sha256) plus snapshot symlinks, not clones.
#   Verify a file with its sha256 (`sha256sum` on the command line, or `hashlib` as above) and
#   compare with `model_info(..., files_metadata=True)`.
# - **Multiple choice** needs `(batch, choices, tokens)`. Passing the `(choices, tokens)` encoding
#   directly, a common slip, fails inside the model:

# %% tags=["nbval-check-output", "same-online"]
try:
    models["MultipleChoice"](**mc_pairs)  # missing the leading batch dimension
except RuntimeError as err:
    print("RuntimeError:", str(err))

# %% [markdown]
# - **`out[0]`** is `logits` without labels and `loss` with labels: use `out.logits` / `out.loss`.
# - **`from_config` does not load weights**, and the model starts in training mode (dropout on);
#   `from_pretrained` returns it in eval mode. Call `model.eval()` before comparing outputs.
# - **Counting parameters**: `model.num_parameters()` counts shared (tied) tensors once; summing a
#   `state_dict` counts them twice. Build big configs under `torch.device("meta")` to count them.
# - **`TRANSFORMERS_CACHE` is gone**: use `HF_HOME` (everything) or `HF_HUB_CACHE` (models).
# - **`PreTrainedModel` no longer inherits `GenerationMixin`** (older class listings show it): only
#   classes that can generate (`LlamaForCausalLM`...) have `.generate()`; `BertModel` does not.
# - **Mask conventions** (a common open question): in `transformers`, `attention_mask` is 1 for
#   tokens to attend to and 0 for padding, and label id -100 means "ignore in the loss". PyTorch's
#   own `nn.MultiheadAttention(key_padding_mask=...)` uses the opposite: `True` = ignore.

# %% [markdown]
# ## Exercises
# Each exercise ends with a checker from `cu.check`: it tests your answer on fresh inputs and prints
# ✅ or a specific hint. Worked solutions: [solutions/03_models_and_heads_solutions.ipynb](solutions/03_models_and_heads_solutions.ipynb).
#
# **03.1** Section 5 counted BERT's parameters from its config; now count a decoder's. Write
# `llama_parameters(config)`: the parameter count of `LlamaForCausalLM(config)`, the architecture
# of the course's causal LM, from the config alone. Print `lm` (section 4) to see its layers:
# attention projections `q_proj`, `k_proj`, `v_proj`, `o_proj` (k and v have
# `num_key_value_heads * head_dim` outputs: grouped-query attention), an MLP of `gate_proj`,
# `up_proj` and `down_proj`, RMSNorms, and an LM head that may share the embedding matrix
# (`tie_word_embeddings`). Try it on `lm.config` and compare with `lm.num_parameters()`; the
# checker uses other sizes, and switches off building a model and `num_parameters()` while your
# function runs.

# %% tags=["nbval-check-output", "same-online"]
def llama_parameters(config) -> int:
    raise NotImplementedError  # your code here


cu.check.exercise_03_1(llama_parameters)

# %% [markdown]
# **03.2** Write `read_tensor_pt(path, name)`: like `read_tensor` above, but it returns a
# `torch.Tensor` and also reads `BF16` tensors, which NumPy has no dtype for (read their bytes as
# `"<u2"`, then `torch.from_numpy(...).view(torch.bfloat16)`). It must handle F32, F16, I64 and BF16;
# the checker switches off safetensors' own readers while your function runs.
# You can test it on a file written by `model.to(torch.bfloat16).save_pretrained(...)`.

# %% tags=["nbval-check-output", "same-online"]
def read_tensor_pt(path, name) -> torch.Tensor:
    raise NotImplementedError  # your code here


cu.check.exercise_03_2(read_tensor_pt)

# %% [markdown]
# **03.3** Write `head_logits(model, inputs)` for a BERT or DistilBERT
# `...ForSequenceClassification` in eval mode: run only `model.base_model(**inputs)` and apply the
# head's layers by hand (BERT: `classifier` on `pooler_output`; DistilBERT: the first token through
# `pre_classifier`, ReLU and `classifier`; `config.model_type` tells which). The checker calls it
# on small random models of both kinds and refuses `model(**inputs)`.

# %% tags=["nbval-check-output", "same-online"]
def head_logits(model, inputs: dict) -> torch.Tensor:
    raise NotImplementedError  # your code here


cu.check.exercise_03_3(head_logits)

# %% [markdown]
# **03.4** Write `shares_embeddings(model)`: True when the model's output projection (LM head)
# *is* its input embedding matrix, the same tensor in memory, not a copy. Use
# `get_input_embeddings()` and `get_output_embeddings()` (the checker switches off accelerate's
# `find_tied_parameters`). Think: why does loading the masked-LM
# class on the stand-in list 6 missing tensors but no `cls.predictions.decoder.weight`?

# %% tags=["nbval-check-output", "same-online"]
def shares_embeddings(model) -> bool:
    raise NotImplementedError  # your code here


cu.check.exercise_03_4(shares_embeddings)

# %% [markdown]
# ## Recap
# - A config is the architecture; weights are a separate file; `from_config` gives random
#   weights, `from_pretrained` the checkpoint's; `save_pretrained` writes `config.json` +
#   `model.safetensors` and reloads exactly.
# - safetensors = 8-byte little-endian header length + JSON header + raw bytes at known offsets:
#   nothing to execute, and any tensor (or row) can be read alone.
# - `AutoModelFor<Task>` = the shared body + a small task head; a head missing from the
#   checkpoint is newly initialized and must be trained. Outputs are `ModelOutput`s: use names.
# - bert-base has 109,482,240 parameters (pooler included), distilbert-base 66,362,880: six
#   fewer layers, no pooler, no token types.
# - `post_init()` ends every model's `__init__`: it initialises the weights and ties those the
#   config shares (`tie_word_embeddings`).
# - A QA answer is the best-scoring (start, end) pair inside the context, mapped to characters with
#   `offset_mapping`.
# - Downloads live in `$HF_HOME/hub` as blobs + snapshots; `HF_HUB_OFFLINE=1` uses only what is there.
#   `hf_hub_download` / `snapshot_download(allow_patterns=...)` / `hf download` fetch files over
#   HTTP for an offline machine; a file's sha256 verifies it.
#
# **Next:** [04 · Datasets](04_datasets.ipynb), where the emotion data is loaded, explored and
# batched for these models.
