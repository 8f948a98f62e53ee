"""Paths: every folder the course writes to, in one place.

- :func:`cache_dir`: the course cache (``COURSE_CACHE_DIR``, ``data/cache`` in a checkout, else
  ``~/.cache/hf-course``);
- :func:`prefetched_data_dir`: the data sets ``make prefetch`` downloads (``<cache>/data``);
- :func:`prefetch_dir`: the Hub snapshots ``make prefetch`` downloads (``<cache>/hub``);
- :func:`standins_dir`: the offline stand-in models built on this machine (``<cache>/standins``).
"""

from __future__ import annotations

import os
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parent.parent


def cache_dir() -> Path:
    """Where the course keeps what it builds or downloads (stand-in models, prefetched Hub files).

    ``COURSE_CACHE_DIR`` if set; else ``data/cache`` in a source checkout; else ``~/.cache/hf-course``.
    The folder is created on first use.

    Taught in: 07 Text generation, "Encoder-decoder models: `generate` with `AutoModelForSeq2SeqLM`".
    """
    env = os.environ.get("COURSE_CACHE_DIR")
    if env:
        path = Path(env).expanduser()
    elif (_REPO_ROOT / "pyproject.toml").is_file() and (_REPO_ROOT / "data").is_dir():
        path = _REPO_ROOT / "data" / "cache"
    else:
        path = Path.home() / ".cache" / "hf-course"
    path.mkdir(parents=True, exist_ok=True)
    return path


def prefetched_data_dir(cache: Path | None = None) -> Path:
    """Where ``make prefetch`` writes ``emotion/{train,validation,test}.jsonl``: ``<cache>/data``.

    ``cache`` defaults to :func:`cache_dir`; the workshop bundle passes the cache it copies into.

    Course plumbing: not taught.
    """
    return (cache_dir() if cache is None else Path(cache)) / "data"


def prefetch_dir() -> Path:
    """Where ``make prefetch`` stores Hub snapshots (a Hugging Face cache layout inside the course cache).

    Taught in: 03 Models and heads, "Where the files live: the cache, and offline mode".
    """
    return cache_dir() / "hub"


def standins_dir() -> Path:
    """Where built stand-ins live: ``<cache>/standins``.

    Course plumbing: not taught.
    """
    path = cache_dir() / "standins"
    path.mkdir(parents=True, exist_ok=True)
    return path
