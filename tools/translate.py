"""The Chinese edition (中文版), generated from the English notebooks and one translation file each.

    python tools/translate.py status [FILE ...]     # what is stale, missing or untranslated (exit 1 if any)
    python tools/translate.py build [--check]       # write notebooks/zh/, README.zh.md, INSTRUCTOR.zh.md
    python tools/translate.py template FILE ...     # add the units FILE lacks (English text, to translate)
    python tools/translate.py stamp FILE KEY ...    # after updating a unit's text: record the English it translates

What is translated lives in ``translations/zh/``, one Markdown file of *units* (a markdown cell, a
code cell's comments, a paragraph or table of a document) per English document; each unit records the
fingerprint of the English it translates, so a stale or missing unit fails ``status``, ``build`` and
``tests/test_translations.py`` by key. The Chinese notebooks are built, never executed.
translations/README.md describes the file format and the steps after an English change.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import io
import os
import re
import subprocess
import sys
import tempfile
import tokenize
from pathlib import Path
from typing import NamedTuple

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import authoring  # noqa: E402
import timings  # noqa: E402

LANG = "zh"
TRANSLATIONS = ROOT / "translations" / LANG
NOTEBOOKS = ROOT / "notebooks"
ZH_NOTEBOOKS = NOTEBOOKS / LANG
MARKER = re.compile(r"^<!-- (?P<key>[\w.-]+) (?P<kind>markdown|comments|block) (?P<sha>[0-9a-f]{12}) -->$", re.M)
FILE_HEADER = (
    "<!-- Chinese translation of {english}: edit the text under each marker, keep the markers. "
    "`python tools/translate.py status` says what is stale; tools/translate.py explains the format. -->\n"
)
#: Comments that are instructions to tools, not to the reader: never translated.
DIRECTIVE = re.compile(r"^#\s*(NBVAL_\w+|noqa\b|type:|pragma\b|fmt:|%%|!)")
CJK = re.compile(r"[\u4e00-\u9fff]")
PROSE = re.compile(r"[A-Za-z]{2,} [A-Za-z]{2,}")
PLACEHOLDER = re.compile(r"\{run_time(?::(\d\d|all)(/solutions)?)?\}")
LINK = re.compile(r"(\]\()([^)\s]+)(\))")
CODE_SPAN = re.compile(r"(```.*?```|`[^`]*`)", re.S)
#: README's sections (all of it is for learners: figures, tests and the kit live in other documents).
README_SECTIONS = ("", "Start", "The notebooks", "Profiles", "Online and offline", "Colab")
README_TAIL = (
    "面向维护者的内容（测试、排练、添加笔记本、目录结构）见 [CONTRIBUTING.md](CONTRIBUTING.md)；"
    "实测数据见 [benchmarks/README.md](benchmarks/README.md)；工作坊工具包见 [INSTRUCTOR.zh.md](INSTRUCTOR.zh.md)。"
)
GENERATED = "<!-- 由 tools/translate.py 从 {source} 生成，请勿直接编辑：修改 {translation}。 -->\n\n"


class Unit(NamedTuple):
    """An English unit (``key``: cell id or block number) or its translation: ``sha`` is the English text's fingerprint."""

    key: str
    kind: str
    sha: str
    text: str


def english_unit(key: str, kind: str, text: str) -> Unit:
    """English ``text`` as a unit; its fingerprint is the first 12 hex digits of the sha256 of the stripped text."""
    return Unit(key, kind, hashlib.sha256(text.strip().encode("utf-8")).hexdigest()[:12], text)


class Problem(NamedTuple):
    """What keeps a unit from being current: ``what`` is stale, missing, untranslated, obsolete or invalid."""

    file: Path
    key: str
    what: str
    detail: str

    def __str__(self) -> str:
        return f"{_rel(self.file)}: {self.key} {self.what}: {self.detail}"


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)


# ----------------------------------------------------------------------------------- comments


def comments(source: str, prose_only: bool = True) -> list[tuple[int, int, str]]:
    """The translatable comments of code ``source``: ``(line, column, text)``, directives left out.

    With ``prose_only`` (the default) only those with a Latin letter (the English side of a unit).
    IPython magics and shell escapes (``%timeit``, ``!pip``) are not Python: they are blanked first.
    """
    masked = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()) + "\n"
    tokens = tokenize.generate_tokens(io.StringIO(masked).readline)
    found = [t for t in tokens if t.type == tokenize.COMMENT and not DIRECTIVE.match(t.string)]
    return [(t.start[0] - 1, t.start[1], t.string) for t in found if not prose_only or re.search("[A-Za-z]", t.string)]


def strip_comments(source: str) -> str:
    """``source`` without its translatable comments and trailing blanks: what both editions share."""
    lines = source.splitlines()
    for row, col, _ in comments(source, prose_only=False):
        lines[row] = lines[row][:col]
    return "\n".join(line.rstrip() for line in lines)


def fence_comments(block: str) -> list[tuple[int, int, str]]:
    """The prose comments of a Markdown document's fenced ``block`` (shell, PowerShell or Python): ``(line, column, text)``.

    A comment starts with ``#`` at the start of a line or after a blank, outside quotes, and has a
    Latin letter (the English side of a unit); the fence lines themselves are never comments.
    """
    out = []
    for row, line in enumerate(block.splitlines()[1:-1], start=1):
        quote = None
        for col, ch in enumerate(line):
            if quote:
                quote = None if ch == quote else quote
            elif ch in "'\"":
                quote = ch
            elif ch == "#" and (col == 0 or line[col - 1] in " \t"):
                if re.search("[A-Za-z]", line[col:]):
                    out.append((row, col, line[col:]))
                break
    return out


def with_comments(source: str, translated: list[str], fenced: bool = False) -> str:
    """Code ``source`` (a document's fenced block if ``fenced``) with its comments replaced, in order, by ``translated``."""
    found = fence_comments(source) if fenced else comments(source)
    if len(found) != len(translated):
        what = "block" if fenced else "cell"
        raise ValueError(f"the {what} has {len(found)} comments, the translation {len(translated)}")
    lines = source.splitlines()
    for (row, col, _), text in zip(found, translated):
        lines[row] = lines[row][:col] + text
    return "\n".join(lines)


def _comments_unit(key: str, found: list[tuple[int, int, str]]) -> Unit:
    return english_unit(key, "comments", "\n".join(text for _, _, text in found))


# ---------------------------------------------------------------------------------- documents


def _neutral_doc(text: str) -> str:
    """``text`` with its run times replaced by placeholders (see the module's docstring)."""
    text = timings.README_ROW.sub(r"\1{run_time:\2}\4", text)
    text = timings.INSTRUCTOR_ROW.sub(r"\1{run_time:\2}\4{run_time:\2/solutions}\6", text)
    return timings.INSTRUCTOR_ALL.sub(r"\1{run_time:all}\3{run_time:all/solutions}\5", text)


def blocks(text: str) -> list[str]:
    """Markdown ``text`` as blocks: runs of non-blank lines, and fenced code (blank lines and all)."""
    out: list[list[str]] = [[]]
    fence = False
    for line in text.splitlines():
        if not fence and (line.startswith("```") or not line.strip()):
            out.append([])  # an opening fence or a blank line ends the block before it
        if fence or line.strip():
            out[-1].append(line)
        if line.startswith("```"):
            fence = not fence
            if not fence:
                out.append([])
    return ["\n".join(block) for block in out if block]


class Document(NamedTuple):
    """An English document, its translation file and the Chinese edition built from them."""

    english: Path
    translation: Path
    chinese: Path
    #: The English document's path in the repository (its Colab badge names it); default: from ``english``.
    repo_path: str = ""

    @property
    def is_notebook(self) -> bool:
        return self.english.suffix == ".ipynb"

    def english_text(self) -> str:
        """The English text; README's only its sections in :data:`README_SECTIONS` (the part before the first is "")."""
        text = self.english.read_text(encoding="utf-8")
        if self.english.name != "README.md":
            return text
        keep = []
        for part in re.split(r"^(?=## )", text, flags=re.M):
            heading = part.splitlines()[0][3:].strip() if part.startswith("## ") else ""
            if heading in README_SECTIONS:
                keep.append(part.strip("\n"))
        return "\n\n".join(keep)

    def units(self) -> list[Unit]:
        """The English units, in order."""
        out = []
        if not self.is_notebook:
            for i, block in enumerate(blocks(_neutral_doc(self.english_text()))):
                if not block.startswith("```"):
                    out.append(english_unit(f"b{i:03d}", "block", block))
                elif found := fence_comments(block):
                    out.append(_comments_unit(f"b{i:03d}", found))
            return out
        badge = "\n\n" + authoring.colab_badge(self.repo_path or _rel(self.english))
        for i, cell in enumerate(nbformat.read(self.english, as_version=4).cells):
            if cell.cell_type == "markdown":
                text = cell.source.removesuffix(badge) if i == 0 else cell.source
                out.append(english_unit(cell.id, "markdown", timings.HEADER.sub(r"\1{run_time}\2", text)))
            elif cell.cell_type == "code" and not cell.source.startswith(authoring.COLAB_MARKER):
                if found := comments(cell.source):
                    out.append(_comments_unit(cell.id, found))
        return out


def documents() -> list[Document]:
    """Every document of the Chinese edition: chapters, solutions, README's course part, INSTRUCTOR.md."""
    docs = []
    for folder in (NOTEBOOKS, NOTEBOOKS / "solutions"):
        for nb in sorted(folder.glob("[0-9][0-9]_*.ipynb")):
            rel = nb.relative_to(NOTEBOOKS)
            docs.append(Document(nb, TRANSLATIONS / "notebooks" / rel.with_suffix(".md"), ZH_NOTEBOOKS / rel))
    for name in ("README", "INSTRUCTOR"):
        docs.append(Document(ROOT / f"{name}.md", TRANSLATIONS / f"{name}.md", ROOT / f"{name}.{LANG}.md"))
    return docs


def document_for(path: Path) -> Document:
    """The document whose English file, translation file or Chinese edition is ``path``."""
    path = Path(path).resolve()
    for doc in documents():
        if path in (doc.english, doc.translation, doc.chinese):
            return doc
    raise ValueError(f"path must be an English document, its translation or its Chinese edition, got {path}")


# ---------------------------------------------------------------------------- translation files


def read_entries(path: Path) -> list[Unit]:
    """The units of translation file ``path`` (an empty list if it does not exist)."""
    if not path.is_file():
        return []
    text = path.read_text(encoding="utf-8")
    marks = list(MARKER.finditer(text))
    ends = [m.start() for m in marks[1:]] + [len(text)]
    return [
        Unit(m["key"], m["kind"], m["sha"], text[m.end() : end].strip("\n").rstrip()) for m, end in zip(marks, ends)
    ]


def write_entries(doc: Document, entries: list[Unit]) -> None:
    """Write ``entries`` as ``doc``'s translation file."""
    doc.translation.parent.mkdir(parents=True, exist_ok=True)
    parts = [FILE_HEADER.format(english=doc.repo_path or _rel(doc.english))]
    parts += [f"<!-- {e.key} {e.kind} {e.sha} -->\n{e.text}\n" for e in entries]
    doc.translation.write_text("\n".join(parts), encoding="utf-8")


def match(doc: Document) -> tuple[list[tuple[Unit, Unit | None]], list[Unit]]:
    """Pair each English unit with its entry, and return the entries left over.

    An entry goes first to the unit with its fingerprint (a moved cell keeps its translation); the
    units left then take the entry with their key (that English changed: the entry is stale).
    """
    units = doc.units()
    left = read_entries(doc.translation)
    found: list[Unit | None] = []
    for unit in units:
        found.append(next((e for e in left if (e.kind, e.sha) == (unit.kind, unit.sha)), None))
        if found[-1] is not None:
            left.remove(found[-1])
    by_key = {(e.kind, e.key): e for e in left}
    for i, unit in enumerate(units):
        entry = by_key.get((unit.kind, unit.key))
        if found[i] is None and entry in left:
            found[i] = entry
            left.remove(entry)
    return list(zip(units, found)), left


def _placeholders(text: str) -> list[str]:
    return sorted(m[0] for m in PLACEHOLDER.finditer(text))


def problems(doc: Document) -> list[Problem]:
    """Everything that keeps ``doc``'s translation from being complete and current."""
    pairs, leftover = match(doc)
    out = []
    missing = f"run `python tools/translate.py template {_rel(doc.translation)}`"
    for unit, entry in pairs:
        if entry is None:
            out.append(Problem(doc.translation, unit.key, "missing", missing))
            continue
        if entry.sha != unit.sha:
            out.append(Problem(doc.translation, unit.key, "stale", "the English changed since it was translated"))
        lines = entry.text.splitlines()
        n = unit.text.count("\n") + 1
        if unit.kind == "comments" and (len(lines) != n or not all(line.startswith("#") for line in lines)):
            out.append(Problem(doc.translation, unit.key, "invalid", f"needs {n} comment lines starting with '#'"))
        elif PROSE.search(unit.text) and not CJK.search(entry.text):
            where = "its comments" if unit.kind == "comments" else "it"
            out.append(Problem(doc.translation, unit.key, "untranslated", f"no Chinese in {where}"))
        if _placeholders(entry.text) != _placeholders(unit.text):
            expected = f"run-time placeholders {_placeholders(unit.text)} expected"
            out.append(Problem(doc.translation, unit.key, "invalid", expected))
    obsolete = "no English unit has its key or fingerprint"
    return out + [Problem(doc.translation, e.key, "obsolete", obsolete) for e in leftover]


# ------------------------------------------------------------------------------------- building


_SOFT_END = re.compile(r"[\u4e00-\u9fff，。：；、？！）」”]$")
_SOFT_START = re.compile(r"^[ \t]*[\u4e00-\u9fff（「“]")
#: Lines that are never joined to the next: headings, table rows, fences, HTML.
_STANDALONE = re.compile(r"^ {0,3}(#{1,6}(\s|$)|\||```|~~~|<)")


def join_lines(text: str) -> str:
    """Join lines that break between two Chinese characters: Markdown would show the break as a space.

    Only the lines of one paragraph (or of one list item) are joined: a heading, a table row, HTML
    and fenced code are never joined to what follows (and the next line of a list, table or
    heading starts with a marker, ``-``, ``|``, ``#``, a digit, never with a Chinese character).
    """
    out: list[str] = []
    fence = False
    joinable = False  # may the next line be appended to out[-1]?
    for line in text.split("\n"):
        if line.lstrip().startswith(("```", "~~~")):
            fence = not fence
            out.append(line)
            joinable = False
            continue
        if not fence and joinable and _SOFT_START.match(line):
            out[-1] += line.lstrip(" \t")
        else:
            out.append(line)
        joinable = not fence and bool(_SOFT_END.search(out[-1])) and not _STANDALONE.match(out[-1])
    return "\n".join(out)


def _fill_run_times(text: str, number: str | None) -> str:
    table = timings.load()

    def value(m: re.Match) -> str:
        which, solutions = m[1] or number, bool(m[2])
        if which is None:
            raise ValueError("{run_time} outside a chapter")
        if which == "all":
            return timings.total(table, solutions)
        return timings.fmt(timings.seconds_of(table, which, solutions=solutions))

    return PLACEHOLDER.sub(value, text)


def relink(text: str, english: Path, chinese: Path) -> str:
    """Re-point ``text``'s relative links from ``english``'s folder to ``chinese``'s, to Chinese editions where they exist."""
    zh = {doc.english: doc.chinese for doc in documents()}
    zh |= {NOTEBOOKS: ZH_NOTEBOOKS, NOTEBOOKS / "solutions": ZH_NOTEBOOKS / "solutions"}

    def sub(m: re.Match) -> str:
        target = m[2]
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            return m[0]
        path, _, anchor = target.partition("#")
        resolved = Path(os.path.normpath(english.parent / path))
        new = zh.get(resolved, resolved)
        if new == chinese:  # a link to the English original from its own translation stays English
            new = resolved
        rel = os.path.relpath(new, chinese.parent).replace(os.sep, "/")
        if path.endswith("/"):
            rel += "/"
        return m[1] + rel + (f"#{anchor}" if anchor else "") + m[3]

    parts = CODE_SPAN.split(text)  # code spans and fenced blocks (odd indices) are left as they are
    return "".join(part if i % 2 else LINK.sub(sub, part) for i, part in enumerate(parts))


def render(doc: Document) -> str:
    """The Chinese edition of ``doc`` as file text; raises ValueError if its translation has problems."""
    found = problems(doc)
    if found:
        raise ValueError("\n".join(map(str, found)))
    zh = {unit.key: entry.text for unit, entry in match(doc)[0] if entry is not None}
    if not doc.is_notebook:
        out = []
        for i, block in enumerate(blocks(_neutral_doc(doc.english_text()))):
            key = f"b{i:03d}"
            if block.startswith("```"):
                text = with_comments(block, zh[key].splitlines(), fenced=True) if key in zh else block
            else:
                text = join_lines(zh[key])
            out.append(relink(_fill_run_times(text, None), doc.english, doc.chinese))
        if doc.english.name == "README.md":
            out.append(README_TAIL)
        return GENERATED.format(source=_rel(doc.english), translation=_rel(doc.translation)) + "\n\n".join(out) + "\n"
    nb = nbformat.read(doc.english, as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            text = _fill_run_times(join_lines(zh[cell.id]), doc.english.name[:2])
            cell.source = relink(text, doc.english, doc.chinese)
            if i == 0:
                cell.source += "\n\n" + authoring.colab_badge(_rel(doc.chinese))
        elif cell.id in zh:
            cell.source = with_comments(cell.source, zh[cell.id].splitlines())
    return nbformat.writes(nb) + "\n"


def build(check: bool = False) -> list[str]:
    """Write every Chinese edition (or, with ``check``, only compare); return what is out of date."""
    out = []
    for doc in documents():
        try:
            text = render(doc)
        except ValueError as exc:
            out.append(str(exc))
            continue
        if not doc.chinese.is_file() or doc.chinese.read_text(encoding="utf-8") != text:
            out.append(f"{_rel(doc.chinese)}: differs from its build (`make zh`)")
            if not check:
                doc.chinese.parent.mkdir(parents=True, exist_ok=True)
                doc.chinese.write_text(text, encoding="utf-8")
    return out


def template(doc: Document) -> int:
    """Rewrite ``doc``'s translation file in English order, adding missing units as English text; return how many."""
    pairs, leftover = match(doc)
    for e in leftover:
        print(f"{_rel(doc.translation)}: dropped obsolete unit {e.key}")
    # a unit with no entry arrives in English; an entry whose cell moved takes the cell's new key
    write_entries(doc, [unit if entry is None else entry._replace(key=unit.key) for unit, entry in pairs])
    return sum(entry is None for _, entry in pairs)


def stamp(doc: Document, keys: list[str]) -> None:
    """Record the current English fingerprint of units ``keys`` (their text has been updated)."""
    pairs, leftover = match(doc)
    known = [unit.key for unit, _ in pairs]
    unknown = [k for k in keys if k not in known]
    if unknown:
        raise ValueError(f"keys must be units of {_rel(doc.english)} ({', '.join(known)}), got {unknown}")
    entries = [e._replace(sha=u.sha) if u.key in keys else e for u, e in pairs if e is not None]
    write_entries(doc, entries + leftover)


def english_then(doc: Document, sha: str, commits: int = 40) -> str | None:
    """The English text with fingerprint ``sha``, from the last ``commits`` commits of ``doc``'s English file (git)."""
    rel = doc.repo_path or _rel(doc.english)  # a copy outside the repository names its English file
    log = subprocess.run(
        ["git", "log", f"-n{commits}", "--format=%H", "--", rel], cwd=ROOT, capture_output=True, text=True
    )
    for commit in log.stdout.split():
        old = subprocess.run(["git", "show", f"{commit}:{rel}"], cwd=ROOT, capture_output=True, text=True)
        if old.returncode:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp) / doc.english.name
            copy.write_text(old.stdout, encoding="utf-8")
            then = Document(copy, doc.translation, doc.chinese, repo_path=rel)
            for unit in then.units():
                if unit.sha == sha:
                    return unit.text
    return None


def _show(doc: Document, problem: Problem) -> str:
    """What ``status --show`` prints under a problem: how the English changed, or the English now."""
    unit, entry = next(((u, e) for u, e in match(doc)[0] if u.key == problem.key), (None, None))
    if unit is None:
        return ""
    then = english_then(doc, entry.sha) if problem.what == "stale" and entry is not None else None
    if then is not None:
        diff = difflib.unified_diff(
            then.splitlines(), unit.text.splitlines(), "English then", "English now", lineterm=""
        )
        return "\n".join("    " + line for line in diff)
    return "    English now:\n" + "\n".join("    | " + line for line in unit.text.splitlines())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/translate.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("status", help="report stale, missing and untranslated units")
    s.add_argument("files", nargs="*", type=Path)
    show = "print how the English changed (git) or its text, for each unit that needs work"
    s.add_argument("--show", action="store_true", help=show)
    b = sub.add_parser("build", help="write the Chinese edition")
    b.add_argument("--check", action="store_true", help="write nothing; exit 1 if anything is out of date")
    t = sub.add_parser("template", help="add missing units to translation files, in English")
    t.add_argument("files", nargs="+", type=Path)
    st = sub.add_parser("stamp", help="record that units were updated to the current English")
    st.add_argument("file", type=Path)
    st.add_argument("keys", nargs="+")
    args = parser.parse_args(argv)

    if args.command == "status":
        bad = 0
        for doc in map(document_for, args.files) if args.files else documents():
            found = problems(doc)
            bad += len(found)
            for problem in found:
                print(problem)
                if args.show:
                    print(_show(doc, problem))
        print(f"{bad} unit(s) need work" if bad else "every translation is current")
        return 1 if bad else 0
    if args.command == "build":
        out = build(check=args.check)
        print("\n".join(out) if out else "the Chinese edition is up to date")
        return 1 if out and (args.check or any("differs" not in line for line in out)) else 0
    if args.command == "template":
        for path in args.files:
            doc = document_for(path)
            print(f"{_rel(doc.translation)}: {template(doc)} unit(s) added in English")
        return 0
    stamp(document_for(args.file), args.keys)
    return 0


if __name__ == "__main__":
    sys.exit(main())
