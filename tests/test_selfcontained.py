"""The text stands alone and quotes the run.

1. No learner-facing file cites a document the learner does not have: the course's source notes
   ("Seed 000".."Seed 004", "the notes", "the learners' notes" and the like). Where a chapter
   corrects a common misreading, it states the misreading in its own words.
2. Every figure README.md or benchmarks/README.md (where the measured figures live) attributes to a
   notebook (in the notebook table, or in prose followed by the notebook's number in brackets, "... 1.6x
   faster (04)") appears in that notebook's stored outputs.

Each check has a companion test that plants a wrong text and expects the check to catch it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"

# ---------------------------------------------------------------------------------------------
# 1. References to documents the learner does not have
# ---------------------------------------------------------------------------------------------

#: "Seed 002", "seed note 004", "the seed notes", "the notes", "the learners' notes", "one of the
#: course's notes", "older notes", "the note's ...", "the notes' ...".
REFERENCE = re.compile(
    r"\bseed\s+(?:note\s+)?00\d\b"
    r"|\bseed\s+notes?\b"
    r"|\b(?:the|learners['’]|course['’]s|older|these|five)\s+(?:learners['’]\s+)?notes\b"
    r"|\bnotes['’]"
    r"|\bthe\s+note(?:['’]s)?\b(?!book)",
    re.IGNORECASE,
)
#: The Chinese edition: 笔记 ("notes", but not 笔记本, "notebook") and 种子 00N ("seed 00N").
ZH_REFERENCE = re.compile(r"笔记(?!本)|种子\s*00\d")


def references(text: str, pattern: re.Pattern[str] = REFERENCE) -> list[str]:
    """``line: match`` for every reference in ``text``."""
    return [
        f"line {number}: {match.group(0)!r} in {line.strip()[:120]!r}"
        for number, line in enumerate(text.splitlines(), start=1)
        for match in pattern.finditer(line)
    ]


def notebook_text(path: Path) -> str:
    """What a learner reads in a built notebook: its markdown cells and its stored outputs.

    Code cells come from the sources, which are checked as whole files.
    """
    parts = []
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] == "markdown":
            parts.append("".join(cell["source"]))
        parts.extend(output_texts(cell))
    return "\n".join(parts)


def output_texts(cell: dict) -> list[str]:
    """The text of a cell's stored outputs (streams, plain-text and markdown results, errors)."""
    texts = []
    for output in cell.get("outputs", []):
        if "text" in output:
            texts.append("".join(output["text"]))
        for kind in ("text/plain", "text/markdown"):
            if kind in output.get("data", {}):
                texts.append("".join(output["data"][kind]))
        if output.get("output_type") == "error":
            texts.append(f"{output.get('ename', '')}: {output.get('evalue', '')}")
    return texts


def english_files() -> list[Path]:
    files = sorted((NOTEBOOKS / "src").glob("*.py")) + sorted((NOTEBOOKS / "solutions" / "src").glob("*.py"))
    files += [ROOT / name for name in ("README.md", "INSTRUCTOR.md", "GLOSSARY.md", "benchmarks/README.md")]
    files += sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")) + sorted((NOTEBOOKS / "solutions").glob("[0-9][0-9]_*.ipynb"))
    return files


def chinese_files() -> list[Path]:
    files = [ROOT / name for name in ("README.zh.md", "INSTRUCTOR.zh.md")]
    files += sorted((ROOT / "translations" / "zh").rglob("*.md"))
    files += sorted((NOTEBOOKS / "zh").rglob("[0-9][0-9]_*.ipynb"))
    return [f for f in files if f.exists()]


def text_of(path: Path) -> str:
    return notebook_text(path) if path.suffix == ".ipynb" else path.read_text(encoding="utf-8")


def reference_problems(files: list[Path], patterns: tuple[re.Pattern[str], ...]) -> list[str]:
    return [
        f"{path.relative_to(ROOT)}: {problem}"
        for path in files
        for pattern in patterns
        for problem in references(text_of(path), pattern)
    ]


def test_no_learner_facing_file_cites_the_source_notes():
    problems = reference_problems(english_files(), (REFERENCE,))
    assert not problems, (
        "learner-facing text cites documents the learner does not have; state the misreading and its "
        "correction in the course's own words instead:\n" + "\n".join(problems)
    )


def test_the_chinese_edition_cites_no_source_notes():
    problems = reference_problems(chinese_files(), (REFERENCE, ZH_REFERENCE))
    assert not problems, "the Chinese edition cites documents the learner does not have:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    "planted",
    [
        "Seed 002 shows it in BART.",
        'print("seed 003\'s reading:", span)',
        "Seed note 004 quotes 109,482,240 parameters.",
        "The padding, as the seed notes do it.",
        "One of the notes asks whether 1 and 0 mean the same.",
        "The learners' notes copy a script that does not run.",
        "one of the course's notes wonders what runs under them",
        "Code from older notes fails.",
        "The note's training command is old.",
        "the notes' `bert-base-cased` ids",
    ],
)
def test_a_planted_reference_is_caught(planted):
    text = "# A clean first line.\n# " + planted + "\n"
    assert references(text) and references(text)[0].startswith("line 2:")


@pytest.mark.parametrize("planted", ["（笔记 002）", "课程所依据的一份笔记", "种子 003 的读法"])
def test_a_planted_chinese_reference_is_caught(planted):
    assert references("第一行\n" + planted, ZH_REFERENCE)


@pytest.mark.parametrize(
    "clean",
    [
        "Note also what is *not* there.",
        "Build it with `make notebooks`; the notebook's header says how long it runs.",
        "A common reading calls them the even columns. In fact, the step applies to the columns too.",
        "cu.setup(seed=0) seeds Python, NumPy and torch; seed 0 of the benchmark",
    ],
)
def test_ordinary_text_is_not_a_reference(clean):
    assert not references(clean)
    assert not references("笔记本 00 的设置单元", ZH_REFERENCE)


# ---------------------------------------------------------------------------------------------
# 2. README's figures come from the notebooks' stored outputs
# ---------------------------------------------------------------------------------------------

#: A figure: a number with a decimal point or with thousands separators ("0.765", "1.6x", "223,878").
#: Plain integers ("125 steps", "2 cores", "r=8") are too ambiguous to check and are left out.
CANDIDATE = re.compile(r"(?<![\w.,/])\d[\d,]*(?:\.\d+)*x?")
NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")
ROW_LINK = re.compile(r"\]\(notebooks/(\d\d)_[\w]+\.ipynb\)")
MARKER = re.compile(r"\((\d\d)\)")


def figures(text: str, offset: int = 0) -> list[tuple[str, int]]:
    """The figures in ``text`` with their positions (``offset`` added), commas removed."""
    found = []
    for match in CANDIDATE.finditer(text):
        token = match.group(0).removesuffix("x").rstrip(",")
        if token.count(".") > 1 or ("." not in token and "," not in token):
            continue  # a version number, or a plain integer
        if not re.fullmatch(r"\d{1,3}(?:,\d{3})*(?:\.\d+)?|\d+\.\d+", token):
            continue  # "1,2,3" and the like: not a figure
        found.append((token.replace(",", ""), offset + match.start()))
    return found


def attributed_figures(readme: str) -> list[tuple[str, str, int]]:
    """``(notebook number, figure, position in readme)`` for every figure README attributes to a notebook.

    Two forms: a row of a table that links ``notebooks/NN_*.ipynb`` (every column but the last, the
    run time, which tests/test_timings.py checks), and prose where a figure is followed, in the same
    paragraph, by the notebook's number in brackets: "... 1.6x faster, 3.3x sorted (04); ...".
    """
    attributed = []
    position = 0
    in_code = False
    paragraph: list[tuple[int, str]] = []

    def close_paragraph() -> None:
        if not paragraph:
            return
        start = paragraph[0][0]
        text = "\n".join(line for _, line in paragraph)
        previous = 0
        for marker in MARKER.finditer(text):
            for figure, where in figures(text[previous : marker.start()], start + previous):
                attributed.append((marker.group(1), figure, where))
            previous = marker.end()
        paragraph.clear()

    for line in readme.splitlines(keepends=True):
        stripped = line.strip()
        if stripped.startswith("```"):
            in_code = not in_code
            close_paragraph()
        elif in_code:
            pass
        elif stripped.startswith("|"):
            close_paragraph()
            link = ROW_LINK.search(line)
            if link:
                body = line[: line.rstrip().rstrip("|").rfind("|")]  # every column but the last
                attributed += [(link.group(1), figure, position + where) for figure, where in figures(body)]
        elif not stripped:
            close_paragraph()
        else:
            paragraph.append((position, line.rstrip("\n")))
        position += len(line)
    close_paragraph()
    return attributed


def stored_numbers(number: str) -> set[str]:
    """Every number in the stored outputs of notebook ``number`` (English edition), commas removed."""
    [path] = NOTEBOOKS.glob(f"{number}_*.ipynb")
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    text = "\n".join(t for cell in cells for t in output_texts(cell))
    return {n.replace(",", "") for n in NUMBER.findall(text)}


def figure_problems(readme: str) -> list[str]:
    problems = []
    for number, figure, where in attributed_figures(readme):
        if not list(NOTEBOOKS.glob(f"{number}_*.ipynb")):
            problems.append(f"README attributes {figure} to notebook {number}, which does not exist")
            continue
        if figure not in stored_numbers(number):
            line = readme.count("\n", 0, where) + 1
            context = readme[max(0, where - 60) : where + 20].replace("\n", " ")
            problems.append(
                f"README line {line}: {figure} is not in the stored outputs of notebook {number} (…{context}…)"
            )
    return problems


#: The documents that quote the notebooks' figures: README's notebook table, and the measured figures.
QUOTING = ("README.md", "benchmarks/README.md")


@pytest.mark.parametrize("name", QUOTING)
def test_readme_quotes_figures_that_its_notebooks_print(name):
    readme = (ROOT / name).read_text(encoding="utf-8")
    assert attributed_figures(readme), "found no figure attributed to a notebook: has README's form changed?"
    problems = figure_problems(readme)
    assert not problems, (
        "README quotes figures that the notebooks' stored outputs do not show; copy them from the "
        "stored outputs (or name the benchmarks/results file they come from):\n" + "\n".join(problems)
    )


def test_the_attribution_is_parsed_as_documented():
    readme = (
        "| 04 | [datasets](notebooks/04_datasets.ipynb) | dynamic padding (1.6x; 3.3x sorted), 2,000 texts | 18 s |\n"
        "\n"
        "Figures from the stored outputs: a batched map 1.5x faster (04); LoRA reaches 0.765\n"
        "where full fine-tuning reaches 0.723 (08); transformers 5.24.0, r=8 and 125 steps are not figures.\n"
        "\n"
        "```\n(10) 0.999\n```\n"
    )
    found = [(number, figure) for number, figure, _ in attributed_figures(readme)]
    assert found == [("04", "1.6"), ("04", "3.3"), ("04", "2000"), ("04", "1.5"), ("08", "0.765"), ("08", "0.723")]


@pytest.mark.parametrize("name", QUOTING)
def test_a_planted_wrong_figure_is_caught(name):
    readme = (ROOT / name).read_text(encoding="utf-8")
    attributed = attributed_figures(readme)
    for number, figure, where in (attributed[0], attributed[-1]):  # the first and the last figure quoted
        numbers = stored_numbers(number)
        wrong = next(figure[:-1] + str(d) for d in range(10) if figure[:-1] + str(d) not in numbers)
        written = CANDIDATE.match(readme, where).group(0).removesuffix("x").rstrip(",")  # as README writes it
        planted = readme[:where] + written[:-1] + wrong[-1] + readme[where + len(written) :]
        problems = figure_problems(planted)
        assert any(f"{wrong} is not in the stored outputs of notebook {number}" in p for p in problems), problems
