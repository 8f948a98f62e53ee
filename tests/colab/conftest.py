"""The Colab install rehearsal runs only when asked for by path (``pytest tests/colab``; CI does).

``pytest`` / ``pytest tests`` / ``make test`` skip this folder at collection (the hook is
ONLY_WHEN_NAMED in the repository's conftest.py): it builds a fake Colab
runtime with uv and pip (about a minute, and it needs PyPI or a warm cache). The rehearsal's
summary is printed at the end of the run; its report and ``pip freeze`` files are in build/colab/.
"""

from __future__ import annotations

import json
import time

from rehearsal import DEFAULT_OUT, summary

REPORT = DEFAULT_OUT / "report.json"
_LOADED = time.time()  # a report older than this run is not shown


def pytest_terminal_summary(terminalreporter):
    if not REPORT.is_file() or REPORT.stat().st_mtime < _LOADED:
        return
    terminalreporter.section("Colab install rehearsal")
    for line in summary(json.loads(REPORT.read_text())).splitlines():
        terminalreporter.write_line(line)
    terminalreporter.write_line(f"details: {REPORT} (and freeze-before.txt, freeze-after.txt beside it)")
