"""course_utils.authoring: percent-format parsing and notebook generation."""

from __future__ import annotations

import pytest

from course_utils import authoring

SOURCE = """# header comment, ignored
# %% [markdown]
# # 42 · Title
#
# Learning objectives
# %%
x = 1

# %% [markdown]
# Some *text*
# %%
print(x)
"""


def test_parse_percent_cells():
    cells = authoring.parse_percent(SOURCE)
    assert cells == [
        ("markdown", "# 42 · Title\n\nLearning objectives"),
        ("code", "x = 1"),
        ("markdown", "Some *text*"),
        ("code", "print(x)"),
    ]


def test_markdown_lines_must_be_comments():
    with pytest.raises(ValueError, match="does not start with '#'"):
        authoring.parse_percent("# %% [markdown]\nnot a comment\n")


def test_notebook_gets_badge_and_colab_cell(tmp_path):
    src = tmp_path / "42_demo.py"
    src.write_text(SOURCE)
    nb = authoring.notebook_from_source(src)
    assert nb.cells[0].source.startswith("# 42 · Title") and "notebooks/42_demo.ipynb" in nb.cells[0].source
    assert nb.cells[1].cell_type == "code" and nb.cells[1].source.startswith(authoring.COLAB_MARKER)
    assert "google.colab" in nb.cells[1].source and authoring.REPO_URL in nb.cells[1].source
    assert [c.source for c in nb.cells[2:]] == ["x = 1", "Some *text*", "print(x)"]
    assert nb.metadata["kernelspec"]["name"] == "python3"


def test_colab_cell_does_nothing_outside_colab():
    namespace: dict = {}
    exec(authoring.colab_install_cell(), namespace)  # would raise or install if it misbehaved
    assert "subprocess" in namespace


@pytest.mark.parametrize("name", ["intro.py", "1_intro.py", "01-Intro.py"])
def test_bad_source_names_are_rejected(tmp_path, name):
    src = tmp_path / name
    src.write_text(SOURCE)
    with pytest.raises(ValueError, match="NN_topic.py"):
        authoring.notebook_from_source(src)


def test_first_cell_must_be_a_title(tmp_path):
    src = tmp_path / "42_demo.py"
    src.write_text("# %%\nx = 1\n")
    with pytest.raises(ValueError, match="first cell must be markdown"):
        authoring.notebook_from_source(src)
