"""Plumbing shared by the tools and the test harnesses (the bundle, the Colab rehearsal, the browser checks).

Commands that are stopped with their whole process group, a copy of the checkout as it is on disk,
the uv next to this Python, torch's CPU build, and the Chromium that Playwright drives.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

TORCH_VERSION = "2.13.0"
WHEEL_DIRS = tuple(p for p in os.environ.get("COURSE_WHEEL_DIRS", "/opt/wheels").split(os.pathsep) if p)
#: Headless Chromium here: no sandbox (containers run as root), no GPU, a small /dev/shm is fine, and
#: nothing fetched in the background (a check must see only the page's own requests).
CHROMIUM_ARGS = ("--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run")  # fmt: skip


class RehearsalError(RuntimeError):
    """A step of a rehearsal or build failed; the message names the step and shows its output's tail."""


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


def git(*args: str, cwd: Path) -> str:
    """``git ARGS`` in ``cwd`` (paths unquoted), its output stripped."""
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
    listed = git("ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=root)
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


def torch_requirement() -> tuple[str, list[str]]:
    """The CPU build of torch: a local wheel if one is kept, else PyTorch's CPU index (uv's flag)."""
    for folder in WHEEL_DIRS:
        for wheel in sorted(Path(folder).glob(f"torch-{TORCH_VERSION}[+-]*.whl")):
            return f"torch @ {wheel.resolve().as_uri()}", []
    return f"torch=={TORCH_VERSION}", ["--torch-backend=cpu"]


def find_uv() -> str:
    """The uv next to this Python, else the one on PATH."""
    for candidate in (Path(sys.executable).parent / "uv", shutil.which("uv")):
        if candidate and Path(candidate).is_file():
            return str(candidate)
    raise RehearsalError("uv not found next to this Python nor on PATH: run `make install` (it installs uv into .venv)")


def chromium() -> str | None:
    """The Chromium to drive: ``$CHROMIUM`` (kit.mk passes its own, the one place that names it), else
    ``chromium`` on PATH; None when neither."""
    return os.environ.get("CHROMIUM") or shutil.which("chromium")
