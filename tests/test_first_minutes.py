"""benchmarks/first_minutes.py's pieces that run without a clone: a learner's environment, its failures, its options.

The benchmark itself (a clone, a cold install, JupyterLab in Chromium) runs by hand; its figures are in
benchmarks/results/first_minutes_cpu.json and benchmarks/README.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import first_minutes  # noqa: E402


def test_a_learners_environment_has_no_course_or_offline_settings_and_caches_of_its_own(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", "/somewhere")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("PATH", "/usr/bin")
    env = first_minutes.learner_env(tmp_path, warm_cache=False)
    assert "COURSE_DATA_DIR" not in env and "HF_HUB_OFFLINE" not in env and "TRANSFORMERS_OFFLINE" not in env
    assert env["PATH"] == "/usr/bin"  # what a learner's shell has stays
    assert env["HF_HOME"] == str(tmp_path / "hf") and env["UV_CACHE_DIR"] == str(tmp_path / "uv-cache")
    monkeypatch.setenv("UV_CACHE_DIR", "/warm")
    assert first_minutes.learner_env(tmp_path, warm_cache=True)["UV_CACHE_DIR"] == "/warm"


def test_a_failed_step_stops_the_run_with_its_log(tmp_path):
    log = tmp_path / "log.txt"
    assert first_minutes._run([sys.executable, "-c", "print('fine')"], tmp_path, {}, log) >= 0
    with pytest.raises(RuntimeError, match=r"failed \(3\):[\s\S]*broken"):
        first_minutes._run([sys.executable, "-c", "print('broken'); raise SystemExit(3)"], tmp_path, {}, log)
    assert "fine" in log.read_text()


def test_only_the_two_branches_are_accepted(capsys):
    with pytest.raises(SystemExit):
        first_minutes.main(["--branches", "colab"])
    assert "invalid choice: 'colab'" in capsys.readouterr().err
