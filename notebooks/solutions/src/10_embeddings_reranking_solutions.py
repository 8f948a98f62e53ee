# Worked solutions of notebook 10's exercises (built with `make notebooks`).

# %% [markdown]
# # 10 · Solutions: sentence embeddings, semantic search and reranking
#
# Worked solutions to the exercises of [10 · Sentence embeddings, semantic search and reranking](../10_embeddings_reranking.ipynb).
# Try them yourself first: each checker prints a hint when an answer is wrong.

# %%
import course_utils as cu

env = cu.setup(seed=0)

import torch
import torch.nn.functional as F
from transformers import AutoModel, AutoTokenizer

from course_utils import embeddings

# %% [markdown]
# **10.1** Mean pooling multiplies each token vector by its mask value (1 for a real token, 0 for
# padding), sums over the tokens and divides by the number of real tokens; the clamp keeps an
# all-padding row at zero instead of NaN. `[CLS]` pooling takes each text's first real token: the
# tokenizer puts `[CLS]` there, at position 0 when it pads on the right (BERT's default) but after
# the padding when it pads on the left; `attention_mask.argmax(dim=1)` is the first position whose
# mask is 1 (sentence-transformers' `Pooling` finds it the same way). Neither looks at the padded
# positions, so more padding, on either side, cannot change the result.

# %% tags=["nbval-check-output"]
def mean_pool(last_hidden_state: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    mask = attention_mask.unsqueeze(-1).to(last_hidden_state.dtype)  # (batch, tokens, 1) broadcasts over hidden
    return (last_hidden_state * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)


def cls_pool(last_hidden_state: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    first = attention_mask.long().argmax(dim=1)  # the first real token: 0 unless the padding is on the left
    return last_hidden_state[torch.arange(len(first), device=first.device), first]


assert cu.check.exercise_10_1(mean_pool, cls_pool)

# %% [markdown]
# The same check on the real model: a short text padded next to a long one gets the embedding it
# gets alone, with either pooling (the mask also keeps attention off the padding).

# %%
ckpt = cu.resolve_checkpoint(cu.EMBEDDER)
tokenizer = AutoTokenizer.from_pretrained(ckpt)
encoder = AutoModel.from_pretrained(ckpt).to(env.device).eval()

# %% tags=["nbval-check-output", "same-online"]
texts = ["i am ever so sad", "i am thrilled about the trip to the mountains next week"]
batch = tokenizer(texts, padding=True, return_tensors="pt").to(env.device)
alone = tokenizer(texts[:1], return_tensors="pt").to(env.device)
with torch.inference_mode():
    padded_h, alone_h = encoder(**batch).last_hidden_state, encoder(**alone).last_hidden_state
for pool in (mean_pool, cls_pool):
    same = torch.allclose(pool(padded_h, batch["attention_mask"])[0], pool(alone_h, alone["attention_mask"])[0], atol=1e-5)
    print(f"{pool.__name__}: padded == alone: {same}")
print("naive mean: padded == alone:", torch.allclose(padded_h.mean(1)[0], alone_h.mean(1)[0], atol=1e-5))

# %% [markdown]
# **10.2** Rank each row (`topk` returns the largest first) and mark the top k that share the
# query's label. `argmax` of the marks gives the position of the first hit, so its rank is that
# position + 1; but `argmax` of a row with no hit is also 0, which would count as rank 1, hence the
# `torch.where` on `hits.any(dim=1)`: such a query contributes 0 and still counts in the mean.

# %% tags=["nbval-check-output"]
def mrr_at_k(similarity: torch.Tensor, query_labels: torch.Tensor, corpus_labels: torch.Tensor, k: int) -> float:
    top = similarity.topk(k, dim=1).indices  # (n_queries, k), most similar first
    hits = corpus_labels[top] == query_labels[:, None]
    first_rank = hits.float().argmax(dim=1) + 1  # ranks count from 1
    reciprocal = torch.where(hits.any(dim=1), 1.0 / first_rank, torch.zeros(()))
    return reciprocal.mean().item()


assert cu.check.exercise_10_2(mrr_at_k)

# %% [markdown]
# A case small enough to count by hand: the first query (label 0) has a label-0 text first
# (1/1); the second (label 1) finds its first label-1 text in second place (1/2); the third
# (label 2) has none in its top 2 (0). MRR@2 = (1 + 1/2 + 0) / 3 = 0.5. Precision@1 is 1/3: a
# query with a hit at rank 1 adds 1 to both, and every other query adds at least 0 to MRR, so MRR@k
# is never below precision@1 (the "Think").

# %% tags=["nbval-check-output", "same-online"]
sims = torch.tensor([[0.9, 0.1, 0.2, 0.8, 0.3], [0.95, 0.2, 0.1, 0.3, 0.6], [0.9, 0.8, 0.1, 0.2, 0.3]])
query_labels, corpus_labels = torch.tensor([0, 1, 2]), torch.tensor([0, 1, 2, 0, 1])
relevant = embeddings.same_label(query_labels, corpus_labels, sims.topk(2, dim=1).indices)
print("top-2 hits:", relevant.tolist())
print(f"MRR@2 = {mrr_at_k(sims, query_labels, corpus_labels, k=2):.3f}, precision@1 = {embeddings.precision_at_k(relevant, 1):.3f}")

# %% [markdown]
# The "Think" of 10.1, on a small scale: one forward pass over 300 emotion texts, both poolings on
# the same hidden states, 60 validation queries against 240 corpus texts. The numbers are noisy at
# this size (one query moves precision@1 by 0.017); the chapter's corpus of 2,000 gives a firmer
# answer. all-MiniLM-L6-v2 was trained with mean pooling (`st_model[1].pooling_mode` is `mean`), and
# its `[CLS]` vector, never trained to summarise the text, retrieves clearly worse.

# %%
emotion = cu.load_emotion()
corpus_split = emotion["train"].shuffle(seed=0).select(range(240))
query_split = emotion["validation"].shuffle(seed=0).select(range(60))
all_texts = list(query_split["text"]) + list(corpus_split["text"])
pooled = {"mean": [], "cls": []}
with torch.inference_mode():
    for start in range(0, len(all_texts), 100):
        enc = tokenizer(all_texts[start:start + 100], padding=True, truncation=True, max_length=256,
                        return_tensors="pt").to(env.device)
        h = encoder(**enc).last_hidden_state
        pooled["mean"].append(mean_pool(h, enc["attention_mask"]).cpu())
        pooled["cls"].append(cls_pool(h, enc["attention_mask"]).cpu())
q_labels, c_labels = torch.tensor(query_split["label"]), torch.tensor(corpus_split["label"])
n_relevant = torch.bincount(c_labels, minlength=len(cu.EMOTION_LABELS))[q_labels]
precision_at_1 = {}
for name, chunks in pooled.items():
    vectors = F.normalize(torch.cat(chunks), dim=1)
    relevant = c_labels[(vectors[:60] @ vectors[60:].T).topk(10, dim=1).indices] == q_labels[:, None]
    precision_at_1[name] = embeddings.precision_at_k(relevant, 1)
    print(f"{name:4s} pooling: precision@1 {precision_at_1[name]:.3f}, precision@10 "
          f"{embeddings.precision_at_k(relevant, 10):.3f}, recall@10 {embeddings.recall_at_k(relevant, n_relevant, 10):.3f}")
assert precision_at_1["mean"] > precision_at_1["cls"]  # the model's own recipe wins

# %% [markdown]
# **10.3** `sigmoid` maps the reranker's logit into (0, 1), the same range as a positive cosine, so
# `lam` really is a weight between the two stages; `argsort(dim=1, descending=True)` ranks each
# query's candidates, best first. `lam = 0` keeps the bi-encoder's order; a large `lam` gives the
# reranker's order (sigmoid is monotonic), with the cosine breaking near-ties.

# %% tags=["nbval-check-output"]
def hybrid_order(cosine: torch.Tensor, logits: torch.Tensor, lam: float) -> torch.Tensor:
    return (cosine + lam * logits.sigmoid()).argsort(dim=1, descending=True)


assert cu.check.exercise_10_3(hybrid_order)

# %% tags=["nbval-check-output", "same-online"]
cosine, logits = torch.tensor([[0.9, 0.8, 0.7]]), torch.tensor([[0.0, -3.0, 3.0]])
for lam in (0.0, 0.1, 0.25, 10.0):
    print(f"lam = {lam:5}: order {hybrid_order(cosine, logits, lam)[0].tolist()}")
print("reranker alone:       order", logits.argsort(dim=1, descending=True)[0].tolist())

# %% [markdown]
# In the chapter, `before.gather(1, hybrid_order(bi_scores, ce_scores, lam))` for a few `lam` gives
# the answer to the "Think": `lam = 0` is section 5's bi-encoder column and a large `lam` its
# reranked column; values in between mix the two, and whether a mix beats both is an empirical
# question to measure on held-out queries like every other change.
#
# **10.4** Work in log space. A row's positives hold `sum_pos exp(s_j) / sum_all exp(s_j)` of its
# softmax, so the loss of the row is `logsumexp(row) - logsumexp(row's positives)`.
# `masked_fill(~is_positive, float("-inf"))` takes the negatives out of the second one (exp(-inf) is
# 0; multiplying by the mask would leave a 0 there, and exp(0) = 1 still counts). `torch.logsumexp`
# subtracts the row's maximum before `exp`, so large logits cannot overflow: `torch.log(scores.exp()
# .sum(1))` is inf as soon as one logit passes 88 in float32. The mean over the rows is
# `cross_entropy`'s default reduction, as in section 4.

# %% tags=["nbval-check-output"]
def multi_positive_loss(scores: torch.Tensor, is_positive: torch.Tensor) -> torch.Tensor:
    whole_row = torch.logsumexp(scores, dim=1)  # log of the softmax's denominator, one per group
    positives = torch.logsumexp(scores.masked_fill(~is_positive, float("-inf")), dim=1)  # log of the positives' part
    return (whole_row - positives).mean()


assert cu.check.exercise_10_4(multi_positive_loss)

# %% [markdown]
# The "Think", (a) and (b): with a single positive in column 0, the positives' logsumexp is that one
# score, so the loss is `logsumexp(row) - s_0 = -log_softmax(row)[0]`: section 4's
# `cross_entropy(logits, zeros)`, to float rounding. Adding a constant to a whole row adds it to both
# logsumexps, so the loss does not move: the softmax is shift-invariant, only the differences within
# a group count (a BCE on each pair would change). The naive `log(sum(exp))` on logits 60 times
# larger shows why the answer stays in log space.

# %%
gen = torch.Generator().manual_seed(0)
scores = torch.randn(4, 8, generator=gen) * 3  # 4 groups of 8 candidates
first = torch.zeros(4, 8, dtype=torch.bool)
first[:, 0] = True  # section 4's layout: the positive first
section_4 = F.cross_entropy(scores, torch.zeros(4, dtype=torch.long))
difference = (multi_positive_loss(scores, first) - section_4).abs().item()
print(f"one positive in column 0: |multi_positive_loss - cross_entropy| = {difference:.1e}")
assert difference < 1e-6

# %% tags=["nbval-check-output", "same-online"]
several = torch.rand(4, 8, generator=gen) < 0.3
several[:, 3] = True  # at least one positive per row, not in column 0
shift = torch.randn(4, 1, generator=gen) * 10  # one constant per group
print("loss unchanged when each group is shifted:",
      torch.allclose(multi_positive_loss(scores + shift, several), multi_positive_loss(scores, several)))
large = scores * 60
naive = (torch.log(large.exp().sum(1)) - torch.log((large.exp() * several).sum(1))).mean()
print(f"logits x 60: naive log(sum(exp)) finite: {naive.isfinite().item()}, "
      f"logsumexp finite: {multi_positive_loss(large, several).isfinite().item()}")

# %% [markdown]
# (c) Why several positives: the group's pairs go through the reranker in one forward pass either
# way, and with all of a query's same-label candidates marked positive, every one of them gets a
# training signal from that pass instead of one (section 4 would need a group per positive). And
# the loss only asks the positives *together* to win: its gradient on a positive j is
# `p_j - p_j / P` (P: the positives' total probability), never above 0, so gradient descent never
# lowers a positive's score, and one positive is free to rank above another. Adding up each
# positive's own cross-entropy instead asks every positive for the whole probability: its gradient
# `k p_j - 1` (k positives) turns positive once a positive holds more than 1/k, and the best
# positive is pushed down towards the others.

# %% tags=["nbval-check-output", "same-online"]
row = torch.tensor([[3.0, 1.0, 0.5, -1.0, 0.0, -0.5]])  # one group: columns 0 and 1 are positives
two = torch.tensor([[True, True, False, False, False, False]])
for name, loss_fn in (("-log of the positives' sum (10.4)", multi_positive_loss),
                      ("sum of each positive's -log p", lambda s, m: -(s.log_softmax(1) * m).sum(1).mean())):
    trainable = row.clone().requires_grad_(True)
    loss_fn(trainable, two).backward()
    steps = ["up" if g < 0 else "down" for g in trainable.grad[0, :2].tolist()]  # gradient descent moves by -grad
    print(f"{name:34s}: positive 0 goes {steps[0]}, positive 1 goes {steps[1]}")
