"""One table of notebook run times, written by the test run, quoted everywhere a time appears.

    make test                   # writes notebooks/timings.json (every notebook that passed)
    python tools/timings.py     # rewrites the times in the chapter headers, README.md and INSTRUCTOR.md
    python tools/timings.py --check   # exit 1 (and say where) if any of them disagrees with the table

``notebooks/timings.json`` maps each notebook (repository path) to the seconds its nbval run took
(kernel start and every cell) on the machine named in its entry. The chapter headers say
``**Run time:** N s on a 2-core CPU`` on one line; README's notebook table ends each row with the
chapter's time; INSTRUCTOR.md's table has the chapter and its solutions. This script is the only
writer of those figures, and ``tests/test_timings.py`` runs ``--check`` so that they cannot drift.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TABLE = ROOT / "notebooks" / "timings.json"
HEADER = re.compile(r"(\*\*Run time:\*\* )(?:about )?[\d.,]+ (?:s|min|minutes)( on a 2-core CPU)")
README_ROW = re.compile(r"^(\| (\d\d) \| \[[^\]]+\]\(notebooks/\d\d_[a-z_]+\.ipynb\) \|.*\| )([^|]+)( \|)$", re.M)
INSTRUCTOR_ROW = re.compile(r"^(\| (\d\d) [^|]+\| )([^|]+)( \| )([^|]+)( \|.*)$", re.M)
INSTRUCTOR_ALL = re.compile(r"^(\| all \| )([^|]+)( \| )([^|]+)( \|.*)$", re.M)


def fmt(seconds: float) -> str:
    """A time as the course writes it: whole seconds under two minutes, else minutes with one decimal."""
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def load() -> dict:
    """The table: ``{"machine": ..., "notebooks": {path: {"seconds": s, "date": d}}}``."""
    return json.loads(TABLE.read_text(encoding="utf-8"))


def seconds_of(table: dict, number: str, solutions: bool = False) -> float:
    """Seconds of chapter ``number`` ("05"), or of its solutions notebook."""
    folder = "notebooks/solutions/" if solutions else "notebooks/"
    hits = [
        v["seconds"]
        for k, v in table["notebooks"].items()
        if k.startswith(folder + number + "_") and k.count("/") == folder.count("/")
    ]
    if len(hits) != 1:
        raise KeyError(f"{TABLE.name} has no single entry for {folder}{number}_*.ipynb")
    return hits[0]


def total(table: dict, solutions: bool = False) -> str:
    """The chapters' (or the solutions') run times added up, in minutes as the course writes them."""
    seconds = sum(v["seconds"] for k, v in table["notebooks"].items() if ("/solutions/" in k) == solutions)
    return f"{seconds / 60:.1f} min"


def rendered(table: dict) -> dict[Path, str]:
    """Every file whose times come from ``table``, with the text it should have."""
    out: dict[Path, str] = {}
    for src in sorted((ROOT / "notebooks" / "src").glob("[0-9][0-9]_*.py")):
        text = src.read_text(encoding="utf-8")
        if not HEADER.search(text):
            raise ValueError(f"{src.relative_to(ROOT)}: no '**Run time:** N s on a 2-core CPU' on one line")
        out[src] = HEADER.sub(lambda m: m[1] + fmt(seconds_of(table, src.name[:2])) + m[2], text, count=1)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    out[ROOT / "README.md"] = README_ROW.sub(lambda m: m[1] + fmt(seconds_of(table, m[2])) + m[4], readme)
    instructor = (ROOT / "INSTRUCTOR.md").read_text(encoding="utf-8")
    instructor = INSTRUCTOR_ROW.sub(
        lambda m: m[1] + fmt(seconds_of(table, m[2])) + m[4] + fmt(seconds_of(table, m[2], solutions=True)) + m[6],
        instructor,
    )
    out[ROOT / "INSTRUCTOR.md"] = INSTRUCTOR_ALL.sub(
        lambda m: m[1] + total(table) + m[3] + total(table, solutions=True) + m[5], instructor
    )
    return out


def main(argv: list[str]) -> int:
    table = load()
    stale = [path for path, text in rendered(table).items() if path.read_text(encoding="utf-8") != text]
    if "--check" in argv:
        for path in stale:
            print(
                f"{path.relative_to(ROOT)}: times differ from {TABLE.relative_to(ROOT)}; run `python tools/timings.py`"
            )
        return 1 if stale else 0
    for path, text in rendered(table).items():
        if path in stale:
            path.write_text(text, encoding="utf-8")
            print("updated", path.relative_to(ROOT))
    sources = [p for p in stale if p.suffix == ".py"]
    if sources:
        sys.path.insert(0, str(ROOT / "tools"))
        import authoring

        for src in sources:  # the header is markdown: refresh it in the stored notebook without running it
            authoring.refresh_markdown(src)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
