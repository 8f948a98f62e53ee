"""tools/hub_mirror.py and tools/rehearse.py: the local Hub that rehearses the online branch.

The full rehearsal (every notebook through the mirror) is `make test-online`; these tests prove
the pieces: the canonical configs' sizes, atomic builds with LFS pointers, a real olah server that
answers like the Hub and always stops, and rehearsal caches that never reach `make test`.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import hub_mirror  # noqa: E402
import rehearse  # noqa: E402

import course_utils as cu  # noqa: E402


def hub_config(repo_id: str) -> dict:
    """The Hub's ``config.json`` of the model ``repo_id``, as the mirror serves it (its data file)."""
    return json.loads((hub_mirror.DATA / "models" / repo_id / "config.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("repo_id", "expected"),
    [
        ("distilbert-base-uncased", 66_362_880),  # the Hub's distilbert-base-uncased
        ("distilbert/distilbert-base-uncased-finetuned-sst-2-english", 66_362_880),
        ("bert-base-uncased", 109_482_240),  # bert-base-uncased, pooler included
        ("BAAI/bge-small-en-v1.5", 33_360_000),  # bge-small-en-v1.5
    ],
)
def test_mirror_configs_have_the_hub_models_sizes(repo_id, expected):
    import torch
    from transformers import AutoConfig, AutoModel

    with torch.device("meta"):
        body = AutoModel.from_config(AutoConfig.for_model(**hub_config(repo_id)))
    assert body.num_parameters() == expected


def test_sst2_config_carries_the_hub_labels():
    sst2 = hub_config("distilbert/distilbert-base-uncased-finetuned-sst-2-english")
    assert sst2["id2label"] == {"0": "NEGATIVE", "1": "POSITIVE"}
    # transformers 5's BertConfig() has no position_embedding_type: the mirror must use the Hub's file
    assert hub_config("bert-base-uncased")["position_embedding_type"] == "absolute"


def test_every_data_folder_belongs_to_a_repository():
    """A folder under tools/hub_mirror_data/ that no repository builds would be silently ignored."""
    folders = {p.parent.relative_to(hub_mirror.DATA).as_posix() for p in hub_mirror.DATA.rglob("README.md")}
    assert folders == {r.folder for r in hub_mirror.REPOS} - {"models/sentence-transformers/all-MiniLM-L6-v2"}


def _tiny_repo(fail: bool = False) -> hub_mirror.Repo:
    def build(out: Path) -> None:
        (out / "config.json").write_text(json.dumps({"model_type": "bert"}))
        (out / "model.safetensors").write_bytes(bytes(range(256)) * 8192)  # 2 MB: stored as LFS
        (out / "README.md").write_text("# tiny\n")  # a file that `make prefetch` does not fetch
        if fail:
            raise RuntimeError("builder failed half-way")

    return hub_mirror.Repo("models", "course-test/tiny", build, "test repository")


def test_build_is_atomic_and_stores_large_files_as_lfs_pointers(tmp_path):
    repo = _tiny_repo()
    target = hub_mirror.build_repo(repo, tmp_path)
    assert target == tmp_path / "repos" / "models" / "course-test" / "tiny" and hub_mirror.is_built(repo, tmp_path)
    pointer = (target / "model.safetensors").read_text()
    oid = hub_mirror._sha256(
        target
        / ".git"
        / "lfs"
        / "objects"
        / pointer.split("sha256:")[1][:2]
        / pointer.split("sha256:")[1][2:4]
        / pointer.split("sha256:")[1].split()[0]
    )
    assert pointer == f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {256 * 8192}\n"
    assert 120 < len(pointer) < 150  # the size window in which olah recognises a pointer
    assert hub_mirror._git(target, "branch", "--show-current").strip() == "main"
    assert "config.json" in hub_mirror._git(target, "ls-files")


def test_a_failed_build_leaves_nothing_to_serve(tmp_path):
    with pytest.raises(RuntimeError, match="half-way"):
        hub_mirror.build_repo(_tiny_repo(fail=True), tmp_path)
    parent = tmp_path / "repos" / "models" / "course-test"
    assert list(parent.iterdir()) == []  # neither the repository nor its temporary folder


def test_serve_refuses_a_taken_port_at_once(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(RuntimeError, match=f"port {port} is taken"):
            with hub_mirror.serve(tmp_path, port=port):
                pass


def test_serve_without_olah_says_how_to_install_it(tmp_path):
    with pytest.raises(RuntimeError, match="olah is not installed .*`make mirror-deps`"):
        with hub_mirror.serve(tmp_path, python=tmp_path / "no-python"):
            pass


def test_serve_refuses_a_mirror_that_is_not_built(tmp_path):
    with pytest.raises(RuntimeError, match="the mirror lacks models/course-test/tiny"):
        with hub_mirror.serve(tmp_path, repos=(_tiny_repo(),)):
            pass


def _olah_python() -> Path:
    python = hub_mirror.default_olah_python()
    assert python.is_file(), f"olah's venv is missing: run `make mirror-deps` (creates {python.parent.parent})"
    return python


def test_olah_serves_the_mirror_like_the_hub_and_always_stops(tmp_path):
    """A real olah: files (LFS too), a missing file as EntryNotFound, model info, and no process left."""
    repo = _tiny_repo()
    hub_mirror.build_repo(repo, tmp_path)
    code = r"""
import sys
from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.errors import EntryNotFoundError
repo = "course-test/tiny"
path = hf_hub_download(repo, "model.safetensors", cache_dir=sys.argv[1])
assert open(path, "rb").read() == bytes(range(256)) * 8192
(info,) = HfApi().get_paths_info(repo, ["model.safetensors"])
print("lfs sha256", info.lfs.sha256)
try:
    hf_hub_download(repo, "added_tokens.json", cache_dir=sys.argv[1])
except EntryNotFoundError:
    print("missing file: EntryNotFoundError")
print("model info without revision:", HfApi().model_info(repo).id)
import course_utils.env, course_utils.models, course_utils.prefetch
course_utils.env.HUB_PROBE_REPO = repo  # the probe asks for the course encoder, which this mirror lacks
course_utils.prefetch.fetch_checkpoints((repo,))
print("a prefetched copy is used offline:", course_utils.models._cached_snapshot(repo) is not None)
"""
    with pytest.raises(KeyboardInterrupt):  # the server must stop even when the block is interrupted
        with hub_mirror.serve(tmp_path, python=_olah_python(), repos=(repo,)) as endpoint:
            port = int(endpoint.rsplit(":", 1)[1])
            env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
            env.update(HF_ENDPOINT=endpoint, COURSE_CACHE_DIR=str(tmp_path / "course-cache"))
            done = subprocess.run(
                [sys.executable, "-c", code, str(tmp_path / "hf")], env=env, capture_output=True, text=True, timeout=120
            )
            assert done.returncode == 0, done.stderr[-3000:]
            raise KeyboardInterrupt
    sha = (
        (tmp_path / "repos" / "models" / "course-test" / "tiny" / "model.safetensors")
        .read_text()
        .split("sha256:")[1]
        .split()[0]
    )
    assert done.stdout.splitlines() == [
        f"lfs sha256 {sha}",
        "missing file: EntryNotFoundError",
        "model info without revision: course-test/tiny",
        "a prefetched copy is used offline: True",
    ]
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0, "the mirror still listens after its block ended"


@pytest.mark.parametrize("mode", rehearse.MODES)
def test_rehearsal_runs_in_its_own_caches(tmp_path, mode):
    base = {
        "HF_HUB_OFFLINE": "1",
        "COURSE_DATA_DIR": "/data",
        "HF_HOME": "/home/me/.cache/huggingface",
        "COURSE_CACHE_DIR": "/home/me/course-cache",
        "PATH": "/usr/bin",
    }
    endpoint = "http://127.0.0.1:9" if mode == "online" else None
    env = rehearse.rehearsal_env(mode, tmp_path, endpoint, base=base)
    assert Path(env["HF_HOME"]).parent == tmp_path and Path(env["COURSE_CACHE_DIR"]).parent == tmp_path
    assert "COURSE_DATA_DIR" not in env and env["COURSE_EMOTION_REVISION"] == "main"
    if mode == "online":
        assert env["HF_ENDPOINT"] == endpoint and "HF_HUB_OFFLINE" not in env
    else:
        assert "HF_ENDPOINT" not in env and env["HF_HUB_OFFLINE"] == "1"
    with pytest.raises(ValueError, match="mode must be one of"):
        rehearse.workdir("live")


def _fake_snapshot(hf_home: Path, name: str) -> None:
    """What a rehearsal leaves in its HF_HOME: a complete cached snapshot of ``name``."""
    repo = hf_home / "hub" / f"models--{name.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0" * 40)
    snap = repo / "snapshots" / ("0" * 40)
    snap.mkdir(parents=True)
    (snap / "config.json").write_text("{}")
    (snap / "model.safetensors").write_bytes(b"random weights")


def test_what_a_rehearsal_downloads_never_reaches_make_test(tmp_path, monkeypatch):
    """The caches-never-mix check passes with the rehearsal's own HF_HOME, and catches a leak."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("HF_HOME", raising=False)
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    _fake_snapshot(tmp_path / "rehearsal" / "hf-home", cu.ENCODER)  # where the rehearsal downloads
    assert "still resolves every canonical name to its stand-in" in rehearse.check_caches_never_mix()
    _fake_snapshot(tmp_path / "home" / ".cache" / "huggingface", cu.ENCODER)  # a leak into the default cache
    with pytest.raises(RuntimeError, match="leaked into the normal caches"):
        rehearse.check_caches_never_mix()


def test_rehearsal_reports_which_checked_outputs_differ(tmp_path):
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    def notebook(path: Path, outputs: list[str]):
        sources = ["print(1)", "print(2)", "print(3)"]
        tags = [["nbval-check-output"], [], ["nbval-check-output"]]
        cells = [
            new_code_cell(src, outputs=[new_output("stream", name="stdout", text=out)], metadata={"tags": tag})
            for src, out, tag in zip(sources, outputs, tags)
        ]
        nbformat.write(new_notebook(cells=cells), path)
        return nbformat.read(path, as_version=4)

    stored = notebook(tmp_path / "stored.ipynb", ["1\n", "2\n", "3\n"])
    same = notebook(tmp_path / "same.ipynb", ["1\n", "two\n", "3\n"])  # an unchecked cell may differ
    other = notebook(tmp_path / "other.ipynb", ["1\n", "2\n", "three\n"])
    assert rehearse.checked_cells_that_differ(stored, same) == (2, [])
    assert rehearse.checked_cells_that_differ(stored, other) == (2, [2])


def test_a_killed_rehearsal_stops_its_mirror(tmp_path):
    """SIGTERM (kill, a CI timeout) runs the same clean-up as Ctrl-C: olah is not left behind."""
    import signal
    import time

    repo = _tiny_repo()
    hub_mirror.build_repo(repo, tmp_path)
    script = (
        "import sys, time\n"
        f"sys.path.insert(0, {str(ROOT / 'tools')!r})\n"
        "import hub_mirror\n"
        f"repo = hub_mirror.Repo('models', 'course-test/tiny', lambda out: None, 'test repository')\n"
        "hub_mirror.stop_on_sigterm()\n"
        f"with hub_mirror.serve(hub_mirror.Path({str(tmp_path)!r}), python=hub_mirror.Path({str(_olah_python())!r}), repos=(repo,)) as ep:\n"
        "    print(ep, flush=True)\n"
        "    time.sleep(120)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        endpoint = proc.stdout.readline().strip()
        assert endpoint.startswith("http://127.0.0.1:"), endpoint
        port = int(endpoint.rsplit(":", 1)[1])
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
    time.sleep(0.5)
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0, "olah still listens after its rehearsal was killed"
