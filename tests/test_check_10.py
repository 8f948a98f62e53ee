"""Checkers of notebook 10: each accepts the worked solution and rejects typical wrong answers with a hint."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from course_utils import check


def mean_pool(hidden, mask):
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(dim=1) / m.sum(dim=1).clamp(min=1e-9)


def cls_pool(hidden, mask):
    return hidden[:, 0]


def mrr_at_k(similarity, query_labels, corpus_labels, k):
    hits = corpus_labels[similarity.topk(k, dim=1).indices] == query_labels[:, None]
    first_rank = hits.float().argmax(dim=1) + 1
    return torch.where(hits.any(dim=1), 1.0 / first_rank, torch.zeros(())).mean().item()


def hybrid_order(cosine, logits, lam):
    return (cosine + lam * logits.sigmoid()).argsort(dim=1, descending=True)


def grouped_loss(scores, group_size):
    grouped = scores.view(-1, group_size)
    return F.cross_entropy(grouped, torch.zeros(grouped.shape[0], dtype=torch.long, device=scores.device))


def test_10_1(capsys):
    assert check.exercise_10_1(mean_pool, cls_pool)
    assert capsys.readouterr().out.strip() == "✅ exercise 10.1: correct"
    assert not check.exercise_10_1(lambda h, m: h.mean(dim=1), cls_pool)
    assert not check.exercise_10_1(lambda h, m: (h * m.unsqueeze(-1)).sum(1), cls_pool)
    assert not check.exercise_10_1(lambda h, m: (h * m.unsqueeze(-1)).sum(1) / h.shape[1], cls_pool)
    assert not check.exercise_10_1(mean_pool, lambda h, m: h[:, -1])
    assert not check.exercise_10_1(mean_pool, lambda h, m: h[0])
    out = capsys.readouterr().out
    assert "padding vectors are averaged in" in out and "masked SUM" in out and "not by seq_len" in out
    assert "FIRST position" in out and "expected shape" in out
    # counts of shape (batch,) do not broadcast against (batch, hidden): the learner's error becomes the hint
    assert not check.exercise_10_1(lambda h, m: (h * m.unsqueeze(-1)).sum(1) / m.sum(1), cls_pool)
    assert "your function raised RuntimeError" in capsys.readouterr().out


def test_10_1_padding_dependence_is_caught(capsys):
    def depends_on_padding(h, m):
        return mean_pool(h, m) + 0.01 * (h.shape[1] > 10)  # right only for short batches

    assert not check.exercise_10_1(depends_on_padding, cls_pool)
    assert "more padding changed the result" in capsys.readouterr().out


def test_10_2(capsys):
    assert check.exercise_10_2(mrr_at_k)
    assert capsys.readouterr().out.strip() == "✅ exercise 10.2: correct"
    # a one-element tensor is a number too
    assert check.exercise_10_2(lambda *a: torch.tensor(mrr_at_k(*a)))
    capsys.readouterr()

    def hits_of(sims, ql, cl, k):
        return cl[sims.topk(k, dim=1).indices] == ql[:, None]

    def rank_from_zero(sims, ql, cl, k):
        hits = hits_of(sims, ql, cl, k)
        return torch.where(hits.any(1), 1.0 / hits.float().argmax(1), torch.zeros(())).mean().item()

    def ascending(sims, ql, cl, k):
        return mrr_at_k(-sims, ql, cl, k)

    def no_zero_for_misses(sims, ql, cl, k):  # argmax of an all-False row is 0: rank 1
        return (1.0 / (hits_of(sims, ql, cl, k).float().argmax(1) + 1)).mean().item()

    def only_queries_with_a_hit(sims, ql, cl, k):
        hits = hits_of(sims, ql, cl, k)
        found = hits.any(1)
        return (1.0 / (hits[found].float().argmax(1) + 1)).mean().item()

    def precision(sims, ql, cl, k):
        return hits_of(sims, ql, cl, k).float().mean().item()

    def sum_over_all_hits(sims, ql, cl, k):
        return (hits_of(sims, ql, cl, k).float() / torch.arange(1, k + 1)).sum(1).mean().item()

    def mean_rank(sims, ql, cl, k):
        hits = hits_of(sims, ql, cl, k)
        return torch.where(hits.any(1), hits.float().argmax(1) + 1.0, torch.zeros(())).mean().item()

    def ignores_similarity(sims, ql, cl, k):  # the fake: the chance rate from the label counts only
        return (torch.bincount(cl, minlength=int(ql.max()) + 1)[ql] / len(cl)).mean().item()

    wrongs = [rank_from_zero, ascending, no_zero_for_misses, only_queries_with_a_hit, precision,
              sum_over_all_hits, mean_rank, ignores_similarity, lambda *a: 0.5, lambda *a: (0.5, 0.1)]
    for wrong in wrongs:
        assert not check.exercise_10_2(wrong)
    out = capsys.readouterr().out
    for hint in ("ranks start at 1", "LEAST similar", "counts 0; argmax", "average over ALL queries", "precision@k",
                 "only the FIRST", "RECIPROCAL", "MRR@k is off", "return one number"):
        assert hint in out, hint

    def placeholder(sims, ql, cl, k):
        raise NotImplementedError

    assert not check.exercise_10_2(placeholder)
    assert "not implemented yet" in capsys.readouterr().out


def test_10_3(capsys):
    assert check.exercise_10_3(hybrid_order)
    assert capsys.readouterr().out.strip() == "✅ exercise 10.3: correct"
    wrongs = [
        lambda c, lg, lam: c + lam * lg.sigmoid(),  # the scores, not the order
        lambda c, lg, lam: (c + lam * lg.sigmoid()).argsort(dim=1),  # worst first
        lambda c, lg, lam: (c + lam * lg).argsort(dim=1, descending=True),  # no sigmoid
        lambda c, lg, lam: (lam * c + lg.sigmoid()).argsort(dim=1, descending=True),  # lam on the wrong term
        lambda c, lg, lam: c.argsort(dim=1, descending=True),  # the reranker ignored
    ]
    for wrong in wrongs:
        assert not check.exercise_10_3(wrong)
    out = capsys.readouterr().out
    for hint in ("not the hybrid scores", "descending=True", "squash the logit", "weighs the reranker", "wrong order"):
        assert hint in out, hint


def test_10_4(capsys):
    assert check.exercise_10_4(grouped_loss)
    assert capsys.readouterr().out.strip() == "✅ exercise 10.4: correct"

    def bce(scores, group_size):
        labels = torch.zeros(len(scores))
        labels[::group_size] = 1
        return F.binary_cross_entropy_with_logits(scores, labels)

    wrongs = [
        lambda s, g: grouped_loss(s, g).item(),
        bce,
        lambda s, g: F.cross_entropy(s.view(-1, g).softmax(dim=1), torch.zeros(len(s) // g, dtype=torch.long)),
        lambda s, g: F.cross_entropy(s.view(-1, g), torch.zeros(len(s) // g, dtype=torch.long), reduction="sum"),
        lambda s, g: F.cross_entropy(s.view(-1, g), torch.full((len(s) // g,), g - 1)),
        lambda s, g: F.cross_entropy(s.view(g, -1).T, torch.zeros(len(s) // g, dtype=torch.long)),
        lambda s, g: grouped_loss(s, 8),
        lambda s, g: F.cross_entropy(s.view(-1, g), torch.zeros(len(s) // g, dtype=torch.long), reduction="none"),
    ]
    for wrong in wrongs:
        assert not check.exercise_10_4(wrong)
    out = capsys.readouterr().out
    for hint in ("drop .item()", "that is BCE", "do not softmax first", "not the sum", "target class is 0",
                 "groups are consecutive", "hard-coded 8", "return one number"):
        assert hint in out, hint
