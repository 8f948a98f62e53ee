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


def multi_positive_loss(scores, is_positive):
    return (scores.logsumexp(1) - scores.masked_fill(~is_positive, float("-inf")).logsumexp(1)).mean()


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

    wrongs = [
        rank_from_zero,
        ascending,
        no_zero_for_misses,
        only_queries_with_a_hit,
        precision,
        sum_over_all_hits,
        mean_rank,
        ignores_similarity,
        lambda *a: 0.5,
        lambda *a: (0.5, 0.1),
    ]
    for wrong in wrongs:
        assert not check.exercise_10_2(wrong)
    out = capsys.readouterr().out
    for hint in (
        "ranks start at 1",
        "LEAST similar",
        "counts 0; argmax",
        "average over ALL queries",
        "precision@k",
        "only the FIRST",
        "RECIPROCAL",
        "MRR@k is off",
        "return one number",
    ):
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
    assert check.exercise_10_4(multi_positive_loss)
    assert capsys.readouterr().out.strip() == "✅ exercise 10.4: correct"
    # other right answers: log_softmax first, float64 (where exp(152) fits), one row at a time
    rights = [
        lambda s, m: -s.log_softmax(1).masked_fill(~m, float("-inf")).logsumexp(1).mean(),
        lambda s, m: -(torch.log((s.double().exp() * m).sum(1) / s.double().exp().sum(1))).mean(),
        lambda s, m: torch.stack([torch.logsumexp(r, 0) - torch.logsumexp(r[p], 0) for r, p in zip(s, m)]).mean(),
    ]
    for right in rights:
        assert check.exercise_10_4(right)
    assert capsys.readouterr().out.count("✅ exercise 10.4: correct") == len(rights)

    def logp(s):
        return s.log_softmax(1)

    def zeros(s):
        return torch.zeros(len(s), dtype=torch.long)

    def naive(s, m):  # log(sum(exp)): the large case's exp(152) is inf in float32
        return (torch.log(s.exp().sum(1)) - torch.log((s.exp() * m).sum(1))).mean()

    def softmax_then_log(s, m):  # a stable softmax, but a row's positive share underflows to 0 at large logits
        return -torch.log((s.softmax(1) * m).sum(1)).mean()

    def detached_normaliser(s, m):  # the value is right, the gradient is not
        return (s.logsumexp(1).detach() - s.masked_fill(~m, float("-inf")).logsumexp(1)).mean()

    wrongs = [  # (the hint's text, a wrong answer)
        ("drop .item()", lambda s, m: multi_positive_loss(s, m).item()),
        ("return one number", lambda s, m: s.logsumexp(1) - s.masked_fill(~m, float("-inf")).logsumexp(1)),
        ("lost its gradient", lambda s, m: multi_positive_loss(s.detach(), m)),
        ("not its gradient", detached_normaliser),
        ("gradient holds nan", lambda s, m: multi_positive_loss(s, m) + (torch.sqrt(s - s - 1) * 0).nan_to_num().sum()),
        ("wrong sign", lambda s, m: -multi_positive_loss(s, m)),
        ("is_positive is ignored", lambda s, m: F.cross_entropy(s, zeros(s))),
        ("only one positive per row counts", lambda s, m: F.cross_entropy(s, m.float().argmax(1))),
        ("that adds up each positive's own -log p", lambda s, m: -(logp(s) * m).sum(1).mean()),
        ("that adds up each positive's own -log p", lambda s, m: F.cross_entropy(s, m.float())),  # soft targets
        ("that adds up each positive's own -log p", lambda s, m: -(logp(s) * m).sum()),
        ("that averages each positive's own -log p", lambda s, m: -logp(s)[m].mean()),
        ("that averages each positive's own -log p", lambda s, m: F.cross_entropy(s, m / m.sum(1, keepdim=True))),
        ("that is BCE on each pair", lambda s, m: F.binary_cross_entropy_with_logits(s, m.float())),
        ("do not softmax first", lambda s, m: multi_positive_loss(s.softmax(1), m)),
        ("take the log", lambda s, m: -(s.softmax(1) * m).sum(1).mean()),
        ("fill them with -inf instead", lambda s, m: -(logp(s) * m).logsumexp(1).mean()),
        ("fill them with -inf instead", lambda s, m: (s.logsumexp(1) - (s * m).logsumexp(1)).mean()),
        (
            "positives included",
            lambda s, m: (
                s.masked_fill(m, float("-inf")).logsumexp(1) - s.masked_fill(~m, float("-inf")).logsumexp(1)
            ).mean(),
        ),
        ("not the sum", lambda s, m: multi_positive_loss(s, m) * len(s)),
        ("each ROW (dim=1)", lambda s, m: (s.logsumexp(0) - s.masked_fill(~m, float("-inf")).logsumexp(0)).mean()),
        ("stay in log space with torch.logsumexp or log_softmax", naive),
        ("stay in log space with torch.logsumexp or log_softmax", softmax_then_log),
        ("wrong value", lambda s, m: multi_positive_loss(s, m) + 0.1),
        ("your function raised IndexError", lambda s, m: s[:, m.shape[1]].sum()),
    ]
    for hint, wrong in wrongs:
        assert not check.exercise_10_4(wrong), hint
        out = capsys.readouterr().out
        assert out.count("\n") == 1 and hint in out, (hint, out)
        if hint.startswith("that adds up") or hint.startswith("that averages"):
            assert "the positives are asked together, the loss is -log of the SUM of their probabilities" in out


def test_10_4_placeholder_argument_and_random_state(capsys):
    def placeholder(scores, is_positive):
        raise NotImplementedError  # your code here

    assert not check.exercise_10_4(placeholder)
    assert "not implemented yet" in capsys.readouterr().out
    assert not check.exercise_10_4(multi_positive_loss(torch.zeros(2, 3), torch.ones(2, 3, dtype=torch.bool)))
    assert "pass your function itself (got Tensor)" in capsys.readouterr().out
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    assert check.exercise_10_4(multi_positive_loss)
    assert torch.equal(torch.rand(3), expected)  # the checker seeds its own generator
    capsys.readouterr()


def test_10_4_reference_is_section_4_loss_with_one_positive_first():
    gen = torch.Generator().manual_seed(0)
    scores = torch.randn(5, 4, generator=gen) * 3
    first = torch.zeros(5, 4, dtype=torch.bool)
    first[:, 0] = True
    torch.testing.assert_close(
        multi_positive_loss(scores, first), F.cross_entropy(scores, torch.zeros(5, dtype=torch.long))
    )
    # shift-invariant per group; and every positive counted: all positives give 0
    shift = torch.randn(5, 1, generator=gen) * 10
    torch.testing.assert_close(multi_positive_loss(scores + shift, first), multi_positive_loss(scores, first))
    assert multi_positive_loss(scores, torch.ones(5, 4, dtype=torch.bool)).item() == 0.0
