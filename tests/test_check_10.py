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


def precision_recall_at_k(similarity, query_labels, corpus_labels, k):
    top = similarity.topk(k, dim=1).indices
    hits = (corpus_labels[top] == query_labels[:, None]).float()
    n_relevant = torch.bincount(corpus_labels, minlength=int(query_labels.max()) + 1)[query_labels]
    return hits.mean().item(), (hits.sum(dim=1) / n_relevant).mean().item()


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
    assert check.exercise_10_2(precision_recall_at_k)
    assert capsys.readouterr().out.strip() == "✅ exercise 10.2: correct"

    def swapped(*args):
        p, r = precision_recall_at_k(*args)
        return r, p

    def ascending(sims, ql, cl, k):
        return precision_recall_at_k(-sims, ql, cl, k)

    def recall_over_k(sims, ql, cl, k):
        p, _ = precision_recall_at_k(sims, ql, cl, k)
        return p, p

    def counted_in_queries(sims, ql, cl, k):
        top = sims.topk(k, dim=1).indices
        hits = (cl[top] == ql[:, None]).float()
        return hits.mean().item(), (hits.sum(1) / torch.bincount(ql, minlength=int(cl.max()) + 1)[ql]).mean().item()

    def over_corpus_size(sims, ql, cl, k):
        p, _ = precision_recall_at_k(sims, ql, cl, k)
        return p, p * k / len(cl)

    for wrong in (swapped, ascending, recall_over_k, counted_in_queries, over_corpus_size, lambda *a: 0.5):
        assert not check.exercise_10_2(wrong)
    out = capsys.readouterr().out
    for hint in ("swapped", "LEAST similar", "not by k", "not among the queries", "not by the corpus size", "two numbers"):
        assert hint in out, hint


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
