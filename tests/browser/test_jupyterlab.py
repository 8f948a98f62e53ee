"""A learner's first minutes, in a real browser: JupyterLab + headless Chromium run notebook 00's first cells.

Starts JupyterLab on 127.0.0.1 with a throw-away config, settings and workspace directory (the
user's own JupyterLab settings are neither read nor changed), opens a copy of
notebooks/00_environment_and_tensors.ipynb without its stored outputs (so autosave can never touch
the committed file, and every output on screen comes from the live kernel), runs the Colab cell,
the setup cell and the first checked tensor cell, checks that their outputs render without errors
and that the tensor cell's match the stored ones, and keeps a screenshot in build/browser/. Run it with
``make browser-test`` (which installs Chromium and Playwright first).

Two variables let ``benchmarks/first_minutes.py`` time a fresh clone with it: ``COURSE_LAB_PYTHON``, the
interpreter that runs JupyterLab and the kernel (default: this one), and ``COURSE_LAB_BRANCH``, ``offline``
(default: ``HF_HUB_OFFLINE=1``) or ``online`` (the offline switches cleared; ``HF_ENDPOINT`` names the Hub or a
mirror). The setup cell must report that branch. Each step's seconds go to build/browser/timings.json.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import nbformat
import pytest

from course_utils.net import free_port

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
import plumbing  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "00_environment_and_tensors.ipynb"
ARTEFACTS = ROOT / "build" / "browser"
CHROMIUM = plumbing.chromium()
INSTALL_HINT = "`make browser-test` installs them (apt-get install chromium chromium-driver; pip install playwright)"
LAB_PYTHON = os.environ.get("COURSE_LAB_PYTHON") or sys.executable
BRANCHES = ("offline", "online")
OFFLINE_SWITCHES = ("HF_HUB_OFFLINE", "HF_EVALUATE_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")
STATUS_IDLE = "Python 3 (ipykernel) | Idle"
ACTIVE_PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"
# No news popup, no update check, no autosave (the notebook is a copy anyway).
OVERRIDES = {
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/docmanager-extension:plugin": {"autosave": False},
}


def _require_browser_stack() -> None:
    missing = []
    if not (CHROMIUM and os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        missing.append(
            f"Chromium at {CHROMIUM}" if CHROMIUM else "Chromium (CHROMIUM is unset and no chromium is on PATH)"
        )
    if importlib.util.find_spec("playwright") is None:
        missing.append("the Python package playwright")
    if missing:
        pytest.fail(f"missing {' and '.join(missing)}: {INSTALL_HINT}", pytrace=False)


def _branch() -> str:
    branch = os.environ.get("COURSE_LAB_BRANCH", "offline")
    if branch not in BRANCHES:
        pytest.fail(f"COURSE_LAB_BRANCH={branch!r}: expected one of {', '.join(BRANCHES)}", pytrace=False)
    if branch == "online" and not os.environ.get("HF_ENDPOINT"):
        pytest.fail("COURSE_LAB_BRANCH=online needs HF_ENDPOINT (the Hub or a mirror's URL)", pytrace=False)
    return branch


def _lab_env(tmp: Path, branch: str) -> dict[str, str]:
    """This process's environment with the branch's switches and throw-away Jupyter folders under ``tmp``."""
    env = {k: v for k, v in os.environ.items() if k not in OFFLINE_SWITCHES}
    if branch == "offline":
        env.update(HF_HUB_OFFLINE="1", HF_EVALUATE_OFFLINE="1")
    env.update(
        COURSE_PROFILE="quick",
        JUPYTER_CONFIG_DIR=str(tmp / "config"),
        JUPYTER_DATA_DIR=str(tmp / "data"),
        JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(tmp / "user-settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"),
        IPYTHONDIR=str(tmp / "ipython"),
    )
    return env


@contextmanager
def _timed(timings: dict[str, float], step: str):
    start = time.monotonic()
    yield
    timings[step] = round(time.monotonic() - start, 2)


def _api(base: str, token: str, path: str, method: str = "GET") -> object:
    req = urllib.request.Request(f"{base}{path}", method=method, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        body = resp.read()
    return json.loads(body) if body else None


def _pick_cells(book) -> dict[str, int]:
    """Indices (in the notebook) of the Colab cell, the setup cell and the first checked tensor cell."""
    code = [i for i, c in enumerate(book.cells) if c.cell_type == "code"]
    setup = next(i for i in code if "cu.setup(" in book.cells[i].source)
    tensor = next(
        i
        for i in code
        if i > setup
        and "nbval-check-output" in book.cells[i].metadata.get("tags", [])
        and "torch." in book.cells[i].source
    )
    return {"colab": code[0], "setup": setup, "tensor": tensor}


def _stored_text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream").strip()


@pytest.fixture(scope="module")
def lab():
    """A JupyterLab server on 127.0.0.1 serving a temporary folder that holds a copy of notebook 00."""
    tmp = Path(tempfile.mkdtemp(prefix="course-browser-"))
    root = tmp / "notebooks"
    root.mkdir()
    # Without its stored outputs: whatever renders in the browser then comes from the live kernel.
    book = nbformat.read(NOTEBOOK, as_version=4)
    for cell in book.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.write(book, root / NOTEBOOK.name)
    settings = tmp / "app-settings"
    settings.mkdir()
    (settings / "overrides.json").write_text(json.dumps(OVERRIDES))
    branch = _branch()
    env = _lab_env(tmp, branch)
    port, token = free_port(), "course-browser-test"
    log = open(tmp / "jupyterlab.log", "wb")
    server = subprocess.Popen(
        [
            LAB_PYTHON, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.port_retries=0",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.token={token}", f"--ServerApp.root_dir={root}",
            f"--LabApp.app_settings_dir={settings}", "--allow-root",
        ],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                pytest.fail(
                    f"JupyterLab exited with {server.returncode}:\n{(tmp / 'jupyterlab.log').read_text()[-3000:]}"
                )
            try:
                _api(base, token, "/api/status")
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not answer in 60 s:\n{(tmp / 'jupyterlab.log').read_text()[-3000:]}")
                time.sleep(0.3)
        timings = {"lab_answers": round(time.monotonic() - started, 2)}
        yield {"base": base, "token": token, "log": tmp / "jupyterlab.log", "branch": branch, "timings": timings}
    finally:
        try:  # kernels outlive the browser: shut them down through the sessions API
            for session in _api(base, token, "/api/sessions"):
                _api(base, token, f"/api/sessions/{session['id']}", method="DELETE")
        except OSError:
            pass
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


def test_notebook_00_first_cells_render_in_chromium(request):
    _require_browser_stack()  # a failure, not a skip: the test exists to be run
    lab = request.getfixturevalue("lab")
    from playwright.sync_api import expect, sync_playwright

    book = nbformat.read(NOTEBOOK, as_version=4)
    picks = _pick_cells(book)
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTEFACTS / f"{NOTEBOOK.stem}.png"
    shot.unlink(missing_ok=True)
    (ARTEFACTS / "timings.json").unlink(missing_ok=True)
    timings = lab["timings"]
    (ARTEFACTS / "failure.png").unlink(missing_ok=True)
    page_errors: list[str] = []

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=list(plumbing.CHROMIUM_ARGS))
        page = browser.new_page(viewport={"width": 1280, "height": 1500})
        page.on("pageerror", lambda err: page_errors.append(str(err)))
        try:
            with _timed(timings, "notebook_open"):
                page.goto(f"{lab['base']}/lab/tree/{NOTEBOOK.name}?reset&token={lab['token']}")
                panel = page.locator(ACTIVE_PANEL)
                cells = panel.locator(".jp-Notebook .jp-Cell")
                expect(cells).to_have_count(len(book.cells), timeout=60_000)  # every cell of the file is attached
                # The status bar, not the toolbar indicator: the latter reads idle before the kernel exists.
                expect(page.locator("#jp-main-statusbar")).to_contain_text(STATUS_IDLE, timeout=90_000)

            for n, (name, index) in enumerate(picks.items(), start=1):
                cell = cells.nth(index)
                with _timed(timings, f"{name}_cell"):
                    cell.locator(".jp-InputArea-editor").click()
                    page.keyboard.press("Shift+Enter")
                    expect(cell.locator(".jp-InputPrompt")).to_have_text(re.compile(rf"\[{n}\]"), timeout=90_000)
                errors = cell.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
                assert errors.count() == 0, f"{name} cell wrote to stderr or raised: {errors.all_inner_texts()}"
                rendered = cell.locator(".jp-OutputArea-output").all_inner_texts()
                stored = _stored_text(book.cells[index])
                if name == "colab":
                    assert rendered == [], f"the Colab cell printed something outside Colab: {rendered}"
                elif name == "setup":
                    text = "\n".join(rendered)
                    assert "profile: quick" in text and "torch " in text, f"setup report did not render: {text!r}"
                    assert f"Hub: {lab['branch']} (" in text, (
                        f"setup did not report the {lab['branch']} branch: {text!r}"
                    )
                else:
                    assert "\n".join(rendered).strip() == stored, "tensor cell output differs from the stored one"

            expect(page.locator("#jp-main-statusbar")).to_contain_text(STATUS_IDLE, timeout=30_000)
            # Screenshot from the Colab cell down to the tensor cell's output.
            panel.locator(".jp-WindowedPanel-outer").evaluate(
                "(el, top) => { el.scrollTop = top; }",
                cells.nth(picks["colab"]).evaluate("c => c.offsetTop - 8"),
            )
            page.mouse.move(0, 0)
            page.wait_for_timeout(300)
            page.screenshot(path=str(shot))
        except Exception:
            page.screenshot(path=str(ARTEFACTS / "failure.png"))
            raise
        finally:
            browser.close()

    assert shot.stat().st_size > 10_000, "the screenshot is (nearly) empty"
    assert not page_errors, f"JavaScript errors in the page: {page_errors}"
    record = {"branch": lab["branch"], "python": LAB_PYTHON, "seconds": timings}
    (ARTEFACTS / "timings.json").write_text(json.dumps(record, indent=1) + "\n")
