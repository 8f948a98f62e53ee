"""Checkers for notebook 10 (sentence embeddings, semantic search and reranking)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._core import Verdict, call_safely, tensor_mismatch, verdict

__all__ = ["exercise_10_1", "exercise_10_2", "exercise_10_3", "exercise_10_4"]


def _hidden_and_mask(gen: Any, batch: int, seq_len: int, hidden: int) -> tuple[Any, Any]:
    """Random ``last_hidden_state`` and a right-padded int64 ``attention_mask`` (every row has >= 2 real tokens)."""
    import torch

    states = torch.randn(batch, seq_len, hidden, generator=gen)
    lengths = torch.randint(2, seq_len + 1, (batch,), generator=gen)
    lengths[0] = seq_len  # the longest text sets the padded length, as with padding=True
    mask = (torch.arange(seq_len)[None, :] < lengths[:, None]).long()
    return states, mask


def _as_tensor_result(exercise: str, got: Any, shape: tuple[int, ...]) -> bool:
    import torch

    if not isinstance(got, torch.Tensor):
        verdict(exercise, False, f"return a tensor of shape {shape}, got {type(got).__name__}")
        return False
    if tuple(got.shape) != shape:
        verdict(exercise, False, f"expected shape {shape} (one vector per text), got {tuple(got.shape)}")
        return False
    return True


def exercise_10_1(mean_pool: Callable[..., Any], cls_pool: Callable[..., Any]) -> Verdict | bool:
    """``mean_pool(h, mask)`` (masked mean) and ``cls_pool(h, mask)`` (first token): ``(b, s, h) -> (b, h)``, padding-proof."""
    import torch

    from .. import embeddings

    gen = torch.Generator().manual_seed(1010)
    for batch, seq_len, hidden in ((5, 9, 6), (3, 4, 8)):
        states, mask = _hidden_and_mask(gen, batch, seq_len, hidden)
        # The same texts padded further (as in a batch with a longer text): garbage at the new positions.
        extra = torch.randn(batch, 3, hidden, generator=gen) * 10
        longer_states, longer_mask = (
            torch.cat([states, extra], dim=1),
            torch.cat([mask, torch.zeros(batch, 3).long()], 1),
        )
        for name, fn, reference in (
            ("mean_pool", mean_pool, embeddings.mean_pool),
            ("cls_pool", cls_pool, embeddings.cls_pool),
        ):
            ok, got = call_safely("10.1", fn, states.clone(), mask.clone())
            if not ok or not _as_tensor_result("10.1", got, (batch, hidden)):
                return False
            expected = reference(states, mask)
            if torch.allclose(got.float(), expected, atol=1e-5):
                ok, padded = call_safely("10.1", fn, longer_states.clone(), longer_mask.clone())
                if not ok or not _as_tensor_result("10.1", padded, (batch, hidden)):
                    return False
                if not torch.allclose(padded.float(), expected, atol=1e-5):
                    return verdict(
                        "10.1", False, f"{name}: more padding changed the result; padding positions must not count"
                    )
                continue
            if name == "cls_pool":
                if torch.allclose(got.float(), states[:, -1]):
                    return verdict(
                        "10.1",
                        False,
                        "cls_pool: [CLS] is the FIRST position (index 0); the last one is [SEP] or padding",
                    )
                if torch.allclose(got.float(), embeddings.mean_pool(states, mask), atol=1e-5):
                    return verdict("10.1", False, "cls_pool returns the mean: it should return last_hidden_state[:, 0]")
                return verdict(
                    "10.1", False, "cls_pool: return the first token's vector of every text, last_hidden_state[:, 0]"
                )
            m = mask.unsqueeze(-1).float()
            if torch.allclose(got.float(), states.mean(dim=1), atol=1e-5):
                return verdict(
                    "10.1", False, "mean_pool: the padding vectors are averaged in; multiply by the mask first"
                )
            if torch.allclose(got.float(), (states * m).sum(dim=1), atol=1e-5):
                return verdict(
                    "10.1", False, "mean_pool: that is the masked SUM; divide by the number of real tokens, mask.sum(1)"
                )
            if torch.allclose(got.float(), (states * m).sum(dim=1) / seq_len, atol=1e-5):
                return verdict(
                    "10.1", False, "mean_pool: divide by the number of real tokens (mask.sum(1)), not by seq_len"
                )
            if torch.allclose(got.float(), states[:, 0]):
                return verdict(
                    "10.1", False, "mean_pool returns the [CLS] vector: average over the real tokens instead"
                )
            return verdict(
                "10.1",
                False,
                "mean_pool: compute sum_t m_t h_t / sum_t m_t (mask.unsqueeze(-1) broadcasts over hidden)",
            )
    return verdict("10.1", True)


def _clustered_similarity(gen: Any, n_queries: int, n_corpus: int, n_labels: int) -> tuple[Any, Any, Any]:
    """Cosine similarities of label-clustered random embeddings; every query label occurs in the corpus."""
    import torch

    centres = torch.nn.functional.normalize(torch.randn(n_labels, 16, generator=gen), dim=1)
    corpus_labels = torch.cat(
        [torch.arange(n_labels), torch.randint(0, n_labels, (n_corpus - n_labels,), generator=gen)]
    )
    corpus_labels = corpus_labels[torch.randperm(n_corpus, generator=gen)]
    query_labels = torch.randint(0, n_labels, (n_queries,), generator=gen)
    q = torch.nn.functional.normalize(centres[query_labels] + 0.9 * torch.randn(n_queries, 16, generator=gen), dim=1)
    c = torch.nn.functional.normalize(centres[corpus_labels] + 0.9 * torch.randn(n_corpus, 16, generator=gen), dim=1)
    return q @ c.T, query_labels, corpus_labels


def _reciprocal_ranks(sims: Any, query_labels: Any, corpus_labels: Any, k: int, *, largest: bool = True) -> Any:
    """Per query: 1 / (rank of the first same-label text among the top ``k``), ranks from 1; 0 without one."""
    import torch

    hits = corpus_labels[sims.topk(k, dim=1, largest=largest).indices] == query_labels[:, None]
    first = hits.float().argmax(dim=1)  # 0 for a row without a hit too: hence the torch.where
    return torch.where(hits.any(dim=1), 1.0 / (first + 1).float(), torch.zeros(()))


def exercise_10_2(mrr_at_k: Callable[..., Any]) -> Verdict | bool:
    """``mrr_at_k(similarity, query_labels, corpus_labels, k)`` -> mean over queries of 1 / rank of the first same-label text in the top k (0 if none)."""
    import math

    import torch

    gen = torch.Generator().manual_seed(1020)
    for n_queries, n_corpus, n_labels, k in ((12, 60, 4, 5), (10, 50, 6, 2), (9, 40, 3, 1)):
        sims, query_labels, corpus_labels = _clustered_similarity(gen, n_queries, n_corpus, n_labels)
        ok, got = call_safely("10.2", mrr_at_k, sims.clone(), query_labels.clone(), corpus_labels.clone(), k)
        if not ok:
            return False
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.item()
        if isinstance(got, bool) or not isinstance(got, (int, float)):
            shape = f" of shape {tuple(got.shape)}" if isinstance(got, torch.Tensor) else ""
            return verdict(
                "10.2", False, f"return one number (the mean over the queries), got {type(got).__name__}{shape}"
            )
        rr = _reciprocal_ranks(sims, query_labels, corpus_labels, k)
        want = rr.mean().item()
        if abs(got - want) < 1e-5:
            continue
        where = f" (k={k}, {n_queries} queries, corpus of {n_corpus})"
        hits = corpus_labels[sims.topk(k, dim=1).indices] == query_labels[:, None]
        first = hits.float().argmax(dim=1).float()

        def close(value: Any) -> bool:
            return abs(got - float(value)) < 1e-5

        if not math.isfinite(got):
            return verdict(
                "10.2", False, "ranks start at 1 (the best text has reciprocal rank 1/1): use 1 / (position + 1)"
            )
        if close(_reciprocal_ranks(sims, query_labels, corpus_labels, k, largest=False).mean()):
            return verdict(
                "10.2",
                False,
                "you ranked the LEAST similar texts first: take topk(k) (largest) or argsort(descending=True)",
            )
        if close((1.0 / (first + 1)).mean()):
            return verdict(
                "10.2",
                False,
                "a query with no same-label text in its top k counts 0; argmax of an all-False row "
                "is 0 (rank 1): check hits.any(dim=1)",
            )
        if hits.any(dim=1).any() and close(rr[hits.any(dim=1)].mean()):
            return verdict(
                "10.2", False, "average over ALL queries: one without a hit in its top k counts 0, it is not left out"
            )
        if close(hits.float().mean()) or close(hits[:, 0].float().mean()):
            return verdict("10.2", False, "that is precision@k (or @1): MRR uses the rank of the FIRST same-label text")
        positions = torch.arange(1, k + 1).float()
        if close((hits.float() / positions).sum(dim=1).mean()):
            return verdict("10.2", False, "only the FIRST same-label text counts, not the sum of 1/rank over every hit")
        if close(torch.where(hits.any(dim=1), first + 1, torch.zeros(())).mean()):
            return verdict("10.2", False, "average the RECIPROCAL ranks, 1 / rank, not the ranks")
        return verdict(
            "10.2",
            False,
            f"MRR@k is off{where}: mean over queries of 1 / (rank of the first same-label "
            "text in the top k), 0 when there is none",
        )
    return verdict("10.2", True)


def exercise_10_3(hybrid_order: Callable[..., Any]) -> Verdict | bool:
    """``hybrid_order(cosine, logits, lam)`` -> candidate order (long, ``(n_queries, depth)``), best ``cosine + lam * sigmoid(logit)`` first."""
    import torch

    gen = torch.Generator().manual_seed(1030)
    for n_queries, depth, lam in ((6, 10, 0.5), (4, 7, 2.0), (5, 8, 0.1)):
        cosine = torch.rand(n_queries, depth, generator=gen) * 0.6 + 0.3
        cosine = cosine.sort(dim=1, descending=True).values  # the bi-encoder's order, as search() returns it
        logits = torch.randn(n_queries, depth, generator=gen) * 3
        ok, got = call_safely("10.3", hybrid_order, cosine.clone(), logits.clone(), lam)
        if not ok:
            return False
        if (shape := tensor_mismatch(got, (n_queries, depth))) is not None:
            return verdict("10.3", False, f"return the order as a tensor of shape {(n_queries, depth)}, got {shape}")
        if got.is_floating_point():
            return verdict("10.3", False, "return the ORDER (indices from argsort), not the hybrid scores themselves")
        expected = (cosine + lam * logits.sigmoid()).argsort(dim=1, descending=True)
        if torch.equal(got.long(), expected):
            continue
        if torch.equal(got.long(), expected.flip(1)):
            return verdict("10.3", False, "best first: argsort(dim=1, descending=True)")
        if torch.equal(got.long(), (cosine + lam * logits).argsort(dim=1, descending=True)):
            return verdict(
                "10.3",
                False,
                "squash the logit first: cosine + lam * sigmoid(logit), both then lie in a comparable range",
            )
        if torch.equal(got.long(), (lam * cosine + logits.sigmoid()).argsort(dim=1, descending=True)):
            return verdict("10.3", False, "lam weighs the reranker's probability: cosine + lam * sigmoid(logit)")
        if torch.equal(got.long(), (cosine + lam * logits).sigmoid().argsort(dim=1, descending=True)):
            return verdict("10.3", False, "apply sigmoid to the logit only: cosine + lam * sigmoid(logit)")
        return verdict(
            "10.3", False, f"wrong order for lam={lam}: rank each row (query) by cosine + lam * sigmoid(logit), dim=1"
        )
    return verdict("10.3", True)


def _positives(gen: Any, n_groups: int, group_size: int, max_positives: int) -> Any:
    """A boolean ``(n_groups, group_size)`` mask: 1 to ``max_positives`` positives per row, in random columns.

    Row 0 has one positive and row 1 ``max_positives``, so both kinds occur; keep ``max_positives <
    group_size`` and every row keeps a negative too.
    """
    import torch

    counts = torch.randint(1, max_positives + 1, (n_groups,), generator=gen)
    counts[0], counts[1] = 1, max_positives
    ranks = (
        torch.rand(n_groups, group_size, generator=gen).argsort(dim=1).argsort(dim=1)
    )  # a random permutation per row
    return ranks < counts[:, None]


def _multi_positive_reference(scores: Any, is_positive: Any) -> Any:
    """Mean over the rows of ``-log(sum of softmax(row) over the row's positives)``, in log space."""
    return (scores.logsumexp(dim=1) - scores.masked_fill(~is_positive, float("-inf")).logsumexp(dim=1)).mean()


def exercise_10_4(multi_positive_loss: Callable[..., Any]) -> Verdict | bool:
    """``multi_positive_loss(scores, is_positive)``: mean over the groups (rows) of -log(sum of softmax(row) over its positives).

    ``scores`` is ``(n_groups, group_size)`` logits, ``is_positive`` a boolean mask of the same shape
    with at least one positive per row, anywhere in it. Section 4's grouped loss with several
    positives; the checker also asks for a finite value on large logits and for the right gradient.
    """
    import torch
    import torch.nn.functional as F

    gen = torch.Generator().manual_seed(1040)
    column_0 = torch.zeros(6, 4, dtype=torch.bool)
    column_0[:, 0] = True
    cases = [  # (scores, is_positive), the most informative first
        (torch.randn(8, 6, generator=gen) * 2, _positives(gen, 8, 6, 3)),  # 1 to 3 positives, anywhere
        (torch.randn(6, 4, generator=gen) * 2, column_0),  # section 4: one positive, in column 0
        (torch.randn(5, 10, generator=gen) * 2, _positives(gen, 5, 10, 1)),  # one positive, anywhere
        (torch.randn(6, 10, generator=gen) * 60, _positives(gen, 6, 10, 4)),  # large logits: exp(s) overflows
    ]
    for scores, is_positive in cases:
        n_groups, group_size = scores.shape
        leaf = scores.clone().requires_grad_(True)
        ok, got = call_safely("10.4", multi_positive_loss, leaf, is_positive.clone())
        if not ok:
            return False
        if not isinstance(got, torch.Tensor):
            return verdict(
                "10.4",
                False,
                f"return the loss as a tensor (loss.backward() needs it), got {type(got).__name__}: drop .item()",
            )
        if got.dim() != 0:
            return verdict("10.4", False, f"return one number (the mean over the groups), got shape {tuple(got.shape)}")
        if not got.requires_grad:
            return verdict(
                "10.4",
                False,
                "the loss lost its gradient: compute it from `scores` with torch ops (no .item(), .detach(), numpy)",
            )
        value = got.detach().float()
        expected = _multi_positive_reference(scores, is_positive)
        if torch.allclose(value, expected, rtol=1e-4, atol=1e-5):
            try:
                (grad,) = torch.autograd.grad(got, leaf, allow_unused=True)
            except RuntimeError as exc:
                return verdict("10.4", False, f"loss.backward() failed: {exc}")
            # d loss / d scores = (softmax of the row - softmax over its positives only) / n_groups
            want = (scores.softmax(dim=1) - scores.masked_fill(~is_positive, float("-inf")).softmax(dim=1)) / n_groups
            if grad is not None and not torch.isfinite(grad).all():
                return verdict(
                    "10.4",
                    False,
                    "the value is right but its gradient holds nan or inf: keep every "
                    "step finite (masked_fill with -inf, then torch.logsumexp)",
                )
            if grad is None or not torch.allclose(grad.float(), want, atol=1e-5):
                return verdict(
                    "10.4",
                    False,
                    "the value is right but not its gradient: build the whole loss from "
                    "`scores` with torch ops (no .detach(), .item() or torch.no_grad() inside)",
                )
            continue
        where = f" ({n_groups} groups x {group_size}, logits up to {scores.abs().max().item():.0f})"
        if not torch.isfinite(value):
            return verdict(
                "10.4",
                False,
                f"the loss is {value.item()}{where}: exp(score) overflows float32 above 88 "
                "(or a probability underflows to 0); stay in log space with "
                "torch.logsumexp or log_softmax",
            )

        def matches(*candidates: torch.Tensor) -> bool:
            return any(torch.allclose(value, c.float(), rtol=1e-4, atol=1e-5) for c in candidates)

        minus_inf = float("-inf")
        logp, probs, positive = scores.log_softmax(dim=1), scores.softmax(dim=1), is_positive.float()
        per_positive = -(logp * positive).sum(dim=1)  # the sum of each positive's own -log p, per row
        positive_part = scores.masked_fill(~is_positive, minus_inf).logsumexp(dim=1)
        if matches(-expected):
            return verdict(
                "10.4",
                False,
                "wrong sign: the loss is -log(the positives' probability), >= 0, "
                "so that minimising it raises that probability",
            )
        if matches(F.cross_entropy(scores, torch.zeros(n_groups, dtype=torch.long))):
            return verdict(
                "10.4",
                False,
                "is_positive is ignored: that is section 4's cross_entropy with target 0, "
                "right only for one positive in column 0; here the positives are where "
                "is_positive says",
            )
        if matches(F.cross_entropy(scores, positive.argmax(dim=1))):
            return verdict(
                "10.4",
                False,
                "only one positive per row counts: a row can hold several, and the loss is "
                "-log of the SUM of their softmax probabilities",
            )
        for lead, candidates in (
            ("adds up", (per_positive.mean(), per_positive.sum())),
            ("averages", ((per_positive / positive.sum(dim=1)).mean(), -logp[is_positive].mean())),
        ):
            if matches(*candidates):
                return verdict(
                    "10.4",
                    False,
                    f"that {lead} each positive's own -log p: the positives are asked "
                    "together, the loss is -log of the SUM of their probabilities",
                )
        if matches(
            F.binary_cross_entropy_with_logits(scores, positive),
            F.binary_cross_entropy_with_logits(scores, positive, reduction="none").sum(dim=1).mean(),
        ):
            return verdict(
                "10.4",
                False,
                "that is BCE on each pair; this loss is a softmax over each row: -log of "
                "the share of the row's probability that falls on its positives",
            )
        if matches(_multi_positive_reference(probs, is_positive), F.cross_entropy(probs, positive.argmax(dim=1))):
            return verdict(
                "10.4",
                False,
                "torch.logsumexp, log_softmax and cross_entropy take raw scores (logits) "
                "and normalise them themselves: do not softmax first",
            )
        if matches(-(probs * positive).sum(dim=1).mean(), (1 - (probs * positive).sum(dim=1)).mean()):
            return verdict(
                "10.4",
                False,
                "take the log: the loss is -log(sum of the positives' probabilities), not the probability itself",
            )
        if matches(
            (scores.logsumexp(dim=1) - (scores * positive).logsumexp(dim=1)).mean(),
            -(logp * positive).logsumexp(dim=1).mean(),
        ):
            return verdict(
                "10.4",
                False,
                "multiplying by the mask puts 0 in the negatives' place, and in log space "
                "0 still counts (exp(0) = 1): fill them with -inf instead, "
                "scores.masked_fill(~is_positive, float('-inf'))",
            )
        if matches((scores.masked_fill(is_positive, minus_inf).logsumexp(dim=1) - positive_part).mean()):
            return verdict(
                "10.4",
                False,
                "the softmax runs over the whole row, positives included: normalise "
                "with torch.logsumexp(scores, dim=1)",
            )
        if matches((scores.logsumexp(dim=1) - positive_part).sum()):
            return verdict("10.4", False, "average over the groups (the mean), not the sum")
        by_column = (scores.logsumexp(dim=0) - scores.masked_fill(~is_positive, minus_inf).logsumexp(dim=0)).mean()
        if torch.isfinite(by_column) and matches(by_column):
            return verdict("10.4", False, "the softmax runs over each ROW (dim=1): a row is one query's group")
        return verdict(
            "10.4",
            False,
            f"wrong value{where}: the mean over the groups of -log(the sum of softmax(row) over the row's positives)",
        )
    return verdict("10.4", True)
