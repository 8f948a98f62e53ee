"""The Colab rehearsal's parts (tests/colab/rehearsal.py, tools/plumbing.py), quickly (the rehearsal itself:
tests/colab, run by CI)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "tests" / "colab"))
import plumbing  # noqa: E402
import rehearsal as cr  # noqa: E402


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@localhost", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


@pytest.fixture
def checkout(tmp_path):
    """A git checkout with an edited, a deleted, an untracked, an ignored file and a venv in it."""
    repo = tmp_path / "checkout"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    (repo / ".gitignore").write_text("ignored/\n")
    (repo / "edited.txt").write_text("committed\n")
    (repo / "gone.txt").write_text("deleted later\n")
    (repo / "pkg").mkdir()
    (repo / "pkg" / "mod.py").write_text("x = 1\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "first")
    (repo / "edited.txt").write_text("edited on disk\n")
    (repo / "gone.txt").unlink()
    (repo / "new.txt").write_text("not yet added\n")
    (repo / "ignored").mkdir()
    (repo / "ignored" / "secret.txt").write_text("ignored\n")
    (repo / "venvlike" / "lib").mkdir(parents=True)
    (repo / "venvlike" / "pyvenv.cfg").write_text("home = /usr\n")
    (repo / "venvlike" / "lib" / "big.py").write_text("# a venv's file\n")
    return repo


def test_snapshot_commits_what_is_on_disk_and_leaves_the_checkout_alone(checkout, tmp_path):
    status, head = _git(checkout, "status", "--porcelain"), _git(checkout, "rev-parse", "HEAD")
    url, commit = cr.snapshot(checkout, tmp_path / "snap", "main")
    snap = tmp_path / "snap"
    assert url == f"git+file://localhost{snap}@main"
    Requirement(f"course-utils @ {url}")  # a requirement pip accepts (pip 23 rejects git+file:///)
    assert _git(snap, "rev-parse", "main").strip() == commit
    files = set(_git(snap, "ls-tree", "-r", "--name-only", "HEAD").split())
    assert files == {".gitignore", "edited.txt", "new.txt", "pkg/mod.py"}
    assert _git(snap, "show", "HEAD:edited.txt") == "edited on disk\n"
    assert _git(checkout, "status", "--porcelain") == status and _git(checkout, "rev-parse", "HEAD") == head
    assert _git(checkout, "branch", "--list") == "* main\n"


def test_snapshot_rejects_bad_arguments(checkout, tmp_path):
    with pytest.raises(ValueError, match="root must be a git checkout"):
        cr.snapshot(tmp_path, tmp_path / "a")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(ValueError, match="dest must be a new or empty folder"):
        cr.snapshot(checkout, tmp_path / "full")
    with pytest.raises(ValueError, match="branch must be a branch name"):
        cr.snapshot(checkout, tmp_path / "b", "-x")


def _dist(site: Path, name: str, version: str, requires: list[str]) -> None:
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    lines += [f"Requires-Dist: {r}" for r in requires]
    (info / "METADATA").write_text("\n".join(lines) + "\n")


def test_dependency_closure_follows_requirements_markers_and_extras(tmp_path):
    site = tmp_path / "site"
    _dist(site, "root-pkg", "1.0", ["a", "b[x]", "c; extra == 'test'", "d; python_version < '3.0'"])
    _dist(site, "a", "1.0", ["shared"])
    _dist(site, "b", "1.0", ["e; extra == 'x'", "f; extra == 'y'"])
    for name in ("c", "d", "e", "f", "shared", "unrelated"):
        _dist(site, name, "1.0", [])
    assert cr.dependency_closure([site], "Root_Pkg", "3.11") == {"root-pkg", "a", "b", "e", "shared"}
    assert cr.versions([site])["root-pkg"] == "1.0"
    with pytest.raises(ValueError, match="root 'missing' is not installed"):
        cr.dependency_closure([site], "missing", "3.11")


def test_result_sorts_changes_by_version_not_by_text():
    result = cr.Result(
        python="3.11",
        install_url="u",
        snapshot_commit="c",
        installed_commit="c",
        installed_matches_disk=[],
        before={"a": "1.9", "b": "2.0", "gone": "1.0", "same": "1.0"},
        after={"a": "1.10", "b": "1.10", "new": "0.1", "same": "1.0"},
        pip_check_before="",
        pip_check_after="",
        pip_check_after_ok=True,
        runtime_closure=[],
        cells_output="",
    )
    assert result.added == {"new": "0.1"} and result.removed == {"gone": "1.0"}
    assert result.changed == {"a": ("1.9", "1.10"), "b": ("2.0", "1.10")}
    assert result.downgraded == {"b": ("2.0", "1.10")}
    # the summary (printed by hand runs and by tests/colab's conftest from report.json) names the changes
    report = json.loads(json.dumps(cr.report(result)))
    assert report["changed"] == {"a": ["1.9", "1.10"], "b": ["2.0", "1.10"]}
    text = cr.summary(report)
    assert "changed: a 1.9 -> 1.10, b 2.0 -> 1.10\n" in text and "added:   new 0.1\n" in text
    unchanged = cr.summary(cr.report(dataclasses.replace(result, after=result.before)))
    assert "changed: nothing\n" in unchanged and "added:   nothing\n" in unchanged


def test_run_stops_the_whole_process_group_on_timeout(tmp_path):
    pidfile = tmp_path / "pid"
    t0 = time.monotonic()
    with pytest.raises(plumbing.RehearsalError, match="slow step: stopped after 1 s"):
        plumbing.run(["bash", "-c", f"sleep 60 & echo $! > {pidfile}; wait"], timeout=1, what="slow step")
    assert time.monotonic() - t0 < 30
    pid = int(pidfile.read_text())
    for _ in range(50):  # the grandchild must be gone (or a zombie about to be reaped by init)
        try:
            os.kill(pid, 0)
            state = Path(f"/proc/{pid}/stat").read_text().split()[2] if Path(f"/proc/{pid}/stat").exists() else "Z"
        except ProcessLookupError:
            break
        if state == "Z":
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"the grandchild {pid} outlived the timeout")


def test_run_reports_failures_and_rejects_bad_arguments():
    with pytest.raises(plumbing.RehearsalError, match=r"the step failed \(exit 3\)[\s\S]*boom"):
        plumbing.run(["bash", "-c", "echo boom; exit 3"], timeout=30, what="the step")
    assert plumbing.run([sys.executable, "-c", "print('hi')"], timeout=30, what="ok").strip() == "hi"
    with pytest.raises(ValueError, match="cmd must be a non-empty list"):
        plumbing.run([], timeout=5, what="x")
    with pytest.raises(ValueError, match="timeout positive"):
        plumbing.run(["true"], timeout=0, what="x")


def test_torch_comes_from_a_local_wheel_else_from_the_cpu_index(tmp_path, monkeypatch):
    monkeypatch.setattr(plumbing, "WHEEL_DIRS", (str(tmp_path),))
    assert plumbing.torch_requirement() == (f"torch=={plumbing.TORCH_VERSION}", ["--torch-backend=cpu"])
    wheel = tmp_path / f"torch-{plumbing.TORCH_VERSION}+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"
    wheel.write_bytes(b"")
    req, flags = plumbing.torch_requirement()
    assert flags == [] and Requirement(req).url == wheel.as_uri()


def test_colab_sample_covers_the_runtime_at_colab_pins():
    runtime = {canonicalize_name(r.name) for r in cr.runtime_requirements()}
    pins = {canonicalize_name(n): Version(v) for n, v in cr.COLAB_PINS.items()}
    # torch is preinstalled as the course's CPU build; evaluate is not on Colab (the cell adds it)
    assert runtime - set(pins) == {"torch", "evaluate"}
    assert "pip" in pins and "ipykernel" in pins and "pytest" in pins
    assert not (set(pins) & {"jupyterlab", "nbval", "gguf"})  # the rehearsal checks the cell adds none
    assert (
        f"a sample of {len(cr.COLAB_PINS)} packages at Colab's own versions" in (ROOT / "CONTRIBUTING.md").read_text()
    )


def test_runtime_imports_cell_imports_every_runtime_distribution():
    reqs = [Requirement(s) for s in ("scikit-learn>=1", "PyYAML", "huggingface_hub", "sentence-transformers")]
    cell = cr.runtime_imports_cell(reqs)
    for module in ("sklearn", "yaml", "huggingface_hub", "sentence_transformers"):
        assert f"import {module}\n" in cell
    compile(cell, "<cell>", "exec")
    with pytest.raises(ValueError, match="requirements must name"):
        cr.runtime_imports_cell([])


def test_setup_cell_is_notebook_00s_and_runs_setup():
    cell = cr.setup_cell()
    assert "import course_utils as cu" in cell and "cu.setup(" in cell
