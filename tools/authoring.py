"""Notebooks as code: build ``notebooks/NN_topic.ipynb`` from ``notebooks/src/NN_topic.py``.

    python tools/authoring.py build notebooks/src/00_environment_and_tensors.py   # write and run (make notebooks)
    python tools/authoring.py build --no-execute [--out-dir DIR] SRC ...          # write without outputs
    python tools/authoring.py refresh SRC ...   # markdown and cell-tag edits: keep the stored outputs, run nothing

Sources use jupytext's percent format: jupytext reads them, so cell metadata (``# %% tags=[...]``) and
magics mean there what they mean to jupytext; the comment above the first ``# %%`` is a header, not a
cell. What this module adds is the course's own: names and title cells checked, the Colab badge and
install cell (from :data:`REPO_URL` and :data:`BRANCH`, the one place a fork sets them), stable cell
ids, checked exercise cells, the source's hash, and ``build`` runs the notebook top to bottom in a fresh
kernel. CONTRIBUTING.md ("Adding a notebook", "Colab, rehearsed") says how and why.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import jupytext
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
#: Cell metadata that jupytext records only to write the text back (blank lines, markers): not stored.
JUPYTEXT_ONLY_METADATA = ("lines_to_next_cell", "lines_to_end_of_cell_marker", "cell_marker", "skipline", "noskipline")
#: Cell metadata that a run writes (nbclient's timings): ``refresh`` keeps it; everything else comes from the source.
RUN_METADATA = ("execution",)
#: The cell tag nbval reads (``--nbval-lax``): the cell's stored output is a fact, checked on every run.
#: Written on the source's ``# %%`` line (``# %% tags=["nbval-check-output"]``), never as a comment the learner reads.
CHECK_TAG = "nbval-check-output"
#: An exercise cell calls its checker; its output must be checked (a right answer prints only the verdict).
EXERCISE_CALL = re.compile(r"\bcheck\.exercise_\d\d_\d+\(")
#: Notebook metadata key under which ``build`` and ``refresh`` record what the notebook was built from.
PROVENANCE_KEY = "course"


def source_sha256(src: Path) -> str:
    """The sha256 of the source file's bytes, recorded in the notebook built from it (``metadata.course``)."""
    import hashlib

    return hashlib.sha256(Path(src).read_bytes()).hexdigest()


def provenance_problem(notebook: Path, src: Path) -> str | None:
    """Why the stored ``notebook`` is not the one ``src`` builds now, or None if it was built from ``src`` as it is.

    ``build`` and ``refresh`` record the source's hash (:func:`source_sha256`); a source edited since
    (code, text or tags) leaves the notebook stale until it is rebuilt or refreshed.
    """
    recorded = nbformat.read(notebook, as_version=4).metadata.get(PROVENANCE_KEY, {}).get("source_sha256")
    if recorded is None:
        return f"{Path(notebook).name} records no source hash: rebuild it (make notebooks NB={src})"
    current = source_sha256(src)
    if recorded != current:
        return (
            f"{Path(notebook).name} was built from another version of {Path(src).name} "
            f"({recorded[:12]}, now {current[:12]}): `tools/authoring.py refresh {src}` for text and tags, "
            f"`make notebooks NB={src}` for code"
        )
    return None


def unchecked_exercises(nb: nbformat.NotebookNode) -> list[str]:
    """Ids of the code cells that call an exercise checker but are not tagged :data:`CHECK_TAG`."""
    return [
        str(c.get("id"))
        for c in nb.cells
        if c.cell_type == "code" and EXERCISE_CALL.search(c.source) and CHECK_TAG not in c.metadata.get("tags", [])
    ]


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


def source_cells(text: str) -> list[nbformat.NotebookNode]:
    """The cells of percent-format ``text`` as jupytext reads them, less the header comment and empty cells.

    Blank lines around a cell's source are not part of it, and jupytext's own bookkeeping metadata
    (:data:`JUPYTEXT_ONLY_METADATA`) is dropped; metadata written on a ``# %%`` line is kept.
    """
    cells = jupytext.reads(text, fmt="py:percent").cells
    if (
        cells
        and not text.lstrip().startswith("# %%")
        and cells[0].cell_type == "code"
        and all(line.startswith("#") or not line.strip() for line in cells[0].source.splitlines())
    ):
        cells = cells[1:]  # the header comment above the first cell marker
    out = []
    for cell in cells:
        cell.source = cell.source.strip("\n")
        for key in JUPYTEXT_ONLY_METADATA:
            cell.metadata.pop(key, None)
        if cell.source:
            out.append(cell)
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
    src = Path(src)
    stem = src.stem
    if not NOTEBOOK_NAME.match(stem):
        raise ValueError(f"source name must look like NN_topic.py (two digits, lowercase), got {src.name!r}")
    cells = source_cells(src.read_text(encoding="utf-8"))
    if not cells or cells[0].cell_type != "markdown" or not cells[0].source.startswith("# "):
        raise ValueError(f"{src}: the first cell must be markdown starting with '# Title'")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata[PROVENANCE_KEY] = {"source": src.name, "source_sha256": source_sha256(src)}
    title, *rest = cells
    title.source += "\n\n" + colab_badge(_notebook_relpath(src))
    nb.cells = [title, nbformat.v4.new_code_cell(colab_install_cell()), *rest]
    for i, cell in enumerate(nb.cells):  # stable ids keep diffs small
        cell["id"] = f"{stem[:2]}-{i:03d}"
    if unchecked := unchecked_exercises(nb):
        raise ValueError(f"{src}: exercise cells {unchecked} must be tagged {CHECK_TAG} (# %% tags=[{CHECK_TAG!r}])")
    return nb


def execute(nb: nbformat.NotebookNode, workdir: Path, timeout: int = 900) -> None:
    """Run ``nb`` top to bottom in a fresh kernel started in ``workdir``; raise on the first error."""
    from nbclient import NotebookClient

    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}).execute()


def refresh_markdown(src: Path) -> Path:
    """Rewrite the stored notebook of ``src`` with the source's markdown and cell metadata, keeping every code cell's outputs; return its path.

    Only for text and metadata changes (markdown cells may be edited, added or removed; tags on a
    ``# %%`` line added, changed or removed): the code cells must be the stored ones, in the same
    order, otherwise the notebook must be rebuilt with ``build``. Outputs, execution counts, cell
    ids and the run's own cell metadata (:data:`RUN_METADATA`) stay; every other cell metadata is
    the source's, so a tag removed from the source is removed from the notebook too. The source's
    hash is recorded as ``build`` records it: the code that made the outputs is the source's code.
    """
    src = Path(src)
    target = src.parent.parent / f"{src.stem}.ipynb"
    stored = nbformat.read(target, as_version=4)
    fresh = notebook_from_source(src)
    stored_code = [c for c in stored.cells if c.cell_type == "code"]
    fresh_code = [c for c in fresh.cells if c.cell_type == "code"]
    if [c.source for c in stored_code] != [c.source for c in fresh_code]:
        raise ValueError(f"{target.name}: code cells differ from {src.name}; rebuild it with `make notebooks NB={src}`")
    for old, new in zip(stored_code, fresh_code):  # the run's metadata (timings) stays, the rest is the source's
        new.outputs, new.execution_count = old.outputs, old.execution_count
        run = {key: value for key, value in old.metadata.items() if key in RUN_METADATA}
        new.metadata = nbformat.NotebookNode({**run, **new.metadata})
    fresh.metadata = {**stored.metadata, PROVENANCE_KEY: fresh.metadata[PROVENANCE_KEY]}
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/authoring.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="write (and run) notebooks from notebooks/src/NN_topic.py")
    b.add_argument("sources", nargs="+", type=Path)
    b.add_argument("--no-execute", action="store_true", help="write without running (no outputs)")
    b.add_argument("--out-dir", type=Path, help="write the notebooks here (default: the folder above src/)")
    r = sub.add_parser(
        "refresh", help="copy the sources' markdown and cell tags into the stored notebooks, keeping their outputs"
    )
    r.add_argument("sources", nargs="+", type=Path)
    args = parser.parse_args(argv)

    for src in args.sources:
        t0 = time.perf_counter()
        if args.command == "build":
            target = build(src, out_dir=args.out_dir, run=not args.no_execute)
        else:
            target = refresh_markdown(src)
        print(f"{target}  {time.perf_counter() - t0:6.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
