"""Workshop prefetch: copy every Hub asset the course uses to local folders, for rooms without Wi-Fi.

``make prefetch`` (``python -m course_utils prefetch``) on a machine with internet downloads the
canonical checkpoints into ``<cache>/hub`` and the emotion splits as JSON lines into
``<cache>/data/emotion``. Copy the cache folder (``data/cache`` in a checkout) to the offline
machines: :func:`course_utils.resolve_checkpoint` looks there before falling back to stand-ins, and
:func:`course_utils.load_emotion` reads the prefetched splits.
"""

from __future__ import annotations

import json
from pathlib import Path

from .data import EMOTION_REPO, EMOTION_SPLITS, emotion_files_present, emotion_revision
from .env import hub_status
from .models import (
    ALLOW_PATTERNS,
    BGE_EMBEDDER,
    BGE_RERANKER,
    CAUSAL_LM,
    EMBEDDER,
    ENCODER,
    SENTIMENT,
    explain_hub_faults,
)
from .paths import cache_dir, prefetch_dir, prefetched_data_dir

#: Every Hub checkpoint a notebook loads; ``make prefetch`` downloads each of them.
HUB_CHECKPOINTS: tuple[str, ...] = (
    ENCODER,
    SENTIMENT,
    CAUSAL_LM,
    EMBEDDER,
    "bert-base-uncased",
    BGE_EMBEDDER,
    BGE_RERANKER,
)


#: What `make prefetch` says to do after a Hub fault: what is already fetched stays in the cache.
_RERUN = "or run `make prefetch` again later: what it fetched so far stays in the cache"


def fetch_emotion(root: Path | None = None) -> Path:
    """Write the Hub's emotion splits as ``<root>/emotion/<split>.jsonl`` (skipped when present).

    Course plumbing: not taught.
    """
    root = Path(root) if root is not None else prefetched_data_dir()
    if emotion_files_present(root):
        return root
    ok, reason = hub_status()
    if not ok:
        raise RuntimeError(
            f"No emotion files in {root}/emotion and the Hub is offline ({reason}): point "
            "COURSE_DATA_DIR at a folder holding emotion/{train,validation,test}.jsonl."
        )
    from datasets import load_dataset

    ds = explain_hub_faults(
        f"the dataset {EMOTION_REPO!r}",
        lambda: load_dataset(EMOTION_REPO, revision=emotion_revision()),
        offline=_RERUN,
    )
    folder = root / "emotion"
    folder.mkdir(parents=True, exist_ok=True)
    for split in EMOTION_SPLITS:
        tmp = folder / f".{split}.jsonl.part"
        with tmp.open("w", encoding="utf-8") as fh:
            for row in ds[split]:
                fh.write(json.dumps({"text": row["text"], "label": int(row["label"])}) + "\n")
        tmp.replace(folder / f"{split}.jsonl")
    return root


def fetch_checkpoints(names: tuple[str, ...] = HUB_CHECKPOINTS) -> list[Path]:
    """Download each checkpoint's config, tokenizer and safetensors into :func:`prefetch_dir`.

    Course plumbing: not taught.
    """
    ok, reason = hub_status()
    if not ok:
        raise RuntimeError(f"prefetch needs the Hub, which is offline ({reason})")
    from huggingface_hub import snapshot_download

    def fetch(name: str) -> Path:
        def download() -> str:
            return snapshot_download(name, cache_dir=prefetch_dir(), allow_patterns=ALLOW_PATTERNS)

        return Path(explain_hub_faults(repr(name), download, offline=_RERUN))

    return [fetch(name) for name in names]


def prefetch() -> None:
    """Fetch every checkpoint and the emotion data; print what is where.

    Course plumbing: not taught.
    """
    for name, path in zip(HUB_CHECKPOINTS, fetch_checkpoints()):
        print(f"{name}: {path}")
    print(f"emotion: {fetch_emotion() / 'emotion'}")
    print(f"Copy {cache_dir()} to the offline machines (same place in their checkout, or set COURSE_CACHE_DIR).")
