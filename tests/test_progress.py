"""course_utils.progress: each checker verdict in a local record, the learner's table, a room's records merged.

The record is written only outside tests, so the tests that need a written record run the course
in a child process (a Jupyter kernel, as a learner does) with the recording allowed and a
temporary data directory; the in-process tests prove that a test run writes nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from course_utils import progress
from course_utils.check import _core

ROOT = Path(__file__).resolve().parent.parent
#: Variables that switch the record off (or mark a test, CI or rehearsal run): a child that must record drops them.
OFF_MARKERS = ("COURSE_PROGRESS", "PYTEST_CURRENT_TEST", "CI", "COLAB_RELEASE_TAG", "COURSE_CACHE_DIR")


def _allowed_env(data: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in OFF_MARKERS and k != progress.LEARNER}
    return {**env, "COURSE_PROGRESS_DIR": str(data), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", **extra}


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "course_utils", "progress", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=env,
    )


def _line(name: str, uid: str, exercise: str, ok: bool, time: str, hint: str = "") -> str:
    obj = {"format": progress.FORMAT, "learner": name, "id": uid, "exercise": exercise, "ok": ok, "time": time}
    if hint:
        obj["hint"] = hint
    return json.dumps(obj) + "\n"


# ------------------------------------------------------------------------------ a room, merged


def write_room(folder: Path) -> Path:
    """Three learners' exported records in ``folder``; Li's has a cut line and a line of another tool's log.
    (INSTRUCTOR.md shows their merge: tests/test_instructor.py compares.)"""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "progress-ana.jsonl").write_text(
        _line("ana", "a1", "00.1", False, "2026-12-07T09:40:00.000Z", "batch dims")
        + _line("ana", "a1", "00.1", True, "2026-12-07T09:42:00.000Z")
        + _line("ana", "a1", "00.2", True, "2026-12-07T09:50:00.000Z")
        + _line("ana", "a1", "01.1", True, "2026-12-07T10:30:00.000Z")
    )
    (folder / "progress-li.jsonl").write_text(
        _line("li", "b2", "00.1", True, "2026-12-07T09:45:00.000Z")
        + _line("li", "b2", "00.2", False, "2026-12-07T09:55:00.000Z", "inverted")
        + '{"format": "hf-course-progress/1", "learner": "li", "id": "b2", "exercise": "00.2", "ok": fa\n'
        + '{"level": "info", "msg": "kernel started"}\n'
        + _line("li", "b2", "00.2", False, "2026-12-07T10:01:00.000Z", "inverted")
    )
    (folder / "progress-wei.jsonl").write_text(
        _line("b7c1e0aa", "c3", "00.1", False, "2026-12-07T09:41:00.000Z")  # no name yet...
        + _line("wei", "c3", "00.1", False, "2026-12-07T09:48:00.000Z")  # ...then COURSE_LEARNER=wei
    )
    return folder


@pytest.fixture
def room(tmp_path):
    return write_room(tmp_path / "usb")


def test_a_room_of_three_learners_is_merged_and_bad_lines_are_reported_and_skipped(room, capsys):
    files = sorted(room.glob("*.jsonl"))
    assert progress.main(["--merge", *map(str, files)]) == 0
    captured = capsys.readouterr()
    assert "progress-li.jsonl:3: skipped, not JSON" in captured.err
    assert "progress-li.jsonl:4: skipped, not a progress line" in captured.err
    assert "2 problem(s) above" in captured.err
    out = captured.out
    assert "3 learners; 43 exercises in the course, 3 of them tried by someone." in out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line[:2].isdigit()}
    # exercise, passed, stuck, who is stuck
    assert rows["00.1"][:4] == ["00.1", "2", "1", "wei"]
    assert rows["00.2"][:4] == ["00.2", "1", "1", "li"]
    assert rows["01.1"][:3] == ["01.1", "1", "0"]
    learners = {line.split()[0]: line for line in out.splitlines() if line.split()[:1] in (["ana"], ["li"], ["wei"])}
    assert set(learners) == {"ana", "li", "wei"}  # the newest name stands for c3, never its early id
    assert learners["ana"].split()[1:3] == ["3", "-"]
    assert learners["li"].split()[1:3] == ["1", "00.2"] and "00.2 not yet" in learners["li"]
    assert learners["wei"].split()[1:3] == ["0", "00.1"]


def test_the_command_line_merges_a_folder_and_counts_a_file_handed_in_twice_once(room, tmp_path):
    copy = tmp_path / "again.jsonl"
    copy.write_text((room / "progress-ana.jsonl").read_text())
    proc = _cli("--merge", str(room), str(copy))
    assert proc.returncode == 0, proc.stderr
    assert "progress-li.jsonl:3: skipped" in proc.stderr
    assert "00.1      2       1      wei" in proc.stdout


def test_merging_nothing_readable_fails_without_a_traceback(tmp_path):
    junk = tmp_path / "junk.jsonl"
    junk.write_text("not json\n")
    proc = _cli("--merge", str(junk), str(tmp_path / "missing.jsonl"))
    assert proc.returncode == 1
    assert "junk.jsonl:1: skipped, not JSON" in proc.stderr and "missing.jsonl: cannot be read" in proc.stderr
    assert "Traceback" not in proc.stderr


# ------------------------------------------------------------------------------ a learner's record


def test_a_real_checker_call_in_a_notebook_run_writes_the_record(tmp_path):
    """A Jupyter kernel, as in JupyterLab, with the recording allowed: placeholders are not attempts."""
    import nbformat
    from nbclient import NotebookClient

    data = tmp_path / "data"
    cells = [
        "import course_utils as cu",
        "def padding_mask(lengths, max_len):\n    raise NotImplementedError  # your code here\ncu.check.exercise_00_2(padding_mask)",
        "my_shape = None  # e.g. (1, 2, 3)\ncu.check.exercise_00_1(my_shape)",
        'cu.check.exercise_00_3({"t.T": None, "t[:, ::2]": None, "t[1:]": None})',
        "cu.check.exercise_00_1((7, 2, 3))",
        "cu.check.exercise_00_1((7, 2, 3, 6))",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute(env=_allowed_env(data, COURSE_LEARNER="ana"))
    shown = [o.get("text", "") for c in nb.cells for o in c.outputs]
    assert any("✅ exercise 00.1: correct" in t for t in shown), shown

    lines = [json.loads(line) for line in (data / progress.RECORD).read_text().splitlines()]
    assert [(d["exercise"], d["ok"]) for d in lines] == [("00.1", False), ("00.1", True)]
    assert {d["learner"] for d in lines} == {"ana"} and all(d["format"] == progress.FORMAT for d in lines)
    assert "4 dims" in lines[0]["hint"] and "hint" not in lines[1]
    uid = json.loads((data / progress.IDENTITY).read_text())["id"]
    assert {d["id"] for d in lines} == {uid}

    env = _allowed_env(data)
    table = _cli(env=env)
    assert table.returncode == 0, table.stderr
    assert "Learner ana" in table.stdout and "1 of 43 exercises passed" in table.stdout
    row = next(line for line in table.stdout.splitlines() if line.startswith("00.1"))
    assert row.split()[1:3] == ["passed", "2"]
    assert next(line for line in table.stdout.splitlines() if line.startswith("00.2")).split()[1:3] == ["-", "0"]

    exported = tmp_path / "handed-in.jsonl"
    done = _cli("--export", str(exported), "--name", "Ana Li", env=env)
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["learner"] for line in exported.read_text().splitlines()] == ["Ana Li", "Ana Li"]
    merged = _cli("--merge", str(exported), env=env)
    assert merged.returncode == 0 and "Ana Li" in merged.stdout


def test_a_fresh_install_shows_an_empty_table_and_creates_nothing(tmp_path):
    data = tmp_path / "never-written"
    proc = _cli(env=_allowed_env(data))
    assert proc.returncode == 0, proc.stderr
    assert "0 of 43 exercises passed" in proc.stdout and "set COURSE_LEARNER" in proc.stdout
    assert sum(line[:2].isdigit() for line in proc.stdout.splitlines()) == 43
    assert not data.exists()
    nothing = _cli("--export", env=_allowed_env(data))
    assert nothing.returncode == 1 and "no verdict recorded yet" in nothing.stderr


# ------------------------------------------------------------------------------ when nothing is written

RECORD_ONE = "from course_utils import progress; print(progress.record('00.1', True))"


def _record_in_child(data: Path, **extra: str) -> bool:
    proc = subprocess.run(
        [sys.executable, "-c", RECORD_ONE], capture_output=True, text=True, timeout=60, env=_allowed_env(data, **extra)
    )
    assert proc.returncode == 0, proc.stderr
    written = proc.stdout.strip() == "True"
    assert written == (data / progress.RECORD).exists()
    return written


def test_this_test_run_writes_no_record(tmp_path, monkeypatch, capsys):
    assert os.environ.get("COURSE_PROGRESS") == "0"  # conftest.py: kernels that nbval starts inherit it
    monkeypatch.delenv("COURSE_PROGRESS")
    monkeypatch.setenv("COURSE_PROGRESS_DIR", str(tmp_path))
    from course_utils import check

    assert check.exercise_00_1((7, 2, 3, 6))  # a real checker, in this (pytest) process
    assert "pytest" in (progress.why_off() or "")
    assert not any(tmp_path.iterdir())
    assert not _record_in_child(tmp_path / "kernel", PYTEST_CURRENT_TEST="tests/x.ipynb::Cell 1 (call)")


@pytest.mark.parametrize(
    "extra, written",
    [
        ({}, True),
        ({"COURSE_PROGRESS": "0"}, False),
        ({"COURSE_PROGRESS": "off"}, False),
        ({"COURSE_PROGRESS": "false"}, False),
        ({"COURSE_PROGRESS": "1"}, True),
        ({"CI": "true"}, False),
        ({"CI": "false"}, True),
        ({"COURSE_CACHE_DIR": "/x/data/cache/rehearsal/online/course-cache"}, False),  # tools/rehearse.py
        ({"COLAB_RELEASE_TAG": "rehearsal"}, False),  # tests/colab/rehearsal.py
    ],
)
def test_the_off_variable_ci_and_rehearsals(tmp_path, extra, written):
    assert _record_in_child(tmp_path / "data", **extra) is written


def test_a_record_that_cannot_be_written_never_breaks_a_checker(tmp_path, monkeypatch):
    monkeypatch.setattr(progress, "why_off", lambda: None)
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    monkeypatch.setenv("COURSE_PROGRESS_DIR", str(blocked))  # a file where the folder should be
    assert progress.record("00.1", True) is False
    monkeypatch.setenv("COURSE_PROGRESS_DIR", str(tmp_path / "ok"))
    assert progress.record("00.1", False, "x" * 500) is True
    (line,) = (tmp_path / "ok" / progress.RECORD).read_text().splitlines()
    assert len(json.loads(line)["hint"]) == progress.HINT_CHARS


# ------------------------------------------------------------------------------ placeholders


@pytest.fixture
def recorded(monkeypatch):
    calls = []
    monkeypatch.setattr(
        _core.progress, "record", lambda ex, ok, hint="", placeholder=False: calls.append((ex, ok, placeholder))
    )
    return calls


def _not_yet(*args, **kwargs):
    raise NotImplementedError  # your code here


def test_a_placeholder_is_not_an_attempt(recorded, capsys):
    from course_utils import check

    check.exercise_00_1(None)
    check.exercise_00_3({"t.T": None, "t[:, ::2]": None, "t[1:]": None})
    check.exercise_00_2(_not_yet)
    check.exercise_05_1(_not_yet)  # its hint is rewritten on the way out (nb05's _explained): still a placeholder
    check.exercise_09_4(None, None)
    check.exercise_00_1((7, 2))
    check.exercise_00_3({"t.T": False, "t[:, ::2]": None, "t[1:]": None})  # one answered: an attempt
    check.exercise_00_2(lambda lengths, max_len: 1 / 0)
    assert recorded == [
        ("00.1", False, True),
        ("00.3", False, True),
        ("00.2", False, True),
        ("05.1", False, True),
        ("09.4", False, True),
        ("00.1", False, False),
        ("00.3", False, False),
        ("00.2", False, False),
    ]
    assert "not implemented yet" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, kwargs, blank",
    [
        ((None,), {}, True),
        ((None, None), {}, True),
        (({"a": None, "b": None},), {}, True),
        ((), {"shape": None}, True),
        (((None, [None]),), {}, True),
        ((), {}, False),
        (((),), {}, False),
        (({},), {}, False),
        ((0,), {}, False),
        ((None, 1), {}, False),
        ((_not_yet,), {}, False),
    ],
)
def test_unanswered(args, kwargs, blank):
    assert progress.unanswered(args, kwargs) is blank


# ------------------------------------------------------------------------------ where the record lives


def test_the_record_lives_in_the_users_data_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("COURSE_PROGRESS_DIR", raising=False)
    platformdirs = pytest.importorskip("platformdirs")
    assert progress.data_dir() == Path(platformdirs.user_data_dir("hf-course", appauthor=False))
    monkeypatch.setitem(sys.modules, "platformdirs", None)  # not installed: the convention by hand
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(sys, "platform", "linux")
    assert progress.data_dir() == tmp_path / "xdg" / "hf-course"
    monkeypatch.setattr(sys, "platform", "darwin")
    assert progress.data_dir() == Path.home() / "Library" / "Application Support" / "hf-course"
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "local"))
    assert progress.data_dir() == tmp_path / "local" / "hf-course"
    monkeypatch.setenv("COURSE_PROGRESS_DIR", str(tmp_path / "mine"))
    assert progress.data_dir() == tmp_path / "mine"
    assert ROOT not in progress.record_path().parents  # outside the checkout: make clean and a new clone keep it


def test_every_message_goes_through_the_translation_hook():
    source = (ROOT / "course_utils" / "progress.py").read_text()
    assert source.count('_("') >= 30
    assert "print(f" not in source  # no message pieced together with an f-string


def test_the_rehearsals_are_recognised_as_they_run():
    """tools/rehearse.py's kernels (make test-online, make test-prefetch), the Colab rehearsal's cells and
    the bundle rehearsal's pytest (the copied conftest.py sets COURSE_PROGRESS=0) write nothing."""
    sys.path.insert(0, str(ROOT / "tools"))
    import rehearse

    for mode in rehearse.MODES:
        env = rehearse.rehearsal_env(mode, rehearse.workdir(mode), None, base={"HOME": "/home/x"})
        assert "rehearsals" in (progress.why_off(env, modules=()) or ""), mode
    assert '"COLAB_RELEASE_TAG": "rehearsal"' in (ROOT / "tests" / "colab" / "rehearsal.py").read_text()
    assert 'os.environ["COURSE_PROGRESS"] = "0"' in (ROOT / "conftest.py").read_text()
    assert progress.why_off({"HOME": "/home/x"}, modules=()) is None  # a learner's kernel records
