"""Repository-wide pytest hooks: folders collected only when named, and a per-notebook time table."""

from __future__ import annotations

import json
import os
from collections import defaultdict
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent
#: No test run writes a learner's progress record (course_utils/progress.py): the notebook kernels
#: that nbval starts inherit this too.
os.environ["COURSE_PROGRESS"] = "0"
#: Test folders that `pytest` / `pytest tests` / `make test` skip: they run only when a command-line
#: argument names the folder or something inside it. tests/browser needs Chromium and starts
#: JupyterLab (`make browser-test`); tests/colab builds a fake Colab runtime from PyPI (CI runs it).
ONLY_WHEN_NAMED = (ROOT / "tests" / "browser", ROOT / "tests" / "colab")


def _named(folder: Path, config) -> bool:
    """True when a command-line argument names ``folder`` or something inside it."""
    base = Path(config.invocation_params.dir)
    for arg in config.args:
        path = Path(str(arg).split("::", 1)[0])
        path = (path if path.is_absolute() else base / path).resolve()
        if path == folder or folder in path.parents:
            return True
    return False


def pytest_ignore_collect(collection_path, config):
    path = Path(collection_path).resolve()
    for folder in ONLY_WHEN_NAMED:
        if (path == folder or folder in path.parents) and not _named(folder, config):
            return True
    return None


_NOTEBOOK_SECONDS: dict[str, float] = defaultdict(float)
_NOTEBOOK_FAILED: set[str] = set()


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::", 1)[0]
    if path.endswith(".ipynb"):
        _NOTEBOOK_SECONDS[path] += report.duration
        if report.failed:
            _NOTEBOOK_FAILED.add(path)


def pytest_terminal_summary(terminalreporter):
    if not _NOTEBOOK_SECONDS:
        return
    tr = terminalreporter
    tr.section("notebook times (kernel start + every cell)")
    for path, seconds in sorted(_NOTEBOOK_SECONDS.items()):
        status = "FAILED" if path in _NOTEBOOK_FAILED else "ok"
        tr.write_line(f"{path:60s} {seconds:7.1f} s  {status}")
    tr.write_line(f"{'all notebooks':60s} {sum(_NOTEBOOK_SECONDS.values()):7.1f} s")


#: The one table of notebook run times (tools/timings.py quotes it in headers, README, INSTRUCTOR.md).
TIMINGS = ROOT / "notebooks" / "timings.json"


def _machine() -> str:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores"


def pytest_sessionfinish(session, exitstatus):
    """Record the time of every notebook that passed in notebooks/timings.json (others keep their entry)."""
    passed = {p: s for p, s in _NOTEBOOK_SECONDS.items() if p not in _NOTEBOOK_FAILED}
    if not passed or os.environ.get("COURSE_PROFILE", "quick") != "quick":
        return
    table = json.loads(TIMINGS.read_text(encoding="utf-8")) if TIMINGS.exists() else {"notebooks": {}}
    table["about"] = (
        "seconds of each notebook's nbval run (kernel start + every cell), quick profile, "
        "offline; written by the test run (conftest.py); quoted by tools/timings.py"
    )
    machine = _machine()
    for path, seconds in passed.items():
        relative = Path(path).resolve().relative_to(ROOT).as_posix() if Path(path).is_absolute() else path
        if "zh" in Path(relative).parts:  # the Chinese edition is never run by the course: it quotes these times
            continue
        table["notebooks"][relative] = {
            "seconds": round(seconds, 1),
            "date": date.today().isoformat(),
            "machine": machine,
        }
    table["notebooks"] = dict(sorted(table["notebooks"].items()))
    TIMINGS.write_text(json.dumps(table, indent=2) + "\n", encoding="utf-8")
