# Source of notebooks/02_tokenizers.ipynb (percent format; build with `make notebooks`).

# %% [markdown]
# # 02 · Tokenizers
#
# A model reads numbers, not text. The tokenizer decides which numbers: how text is cut into
# tokens, which ids they get, where the special tokens go, how texts of different lengths share a
# batch, and what the model is told to ignore. Most silent bugs in a first fine-tuning project
# live here (a missing attention mask, a token added without resizing the embeddings). This
# chapter goes through the tokenizer's methods one by one, checks each against the model, and
# ends by training a new tokenizer on the emotion data set.
#
# **Learning objectives**
# - convert text to ids and back with `tokenize`, `convert_tokens_to_ids`, `encode`, `__call__`,
#   `decode`, `batch_decode` and `convert_ids_to_tokens`, and say what each adds;
# - pad, truncate and return tensors, and show on the real model why `attention_mask` matters;
# - handle texts longer than the model: what fails past `max_position_embeddings`, and how to cut
#   a long text into overlapping chunks with `stride`;
# - read Chinese text through a BERT tokenizer and join its decoded characters back, and call the
#   Rust `backend_tokenizer` (normalizer, pre-tokenizer) directly;
# - inspect the vocabulary and the special tokens, add tokens, and resize the model's embeddings;
# - map tokens back to characters with offsets, and train a new tokenizer on your own corpus.
#
# **Prerequisites:** [01 · Pipelines](01_pipelines.ipynb).
# **Run time:** 10 s on a 2-core CPU (quick profile). [Glossary (EN/中文)](../GLOSSARY.md)

# %% [markdown]
# ## Setup

# %%
import course_utils as cu

env = cu.setup(seed=0)  # first, so that it also quiets the imports below

import matplotlib.pyplot as plt
import numpy as np
import torch
from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

# %% [markdown]
# We load the tokenizer of `distilbert-base-uncased`, the course's encoder. It is a WordPiece
# tokenizer with an uncased vocabulary of 30,522 entries; `bert-base-uncased` uses the same
# vocabulary. Offline stand-in: all-MiniLM-L6-v2, whose vocabulary is identical, so every id in
# this notebook is the same online and offline.

# %%
tokenizer = AutoTokenizer.from_pretrained(cu.resolve_checkpoint(cu.ENCODER))
print(type(tokenizer).__name__, "| fast (Rust tokenizers backend):", tokenizer.is_fast)

# %% [markdown]
# ## 1 · From text to ids, one step at a time
# `tokenize` splits text into tokens (lower-casing first, because this vocabulary is uncased);
# words that are not in the vocabulary are split into pieces, continuation pieces start with `##`.
# `convert_tokens_to_ids` looks each token up. `encode` does both **and** adds the special tokens
# `[CLS]` (101) and `[SEP]` (102).

# %% tags=["nbval-check-output", "same-online"]
sentence = "I've been waiting for a HuggingFace course my whole life."
tokens = tokenizer.tokenize(sentence)
ids = tokenizer.convert_tokens_to_ids(tokens)
print(tokens)
print(ids)
print(tokenizer.encode(sentence))
assert tokenizer.encode(sentence) == [tokenizer.cls_token_id] + ids + [tokenizer.sep_token_id]

# %% [markdown]
# Those are the ids the Hugging Face course prints for this sentence. Its tokenizer chapter also
# shows `"Using a Transformer network is simple"` → `['Using', 'a', 'transform', '##er', ...]` with
# ids `[7993, 170, 11303, ...]`: that is `bert-base-cased`, a different (cased) vocabulary. Ids only
# mean something together with the vocabulary that produced them:

# %% tags=["nbval-check-output", "same-online"]
print(tokenizer.tokenize("Using a Transformer network is simple"))
print(tokenizer.encode("Using a Transformer network is simple", add_special_tokens=False))

# %% [markdown]
# **Calling the tokenizer** (`tokenizer(text)`) is what you use in practice. It returns a
# `BatchEncoding` (a dict) with everything the model accepts: `input_ids` (special tokens
# included), `attention_mask` (1 = a real token) and, for BERT-style models, `token_type_ids`
# (which segment a token belongs to). DistilBERT's own tokenizer leaves `token_type_ids` out,
# because DistilBERT has no segment embeddings; offline stand-in: MiniLM is a BERT and keeps them.
# `tokenizer.model_input_names` says which keys you get.

# %% tags=["nbval-check-output", "same-online"]
encoded = tokenizer(sentence)
print(tokenizer.model_input_names)
for key, value in encoded.items():
    print(f"{key:15s}", value)

# %% [markdown]
# Give it two texts and it builds a **pair**, `[CLS] A [SEP] B [SEP]`, with `token_type_ids` 0 for
# the first segment and 1 for the second (how rerankers and question answering read their
# inputs). Extra flags return more: the special-token positions and the length.

# %% tags=["nbval-check-output", "same-online"]
pair = tokenizer("So have I!", "Me too.", return_special_tokens_mask=True, return_length=True)
print(tokenizer.convert_ids_to_tokens(pair["input_ids"]))
print("token_type_ids     ", pair["token_type_ids"])
print("special_tokens_mask", pair["special_tokens_mask"], "| length", pair["length"])

# %% [markdown]
# ### `encode_plus` and `batch_encode_plus` are gone
# Older tutorials explain `__call__` as "calls `encode_plus` for one text and `batch_encode_plus`
# for a list". Transformers 5 removed both (and `prepare_for_model`): the call
# itself is the API, for one text, a list of texts, or pairs.
#
# | old | now |
# |---|---|
# | `tokenizer.encode_plus(text, ...)` | `tokenizer(text, ...)` |
# | `tokenizer.batch_encode_plus(texts, ...)` | `tokenizer(texts, ...)` |
# | `tokenizer.batch_encode_plus(list(zip(a, b)))` | `tokenizer(a, b)` |
# | `tokenizer.encode(text)` | still there: `tokenizer(text)["input_ids"]` |

# %% tags=["nbval-check-output", "same-online"]
for name in ("encode_plus", "batch_encode_plus", "prepare_for_model", "encode", "pad", "batch_decode"):
    print(f"{name:18s}", "present" if hasattr(tokenizer, name) else "removed")

# %% [markdown]
# ## 2 · From ids back to text
# `convert_ids_to_tokens` is the inverse lookup; `decode` also joins the pieces into a string
# (dropping `##`, handling spaces) and can skip special tokens; `batch_decode` decodes a list of
# sequences. Decoding is not an exact inverse: the text comes back lower-cased and with spaces
# around the apostrophe, because the tokenizer normalised it on the way in.

# %% tags=["nbval-check-output", "same-online"]
ids_with_special = encoded["input_ids"]
print(tokenizer.convert_ids_to_tokens(ids_with_special))
print(repr(tokenizer.decode(ids_with_special)))
print(repr(tokenizer.decode(ids_with_special, skip_special_tokens=True)))
batch_ids = tokenizer([sentence, "So have I!"])["input_ids"]
decoded = tokenizer.batch_decode(batch_ids, skip_special_tokens=True)
assert decoded == [tokenizer.decode(x, skip_special_tokens=True) for x in batch_ids]
print(decoded)

# %% [markdown]
# `decode` is `convert_ids_to_tokens` followed by `convert_tokens_to_string`, which glues `##`
# pieces to the piece before them and puts spaces between the rest. Those rules, and the
# lower-casing on the way in, live in the Rust object inside every fast tokenizer,
# `tokenizer.backend_tokenizer`: a `tokenizers.Tokenizer` made of a **normalizer** (lower case,
# accents stripped, spaces around Chinese characters), a **pre-tokenizer** (split on spaces and
# punctuation, with character offsets), the WordPiece **model** and a decoder. Each part can be
# called on a plain string, which shows what the model's vocabulary actually sees:

# %% tags=["nbval-check-output", "same-online"]
pieces = tokenizer.convert_ids_to_tokens(ids_with_special)
assert tokenizer.decode(ids_with_special) == tokenizer.convert_tokens_to_string(pieces)
print(repr(tokenizer.convert_tokens_to_string(["hugging", "##face", "course"])))
backend = tokenizer.backend_tokenizer
print(f"{type(backend).__module__}.{type(backend).__name__}:", type(backend.normalizer).__name__, "->",
      type(backend.pre_tokenizer).__name__, "->", type(backend.model).__name__)
print(repr(backend.normalizer.normalize_str("Héllo HuggingFace!")))
print(backend.pre_tokenizer.pre_tokenize_str("I've been waiting."))

# %% [markdown]
# ### Chinese text: one character per token, and spaces on the way back
# The BERT normalizer puts a space on each side of every CJK character, so a BERT-family
# tokenizer cuts Chinese into single characters, and `decode` joins its tokens with spaces. A
# Chinese BART model read through a `BertTokenizer` therefore prints `'北 京 是 中 国 的 首 都'`, and a
# common reading blames the model for the spaces. In fact the model produced 北京是中国的首都; the spaces
# are the tokenizer's. This English vocabulary knows only some Chinese characters (the others become
# `[UNK]`, and `decode` loses them); the offsets still point at the original text:

# %% tags=["nbval-check-output", "same-online"]
zh = "北京是中国的首都"
zh_enc = tokenizer(zh, return_offsets_mapping=True)
print(zh_enc.tokens())
print(repr(tokenizer.decode(zh_enc["input_ids"], skip_special_tokens=True)))
print("from the offsets:", "".join(zh[start:end] for start, end in zh_enc["offset_mapping"]))

# %% [markdown]
# A Chinese BERT vocabulary has every common character. No Chinese checkpoint is available
# offline, so we imitate one: the same tokenizer recipe trained on four Chinese sentences (a toy
# vocabulary, section 8 explains training). Every character is now a token, and `decode` gives
# the spaced string above. To join it back, remove the spaces that sit *between two CJK
# characters*; a regular expression does it and keeps the spaces between Latin words:

# %% tags=["nbval-check-output", "same-online"]
import re

zh_corpus = ["北京是中国的首都", "上海是中国最大的城市", "我爱自然语言处理", "今天天气很好"]
zh_tok = tokenizer.train_new_from_iterator(zh_corpus, vocab_size=200, show_progress=False)
spaced = zh_tok.decode(zh_tok(zh)["input_ids"], skip_special_tokens=True)
between_cjk = r"(?<=[\u4e00-\u9fff]) (?=[\u4e00-\u9fff])"
print(repr(spaced), "->", repr(re.sub(between_cjk, "", spaced)))
assert re.sub(between_cjk, "", spaced) == zh
print(repr(re.sub(between_cjk, "", "我 爱 hugging face 的 课 程")))

# %% [markdown]
# A common first attempt at a Chinese checkpoint is
# `BertTokenizer.from_pretrained("chinese-roberta-wwm-ext")`. On the Hub the id is
# **`hfl/chinese-roberta-wwm-ext`**, and despite its name it is a BERT checkpoint (RoBERTa's
# training recipe, BERT's architecture and vocabulary): its authors load it with the Bert classes,
# not the Roberta ones. Online:
#
# ```python
# from transformers import BertForMaskedLM, BertTokenizer
# tok_zh = BertTokenizer.from_pretrained("hfl/chinese-roberta-wwm-ext")
# mlm_zh = BertForMaskedLM.from_pretrained("hfl/chinese-roberta-wwm-ext")
# ```

# %% [markdown]
# ## 3 · Padding, truncation and tensors
# A batch tensor must be rectangular. `padding` adds `[PAD]` (id 0) to the short texts,
# `truncation` cuts long ones, `max_length` sets the target, `return_tensors` picks the type:
#
# | argument | pads or cuts to |
# |---|---|
# | `padding=True` or `"longest"` | the longest text in the batch |
# | `padding="max_length"` | `max_length`, or the model's limit (`tokenizer.model_max_length`) if not given |
# | `truncation=True` | `max_length`, or the model's limit if not given |
#
# Padding never cuts: with `padding="max_length", max_length=8` alone, a 16-token text stays 16
# tokens long. Ask for `truncation=True` too.

# %% tags=["nbval-check-output", "same-online"]
sequences = [sentence, "So have I!"]
cases = {
    "padding='longest'": dict(padding="longest"),
    "padding=True": dict(padding=True),
    "padding='max_length'": dict(padding="max_length"),
    "padding='max_length', max_length=8": dict(padding="max_length", max_length=8),
    "  ... + truncation=True": dict(padding="max_length", max_length=8, truncation=True),
    "truncation=True, max_length=8": dict(truncation=True, max_length=8),
}
print("model_max_length:", tokenizer.model_max_length)
for name, kwargs in cases.items():
    print(f"{name:36s} lengths {[len(x) for x in tokenizer(sequences, **kwargs)['input_ids']]}")
print(tokenizer.decode(tokenizer(sentence, truncation=True, max_length=8)["input_ids"]))

# %% [markdown]
# Truncation keeps `[SEP]` at the end: the eight tokens are `[CLS]`, six text tokens and `[SEP]`.
# `return_tensors="pt"` gives PyTorch tensors, `"np"` NumPy arrays; without padding, texts of
# different lengths cannot form a tensor and the tokenizer says so. `"tf"` (TensorFlow) is no
# longer accepted: transformers 5 is PyTorch-only.

# %% tags=["nbval-check-output", "same-online"]
as_pt = tokenizer(sequences, padding=True, return_tensors="pt")
as_np = tokenizer(sequences, padding=True, return_tensors="np")
print(type(as_pt["input_ids"]).__name__, tuple(as_pt["input_ids"].shape), "|",
      type(as_np["input_ids"]).__name__, as_np["input_ids"].dtype, as_np["input_ids"].shape)
for kwargs in (dict(return_tensors="pt"), dict(padding=True, return_tensors="tf")):
    try:
        tokenizer(sequences, **kwargs)
    except ValueError as err:
        print(kwargs, "->", str(err).split(",")[0])

# %% [markdown]
# Two more knobs: `padding_side="left"` pads at the start (decoder-only models generating from a
# batch need it, notebook 07), and `tokenizer.pad(list_of_encodings)` pads encodings that were
# made earlier without padding, which is what `DataCollatorWithPadding` does per batch
# (notebook 04).

# %% tags=["nbval-check-output", "same-online"]
print(tokenizer("So have I!", padding="max_length", max_length=8, padding_side="left")["input_ids"])
late = tokenizer.pad([tokenizer(s) for s in sequences], return_tensors="pt")
print(torch.equal(late["input_ids"], as_pt["input_ids"]), torch.equal(late["attention_mask"], as_pt["attention_mask"]))

# %% [markdown]
# ## 4 · The attention mask, shown on the model
# Two rules from the Hugging Face course, checked on a real classifier (the course's sentiment
# model; offline stand-in: the MiniLM fine-tuned on Rotten Tomatoes).
#
# **Rule 1: models take batches.** `input_ids` must have shape (batch, length); a 1-D list of ids
# must be wrapped in a list first (or `unsqueeze(0)`). How a model complains depends on its code:
# BERT-style models raise `ValueError`, DistilBERT fails deeper inside with a `RuntimeError`, so
# the cell catches both.

# %%
sentiment_ckpt = cu.resolve_checkpoint(cu.SENTIMENT)
model = AutoModelForSequenceClassification.from_pretrained(sentiment_ckpt).to(env.device).eval()

# %% tags=["nbval-check-output"]
ids_1d = torch.tensor(tokenizer(sentence)["input_ids"], device=env.device)
try:
    model(ids_1d)
except (ValueError, RuntimeError) as err:
    print("1-D input ->", type(err).__name__, err)
with torch.inference_mode():
    print("2-D input ->", tuple(model(ids_1d.unsqueeze(0)).logits.shape))

# %% [markdown]
# **Rule 2: pad, and tell the model where the padding is.** The course's example: a 3-token and a
# 2-token sequence, then both in one padded batch. Without `attention_mask` the model attends to
# the `[PAD]` token and the second row's logits change; with the mask, every row equals the
# sequence run alone.

# %%
pad = tokenizer.pad_token_id
sequence1_ids, sequence2_ids = [[200, 200, 200]], [[200, 200]]
batched_ids = torch.tensor([[200, 200, 200], [200, 200, pad]], device=env.device)
attention_mask = torch.tensor([[1, 1, 1], [1, 1, 0]], device=env.device)
with torch.inference_mode():
    alone1 = model(torch.tensor(sequence1_ids, device=env.device)).logits
    alone2 = model(torch.tensor(sequence2_ids, device=env.device)).logits
    no_mask = model(batched_ids).logits
    with_mask = model(batched_ids, attention_mask=attention_mask).logits
print("alone:     ", torch.cat([alone1, alone2]).cpu().double().numpy().round(4).tolist())
print("no mask:   ", no_mask.cpu().double().numpy().round(4).tolist())
print("with mask: ", with_mask.cpu().double().numpy().round(4).tolist())
print(f"row 2, |with mask - alone| = {(with_mask[1] - alone2[0]).abs().max().item():.1e}, "
      f"|no mask - alone| = {(no_mask[1] - alone2[0]).abs().max().item():.3f}")

# %% tags=["nbval-check-output"]
torch.testing.assert_close(with_mask, torch.cat([alone1, alone2]), atol=1e-5, rtol=1e-4)
print("with mask == alone:", True)
print("without mask, row 1 unchanged:", torch.allclose(no_mask[0], alone1[0], atol=1e-5),
      "| row 2 unchanged:", torch.allclose(no_mask[1], alone2[0], atol=1e-5))

# %% [markdown]
# Row 1 has no padding, so it is the same either way. (The example feeds bare ids, without
# `[CLS]`/`[SEP]`, exactly as the course does; real inputs come from the tokenizer.) How far off
# does a missing mask drive a real sentence? Pad `"I hate this so much!"` with more and more
# `[PAD]` tokens and compare its logits with the unpadded run:

# %%
short = tokenizer("I hate this so much!", return_tensors="pt").to(env.device)
n_pads = list(range(0, 41, 4))
gaps = {"with attention_mask": [], "without attention_mask": []}
with torch.inference_mode():
    reference = model(**short).logits
    for n in n_pads:
        padded = tokenizer("I hate this so much!", padding="max_length", max_length=short["input_ids"].shape[1] + n,
                           return_tensors="pt").to(env.device)
        unmasked = {k: v for k, v in padded.items() if k != "attention_mask"}
        gaps["with attention_mask"].append((model(**padded).logits - reference).abs().max().item())
        gaps["without attention_mask"].append((model(**unmasked).logits - reference).abs().max().item())
fig, ax = plt.subplots(figsize=(6, 3.5))
for label, values in gaps.items():  # from 1 pad on (0 pads is the reference itself); log axis: 0 drawn at 1e-9
    ax.plot(n_pads[1:], [max(v, 1e-9) for v in values[1:]], marker="o", label=label)
ax.set_yscale("log")
ax.set_xlabel("number of [PAD] tokens added")
ax.set_ylabel("max |Δ logit| vs. unpadded (log scale)")
ax.set_title('"I hate this so much!" padded: how far its logits move')
ax.legend()
fig.tight_layout()
assert max(gaps["with attention_mask"]) < 1e-4 and max(gaps["without attention_mask"][1:]) > 1e-2
print(f"largest gap with the mask: {max(gaps['with attention_mask']):.0e} | without it: "
      f"{max(gaps['without attention_mask'][1:]):.2f} | the unpadded logits: {[round(x, 2) for x in reference[0].tolist()]}")

# %% [markdown]
# The y-axis is logarithmic, so both curves fit on it: with the mask the gap stays at float32
# rounding level (the first number printed, under a millionth); without it, a few `[PAD]`
# tokens already move the logits millions of times further (the second number: compare it with the
# distance between the two unpadded logits, which decides the label). Always pass the tokenizer's
# whole output: `model(**inputs)`.

# %% [markdown]
# **1 means keep.** A common question is whether 1 and 0 in masks have one agreed meaning. They
# do not. Hugging Face's `attention_mask` has 1 for a token to attend to, and so does the boolean
# `attn_mask` of `F.scaled_dot_product_attention` (True = may attend). A *padding mask*, such as
# the one exercise 00.2 builds or `nn.MultiheadAttention`'s `key_padding_mask`, has True where
# the model must **not** look. Notebook 00 compares the two torch functions; here the tokenizer's
# mask is converted and given to the model the wrong way round:

# %% tags=["nbval-check-output"]
batch = tokenizer(sequences, padding=True, return_tensors="pt").to(env.device)
keep = batch["attention_mask"]  # Hugging Face: 1 = a real token, attend to it
lengths = keep.sum(dim=1)
is_padding = torch.arange(keep.shape[1], device=keep.device)[None, :] >= lengths[:, None]  # True = ignore
print("attention_mask", keep[1].tolist(), "| padding mask", is_padding[1].int().tolist())
assert torch.equal(is_padding, keep == 0) and torch.equal(~is_padding, keep.bool())  # one is the other's negation
with torch.inference_mode():
    right = model(input_ids=batch["input_ids"], attention_mask=keep).logits
    flipped = model(input_ids=batch["input_ids"], attention_mask=is_padding.long()).logits
print("a padding mask passed as attention_mask: no error, but other logits:", not torch.allclose(right, flipped))

# %% [markdown]
# ## 5 · Texts longer than the model
# Can a sequence be too long? It can, and there are two limits:
#
# - `tokenizer.model_max_length` (512 here) is what the tokenizer believes the model takes.
#   Without `truncation=True` it cuts nothing: it encodes the whole text and logs a warning.
# - `model.config.max_position_embeddings` (512) is the model's real limit. A BERT-style model
#   learned one position vector per position, 0 to 511; there is no vector for position 512, so
#   the forward pass fails.
#
# Forty validation tweets in a row make a text of 730 tokens. `cu.setup()` silences
# transformers' warnings, so the cell collects this one to show it:

# %% tags=["nbval-check-output"]
import logging

long_text = " ".join(cu.load_emotion("validation")["text"][:40])
warnings_seen = []
collector = logging.Handler()
collector.emit = lambda record: warnings_seen.append(record.getMessage())
tok_logger = logging.getLogger("transformers.tokenization_utils_base")
tok_logger.addHandler(collector)
tok_logger.setLevel(logging.WARNING)
tok_logger.propagate = False  # keep it off stderr
try:
    long_inputs = tokenizer(long_text, return_tensors="pt").to(env.device)
finally:
    tok_logger.removeHandler(collector)
    tok_logger.setLevel(logging.NOTSET)
    tok_logger.propagate = True
n_tokens = long_inputs["input_ids"].shape[1]
print("tokens:", n_tokens, "| model_max_length:", tokenizer.model_max_length,
      "| max_position_embeddings:", model.config.max_position_embeddings)
print("tokenizer warning:", warnings_seen[0])
try:
    with torch.inference_mode():
        model(**long_inputs)
except RuntimeError as err:
    print("forward pass ->", f"{type(err).__name__}: {str(err).splitlines()[0]}")
table = model.base_model.embeddings.position_embeddings  # one learned vector per position
print("position table:", tuple(table.weight.shape))
try:  # on the CPU: on a GPU an index out of range aborts the whole CUDA context
    torch.nn.functional.embedding(torch.arange(n_tokens), table.weight.detach().cpu())
except IndexError as err:
    print(f"looking up positions 0..{n_tokens - 1} ->", f"{type(err).__name__}: {err}")

# %% [markdown]
# The tokenizer's warning promises "indexing errors", and that is what looking up position 512 in
# the 512-row position table gives: `IndexError: index out of range in self`. The model itself
# fails one step earlier: it slices its stored row of 512 position ids, so 730 token vectors and
# 512 position vectors cannot be added, a `RuntimeError` about sizes. Same cause, either way.
#
# Not every tokenizer knows its model's limit: when its files do not set one, `model_max_length`
# is 1000000000000000019884624838656, a placeholder for "not set" (offline stand-in: SmolLM2's
# tokenizer, rebuilt from a GGUF file, is such a case, while the model's config says 8,192
# positions; section 8 prints both). Trust `model.config.max_position_embeddings`.
#
# Three ways out:
# 1. **Truncate** (`truncation=True`): the model sees the first 512 tokens and nothing else.
# 2. **Chunk**: `return_overflowing_tokens=True` keeps the rest as more rows, each at most
#    `max_length` tokens with its own `[CLS]` and `[SEP]`; `stride=k` makes consecutive chunks
#    share `k` tokens, so that text cut at a chunk border is also seen whole in the next chunk.
#    `overflow_to_sample_mapping` says which input text each chunk came from, so predictions per
#    chunk can be put back together per text (here: the mean of the chunks' probabilities).
# 3. **A long-context model**, for example `allenai/longformer-base-4096` or
#    `google/bigbird-roberta-base` (4,096 tokens, sparse attention), `answerdotai/ModernBERT-base`
#    (8,192 tokens, rotary positions), or a decoder such as SmolLM2 (8,192). Attention costs grow
#    with the square of the length, so chunking a small model is often the cheaper choice on a CPU.

# %% tags=["nbval-check-output", "same-online"]
chunked = tokenizer([long_text, "So have I!"], truncation=True, max_length=128, stride=16,
                    return_overflowing_tokens=True, padding=True, return_tensors="pt")
mapping = chunked.pop("overflow_to_sample_mapping")
print("chunks:", tuple(chunked["input_ids"].shape), "| chunks per text:", torch.bincount(mapping).tolist())
print("chunk 0, its last text tokens:", tokenizer.convert_ids_to_tokens(chunked["input_ids"][0, -5:-1]))
print("chunk 1, its tokens 13 to 16: ", tokenizer.convert_ids_to_tokens(chunked["input_ids"][1, 13:17]))
assert torch.equal(chunked["input_ids"][0, -17:-1], chunked["input_ids"][1, 1:17])  # 16 shared tokens
with torch.inference_mode():
    chunk_probs = model(**chunked.to(env.device)).logits.softmax(dim=-1).cpu()
per_text = torch.stack([chunk_probs[mapping == i].mean(dim=0) for i in range(2)])
print("probabilities per text:", tuple(per_text.shape), "| rows sum to 1:", torch.allclose(per_text.sum(-1), torch.ones(2)))

# %% [markdown]
# ## 6 · Vocabulary and special tokens
# The special tokens have names (`cls_token`, `sep_token`, `pad_token`, ...) and ids.
# `get_vocab()` returns the whole token → id dictionary; there is no id → token dictionary, use
# `convert_ids_to_tokens`. Two sizes: `vocab_size` counts the base vocabulary only,
# `len(tokenizer)` also counts tokens added later. The model's embedding matrix needs one row per
# id, so `len(tokenizer)` is the number that must fit.

# %% tags=["nbval-check-output", "same-online"]
print(tokenizer.special_tokens_map)
print(dict(zip(tokenizer.all_special_tokens, tokenizer.all_special_ids)))
vocab = tokenizer.get_vocab()
print(len(vocab), "entries; vocab['course'] =", vocab["course"], "| id 2607 ->", tokenizer.convert_ids_to_tokens(2607))
print("vocab_size:", tokenizer.vocab_size, "| len(tokenizer):", len(tokenizer),
      "| embedding rows:", model.get_input_embeddings().num_embeddings)

# %% [markdown]
# ### Adding tokens
# - `add_tokens(["huggingface"])` adds **normal** tokens: never split again, kept by `decode`.
# - `add_special_tokens({"extra_special_tokens": ["<ctx>"]})` (or `add_tokens(..., special_tokens=True)`)
#   adds **special** tokens: never split, and dropped by `decode(..., skip_special_tokens=True)`.
#   The same call sets named roles, for example `{"pad_token": "<pad>"}` for a model that has none.
#   (The key was called `additional_special_tokens` before transformers 5.)
#
# We work on a copy so the rest of the notebook keeps the original vocabulary.

# %% tags=["nbval-check-output", "same-online"]
extended = AutoTokenizer.from_pretrained(cu.resolve_checkpoint(cu.ENCODER, verbose=False))
before = len(extended)
extended.add_tokens(["huggingface"])
extended.add_special_tokens({"extra_special_tokens": ["<ctx>"]})
text = "I love HuggingFace <ctx> courses"
print("len:", before, "->", len(extended), "| vocab_size still", extended.vocab_size)
print(tokenizer.tokenize(text))
print(extended.tokenize(text))
print(extended(text)["input_ids"])
print(repr(extended.decode(extended(text)["input_ids"], skip_special_tokens=True)))

# %% [markdown]
# `get_added_vocab()` lists the tokens that live outside the WordPiece vocabulary proper (the
# tokenizer finds them in the text before WordPiece runs, so they are never split): the
# checkpoint's own special tokens and yours, with their ids. The ids from `vocab_size` up are new:

# %% tags=["nbval-check-output", "same-online"]
print(extended.get_added_vocab())
print("new ids:", {token: i for token, i in extended.get_added_vocab().items() if i >= extended.vocab_size})

# %% [markdown]
# The new tokens got ids 30522 and 30523, past the end of the model's embedding matrix (30,522
# rows: ids 0 to 30521). Feeding them to the model fails until the matrix is resized with
# `model.resize_token_embeddings(len(tokenizer))`, which appends one row per new token. The new
# rows are initialised from the mean and covariance of the existing ones (`mean_resizing=True`);
# they mean nothing until you train.

# %% tags=["nbval-check-output"]
new_inputs = extended(text, return_tensors="pt").to(env.device)
try:
    with torch.inference_mode():
        model(**new_inputs)
except IndexError as err:
    print("before resize ->", type(err).__name__, err)
old_rows = model.get_input_embeddings().weight.detach().clone()
model.resize_token_embeddings(len(extended))
emb = model.get_input_embeddings()
print("after resize  -> embedding", tuple(emb.weight.shape), "| config.vocab_size", model.config.vocab_size)
print("old rows unchanged:", torch.equal(emb.weight[: len(old_rows)].detach(), old_rows))
with torch.inference_mode():
    print("forward works:", tuple(model(**new_inputs).logits.shape))

# %% [markdown]
# A trick often suggested for BERT vocabularies: reuse the reserved `[unused0]` ...
# `[unused993]` entries, which already have rows, so the model needs no resizing. That works, but
# do not trust the number `add_tokens` returns to tell you: it counts tokens newly registered as
# "added", not new ids. `len(tokenizer)` is the truth:

# %% tags=["nbval-check-output", "same-online"]
reuse = AutoTokenizer.from_pretrained(cu.resolve_checkpoint(cu.ENCODER, verbose=False))
returned = reuse.add_tokens(["[unused1]"], special_tokens=True)
print("add_tokens returned", returned, "| len(tokenizer) changed:", len(reuse) != len(tokenizer),
      "| id:", reuse.convert_tokens_to_ids("[unused1]"))
print(reuse.tokenize("a [unused1] b"))

# %% [markdown]
# ## 7 · Offsets: from tokens back to characters
# Fast tokenizers (in transformers 5 every tokenizer is backed by the Rust `tokenizers` library)
# remember where each token came from. `return_offsets_mapping=True` gives a `(start, end)`
# character span per token (`(0, 0)` for special tokens); `word_ids()` gives the word each token
# belongs to. Named-entity recognition and question answering use these to turn token
# predictions back into spans of the original text.

# %% tags=["nbval-check-output", "same-online"]
enc = tokenizer(sentence, return_offsets_mapping=True)
for token, (start, end), word in zip(enc.tokens(), enc["offset_mapping"], enc.word_ids()):
    print(f"{token:10s} {start:3d}-{end:<3d} word {str(word):4s} {sentence[start:end]!r}")

# %% tags=["nbval-check-output", "same-online"]
for token, (start, end) in zip(enc.tokens(), enc["offset_mapping"]):
    if token not in tokenizer.all_special_tokens:
        assert sentence[start:end].lower() == token.removeprefix("##"), token
print("every span matches its token | 'HuggingFace' is tokens", tuple(enc.word_to_tokens(7)),
      "| character 24 is in token", enc.char_to_token(24))

# %% [markdown]
# ## 8 · Training a new tokenizer
# A tokenizer is trained, not learned by gradient descent: its algorithm counts a corpus and keeps
# the most useful pieces. `train_new_from_iterator` reuses an existing tokenizer's recipe
# (normaliser, pre-tokeniser, algorithm, special tokens) and learns a new vocabulary from your
# texts. We train two on the emotion training set, with a 5,000-token vocabulary:
#
# - from the encoder's tokenizer: **WordPiece**, uncased, `##` continuation pieces;
# - from SmolLM2's tokenizer: **byte-level BPE**, cased, `Ġ` marks a leading space. It never needs
#   `[UNK]`, because any text is a sequence of bytes.
#
# The corpus is fed in batches from a generator, so it never has to sit in memory as one list.

# %%
emotion = cu.load_emotion()
corpus = list(emotion["train"]["text"])  # 16,000 tweets


def batches(texts, size=1_000):
    for i in range(0, len(texts), size):
        yield texts[i : i + size]


wordpiece_new = tokenizer.train_new_from_iterator(batches(corpus), vocab_size=5_000, show_progress=False)
smol = AutoTokenizer.from_pretrained(cu.resolve_checkpoint(cu.CAUSAL_LM))
bpe_new = smol.train_new_from_iterator(batches(corpus), vocab_size=5_000, show_progress=False)
print(len(corpus), "texts | new vocabularies:", len(wordpiece_new), "and", len(bpe_new))
print(f"the originals: {len(tokenizer):,} and {len(smol):,} entries | SmolLM2's tokenizer: model_max_length",
      smol.model_max_length, "| its config: max_position_embeddings",
      AutoConfig.from_pretrained(cu.resolve_checkpoint(cu.CAUSAL_LM, verbose=False)).max_position_embeddings)

# %% [markdown]
# Compare the originals (30,522 and 49,152 entries, printed above, trained on general text) with
# the new ones on words from inside the corpus's domain and from outside it:

# %%
words = "i feel humiliated and irritated by this tokenizer"
for name, tok in [("WordPiece original", tokenizer), ("WordPiece emotion", wordpiece_new),
                  ("BPE original", smol), ("BPE emotion", bpe_new)]:
    print(f"{name:19s}", tok.tokenize(words))

# %% [markdown]
# The emotion vocabularies keep feelings whole ("humiliated" is one token in both, where the
# original BPE vocabulary splits it) and shred words the tweets rarely use ("tokenizer"). The byte-level BPE result is the same in every
# run, so it is checked; WordPiece training is not reproducible across processes in this version
# of `tokenizers` (the same pieces get permuted ids), so its output above is not checked.

# %% tags=["nbval-check-output"]
print(bpe_new.tokenize(words))
print(bpe_new(words)["input_ids"])
print("special tokens kept:", bpe_new.all_special_tokens, "| vocabulary", len(bpe_new))

# %% [markdown]
# How many tokens does each tokenizer need for the validation tweets? Fewer tokens per text means
# shorter sequences, hence faster models; a small vocabulary means a smaller embedding matrix.

# %%
val_texts = list(emotion["validation"]["text"])
mean_len = {
    name: np.mean([len(x) for x in tok(val_texts, add_special_tokens=False)["input_ids"]])
    for name, tok in [("WordPiece original", tokenizer), ("WordPiece emotion", wordpiece_new),
                      ("BPE original", smol), ("BPE emotion", bpe_new)]
}
for name, value in mean_len.items():
    print(f"{name:19s} {value:5.2f} tokens per text")

# %% [markdown]
# A vocabulary six to ten times smaller encodes these tweets with only about 6 % more tokens: on
# its own domain a small, specialised vocabulary is nearly as efficient. A new tokenizer comes
# with new ids, though, so it only makes sense with a model trained from scratch (or with new
# embeddings); you cannot swap it under a pretrained model.

# %% [markdown]
# ## Common pitfalls
# - `tokenizer.encode_plus(...)` / `batch_encode_plus(...)`: removed in transformers 5. Call the
#   tokenizer: `tokenizer(text)`, `tokenizer(list_of_texts)`, `tokenizer(texts_a, texts_b)`.
# - `return_tensors="tf"`: TensorFlow support is gone; use `"pt"` or `"np"`.
# - `return_tensors="pt"` on texts of different lengths without `padding=True`: `ValueError`.
# - `padding="max_length", max_length=8` without `truncation=True` leaves longer texts long.
# - Passing only `input_ids` for a padded batch: the model attends to `[PAD]`. Pass `**inputs`.
# - `len(tokenizer)`, not `vocab_size`, after adding tokens; then
#   `model.resize_token_embeddings(len(tokenizer))` before the forward pass (else `IndexError`).
# - `add_special_tokens({"additional_special_tokens": [...]})` is the old key: now
#   `"extra_special_tokens"`. The count `add_tokens` returns is not the number of new ids.
# - Ids from one vocabulary are meaningless in another (the Hugging Face course's `bert-base-cased`
#   ids vs the uncased ids here), and a newly trained tokenizer needs a newly trained model.
# - `decode(encode(text))` is not `text`: normalisation (lower case, accents, spaces) is lossy.
# - A text longer than `model_max_length` without `truncation=True`: the tokenizer only warns, and
#   the forward pass fails past `max_position_embeddings`. Truncate, or chunk with
#   `truncation=True, max_length=..., stride=..., return_overflowing_tokens=True`.
# - `decode` of Chinese through a BERT-family tokenizer puts a space between characters (a
#   spaced `'北 京 是 中 国 的 首 都'` is the tokenizer's doing, not the model's): join with offsets,
#   or remove the spaces between CJK characters.
# - `BertTokenizer.from_pretrained("chinese-roberta-wwm-ext")` fails: the Hub id is
#   `hfl/chinese-roberta-wwm-ext`, and it is a BERT checkpoint: `BertTokenizer` / `BertForMaskedLM`.

# %% [markdown]
# ## Exercises
# Each exercise ends with a checker from `cu.check`: it runs your function on fresh inputs and
# prints ✅ or a specific hint. Worked solutions: [solutions/02_tokenizers_solutions.ipynb](solutions/02_tokenizers_solutions.ipynb).
#
# **02.1** Write `truncate_pair(question, passage, max_length)`: the `input_ids` of the pair
# `[CLS] question [SEP] passage [SEP]`, at most `max_length` tokens, where only the passage may
# lose tokens (the question must stay whole). Think: what does `truncation=True` do to a long
# question, and what does `truncation="only_first"` do here?

# %% tags=["nbval-check-output", "same-online"]
def truncate_pair(question: str, passage: str, max_length: int) -> list[int]:
    raise NotImplementedError  # your code here


cu.check.exercise_02_1(truncate_pair)

# %% [markdown]
# **02.2** Write `word_span(text, token_index)`: the `(start, end)` character span of the whole
# word that contains token `token_index` of `tokenizer(text)` (special tokens count: `[CLS]` is
# index 0), or `None` for a special token. A word is what `word_ids()` calls one: the
# pre-tokenizer splits on spaces and punctuation. Think: an emoji becomes `[UNK]` in this
# vocabulary (SmolLM2's byte-level BPE never needs `[UNK]`); where do its offsets point?

# %% tags=["nbval-check-output", "same-online"]
def word_span(text: str, token_index: int) -> tuple[int, int] | None:
    raise NotImplementedError  # your code here


cu.check.exercise_02_2(word_span)

# %% [markdown]
# **02.3** Write `add_and_resize(tokenizer, model, new_tokens)`: add `new_tokens` as normal tokens,
# make the model accept their ids, and return the number of rows of its embedding matrix. The
# checker passes a fresh tokenizer, a small model and lists in which some tokens are already in the
# vocabulary or come twice.

# %% tags=["nbval-check-output", "same-online"]
def add_and_resize(tokenizer, model, new_tokens: list[str]) -> int:
    raise NotImplementedError  # your code here


cu.check.exercise_02_3(add_and_resize)

# %% [markdown]
# **02.4** Question answering reads a question and a passage as one pair (notebook 03 decodes the
# answer), and a long passage does not fit. Write `qa_chunks(question, context, max_length, stride)`:
# the `input_ids` of every chunk needed to read all of `context`, each chunk
# `[CLS] question [SEP] part of the context [SEP]` with at most `max_length` tokens and the
# **whole question in every chunk**, consecutive context parts sharing `stride` tokens, as a list of
# lists. Section 5 chunked one text; 02.1 truncated a pair. Think: why must every chunk carry the
# question, and how would you pick one answer from several chunks?

# %% tags=["nbval-check-output", "same-online"]
def qa_chunks(question: str, context: str, max_length: int, stride: int) -> list[list[int]]:
    raise NotImplementedError  # your code here


cu.check.exercise_02_4(qa_chunks)

# %% [markdown]
# ## Recap
# - `tokenize` → `convert_tokens_to_ids` → special tokens is what `encode` does; calling the
#   tokenizer adds `attention_mask` (and `token_type_ids` where the model uses them).
# - `padding`, `truncation`, `max_length` and `return_tensors` make rectangular batches; the
#   attention mask makes padding invisible to the model, as the assertions showed. Its 1 means
#   "attend"; a padding mask's True means "ignore": `is_padding = attention_mask == 0`.
# - Past `max_position_embeddings` the forward pass fails: truncate, or chunk with `stride` and
#   `return_overflowing_tokens=True` and map chunks back with `overflow_to_sample_mapping`.
# - BERT-family tokenizers split Chinese into characters and decode them with spaces; the
#   `backend_tokenizer`'s normalizer and pre-tokenizer show what happens to any string.
# - `vocab_size` is the base vocabulary, `len(tokenizer)` the full one (`get_added_vocab()` lists
#   the rest); after adding tokens, resize the model's embeddings.
# - Offsets map tokens back to characters; `train_new_from_iterator` learns a vocabulary for
#   your own corpus.
#
# **Next:** [03 · Models and heads](03_models_and_heads.ipynb), the second stage of the pipeline.
