"""The workshop kit's tools: slide boundaries from headings, offline decks, one Chromium, the make targets."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import build_slides  # noqa: E402


def _cells(*specs: tuple[str, str]) -> list[dict]:
    return [{"cell_type": kind, "source": source, "metadata": {}} for kind, source in specs]


def test_slide_types_follow_headings_and_code():
    cells = _cells(
        ("markdown", "# 00 · Title"),
        ("code", "# Colab only\nif 'google.colab' in sys.modules: pass"),
        ("markdown", "## Setup"),
        ("code", "env = cu.setup()"),
        ("markdown", "The report..."),
        ("code", "print(1)"),
        ("markdown", "### 1.1 A sub-heading stays on its slide"),
        ("markdown", "## 2 · Next section"),
    )
    assert build_slides.slide_types(cells) == ["slide", "skip", "slide", "-", "subslide", "-", "subslide", "slide"]


def test_a_deck_builds_offline_without_remote_scripts(tmp_path):
    notebook = ROOT / "notebooks" / "00_environment_and_tensors.ipynb"
    deck = build_slides.convert(build_slides.make_exporter(), notebook, tmp_path)
    html = deck.read_text(encoding="utf-8")
    assert deck.name == "00_environment_and_tensors.slides.html"
    for asset in (
        "assets/reveal.js/dist/reveal",
        "assets/reveal.js/dist/theme/white.css",
        "assets/requirejs/require.js",
        "assets/mathjax/MathJax.js",
    ):
        assert asset in html, asset
    assert "mermaid" not in html.lower()  # the template drops nbconvert's CDN import
    assert "https://colab.research.google.com/assets/colab-badge.svg" not in html  # badge kept as a text link
    book = nbformat.read(notebook, as_version=4)
    headings = sum(c.cell_type == "markdown" and c.source.startswith(("# ", "## ")) for c in book.cells)
    assert html.count("<section") >= headings


def test_chromium_comes_from_the_environment_else_the_path(monkeypatch, tmp_path):
    monkeypatch.setenv("CHROMIUM", "/opt/chromium/chrome")
    assert build_slides.chromium_path() == "/opt/chromium/chrome"
    monkeypatch.delenv("CHROMIUM")
    browser = tmp_path / "chromium"
    browser.write_text("#!/bin/sh\n")
    browser.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert build_slides.chromium_path() == str(browser)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(SystemExit, match="set CHROMIUM"):
        build_slides.chromium_path()


def test_both_browser_targets_take_chromium_from_one_make_variable():
    proc = subprocess.run(
        ["make", "-n", "browser-test", "slides", "CHROMIUM=/opt/chromium/chrome"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    runs = [line for line in proc.stdout.splitlines() if "pytest tests/browser" in line or "build_slides.py" in line]
    assert len(runs) == 2 and all(line.startswith("CHROMIUM=/opt/chromium/chrome ") for line in runs), runs
    for path in ("tools/build_slides.py", "tests/browser/test_jupyterlab.py"):
        assert "/usr/bin/chromium" not in (ROOT / path).read_text(), (
            f"{path}: the path belongs in kit.mk's CHROMIUM only"
        )


@pytest.mark.parametrize(
    ("target", "runs"),
    [
        ("browser-test", "pytest tests/browser"),
        ("slides", "tools/build_slides.py"),
        ("latest-check", "tools/latest_check.py"),
    ],
)
def test_kit_targets_are_reachable_from_the_makefile(target, runs):
    # -n prints the recipes without running them (a recipe naming $(MAKE) would run even under -n).
    proc = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert runs in proc.stdout
