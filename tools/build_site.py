"""Build the course website: both editions as a static site from the stored notebooks (never executed).

    python tools/build_site.py build [--no-solutions] [--out build/site]   # make site
    python tools/build_site.py serve [--port 8000] [--out build/site]      # make site-serve

CONTRIBUTING.md ("Course website") says what goes on the site, how ``build`` lays out each edition's
Sphinx sources in ``build/site-src/`` and rewrites their links, why these tools, the stable section
anchors, and how a fork publishes the site. Under each notebook's title the site adds one line: a
download link to the ``.ipynb`` as committed, the same chapter in the other edition, and where its
stored outputs came from (the notebook's setup report), with the commit the site was built from.
"""

from __future__ import annotations

import argparse
import ast
import functools
import json
import os
import posixpath
import re
import shutil
import subprocess
import sys
import time
import unicodedata
from html import escape
from pathlib import Path

from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parent.parent


def _repository(authoring: Path = ROOT / "tools" / "authoring.py") -> tuple[str, str]:
    """``REPO_URL`` and ``BRANCH`` as tools/authoring.py sets them, read without importing it (its imports
    need the test extra; the site's publishing workflow installs only the site extra)."""
    values = {
        target.id: node.value.value
        for node in ast.parse(authoring.read_text(encoding="utf-8")).body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    return values["REPO_URL"], values["BRANCH"]


REPO_URL, BRANCH = _repository()
SITE = ROOT / "site"
SRC = ROOT / "build" / "site-src"
OUT = ROOT / "build" / "site"
EDITIONS: dict[str, dict] = json.loads((SITE / "editions.json").read_text(encoding="utf-8"))
#: What each edition's source folder gets from site/ (copied as they are).
SITE_FILES = ("conf.py", "course_site.py", "_templates", "_static")
CHAPTER = re.compile(r"^\d\d_[a-z0-9_]+\.ipynb$")
COLAB_BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
#: What the site is built from: a change to one of these, uncommitted, is said on every chapter page.
SOURCES = ("notebooks", "README.md", "README.zh.md", "INSTRUCTOR.md", "INSTRUCTOR.zh.md", "GLOSSARY.md",
           "CONTRIBUTING.md", "course_utils/README.md", "benchmarks/README.md", "benchmarks/results", "site")  # fmt: skip
SPHINX_FLAGS = ("-b", "html", "-W", "--keep-going", "-n", "-q", "-E")
#: Inside the article bodies, what the search leaves out: heading permalinks ("#") and copy buttons.
PAGEFIND_SKIP = ".headerlink, .copybtn"
#: Unused in the built site: Sphinx's sources, search index and inventory (Pagefind searches instead); build()
#: also drops the themes' Jinja macros, which Sphinx copies into _static/ as if they were static files.
LEFTOVERS = ("_sources", ".buildinfo", "objects.inv", "searchindex.js")
SETUP_LINE = re.compile(r"device: (?P<device>\S+) \| profile: (?P<profile>\w+)")
HUB_LINE = re.compile(r"^Hub: (?P<hub>\w+)", re.M)
VERSIONS = re.compile(r"torch (?P<torch>[^,\s]+), transformers (?P<transformers>[^,\s]+)")
# Inline code (left alone) or a Markdown link/image: [label](target "title"), labels nesting two deep (badges).
INLINE = re.compile(
    r"(?P<code>`[^`\n]*`)"
    r"|(?P<bang>!?)\[(?P<label>(?:[^\[\]]|\[(?:[^\[\]]|\[[^\[\]]*\])*\])*)\]"
    r"\(\s*<?(?P<target>[^()\s<>]*)>?(?P<title>\s+\"[^\"]*\")?\s*\)"
)
FENCE = re.compile(r"^(```|~~~)")
_MD = MarkdownIt("commonmark")


def log(msg: str) -> None:
    print(f"site: {msg}", flush=True)


# ---- What goes where: repository paths -> pages of an edition


def chapters(edition: str, root: Path = ROOT) -> list[str]:
    """The chapter notebooks of an edition, as repository paths, in order."""
    folder = EDITIONS[edition]["notebooks"]
    return [f"{folder}/{p.name}" for p in sorted((root / folder).glob("*.ipynb")) if CHAPTER.match(p.name)]


def solutions(edition: str, root: Path = ROOT) -> list[str]:
    """The worked-solution notebooks of an edition, as repository paths, in order."""
    folder = f"{EDITIONS[edition]['notebooks']}/solutions"
    return [f"{folder}/{p.name}" for p in sorted((root / folder).glob("[0-9][0-9]_*.ipynb"))]


def benchmark_files(root: Path = ROOT) -> list[str]:
    return [f"benchmarks/results/{p.name}" for p in sorted((root / "benchmarks" / "results").glob("*.md"))]


def page_map(edition: str, with_solutions: bool = True, root: Path = ROOT) -> dict[str, str]:
    """Repository path (file or folder) -> the source file of the page that shows it in ``edition``."""
    ed = EDITIONS[edition]
    pages = {
        ed["readme"]: "index.md",
        ed["notebooks"]: "index.md",
        "GLOSSARY.md": "glossary.md",
        ed["instructor"]: "instructor.md",
        "CONTRIBUTING.md": "contributing.md",
        "course_utils/README.md": "helpers.md",
        "benchmarks/README.md": "benchmarks.md",
        "benchmarks/results": "benchmarks.md",
    }
    pages.update({path: "benchmarks.md" for path in benchmark_files(root)})
    pages.update({path: "notebooks/" + path.rsplit("/", 1)[1] for path in chapters(edition, root)})
    if with_solutions:
        pages[f"{ed['notebooks']}/solutions"] = "solutions.md"
        pages.update({path: "notebooks/solutions/" + path.rsplit("/", 1)[1] for path in solutions(edition, root)})
    return pages


def html_name(page: str) -> str:
    return page.rsplit(".", 1)[0] + ".html"


class Links:
    """Rewrites the links of one edition's pages: see :meth:`resolve`."""

    def __init__(self, edition: str, with_solutions: bool = True, root: Path = ROOT):
        self.root, self.other = root, EDITIONS[edition]["other"]
        self.own = page_map(edition, with_solutions, root)
        self.own.pop(EDITIONS[edition]["notebooks"])  # its own notebooks folder: the folder on GitHub, not the landing
        self.theirs = page_map(self.other, with_solutions, root)
        # Repository folders whose files are not on the site (their links become plain text).
        self.withheld = () if with_solutions else tuple(f"{ed['notebooks']}/solutions" for ed in EDITIONS.values())

    def resolve(self, target: str, doc_repo: str, doc_page: str) -> tuple[str, str | None]:
        """What a link ``target`` written in the repository file ``doc_repo`` becomes on page ``doc_page``.

        Returns ``(kind, new_target)``: ``("page", "../glossary.md")`` a page of this edition (Sphinx
        checks it), ``("other", "../../zh/index.html")`` a page of the other edition, ``("repo", URL)``
        a file outside the site, on the repository; ``("text", None)`` a withheld solution (the
        label stays, the link goes); ``("keep", target)`` a URL, an anchor, or a path that is in
        neither: kept, so that Sphinx reports it if it is broken.
        """
        path, _, fragment = target.partition("#")
        repo_path = posixpath.normpath(posixpath.join(posixpath.dirname(doc_repo), path)).rstrip("/")
        # An anchor on the same page, a URL, or a path outside the repository.
        if not path or re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or repo_path.startswith(".."):
            return "keep", target
        anchor = f"#{fragment}" if fragment else ""
        page_dir = posixpath.dirname(doc_page) or "."
        if repo_path in self.own:
            return "page", posixpath.relpath(self.own[repo_path], page_dir) + anchor
        if any(repo_path == w or repo_path.startswith(w + "/") for w in self.withheld):
            return "text", None
        if repo_path in self.theirs:
            there = f"../{self.other}/{html_name(self.theirs[repo_path])}"
            return "other", posixpath.relpath(there, page_dir) + anchor
        on_disk = self.root / repo_path
        if on_disk.exists():
            kind = "tree" if on_disk.is_dir() else "blob"
            return "repo", f"{REPO_URL}/{kind}/{BRANCH}/{repo_path}{anchor}"
        return "keep", target

    def rewrite(self, text: str, doc_repo: str, doc_page: str) -> str:
        """``text`` (Markdown) with every link and image resolved for the site (fenced code left alone)."""
        badge = posixpath.relpath("_static/colab-badge.svg", posixpath.dirname(doc_page) or ".")

        def link(m: re.Match) -> str:
            if m["code"]:
                return m["code"]
            label = INLINE.sub(link, m["label"])
            target, title = m["target"], m["title"] or ""
            if m["bang"]:  # an image: the Colab badge comes from the site, not from Colab's server
                return f"![{label}]({badge if target == COLAB_BADGE_IMAGE else target}{title})"
            kind, new = self.resolve(target, doc_repo, doc_page)
            if kind == "text":
                return label
            if kind == "other":
                return f'<a href="{escape(new)}" hreflang="{EDITIONS[self.other]["html_lang"]}">{label}</a>'
            return f"[{label}]({new}{title})"

        out, fenced = [], False
        for line in text.splitlines(keepends=True):
            fence = bool(FENCE.match(line.lstrip()))
            out.append(line if fenced or fence else INLINE.sub(link, line))
            fenced ^= fence  # a fence line opens or closes a code block
        return "".join(out)


# ---- Stable section anchors (site/course_site.py applies them)


def heading_texts(markdown: str) -> list[str]:
    """The plain text of each heading in ``markdown``, in order (code spans kept, markup dropped)."""
    tokens = _MD.parse(markdown)
    contents = [tokens[i + 1].children or [] for i, token in enumerate(tokens) if token.type == "heading_open"]
    return ["".join(c.content for c in children if c.type in ("text", "code_inline")) for children in contents]


def slug(text: str) -> str:
    """An ASCII anchor from an English heading, section numbers dropped: '7.2 Gradient accumulation' -> 'gradient-accumulation'."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"^[-0-9]+|-+$", "", re.sub(r"[^a-z0-9]+", "-", ascii_text))


def _source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def anchors(english: dict, edition_nb: dict) -> list[str]:
    """Section ids of ``edition_nb``'s headings, in order, taken from the English notebook's same cells.

    A heading gets the slug of the English heading at the same place in the cell with the same id;
    a cell that has no English twin with as many headings gets ids from its cell id and position
    (``s-<cell id>-<n>``): neither kind changes when the text around it is reworded.
    """
    english_cells = {c.get("id"): heading_texts(_source(c)) for c in english["cells"] if c["cell_type"] == "markdown"}
    ids: list[str] = []
    for cell in (c for c in edition_nb["cells"] if c["cell_type"] == "markdown"):
        own = heading_texts(_source(cell))
        twin = english_cells.get(cell.get("id"))
        for n, _text in enumerate(own):
            base = slug(twin[n]) if twin is not None and len(twin) == len(own) else ""
            base = base or f"s-{cell.get('id', 'cell')}-{n + 1}"
            candidate, k = base, 1
            while candidate in ids:
                candidate, k = f"{base}-{k}", k + 1
            ids.append(candidate)
    return ids


# ---- One edition's source folder


def git_commit(root: Path = ROOT) -> str:
    """The short commit the site is built from, said plainly when the sources have uncommitted changes."""
    git = functools.partial(subprocess.run, cwd=root, capture_output=True, text=True, check=True)
    try:
        commit = git(["git", "rev-parse", "--short", "HEAD"]).stdout.strip()
        dirty = git(["git", "status", "--porcelain", "--", *SOURCES]).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit}+" if dirty else commit


def shown_commit(commit: str, strings: dict) -> str:
    """``commit`` as the site says it: a trailing ``+`` (uncommitted changes) in the edition's words."""
    return strings["dirty"].format(commit=commit[:-1]) if commit.endswith("+") else commit


def provenance(nb: dict, strings: dict, commit: str) -> str:
    """The sentence that says where the stored outputs of ``nb`` came from (its setup report) and the commit."""
    shown = shown_commit(commit, strings)
    texts = ("".join(o.get("text", "")) for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", []))
    report = next((text for text in texts if SETUP_LINE.search(text)), "")
    setup = SETUP_LINE.search(report)
    if not setup:
        return strings["provenance_missing"].format(commit=shown)
    device = setup["device"].upper() if setup["device"] == "cpu" else setup["device"]
    parts = [strings["device"].format(device=device), strings["profile"].format(profile=setup["profile"])]
    hub = HUB_LINE.search(report)
    if hub:
        parts.insert(0, strings["offline" if hub["hub"] == "offline" else "online"])
    versions = VERSIONS.search(report)
    if versions:
        parts.append(strings["versions"].format(**versions.groupdict()))
    sep = "；" if any("\u4e00" <= ch <= "\u9fff" for ch in strings["offline"]) else "; "
    return strings["provenance"].format(how=sep.join(parts), commit=shown)


def title_of(nb: dict) -> str:
    """The text of the notebook's first heading ("" if it has none)."""
    headings = (heading_texts(_source(c)) for c in nb["cells"] if c["cell_type"] == "markdown")
    return next((texts[0] for texts in headings if texts), "")


def info_cell(edition: str, page: str, nb: dict, twin_title: str, commit: str) -> dict:
    """The line the site adds under a notebook's title: download, the other edition, where the outputs came from."""
    strings = EDITIONS[edition]["strings"]
    name = page.rsplit("/", 1)[1]
    other = EDITIONS[edition]["other"]
    there = posixpath.relpath(f"../{other}/{html_name(page)}", posixpath.dirname(page))
    download = f'<a href="{escape(name)}" download>{escape(name)}</a>'
    switch = f'<a href="{escape(there)}" hreflang="{EDITIONS[other]["html_lang"]}" data-course-switch>{escape(twin_title)}</a>'
    links = strings["download"].format(link=download) + " · " + strings["other_edition"].format(link=switch)
    origin = escape(provenance(nb, strings, commit))
    html = f'<div class="course-chapter-info" data-pagefind-ignore>\n<p>{links}</p>\n<p>{origin}</p>\n</div>'
    return {"cell_type": "markdown", "id": "course-site-info", "metadata": {}, "source": html}


def toctree(caption: str | None, entries: list[str], hidden: bool = True) -> str:
    options = (":hidden:\n" if hidden else "") + (f":caption: {caption}\n" if caption else "") + ":maxdepth: 1\n"
    return "```{toctree}\n" + options + "\n" + "\n".join(entries) + "\n```\n"


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def prepare(edition: str, dest: Path, with_solutions: bool, commit: str, root: Path = ROOT) -> dict:
    """Write ``edition``'s Sphinx source folder into ``dest``; returns what it holds (for BUILD.json)."""
    ed, strings = EDITIONS[edition], EDITIONS[edition]["strings"]
    links = Links(edition, with_solutions, root)
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    for name in SITE_FILES:
        (shutil.copytree if (SITE / name).is_dir() else shutil.copy2)(SITE / name, dest / name)

    def rewritten(repo_path: str, name: str) -> str:
        return links.rewrite((root / repo_path).read_text(encoding="utf-8"), repo_path, name)

    notebooks = {"chapters": chapters(edition, root), "solutions": solutions(edition, root) if with_solutions else []}
    entries = [links.own[p][: -len(".ipynb")] for p in notebooks["chapters"]]
    reference = ["glossary", "helpers", "instructor", "benchmarks", "contributing"]
    if with_solutions:
        reference.insert(0, "solutions")
    tocs = toctree(strings["caption_chapters"], entries) + toctree(strings["caption_reference"], reference)
    _write(dest / "index.md", rewritten(ed["readme"], "index.md") + "\n\n" + tocs)
    # One page per document, named as page_map names it; the helper index is English in both editions, as the code is.
    for repo_path in ("GLOSSARY.md", ed["instructor"], "CONTRIBUTING.md", "course_utils/README.md"):
        _write(dest / links.own[repo_path], rewritten(repo_path, links.own[repo_path]))
    figures = [
        (SITE / edition / "benchmarks.md").read_text(encoding="utf-8"),
        rewritten("benchmarks/README.md", "benchmarks.md").split("\n", 1)[1],  # its sections under the page's title
        *(f"## `{path.rsplit('/', 1)[1]}`\n\n" + rewritten(path, "benchmarks.md") for path in benchmark_files(root)),
    ]
    _write(dest / "benchmarks.md", "\n".join(figures))
    if with_solutions:
        intro = (SITE / edition / "solutions.md").read_text(encoding="utf-8")
        names = [links.own[p][: -len(".ipynb")] for p in notebooks["solutions"]]
        _write(dest / "solutions.md", intro + "\n" + toctree(None, names, hidden=False))

    planned: dict[str, list[str]] = {}
    for repo_path in notebooks["chapters"] + notebooks["solutions"]:
        site_page = links.own[repo_path]
        nb = json.loads((root / repo_path).read_text(encoding="utf-8"))
        # The same notebook in the other edition; the English one gives the section anchors.
        twin_path = root / (EDITIONS[ed["other"]]["notebooks"] + repo_path[len(ed["notebooks"]) :])
        english = nb if edition == "en" else json.loads(twin_path.read_text(encoding="utf-8"))
        twin = json.loads(twin_path.read_text(encoding="utf-8")) if twin_path.exists() else english
        for cell in nb["cells"]:
            if cell["cell_type"] == "markdown":
                cell["source"] = links.rewrite(_source(cell), repo_path, site_page)
        nb["cells"].insert(1, info_cell(edition, site_page, nb, title_of(twin), commit))
        planned[site_page[: -len(".ipynb")]] = anchors(english, nb)
        _write(dest / site_page, json.dumps(nb, ensure_ascii=False, indent=1))
        (dest / "_extra" / site_page).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / repo_path, dest / "_extra" / site_page)  # the download: the notebook as committed

    footer = strings["footer"].format(
        commit=escape(shown_commit(commit, strings)), repo=escape(f"{REPO_URL}/tree/{BRANCH}")
    )
    config = {
        "edition": edition,
        **{key: ed[key] for key in ("title", "sphinx_language", "html_lang", "other", "other_lang", "strings")},
        "author": "the course's authors",
        "copyright": "",
        "commit": commit,
        "repo_url": REPO_URL,
        "footer": footer,
        "anchors": planned,
    }
    _write(dest / "_site.json", json.dumps(config, ensure_ascii=False, indent=1))
    return notebooks


# ---- Build and serve


def sphinx(src: Path, work: Path) -> subprocess.Popen:
    """Start Sphinx on the edition in ``src``, into ``work``/html (``-W -n``: a warning, a broken link among them, fails it).

    myst-nb writes the notebooks' images to ``jupyter_execute/`` beside the output folder, so each
    edition builds in its own ``work`` folder and its html/ moves into the site when it is done.
    """
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    cmd = [sys.executable, "-m", "sphinx", *SPHINX_FLAGS, "-d", str(work / "doctrees"), str(src), str(work / "html")]
    return subprocess.Popen(cmd, stdout=(work / "sphinx.log").open("w"), stderr=subprocess.STDOUT)


def build(out: Path = OUT, src: Path = SRC, with_solutions: bool = True, root: Path = ROOT) -> dict:
    start = time.monotonic()
    commit = git_commit(root)
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    contents = {ed: prepare(ed, src / ed, with_solutions, commit, root) for ed in EDITIONS}
    log(f"sources for {', '.join(EDITIONS)} in {src.relative_to(root) if src.is_relative_to(root) else src} "
        f"({time.monotonic() - start:.1f} s); Sphinx builds both editions")  # fmt: skip
    # The two editions build side by side (one Sphinx process each: about 6 s apiece on 2 cores).
    runs = {ed: sphinx(src / ed, src / f"_work-{ed}") for ed in EDITIONS}
    if failed := [ed for ed, proc in runs.items() if proc.wait() != 0]:
        for ed in failed:
            print((src / f"_work-{ed}" / "sphinx.log").read_text(encoding="utf-8"), file=sys.stderr)
        raise SystemExit(f"site: Sphinx failed for {', '.join(failed)} (warnings are errors: see above)")
    out.mkdir(parents=True)
    for ed in EDITIONS:
        (src / f"_work-{ed}" / "html").rename(out / ed)
        for path in [*(out / ed / name for name in LEFTOVERS), *(out / ed / "_static").glob("*macros.html")]:
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    root_page = (SITE / "index.html").read_text(encoding="utf-8")
    build_line = f"Built from commit {escape(shown_commit(commit, EDITIONS['en']['strings']))}."
    _write(out / "index.html", root_page.replace("COURSE_BUILD_LINE", build_line))
    (out / ".nojekyll").write_text("")  # GitHub Pages: serve _static/ and _images/ as they are
    log(f"Sphinx done ({time.monotonic() - start:.1f} s); Pagefind indexes the article bodies")
    index = subprocess.run([sys.executable, "-m", "pagefind", "--site", str(out), "--exclude-selectors", PAGEFIND_SKIP],
                           capture_output=True, text=True)  # fmt: skip
    if index.returncode != 0:
        raise SystemExit(f"site: Pagefind failed:\n{index.stdout}\n{index.stderr}")
    pages = re.search(r"Indexed (\d+) pages?", index.stdout)
    summary = {
        "commit": commit,
        "solutions": with_solutions,
        "editions": contents,
        "indexed_pages": int(pages[1]) if pages else None,
        "seconds": round(time.monotonic() - start, 1),
    }
    (out / "BUILD.json").write_text(json.dumps(summary, indent=1) + "\n")
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 1e6
    log(f"{out.relative_to(root) if out.is_relative_to(root) else out}: {size:.0f} MB, "
        f"{summary['indexed_pages']} pages indexed, {summary['seconds']} s")  # fmt: skip
    return summary


def serve(out: Path = OUT, port: int = 8000) -> None:
    """Serve the built site on 127.0.0.1: this process becomes the standard library's ``http.server`` (Ctrl+C stops)."""
    if not (out / "index.html").is_file():
        raise SystemExit(f"site: nothing in {out}: run `make site` first")
    print(f"site: http://127.0.0.1:{port}/ (Ctrl+C stops; search needs http, not file://)", flush=True)
    os.execv(sys.executable, [sys.executable, "-m", "http.server", "-b", "127.0.0.1", "-d", str(out), str(port)])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build build/site/ from the stored notebooks")
    b.add_argument("--out", type=Path, default=OUT)
    b.add_argument("--no-solutions", dest="solutions", action="store_false",
                   help="leave the worked solutions out (as the workshop bundle's BUNDLE_SOLUTIONS=no)")  # fmt: skip
    s = sub.add_parser("serve", help="serve the built site on 127.0.0.1")
    s.add_argument("--out", type=Path, default=OUT)
    s.add_argument("--port", type=int, default=int(os.environ.get("SITE_PORT", "8000")))
    args = parser.parse_args(argv)
    if args.command == "build":
        build(args.out.resolve(), with_solutions=args.solutions)
    else:
        serve(args.out.resolve(), args.port)


if __name__ == "__main__":
    main()
