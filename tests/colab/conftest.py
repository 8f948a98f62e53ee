"""The Colab install rehearsal runs only when asked for by path (``pytest tests/colab``; CI does).

``pytest`` / ``pytest tests`` / ``make test`` skip this folder at collection (the hook is
ONLY_WHEN_NAMED in the repository's conftest.py): it builds a fake Colab
runtime with uv and pip (about a minute, and it needs PyPI or a warm cache). The rehearsal's
summary is printed at the end of the run; its report and ``pip freeze`` files are in build/colab/.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPORT = HERE.parent.parent / "build" / "colab" / "report.json"
_LOADED = time.time()  # a report older than this run is not shown


def pytest_terminal_summary(terminalreporter):
    if not REPORT.is_file() or REPORT.stat().st_mtime < _LOADED:
        return
    report = json.loads(REPORT.read_text())
    tr = terminalreporter
    tr.section("Colab install rehearsal")
    changed = ", ".join(f"{n} {a} -> {b}" for n, (a, b) in sorted(report["changed"].items())) or "nothing"
    added = ", ".join(f"{n} {v}" for n, v in sorted(report["added"].items())) or "nothing"
    tr.write_line(f"python {report['python']}; upgraded: {changed}")
    tr.write_line(f"added: {added}")
    tr.write_line("seconds: " + ", ".join(f"{k} {v}" for k, v in report["seconds"].items()))
    tr.write_line(f"details: {REPORT} (and freeze-before.txt, freeze-after.txt beside it)")
