"""Hygiene of every notebook, English and Chinese: shape, provenance of stored outputs, no leaks, in sync with its source.

The Chinese edition (notebooks/zh/) passes the same tests with its own words; its "in sync with
its source" is tests/test_translations.py (built from the English run and the translation files).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import authoring  # noqa: E402  (tools/authoring.py builds the notebooks)

CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SOLUTIONS = sorted((ROOT / "notebooks" / "solutions").glob("[0-9][0-9]_*.ipynb"))
ENGLISH = CHAPTERS + SOLUTIONS
CHAPTERS_ZH = sorted((ROOT / "notebooks" / "zh").glob("[0-9][0-9]_*.ipynb"))
SOLUTIONS_ZH = sorted((ROOT / "notebooks" / "zh" / "solutions").glob("[0-9][0-9]_*.ipynb"))
NOTEBOOKS = ENGLISH + CHAPTERS_ZH + SOLUTIONS_ZH
#: What the title cell and the closing sections say, by edition: objectives, sections, glossary link.
WORDS = {
    "en": ("Learning objectives", ("## Exercises", "## Recap"), "](../GLOSSARY.md)"),
    "zh": ("学习目标", ("## 练习", "## 小结"), "](../../GLOSSARY.md)"),
}


def _edition(path: Path) -> str:
    return "zh" if "zh" in path.relative_to(ROOT).parts else "en"


MAX_BYTES = 1_500_000
ABSOLUTE_PATH = re.compile(r"(/work/|/root/|/home/|/Users/|/tmp/|site-packages|[A-Z]:\\\\)")


def _outputs_text(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        parts.append(out.get("text", ""))
        for key, value in out.get("data", {}).items():
            if key.startswith("text/"):
                parts.append(value if isinstance(value, str) else "".join(value))
        parts.extend(out.get("traceback", []))
    return "".join(parts)


def test_there_are_notebooks():
    assert CHAPTERS, "no notebooks found"
    assert CHAPTERS[0].name.startswith("00_")
    assert [p.name for p in CHAPTERS_ZH] == [p.name for p in CHAPTERS], "every chapter has a Chinese edition"
    assert [p.name for p in SOLUTIONS_ZH] == [p.name for p in SOLUTIONS]


def test_every_solution_notebook_belongs_to_a_chapter():
    stems = {p.stem for p in CHAPTERS}
    for sol in SOLUTIONS:
        assert sol.stem.endswith("_solutions") and sol.stem.removesuffix("_solutions") in stems, sol.name


def _nb_id(path: Path) -> str:
    return path.relative_to(ROOT / "notebooks").as_posix()


@pytest.fixture(params=CHAPTERS + CHAPTERS_ZH, ids=_nb_id)
def chapter(request):
    return request.param, nbformat.read(request.param, as_version=4)


@pytest.fixture(params=NOTEBOOKS, ids=_nb_id)
def nb(request):
    return request.param, nbformat.read(request.param, as_version=4)


@pytest.fixture(params=ENGLISH, ids=_nb_id)
def english(request):
    return request.param, nbformat.read(request.param, as_version=4)


def test_title_objectives_and_closing_sections(chapter):
    path, book = chapter
    first = book.cells[0]
    objectives, sections, glossary = WORDS[_edition(path)]
    assert first.cell_type == "markdown" and first.source.startswith(f"# {path.name[:2]} ")
    assert objectives in first.source and "colab.research.google.com" in first.source
    assert glossary in first.source, f"{path.name}: link the glossary in the title cell"
    headings = "\n".join(c.source for c in book.cells if c.cell_type == "markdown")
    for section in sections:
        assert section in headings, f"{path.name} lacks a '{section}' section"


def test_colab_cell_then_setup_cell(nb):
    path, book = nb
    code = [c for c in book.cells if c.cell_type == "code"]
    assert code[0].source.startswith(authoring.COLAB_MARKER)
    assert "cu.setup(" in code[1].source or "course_utils.setup(" in code[1].source, path.name


def test_outputs_come_from_one_clean_run(nb):
    path, book = nb
    counts = [c.execution_count for c in book.cells if c.cell_type == "code"]
    assert counts == list(range(1, len(counts) + 1)), f"{path.name}: run it with `make notebooks`"


def test_no_errors_no_absolute_paths(nb):
    path, book = nb
    for i, cell in enumerate(book.cells):
        for out in cell.get("outputs", []):
            assert out.output_type != "error", f"{path.name} cell {i} stores an error"
        leak = ABSOLUTE_PATH.search(_outputs_text(cell) + cell.source)
        assert leak is None, f"{path.name} cell {i} shows a machine path: {leak.group(0)!r}"


def test_facts_are_checked_and_checked_cells_are_quiet(nb):
    path, book = nb
    checked = [c for c in book.cells if c.cell_type == "code" and authoring.CHECK_TAG in c.metadata.get("tags", [])]
    assert checked, f"{path.name} checks no output (no cell tagged {authoring.CHECK_TAG})"
    for cell in checked:
        assert cell.outputs, f"{path.name}: a checked cell has no stored output"
        assert all(o.get("name") != "stderr" for o in cell.outputs), f"{path.name}: stderr in a checked cell"


def test_size_bound(nb):
    path, _ = nb
    assert path.stat().st_size < MAX_BYTES, f"{path.name} is {path.stat().st_size} bytes"


def test_in_sync_with_source(english):
    path, book = english
    src = path.parent / "src" / f"{path.stem}.py"
    assert src.is_file(), f"{path.name} has no source {src.name}"
    expected = authoring.notebook_from_source(src)
    assert [(c.cell_type, c.source) for c in book.cells] == [(c.cell_type, c.source) for c in expected.cells], (
        f"{path.name} differs from its source: run `make notebooks NB={src.relative_to(ROOT)}`"
    )
    assert [c.id for c in book.cells] == [c.id for c in expected.cells], (
        f"{path.name}: cell ids are not the stable ones"
    )
    for cell, want in zip(book.cells, expected.cells):  # the source's cell metadata (code cells add the run's timings)
        assert {k: cell.metadata.get(k) for k in want.metadata} == want.metadata, (
            f"{path.name} cell {cell.id}: metadata"
        )
        assert cell.cell_type == "code" or cell.metadata == want.metadata, f"{path.name} cell {cell.id}: metadata"


def _source_of(path: Path) -> Path:
    """The percent-format source a stored notebook (English or Chinese) is built from."""
    english = path.relative_to(ROOT / "notebooks").parts
    folder = ROOT / "notebooks" / ("solutions" if "solutions" in english else "") / "src"
    return folder / f"{path.stem}.py"


def test_every_notebook_was_built_from_its_source_as_it_is(nb):
    """A source edited since its notebook was built (a changed checker call, a sentence) leaves a stale notebook."""
    path, _ = nb
    assert authoring.provenance_problem(path, _source_of(path)) is None, authoring.provenance_problem(
        path, _source_of(path)
    )


def test_a_stale_notebook_is_detected(tmp_path):
    src_dir = tmp_path / "notebooks" / "src"
    src_dir.mkdir(parents=True)
    src = src_dir / "42_demo.py"
    src.write_text('# %% [markdown]\n# # 42 · Demo\n\n# %% tags=["nbval-check-output"]\nprint(1)\n', encoding="utf-8")
    built = authoring.build(src, run=False)
    assert authoring.provenance_problem(built, src) is None
    src.write_text(src.read_text(encoding="utf-8").replace("print(1)", "print(2)"), encoding="utf-8")
    assert "another version of 42_demo.py" in authoring.provenance_problem(built, src)
    book = nbformat.read(built, as_version=4)
    del book.metadata["course"]
    nbformat.write(book, built)
    assert "records no source hash" in authoring.provenance_problem(built, src)


def test_every_exercise_cell_is_checked_by_nbval(nb):
    """A right answer prints only its verdict, so a stored verdict text that a checker can no longer print fails."""
    path, book = nb
    assert authoring.unchecked_exercises(book) == [], f"{path.name}: tag these {authoring.CHECK_TAG}"
    exercises = [c for c in book.cells if c.cell_type == "code" and authoring.EXERCISE_CALL.search(c.source)]
    assert len(exercises) >= 3, f"{path.name}: {len(exercises)} exercise cells"


def test_an_untagged_exercise_cell_is_refused(tmp_path):
    src_dir = tmp_path / "notebooks" / "src"
    src_dir.mkdir(parents=True)
    src = src_dir / "42_demo.py"
    src.write_text("# %% [markdown]\n# # 42 · Demo\n\n# %%\ncu.check.exercise_42_1(f)\n", encoding="utf-8")
    with pytest.raises(ValueError, match="exercise cells \\['42-002'\\] must be tagged nbval-check-output"):
        authoring.notebook_from_source(src)
    src.write_text(src.read_text(encoding="utf-8").replace("# %%\n", '# %% tags=["nbval-check-output"]\n'), "utf-8")
    assert authoring.unchecked_exercises(authoring.notebook_from_source(src)) == []


@pytest.mark.parametrize(
    ("stored", "tagged", "passes"), [("6\n", True, True), ("False\n", True, False), ("False\n", False, True)]
)
def test_nbval_checks_tagged_cells_and_rejects_a_stale_output(tmp_path, stored, tagged, passes):
    """The tag is what makes nbval compare: a stale stored output fails only in a tagged cell."""
    import subprocess

    cell = nbformat.v4.new_code_cell("print(sum(range(4)))", id="42-001")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=stored)]
    cell.execution_count = 1
    if tagged:
        cell.metadata["tags"] = [authoring.CHECK_TAG]
    book = nbformat.v4.new_notebook(cells=[cell])
    book.metadata["kernelspec"] = dict(authoring.KERNELSPEC)
    nbformat.write(book, tmp_path / "demo.ipynb")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--nbval-lax",
            "--nbval-current-env",
            "demo.ipynb",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (run.returncode == 0) == passes, run.stdout[-2000:]
