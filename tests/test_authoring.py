"""tools/authoring.py: notebooks from percent-format sources (read by jupytext), badges, install cell, CLI."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import authoring  # noqa: E402

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


def test_source_cells():
    """The header comment is not a cell; blank lines around a cell are not part of it; no metadata is added."""
    cells = authoring.source_cells(SOURCE)
    assert [(c.cell_type, c.source) for c in cells] == [
        ("markdown", "# 42 · Title\n\nLearning objectives"),
        ("code", "x = 1"),
        ("markdown", "Some *text*"),
        ("code", "print(x)"),
    ]
    assert all(c.metadata == {} for c in cells)


def test_empty_cells_are_dropped_and_a_source_without_header_keeps_its_first_cell():
    text = "# %% [markdown]\n# # 42 · T\n\n\n# %%\n\n# %%\n\n\ny = 2\n\n\n# %% [markdown]\n#\n"
    assert [(c.cell_type, c.source) for c in authoring.source_cells(text)] == [
        ("markdown", "# 42 · T"),
        ("code", "y = 2"),
    ]


MAGICS = """# %% [markdown]
# # 42 · Magics
# %% tags=["raises-exception"]
%timeit sum(range(10))
!pip --version
# %% [markdown] slideshow={"slide_type": "skip"}
# A note
# %%
# a plain comment stays a comment
# # %ls: an escaped magic stays commented
"""


def test_magics_and_cell_metadata_read_and_round_trip_as_jupytext(tmp_path):
    """Cell metadata on a `# %%` line reaches the notebook, magics are magics, and jupytext writes both back."""
    src = tmp_path / "42_magics.py"
    src.write_text(MAGICS)
    nb = authoring.notebook_from_source(src)
    code, note, comment = nb.cells[2:]
    assert code.source == "%timeit sum(range(10))\n!pip --version" and code.metadata == {"tags": ["raises-exception"]}
    assert note.source == "A note" and note.metadata == {"slideshow": {"slide_type": "skip"}}
    assert comment.source == "# a plain comment stays a comment\n# %ls: an escaped magic stays commented"
    # exactly what jupytext itself reads (less the header and jupytext's own bookkeeping)
    plain = jupytext.reads(MAGICS, fmt="py:percent")
    assert [(c.cell_type, c.source) for c in nb.cells[2:]] == [(c.cell_type, c.source) for c in plain.cells[1:]]
    # and back: jupytext writes the notebook's cells as a source that reads to the same cells
    text = jupytext.writes(nb, fmt="py:percent")
    assert "# %timeit sum(range(10))" in text and "# !pip --version" in text  # magics commented: valid Python
    again = authoring.source_cells(text)
    assert [(c.cell_type, c.source, c.metadata) for c in again] == [
        (c.cell_type, c.source, c.metadata) for c in nb.cells
    ]
    # a magic cell is stored as such by build (and nbformat accepts the metadata)
    (tmp_path / "notebooks" / "src").mkdir(parents=True)
    target = authoring.build(src.rename(tmp_path / "notebooks" / "src" / src.name), run=False)
    stored = nbformat.read(target, as_version=4)
    nbformat.validate(stored)
    assert stored.cells[2].metadata == {"tags": ["raises-exception"]} and stored.cells[2].source.startswith("%timeit")


def test_notebook_gets_badge_and_colab_cell(tmp_path):
    src = tmp_path / "42_demo.py"
    src.write_text(SOURCE)
    nb = authoring.notebook_from_source(src)
    assert nb.cells[0].source.startswith("# 42 · Title") and "notebooks/42_demo.ipynb" in nb.cells[0].source
    assert nb.cells[1].cell_type == "code" and nb.cells[1].source.startswith(authoring.COLAB_MARKER)
    assert "google.colab" in nb.cells[1].source and authoring.REPO_URL in nb.cells[1].source
    assert [c.source for c in nb.cells[2:]] == ["x = 1", "Some *text*", "print(x)"]
    assert nb.metadata == {
        "kernelspec": authoring.KERNELSPEC,
        "language_info": {"name": "python"},
        "course": {"source": "42_demo.py", "source_sha256": authoring.source_sha256(src)},
    }  # no jupytext metadata; the source it was built from
    assert [c.id for c in nb.cells] == ["42-000", "42-001", "42-002", "42-003", "42-004"]
    assert all(c.metadata == {} for c in nb.cells)


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


def _run_install_cell(monkeypatch, env_url: str | None) -> list[list[str]]:
    """Run the install cell as Colab would (google.colab imported), with pip replaced by a recorder."""
    import subprocess
    import sys
    import types

    calls: list[list[str]] = []
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: calls.append((cmd, kw)))
    if env_url is None:
        monkeypatch.delenv(authoring.INSTALL_URL_ENV, raising=False)
    else:
        monkeypatch.setenv(authoring.INSTALL_URL_ENV, env_url)
    exec(authoring.colab_install_cell(), {})
    return calls


def test_colab_cell_installs_the_runtime_from_the_repository(monkeypatch):
    import sys

    [(cmd, kw)] = _run_install_cell(monkeypatch, None)
    assert cmd == [
        sys.executable,
        "-m",
        "pip",
        "install",
        "-q",
        f"course-utils @ git+{authoring.REPO_URL}@{authoring.BRANCH}",
    ]
    assert kw == {"check": True}
    assert "[" not in cmd[-1].split("@")[0]  # no extras: the runtime only


def test_colab_cell_installs_from_the_override_when_set(monkeypatch):
    url = "git+file://localhost/tmp/course@my-branch"
    [(cmd, _)] = _run_install_cell(monkeypatch, url)
    assert cmd[-1] == f"course-utils @ {url}"


@pytest.mark.parametrize(
    "repo_url",
    [
        "https://gitlab.com/a/b",
        "https://github.com/a/b/",
        "https://github.com/a/b.git",
        "github.com/a/b",
        "https://github.com/a",
        "https://github.com/a/b/tree/main",
        42,
    ],
)
def test_repository_must_be_a_github_repository(repo_url):
    with pytest.raises(ValueError, match="repo_url must look like 'https://github.com/OWNER/NAME'"):
        authoring.check_repository(repo_url, "main")


@pytest.mark.parametrize("branch", ["", "-x", "a b", "a..b", 3])
def test_branch_must_be_a_branch_name(branch):
    with pytest.raises(ValueError, match="branch must be a branch name"):
        authoring.check_repository("https://github.com/me/fork", branch)


def test_a_fork_changes_badges_and_install_cell_in_one_place(monkeypatch):
    assert authoring.check_repository() == (authoring.REPO_URL, authoring.BRANCH)
    monkeypatch.setattr(authoring, "REPO_URL", "https://github.com/me/my-fork")
    monkeypatch.setattr(authoring, "BRANCH", "spring-2027")
    assert authoring.colab_badge("notebooks/00_x.ipynb").endswith(
        "(https://colab.research.google.com/github/me/my-fork/blob/spring-2027/notebooks/00_x.ipynb)"
    )
    assert "'git+https://github.com/me/my-fork@spring-2027'" in authoring.colab_install_cell()
    monkeypatch.setattr(authoring, "REPO_URL", "https://github.com/me/my-fork.git")
    with pytest.raises(ValueError, match="repo_url"):
        authoring.colab_install_cell()


@pytest.mark.parametrize("relpath", ["/abs/00_x.ipynb", "notebooks/00_x.py", "../00_x.ipynb", None])
def test_badge_needs_a_notebook_path_inside_the_repository(relpath):
    with pytest.raises(ValueError, match="relpath must be a notebook path"):
        authoring.colab_badge(relpath)


STORED = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")) + sorted(
    (ROOT / "notebooks" / "solutions").glob("[0-9][0-9]_*.ipynb")
)
COLAB_LINK = re.compile(r"https://colab\.research\.google\.com/github/([^)\s\"']+)")


@pytest.mark.parametrize("path", STORED, ids=lambda p: p.name)
def test_stored_badges_and_install_cells_use_the_repository(path):
    """Every badge opens this very notebook in REPO_URL@BRANCH; every install cell is the generated one."""
    nb = nbformat.read(path, as_version=4)
    relpath = path.relative_to(ROOT).as_posix()
    assert nb.cells[0].source.endswith(authoring.colab_badge(relpath)), (
        f"{relpath}: its badge is not authoring.colab_badge(); rebuild it with `make notebooks NB=...`"
    )
    slug = authoring.REPO_URL.removeprefix("https://github.com/")
    for cell in nb.cells:
        for link in COLAB_LINK.findall(cell.source):
            prefix = f"{slug}/blob/{authoring.BRANCH}/"
            assert link.startswith(prefix), (
                f"{relpath}: Colab link {link!r} is not in {authoring.REPO_URL}@{authoring.BRANCH}"
            )
            assert (ROOT / link.removeprefix(prefix)).is_file(), f"{relpath}: Colab link to a missing notebook: {link}"
    install = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith(authoring.COLAB_MARKER)]
    assert [c.source for c in install] == [authoring.colab_install_cell()], (
        f"{relpath}: its install cell differs from authoring.colab_install_cell(); rebuild it with `make notebooks`"
    )
    assert all("git+" not in c.source for c in nb.cells if c not in install), f"{relpath}: another pip URL"


def _demo_source(tmp_path):
    """notebooks/src/42_demo.py under tmp_path, holding SOURCE."""
    src_dir = tmp_path / "notebooks" / "src"
    src_dir.mkdir(parents=True)
    src = src_dir / "42_demo.py"
    src.write_text(SOURCE)
    return src


def test_refresh_markdown_keeps_outputs_and_refuses_code_changes(tmp_path):
    src = _demo_source(tmp_path)
    target = authoring.build(src, run=False)
    stored = nbformat.read(target, as_version=4)
    stored.cells[-1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="1\n")]
    stored.cells[-1].execution_count = 3
    nbformat.write(stored, target)
    # a text edit that also splits one markdown cell into two
    src.write_text(SOURCE.replace("# Some *text*\n", "# Some *new* text\n\n# %% [markdown]\n# ## A new heading\n"))
    authoring.refresh_markdown(src)
    fresh = nbformat.read(target, as_version=4)
    assert [c.source for c in fresh.cells if c.cell_type == "markdown"][1:] == ["Some *new* text", "## A new heading"]
    assert fresh.cells[-1].outputs[0]["text"] == "1\n" and fresh.cells[-1].execution_count == 3
    src.write_text(SOURCE.replace("print(x)", "print(x + 1)"))
    with pytest.raises(ValueError, match="code cells differ"):
        authoring.refresh_markdown(src)


def test_refresh_keeps_the_run_metadata_and_adds_the_sources(tmp_path):
    src = _demo_source(tmp_path)
    target = authoring.build(src, run=False)
    stored = nbformat.read(target, as_version=4)
    stored.cells[-1].metadata["execution"] = {"iopub.status.idle": "2026-01-01T00:00:00Z"}
    nbformat.write(stored, target)
    src.write_text(SOURCE.replace("# %%\nprint(x)", '# %% tags=["keep"]\nprint(x)'))
    authoring.refresh_markdown(src)
    assert nbformat.read(target, as_version=4).cells[-1].metadata == {
        "execution": {"iopub.status.idle": "2026-01-01T00:00:00Z"},
        "tags": ["keep"],
    }


def test_command_line_builds_into_a_folder_and_refreshes(tmp_path, capsys):
    src = _demo_source(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    assert authoring.main(["build", "--no-execute", "--out-dir", str(out), str(src)]) == 0
    built = nbformat.read(out / "42_demo.ipynb", as_version=4)
    assert built.cells[0].source.endswith(authoring.colab_badge("notebooks/42_demo.ipynb"))
    assert not (tmp_path / "notebooks" / "42_demo.ipynb").exists()  # --out-dir: nothing beside the source
    assert authoring.main(["build", "--no-execute", str(src)]) == 0
    src.write_text(SOURCE.replace("Some *text*", "Other text"))
    assert authoring.main(["refresh", str(src)]) == 0
    assert nbformat.read(tmp_path / "notebooks" / "42_demo.ipynb", as_version=4).cells[3].source == "Other text"
    assert "42_demo.ipynb" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        authoring.main(["build"])  # no source


def test_refresh_carries_tag_changes_and_keeps_outputs_ids_and_timings(tmp_path):
    """Tags added, changed or removed on a `# %%` line reach the stored notebook; nothing of the run changes."""
    src = _demo_source(tmp_path)
    target = authoring.build(src, run=False)
    stored = nbformat.read(target, as_version=4)
    for count, cell in enumerate((c for c in stored.cells if c.cell_type == "code"), start=1):
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"{count}\n")]
        cell.execution_count = count
        cell.metadata["execution"] = {"iopub.status.idle": f"2026-01-0{count}T00:00:00Z"}
    nbformat.write(stored, target)
    run_of = {
        c.id: (c.outputs, c.execution_count, c.metadata["execution"]) for c in stored.cells if c.cell_type == "code"
    }

    def refreshed(text):
        src.write_text(text)
        authoring.refresh_markdown(src)
        nb = nbformat.read(target, as_version=4)
        assert [c.id for c in nb.cells] == [c.id for c in stored.cells]
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert {c.id: (c.outputs, c.execution_count, c.metadata["execution"]) for c in code} == run_of
        return [c.metadata.get("tags") for c in nb.cells]

    tagged = SOURCE.replace("# %%\nx = 1", '# %% tags=["same-online"]\nx = 1')
    assert refreshed(tagged) == [None, None, ["same-online"], None, None]
    changed = tagged.replace('"same-online"', '"online-expected", "x"')
    assert refreshed(changed) == [None, None, ["online-expected", "x"], None, None]
    assert refreshed(SOURCE) == [None] * 5  # removed from the source: removed from the notebook
    assert "tags" not in nbformat.read(target, as_version=4).cells[2].metadata
