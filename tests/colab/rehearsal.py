"""Rehearse the Colab install cell in a fresh virtual environment that resembles Colab's runtime.

    python tests/colab/rehearsal.py [--keep] [--cache DIR] [--out DIR]
    (or: .venv/bin/python -m pytest tests/colab, which asserts on the result; CI runs that)

CONTRIBUTING.md ("Colab, rehearsed") describes the steps: a snapshot of the checkout as it is on
disk, a fake Colab venv at Colab's pins (colab_pins.txt), the install cell pointed at the snapshot,
notebook 00's setup cell and the runtime's imports in an IPython shell, then what changed.
Downloads are cached under ``data/cache/colab-rehearsal/``. pip runs with no configuration file, as
on Colab (this machine's pip.conf points at local indexes and caps torch), and with torch constrained
to the preinstalled build, so that a mistake can never pull a multi-GB CUDA build.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))  # authoring.py and plumbing.py

import authoring  # noqa: E402
from plumbing import RehearsalError, copy_checkout, find_uv, git, run, torch_requirement  # noqa: E402

SETUP_NOTEBOOK = ROOT / "notebooks" / "00_environment_and_tensors.ipynb"
DEFAULT_CACHE = ROOT / "data" / "cache" / "colab-rehearsal"
DEFAULT_OUT = ROOT / "build" / "colab"

#: What Colab preinstalls, a sample at Colab's own pins (colab_pins.txt says where they were read).
COLAB_PINS: dict[str, str] = dict(
    line.split("==", 1)
    for line in Path(__file__).with_name("colab_pins.txt").read_text(encoding="utf-8").splitlines()
    if "==" in line
)

#: Distributions that only the extras bring and that the Colab cell must never add (canonical names).
NOT_FOR_COLAB = frozenset(
    "jupyterlab jupyter-server notebook nbval pytest coverage gguf nbconvert playwright uv".split()
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


def snapshot(root: Path, dest: Path, branch: str = "main") -> tuple[str, str]:
    """Commit the files of the checkout ``root`` as they are on disk into a new repository ``dest``.

    The files are those :func:`plumbing.copy_checkout` copies. ``root`` is only read. Returns
    ``(pip URL, commit)``, the URL being ``git+file://localhost<dest>@<branch>`` (pip 23 rejects
    ``git+file:///...``).
    """
    root, dest = Path(root).resolve(), Path(dest).resolve()
    if not branch or branch.startswith("-") or " " in branch:
        raise ValueError(f"branch must be a branch name such as 'main', got {branch!r}")
    copy_checkout(root, dest)
    git("init", "-q", "-b", branch, cwd=dest)
    git("add", "-A", "-f", cwd=dest)
    author = ["-c", "user.name=Colab rehearsal", "-c", "user.email=rehearsal@localhost"]
    git(*author, "commit", "-q", "--no-verify", "-m", f"snapshot of {root} for the Colab rehearsal", cwd=dest)
    return f"git+file://localhost{dest}@{branch}", git("rev-parse", "HEAD", cwd=dest)


def distributions(site_dirs: list[Path]) -> dict[str, metadata.Distribution]:
    """``{canonical name: distribution}`` of what is installed in ``site_dirs`` (the first of a name wins)."""
    found: dict[str, metadata.Distribution] = {}
    for dist in metadata.distributions(path=[str(p) for p in site_dirs]):
        if dist.metadata["Name"]:
            found.setdefault(canonicalize_name(dist.metadata["Name"]), dist)
    return found


def versions(site_dirs: list[Path]) -> dict[str, str]:
    """``{canonical name: version}`` of the distributions installed in ``site_dirs``."""
    return {name: dist.version for name, dist in distributions(site_dirs).items()}


def dependency_closure(site_dirs: list[Path], root: str, python_version: str) -> set[str]:
    """Canonical names of ``root`` and everything its installed requirements pull, transitively.

    Only what ``root`` requires without extras is followed (extras named by a requirement, such as
    ``fsspec[http]``, are followed for that package); environment markers are evaluated for
    ``python_version`` ("3.11") on this platform.
    """
    dists = distributions(site_dirs)
    start = canonicalize_name(root)
    if start not in dists:
        raise ValueError(f"root {root!r} is not installed in {site_dirs}")
    env = {"python_version": python_version, "python_full_version": python_version + ".0"}
    queue: list[tuple[str, frozenset[str]]] = [(start, frozenset())]
    done: set[tuple[str, frozenset[str]]] = set()
    while queue:
        name, extras = queue.pop()
        if (name, extras) in done:
            continue
        done.add((name, extras))
        dist = dists.get(name)
        if dist is None:
            continue
        for line in dist.requires or []:
            req = Requirement(line)
            if req.marker is not None and not any(req.marker.evaluate({**env, "extra": e}) for e in (extras or {""})):
                continue
            queue.append((canonicalize_name(req.name), frozenset(req.extras)))
    return {name for name, _ in done}


def _site_dirs(python: Path) -> list[Path]:
    code = "import sysconfig, json; print(json.dumps([sysconfig.get_path(p) for p in ('purelib', 'platlib')]))"
    out = run([python, "-c", code], timeout=60, what="site-packages lookup")
    return sorted({Path(p) for p in json.loads(out.strip().splitlines()[-1])})


def _freeze(python: Path) -> str:
    return run([python, "-m", "pip", "freeze", "--all"], timeout=120, what="pip freeze")


def _pip_check(python: Path) -> tuple[bool, str]:
    proc = subprocess.run([str(python), "-m", "pip", "check"], capture_output=True, text=True, timeout=120)
    return proc.returncode == 0, (proc.stdout + proc.stderr).strip()


def setup_cell(notebook: Path = SETUP_NOTEBOOK) -> str:
    """The setup cell of ``notebook``: its first code cell after the Colab install cell."""
    import nbformat

    code = [c.source for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "code"]
    if len(code) < 2 or not code[0].startswith(authoring.COLAB_MARKER) or "setup(" not in code[1]:
        raise RehearsalError(f"{notebook.name}: expected the Colab install cell, then the setup cell")
    return code[1]


def runtime_requirements(pyproject: Path = ROOT / "pyproject.toml") -> list[Requirement]:
    """The runtime's requirements: ``[project.dependencies]`` of ``pyproject``."""
    import tomllib

    return [Requirement(r) for r in tomllib.loads(Path(pyproject).read_text())["project"]["dependencies"]]


def runtime_imports_cell(requirements: list[Requirement]) -> str:
    """A cell that imports every runtime distribution, then what the notebooks take from them."""
    names = [canonicalize_name(r.name) for r in requirements]
    modules = [IMPORT_NAMES.get(n, n.replace("-", "_")) for n in names]
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


def rehearse(work: Path, cache: Path = DEFAULT_CACHE, out: Path | None = DEFAULT_OUT, log=print) -> Result:
    """Run the whole rehearsal in the empty folder ``work`` (the caller removes it); see the module doc."""
    work, cache = Path(work), Path(cache)
    if not work.is_dir() or any(work.iterdir()):
        raise ValueError(f"work must be an existing empty folder, got {work}")
    seconds: dict[str, float] = {}
    t_all = time.perf_counter()

    def timed(step: str, fn: Callable, *args):
        t0 = time.perf_counter()
        value = fn(*args)
        seconds[step] = round(time.perf_counter() - t0, 1)
        log(f"{step}: {seconds[step]:.1f} s")
        return value

    uv = find_uv()
    (cache / "uv").mkdir(parents=True, exist_ok=True)
    (cache / "pip").mkdir(parents=True, exist_ok=True)
    url, commit = timed("snapshot", snapshot, ROOT, work / "repo", authoring.BRANCH)  # the checkout on disk
    log(f"snapshot {commit[:12]} -> {url}")
    venv = work / "colab"
    python = venv / "bin" / "python"
    prefixes = ("PIP_", "UV_", "PYTHON", "VIRTUAL_ENV", "CONDA", "HF_", "COURSE_", "COLAB_")
    clean_env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    site_dirs = timed("fake_colab", fake_colab, venv, uv, cache, clean_env)  # a venv with Colab's pins

    freeze_before = _freeze(python)
    before = versions(site_dirs)
    _, check_before = _pip_check(python)
    cells_output = timed("cells", run_cells, work, venv, url, before["torch"], cache, clean_env)  # the first cells
    freeze_after = _freeze(python)  # what changed
    after = versions(site_dirs)
    ok_after, check_after = _pip_check(python)
    py_version = f"{sys.version_info.major}.{sys.version_info.minor}"
    installed_commit, same = installed_course(site_dirs)
    seconds["total"] = round(time.perf_counter() - t_all, 1)

    result = Result(
        python=sys.version.split()[0],
        install_url=url,
        snapshot_commit=commit,
        before=before,
        after=after,
        pip_check_before=check_before,
        pip_check_after=check_after,
        pip_check_after_ok=ok_after,
        runtime_closure=sorted(dependency_closure(site_dirs, "course-utils", py_version)),
        installed_commit=installed_commit,
        installed_matches_disk=same,
        cells_output=cells_output,
        seconds=seconds,
    )
    if out is not None:
        write_report(Path(out), result, freeze_before, freeze_after)
    return result


def fake_colab(venv: Path, uv: str, cache: Path, env: dict) -> list[Path]:
    """A new venv with torch's CPU build, Colab's pins (:data:`COLAB_PINS`) and a stub ``google.colab``;
    returns its site-packages folders. It runs this Python: Colab has 3.13, but the course's CI machines
    keep a CPU torch wheel for 3.11 only."""
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
    """The install cell (pointed at ``url``), notebook 00's setup cell and the runtime's imports,
    in an IPython shell of ``venv`` as in a Colab kernel; returns their output."""
    cells = [
        authoring.colab_install_cell(),
        setup_cell(),
        runtime_imports_cell(runtime_requirements(work / "repo" / "pyproject.toml")),
    ]
    (work / "cells.json").write_text(json.dumps(cells), encoding="utf-8")
    (work / "driver.py").write_text(DRIVER, encoding="utf-8")
    for folder in ("content", "home"):  # content: Colab's working directory, nothing of the course in it
        (work / folder).mkdir()
    constraints = work / "torch-constraint.txt"
    constraints.write_text(f"torch=={torch_version}\n", encoding="utf-8")
    cell_env = {
        **env,
        "HOME": str(work / "home"),
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
    driver = [venv / "bin" / "python", work / "driver.py", work / "cells.json"]
    return run(driver, env=cell_env, cwd=work / "content", timeout=1200, what="the install cell and the setup cell")


def installed_course(site_dirs: list[Path]) -> tuple[str, list[str]]:
    """The commit pip installed course-utils from, and its ``.py`` files that match this checkout's."""
    dist = distributions(site_dirs)["course-utils"]
    direct = json.loads(dist.read_text("direct_url.json") or "{}")
    same = []
    for f in dist.files or []:
        if f.suffix == ".py" and f.parts[0] == "course_utils":
            disk = ROOT / Path(*f.parts)
            if disk.is_file() and Path(f.locate()).read_bytes() == disk.read_bytes():
                same.append("/".join(f.parts))
    return direct.get("vcs_info", {}).get("commit_id", ""), sorted(same)


def report(result: Result) -> dict:
    """``result`` as report.json holds it: its fields and its added, changed and removed packages."""
    return asdict(result) | {"added": result.added, "changed": result.changed, "removed": result.removed}


def write_report(out: Path, result: Result, freeze_before: str, freeze_after: str) -> None:
    """``out/report.json`` (:func:`report`) and the two freezes."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "freeze-before.txt").write_text(freeze_before, encoding="utf-8")
    (out / "freeze-after.txt").write_text(freeze_after, encoding="utf-8")
    (out / "report.json").write_text(json.dumps(report(result), indent=1, sort_keys=True), encoding="utf-8")


def summary(report: dict) -> str:
    """A short human-readable account of a :func:`report` (also as read back from report.json)."""
    changed = ", ".join(f"{n} {a} -> {b}" for n, (a, b) in sorted(report["changed"].items())) or "nothing"
    added = ", ".join(f"{n} {v}" for n, v in sorted(report["added"].items())) or "nothing"
    return "\n".join(
        [
            f"python {report['python']}; installed {report['install_url']} (commit {report['installed_commit'][:12]})",
            f"changed: {changed}",
            f"added:   {added}",
            "pip check after: " + report["pip_check_after"].replace("\n", "; "),
            "times: " + ", ".join(f"{k} {v:.1f} s" for k, v in report["seconds"].items()),
        ]
    )


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
        print(f"rehearsal: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(summary(report(result)))
    print(f"report: {args.out / 'report.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
