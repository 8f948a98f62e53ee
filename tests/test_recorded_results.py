"""The recorded benchmark results that notebook 05 quotes ship with the package (Colab has no benchmarks/ folder)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import jupytext
import pytest

from course_utils import recorded

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
SHIPPED = ROOT / "course_utils" / "recorded"


@pytest.mark.parametrize("name", recorded.NAMES)
def test_every_shipped_copy_equals_the_benchmark_file(name):
    original, copy = RESULTS / f"{name}.json", SHIPPED / f"{name}.json"
    assert original.is_file(), f"benchmarks/results/{name}.json is gone: drop {name} from recorded.NAMES"
    assert copy.read_bytes() == original.read_bytes(), (
        f"course_utils/recorded/{name}.json is stale: cp benchmarks/results/{name}.json course_utils/recorded/"
    )


def test_the_folder_holds_exactly_the_named_files():
    assert sorted(p.stem for p in SHIPPED.glob("*.json")) == sorted(recorded.NAMES)


@pytest.mark.parametrize("profile", ["quick", "full"])
def test_load_gives_what_notebook_05_reads(profile):
    record = recorded.load(f"emotion_finetune_{profile}_cpu")
    assert record["date"][:4].isdigit() and record["budget_seconds"] > 0
    assert {"cpu", "torch_threads", "torch"} <= set(record["machine"])
    assert {"course", "book"} <= set(record["recipes"])
    for data in record["recipes"].values():
        summary = data["summary"]
        for key in (
            "steps",
            "epochs_done",
            "seconds_per_step",
            "validation_accuracy",
            "validation_f1",
            "test_accuracy",
            "test_f1",
        ):
            assert {"mean", "min", "max"} <= set(summary[key]), (profile, key)


def test_load_rejects_an_unknown_name():
    with pytest.raises(ValueError, match="must be one of"):
        recorded.load("emotion_finetune_quick_gpu")
    with pytest.raises(ValueError, match="must be one of"):
        recorded.load("../results/emotion_finetune_quick_cpu")


def test_notebooks_read_recorded_results_through_the_package():
    """No notebook's code looks for benchmarks/ on disk: outside the repository it is not there."""
    for src in sorted((ROOT / "notebooks").glob("**/src/*.py")):
        notebook = jupytext.reads(src.read_text(encoding="utf-8"), fmt="py:percent")
        for cell in notebook.cells:
            if cell.cell_type == "code":
                assert not re.search(r"[\"']benchmarks[\"'/]", cell.source), f"{src.name} reads benchmarks/ from disk"
    source_05 = (ROOT / "notebooks" / "src" / "05_fine_tuning.py").read_text(encoding="utf-8")
    assert "recorded.load(" in source_05


def test_the_package_data_declares_the_files():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "recorded/*.json" in config["tool"]["setuptools"]["package-data"]["course_utils"]


def test_a_built_wheel_carries_the_files(tmp_path):
    """What pip installs from the repository (the Colab cell) holds every recorded file."""
    project = tmp_path / "project"
    project.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, project / name)
    shutil.copytree(ROOT / "course_utils", project / "course_utils", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path / "wheels"
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-q",
            "-w",
            str(out),
            str(project),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = out.glob("course_utils-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in recorded.NAMES:
        assert f"course_utils/recorded/{name}.json" in names
    assert "course_utils/recorded/__init__.py" in names
