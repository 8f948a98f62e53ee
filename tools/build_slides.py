"""Build reveal.js slides from every notebook into build/slides/, working offline once the assets are fetched.

    python tools/build_slides.py [notebooks/NN_topic.ipynb ...] [--out build/slides] [--check]

A copy of each notebook (the committed one is not changed) goes through nbconvert's SlidesExporter.
Slide boundaries come from the headings: a ``#`` or ``##`` markdown cell starts a new slide, any
cell that follows a code cell starts a sub-slide below it (one "explain, run, look" step per
screen), the Colab install cell is skipped. reveal.js, require.js, jQuery and MathJax are installed
once with npm into build/slides-assets/; the files listed in slides_assets.txt are copied into
build/slides/assets/, so the folder works from a USB stick in a room without Wi-Fi.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import plumbing  # tools/plumbing.py (this script's folder is on sys.path)

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
TEMPLATE = "slides_reveal.html.j2"
NPM_PACKAGES = ("reveal.js@4.6.0", "requirejs@2.3.8", "jquery@3.7.1", "mathjax@2.7.9")
CACHE = ROOT / "build" / "slides-assets"  # where npm installs them
#: What the slides load, one path a line, relative to node_modules/ (the rest of the npm packages stays behind).
ASSET_LIST = HERE / "slides_assets.txt"
HEADING = re.compile(r"^(#{1,2})\s")
# A linked remote image (the Colab badge): offline it is a broken-image icon, so keep the link as text.
REMOTE_BADGE = re.compile(r"\[!\[([^\]]*)\]\(https?://[^)]*\)\]\(([^)]*)\)")


def slide_types(cells: list[dict]) -> list[str]:
    """The reveal slide type of each cell, derived from headings (see the module docstring)."""
    types: list[str] = []
    previous = None
    first_code = next((i for i, c in enumerate(cells) if c["cell_type"] == "code"), None)
    for i, cell in enumerate(cells):
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        if i == 0 or (cell["cell_type"] == "markdown" and HEADING.match(source)):
            kind = "slide"
        elif i == first_code and "google.colab" in source:
            kind = "skip"  # the Colab install cell: nothing to show in a room
        elif previous == "code":
            kind = "subslide"  # after a code cell (and its output), the next cell gets its own screen
        else:
            kind = "-"
        types.append(kind)
        if kind != "skip":
            previous = cell["cell_type"]
    return types


def ensure_assets(cache: Path) -> Path:
    """node_modules/ with the pinned reveal.js, require.js, jQuery and MathJax (npm install once)."""
    modules = cache / "node_modules"

    def have() -> bool:
        pins = {modules / p.rsplit("@", 1)[0] / "package.json": p.rsplit("@", 1)[1] for p in NPM_PACKAGES}
        return all(pkg.exists() and json.loads(pkg.read_text())["version"] == v for pkg, v in pins.items())

    if not have():
        npm = shutil.which("npm")
        if npm is None:
            sys.exit("build_slides: npm is needed once to fetch reveal.js/MathJax (apt-get install npm)")
        cache.mkdir(parents=True, exist_ok=True)
        print(f"npm install {' '.join(NPM_PACKAGES)} -> {cache.relative_to(ROOT)}", flush=True)
        subprocess.run(
            [npm, "install", "--prefix", str(cache), "--no-audit", "--no-fund", "--no-save", "--silent", *NPM_PACKAGES],
            check=True,
        )
        if not have():
            sys.exit("build_slides: npm did not install the pinned versions")
    return modules


def copy_assets(modules: Path, target: Path) -> int:
    """Copy the files the slides load into target/ (replacing it); returns the bytes copied."""
    shutil.rmtree(target, ignore_errors=True)
    for rel in ASSET_LIST.read_text(encoding="utf-8").split():
        src, dst = modules / rel, target / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.map", "*.esm.js"))
        else:
            shutil.copy2(src, dst)
    return sum(p.stat().st_size for p in target.rglob("*") if p.is_file())


def make_exporter():
    """A SlidesExporter that loads everything from ./assets (relative to the slides) and no mermaid."""
    from nbconvert import SlidesExporter

    return SlidesExporter(
        reveal_url_prefix="assets/reveal.js",
        reveal_theme="white",  # the default theme ("simple") imports web fonts
        reveal_scroll=True,  # a long output scrolls instead of running off the slide
        reveal_number="c/t",
        reveal_width="1280",  # 16:10; a 100-character code line fits at 16 px
        reveal_height="800",
        require_js_url="assets/requirejs/require.js",
        jquery_url="assets/jquery/dist/jquery.min.js",
        mathjax_url="assets/mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe",
        extra_template_paths=[str(HERE)],
        template_file=TEMPLATE,
    )


def convert(exporter, notebook: Path, out_dir: Path) -> Path:
    """Write out_dir/<stem>.slides.html from a copy of notebook with heading-derived slide metadata."""
    import nbformat

    book = copy.deepcopy(nbformat.read(notebook, as_version=4))
    for cell, kind in zip(book.cells, slide_types(book.cells)):
        cell.metadata["slideshow"] = {"slide_type": kind}
        if cell.cell_type == "markdown":
            cell.source = REMOTE_BADGE.sub(r"[\1](\2)", cell.source)
    body, _ = exporter.from_notebook_node(book, resources={"metadata": {"name": notebook.stem}})
    for url in ("https://", "http://"):
        for hit in re.findall(rf"<(?:script|link)[^>]*(?:src|href)=\"{url}[^\"]*\"", body):
            raise SystemExit(f"build_slides: {notebook.name} still loads {hit}")
    target = out_dir / f"{notebook.stem}.slides.html"
    target.write_text(body, encoding="utf-8")
    return target


def chromium_path() -> str:
    """The Chromium that Playwright drives: ``$CHROMIUM`` (``make slides`` passes kit.mk's), else chromium on PATH."""
    path = plumbing.chromium()
    if not path:
        sys.exit(
            "build_slides: no Chromium: set CHROMIUM to its path, or run `make browser-deps` (apt-get install chromium)"
        )
    return path


def check_decks(decks: list[Path], shots: Path, chromium: str | None = None) -> list[str]:
    """Open each deck in headless Chromium: no request may leave the disk or fail, no script error.

    Saves the first two slides of each deck as PNGs in shots/ and returns the problems found.
    ``chromium`` is the browser's path (default: :func:`chromium_path`).
    """
    from playwright.sync_api import sync_playwright

    chromium = chromium or chromium_path()
    shots.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=list(plumbing.CHROMIUM_ARGS))
        for deck in decks:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.on("requestfailed", lambda r, d=deck.name: problems.append(f"{d}: failed to load {r.url}"))
            page.on(
                "request", lambda r, d=deck.name: r.url.startswith("file:") or problems.append(f"{d}: requests {r.url}")
            )
            page.on("pageerror", lambda e, d=deck.name: problems.append(f"{d}: script error {e}"))
            for n in (0, 1):
                page.goto(f"{deck.as_uri()}#/{n}")
                page.wait_for_selector(".reveal.ready", timeout=30_000)
                page.wait_for_timeout(800)  # MathJax typesets after reveal is ready
                page.screenshot(path=str(shots / f"{deck.name.split('.')[0]}-{n + 1}.png"))
            page.close()
        browser.close()
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/NN_*.ipynb")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "slides")
    parser.add_argument("--check", action="store_true", help="open every deck in headless Chromium, keep screenshots")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if not notebooks:
        sys.exit("build_slides: no notebooks/NN_*.ipynb found")
    t0 = time.perf_counter()
    modules = ensure_assets(CACHE)
    out = args.out.resolve()
    size = copy_assets(modules, out / "assets")  # which creates out/
    exporter = make_exporter()
    decks = []
    for nb in notebooks:
        t = time.perf_counter()
        decks.append(convert(exporter, nb.resolve(), out))
        shown = decks[-1].relative_to(ROOT) if decks[-1].is_relative_to(ROOT) else decks[-1]
        print(f"{shown}  {time.perf_counter() - t:5.1f} s")
    print(f"{len(notebooks)} slide decks + {size / 1e6:.1f} MB of assets in {time.perf_counter() - t0:.1f} s")
    if args.check:
        t = time.perf_counter()
        shots = out / "screenshots"
        problems = check_decks(decks, shots)
        for problem in problems:
            print(f"  PROBLEM {problem}")
        shown = shots.relative_to(ROOT) if shots.is_relative_to(ROOT) else shots
        print(
            f"checked {len(decks)} decks in Chromium in {time.perf_counter() - t:.1f} s: {len(problems)} problems; screenshots in {shown}"
        )
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
