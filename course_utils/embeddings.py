"""Sentence embeddings, semantic search and reranking, by hand (notebook 10).

What ``sentence-transformers``, ``FlagEmbedding`` and friends do underneath, in a few small
functions a learner can read in one sitting:

- :func:`mean_pool` / :func:`cls_pool`: one vector per text from ``last_hidden_state``;
- :func:`embed`: tokenizer + ``AutoModel`` + pooling + L2 normalisation, in batches;
- :func:`search`: top-k neighbours by cosine similarity;
- :func:`pair_scores`: a cross-encoder (``AutoModelForSequenceClassification``) over text pairs,
  which is what ``FlagReranker.compute_score`` and ``CrossEncoder.predict`` wrap;
- :func:`mined_groups`: training groups for a reranker (a text, one positive, hard negatives);
- :func:`train_cross_encoder`: the plain training loop notebook 10 writes by hand (a softmax over
  each group's logits), which ``benchmarks/reranker.py`` runs over several seeds;
- :func:`same_label`, :func:`precision_at_k`, :func:`recall_at_k`: retrieval metrics when
  "relevant" means "has the query's label".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from torch.optim import Optimizer
    from torch.optim.lr_scheduler import LRScheduler
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

POOLINGS: tuple[str, ...] = ("mean", "cls")


def _check_hidden_and_mask(last_hidden_state: torch.Tensor, attention_mask: torch.Tensor) -> None:
    if last_hidden_state.dim() != 3:
        raise ValueError(
            f"last_hidden_state must have shape (batch, seq_len, hidden), got {tuple(last_hidden_state.shape)}"
        )
    if attention_mask.shape != last_hidden_state.shape[:2]:
        raise ValueError(
            f"attention_mask must have shape (batch, seq_len) = {tuple(last_hidden_state.shape[:2])}, "
            f"got {tuple(attention_mask.shape)}"
        )


def mean_pool(last_hidden_state: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Average of the token vectors where ``attention_mask`` is 1 (padding excluded): ``(b, s, h) -> (b, h)``.

    Taught in: 03 Models and heads, "Config vs weights".
    """
    _check_hidden_and_mask(last_hidden_state, attention_mask)
    mask = attention_mask.unsqueeze(-1).to(last_hidden_state.dtype)
    summed = (last_hidden_state * mask).sum(dim=1)
    counts = mask.sum(dim=1).clamp(min=1e-9)  # an all-padding row gives zeros, not NaN
    return summed / counts


def cls_pool(last_hidden_state: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """The vector of each text's first real token ([CLS]), as bge models pool: ``(b, s, h) -> (b, h)``.

    With right padding (the encoders' default) that is column 0; with left padding the first
    column where ``attention_mask`` is 1.

    Taught in: 10 Sentence embeddings, "bge and FlagEmbedding, with the Hub".
    """
    _check_hidden_and_mask(last_hidden_state, attention_mask)
    first = attention_mask.long().argmax(dim=1)
    return last_hidden_state[torch.arange(last_hidden_state.size(0), device=first.device), first]


@torch.inference_mode()
def embed(
    texts: Sequence[str],
    tokenizer: PreTrainedTokenizerBase,
    model: PreTrainedModel,
    pooling: str = "mean",
    normalize: bool = True,
    batch_size: int = 64,
    max_length: int = 256,
) -> torch.Tensor:
    """Embed ``texts`` with tokenizer + ``AutoModel`` + pooling (+ L2 normalisation): a ``(len(texts), hidden)`` tensor.

    Taught in: 10 Sentence embeddings, "The same thing with `sentence-transformers`, bit for bit".
    """
    if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
        raise ValueError("texts must be a sequence of strings (wrap a single text in a list)")
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    if batch_size < 1 or max_length < 2:
        raise ValueError(f"batch_size must be >= 1 and max_length >= 2, got {batch_size} and {max_length}")
    texts = list(texts)
    pool = mean_pool if pooling == "mean" else cls_pool
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    chunks = []
    for start in range(0, len(texts), batch_size):
        batch = tokenizer(
            list(texts[start : start + batch_size]),
            padding=True,
            truncation=True,
            max_length=max_length,
            return_tensors="pt",
        ).to(device)
        vectors = pool(model(**batch).last_hidden_state, batch["attention_mask"])
        if normalize:
            vectors = torch.nn.functional.normalize(vectors, p=2, dim=1)
        chunks.append(vectors.float().cpu())
    model.train(was_training)
    if not chunks:
        return torch.empty(0, model.config.hidden_size)
    return torch.cat(chunks)


def search(
    query_embeddings: torch.Tensor,
    corpus_embeddings: torch.Tensor,
    k: int = 10,
    exclude_self: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-``k`` corpus rows per query by cosine similarity: ``(scores, indices)``, each ``(n_queries, k)``, best first.

    ``exclude_self=True`` is for queries that are the corpus itself (row ``i`` never returns ``i``).

    Taught in: 10 Sentence embeddings, "Semantic search over the emotion texts".
    """
    if query_embeddings.dim() != 2 or corpus_embeddings.dim() != 2:
        raise ValueError("query_embeddings and corpus_embeddings must be 2-D (n, hidden) tensors")
    if query_embeddings.shape[1] != corpus_embeddings.shape[1]:
        raise ValueError(
            f"embedding sizes differ: queries {query_embeddings.shape[1]}, corpus {corpus_embeddings.shape[1]}"
        )
    limit = corpus_embeddings.shape[0] - (1 if exclude_self else 0)
    if not 1 <= k <= limit:
        raise ValueError(
            f"k must be between 1 and {limit} (the corpus size{' minus self' if exclude_self else ''}), got {k}"
        )
    q = torch.nn.functional.normalize(query_embeddings.float(), dim=1)
    c = torch.nn.functional.normalize(corpus_embeddings.float(), dim=1)
    sims = q @ c.T
    if exclude_self:
        if sims.shape[0] != sims.shape[1]:
            raise ValueError("exclude_self=True needs the queries to be the corpus (same number of rows)")
        sims.fill_diagonal_(float("-inf"))
    return sims.topk(k, dim=1)


@torch.inference_mode()
def pair_scores(
    pairs: Sequence[tuple[str, str]],
    tokenizer: PreTrainedTokenizerBase,
    model: PreTrainedModel,
    batch_size: int = 64,
    max_length: int = 512,
) -> torch.Tensor:
    """Cross-encoder relevance logits for ``(query, passage)`` pairs: one float per pair (what ``FlagReranker.compute_score`` returns).

    Like ``FlagReranker``, the pairs are tokenized once, sorted by length so that each batch pads
    little, scored, and returned in the original order.

    Taught in: 10 Sentence embeddings, "Rerank, and measure whether it helps".
    """
    if isinstance(pairs, tuple) or not all(isinstance(p, (tuple, list)) and len(p) == 2 for p in pairs):
        raise ValueError("pairs must be a sequence of (query, passage) pairs, e.g. [('q', 'p')]")
    if model.config.num_labels != 1:
        raise ValueError(f"model must have one output (num_labels=1), got num_labels={model.config.num_labels}")
    if batch_size < 1 or max_length < 3:
        raise ValueError(f"batch_size must be >= 1 and max_length >= 3, got {batch_size} and {max_length}")
    if len(pairs) == 0:
        return torch.empty(0)
    encoded = tokenizer([q for q, _ in pairs], [p for _, p in pairs], truncation=True, max_length=max_length)
    features = [{key: values[i] for key, values in encoded.items()} for i in range(len(pairs))]
    order = sorted(range(len(pairs)), key=lambda i: len(features[i]["input_ids"]), reverse=True)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    scores = torch.empty(len(pairs))
    for start in range(0, len(pairs), batch_size):
        rows = order[start : start + batch_size]
        batch = tokenizer.pad([features[i] for i in rows], padding=True, return_tensors="pt").to(device)
        scores[rows] = model(**batch).logits.view(-1).float().cpu()
    model.train(was_training)
    return scores


def mined_groups(
    corpus_embeddings: torch.Tensor, corpus_labels: torch.Tensor, group_size: int = 4, k: int = 10, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Training groups for a reranker, mined with the bi-encoder: ``(anchors, candidates)``.

    For every corpus row (in a seeded random order) whose ``k`` nearest other rows hold at least one
    row with its label and ``group_size - 1`` without: the row (the anchor) and ``group_size``
    candidates, one positive first, then negatives, all drawn at random from those neighbours. These
    are FlagEmbedding's training groups (``train_group_size``) with hard negatives: the confusable
    candidates the reranker will meet. ``anchors`` is ``(n,)``; ``candidates`` is ``(n, group_size)``.

    Taught in: 10 Sentence embeddings, "Training groups, with negatives mined by the bi-encoder".
    """
    if corpus_labels.shape != (corpus_embeddings.shape[0],):
        raise ValueError(
            f"corpus_labels must hold one label per corpus row ({corpus_embeddings.shape[0]}), got {tuple(corpus_labels.shape)}"
        )
    if not 2 <= group_size <= k + 1:
        raise ValueError(
            f"group_size must be between 2 and k + 1 = {k + 1} (one positive, the rest negatives), got {group_size}"
        )
    _, neighbours = search(corpus_embeddings, corpus_embeddings, k=k, exclude_self=True)
    g = torch.Generator().manual_seed(seed)
    anchors, groups = [], []
    for anchor in torch.randperm(corpus_embeddings.shape[0], generator=g).tolist():
        near = neighbours[anchor]
        same = corpus_labels[near] == corpus_labels[anchor]
        positives, negatives = near[same], near[~same]
        if len(positives) == 0 or len(negatives) < group_size - 1:
            continue
        positive = positives[torch.randint(len(positives), (1,), generator=g)]
        chosen = negatives[torch.randperm(len(negatives), generator=g)[: group_size - 1]]
        anchors.append(anchor)
        groups.append(torch.cat([positive, chosen]))
    if not anchors:
        raise ValueError("no corpus row has both a positive and enough negatives among its neighbours")
    return torch.tensor(anchors), torch.stack(groups)


def train_cross_encoder(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    groups: Sequence[tuple[str, Sequence[str]]],
    optimizer: Optimizer,
    groups_per_step: int = 4,
    scheduler: LRScheduler | None = None,
    max_length: int = 128,
    autocast_dtype: torch.dtype | None = None,
) -> list[float]:
    """One pass over ``groups`` (``(query, [positive, negative, ...])``), ``groups_per_step`` at a time.

    Every (query, candidate) pair gets one logit; each group's logits go through a softmax, and the
    loss is the cross-entropy of the positive (the first candidate): FlagEmbedding's reranker loss.
    ``optimizer`` (and ``scheduler``, stepped after it) belong to the caller, so that several calls
    continue one run. ``autocast_dtype`` (e.g. ``torch.bfloat16``) runs the forward pass under
    ``torch.autocast``. Returns the loss of every step; a last step with fewer groups is dropped.

    Taught in: 10 Sentence embeddings, "Training groups, with negatives mined by the bi-encoder".
    """
    if isinstance(groups, tuple) or not all(
        isinstance(g, (tuple, list)) and len(g) == 2 and isinstance(g[0], str) and not isinstance(g[1], str)
        for g in groups
    ):
        raise ValueError("groups must be a sequence of (query, [positive, negative, ...]) pairs")
    sizes = {len(candidates) for _, candidates in groups}
    if len(sizes) != 1 or min(sizes) < 2:
        raise ValueError(f"every group needs the same number (at least 2) of candidates, got sizes {sorted(sizes)}")
    if model.config.num_labels != 1:
        raise ValueError(f"model must have one output (num_labels=1), got num_labels={model.config.num_labels}")
    if not 1 <= groups_per_step <= len(groups) or max_length < 3:
        raise ValueError(
            f"groups_per_step must be between 1 and len(groups) = {len(groups)} and max_length >= 3, "
            f"got {groups_per_step} and {max_length}"
        )
    size = sizes.pop()
    device = next(model.parameters()).device
    model.train()
    losses = []
    for start in range(0, len(groups) - groups_per_step + 1, groups_per_step):
        step_groups = groups[start : start + groups_per_step]
        queries = [query for query, candidates in step_groups for _ in candidates]
        passages = [passage for _, candidates in step_groups for passage in candidates]
        inputs = tokenizer(
            queries, passages, padding=True, truncation=True, max_length=max_length, return_tensors="pt"
        ).to(device)
        with torch.autocast(device.type, dtype=autocast_dtype or torch.float32, enabled=autocast_dtype is not None):
            logits = model(**inputs).logits.view(groups_per_step, size)
        positive_first = torch.zeros(groups_per_step, dtype=torch.long, device=device)
        loss = torch.nn.functional.cross_entropy(logits.float(), positive_first)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    model.eval()
    return losses


def same_label(query_labels: torch.Tensor, corpus_labels: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """Boolean ``(n_queries, k)`` matrix: is the retrieved corpus row ``indices[i, j]`` of query ``i``'s label?

    Taught in: 10 Sentence embeddings, "Measuring it: precision@k and recall@k".
    """
    if indices.dim() != 2 or query_labels.dim() != 1 or indices.shape[0] != query_labels.shape[0]:
        raise ValueError(
            "indices must be (n_queries, k) and query_labels (n_queries,), got "
            f"{tuple(indices.shape)} and {tuple(query_labels.shape)}"
        )
    return corpus_labels[indices] == query_labels.unsqueeze(1)


def _check_relevance(relevant: torch.Tensor, k: int) -> None:
    if relevant.dim() != 2 or relevant.dtype != torch.bool:
        raise ValueError(
            f"relevant must be a boolean (n_queries, k) tensor, got {relevant.dtype} {tuple(relevant.shape)}"
        )
    if not 1 <= k <= relevant.shape[1]:
        raise ValueError(f"k must be between 1 and {relevant.shape[1]} (the columns of relevant), got {k}")


def precision_at_k(relevant: torch.Tensor, k: int) -> float:
    """Mean over queries of (relevant results among the first ``k``) / ``k``.

    Taught in: 10 Sentence embeddings, "Measuring it: precision@k and recall@k".
    """
    _check_relevance(relevant, k)
    return relevant[:, :k].float().mean().item()


def recall_at_k(relevant: torch.Tensor, n_relevant: torch.Tensor, k: int) -> float:
    """Mean over queries of (relevant results among the first ``k``) / (relevant rows in the whole corpus).

    Taught in: 10 Sentence embeddings, "Measuring it: precision@k and recall@k".
    """
    _check_relevance(relevant, k)
    n_relevant = torch.as_tensor(n_relevant)
    if n_relevant.shape != (relevant.shape[0],) or bool((n_relevant < 1).any()):
        raise ValueError(f"n_relevant must hold one positive count per query ({relevant.shape[0]}), got {n_relevant}")
    return (relevant[:, :k].sum(dim=1) / n_relevant).mean().item()
