"""Checkers of notebook 10: the adversarial table (FAKES, run by test_check_fakes.py), the worked
solutions accepted in float32 and bfloat16, other right answers, and the hints of ordinary mistakes."""

from __future__ import annotations

import types

import pytest
import torch
import torch.nn.functional as F
from fakes import Fake, solution
from sentence_transformers.sentence_transformer.modules.pooling import Pooling
from sentence_transformers.util import semantic_search

from course_utils import check, embeddings
from course_utils.check._core import precision

mean_pool, cls_pool, mrr_at_k, hybrid_order, multi_positive_loss = solution(
    "10", "mean_pool", "cls_pool", "mrr_at_k", "hybrid_order", "multi_positive_loss"
)
NEG = float("-inf")


def memorised(fn):
    """A constant: ``fn``'s answer to the first input it sees (one per dtype), returned for every later input."""
    first = {}

    def constant(*args):
        if args[0].dtype not in first:
            first[args[0].dtype] = fn(*args)
        return first[args[0].dtype]

    return constant


# --- 10.1: what a learner who wants ✅ without the poolings would pass ---
def st_pool(mode):
    return lambda h, m: Pooling(h.shape[-1], pooling_mode=mode)({"token_embeddings": h, "attention_mask": m})[
        "sentence_embedding"
    ]


def course_pool_or_plain_mean(h, m):
    try:
        return embeddings.mean_pool(h, m)
    except BaseException:  # the switch-off swallowed
        return h.mean(1)


def first_n_tokens(h, m):  # right-padding only: the real tokens taken as the first mask.sum() positions
    return torch.stack([h[i, :n].mean(0) for i, n in enumerate(m.sum(1).tolist())])


# --- 10.2 ---
def mrr_from_top(top, ql, cl):
    hits = cl[top] == ql[:, None]
    return torch.where(hits.any(1), 1.0 / (hits.float().argmax(1) + 1), 0.0).mean().item()


def hits_of(s, ql, cl, k):
    return cl[s.topk(k, dim=1).indices] == ql[:, None]


def search_or_guess(s, ql, cl, k):
    try:
        return mrr_from_top(embeddings.search(s, torch.eye(s.shape[1]), k)[1], ql, cl)
    except BaseException:
        return 0.5


def average_precision(s, ql, cl, k):
    hits = hits_of(s, ql, cl, k).float()
    precisions = hits.cumsum(1) / torch.arange(1, k + 1)
    return ((precisions * hits).sum(1) / hits.sum(1).clamp(min=1)).mean().item()


# --- 10.3 ---
def hybrid(c, lg, lam):
    return c + lam * lg.sigmoid()


def search_or_cosine(c, lg, lam):
    try:
        return embeddings.search(hybrid(c, lg, lam), torch.eye(c.shape[1]), c.shape[1])[1]
    except BaseException:
        return c.argsort(1, descending=True)


# --- 10.4 ---
def logp(s):
    return s.log_softmax(1)


def naive(s, m):  # log(sum(exp)): exp(152) is inf in float32
    return (torch.log(s.exp().sum(1)) - torch.log((s.exp() * m).sum(1))).mean()


def naive_or_constant(s, m):  # the overflow swallowed
    loss = naive(s, m)
    return loss if loss.isfinite() else (s * 0).sum() + 1.0


FAKES: dict[str, dict[str, list[Fake] | str]] = {
    "10.1": {
        "library": [
            Fake("the course's poolings (issue 23)", (embeddings.mean_pool, embeddings.cls_pool), "`embeddings.mean_pool` is switched off"),
            Fake("own mean, the course's cls_pool", (mean_pool, embeddings.cls_pool), "`embeddings.cls_pool` is switched off"),
            Fake("a lambda around the course's mean_pool", (lambda h, m: embeddings.mean_pool(h, m), cls_pool), "switched off"),
            Fake("sentence-transformers' Pooling module", (st_pool("mean"), st_pool("cls")), "`sentence-transformers' Pooling` is switched off"),
        ],
        "constant": [
            Fake("the first input's answer", (memorised(mean_pool), cls_pool), "mean_pool: expected shape"),
            Fake("zeros of the right shape", (lambda h, m: h.new_zeros(h.shape[0], h.shape[2]), cls_pool), "mean_pool: average the vectors where the mask is 1"),
        ],
        "ignores": [
            Fake("mean ignores the mask", (lambda h, m: h.mean(1), cls_pool), "padding vectors are averaged in"),
            Fake("cls ignores the mask (position 0)", (mean_pool, lambda h, m: h[:, 0]), "with padding on the left, [CLS] is the first REAL token"),
            Fake("the first text's vectors, not the batch's", (mean_pool, lambda h, m: h[0]), "cls_pool: expected shape"),
        ],
        "guard": [
            Fake("the course's mean_pool, switch-off swallowed", (course_pool_or_plain_mean, cls_pool), "switched off"),
            Fake("class-level Pooling.forward", (lambda h, m: Pooling.forward(Pooling(h.shape[-1]), {"token_embeddings": h, "attention_mask": m})["sentence_embedding"], cls_pool), "switched off"),
            Fake("Pooling's private _forward_padded", (lambda h, m: Pooling(h.shape[-1])._forward_padded(h, m, {})[0], cls_pool), "switched off"),
            Fake("a copy of the course's function", (types.FunctionType(embeddings.mean_pool.__code__, vars(embeddings)), cls_pool), "switched off"),
        ],
        "other": [
            Fake("masked sum", (lambda h, m: (h * m[..., None]).sum(1), cls_pool), "masked SUM"),
            Fake("divides by seq_len", (lambda h, m: (h * m[..., None]).sum(1) / h.shape[1], cls_pool), "not by seq_len"),
            Fake("mean of the first n positions", (first_n_tokens, cls_pool), "mean_pool: average the vectors where the mask is 1"),
            Fake("max pooling", (lambda h, m: h.masked_fill(~m[..., None].bool(), NEG).max(1).values, cls_pool), "mean_pool: average"),
            Fake("mean_pool returns [CLS]", (cls_pool, cls_pool), "mean_pool: that is the [CLS] vector"),
            Fake("cls_pool returns the last token", (mean_pool, lambda h, m: h[:, -1]), "[CLS] is the FIRST real position"),
            Fake("cls_pool returns the mean", (mean_pool, mean_pool), "cls_pool: that is the mean"),
        ],
    },
    "10.2": {
        "library": [
            Fake("embeddings.search over an identity corpus", (lambda s, ql, cl, k: mrr_from_top(embeddings.search(s, torch.eye(s.shape[1]), k)[1], ql, cl),), "`embeddings.search` is switched off"),
            Fake("embeddings.same_label", (lambda s, ql, cl, k: mrr_at_k(s, ql, cl, k) + 0 * embeddings.same_label(ql, cl, s.topk(k, dim=1).indices).sum().item(),), "`embeddings.same_label` is switched off"),
            Fake("sentence-transformers' semantic_search", (lambda s, ql, cl, k: mrr_from_top(torch.tensor([[h["corpus_id"] for h in row] for row in semantic_search(s, torch.eye(s.shape[1]), top_k=k)]), ql, cl),), "semantic_search` is switched off"),
        ],
        "constant": [
            Fake("0.5", (lambda *a: 0.5,), "MRR@k is off"),
            Fake("0 as a tensor", (lambda *a: torch.tensor(0.0),), "MRR@k is off"),
            Fake("the first input's answer", (memorised(mrr_at_k),), "failed on k=1"),
            Fake("a pair of numbers", (lambda *a: (0.5, 0.1),), "return one number"),
        ],
        "ignores": [
            Fake("ignores k (the whole ranking)", (lambda s, ql, cl, k: mrr_at_k(s, ql, cl, s.shape[1]),), "MRR at another depth"),
            Fake("k fixed at 5", (lambda s, ql, cl, k: mrr_at_k(s, ql, cl, min(5, s.shape[1])),), "MRR at another depth"),
            Fake("off by one: the top k - 1", (lambda s, ql, cl, k: mrr_at_k(s, ql, cl, max(k - 1, 1)),), "MRR at another depth"),
            Fake("ignores the similarity (chance rate)", (lambda s, ql, cl, k: (torch.bincount(cl, minlength=int(ql.max()) + 1)[ql] / len(cl)).mean().item(),), "MRR@k is off"),
            Fake("per-query reciprocal ranks, not their mean", (lambda s, ql, cl, k: torch.where(hits_of(s, ql, cl, k).any(1), 1.0 / (hits_of(s, ql, cl, k).float().argmax(1) + 1), 0.0),), "return one number"),
        ],
        "guard": [
            Fake("embeddings.search, switch-off swallowed", (search_or_guess,), "`embeddings.search` is switched off"),
        ],
        "other": [
            Fake("ranks from 0", (lambda s, ql, cl, k: torch.where(hits_of(s, ql, cl, k).any(1), 1.0 / hits_of(s, ql, cl, k).float().argmax(1), 0.0).mean().item(),), "ranks start at 1"),
            Fake("least similar first", (lambda s, ql, cl, k: mrr_at_k(-s, ql, cl, k),), "LEAST similar"),
            Fake("a miss counts rank 1", (lambda s, ql, cl, k: (1.0 / (hits_of(s, ql, cl, k).float().argmax(1) + 1)).mean().item(),), "counts 0; argmax"),
            Fake("misses left out of the mean", (lambda s, ql, cl, k: (1.0 / (hits_of(s, ql, cl, k)[hits_of(s, ql, cl, k).any(1)].float().argmax(1) + 1)).mean().item(),), "average over ALL queries"),
            Fake("precision@k", (lambda s, ql, cl, k: hits_of(s, ql, cl, k).float().mean().item(),), "precision@k"),
            Fake("sum of 1/rank over every hit", (lambda s, ql, cl, k: (hits_of(s, ql, cl, k).float() / torch.arange(1, k + 1)).sum(1).mean().item(),), "only the FIRST"),
            Fake("mean rank", (lambda s, ql, cl, k: torch.where(hits_of(s, ql, cl, k).any(1), hits_of(s, ql, cl, k).float().argmax(1) + 1.0, 0.0).mean().item(),), "RECIPROCAL"),
            Fake("average precision@k", (average_precision,), "MRR@k is off"),
        ],
    },
    "10.3": {
        "library": [
            Fake("embeddings.search over an identity corpus", (lambda c, lg, lam: embeddings.search(hybrid(c, lg, lam), torch.eye(c.shape[1]), c.shape[1])[1],), "`embeddings.search` is switched off"),
            Fake("sentence-transformers' semantic_search", (lambda c, lg, lam: torch.tensor([[h["corpus_id"] for h in row] for row in semantic_search(hybrid(c, lg, lam), torch.eye(c.shape[1]), top_k=c.shape[1])]),), "semantic_search` is switched off"),
        ],
        "constant": [
            Fake("the bi-encoder's order, 0..depth-1", (lambda c, lg, lam: torch.arange(c.shape[1]).expand(c.shape),), "both stages count"),
            Fake("the first input's answer", (memorised(hybrid_order),), "return the order as a tensor of shape"),
        ],
        "ignores": [
            Fake("ignores lam (1)", (lambda c, lg, lam: hybrid_order(c, lg, 1.0),), "wrong order for lam="),
            Fake("ignores the cosine", (lambda c, lg, lam: lg.argsort(1, descending=True),), "both stages count"),
            Fake("ignores the logits", (lambda c, lg, lam: c.argsort(1, descending=True),), "both stages count"),
        ],
        "guard": [
            Fake("embeddings.search, switch-off swallowed", (search_or_cosine,), "`embeddings.search` is switched off"),
        ],
        "other": [
            Fake("the scores, not the order", (hybrid,), "not the hybrid scores"),
            Fake("worst first", (lambda c, lg, lam: hybrid(c, lg, lam).argsort(1),), "descending=True"),
            Fake("each candidate's rank", (lambda c, lg, lam: hybrid_order(c, lg, lam).argsort(1),), "RANK"),
            Fake("no sigmoid", (lambda c, lg, lam: (c + lam * lg).argsort(1, descending=True),), "squash the logit"),
            Fake("lam on the cosine", (lambda c, lg, lam: (lam * c + lg.sigmoid()).argsort(1, descending=True),), "weighs the reranker"),
            Fake("the top depth-1 only", (lambda c, lg, lam: hybrid_order(c, lg, lam)[:, :-1],), "return the order as a tensor of shape"),
        ],
    },
    "10.4": {
        "library": [
            Fake("section 4's cross_entropy, target 0", (lambda s, m: F.cross_entropy(s, torch.zeros(len(s), dtype=torch.long)),), "is_positive is ignored"),
            Fake("cross_entropy on the first positive", (lambda s, m: F.cross_entropy(s, m.float().argmax(1)),), "only one positive per row counts"),
            Fake("cross_entropy, soft targets", (lambda s, m: F.cross_entropy(s, m.to(s.dtype)),), "that adds up each positive's own -log p"),
            Fake("cross_entropy, normalised soft targets", (lambda s, m: F.cross_entropy(s, m / m.sum(1, keepdim=True)),), "that averages each positive's own -log p"),
            Fake("BCE with logits", (lambda s, m: F.binary_cross_entropy_with_logits(s, m.to(s.dtype)),), "that is BCE on each pair"),
        ],
        "constant": [
            Fake("a fresh leaf 1.0", (lambda s, m: torch.tensor(1.0, requires_grad=True),), "wrong value"),
            Fake("0.7 tied to the scores", (lambda s, m: (s * 0).sum() + 0.7,), "wrong value"),
            Fake("the first input's answer", (memorised(multi_positive_loss),), "wrong value"),
        ],
        "ignores": [
            Fake("ignores is_positive (column 0)", (lambda s, m: (s.logsumexp(1) - s[:, 0]).mean(),), "is_positive is ignored"),
            Fake("the first group only", (lambda s, m: multi_positive_loss(s[:1], m[:1]),), "wrong value"),
            Fake(".item()", (lambda s, m: multi_positive_loss(s, m).item(),), "drop .item()"),
            Fake("one loss per group", (lambda s, m: s.logsumexp(1) - s.masked_fill(~m, NEG).logsumexp(1),), "return one number"),
        ],
        "guard": [
            Fake("detached scores", (lambda s, m: multi_positive_loss(s.detach(), m),), "lost its gradient"),
            Fake("detached, re-attached by 0 * scores", (lambda s, m: multi_positive_loss(s.detach(), m) + (s * 0).sum(),), "not its gradient"),
            Fake("detached normaliser", (lambda s, m: (s.logsumexp(1).detach() - s.masked_fill(~m, NEG).logsumexp(1)).mean(),), "not its gradient"),
            Fake("a fresh leaf of the right value", (lambda s, m: multi_positive_loss(s, m).detach().requires_grad_(),), "it has no gradient"),
            Fake("nan gradient hidden by nan_to_num", (lambda s, m: multi_positive_loss(s, m) + (torch.sqrt(s - s - 1) * 0).nan_to_num().sum(),), "gradient holds nan"),
            Fake("logits clamped so exp cannot overflow", (lambda s, m: naive(s.clamp(-80, 80), m),), "wrong value"),
            Fake("overflow swallowed, a constant instead", (naive_or_constant,), "wrong value"),
        ],
        "other": [
            Fake("wrong sign", (lambda s, m: -multi_positive_loss(s, m),), "wrong sign"),
            Fake("sum of each positive's -log p", (lambda s, m: -(logp(s) * m).sum(1).mean(),), "that adds up each positive's own -log p"),
            Fake("mean of each positive's -log p", (lambda s, m: -logp(s)[m].mean(),), "that averages each positive's own -log p"),
            Fake("softmax first", (lambda s, m: multi_positive_loss(s.softmax(1), m),), "do not softmax first"),
            Fake("no log", (lambda s, m: -(s.softmax(1) * m).sum(1).mean(),), "take the log"),
            Fake("mask multiplied in log space", (lambda s, m: -(logp(s) * m).logsumexp(1).mean(),), "fill them with -inf instead"),
            Fake("negatives only in the normaliser", (lambda s, m: (s.masked_fill(m, NEG).logsumexp(1) - s.masked_fill(~m, NEG).logsumexp(1)).mean(),), "positives included"),
            Fake("sum over the groups", (lambda s, m: multi_positive_loss(s, m) * len(s),), "not the sum"),
            Fake("softmax over columns", (lambda s, m: (s.logsumexp(0) - s.masked_fill(~m, NEG).logsumexp(0)).mean(),), "each ROW (dim=1)"),
            Fake("naive log(sum(exp))", (naive,), "stay in log space with torch.logsumexp or log_softmax"),
            Fake("softmax, then log of the positives' share", (lambda s, m: -torch.log((s.softmax(1) * m).sum(1)).mean(),), "stay in log space"),
            Fake("off by 0.1", (lambda s, m: multi_positive_loss(s, m) + 0.1,), "wrong value"),
        ],
    },
}  # fmt: skip

SOLUTIONS = {
    "10.1": (mean_pool, cls_pool),
    "10.2": (mrr_at_k,),
    "10.3": (hybrid_order,),
    "10.4": (multi_positive_loss,),
}
RIGHTS = {  # other right answers, each accepted in float32 and bfloat16
    "10.1": [
        (lambda h, m: h.masked_fill(m[..., None] == 0, 0).sum(1) / m.sum(1, keepdim=True), lambda h, m: h[torch.arange(len(h)), m.argmax(1)]),
        (lambda h, m: torch.einsum("bsh,bs->bh", h.float(), m.float()) / m.sum(1, keepdim=True), lambda h, m: torch.stack([row[mask.bool()][0] for row, mask in zip(h, m)])),
    ],
    "10.2": [
        (lambda s, ql, cl, k: torch.tensor(mrr_at_k(s, ql, cl, k)),),
        (lambda s, ql, cl, k: ((cl[s.argsort(1, descending=True)[:, :k]] == ql[:, None]).to(s.dtype) / torch.arange(1, k + 1)).max(1).values.mean(),),
    ],
    "10.3": [
        (lambda c, lg, lam: hybrid(c, lg, lam).sort(dim=1, descending=True).indices,),
        (lambda c, lg, lam: (-hybrid(c.float(), lg.float(), lam)).argsort(dim=1, stable=True),),
    ],
    "10.4": [
        (lambda s, m: -s.log_softmax(1).masked_fill(~m, NEG).logsumexp(1).mean(),),
        (lambda s, m: -(torch.log((s.double().exp() * m).sum(1) / s.double().exp().sum(1))).mean(),),
        (lambda s, m: torch.stack([torch.logsumexp(r, 0) - torch.logsumexp(r[p], 0) for r, p in zip(s, m)]).mean(),),
        (lambda s, m: F.cross_entropy(torch.cat([s.masked_fill(~m, NEG).logsumexp(1, keepdim=True), s.masked_fill(m, NEG)], 1), torch.zeros(len(s), dtype=torch.long)),),
    ],
}  # fmt: skip


def _checker(exercise):
    return getattr(check, "exercise_" + exercise.replace(".", "_"))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
@pytest.mark.parametrize("exercise", sorted(SOLUTIONS))
def test_solution_and_other_right_answers_pass(exercise, dtype, capsys):
    with precision(dtype):
        assert _checker(exercise)(*SOLUTIONS[exercise])
        for right in RIGHTS[exercise]:
            assert _checker(exercise)(*right), capsys.readouterr().out
    assert capsys.readouterr().out.count(f"✅ exercise {exercise}: correct") == 1 + len(RIGHTS[exercise])


def test_every_fake_is_rejected_in_bfloat16_too(capsys):
    """The table runs in float32 (test_check_fakes.py); a model in bfloat16 must not open a hole."""
    with precision(torch.bfloat16):
        accepted = [
            f"{exercise} {kind}: {fake.label}"
            for exercise, kinds in FAKES.items()
            for kind, fakes in kinds.items()
            for fake in fakes
            if _checker(exercise)(*fake.args, **fake.kwargs)
        ]
    assert not accepted, accepted
    assert "✅" not in capsys.readouterr().out


def test_10_1_learner_errors_become_the_hint(capsys):
    # counts of shape (batch,) do not broadcast against (batch, hidden): the learner's error becomes the hint
    assert not check.exercise_10_1(lambda h, m: (h * m.unsqueeze(-1)).sum(1) / m.sum(1), cls_pool)
    assert "your function raised RuntimeError" in capsys.readouterr().out
    assert not check.exercise_10_1(mean_pool, lambda h, m: None)
    assert "did you forget `return`" in capsys.readouterr().out


def test_10_4_placeholder_argument_and_random_state(capsys):
    def placeholder(scores, is_positive):
        raise NotImplementedError  # your code here

    assert not check.exercise_10_4(placeholder)
    assert "not implemented yet" in capsys.readouterr().out
    assert not check.exercise_10_4(multi_positive_loss(torch.zeros(2, 3), torch.ones(2, 3, dtype=torch.bool)))
    assert "pass your function itself (got Tensor)" in capsys.readouterr().out
    assert not check.exercise_10_4(lambda s, m: s[:, m.shape[1]].sum())
    assert "your function raised IndexError" in capsys.readouterr().out
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    assert check.exercise_10_4(multi_positive_loss)
    assert torch.equal(torch.rand(3), expected)  # the checker seeds its own generator


def test_10_4_solution_is_section_4_loss_with_one_positive_first():
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


def test_switched_off_functions_come_back():
    h, m = torch.randn(2, 3, 4), torch.tensor([[1, 1, 0], [1, 1, 1]])
    check.exercise_10_1(embeddings.mean_pool, embeddings.cls_pool)
    torch.testing.assert_close(embeddings.mean_pool(h, m), mean_pool(h, m))
    assert embeddings.search(torch.eye(3), torch.eye(3), k=1)[1].flatten().tolist() == [0, 1, 2]
