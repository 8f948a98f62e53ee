"""Notebooks as code: build ``notebooks/NN_topic.ipynb`` from ``notebooks/src/NN_topic.py``.

Sources use the percent format that jupytext and VS Code understand::

    # %% [markdown]
    # # 00 · Title
    # text
    # %%
    code

``python -m course_utils build notebooks/src/00_environment.py`` writes the notebook, adds the
Colab badge and the Colab install cell (from :data:`REPO_URL` and :data:`BRANCH`, set once here),
executes it top to bottom in a fresh kernel (the notebooks folder as working directory) and stores
the outputs.

A fork sets :data:`REPO_URL` (and :data:`BRANCH`) below and rebuilds every notebook
(``make notebooks``); ``tests/test_authoring.py`` checks that every stored badge and install cell
matches. The install cell installs only the runtime (``[project.dependencies]``), and it reads
:data:`INSTALL_URL_ENV` when set, so a branch or a local checkout can be installed without a rebuild
(``tests/colab/`` rehearses the cell that way against a ``git+file://localhost/...`` URL).
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

#: The public repository, set once: Colab badges and the Colab install cell are generated from it.
#: A fork puts its own ``https://github.com/OWNER/NAME`` here and runs ``make notebooks``.
REPO_URL = "https://github.com/hf-course/hands-on-hf-course"
#: The branch that badges open and the install cell installs.
BRANCH = "main"
#: When this environment variable is set, the install cell installs from its value (a pip URL such as
#: ``git+https://github.com/me/fork@my-branch`` or ``git+file://localhost/abs/path@main``) instead.
INSTALL_URL_ENV = "COURSE_INSTALL_URL"
_GITHUB_REPO = re.compile(r"^https://github\.com/[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+$")
_BRANCH = re.compile(r"^[A-Za-z0-9._/-]+$")
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
NOTEBOOK_NAME = re.compile(r"^\d\d_[a-z0-9_]+$")
COLAB_MARKER = "# Colab only: install the course package"


def check_repository(repo_url: str | None = None, branch: str | None = None) -> tuple[str, str]:
    """Return ``(repo_url, branch)`` if they can make badges and install cells, else raise ValueError.

    ``repo_url`` (default :data:`REPO_URL`) must be a GitHub repository's address,
    ``https://github.com/OWNER/NAME`` (Colab opens notebooks from GitHub), without ``.git`` or a
    trailing slash; ``branch`` (default :data:`BRANCH`) a branch name.
    """
    repo_url = REPO_URL if repo_url is None else repo_url
    branch = BRANCH if branch is None else branch
    if not isinstance(repo_url, str) or not _GITHUB_REPO.match(repo_url) or repo_url.endswith(".git"):
        raise ValueError(
            f"repo_url must look like 'https://github.com/OWNER/NAME' (no .git, no trailing slash), got {repo_url!r}"
        )
    if not isinstance(branch, str) or not _BRANCH.match(branch) or branch.startswith(("-", "/")) or ".." in branch:
        raise ValueError(f"branch must be a branch name such as 'main' (letters, digits, . _ - /), got {branch!r}")
    return repo_url, branch


def colab_badge(relpath: str) -> str:
    """Markdown for the "Open in Colab" badge of the notebook at ``relpath`` in the repository."""
    if not isinstance(relpath, str) or not relpath.endswith(".ipynb") or relpath.startswith("/") or ".." in relpath:
        raise ValueError(f"relpath must be a notebook path inside the repository (x/y.ipynb), got {relpath!r}")
    repo_url, branch = check_repository()
    slug = repo_url.removeprefix("https://github.com/")
    url = f"https://colab.research.google.com/github/{slug}/blob/{branch}/{relpath}"
    return f"[![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)]({url})"


def install_url() -> str:
    """The pip URL the install cell uses by default: ``git+REPO_URL@BRANCH``."""
    repo_url, branch = check_repository()
    return f"git+{repo_url}@{branch}"


def colab_install_cell() -> str:
    """The first code cell of every notebook: installs the course in Colab, does nothing elsewhere.

    It installs the runtime only (no JupyterLab, no test tools: Colab has its own Jupyter), from
    :func:`install_url` or, when the variable named by :data:`INSTALL_URL_ENV` is set, from its value.
    """
    return "\n".join(
        [
            COLAB_MARKER + " (does nothing elsewhere; no Drive, no prompts).",
            "import os, subprocess, sys",
            "if 'google.colab' in sys.modules:",
            f"    url = os.environ.get('{INSTALL_URL_ENV}', '{install_url()}')",
            "    subprocess.run([sys.executable, '-m', 'pip', 'install', '-q', f'course-utils @ {url}'], check=True)",
        ]
    )


def parse_percent(text: str) -> list[tuple[str, str]]:
    """Split percent-format source into ``(kind, source)`` cells, kind ``"markdown"`` or ``"code"``."""
    cells: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("# %%"):
            kind = "markdown" if "[markdown]" in line else "code"
            cells.append((kind, []))
            continue
        if not cells:  # header before the first cell marker
            continue
        kind, lines = cells[-1]
        if kind == "markdown":
            if line.strip() and not line.startswith("#"):
                raise ValueError(f"markdown cell line does not start with '#': {line!r}")
            line = line[2:] if line.startswith("# ") else line[1:]
        lines.append(line)
    out = []
    for kind, lines in cells:
        source = "\n".join(lines).strip("\n")
        if source:
            out.append((kind, source))
    return out


def _notebook_relpath(src: Path) -> str:
    """Repository path of the notebook built from ``src`` (``<dir>/src/x.py`` -> ``<dir>/x.ipynb``)."""
    out = Path(src).resolve().parent.parent / f"{Path(src).stem}.ipynb"
    parts = out.parts
    if "notebooks" in parts:
        return "/".join(parts[len(parts) - 1 - parts[::-1].index("notebooks") :])
    return f"notebooks/{out.name}"


def notebook_from_source(src: Path) -> nbformat.NotebookNode:
    """The unexecuted notebook for source file ``src`` (badge and Colab cell added)."""
    stem = src.stem
    if not NOTEBOOK_NAME.match(stem):
        raise ValueError(f"source name must look like NN_topic.py (two digits, lowercase), got {src.name!r}")
    cells = parse_percent(src.read_text(encoding="utf-8"))
    if not cells or cells[0][0] != "markdown" or not cells[0][1].startswith("# "):
        raise ValueError(f"{src}: the first cell must be markdown starting with '# Title'")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    title, *rest = cells
    nb.cells.append(nbformat.v4.new_markdown_cell(title[1] + "\n\n" + colab_badge(_notebook_relpath(src))))
    nb.cells.append(nbformat.v4.new_code_cell(colab_install_cell()))
    for kind, source in rest:
        make = nbformat.v4.new_markdown_cell if kind == "markdown" else nbformat.v4.new_code_cell
        nb.cells.append(make(source))
    for i, cell in enumerate(nb.cells):  # stable ids keep diffs small
        cell["id"] = f"{stem[:2]}-{i:03d}"
    return nb


def execute(nb: nbformat.NotebookNode, workdir: Path, timeout: int = 900) -> None:
    """Run ``nb`` top to bottom in a fresh kernel started in ``workdir``; raise on the first error."""
    from nbclient import NotebookClient

    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}).execute()


def refresh_markdown(src: Path) -> Path:
    """Rewrite the stored notebook of ``src`` with the source's markdown, keeping every code cell's outputs; return its path.

    Only for text changes (markdown cells may be edited, added or removed): the code cells must be
    the stored ones, in the same order, otherwise the notebook must be rebuilt with ``build``.
    """
    src = Path(src)
    target = src.parent.parent / f"{src.stem}.ipynb"
    stored = nbformat.read(target, as_version=4)
    fresh = notebook_from_source(src)
    stored_code = [c for c in stored.cells if c.cell_type == "code"]
    fresh_code = [c for c in fresh.cells if c.cell_type == "code"]
    if [c.source for c in stored_code] != [c.source for c in fresh_code]:
        raise ValueError(f"{target.name}: code cells differ from {src.name}; rebuild it with `make notebooks NB={src}`")
    for old, new in zip(stored_code, fresh_code):
        new.outputs, new.execution_count, new.metadata = old.outputs, old.execution_count, old.metadata
    fresh.metadata = stored.metadata
    nbformat.write(fresh, target)
    return target


def build(src: Path, out_dir: Path | None = None, run: bool = True) -> Path:
    """Write ``<out_dir>/<stem>.ipynb`` from ``src``, executed unless ``run`` is False; return its path."""
    src = Path(src)
    out_dir = Path(out_dir) if out_dir is not None else src.parent.parent
    nb = notebook_from_source(src)
    if run:
        execute(nb, out_dir)
    target = out_dir / f"{src.stem}.ipynb"
    nbformat.write(nb, target)
    return target
