"""The Colab install cell, rehearsed: a fake Colab runtime installs the course from a snapshot of this
checkout (rehearsal.py, beside this file, says how), then runs notebook 00's setup cell.

Run with ``.venv/bin/python -m pytest tests/colab`` (CI does, after ``make test``); about a minute
on the course's 2-core CI machine. Everything it builds is removed at the end, whatever happens.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "colab"))
import rehearsal as cr  # noqa: E402


@pytest.fixture(scope="module")
def rehearsal():
    work = Path(tempfile.mkdtemp(prefix="colab-rehearsal-"))
    try:
        yield cr.rehearse(work, log=lambda line: print(line, flush=True))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_install_cell_and_setup_cell_run_in_the_fake_colab(rehearsal):
    out = rehearsal.cells_output
    for i in range(3):
        assert f"[rehearsal] cell {i} ran" in out, out[-3000:]
    assert "| Colab" in out, "setup() did not see Colab"
    assert "Hub: offline (HF_HUB_OFFLINE=1)" in out
    assert f"transformers {rehearsal.after['transformers']}" in out, "setup() reports another transformers"
    assert "[rehearsal] runtime imports ok" in out
    installed_from = next(line for line in out.splitlines() if line.startswith("[rehearsal] course_utils from "))
    assert "/colab/lib/python" in installed_from and str(ROOT) not in installed_from


def test_it_installed_what_is_on_disk(rehearsal):
    assert rehearsal.installed_commit == rehearsal.snapshot_commit
    assert rehearsal.install_url.startswith("git+file://localhost/")
    on_disk = {p.relative_to(ROOT).as_posix() for p in (ROOT / "course_utils").rglob("*.py")}
    assert set(rehearsal.installed_matches_disk) == on_disk


def test_pip_check_is_clean_after_the_install(rehearsal):
    assert rehearsal.pip_check_after_ok, rehearsal.pip_check_after


def test_nothing_preinstalled_was_downgraded_or_removed(rehearsal):
    assert rehearsal.downgraded == {}
    assert rehearsal.removed == {}
    assert rehearsal.after["torch"] == rehearsal.before["torch"]


def test_colab_versions_that_meet_the_floors_are_kept(rehearsal):
    kept_wrongly = {}
    for req in cr.runtime_requirements():
        name = canonicalize_name(req.name)
        old = rehearsal.before.get(name)
        if old is not None and req.specifier.contains(old, prereleases=True) and rehearsal.after[name] != old:
            kept_wrongly[name] = (old, rehearsal.after[name])
    assert kept_wrongly == {}, "upgraded although Colab's version meets the floor: raise the floor (with its reason)"
    upgraded = {n for n in rehearsal.changed}
    assert "transformers" in upgraded  # Colab's 5.15.0 is below the course's floor: the test must see an upgrade


def test_only_the_runtime_is_added(rehearsal):
    added_or_changed = set(rehearsal.added) | set(rehearsal.changed)
    assert "course-utils" in rehearsal.added
    assert added_or_changed <= set(rehearsal.runtime_closure), (
        f"not needed by the runtime: {sorted(added_or_changed - set(rehearsal.runtime_closure))}"
    )
    assert not (set(rehearsal.added) & cr.NOT_FOR_COLAB), sorted(set(rehearsal.added) & cr.NOT_FOR_COLAB)
    for name in ("jupyterlab", "nbval", "gguf"):
        assert name not in rehearsal.added
    assert rehearsal.after["pytest"] == cr.COLAB_PINS["pytest"]
