"""The real-browser test runs only when asked for by path (``make browser-test``).

``pytest`` / ``pytest tests`` / ``make test`` skip this folder at collection (it needs Chromium and
Playwright and starts a JupyterLab server); ``pytest tests/browser`` or a path inside it collects it.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent


def _asked_for(config) -> bool:
    """True when a command-line argument names this folder or something inside it."""
    base = Path(config.invocation_params.dir)
    for arg in config.args:
        path = Path(str(arg).split("::", 1)[0])
        path = (path if path.is_absolute() else base / path).resolve()
        if path == HERE or HERE in path.parents:
            return True
    return False


def pytest_ignore_collect(collection_path, config):
    if not _asked_for(config):
        return True
    return None
