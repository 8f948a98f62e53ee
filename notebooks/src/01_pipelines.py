# Source of notebooks/01_pipelines.ipynb (percent format; build with `make notebooks`).

# %% [markdown]
# # 01 · Pipelines, and what they hide
#
# `pipeline("sentiment-analysis")` turns a sentence into a label in one line. That line hides three
# steps (a tokenizer, a model and some post-processing) and a handful of defaults that matter in
# practice: which checkpoint, which device, how many texts at once, which scores you get back.
# This chapter uses pipelines for three tasks, then takes the sentiment pipeline apart and
# rebuilds its numbers by hand. The same idea explains wrapper libraries such as FlagEmbedding or
# sentence-transformers: a tokenizer plus a model, with a friendlier call on top.
#
# **Learning objectives**
# - run `pipeline()` for text classification, feature extraction and text generation, on one text
#   and on a batch, on the device you choose;
# - explain the three stages of a pipeline and reproduce its scores by hand (tokenizer → model →
#   softmax → `id2label`);
# - use `top_k=None`, `function_to_apply` and `batch_size`, and recognise the options and tasks
#   that transformers 5 removed;
# - show that a wrapper library (sentence-transformers' `CrossEncoder`, FlagEmbedding's
#   `FlagReranker`) is a tokenizer plus a model, by computing the same scores without it.
#
# **Prerequisites:** [00 · Environment and tensors](00_environment_and_tensors.ipynb).
# **Run time:** 12 s on a 2-core CPU (quick profile). [Glossary (EN/中文)](../GLOSSARY.md)

# %% [markdown]
# ## Setup

# %%
import course_utils as cu

env = cu.setup(seed=0)  # first, so that it also quiets the imports below

import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer, pipeline

# %% [markdown]
# ## 1 · One line: `pipeline()`
# `pipeline(task, model=...)` loads a tokenizer and a model for `task` and returns a callable.
# Always name the model: without `model=` the pipeline picks a default checkpoint that changes
# between versions (and warns). `cu.resolve_checkpoint` passes the canonical name through when
# the Hub is reachable and a local stand-in when it is not (it prints which). `device` takes
# `"cpu"`, `"cuda"`, `"cuda:1"`, `"mps"`, an index such as `0`, or a `torch.device`.

# %%
sentiment_ckpt = cu.resolve_checkpoint(cu.SENTIMENT)
classifier = pipeline("sentiment-analysis", model=sentiment_ckpt, device=env.device)
print(type(classifier).__name__, "| task:", classifier.task, "| device:", classifier.device)

# %% [markdown]
# `"sentiment-analysis"` is an alias of `"text-classification"`; both give the same class. One
# text in, a list with one `{label, score}` dict out; a list of texts in, one dict per text.

# %%
raw_inputs = [
    "I've been waiting for a HuggingFace course my whole life.",
    "I hate this so much!",
]
print(classifier(raw_inputs[0]))
print(classifier(raw_inputs))

# %% tags=["nbval-check-output"]
print([r["label"] for r in classifier(raw_inputs)])
same_class = pipeline("text-classification", model=classifier.model, tokenizer=classifier.tokenizer)
print(type(same_class).__name__)  # the alias and the task name build the same class

# %% [markdown]
# The Hugging Face course prints `0.9598` and `0.9995` for these two sentences: those come from the
# canonical checkpoint (DistilBERT fine-tuned on SST-2). Offline stand-in: a MiniLM fine-tuned by
# the course on Rotten Tomatoes snippets, which is right here but less sure of itself. The
# labels, not the exact scores, are what the checked cell above pins down.

# %% [markdown]
# ## 2 · Taking the pipeline apart
# A pipeline runs `preprocess` (the tokenizer), `_forward` (the model) and `postprocess`
# (logits → probabilities → label names). Its pieces are attributes you can inspect:

# %% tags=["nbval-check-output"]
print(type(classifier.tokenizer).__name__, "+", type(classifier.model).__name__)
print("labels:", classifier.model.config.id2label)
step1 = classifier.preprocess(raw_inputs[1])
step2 = classifier.forward(step1)
print("preprocess ->", list(step1.keys()))
print("forward    ->", list(step2.keys()), tuple(step2["logits"].shape))
print("postprocess ->", classifier.postprocess(step2)["label"])

# %% [markdown]
# Now the same three stages by hand, as the Hugging Face course writes them.
#
# **Stage 1, the tokenizer.** `padding=True` pads the shorter text with `[PAD]` (id 0) and
# `attention_mask` marks real tokens with 1. Count the ones in the second row: eight, because
# `[CLS]`, the six word pieces and `[SEP]` are all real tokens (a common miscount gives seven, by
# leaving out one of the special tokens). The offline stand-in's tokenizer also returns
# `token_type_ids` (all 0 for a single text); DistilBERT's does not, because DistilBERT has no
# segment embeddings.

# %% tags=["nbval-check-output", "same-online"]
tokenizer = AutoTokenizer.from_pretrained(sentiment_ckpt)
inputs = tokenizer(raw_inputs, padding=True, truncation=True, return_tensors="pt")
print(list(inputs.keys()))
print(inputs["input_ids"])
print(inputs["attention_mask"])

# %% [markdown]
# **Stage 2, the model.** `AutoModelForSequenceClassification` is the transformer body plus a
# classification head: it returns one logit per label. `AutoModel` on the same checkpoint keeps
# only the body and returns hidden states of shape (batch, sequence length, hidden size); its
# size depends on the checkpoint (768 for DistilBERT; offline stand-in: 384).

# %% tags=["nbval-check-output"]
model = AutoModelForSequenceClassification.from_pretrained(sentiment_ckpt).to(env.device).eval()
body = AutoModel.from_pretrained(sentiment_ckpt).to(env.device).eval()
with torch.inference_mode():
    logits = model(**inputs.to(env.device)).logits
    hidden = body(**inputs.to(env.device)).last_hidden_state
print("logits:", tuple(logits.shape), "| hidden states:", tuple(hidden.shape),
      "| hidden_size:", body.config.hidden_size)

# %% [markdown]
# **Stage 3, post-processing.** Softmax over the last dimension turns logits into probabilities;
# `argmax` picks a label id and `id2label` names it. The pipeline's scores (all of them, thanks
# to `top_k=None`) must match:

# %%
probs = logits.softmax(dim=-1).cpu()
by_hand = [
    {model.config.id2label[i]: p.item() for i, p in enumerate(row)} for row in probs
]
from_pipe = [{d["label"]: d["score"] for d in res} for res in classifier(raw_inputs, top_k=None)]
print(by_hand)
diff = max(abs(a[k] - b[k]) for a, b in zip(by_hand, from_pipe) for k in a)
print(f"max |by hand - pipeline| = {diff:.1e}")
assert diff < 1e-6

# %% tags=["nbval-check-output"]
labels_by_hand = [model.config.id2label[i] for i in probs.argmax(dim=-1).tolist()]
print(labels_by_hand, labels_by_hand == [r["label"] for r in classifier(raw_inputs)])

# %% [markdown]
# The difference is float rounding only: the pipeline computes its softmax in NumPy, we did it in
# torch. Both ran the same tokenizer and the same weights.

# %% [markdown]
# ## 3 · The options that change the answer
# - `top_k=None` returns every label, sorted by score. It replaces `return_all_scores=True`, which
#   transformers 5 removed, and which is now **silently ignored** (you get one label back).
# - Any `top_k` on a list of texts returns one *list* of dicts per text; the bare call returns one
#   dict per text.
# - `function_to_apply="none"` returns raw logits (`"sigmoid"` and `"softmax"` also exist; the
#   default is softmax for several labels and sigmoid for one).

# %% tags=["nbval-check-output"]
text = raw_inputs[1]
print("top_k=None         ->", [d["label"] for d in classifier(text, top_k=None)])
print("return_all_scores  ->", len(classifier(text, return_all_scores=True)), "result (ignored!)")
print("per text: bare call ->", type(classifier(raw_inputs)[0]).__name__,
      "| top_k=1 ->", type(classifier(raw_inputs, top_k=1)[0]).__name__)
raw = classifier(text, function_to_apply="none", top_k=None)
print("function_to_apply='none' gives logits:",
      np.allclose(sorted(d["score"] for d in raw), sorted(logits[1].tolist()), atol=1e-5))

# %% [markdown]
# **Batching.** By default a pipeline feeds the model one text at a time. `batch_size=n` groups
# texts, pads each group to its longest member and runs one forward pass per group. Two effects
# pull against each other: fewer forward passes save the fixed cost of each call, but every
# `[PAD]` position costs as much compute as a real token, and the larger the group, the more
# likely it holds one long text that all the others are padded to. Padding changes the floats in
# the last digits, never the labels. Here are 64 tweets from the emotion data set through the same
# classifier; the printout gives the throughput of each batch size and how much the texts'
# lengths differ:

# %%
texts = cu.load_emotion("validation")["text"][: cu.by_profile(quick=64, full=512)]
classifier(texts[:4], batch_size=4)  # warm-up, so the first timing is fair
timings, results = {}, {}
for bs in (1, 8, 32):
    start = time.perf_counter()
    results[bs] = classifier(texts, batch_size=bs)
    timings[bs] = len(texts) / (time.perf_counter() - start)
for bs, tps in timings.items():
    print(f"batch_size={bs:2d}: {tps:4.0f} texts/s, {-(-len(texts) // bs):2d} forward passes")
lengths = [len(ids) for ids in classifier.tokenizer(texts)["input_ids"]]  # tokens per text, [CLS] and [SEP] included
print(f"the texts have {min(lengths)} to {max(lengths)} tokens (mean {sum(lengths) / len(lengths):.0f}); "
      f"fastest here: batch_size={max(timings, key=timings.get)}")
fig, ax = plt.subplots(figsize=(6, 3))
ax.bar([str(b) for b in timings], list(timings.values()))
ax.set_xlabel("batch_size (texts per forward pass)")
ax.set_ylabel("throughput (texts per second)")
ax.set_title(f"Sentiment pipeline on {len(texts)} emotion texts, device {env.device}")
fig.tight_layout()

# %% [markdown]
# Read the printout rather than a rule of thumb. The longest text is more than twice the mean, so
# a group of 32 almost surely holds a long one, and a large share of the positions it computes are
# padding. Batching pays while the saved per-call overhead outweighs the padding: on a small CPU
# (the stored run used a 2-core CPU) the compute for the padded positions soon dominates,
# so a middle batch size can be the fastest and a larger one slower; where the printed rate for 32
# is below the rate for 8, that is what happened. On a GPU, which computes a whole batch in
# parallel, larger batches usually win until memory runs out. Sorting the texts by length before
# batching (as `sentence-transformers` does in notebook 10) cuts the padding and helps on both.
# Exercise 01.3 counts the padded positions exactly.

# %% tags=["nbval-check-output", "same-online"]
same_labels = all([r["label"] for r in results[bs]] == [r["label"] for r in results[1]] for bs in results)
score_gap = max(abs(a["score"] - b["score"]) for bs in results for a, b in zip(results[bs], results[1]))
print("same labels for every batch size:", same_labels, "| scores within 1e-5:", score_gap < 1e-5)

# %% [markdown]
# ## 4 · Feature extraction: the hidden states themselves
# `"feature-extraction"` runs the model body and returns the last hidden state, one vector per
# token. It is the same tensor `AutoModel` returns. Turning those token vectors into one sentence
# embedding (pooling) is the subject of notebook 10.

# %%
encoder_ckpt = cu.resolve_checkpoint(cu.ENCODER)
extractor = pipeline("feature-extraction", model=encoder_ckpt, device=env.device)
features = extractor(raw_inputs[0], return_tensors=True)  # without it: nested Python lists
encoder = AutoModel.from_pretrained(encoder_ckpt).to(env.device).eval()
enc_tok = AutoTokenizer.from_pretrained(encoder_ckpt)
with torch.inference_mode():
    manual = encoder(**enc_tok(raw_inputs[0], return_tensors="pt").to(env.device)).last_hidden_state
print(f"max |pipeline - AutoModel| = {(features.cpu() - manual.cpu()).abs().max().item():.1e}")
torch.testing.assert_close(features.cpu(), manual.cpu())

# %% tags=["nbval-check-output"]
print(f"features: {tuple(features.shape)} = (batch, tokens, hidden_size={encoder.config.hidden_size})")
print("as lists:", type(extractor(raw_inputs[0])).__name__)

# %% [markdown]
# ## 5 · Text generation
# A causal language model predicts one token at a time. `do_sample=False` makes the choice greedy
# (the most likely token each step), hence repeatable; `max_new_tokens` counts only the new
# tokens (`max_length` would count the prompt too). By default the pipeline returns the prompt
# followed by the continuation (`return_full_text=True`).

# %%
causal_ckpt = cu.resolve_checkpoint(cu.CAUSAL_LM)
generator = pipeline("text-generation", model=causal_ckpt, device=env.device)
prompt = "Once upon a time"
story = generator(prompt, max_new_tokens=15, do_sample=False)[0]["generated_text"]
print(story)

# %% [markdown]
# The generation pipeline is a wrapper too: tokenize, call `model.generate`, decode. Its own
# `tokenizer` and `model` reproduce the text exactly:

# %% tags=["nbval-check-output", "same-online"]
gen_inputs = generator.tokenizer(prompt, return_tensors="pt").to(env.device)
out_ids = generator.model.generate(**gen_inputs, max_new_tokens=15, do_sample=False)
by_hand_story = generator.tokenizer.decode(out_ids[0], skip_special_tokens=True)
print("same text as the pipeline:", by_hand_story == story, "| starts with the prompt:", story.startswith(prompt))

# %% [markdown]
# A chat model also accepts a conversation: a list of `{"role", "content"}` messages. The pipeline
# applies the model's chat template and returns the conversation with the assistant's reply
# appended. This is how transformers 5 answers questions, summarises and translates (section 6).

# %%
chat = [{"role": "user", "content": "What is the capital of France? Answer in one sentence."}]
reply = generator(chat, max_new_tokens=20, do_sample=False)[0]["generated_text"][-1]
print(reply["role"], "->", reply["content"])

# %% [markdown]
# ## 6 · Other tasks, and tasks that are gone
# `pipeline` knows many more tasks; each needs a checkpoint trained for it. With the Hub you can
# try, for example (canonical checkpoints):
#
# | task | example checkpoint | returns |
# |---|---|---|
# | `"fill-mask"` | `distilbert-base-uncased` | the best tokens for `[MASK]` |
# | `"token-classification"` (alias `"ner"`) | `dbmdz/bert-large-cased-finetuned-conll03-english` | entities with character spans |
# | `"zero-shot-classification"` | `facebook/bart-large-mnli` | scores for labels you invent |
#
# The encoder stand-in has no masked-LM head, so `fill-mask` would use a randomly initialised head
# and answer nonsense; the next cell runs only with the real checkpoint (from the Hub, or a copy
# made by `make prefetch`). `cu.checkpoint_source` says where a checkpoint would come from.

# %%
if cu.checkpoint_source(cu.ENCODER) in ("hub", "prefetched"):
    unmasker = pipeline("fill-mask", model=cu.resolve_checkpoint(cu.ENCODER), device=env.device)
    print([(d["token_str"], round(d["score"], 3)) for d in unmasker("Paris is the [MASK] of France.", top_k=3)])
else:
    print("fill-mask skipped: the offline stand-in encoder has no masked-LM head")

# %% [markdown]
# Transformers 5 removed the encoder-decoder era's task pipelines. Older code (such as
# `Text2TextGenerationPipeline` or `pipeline("summarization")`) fails at once with a message that
# names the replacement: the `text-generation` pipeline with a chat model, as in section 5.

# %% tags=["nbval-check-output", "same-online"]
for task in ("summarization", "translation", "question-answering", "text2text-generation"):
    try:
        pipeline(task)
    except KeyError as err:
        print(f"{task:22s}", err.args[0].split(". ")[0].replace(f"The task {task} ", ""))

# %% [markdown]
# ## 7 · A wrapper library is a tokenizer plus a model
# FlagEmbedding's reranker and a few lines of plain transformers give the same scores, which
# raises a common question: which one is "really" running? The wrapper:
#
# ```python
# from FlagEmbedding import FlagReranker                      # pip install FlagEmbedding (online)
# reranker = FlagReranker("BAAI/bge-reranker-base", use_fp16=True)
# scores = reranker.compute_score([["what is panda?", "hi"], ["what is panda?", "The giant panda ..."]])
# ```
#
# `FlagReranker` loads `AutoTokenizer` and `AutoModelForSequenceClassification` from that
# checkpoint, tokenizes each (query, passage) pair as **one** sequence (with a BERT tokenizer:
# `[CLS] query [SEP] passage [SEP]`), and returns the model's single logit per pair
# (`normalize=True` adds a sigmoid). So the wrapper and the transformers code below run the same
# computation; the wrapper only adds batching, half precision (`use_fp16=True`, useful on a GPU)
# and a friendly call.
#
# FlagEmbedding is not installed here, but sentence-transformers is, and its `CrossEncoder` is the
# same kind of wrapper. We load it around the sentiment checkpoint and compare it with the plain
# transformers code that is usually shown beside `FlagReranker`. The sentiment model was not
# trained on pairs, so its scores say nothing about relevance (a real reranker such as
# `cross-encoder/ms-marco-MiniLM-L6-v2` would); what matters is that the wrapper and the
# hand-written code agree.

# %%
from sentence_transformers import CrossEncoder

pairs = [
    ["what is panda?", "hi"],
    ["what is panda?", "The giant panda (Ailuropoda melanoleuca), sometimes called a panda bear or "
     "simply panda, is a bear species endemic to China."],
]
cross_encoder = CrossEncoder(sentiment_ckpt, device=env.device)
wrapped = cross_encoder.predict(pairs, convert_to_tensor=True).cpu()

with torch.inference_mode():  # the usual transformers code beside FlagReranker, unchanged
    pair_inputs = tokenizer(pairs, padding=True, truncation=True, return_tensors="pt", max_length=512)
    scores = model(**pair_inputs.to(env.device), return_dict=True).logits.float().cpu()
print(wrapped)
print(f"max |CrossEncoder - transformers| = {(wrapped - scores).abs().max().item():.1e}")
torch.testing.assert_close(wrapped, scores)

# %% tags=["nbval-check-output"]
print(type(cross_encoder.tokenizer).__name__, "+", type(cross_encoder.model).__name__,
      "| num_labels:", cross_encoder.num_labels)
print(tokenizer.convert_ids_to_tokens(pair_inputs["input_ids"][0])[:8])
if "token_type_ids" in pair_inputs:
    print(pair_inputs["token_type_ids"][0][:8].tolist(), "<- token_type_ids: 0 for the query, 1 for the passage")
else:
    print("no token_type_ids: this model tells the two segments apart by [SEP] alone")

# %% [markdown]
# With two labels the cross-encoder returns two logits per pair; a reranker has one label and
# returns one score per pair, which is what `FlagReranker` (and the usual transformers code's
# `.view(-1)`) prints.

# %% [markdown]
# ## Common pitfalls
# - `pipeline("sentiment-analysis")` without `model=`: a version-dependent default checkpoint (for
#   `text-generation` it is now a model of billions of parameters). Name the checkpoint.
# - `return_all_scores=True` is gone and silently ignored: use `top_k=None`.
# - `pipeline("summarization" | "translation" | "question-answering" | "text2text-generation")`
#   and `Text2TextGenerationPipeline` were removed in transformers 5: use `"text-generation"` with
#   a chat model and a message list.
# - `generate(..., max_length=50)` counts the prompt; `max_new_tokens` counts only new tokens.
# - `AutoModel` on a classification checkpoint drops the head: you get hidden states, not logits.
#   Use `AutoModelForSequenceClassification` for logits.
# - `outputs = model(**inputs)` outside `torch.inference_mode()` (or `torch.no_grad()`) records a
#   graph for backpropagation (the `grad_fn=` in printed logits): slower and heavier for inference.
# - The attention mask of a padded text has a 1 for `[SEP]` too; it ends where the padding starts.
# - `return_tensors="tf"` and TensorFlow models: transformers 5 supports PyTorch only.

# %% [markdown]
# ## Exercises
# Each exercise ends with a checker from `cu.check`: it runs your function on fresh inputs and
# prints ✅ or a specific hint. Worked solutions: [solutions/01_pipelines_solutions.ipynb](solutions/01_pipelines_solutions.ipynb).
#
# **01.1** Section 2 rebuilt the classifier's scores from its tokenizer and model; do the same for
# the *generation* pipeline of section 5. Its model's head gives one logit per vocabulary entry at
# every position, and the last position's logits score the token that comes next. Write
# `next_token_probs(prompt, k)`: the `k` most likely next tokens as `(token text, probability)`
# pairs, most likely first, from `generator.tokenizer` and `generator.model` (tokenizer → model →
# softmax → `topk`; the vocabulary, `tokenizer.decode([id])`, plays the part of `id2label`). While
# the checker runs your function, the pipeline's call and `generate()` are switched off. Think: how does your most likely token compare with the first token of the greedy continuation?

# %% tags=["nbval-check-output", "same-online"]
def next_token_probs(prompt: str, k: int) -> list[tuple[str, float]]:
    raise NotImplementedError  # your code here


cu.check.exercise_01_1(next_token_probs)

# %% [markdown]
# **01.2** A classification pipeline also reads a pair of texts:
# `classifier({"text": "The plot was thin.", "text_pair": "The acting saved it."}, top_k=None)`.
# Write `pair_scores(text, text_pair)`, which returns the same `{label: probability}` dict by
# hand (the checker switches the pipeline off while it runs your function). Think: what would `tokenizer([text, text_pair])` give you instead?

# %% tags=["nbval-check-output", "same-online"]
def pair_scores(text: str, text_pair: str) -> dict[str, float]:
    raise NotImplementedError  # your code here


cu.check.exercise_01_2(pair_scores)

# %% [markdown]
# **01.3** With `batch_size=n` the pipeline pads each group of `n` consecutive texts to the
# group's longest text. Write `padded_positions(texts, batch_size)`: the total number of token
# positions (special tokens and padding included) that the model processes during
# `classifier(texts, batch_size=batch_size)`, computed with `tokenizer` alone (the pipeline is
# switched off while the checker runs your function). Think: why might a
# batch of very different lengths be slow, and what would sorting the texts by length change?
# (Notebook 04 measures it.)

# %% tags=["nbval-check-output", "same-online"]
def padded_positions(texts: list[str], batch_size: int) -> int:
    raise NotImplementedError  # your code here


cu.check.exercise_01_3(padded_positions)

# %% [markdown]
# **01.4** `generator(prompt, do_sample=True, temperature=0.7, max_new_tokens=8)` gives a
# different text at each call. Write `sample_story(prompt, seed)`, which returns the generated text
# (a `str`: the prompt and its sampled continuation): the same text for the same seed, another
# text for another seed. The checker draws with the same seed itself and compares, so the words
# must come from the model. Think: why does `do_sample=False` need no seed at all?

# %% tags=["nbval-check-output", "same-online"]
def sample_story(prompt: str, seed: int) -> str:
    raise NotImplementedError  # your code here


cu.check.exercise_01_4(sample_story)

# %% [markdown]
# ## Recap
# - A pipeline is tokenizer → model → post-processing; `classifier.tokenizer`, `classifier.model`
#   and `model.config.id2label` are all you need to reproduce its scores.
# - `top_k=None` returns all scores; `batch_size` trades padding for speed; `device` picks the
#   hardware.
# - Feature extraction returns `AutoModel`'s hidden states; text generation wraps
#   `model.generate`; chat models now cover question answering, summarisation and translation.
# - Wrapper libraries (`FlagReranker`, `CrossEncoder`) are a tokenizer plus a model: the same
#   numbers come out of plain transformers.
#
# **Next:** [02 · Tokenizers](02_tokenizers.ipynb), the first stage in detail.
