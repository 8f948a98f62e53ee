"""Rehearse the Colab install cell in a fresh virtual environment that resembles Colab's runtime.

    python tools/colab_rehearsal.py [--keep] [--cache DIR] [--out DIR]
    (or: .venv/bin/python -m pytest tests/colab, which asserts on the result; CI runs that)

1. Snapshot: the checkout's files as they are on disk (tracked files with their edits, plus
   untracked files that git does not ignore; no virtual environments) are copied into a throw-away
   git repository and committed on the course's branch, so the install cell's pip URL,
   ``git+file://localhost/<that repository>@<branch>``, installs exactly what is on disk. The
   checkout itself, its index and its refs are never written.
2. A fake Colab: a new venv on this Python (Colab has 3.13; the course's CI machines have a CPU
   torch wheel for 3.11 only) with torch's CPU build and a sample of what Colab preinstalls at
   Colab's own pins (:data:`COLAB_PINS`), installed with uv, plus a stub ``google.colab`` module.
   ``pip freeze`` and ``pip check`` are recorded.
3. The notebooks' first cells, in an IPython shell of that venv (as in a Colab kernel, with
   ``google.colab`` imported and working directory an empty folder, like /content): the install
   cell that ``tools/authoring.py`` generates, pointed at the snapshot through
   ``COURSE_INSTALL_URL``, then notebook 00's setup cell with ``HF_HUB_OFFLINE=1``, then a cell
   that imports every runtime distribution and what the notebooks take from them (Trainer,
   LoraConfig, CrossEncoder...), so that the mix of Colab's and upgraded versions is exercised.
4. ``pip freeze`` and ``pip check`` again; :func:`rehearse` returns everything a test asserts on
   (added, upgraded and downgraded packages, the runtime's dependency closure, the cells' output,
   timings) and writes it to ``build/colab/`` (report.json, freeze-before.txt, freeze-after.txt).

Downloads are cached under ``data/cache/colab-rehearsal/`` (uv's and pip's caches; git-ignored, kept
between runs), so a second run downloads nothing new. pip runs with no configuration file, as on
Colab (this machine's pip.conf points at local indexes and caps torch), and with torch constrained
to the preinstalled build, so that a mistake can never pull a multi-GB CUDA build.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tools/authoring.py

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
SETUP_NOTEBOOK = ROOT / "notebooks" / "00_environment_and_tensors.ipynb"
DEFAULT_CACHE = ROOT / "data" / "cache" / "colab-rehearsal"
DEFAULT_OUT = ROOT / "build" / "colab"
TORCH_VERSION = "2.13.0"
WHEEL_DIRS = tuple(p for p in os.environ.get("COURSE_WHEEL_DIRS", "/opt/wheels").split(os.pathsep) if p)

#: What Colab preinstalls, a sample: the packages the course's runtime shares with Colab, the
#: Jupyter and test pieces that the course's extras would otherwise touch, and the plumbing they
#: pull. Versions are Colab's own pins as recorded in googlecolab/backend-info, pip-freeze.txt
#: (commit a72407924822, 2026-08-19: the runtime with Python 3.13.15). Not every Colab package is
#: here (Colab has about 640), and torch is the CPU build of the course's release, not Colab's
#: 2.11.0 (whose CPU wheel comes from PyTorch's own index, which CI cannot reach).
COLAB_PINS_FILE = Path(__file__).with_name("colab_pins.txt")
COLAB_PINS: dict[str, str] = dict(
    line.split("==", 1) for line in COLAB_PINS_FILE.read_text(encoding="utf-8").splitlines() if "==" in line
)

#: Distributions that only the extras bring and that the Colab cell must never add.
NOT_FOR_COLAB: frozenset[str] = frozenset(
    canonicalize_name(n)
    for n in (
        "jupyterlab",
        "jupyter-server",
        "notebook",
        "nbval",
        "pytest",
        "coverage",
        "gguf",
        "nbconvert",
        "playwright",
        "uv",
    )
)

#: Import names of runtime distributions whose module is not named like the distribution.
IMPORT_NAMES = {"scikit-learn": "sklearn", "pyyaml": "yaml", "sentence-transformers": "sentence_transformers"}

STUB_COLAB = '''"""Stand-in for Colab's google.colab package (the course's Colab rehearsal): importing it is what
the notebooks' install cell looks for ('google.colab' in sys.modules)."""
'''

DRIVER = r"""
import json, sys, time
import google.colab  # a Colab kernel imports it at start-up
from IPython.core.interactiveshell import InteractiveShell

cells = json.loads(open(sys.argv[1], encoding="utf-8").read())
shell = InteractiveShell.instance()
for i, source in enumerate(cells):
    print(f"[rehearsal] cell {i} starts", flush=True)
    t0 = time.perf_counter()
    result = shell.run_cell(source, store_history=True)
    seconds = time.perf_counter() - t0
    sys.stdout.flush()
    if not result.success:
        print(f"[rehearsal] cell {i} failed after {seconds:.1f} s", flush=True)
        sys.exit(3)
    print(f"[rehearsal] cell {i} ran in {seconds:.1f} s", flush=True)
import course_utils
print("[rehearsal] course_utils from " + course_utils.__file__, flush=True)
"""


class RehearsalError(RuntimeError):
    """A step of the rehearsal failed; the message names the step and shows its output's tail."""


@dataclass
class Result:
    """What one rehearsal found (versions are ``{canonical name: version}``)."""

    python: str
    install_url: str
    snapshot_commit: str
    before: dict[str, str]
    after: dict[str, str]
    pip_check_before: str
    pip_check_after: str
    pip_check_after_ok: bool
    runtime_closure: list[str]
    installed_commit: str
    installed_matches_disk: list[str]
    cells_output: str
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def added(self) -> dict[str, str]:
        return {n: v for n, v in self.after.items() if n not in self.before}

    @property
    def removed(self) -> dict[str, str]:
        return {n: v for n, v in self.before.items() if n not in self.after}

    @property
    def changed(self) -> dict[str, tuple[str, str]]:
        return {n: (v, self.after[n]) for n, v in self.before.items() if n in self.after and self.after[n] != v}

    @property
    def downgraded(self) -> dict[str, tuple[str, str]]:
        return {n: (old, new) for n, (old, new) in self.changed.items() if Version(new) < Version(old)}


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def run(cmd: list, *, timeout: float, env: dict | None = None, cwd: Path | None = None, what: str) -> str:
    """Run ``cmd`` (its own process group), return stdout+stderr; on failure or timeout kill the group
    and raise :class:`RehearsalError` naming ``what``."""
    if not cmd or timeout <= 0:
        raise ValueError(f"cmd must be a non-empty list and timeout positive, got {cmd!r}, {timeout!r}")
    proc = subprocess.Popen(
        [str(c) for c in cmd],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=cwd,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except BaseException as exc:  # a timeout, or the test run interrupted: stop the whole group either way
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.communicate()
        if isinstance(exc, subprocess.TimeoutExpired):
            raise RehearsalError(f"{what}: stopped after {timeout:g} s: {' '.join(map(str, cmd))[:300]}") from None
        raise
    if proc.returncode != 0:
        raise RehearsalError(f"{what} failed (exit {proc.returncode}): {' '.join(map(str, cmd))[:300]}\n{_tail(out)}")
    return out


def _git(*args: str, cwd: Path) -> str:
    return run(["git", "-c", "core.quotepath=off", *args], cwd=cwd, timeout=120, what=f"git {args[0]}").strip()


def copy_checkout(root: Path, dest: Path) -> int:
    """Copy the files of the checkout ``root`` as they are on disk into the new or empty folder ``dest``.

    Tracked files (their working-tree content; deleted ones stay deleted) and untracked files that
    git does not ignore, except anything inside a virtual environment (a folder with a
    ``pyvenv.cfg``); symlinks stay symlinks. ``root`` is only read. Returns how many files were copied.
    """
    root, dest = Path(root).resolve(), Path(dest).resolve()
    if not (root / ".git").exists():
        raise ValueError(f"root must be a git checkout, got {root}")
    if dest.exists() and any(dest.iterdir()):
        raise ValueError(f"dest must be a new or empty folder, got {dest}")
    listed = _git("ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=root)
    names = sorted({n for n in listed.split("\0") if n})
    venvs = {str(Path(n).parent) for n in names if Path(n).name == "pyvenv.cfg"}
    dest.mkdir(parents=True, exist_ok=True)
    copied = 0
    for name in names:
        if any(name == v or name.startswith(v + "/") for v in venvs):
            continue
        src = root / name
        if not (src.is_file() or src.is_symlink()):  # deleted in the working tree, or a submodule folder
            continue
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            target.symlink_to(os.readlink(src))
        else:
            shutil.copy2(src, target)
        copied += 1
    if not copied:
        raise RehearsalError(f"snapshot: no files to copy from {root}")
    return copied


def snapshot(root: Path, dest: Path, branch: str = "main") -> tuple[str, str]:
    """Commit the files of the checkout ``root`` as they are on disk into a new repository ``dest``.

    The files are those :func:`copy_checkout` copies. ``root`` is only read. Returns
    ``(pip URL, commit)``, the URL being ``git+file://localhost<dest>@<branch>`` (pip 23 rejects
    ``git+file:///...``).
    """
    root, dest = Path(root).resolve(), Path(dest).resolve()
    if not branch or branch.startswith("-") or " " in branch:
        raise ValueError(f"branch must be a branch name such as 'main', got {branch!r}")
    copy_checkout(root, dest)
    _git("init", "-q", "-b", branch, cwd=dest)
    _git("add", "-A", "-f", cwd=dest)
    _git(
        "-c",
        "user.name=Colab rehearsal",
        "-c",
        "user.email=rehearsal@localhost",
        "commit",
        "-q",
        "--no-verify",
        "-m",
        f"snapshot of {root} for the Colab rehearsal",
        cwd=dest,
    )
    commit = _git("rev-parse", "HEAD", cwd=dest)
    return f"git+file://localhost{dest}@{branch}", commit


def versions(site_dirs: list[Path]) -> dict[str, str]:
    """``{canonical name: version}`` of the distributions installed in ``site_dirs``."""
    from importlib import metadata

    found = {}
    for dist in metadata.distributions(path=[str(p) for p in site_dirs]):
        name = dist.metadata["Name"]
        if name:
            found.setdefault(canonicalize_name(name), dist.version)
    return found


def dependency_closure(site_dirs: list[Path], root: str, python_version: str) -> set[str]:
    """Canonical names of ``root`` and everything its installed requirements pull, transitively.

    Only what ``root`` requires without extras is followed (extras named by a requirement, such as
    ``fsspec[http]``, are followed for that package); environment markers are evaluated for
    ``python_version`` ("3.11") on this platform.
    """
    from importlib import metadata

    dists = {}
    for dist in metadata.distributions(path=[str(p) for p in site_dirs]):
        if dist.metadata["Name"]:
            dists.setdefault(canonicalize_name(dist.metadata["Name"]), dist)
    start = canonicalize_name(root)
    if start not in dists:
        raise ValueError(f"root {root!r} is not installed in {site_dirs}")
    seen: set[str] = set()
    queue: list[tuple[str, frozenset[str]]] = [(start, frozenset())]
    done: set[tuple[str, frozenset[str]]] = set()
    while queue:
        name, extras = queue.pop()
        if (name, extras) in done:
            continue
        done.add((name, extras))
        seen.add(name)
        dist = dists.get(name)
        if dist is None:
            continue
        for line in dist.requires or []:
            req = Requirement(line)
            env = {"python_version": python_version, "python_full_version": python_version + ".0"}
            if req.marker is not None and not any(req.marker.evaluate({**env, "extra": e}) for e in (extras or {""})):
                continue
            queue.append((canonicalize_name(req.name), frozenset(req.extras)))
    return seen


def _site_dirs(python: Path) -> list[Path]:
    out = run(
        [
            python,
            "-c",
            "import sysconfig, json; print(json.dumps([sysconfig.get_path('purelib'), sysconfig.get_path('platlib')]))",
        ],
        timeout=60,
        what="site-packages lookup",
    )
    return sorted({Path(p) for p in json.loads(out.strip().splitlines()[-1])})


def _freeze(python: Path) -> str:
    return run([python, "-m", "pip", "freeze", "--all"], timeout=120, what="pip freeze")


def _pip_check(python: Path) -> tuple[bool, str]:
    proc = subprocess.run([str(python), "-m", "pip", "check"], capture_output=True, text=True, timeout=120)
    return proc.returncode == 0, (proc.stdout + proc.stderr).strip()


def torch_requirement() -> tuple[str, list[str]]:
    """The CPU build of torch for the fake Colab: a local wheel if one is kept, else PyTorch's CPU index."""
    for folder in WHEEL_DIRS:
        for wheel in sorted(Path(folder).glob(f"torch-{TORCH_VERSION}[+-]*.whl")):
            return f"torch @ {wheel.resolve().as_uri()}", []
    return f"torch=={TORCH_VERSION}", ["--torch-backend=cpu"]


def setup_cell(notebook: Path = SETUP_NOTEBOOK) -> str:
    """The setup cell of ``notebook``: its first code cell after the Colab install cell."""
    import authoring  # tools/authoring.py, beside this file
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    if len(code) < 2 or not code[0].startswith(authoring.COLAB_MARKER) or "setup(" not in code[1]:
        raise RehearsalError(f"{notebook.name}: expected the Colab install cell, then the setup cell")
    return code[1]


def runtime_requirements(pyproject: Path = ROOT / "pyproject.toml") -> list[Requirement]:
    """The runtime's requirements: ``[project.dependencies]`` of ``pyproject``."""
    import tomllib

    return [Requirement(r) for r in tomllib.loads(Path(pyproject).read_text())["project"]["dependencies"]]


def runtime_imports_cell(requirements: list[Requirement]) -> str:
    """A cell that imports every runtime distribution, then what the notebooks take from them."""
    modules = [
        IMPORT_NAMES.get(canonicalize_name(r.name), canonicalize_name(r.name).replace("-", "_")) for r in requirements
    ]
    if not modules:
        raise ValueError("requirements must name at least one distribution")
    return "\n".join(
        ["# the runtime's imports, as the notebooks use them"]
        + [f"import {m}" for m in modules]
        + [
            "from transformers import AutoModelForSequenceClassification, AutoTokenizer, Trainer, TrainingArguments, pipeline",
            "from peft import LoraConfig, PeftModel, get_peft_model",
            "from sentence_transformers import CrossEncoder, SentenceTransformer",
            "import course_utils.check, course_utils.metrics, course_utils.plots",
            f"print('[rehearsal] runtime imports ok: {len(modules)} distributions')",
        ]
    )


def _uv() -> str:
    for candidate in (Path(sys.executable).parent / "uv", shutil.which("uv")):
        if candidate and Path(candidate).is_file():
            return str(candidate)
    raise RehearsalError("uv not found next to this Python nor on PATH: run `make install` (it installs uv into .venv)")


def rehearse(work: Path, cache: Path = DEFAULT_CACHE, out: Path | None = DEFAULT_OUT, log=print) -> Result:
    """Run the whole rehearsal in the empty folder ``work`` (the caller removes it); see the module doc."""
    import authoring  # tools/authoring.py, beside this file

    work, cache = Path(work), Path(cache)
    if not work.is_dir() or any(work.iterdir()):
        raise ValueError(f"work must be an existing empty folder, got {work}")
    seconds: dict[str, float] = {}
    t_all = time.perf_counter()
    uv = _uv()
    (cache / "uv").mkdir(parents=True, exist_ok=True)
    (cache / "pip").mkdir(parents=True, exist_ok=True)
    py_version = f"{sys.version_info.major}.{sys.version_info.minor}"

    t0 = time.perf_counter()
    url, commit = snapshot(ROOT, work / "repo", authoring.BRANCH)  # 1. the checkout as it is on disk
    seconds["snapshot"] = time.perf_counter() - t0
    log(f"snapshot {commit[:12]} -> {url}  ({seconds['snapshot']:.1f} s)")

    venv = work / "colab"
    python = venv / "bin" / "python"
    clean_env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIP_", "UV_", "PYTHON", "VIRTUAL_ENV", "CONDA", "HF_", "COURSE_", "COLAB_"))
    }
    t0 = time.perf_counter()
    site_dirs = fake_colab(venv, uv, cache, clean_env)  # 2. a venv with Colab's pins
    seconds["fake_colab"] = time.perf_counter() - t0
    log(f"fake Colab in {venv} ({seconds['fake_colab']:.1f} s)")

    freeze_before = _freeze(python)
    before = versions(site_dirs)
    _, check_before = _pip_check(python)

    t0 = time.perf_counter()
    cells_output = run_cells(work, venv, url, before["torch"], cache, clean_env)  # 3. the notebooks' first cells
    seconds["cells"] = time.perf_counter() - t0
    log(f"cells ran ({seconds['cells']:.1f} s)")

    freeze_after = _freeze(python)  # 4. what changed
    after = versions(site_dirs)
    ok_after, check_after = _pip_check(python)
    closure = sorted(dependency_closure(site_dirs, "course-utils", py_version))
    installed_commit, same = installed_course(site_dirs)
    seconds["total"] = time.perf_counter() - t_all

    result = Result(
        python=sys.version.split()[0],
        install_url=url,
        snapshot_commit=commit,
        before=before,
        after=after,
        pip_check_before=check_before,
        pip_check_after=check_after,
        pip_check_after_ok=ok_after,
        runtime_closure=closure,
        installed_commit=installed_commit,
        installed_matches_disk=same,
        cells_output=cells_output,
        seconds={k: round(v, 1) for k, v in seconds.items()},
    )
    if out is not None:
        write_report(Path(out), result, freeze_before, freeze_after)
    return result


def fake_colab(venv: Path, uv: str, cache: Path, env: dict) -> list[Path]:
    """Step 2: a new venv with torch's CPU build, Colab's pins (:data:`COLAB_PINS`) and a stub
    ``google.colab``; returns its site-packages folders."""
    python = venv / "bin" / "python"
    run([sys.executable, "-m", "venv", "--without-pip", venv], timeout=120, what="python -m venv")
    torch_req, torch_flags = torch_requirement()
    pins = [f"{name}=={version}" for name, version in COLAB_PINS.items()]
    uv_install = [uv, "pip", "install", "--quiet", "--python", python, "--cache-dir", cache / "uv"]
    run(
        [*uv_install, *torch_flags, torch_req, *pins],
        env=env,
        timeout=1200,
        what="fake Colab: uv pip install of Colab's pins",
    )
    site_dirs = _site_dirs(python)
    stub = site_dirs[0] / "google" / "colab"
    stub.mkdir(parents=True, exist_ok=True)  # no google/__init__.py: a namespace package, as Colab's
    (stub / "__init__.py").write_text(STUB_COLAB, encoding="utf-8")
    return site_dirs


def run_cells(work: Path, venv: Path, url: str, torch_version: str, cache: Path, env: dict) -> str:
    """Step 3: the install cell (pointed at ``url``), notebook 00's setup cell and the runtime's imports,
    in an IPython shell of ``venv`` as in a Colab kernel; returns their output."""
    import authoring  # tools/authoring.py, beside this file

    cells = [
        authoring.colab_install_cell(),
        setup_cell(),
        runtime_imports_cell(runtime_requirements(work / "repo" / "pyproject.toml")),
    ]
    (work / "cells.json").write_text(json.dumps(cells), encoding="utf-8")
    (work / "driver.py").write_text(DRIVER, encoding="utf-8")
    content = work / "content"  # Colab's working directory: nothing of the course in it
    content.mkdir()
    home = work / "home"
    home.mkdir()
    constraints = work / "torch-constraint.txt"
    constraints.write_text(f"torch=={torch_version}\n", encoding="utf-8")
    cell_env = {
        **env,
        "HOME": str(home),
        "PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        "VIRTUAL_ENV": str(venv),
        "PIP_CONFIG_FILE": os.devnull,  # as on Colab: no local index, no torch cap
        "PIP_CACHE_DIR": str(cache / "pip"),
        "PIP_CONSTRAINT": str(constraints),  # a slip can never pull a CUDA torch (several GB)
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_INPUT": "1",
        "COLAB_RELEASE_TAG": "rehearsal",
        authoring.INSTALL_URL_ENV: url,
        "HF_HUB_OFFLINE": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "MPLBACKEND": "Agg",
    }
    return run(
        [venv / "bin" / "python", work / "driver.py", work / "cells.json"],
        env=cell_env,
        cwd=content,
        timeout=1200,
        what="the install cell and the setup cell",
    )


def installed_course(site_dirs: list[Path]) -> tuple[str, list[str]]:
    """The commit pip installed course-utils from, and its ``.py`` files that match this checkout's."""
    from importlib import metadata

    dist = next(
        d
        for d in metadata.distributions(path=[str(p) for p in site_dirs])
        if canonicalize_name(d.metadata["Name"] or "") == "course-utils"
    )
    direct = json.loads(dist.read_text("direct_url.json") or "{}")
    same = []
    for f in dist.files or []:
        if f.suffix == ".py" and f.parts[0] == "course_utils":
            disk = ROOT / Path(*f.parts)
            if disk.is_file() and Path(f.locate()).read_bytes() == disk.read_bytes():
                same.append("/".join(f.parts))
    return direct.get("vcs_info", {}).get("commit_id", ""), sorted(same)


def write_report(out: Path, result: Result, freeze_before: str, freeze_after: str) -> None:
    """``out/report.json`` (the result with its added, changed and removed packages) and the two freezes."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "freeze-before.txt").write_text(freeze_before, encoding="utf-8")
    (out / "freeze-after.txt").write_text(freeze_after, encoding="utf-8")
    report = asdict(result) | {"added": result.added, "changed": result.changed, "removed": result.removed}
    (out / "report.json").write_text(json.dumps(report, indent=1, sort_keys=True), encoding="utf-8")


def summary(result: Result) -> str:
    """A short human-readable account of ``result``."""
    lines = [f"python {result.python}; installed {result.install_url} (commit {result.installed_commit[:12]})"]
    lines.append(
        "changed: " + (", ".join(f"{n} {a} -> {b}" for n, (a, b) in sorted(result.changed.items())) or "nothing")
    )
    lines.append("added:   " + (", ".join(f"{n} {v}" for n, v in sorted(result.added.items())) or "nothing"))
    lines.append("pip check after: " + result.pip_check_after.replace("\n", "; "))
    lines.append("times: " + ", ".join(f"{k} {v:.1f} s" for k, v in result.seconds.items()))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="uv and pip caches (kept between runs)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where report.json and the freezes go")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (snapshot, fake Colab venv)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="colab-rehearsal-"))
    try:
        result = rehearse(work, args.cache, args.out)
    except RehearsalError as exc:
        print(f"colab_rehearsal: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(summary(result))
    print(f"report: {args.out / 'report.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
