"""tools/timings.py: the run times in the chapter headers, README and INSTRUCTOR.md all come from notebooks/timings.json."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _tool():
    spec = importlib.util.spec_from_file_location("timings", ROOT / "tools" / "timings.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_quoted_time_matches_the_table(capsys):
    assert _tool().main(["--check"]) == 0, capsys.readouterr().out


def test_the_table_has_every_notebook():
    table = json.loads((ROOT / "notebooks" / "timings.json").read_text())
    expected = {
        p.relative_to(ROOT).as_posix()
        for p in ROOT.glob("notebooks/**/[0-9][0-9]_*.ipynb")
        # the Chinese edition is not run: it has the English times
        if not {"_scratch", "zh"} & set(p.relative_to(ROOT).parts)
    }
    assert set(table["notebooks"]) == expected
    assert all(entry["seconds"] > 0 and entry["machine"] for entry in table["notebooks"].values())


def test_a_changed_figure_is_reported(tmp_path, monkeypatch):
    tool = _tool()
    table = tool.load()
    first = sorted(table["notebooks"])[0]
    table["notebooks"][first]["seconds"] += 100
    rendered = tool.rendered(table)
    changed = {p.relative_to(ROOT).as_posix() for p, text in rendered.items() if p.read_text() != text}
    assert "README.md" in changed and "INSTRUCTOR.md" in changed
    assert f"notebooks/src/{Path(first).stem}.py" in changed


@pytest.mark.parametrize("seconds, text", [(4.6, "5 s"), (119.4, "119 s"), (150, "2.5 min")])
def test_format(seconds, text):
    assert _tool().fmt(seconds) == text
