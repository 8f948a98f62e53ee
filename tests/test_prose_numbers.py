"""Numbers that a chapter's prose quotes come from a run: its own stored outputs, or a recorded benchmark.

A measured figure typed by hand drifts from the run beside it (issue 24: README's LoRA figures, 10's
"about a minute" beside 89 s). Every number in a chapter's text that carries a decimal point or
thousands separators (``0.907``, ``30,522``, ``1e-5``) must appear in the stored outputs of its
notebook (or of the notebook named in :data:`CROSS` that it quotes), or in a recorded result
(``benchmarks/results/``, ``course_utils/recorded/``, rounded as the text rounds it). What is not a
measurement is named in :data:`NOT_MEASURED` with its reason: an illustration's arithmetic, a
constant the text chooses, a fact of another model. Run times in the title cell are filled in from
``notebooks/timings.json`` by ``make timings`` (tests/test_timings.py checks those). Integers without
separators are not checked (they are mostly section numbers, counts the code sets, small examples).
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SOLUTIONS = sorted((ROOT / "notebooks" / "solutions").glob("[0-9][0-9]_*.ipynb"))
RECORDED = [
    *sorted((ROOT / "benchmarks" / "results").glob("*")),
    *sorted((ROOT / "course_utils" / "recorded").glob("*.json")),
]

NUMBER = re.compile(r"(?<![\w.\-/#])(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+\.\d+(?:e[-+]?\d+)?|\d+e[-+]?\d+)(?!\w)")
#: Not prose: code spans and blocks, formulas, link targets, HTML, the run-time line, arXiv ids, versions.
NOT_PROSE = re.compile(
    r"```.*?```|`[^`]*`|\$\$.*?\$\$|\$[^$\n]*\$|\]\([^)]*\)|<[^>]+>|\*\*Run time:\*\*[^\n]*(\n[^\n*#]+)*"
    r"|^#{1,6} [^\n]*|arXiv[: ]+\d{4}\.\d{4,5}"
    r"|\b(?:[Ss]ections?|[Ee]xercises?|[Nn]otebook|[Cc]hapter|removed in|deprecated in|added in)\s+\d+(?:\.\d+)+"
    r"|\b(?:transformers|PyTorch|torch|PEFT|peft|datasets|accelerate|Python|NumPy|evaluate|sentence-transformers"
    r"|huggingface_hub|safetensors|version|versions)\s+\d+(?:\.\d+)+",
    re.S | re.M,
)
#: Chapters whose prose quotes another chapter's stored output (which it names).
CROSS = {"05": ("04",), "10": ("05",)}
#: (chapter, number) -> why it is not a measurement of any run.
NOT_MEASURED = {
    (
        "02",
        "8,192",
    ): "SmolLM2's position limit, printed in section 8 as 8192; Longformer/BigBird limits are facts of those models",
    ("02", "4,096"): "Longformer's position limit, a fact of that model",
    ("03", "23.4"): "arithmetic on the printed sizes: 30,522 x 768 = 23,440,896",
    ("05", "30,522"): "the stand-in's vocabulary, printed in notebook 02, in the shape of its embedding matrix",
    ("05", "0.9225"): "the book's published figure (and the sweep's, recorded in benchmarks/results)",
    ("06", "2,048"): "the input exercise 06.4 chooses",
    ("07", "20,000"): "the number of draws the code sets (N_DRAWS)",
    ("08", "32,000"): "an illustration: a 2000 x 2000 layer with r = 8",
    ("08", "4,000,000"): "an illustration: a 2000 x 2000 layer",
    ("08", "56,164"): "what PEFT's guide prints (an older PEFT), named as such",
    ("08", "22.7"): "22,715,526 (printed) in millions",
    ("08", "73,728"): "arithmetic that explains the printed total: 6 layers x 2 projections x 8 x (384 + 384) x 8",
    ("09", "1,024"): "arithmetic in the text: 16 GPUs x 64 examples",
    ("10", "0.017"): "arithmetic in the text: one query of 60 (solutions)",
}


def _text(out) -> str:
    parts = [out.get("text", "")]
    parts += [v for k, v in out.get("data", {}).items() if k.startswith("text/")]
    return "".join(p if isinstance(p, str) else "".join(p) for p in parts)


def outputs_text(book) -> str:
    """Every stored text output of ``book`` (streams and text/* data), joined."""
    return "\n".join(_text(o) for c in book.cells if c.cell_type == "code" for o in c.get("outputs", []))


def _recorded_text() -> str:
    """The recorded results, with every float also as the text would round it (3, 2 and 1 decimals)."""
    parts = []
    for path in RECORDED:
        text = path.read_text(encoding="utf-8")
        parts.append(text)
        if path.suffix == ".json":
            floats = re.findall(r"-?\d+\.\d+", text)
            parts += [f"{float(x):.{d}f}" for x in floats for d in (1, 2, 3)]
    return "\n".join(parts)


def _forms(number: str) -> set[str]:
    forms = {number, number.replace(",", "")}
    if "." in number and "e" not in number:
        forms.add(number.rstrip("0").rstrip("."))
        forms.add(number + "0")
    return forms


def unsupported_numbers(book, chapter: str, sources: str) -> list[tuple[str, str]]:
    """(cell id, number) for each prose number of ``book`` found in neither ``sources`` nor :data:`NOT_MEASURED`."""
    found = []
    for cell in book.cells:
        if cell.cell_type != "markdown":
            continue
        for match in NUMBER.finditer(NOT_PROSE.sub(" ", cell.source)):
            number = match.group(1)
            if (chapter, number) in NOT_MEASURED or any(form in sources for form in _forms(number)):
                continue
            found.append((str(cell.get("id")), number))
    return found


def _sources(path: Path, book) -> str:
    chapter = path.name[:2]
    cross = [p for p in CHAPTERS if p.name[:2] in CROSS.get(chapter, ())]
    return "\n".join([outputs_text(book), _recorded_text(), *(outputs_text(nbformat.read(p, 4)) for p in cross)])


@pytest.mark.parametrize("path", CHAPTERS + SOLUTIONS, ids=lambda p: p.name)
def test_every_number_in_the_prose_comes_from_the_run(path):
    book = nbformat.read(path, as_version=4)
    wrong = unsupported_numbers(book, path.name[:2], _sources(path, book))
    assert not wrong, f"{path.name}: numbers in the text that no output of the run shows: {wrong}"


def test_a_planted_wrong_number_is_caught():
    path = ROOT / "notebooks" / "10_embeddings_reranking.ipynb"
    book = nbformat.read(path, as_version=4)
    sources = _sources(path, book)
    assert unsupported_numbers(book, "10", sources) == []
    cell = next(c for c in book.cells if c.cell_type == "markdown" and "Reading the result" in c.source)
    cell.source += "\nThe reranker reaches a precision@1 of 0.987 and sorts 12,345 texts a second."
    assert unsupported_numbers(book, "10", sources) == [(cell.id, "0.987"), (cell.id, "12,345")]


def test_what_is_not_a_number_to_check():
    book = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell(
                "**Run time:** 2.4 min on a 2-core CPU\n\nSince transformers 4.46, `lr=5e-5`, $x = 0.5$, "
                "[a](https://x.org/1.2), arXiv 2306.15595, and version 0.21.3.",
                id="42-000",
            )
        ]
    )
    assert unsupported_numbers(book, "42", "") == []
    book.cells[0].source += " It scores 0.75."
    assert unsupported_numbers(book, "42", "accuracy 0.750") == []
    assert unsupported_numbers(book, "42", "accuracy 0.76") == [("42-000", "0.75")]


def test_the_exceptions_are_still_in_the_text():
    """An entry of NOT_MEASURED whose number left the text is dead weight: remove it."""
    texts: dict[str, str] = {}
    for p in CHAPTERS + SOLUTIONS:
        cells = nbformat.read(p, 4).cells
        texts[p.name[:2]] = texts.get(p.name[:2], "") + "\n".join(c.source for c in cells if c.cell_type == "markdown")
    stale = [key for key in NOT_MEASURED if key[1] not in texts.get(key[0], "")]
    assert not stale, stale
