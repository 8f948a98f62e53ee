"""The index of course_utils' helpers by the chapter that teaches them (course_utils/README.md), and its checks.

Every public function and class of course_utils (``check/`` aside: the exercises' checkers) ends its
docstring with one line that says where it is taught, by the section's title (a title survives
renumbering)::

    Taught in: 05 Fine-tuning, "The confusion matrix".
    Course plumbing: not taught.

The chapter is its two-digit number and the start of its title (``# 05 · Fine-tuning a classifier
on emotion``); the section is a ``## ``/``### `` heading of that chapter's source in notebooks/src
without its number (``### 5.1 The confusion matrix``). ``python tests/helper_index.py`` rewrites
course_utils/README.md (the page GitHub shows under the package's files) from the docstrings; ``--check`` fails when a helper lacks its line, a line names a
chapter or section that the notebook sources do not have, or the page is stale
(tests/test_helper_index.py runs it).
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "course_utils" / "README.md"
#: Modules whose helpers are not indexed: the checkers (their own issue) and the message catalogue.
SKIPPED = ("course_utils/check/",)
TAUGHT = re.compile(r'^Taught in: (\d\d) ([^,"]+), "([^"]+)"\.$')
PLUMBING = "Course plumbing: not taught."
_NUMBER = re.compile(r"^(\d+(\.\d+)*)\s*(·\s*)?")


@dataclass(frozen=True)
class Helper:
    """One public helper: where it is defined and what its docstring says about where it is taught."""

    name: str
    module: str
    line: int
    chapter: str = ""  # "05"; empty for plumbing
    chapter_words: str = ""  # "Fine-tuning"
    section: str = ""  # "The confusion matrix"
    problem: str = ""  # why its line is missing or malformed


def chapters(src: Path = ROOT / "notebooks" / "src") -> dict[str, tuple[str, list[str]]]:
    """``{"05": ("Fine-tuning a classifier on emotion", [section titles without numbers, in order])}``."""
    found = {}
    for path in sorted(src.glob("[0-9][0-9]_*.py")):
        title, sections = "", []
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("# # ") and not title:
                title = line[4:].split("·", 1)[-1].strip()
            elif line.startswith(("# ## ", "# ### ")):
                sections.append(_NUMBER.sub("", line.lstrip("# ").strip()))
        found[path.name[:2]] = (title, sections)
    return found


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def helpers_in(source: str, module: str) -> list[Helper]:
    """The public top-level functions and classes that ``source`` defines, with their "Taught in" line read."""
    found = []
    for node in ast.parse(source).body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) or node.name.startswith("_"):
            continue
        lines = [line.strip() for line in (ast.get_docstring(node) or "").splitlines()]
        marked = [line for line in lines if line.startswith(("Taught in:", "Course plumbing:"))]
        helper = Helper(node.name, module, node.lineno)
        if len(marked) != 1:
            problem = "no line" if not marked else f"{len(marked)} lines"
            found.append(_replace(helper, problem=f"{problem} 'Taught in: NN Chapter, \"Section\".' or '{PLUMBING}'"))
        elif marked[0] == PLUMBING:
            found.append(helper)
        elif match := TAUGHT.match(marked[0]):
            found.append(_replace(helper, chapter=match[1], chapter_words=match[2].strip(), section=match[3]))
        else:
            found.append(_replace(helper, problem=f"malformed line {marked[0]!r}"))
    return found


def _replace(helper: Helper, **changes: str) -> Helper:
    return Helper(**{**helper.__dict__, **changes})


def all_helpers(package: Path = ROOT / "course_utils") -> list[Helper]:
    """Every public helper of the package's public modules (:data:`SKIPPED` and ``_private`` modules aside)."""
    found = []
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(SKIPPED) or any(p.startswith("_") and p != "__init__.py" for p in path.parts[-2:]):
            continue
        found += helpers_in(path.read_text(encoding="utf-8"), _module_name(path))
    return found


def problems(helpers: list[Helper], known: dict[str, tuple[str, list[str]]]) -> list[str]:
    """What is wrong with the helpers' lines: missing or malformed, or naming a chapter or section that does not exist."""
    wrong = []
    for h in helpers:
        where = f"{h.module}.{h.name}"
        if h.problem:
            wrong.append(f"{where}: {h.problem}")
        elif h.chapter and h.chapter not in known:
            wrong.append(f"{where}: chapter {h.chapter} has no notebooks/src/{h.chapter}_*.py")
        elif h.chapter and not re.match(re.escape(h.chapter_words) + r"($|[ ,:])", known[h.chapter][0]):
            wrong.append(f"{where}: chapter {h.chapter} is {known[h.chapter][0]!r}, not {h.chapter_words!r}")
        elif h.chapter and h.section not in known[h.chapter][1]:
            wrong.append(f"{where}: chapter {h.chapter} has no section {h.section!r}")
    return wrong


def page(helpers: list[Helper], known: dict[str, tuple[str, list[str]]]) -> str:
    """The page: the helpers in the order the chapters teach them, then the plumbing."""

    def order(h: Helper) -> tuple:
        if not h.chapter:
            return (1, "", 0, h.module, h.name)
        return (0, h.chapter, known[h.chapter][1].index(h.section), h.module, h.name)

    taught = sorted((h for h in helpers if h.chapter), key=order)
    plumbing = sorted((h for h in helpers if not h.chapter), key=order)
    lines = [
        "# course_utils: where each helper is taught",
        "",
        "The notebooks' shared helpers, in the order the chapters teach them: open the chapter at the",
        "section named to see the helper built or used, or the module to read its code.",
        "",
        "Generated by `python tests/helper_index.py` from the line that ends each docstring",
        "(`Taught in: ...` or `Course plumbing: not taught.`); tests/test_helper_index.py fails when this",
        "page is stale or a line names a section that the notebook sources do not have.",
        "",
        f"{len(taught)} helpers taught in a chapter, {len(plumbing)} that the course uses without teaching.",
        "",
        "| helper | module | chapter | section |",
        "| --- | --- | --- | --- |",
    ]
    lines += [
        f"| `{h.name}` | `{h.module}` | {h.chapter} {known[h.chapter][0]} | {h.section.replace('|', '&#124;')} |"
        for h in taught
    ]
    lines += ["", "## Course plumbing", "", "| helper | module |", "| --- | --- |"]
    lines += [f"| `{h.name}` | `{h.module}` |" for h in plumbing]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail instead of writing when anything is wrong or stale")
    args = parser.parse_args(argv)
    helpers, known = all_helpers(), chapters()
    wrong = problems(helpers, known)
    if wrong:
        print("\n".join(["helper docstrings to fix:", *wrong]), file=sys.stderr)
        return 1
    text = page(helpers, known)
    if args.check:
        if not PAGE.is_file() or PAGE.read_text(encoding="utf-8") != text:
            print(f"{PAGE.parent.name}/{PAGE.name} is stale: run python tests/helper_index.py", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(text, encoding="utf-8")
    print(f"wrote {PAGE}: {len(helpers)} helpers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
