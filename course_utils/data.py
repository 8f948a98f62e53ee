"""Data: the emotion dataset from a local mirror, the Hub or a prefetched copy (folders: :mod:`course_utils.paths`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import _moved
from .env import hub_status
from .paths import prefetched_data_dir as _prefetched_data_dir

if TYPE_CHECKING:
    from datasets import DatasetDict

EMOTION_REPO = "dair-ai/emotion"
#: The Hub revision the course was written against (the parquet conversion of the "split" config).
EMOTION_REVISION = "cab853a1dbdf4c42c2b3ef2173804746df8825fe"
#: Overrides :data:`EMOTION_REVISION`, for a mirror whose copy has another commit (a local Hub
#: mirror cannot reproduce the Hub's commit id): for example ``COURSE_EMOTION_REVISION=main``.
EMOTION_REVISION_VARIABLE = "COURSE_EMOTION_REVISION"
EMOTION_LABELS: tuple[str, ...] = ("sadness", "joy", "love", "anger", "fear", "surprise")
EMOTION_SPLITS: tuple[str, ...] = ("train", "validation", "test")


def _missing_splits(folder: Path) -> list[str]:
    return [s for s in EMOTION_SPLITS if not (folder / f"{s}.jsonl").is_file()]


def emotion_files_present(root: Path) -> bool:
    """True when ``root/emotion`` holds the three split files (``root``: a ``COURSE_DATA_DIR`` or a prefetch).

    Course plumbing: not taught.
    """
    return not _missing_splits(Path(root) / "emotion")


def emotion_dir() -> Path | None:
    """The local emotion mirror (``$COURSE_DATA_DIR/emotion``), or None when ``COURSE_DATA_DIR`` is unset.

    Raises ``FileNotFoundError`` when the variable is set but the folder lacks a split file.

    Taught in: 04 Datasets, "`load_dataset`, argument by argument".
    """
    root = os.environ.get("COURSE_DATA_DIR")
    if not root:
        return None
    folder = Path(root).expanduser() / "emotion"
    missing = _missing_splits(folder)
    if missing:
        raise FileNotFoundError(
            f"COURSE_DATA_DIR={root!r} has no emotion/{{{','.join(missing)}}}.jsonl; it must hold "
            "emotion/train.jsonl, emotion/validation.jsonl and emotion/test.jsonl (the Hub's "
            "dair-ai/emotion 'split' files). Fix the path or unset COURSE_DATA_DIR to use the Hub."
        )
    return folder


def emotion_revision() -> str:
    """The emotion revision to load from the Hub: ``$COURSE_EMOTION_REVISION`` if set, else the pinned one.

    Course plumbing: not taught.
    """
    value = os.environ.get(EMOTION_REVISION_VARIABLE, "").strip()
    return value or EMOTION_REVISION


def emotion_features():
    """The emotion ``Features``: ``text`` a string, ``label`` a ``ClassLabel`` of :data:`EMOTION_LABELS`.

    Course plumbing: not taught.
    """
    from datasets import ClassLabel, Features, Value

    return Features({"text": Value("string"), "label": ClassLabel(names=list(EMOTION_LABELS))})


_EMOTION_OFFLINE = (
    "set COURSE_DATA_DIR to a folder holding emotion/{train,validation,test}.jsonl, or run "
    "`make prefetch` on a machine with internet, then copy data/cache here"
)


def load_emotion(split: str | None = None):
    """The dair-ai/emotion dataset: a ``DatasetDict`` (train 16000 / validation 2000 / test 2000), or one split.

    Looks in ``$COURSE_DATA_DIR/emotion/`` first, then the Hub (pinned revision, see
    :func:`emotion_revision`), then a copy made
    by ``make prefetch``; ``label`` is a ``ClassLabel`` with names sadness, joy, love, anger, fear,
    surprise. A Hub that answers 429, fails (5xx) or stalls raises
    :class:`~course_utils.models.HubFaultError` (what happened, what to do) unless a prefetched
    copy is there, which is then used.

    Taught in: 01 Pipelines, "The options that change the answer".
    """
    if split is not None and split not in EMOTION_SPLITS:
        raise ValueError(f"split must be one of {EMOTION_SPLITS} or None, got {split!r}")
    from datasets import load_dataset

    folder = emotion_dir()
    if folder is None:
        ok, reason = hub_status()
        prefetched = _prefetched_data_dir()
        if ok:
            from .models import HubFaultError, explain_hub_faults

            try:
                ds = explain_hub_faults(
                    EMOTION_REPO,
                    lambda: load_dataset(EMOTION_REPO, revision=emotion_revision()),
                    offline=_EMOTION_OFFLINE,
                )
            except HubFaultError as fault:  # rate-limited, failing or stalled: a prefetched copy, else the message
                if not emotion_files_present(prefetched):
                    raise
                print(f"{EMOTION_REPO}: {fault.endpoint}: {fault.happened()} -> the copy made by `make prefetch`")
            else:
                return _pick(ds.cast(emotion_features()), split)
        elif not emotion_files_present(prefetched):
            from .models import probe_fault_hint

            raise RuntimeError(
                f"Cannot load emotion: COURSE_DATA_DIR is unset and the Hub is offline ({reason}{probe_fault_hint(reason)}). "
                "Set COURSE_DATA_DIR to a folder holding emotion/{train,validation,test}.jsonl, "
                "or run `make prefetch` on a machine with internet and copy data/cache here."
            )
        folder = prefetched / "emotion"
    files = {s: str(folder / f"{s}.jsonl") for s in EMOTION_SPLITS}
    return _pick(load_dataset("json", data_files=files, features=emotion_features()), split)


def _pick(ds: DatasetDict, split: str | None):
    return ds if split is None else ds[split]


#: Helpers that moved to :mod:`course_utils.paths`; the old path still works, with a DeprecationWarning.
_MOVED = {
    "cache_dir": "course_utils.paths.cache_dir",
    "prefetched_data_dir": "course_utils.paths.prefetched_data_dir",
}


def __getattr__(name: str) -> Any:
    return _moved.attribute(__name__, name, _MOVED)
