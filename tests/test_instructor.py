"""INSTRUCTOR.md can be trusted on the day: each plan adds up to its day and fits the measured run
times, every troubleshooting fix is a command that exists here, and the figures and examples it
quotes agree with the course (prefetch total, the progress merge, the solutions option)."""

from __future__ import annotations

import glob
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from course_utils import progress
from course_utils.prefetch import HUB_CHECKPOINTS

ROOT = Path(__file__).resolve().parent.parent
GUIDE = (ROOT / "INSTRUCTOR.md").read_text(encoding="utf-8")
GUIDE_ZH = (ROOT / "INSTRUCTOR.zh.md").read_text(encoding="utf-8")
TIMINGS = json.loads((ROOT / "notebooks" / "timings.json").read_text(encoding="utf-8"))["notebooks"]
DAY = (9 * 60, 17 * 60)  # 09:00-17:00
TEACHING_AT_LEAST = 15  # minutes of teaching in every chapter's slot, beyond its exercises and run time
MINUTES_PER_EXERCISE = 7  # the guide plans "about 8"; no chapter may plan fewer than this


def section(text: str, heading: str) -> str:
    """The text under ``heading`` (a line of the document) up to the next heading of the same level or above."""
    level = heading.split(" ", 1)[0]
    start = text.index("\n" + heading + "\n") + len(heading) + 2
    ends = [m.start() for m in re.finditer(rf"^#{{1,{len(level)}}} ", text[start:], re.M)]
    return text[start : start + ends[0]] if ends else text[start:]


def minutes(clock: str) -> int:
    hours, mins = clock.split(":")
    return int(hours) * 60 + int(mins)


def plan_tables(text: str) -> list[list[list[str]]]:
    """Every timed table in ``text``: its rows (start, end, min, session, exercises), header excluded."""
    tables, current = [], None
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else None
        if cells and re.fullmatch(r"\d\d:\d\d", cells[0]):
            if current is None:
                current = []
                tables.append(current)
            current.append(cells)
        elif not (cells and set(cells[0]) <= set("-")) and not (cells and cells[0] in ("start", "开始")):
            current = None
    return tables


PLANS = {
    "one day": plan_tables(section(GUIDE, "### One day")),
    "two days": plan_tables(section(GUIDE, "### Two days")),
}


def chapters_of(session: str) -> tuple[str, ...]:
    return tuple(re.findall(r"\b(\d\d) [a-zA-Z]", session))


def run_minutes(chapter: str) -> int:
    (seconds,) = [v["seconds"] for k, v in TIMINGS.items() if re.fullmatch(rf"notebooks/{chapter}_[a-z_]+\.ipynb", k)]
    return math.ceil(seconds / 60)


def test_the_plans_are_where_the_guide_says():
    assert len(PLANS["one day"]) == 1 and len(PLANS["two days"]) == 2


@pytest.mark.parametrize(
    "plan, day", [(p, d) for p, tables in PLANS.items() for d in range(len(tables))], ids=lambda x: str(x)
)
def test_each_plan_adds_up_to_its_day(plan, day):
    rows = PLANS[plan][day]
    assert (minutes(rows[0][0]), minutes(rows[-1][1])) == DAY
    for row, following in zip(rows, [*rows[1:], None]):
        start, end, length = minutes(row[0]), minutes(row[1]), int(row[2])
        assert end - start == length, row
        if following:
            assert minutes(following[0]) == end, (row, following)
    assert sum(int(r[2]) for r in rows) == DAY[1] - DAY[0]
    sessions = [r[3] for r in rows]
    assert sum(s.startswith("Lunch") and int(r[2]) >= 45 for s, r in zip(sessions, rows)) == 1
    assert sum(s.startswith("Break") for s in sessions) >= 2
    assert "buffer" in sessions[0].lower() and int(rows[0][2]) >= 15  # a set-up (or start-up) buffer opens each day
    lunch = next(minutes(r[0]) for r in rows if r[3].startswith("Lunch"))
    assert 12 * 60 <= lunch <= 13 * 60


@pytest.mark.parametrize("plan", PLANS)
def test_every_chapter_slot_holds_its_exercises_its_run_time_and_teaching(plan):
    slots: dict[tuple[str, ...], list[int]] = {}
    planned: list[str] = []
    for rows in PLANS[plan]:
        for row in rows:
            chapters = chapters_of(row[3])
            ids = re.findall(r"\b\d\d\.\d\b", row[4])
            if not chapters:
                assert not ids and not row[4], row
                continue
            exercise_minutes = int(re.match(r"(\d+) min", row[4])[1]) if row[4] else 0
            assert exercise_minutes >= MINUTES_PER_EXERCISE * len(ids), row
            assert {i[:2] for i in ids} <= set(chapters), row
            planned += ids
            slot = slots.setdefault(chapters, [0, 0])
            slot[0] += int(row[2])
            slot[1] += exercise_minutes
    for chapters, (length, exercises) in slots.items():
        run = sum(run_minutes(c) for c in chapters)
        assert length - exercises - run >= TEACHING_AT_LEAST, (plan, chapters, length, exercises, run)
    assert len(planned) == len(set(planned)), "an exercise planned twice"
    taught = {c for key in slots for c in key}
    if plan == "two days":
        assert sorted(planned) == progress.course_exercises()  # every exercise, in class
        assert taught == {f"{n:02d}" for n in range(11)}
    else:
        assert {f"{n:02d}" for n in range(8)} <= taught


def test_the_chinese_guide_has_the_same_clock_and_exercises():
    english = [t for p in PLANS for t in PLANS[p]]
    chinese = plan_tables(GUIDE_ZH)
    assert [[r[:3] for r in t] for t in chinese] == [[r[:3] for r in t] for t in english]
    ids = lambda tables: [[re.findall(r"\d\d\.\d", r[4]) for r in t] for t in tables]  # noqa: E731
    assert ids(chinese) == ids(english)


# ------------------------------------------------------------------------------ troubleshooting

#: Every code span of the troubleshooting table's fix column, with the commands that prove it exists
#: here: run with --help, or as a dry run (make -n, apt-get -s). None: not a command (a package name);
#: "windows": runs only on Windows.
FIXES: dict[str, list[str] | str | None] = {
    "sudo apt-get install -y python3-venv": ["apt-get -s install python3-venv"],
    "python3.11-venv": None,
    "make lab": ["make -n lab"],
    "sudo apt-get install -y python3.11 python3.11-venv": ["apt-get -s install python3.11 python3.11-venv"],
    "make PYTHON=python3.11 lab": ["make -n PYTHON=python3.11 lab"],
    "python3 -m pip install --user uv": ["python3 -m pip install --help"],
    "python3 -m uv python install 3.12": [".venv/bin/python -m uv python install --help"],
    'make PYTHON="$(python3 -m uv python find 3.12)" lab': [
        ".venv/bin/python -m uv python find --help",
        'make -n PYTHON="$(command -v python3)" lab',
    ],
    'docker run --rm -it -p 8888:8888 -v "$PWD":/course -w /course python:3.12 make lab VENV=.venv-docker LAB_ARGS="--ip=0.0.0.0 --no-browser --allow-root"': [
        "docker run --help",
        'make -n lab VENV=.venv-docker LAB_ARGS="--ip=0.0.0.0 --no-browser --allow-root"',
    ],
    "wsl --install -d Ubuntu-24.04": "windows",
    "sudo apt-get install -y make python3-venv": ["apt-get -s install make python3-venv"],
    "Kernel > Shut Down All Kernels": None,  # JupyterLab's menu
    "cd ~": ["cd ~"],
    "make lab LAB_ARGS=--no-browser": ["make -n lab LAB_ARGS=--no-browser"],
    ".venv/bin/jupyter server list": [".venv/bin/jupyter server list --help"],
    ".venv/bin/jupyter server stop 8888": [".venv/bin/jupyter server stop --help"],
    'make lab LAB_ARGS="--port 8890"': ['make -n lab LAB_ARGS="--port 8890"'],
    "COURSE_PROFILE=quick make lab": ["COURSE_PROFILE=quick make -n lab"],
    "du -sh .venv data/cache ~/.cache/uv ~/.cache/huggingface": ["du --help"],
    ".venv/bin/uv cache clean": [".venv/bin/uv cache clean --help"],
}


def troubleshooting_spans(text: str, heading: str = "## Troubleshooting") -> list[str]:
    spans = []
    for line in section(text, heading).splitlines():
        cells = line.strip().strip("|").split(" | ")
        if line.startswith("|") and len(cells) == 3 and not set(cells[0]) <= set("- "):
            spans += re.findall(r"`([^`]+)`", cells[2])
    return spans


def test_the_troubleshooting_table_covers_the_cases_and_every_fix_is_listed_here():
    table = section(GUIDE, "## Troubleshooting").lower()
    for case in ("ensurepip", "ubuntu 22.04", "python 3.9", "intel mac", "wsl", "port 8888", "kernel", "no space left"):
        assert case in table, case
    assert set(troubleshooting_spans(GUIDE)) == set(FIXES)
    assert troubleshooting_spans(GUIDE_ZH, "## 故障排除") == troubleshooting_spans(GUIDE)  # the same commands


@pytest.mark.parametrize("fix", [f for f, checks in FIXES.items() if isinstance(checks, list)])
def test_each_troubleshooting_command_exists(fix):
    for check in FIXES[fix]:
        program = check.split()[0] if "=" not in check.split()[0] else check.split()[1]
        if program in ("apt-get", "docker") and shutil.which(program) is None:
            pytest.skip(f"{program} is not installed here")
        if program == "apt-get" and not glob.glob("/var/lib/apt/lists/*Packages*"):
            pytest.skip("apt has no package lists here (apt-get update was never run)")
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
        proc = subprocess.run(["bash", "-c", check], cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)
        assert proc.returncode == 0, f"{check}: {proc.stdout[-1000:]}{proc.stderr[-1000:]}"
        if check.startswith(("make -n", "COURSE_PROFILE=quick make -n")):
            assert "jupyter lab notebooks/" in proc.stdout, proc.stdout
        if program == "apt-get":
            assert "Unable to locate" not in proc.stdout + proc.stderr


def test_the_survey_command_in_the_message_runs_and_says_what_the_bundle_needs():
    message = section(GUIDE, "### The week before: a checklist")
    lines = {line.strip() for line in message.splitlines() if line.strip().startswith("python3 -c ")}
    assert len(lines) == 1, lines  # the same line in both languages
    (line,) = lines
    assert line in GUIDE_ZH
    proc = subprocess.run(
        ["bash", "-c", line.replace("python3 ", f"{sys.executable} ", 1)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.split()
    assert out[0] == platform.system() and platform.machine() in out and "Python" in out
    assert out[out.index("Python") + 1] == platform.python_version()
    assert "RAM" in out and "disk" in out


# ------------------------------------------------------------------------------ figures and examples


def test_the_prefetch_table_lists_every_checkpoint_and_its_total_adds_up():
    rows = [
        [c.strip() for c in line.strip().strip("|").split("|")]
        for line in section(GUIDE, "### What `make prefetch` downloads").splitlines()
        if line.startswith("| `") or line.startswith("| total")
    ]
    names = [re.match(r"`([^`]+)`", r[0])[1] for r in rows if r[0].startswith("`")]
    assert set(HUB_CHECKPOINTS) <= set(names)
    sizes = [float(re.match(r"([\d,.]+) MB", r[2])[1].replace(",", "")) for r in rows if r[0].startswith("`")]
    (total,) = [float(re.match(r"([\d,.]+) MB", r[2])[1].replace(",", "")) for r in rows if r[0] == "total per machine"]
    assert abs(sum(sizes) - total) < 1


def test_the_merge_shown_in_the_guide_is_what_the_command_prints(tmp_path):
    sys.path.insert(0, str(ROOT / "tests"))
    from test_progress import write_room

    folder = write_room(tmp_path / "usb")
    text = section(GUIDE, "### Who is stuck where")
    shown = re.search(r"```text\n(.*?)```", text, re.S)[1]
    env = dict(os.environ, TZ="UTC")
    proc = subprocess.run(
        [sys.executable, "-m", "course_utils", "progress", "--merge", str(folder)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == shown
    assert "progress-li.jsonl:3: skipped, not JSON" in proc.stderr and "progress-li.jsonl:3: skipped, not JSON" in text


def test_the_solutions_policy_is_what_ships():
    sys.path.insert(0, str(ROOT / "tools"))
    import bundle

    assert "hand them out after each session)" not in GUIDE  # the old promise, which nothing backed
    assert "make bundle BUNDLE_SOLUTIONS=no" in GUIDE and "BUNDLE_SOLUTIONS=no" in GUIDE_ZH
    assert "BUNDLE_SOLUTIONS" in (ROOT / "bundle.mk").read_text()
    assert bundle.SOLUTIONS[0] in GUIDE
    assert all((ROOT / s).is_dir() for s in bundle.SOLUTIONS[:2])
