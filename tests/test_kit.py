"""The workshop kit's tools: slide boundaries from headings, offline decks, the latest-releases script."""

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
    for asset in ("assets/reveal.js/dist/reveal", "assets/reveal.js/dist/theme/white.css",
                  "assets/requirejs/require.js", "assets/mathjax/MathJax.js"):
        assert asset in html, asset
    assert "mermaid" not in html.lower()  # the template drops nbconvert's CDN import
    assert "https://colab.research.google.com/assets/colab-badge.svg" not in html  # badge kept as a text link
    book = nbformat.read(notebook, as_version=4)
    headings = sum(c.cell_type == "markdown" and c.source.startswith(("# ", "## ")) for c in book.cells)
    assert html.count('<section') >= headings


def test_latest_check_rejects_unknown_arguments():
    proc = subprocess.run(["bash", str(ROOT / "tools" / "latest_check.sh"), "--bogus"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "unknown argument '--bogus'" in proc.stderr and "--pre" in proc.stderr


@pytest.mark.parametrize(
    ("target", "runs"),
    [("browser-test", "pytest tests/browser"), ("slides", "tools/build_slides.py"), ("latest-check", "tools/latest_check.sh")],
)
def test_kit_targets_are_reachable_from_the_makefile(target, runs):
    # -n prints the recipes without running them (a recipe naming $(MAKE) would run even under -n).
    proc = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert runs in proc.stdout
