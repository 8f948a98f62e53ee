"""Repository-wide pytest hooks: a per-notebook time table at the end of every run."""

from __future__ import annotations

from collections import defaultdict

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
