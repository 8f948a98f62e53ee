"""course_utils.embeddings: pooling, embedding, search, pair scores and retrieval metrics."""

from __future__ import annotations

import pytest
import torch

from course_utils import embeddings, standins


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(standins.minilm_path())


def _tiny_config(**extra):
    from transformers import BertConfig

    return BertConfig(
        vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, **extra
    )


@pytest.fixture(scope="module")
def tiny_encoder():
    from transformers import BertModel

    torch.manual_seed(0)
    return BertModel(_tiny_config()).eval()


@pytest.fixture(scope="module")
def tiny_reranker():
    from transformers import BertForSequenceClassification

    torch.manual_seed(0)
    return BertForSequenceClassification(_tiny_config(num_labels=1)).eval()


TEXTS = ["i feel lonely", "i am thrilled about the long trip to the mountains next week", "ok"]


def test_mean_pool_ignores_padding():
    hidden = torch.arange(24.0).reshape(2, 4, 3)
    mask = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]])
    pooled = embeddings.mean_pool(hidden, mask)
    torch.testing.assert_close(pooled[0], hidden[0, :2].mean(dim=0))
    torch.testing.assert_close(pooled[1], hidden[1].mean(dim=0))
    assert not torch.allclose(pooled[0], hidden[0].mean(dim=0))  # the naive mean differs


def test_mean_pool_all_padding_row_is_zero_not_nan():
    pooled = embeddings.mean_pool(torch.ones(1, 3, 2), torch.zeros(1, 3, dtype=torch.long))
    assert torch.equal(pooled, torch.zeros(1, 2))


def test_cls_pool_takes_the_first_real_token():
    hidden = torch.randn(2, 5, 4)
    assert torch.equal(embeddings.cls_pool(hidden, torch.ones(2, 5)), hidden[:, 0])
    left_padded = torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]])
    pooled = embeddings.cls_pool(hidden, left_padded)
    assert torch.equal(pooled, torch.stack([hidden[0, 2], hidden[1, 0]]))  # not the padding vector hidden[0, 0]


@pytest.mark.parametrize("pool", [embeddings.mean_pool, embeddings.cls_pool])
def test_pooling_rejects_bad_shapes(pool):
    with pytest.raises(ValueError, match="last_hidden_state"):
        pool(torch.randn(2, 5), torch.ones(2, 5))
    with pytest.raises(ValueError, match="attention_mask"):
        pool(torch.randn(2, 5, 4), torch.ones(2, 4))


def test_embed_is_normalised_and_independent_of_batching(tokenizer, tiny_encoder):
    together = embeddings.embed(TEXTS, tokenizer, tiny_encoder, batch_size=8)
    one_by_one = embeddings.embed(TEXTS, tokenizer, tiny_encoder, batch_size=1)
    assert together.shape == (3, 32)
    torch.testing.assert_close(together.norm(dim=1), torch.ones(3))
    torch.testing.assert_close(together, one_by_one, atol=1e-5, rtol=0)  # padding is masked out


def test_embed_matches_the_manual_recipe(tokenizer, tiny_encoder):
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    with torch.inference_mode():
        hidden = tiny_encoder(**batch).last_hidden_state
    expected_cls = torch.nn.functional.normalize(hidden[:, 0], dim=1)
    assert torch.equal(embeddings.embed(TEXTS, tokenizer, tiny_encoder, pooling="cls"), expected_cls)
    raw = embeddings.embed(TEXTS, tokenizer, tiny_encoder, normalize=False)
    assert torch.equal(raw, embeddings.mean_pool(hidden, batch["attention_mask"]))
    assert not torch.allclose(raw.norm(dim=1), torch.ones(3))


def test_embed_truncates_at_max_length(tokenizer, tiny_encoder):
    long_text = "word " * 50
    short = embeddings.embed([long_text], tokenizer, tiny_encoder, max_length=8)
    manual = embeddings.embed([" ".join(long_text.split()[:6])], tokenizer, tiny_encoder)
    torch.testing.assert_close(short, manual)  # 8 tokens = [CLS] + 6 words + [SEP]


def test_embed_rejects_bad_arguments(tokenizer, tiny_encoder):
    with pytest.raises(ValueError, match="texts"):
        embeddings.embed("one string", tokenizer, tiny_encoder)
    with pytest.raises(ValueError, match="pooling"):
        embeddings.embed(TEXTS, tokenizer, tiny_encoder, pooling="max")
    with pytest.raises(ValueError, match="batch_size"):
        embeddings.embed(TEXTS, tokenizer, tiny_encoder, batch_size=0)


def test_search_returns_best_first_and_can_exclude_self():
    corpus = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, 0.0]])
    scores, idx = embeddings.search(torch.tensor([[2.0, 0.1]]), corpus, k=3)
    assert idx.tolist() == [[0, 2, 1]]
    assert scores[0, 0] > scores[0, 1] > scores[0, 2]
    _, idx_self = embeddings.search(corpus, corpus, k=1, exclude_self=True)
    assert all(int(idx_self[i, 0]) != i for i in range(4))
    assert idx_self[0, 0].item() == 2  # [1, 0]'s nearest other row is [1, 1]


def test_search_rejects_bad_arguments():
    corpus = torch.randn(5, 3)
    with pytest.raises(ValueError, match="k must be between 1 and 5"):
        embeddings.search(torch.randn(2, 3), corpus, k=6)
    with pytest.raises(ValueError, match="k must be between 1 and 4"):
        embeddings.search(corpus, corpus, k=5, exclude_self=True)
    with pytest.raises(ValueError, match="embedding sizes differ"):
        embeddings.search(torch.randn(2, 4), corpus, k=1)
    with pytest.raises(ValueError, match="same number of rows"):
        embeddings.search(torch.randn(2, 3), corpus, k=1, exclude_self=True)


def test_pair_scores_match_the_model_and_do_not_depend_on_batching(tokenizer, tiny_reranker):
    pairs = [("what is panda?", "hi"), ("what is panda?", "a bear species endemic to china"), ("q", "p")]
    scores = embeddings.pair_scores(pairs, tokenizer, tiny_reranker, batch_size=1)
    inputs = tokenizer([q for q, _ in pairs], [p for _, p in pairs], padding=True, return_tensors="pt")
    with torch.inference_mode():
        expected = tiny_reranker(**inputs).logits.view(-1)
    assert scores.shape == (3,)
    torch.testing.assert_close(scores, expected, atol=1e-5, rtol=0)
    assert tiny_reranker.training is False


def test_pair_scores_rejects_bad_arguments(tokenizer, tiny_reranker):
    from transformers import BertForSequenceClassification

    with pytest.raises(ValueError, match="pairs"):
        embeddings.pair_scores(("q", "p"), tokenizer, tiny_reranker)
    with pytest.raises(ValueError, match="pairs"):
        embeddings.pair_scores([("q", "p", "x")], tokenizer, tiny_reranker)
    with pytest.raises(ValueError, match="num_labels=1"):
        embeddings.pair_scores([("q", "p")], tokenizer, BertForSequenceClassification(_tiny_config(num_labels=2)))


def test_same_label_compares_retrieved_labels_with_the_query_label():
    corpus_labels = torch.tensor([0, 1, 1, 2])
    rel = embeddings.same_label(torch.tensor([1, 2]), corpus_labels, torch.tensor([[1, 0], [3, 2]]))
    assert rel.tolist() == [[True, False], [True, False]]
    with pytest.raises(ValueError, match="indices"):
        embeddings.same_label(torch.tensor([1]), corpus_labels, torch.tensor([[1, 0], [3, 2]]))


def test_precision_and_recall_at_k():
    rel = torch.tensor([[True, False, True, False], [False, False, False, True]])
    assert embeddings.precision_at_k(rel, 1) == pytest.approx(0.5)
    assert embeddings.precision_at_k(rel, 4) == pytest.approx(3 / 8)
    # query 0: 2 of its 4 relevant rows in the top 4; query 1: 1 of 2
    assert embeddings.recall_at_k(rel, torch.tensor([4, 2]), 4) == pytest.approx((0.5 + 0.5) / 2)
    assert embeddings.recall_at_k(rel, torch.tensor([4, 2]), 1) == pytest.approx((0.25 + 0) / 2)


def test_metrics_reject_bad_arguments():
    rel = torch.tensor([[True, False]])
    with pytest.raises(ValueError, match="k must be between 1 and 2"):
        embeddings.precision_at_k(rel, 3)
    with pytest.raises(ValueError, match="boolean"):
        embeddings.precision_at_k(rel.float(), 1)
    with pytest.raises(ValueError, match="n_relevant"):
        embeddings.recall_at_k(rel, torch.tensor([0]), 1)
    with pytest.raises(ValueError, match="n_relevant"):
        embeddings.recall_at_k(rel, torch.tensor([1, 2]), 1)


def test_mined_groups_put_one_positive_first_then_negatives():
    torch.manual_seed(0)
    vectors = torch.randn(40, 8)
    labels = torch.arange(40) % 3
    anchors, candidates = embeddings.mined_groups(vectors, labels, group_size=3, k=6, seed=0)
    assert candidates.shape == (len(anchors), 3) and 0 < len(anchors) <= 40
    _, near = embeddings.search(vectors, vectors, k=6, exclude_self=True)
    for anchor, group in zip(anchors.tolist(), candidates.tolist()):
        assert set(group) <= set(near[anchor].tolist()) and anchor not in group and len(set(group)) == 3
        assert labels[group[0]] == labels[anchor] and all(labels[c] != labels[anchor] for c in group[1:])
    again = embeddings.mined_groups(vectors, labels, group_size=3, k=6, seed=0)
    assert torch.equal(anchors, again[0]) and torch.equal(candidates, again[1])  # seeded
    assert not torch.equal(anchors, embeddings.mined_groups(vectors, labels, group_size=3, k=6, seed=1)[0])


def test_mined_groups_reject_bad_arguments():
    vectors, labels = torch.eye(4), torch.tensor([0, 0, 1, 1])
    with pytest.raises(ValueError, match="corpus_labels"):
        embeddings.mined_groups(vectors, labels[:3], k=2)
    with pytest.raises(ValueError, match="group_size"):
        embeddings.mined_groups(vectors, labels, group_size=1, k=2)
    with pytest.raises(ValueError, match="group_size"):
        embeddings.mined_groups(vectors, labels, group_size=4, k=2)
    with pytest.raises(ValueError, match="no corpus row"):
        embeddings.mined_groups(vectors, torch.zeros(4, dtype=torch.long), group_size=2, k=2)  # no negatives


GROUPS = [
    ("i feel happy", ["what a joyful day", "i am furious", "so scared"]),
    ("i am so sad", ["tears all night", "we won the cup", "i love you"]),
] * 4


def test_train_cross_encoder_is_the_plain_loop_and_learns(tokenizer):
    from transformers import BertForSequenceClassification

    def fresh():
        torch.manual_seed(0)
        model = BertForSequenceClassification(
            _tiny_config(num_labels=1, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
        )
        return model, torch.optim.AdamW(model.parameters(), lr=1e-3)

    model, optimizer = fresh()
    losses = embeddings.train_cross_encoder(model, tokenizer, GROUPS[:4], optimizer, groups_per_step=2)
    expected_model, expected_opt = fresh()  # the same two steps, written out
    expected = []
    for start in (0, 2):
        step = GROUPS[start : start + 2]
        inputs = tokenizer(
            [q for q, cands in step for _ in cands],
            [c for _, cands in step for c in cands],
            padding=True,
            truncation=True,
            max_length=128,
            return_tensors="pt",
        )
        logits = expected_model(**inputs).logits.view(2, 3)
        loss = torch.nn.functional.cross_entropy(logits, torch.tensor([0, 0]))
        loss.backward()
        expected_opt.step()
        expected_opt.zero_grad()
        expected.append(loss.item())
    assert losses == pytest.approx(expected, abs=1e-6) and model.training is False
    assert losses[0] == pytest.approx(torch.log(torch.tensor(3.0)).item(), abs=0.2)  # about uniform at first
    more = embeddings.train_cross_encoder(model, tokenizer, GROUPS, optimizer, groups_per_step=2)
    more += embeddings.train_cross_encoder(model, tokenizer, GROUPS, optimizer, groups_per_step=2)
    assert len(more) == 8 and sum(more[-2:]) < sum(losses)  # a second call continues the same run


def test_train_cross_encoder_steps_the_scheduler_and_drops_a_short_last_step(tokenizer, tiny_reranker):
    import copy

    model = copy.deepcopy(tiny_reranker)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    losses = embeddings.train_cross_encoder(
        model, tokenizer, GROUPS[:5], optimizer, groups_per_step=2, scheduler=scheduler, autocast_dtype=torch.bfloat16
    )
    assert len(losses) == 2 and scheduler.last_epoch == 2


def test_train_cross_encoder_rejects_bad_arguments(tokenizer, tiny_reranker):
    from transformers import BertForSequenceClassification

    optimizer = torch.optim.SGD(tiny_reranker.parameters(), lr=0.0)
    for bad in [("q", ["p", "n"]), [("q", "pn")], [("q", ["p"])], [("q", ["p", "n"]), ("q", ["p", "n", "m"])]]:
        with pytest.raises(ValueError, match="groups|candidates"):
            embeddings.train_cross_encoder(tiny_reranker, tokenizer, bad, optimizer)
    with pytest.raises(ValueError, match="groups_per_step"):
        embeddings.train_cross_encoder(tiny_reranker, tokenizer, GROUPS, optimizer, groups_per_step=0)
    with pytest.raises(ValueError, match="num_labels=1"):
        embeddings.train_cross_encoder(
            BertForSequenceClassification(_tiny_config(num_labels=2)), tokenizer, GROUPS, optimizer
        )
