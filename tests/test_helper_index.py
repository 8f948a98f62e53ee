"""course_utils/README.md and the "Taught in" line of every public helper (tests/helper_index.py, issue 31).

The real tree must pass; each kind of fault is planted beside a correct case to show it is caught:
a helper without its line, a malformed line, a chapter or section title that the notebook sources
do not have, and a stale page.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
import helper_index as hi  # noqa: E402

KNOWN = {"05": ("Fine-tuning a classifier on emotion", ["Setup", "Error analysis", "The confusion matrix"])}


def _helpers(*docstrings: str) -> list[hi.Helper]:
    source = "".join(f'def f{i}():\n    """{doc}"""\n\n\n' for i, doc in enumerate(docstrings))
    source += 'def _private():\n    """No line needed."""\n\n\nclass Public:\n    """A class.\n\n    Course plumbing: not taught.\n    """\n'
    return hi.helpers_in(source, "course_utils.fake")


def test_every_public_helper_names_where_it_is_taught_and_the_page_is_current(capsys):
    assert hi.main(["--check"]) == 0, capsys.readouterr().err
    helpers = hi.all_helpers()
    names = {f"{h.module}.{h.name}" for h in helpers}
    assert {
        "course_utils.plots.plot_confusion_matrix",
        "course_utils.paths.cache_dir",
        "course_utils.env.setup",
    } <= names
    assert not any(n.startswith(("course_utils.check.", "course_utils._")) for n in names)
    assert "course_utils.i18n.language" in names  # plumbing, listed as such
    confusion = next(h for h in helpers if h.name == "plot_confusion_matrix")
    assert (confusion.chapter, confusion.section) == ("05", "The confusion matrix")


def test_the_sections_are_read_from_the_notebook_sources_without_their_numbers():
    known = hi.chapters()
    title, sections = known["05"]
    assert title == "Fine-tuning a classifier on emotion"
    assert "The confusion matrix" in sections and "5.1 The confusion matrix" not in sections
    assert "Setup" in known["00"][1] and sorted(known) == [f"{n:02d}" for n in range(len(known))]


def test_a_helper_without_its_line_or_with_a_malformed_one_is_reported():
    good = 'Does a thing.\n\n    Taught in: 05 Fine-tuning, "The confusion matrix".\n    '
    helpers = _helpers(
        good,
        "Does a thing.",
        "Does.\n\n    Taught in: 05, The confusion matrix\n    ",
        "D.\n\n    Course plumbing: not taught.\n    Course plumbing: not taught.\n    ",
    )
    found = hi.problems(helpers, KNOWN)
    assert [h.name for h in helpers] == ["f0", "f1", "f2", "f3", "Public"]  # _private is not a public helper
    assert len(found) == 3
    assert found[0].startswith("course_utils.fake.f1: no line")
    assert found[1].startswith("course_utils.fake.f2: malformed line")
    assert found[2].startswith("course_utils.fake.f3: 2 lines")
    assert helpers[0].section == "The confusion matrix" and helpers[4].chapter == ""


@pytest.mark.parametrize(
    ("line", "wrong"),
    [
        ('Taught in: 05 Fine-tuning, "The confusion matrix".', None),
        ('Taught in: 05 Fine-tuning a classifier, "Setup".', None),
        ('Taught in: 05 Fine-tuning, "5.1 The confusion matrix".', "has no section '5.1 The confusion matrix'"),
        ('Taught in: 05 Fine-tuning, "The confusion matrices".', "has no section 'The confusion matrices'"),
        ('Taught in: 05 Fine, "Setup".', "not 'Fine'"),
        ('Taught in: 05 Pipelines, "Setup".', "not 'Pipelines'"),
        ('Taught in: 11 Fine-tuning, "Setup".', "chapter 11 has no notebooks/src/11_*.py"),
    ],
)
def test_a_line_naming_a_chapter_or_section_that_does_not_exist_is_reported(line, wrong):
    found = hi.problems(_helpers(f"Does a thing.\n\n    {line}\n    "), KNOWN)
    if wrong is None:
        assert found == []
    else:
        assert len(found) == 1 and wrong in found[0], found


def test_a_renamed_section_in_the_notebook_source_is_caught(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    text = "# # 05 · Fine-tuning a classifier on emotion\n# ## Setup\n# ## 5 · Error analysis\n# ### 5.1 The confusion matrix\n"
    (src / "05_fine_tuning.py").write_text(text, encoding="utf-8")
    helpers = _helpers('D.\n\n    Taught in: 05 Fine-tuning, "The confusion matrix".\n    ')
    assert hi.problems(helpers, hi.chapters(src)) == []
    (src / "05_fine_tuning.py").write_text(text.replace("The confusion matrix", "Confusion"), encoding="utf-8")
    assert hi.problems(helpers, hi.chapters(src)) == [
        "course_utils.fake.f0: chapter 05 has no section 'The confusion matrix'"
    ]


def test_a_stale_page_fails_the_check_and_the_generator_rewrites_it(tmp_path, monkeypatch, capsys):
    page = tmp_path / "course_utils" / "README.md"
    page.parent.mkdir()
    page.write_text(hi.PAGE.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setattr(hi, "PAGE", page)
    assert hi.main(["--check"]) == 0
    page.write_text(
        page.read_text(encoding="utf-8").replace("| The confusion matrix |", "| Confusion |"), encoding="utf-8"
    )
    assert hi.main(["--check"]) == 1
    assert "course_utils/README.md is stale" in capsys.readouterr().err
    page.unlink()
    assert hi.main(["--check"]) == 1
    assert hi.main([]) == 0 and hi.main(["--check"]) == 0
    assert page.read_text(encoding="utf-8") == (ROOT / "course_utils" / "README.md").read_text(encoding="utf-8")


def test_the_page_lists_helpers_in_teaching_order_then_the_plumbing():
    helpers = _helpers(
        'B.\n\n    Taught in: 05 Fine-tuning, "The confusion matrix".\n    ',
        'A.\n\n    Taught in: 05 Fine-tuning, "Setup".\n    ',
    )
    text = hi.page(helpers, KNOWN)
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert rows == [
        "| `f1` | `course_utils.fake` | 05 Fine-tuning a classifier on emotion | Setup |",
        "| `f0` | `course_utils.fake` | 05 Fine-tuning a classifier on emotion | The confusion matrix |",
        "| `Public` | `course_utils.fake` |",
    ]
