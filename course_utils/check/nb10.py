"""Checkers for notebook 10 (sentence embeddings, semantic search and reranking).

Each checker reads as a table of rules. While the learner's function runs, what the exercise
re-implements is switched off (the course's poolings and search, sentence-transformers' forms of
them); every checker tries four or five inputs that vary every argument (padding on either side,
k, ties, a query without relevant texts, lam, group sizes, numbers of positives, logit scales) and
compares at the precision of the inputs' dtype, so a right answer passes in float32 and bfloat16.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from ..i18n import N_, _
from ._core import answer, checker, expect, model_dtype, tensor_mismatch, tolerance

__all__ = ["exercise_10_1", "exercise_10_2", "exercise_10_3", "exercise_10_4"]

_POOLING = "sentence_transformers.sentence_transformer.modules.pooling.Pooling"
_SEARCH = {
    "embeddings.search": "course_utils.embeddings.search",
    "sentence_transformers.util.semantic_search": "sentence_transformers.util.semantic_search",
}


def _ulp(dtype: Any) -> float:
    """One unit in the last place of ``dtype`` near 1 (bfloat16: 2**-7), at least 1.25e-5: tolerance()'s eighth.
    A right answer's rounding stays within one such unit times the magnitude of the numbers it adds up."""
    return tolerance(dtype) / 8


def _near(got: Any, *candidates: Any, tol: float) -> bool:
    """Is ``got`` (a tensor or a number) within ``tol`` of one of the finite ``candidates``, entry by entry?"""
    import torch

    got = torch.as_tensor(got).detach().cpu().double()
    finite = [torch.as_tensor(c).double() for c in candidates if torch.as_tensor(c).isfinite().all()]
    return any(got.shape == c.shape and bool(((got - c).abs() <= tol).all()) for c in finite)


def _judge(right: Any, rows: list[tuple[Any, str]], otherwise: str, on: str) -> None:
    """Accept when ``right``; else reject with the hint of the first row whose condition holds, or ``otherwise``."""
    if not right:
        expect(*rows, (True, otherwise), on=on)


def _padded_batches(dtype: Any) -> Iterator[tuple[Any, Any, str]]:
    """``(last_hidden_state, attention_mask, description)``: texts of 2 or more tokens, padded on the right or
    the left with large garbage vectors (the longest text sets the length), several lengths and hidden sizes."""
    import torch

    gen = torch.Generator().manual_seed(1010)
    for batch, seq_len, hidden, side in (
        (5, 9, 6, "right"),
        (4, 12, 8, "left"),
        (3, 5, 4, "right"),
        (6, 7, 10, "left"),
    ):
        lengths = torch.randint(2, seq_len, (batch,), generator=gen)
        lengths[1] = seq_len
        mask = (torch.arange(seq_len) < lengths[:, None]).long()
        mask = mask.flip(1) if side == "left" else mask
        real = torch.randn(batch, seq_len, hidden, generator=gen) + 2
        garbage = 30 * torch.randn(batch, seq_len, hidden, generator=gen)
        states = torch.where(mask[..., None].bool(), real, garbage).to(dtype)
        yield (
            states,
            mask,
            (
                _("{batch} texts of {lengths} tokens padded on the left to {seq_len}, hidden {hidden}")
                if side == "left"
                else _("{batch} texts of {lengths} tokens padded on the right to {seq_len}, hidden {hidden}")
            ).format(batch=batch, lengths=lengths.tolist(), seq_len=seq_len, hidden=hidden),
        )


@checker(
    "10.1",
    asks=N_("the poolings"),
    off={
        "embeddings.mean_pool": "course_utils.embeddings.mean_pool",
        "embeddings.cls_pool": "course_utils.embeddings.cls_pool",
        N_("sentence-transformers' Pooling"): (f"{_POOLING}.forward", f"{_POOLING}._forward_padded"),
    },
)
def exercise_10_1(mean_pool: Callable[..., Any], cls_pool: Callable[..., Any]) -> None:
    """``mean_pool(h, mask)`` (masked mean) and ``cls_pool(h, mask)`` ([CLS], the first real token): ``(b, s, h) -> (b, h)``."""
    import torch

    got: Any  # each pooling's answer, read by the rows of its table
    for states, mask, on in _padded_batches(model_dtype()):
        h, m = states.double(), mask[..., None].double()
        tol = _ulp(states.dtype) * (1 + (h * m).abs().max().item())
        wide = _ulp(states.dtype) * (1 + h.abs().sum(1).max().item())  # mean_pool's rows: sums with garbage
        first, mean = h[torch.arange(len(h)), mask.argmax(1)], (h * m).sum(1) / m.sum(1)
        for name, fn, want, rows, otherwise in (
            ("mean_pool", mean_pool, mean, [
                (lambda: _near(got, h.mean(1), tol=wide), _("the padding vectors are averaged in; multiply by the mask first")),
                (lambda: _near(got, (h * m).sum(1), tol=wide), _("that is the masked SUM; divide by the number of real tokens, mask.sum(1)")),
                (lambda: _near(got, (h * m).sum(1) / h.shape[1], tol=wide), _("divide by the number of real tokens (mask.sum(1)), not by seq_len")),
                (lambda: _near(got, first, tol=wide), _("that is the [CLS] vector: average over the real tokens instead")),
            ], _("average the vectors where the mask is 1, sum_t m_t h_t / sum_t m_t (padding on either side must not count)")),
            ("cls_pool", cls_pool, first, [
                (lambda: _near(got, h[:, 0], tol=tol), _("with padding on the left, [CLS] is the first REAL token (the first 1 in the mask), not position 0")),
                (lambda: _near(got, h[:, -1], tol=tol), _("[CLS] is the FIRST real position; the last one is [SEP] or padding")),
                (lambda: _near(got, mean, tol=tol), _("that is the mean: return the [CLS] vector, the first real token of each text")),
            ], _("return each text's [CLS] vector, at the first position where the mask is 1")),
        ):  # fmt: skip
            got = answer(fn, states.clone(), mask.clone())
            expect((tensor_mismatch(got, want.shape), lambda: _("{name}: expected shape {shape} (one vector per text), got {got}").format(name=name, shape=tuple(want.shape), got=tensor_mismatch(got, want.shape))), on=on)  # fmt: skip
            _judge(
                _near(got, want, tol=tol),
                [(c, _("{key}: {why}").format(key=name, why=hint)) for c, hint in rows],
                _("{key}: {why}").format(key=name, why=otherwise),
                on,
            )


def _retrieval(gen: Any, n_queries: int, n_corpus: int, n_labels: int, k: int, dtype: Any) -> tuple[Any, Any, Any]:
    """Similarities that rank the corpus in a random order per query, with neighbours of one label tied (exact
    in bfloat16 too: any tie-break ranks the same labels); query 0's label is in no corpus text, query 1's
    first same-label text is at rank k (when k - 1 others exist)."""
    import torch

    corpus_labels = torch.randint(0, n_labels, (n_corpus,), generator=gen)
    query_labels = torch.randint(0, n_labels, (n_queries,), generator=gen)
    query_labels[0], query_labels[1] = n_labels, corpus_labels[0]
    order = torch.rand(n_queries, n_corpus, generator=gen).argsort(1)
    hit = corpus_labels[order[1]] == query_labels[1]
    order[1] = torch.cat([order[1][~hit][: k - 1], order[1][hit], order[1][~hit][k - 1 :]])
    ranked = corpus_labels[order]
    tied = torch.cat([torch.zeros(n_queries, 1, dtype=torch.long), (ranked[:, 1:] != ranked[:, :-1]).cumsum(1)], 1)
    sims = torch.empty(n_queries, n_corpus).scatter_(1, order, torch.linspace(0.9, -0.9, n_corpus)[tied])
    return sims.to(dtype), query_labels, corpus_labels


def _reciprocal(hits: Any) -> Any:
    """Per query, 1 / rank of the first True of each row of ``hits`` (ranks from 1), 0 without one."""
    import torch

    return torch.where(hits.any(1), 1.0 / (hits.double().argmax(1) + 1), 0.0)


@checker(
    "10.2",
    asks=N_("the ranking and the metric"),
    off={**_SEARCH, "embeddings.same_label": "course_utils.embeddings.same_label"},
)
def exercise_10_2(mrr_at_k: Callable[..., Any]) -> None:
    """``mrr_at_k(similarity, query_labels, corpus_labels, k)`` -> mean over queries of 1 / rank of the first same-label text in the top k (0 if none)."""
    import math

    import torch

    gen = torch.Generator().manual_seed(1020)
    for n_queries, n_corpus, n_labels, k in ((12, 32, 3, 5), (10, 24, 4, 1), (8, 16, 2, 16), (9, 40, 5, 3)):
        sims, query_labels, corpus_labels = _retrieval(gen, n_queries, n_corpus, n_labels, k, model_dtype())
        ranked = corpus_labels[sims.double().sort(dim=1, descending=True, stable=True).indices] == query_labels[:, None]
        top, rr, tol = ranked[:, :k], _reciprocal(ranked[:, :k]), _ulp(sims.dtype)
        got = answer(mrr_at_k, sims.clone(), query_labels.clone(), corpus_labels.clone(), k)
        got = got.item() if isinstance(got, torch.Tensor) and got.numel() == 1 else got
        on = _(
            "k={k}, {n_queries} queries (query 0's label in no corpus text, query 1's first hit at rank k), corpus of {n_corpus} with ties"
        ).format(k=k, n_queries=n_queries, n_corpus=n_corpus)
        expect(
            (isinstance(got, bool) or not isinstance(got, (int, float)), lambda: _("return one number (the mean over the queries), got {type} {got}").format(type=type(got).__name__, got=str(got)[:60])),
            (lambda: not math.isfinite(got), _("ranks start at 1 (the best text has reciprocal rank 1/1): use 1 / (position + 1)")),
            on=on,
        )  # fmt: skip
        _judge(_near(got, rr.mean(), tol=tol), [
            (lambda: _near(got, _reciprocal(ranked.flip(1)[:, :k]).mean(), tol=tol), _("you ranked the LEAST similar texts first: take topk(k) (largest) or argsort(descending=True)")),
            (lambda: _near(got, (1 / (top.double().argmax(1) + 1)).mean(), tol=tol), _("a query with no same-label text in its top k counts 0; argmax of an all-False row is 0 (rank 1): check hits.any(dim=1)")),
            (lambda: _near(got, rr[top.any(1)].mean(), tol=tol), _("average over ALL queries: one without a hit in its top k counts 0, it is not left out")),
            (lambda: _near(got, top.double().mean(), top[:, 0].double().mean(), tol=tol), _("that is precision@k (or @1): MRR uses the rank of the FIRST same-label text")),
            (lambda: _near(got, (top / torch.arange(1.0, k + 1)).sum(1).mean(), tol=tol), _("only the FIRST same-label text counts, not the sum of 1/rank over every hit")),
            (lambda: _near(got, torch.where(top.any(1), top.double().argmax(1) + 1, 0.0).mean(), tol=tol), _("average the RECIPROCAL ranks, 1 / rank, not the ranks")),
            (lambda: _near(got, *(_reciprocal(ranked[:, :j]).mean() for j in {k - 1, k + 1, 5, 10, n_corpus} - {0, k}), tol=tol), _("that is MRR at another depth: use the k you are given; a first hit below rank k counts 0")),
        ], _("MRR@k is off: mean over queries of 1 / (rank of the first same-label text in the top k), 0 when there is none"), on)  # fmt: skip


def _is_order(order: Any, scores: Any, tol: float) -> bool:
    """Does each row of ``order`` (a permutation) list ``scores`` best first, ties (up to ``tol``) in any order?"""
    ranked = scores.gather(1, order.long().cpu())
    return bool((ranked[:, 1:] <= ranked[:, :-1] + tol).all())


@checker("10.3", asks=N_("the ranking"), off=_SEARCH)
def exercise_10_3(hybrid_order: Callable[..., Any]) -> None:
    """``hybrid_order(cosine, logits, lam)`` -> candidate order (long, ``(n_queries, depth)``), best ``cosine + lam * sigmoid(logit)`` first."""
    import torch

    gen = torch.Generator().manual_seed(1030)
    for n_queries, depth, lam, scale, unsorted in (
        (6, 10, 0.5, 3, 0),
        (4, 7, 2.0, 3, 0),
        (5, 8, 0.0, 3, 0),
        (5, 9, 0.1, 8, 1),
        (3, 6, 25.0, 1, 1),
    ):
        cosine = (torch.rand(n_queries, depth, generator=gen) * 12).round() / 20 + 0.3  # steps of 0.05: ties
        # sorted: the bi-encoder's order, as search() returns it (then lam = 0 keeps it)
        cosine = cosine if unsorted else cosine.sort(1, descending=True).values
        logits = torch.randn(n_queries, depth, generator=gen) * scale
        cosine, logits = cosine.to(model_dtype()), logits.to(model_dtype())
        c, lg, tol = cosine.double(), logits.double(), 2 * _ulp(cosine.dtype) * (1 + lam)
        got = answer(hybrid_order, cosine.clone(), logits.clone(), lam)
        on = (
            _("{n_queries} queries x {depth} candidates, lam={lam}, logits x{scale}, cosine unsorted with ties")
            if unsorted
            else _("{n_queries} queries x {depth} candidates, lam={lam}, logits x{scale}, cosine sorted with ties")
        ).format(n_queries=n_queries, depth=depth, lam=lam, scale=scale)
        expect(
            (tensor_mismatch(got, cosine.shape), lambda: _("return the order as a tensor of shape {shape}, got {got}").format(shape=tuple(cosine.shape), got=tensor_mismatch(got, cosine.shape))),
            (lambda: got.is_floating_point() or got.is_complex(), _("return the ORDER (indices from argsort), not the hybrid scores themselves")),
            (lambda: not torch.equal(got.long().cpu().sort(1).values, torch.arange(depth).expand(n_queries, depth)), _("each row must list every candidate once: the indices 0..depth-1 in the hybrid order")),
            on=on,
        )  # fmt: skip
        _judge(_is_order(got, c + lam * lg.sigmoid(), tol), [
            (lambda: _is_order(got, -(c + lam * lg.sigmoid()), tol), _("best first: argsort(dim=1, descending=True)")),
            (lambda: _is_order(got.argsort(1), c + lam * lg.sigmoid(), tol), _("that is each candidate's RANK (argsort applied twice): return the order, the candidates' indices best first")),
            (lambda: _is_order(got, c + lam * lg, tol), _("squash the logit first: cosine + lam * sigmoid(logit), both then lie in a comparable range")),
            (lambda: _is_order(got, lam * c + lg.sigmoid(), tol), _("lam weighs the reranker's probability: cosine + lam * sigmoid(logit)")),
            (lambda: _is_order(got, lg, tol) or _is_order(got, c, tol), _("both stages count: cosine + lam * sigmoid(logit), not one of them alone")),
        ], _("wrong order for lam={lam}: rank each row (query) by cosine + lam * sigmoid(logit), best first").format(lam=lam), on)  # fmt: skip


def _groups(dtype: Any) -> Iterator[tuple[Any, Any, str]]:
    """``(scores, is_positive, description)``: groups of 2 to 10 candidates, 1 to all of them positive (anywhere,
    or section 4's column 0), logits from nearly uniform (x0.3) to overflowing exp in float32 (x60)."""
    import torch

    gen = torch.Generator().manual_seed(1040)
    for n_groups, size, most, scale in (
        (8, 6, 3, 2.0),
        (6, 4, 0, 2.0),
        (5, 10, 1, 0.3),
        (6, 10, 9, 60.0),
        (5, 2, 2, 5.0),
    ):
        counts = torch.randint(1, max(most, 1) + 1, (n_groups,), generator=gen)
        counts[-1] = max(most, 1)
        place = (
            torch.rand(n_groups, size, generator=gen).argsort(1).argsort(1)
            if most
            else torch.arange(size).expand(n_groups, size)
        )
        scores = (torch.randn(n_groups, size, generator=gen) * scale).to(dtype)
        yield (
            scores,
            place < counts[:, None],
            (
                _("{n_groups} groups of {size}, {counts} positives, logits x{scale}")
                if most
                else _("{n_groups} groups of {size}, {counts} positives in column 0, logits x{scale}")
            ).format(n_groups=n_groups, size=size, counts=counts.tolist(), scale=scale),
        )


@checker("10.4", asks=N_("the loss"))
def exercise_10_4(multi_positive_loss: Callable[..., Any]) -> None:
    """``multi_positive_loss(scores, is_positive)``: mean over the groups (rows) of -log(sum of softmax(row) over its positives).

    ``scores`` is ``(n_groups, group_size)`` logits, ``is_positive`` a boolean mask of the same shape
    with at least one positive per row, anywhere in it. The value must be finite on large logits
    and carry the right gradient.
    """
    import torch
    import torch.nn.functional as F

    for scores, pos, on in _groups(model_dtype()):
        leaf = scores.clone().requires_grad_(True)
        got = answer(multi_positive_loss, leaf, pos.clone())
        s, m, zeros = scores.double(), pos.double(), torch.zeros(len(scores), dtype=torch.long)
        logp, p, positives = s.log_softmax(1), s.softmax(1), s.masked_fill(~pos, float("-inf")).logsumexp(1)
        want, per_positive = (s.logsumexp(1) - positives).mean(), -(logp * m).sum(1)
        # a right answer rounds logsumexps of numbers up to max |s|, and the loss itself
        tol = _ulp(scores.dtype) * (1 + want.abs().item() + s.abs().max().item())
        expect(
            (not isinstance(got, torch.Tensor), lambda: _("return the loss as a tensor (loss.backward() needs it), got {type}: drop .item()").format(type=type(got).__name__)),
            (lambda: got.dim() != 0, lambda: _("return one number (the mean over the groups), got shape {shape}").format(shape=tuple(got.shape))),
            (lambda: not got.requires_grad, _("the loss lost its gradient: compute it from `scores` with torch ops (no .item(), .detach(), numpy)")),
            (lambda: not got.isfinite(), lambda: _("the loss is {loss}: exp(score) overflows above 88 (or a probability underflows to 0); stay in log space with torch.logsumexp or log_softmax").format(loss=got.item())),
            on=on,
        )  # fmt: skip
        _judge(_near(got, want, tol=tol), [
            (lambda: _near(got, -want, tol=tol), _("wrong sign: the loss is -log(the positives' probability), >= 0, so that minimising it raises that probability")),
            (lambda: _near(got, F.cross_entropy(s, zeros), tol=tol), _("is_positive is ignored: that is section 4's cross_entropy with target 0, right only for one positive in column 0")),
            (lambda: _near(got, F.cross_entropy(s, m.argmax(1)), tol=tol), _("only one positive per row counts: a row can hold several, and the loss is -log of the SUM of their softmax probabilities")),
            (lambda: _near(got, per_positive.mean(), per_positive.sum(), tol=tol), _("that adds up each positive's own -log p: the positives are asked together, the loss is -log of the SUM of their probabilities")),
            (lambda: _near(got, (per_positive / m.sum(1)).mean(), -logp[pos].mean(), tol=tol), _("that averages each positive's own -log p: the positives are asked together, the loss is -log of the SUM of their probabilities")),
            (lambda: _near(got, F.binary_cross_entropy_with_logits(s, m), F.binary_cross_entropy_with_logits(s, m, reduction="none").sum(1).mean(), tol=tol), _("that is BCE on each pair; this loss is a softmax over each row: -log of the share of the row's probability that falls on its positives")),
            (lambda: _near(got, (p.logsumexp(1) - p.masked_fill(~pos, float("-inf")).logsumexp(1)).mean(), F.cross_entropy(p, m.argmax(1)), tol=tol), _("torch.logsumexp, log_softmax and cross_entropy take raw scores (logits) and normalise them themselves: do not softmax first")),
            (lambda: _near(got, -(p * m).sum(1).mean(), (1 - (p * m).sum(1)).mean(), tol=tol), _("take the log: the loss is -log(sum of the positives' probabilities), not the probability itself")),
            (lambda: _near(got, (s.logsumexp(1) - (s * m).logsumexp(1)).mean(), -(logp * m).logsumexp(1).mean(), tol=tol), _("multiplying by the mask puts 0 in the negatives' place, and in log space 0 still counts (exp(0) = 1): fill them with -inf instead, scores.masked_fill(~is_positive, float('-inf'))")),
            (lambda: _near(got, (s.masked_fill(pos, float("-inf")).logsumexp(1) - positives).mean(), tol=tol), _("the softmax runs over the whole row, positives included: normalise with torch.logsumexp(scores, dim=1)")),
            (lambda: _near(got, (s.logsumexp(1) - positives).sum(), tol=tol), _("average over the groups (the mean), not the sum")),
            (lambda: _near(got, (s.logsumexp(0) - s.masked_fill(~pos, float("-inf")).logsumexp(0)).mean(), tol=tol), _("the softmax runs over each ROW (dim=1): a row is one query's group")),
        ], _("wrong value: the mean over the groups of -log(the sum of softmax(row) over the row's positives)"), on)  # fmt: skip
        (grad,) = answer(
            torch.autograd.grad, got, leaf, allow_unused=True, when=_("the gradient of your loss failed: ")
        )
        expect(
            (grad is None, _("the value is right but it has no gradient with respect to `scores`: build the loss from `scores` itself")),
            (lambda: not grad.isfinite().all(), _("the value is right but its gradient holds nan or inf: keep every step finite (masked_fill with -inf, then torch.logsumexp)")),
            (lambda: not _near(grad * len(s), p - s.masked_fill(~pos, float("-inf")).softmax(1), tol=tol), _("the value is right but not its gradient: build the whole loss from `scores` with torch ops (no .detach(), .item() or torch.no_grad() inside)")),
            on=on,
        )  # fmt: skip
