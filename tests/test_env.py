"""course_utils.env: profile, device, seeding, Hub detection, setup report."""

from __future__ import annotations

import random
import time

import numpy as np
import pytest
import torch

import course_utils as cu
from course_utils import env as env_mod


def test_profile_follows_env_var(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "full")
    assert cu.get_profile() == "full"
    monkeypatch.setenv("COURSE_PROFILE", "quick")
    assert cu.get_profile() == "quick"


@pytest.mark.parametrize("bad", ["fast", "QUICK", "full "[:-1] + "x", "0"])
def test_bad_profile_names_the_variable_and_accepted_values(monkeypatch, bad):
    monkeypatch.setenv("COURSE_PROFILE", bad)
    with pytest.raises(ValueError) as err:
        cu.get_profile()
    msg = str(err.value)
    assert "COURSE_PROFILE" in msg and "'quick'" in msg and "'full'" in msg and repr(bad) in msg


def test_default_profile_depends_on_gpu(monkeypatch):
    monkeypatch.delenv("COURSE_PROFILE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert cu.get_profile() == "quick"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert cu.get_profile() == "full"


def test_by_profile_picks_the_value(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "quick")
    assert cu.by_profile(quick=1, full=2) == 1
    monkeypatch.setenv("COURSE_PROFILE", "full")
    assert cu.by_profile(quick=1, full=2) == 2


def test_device_order(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert cu.get_device() == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert cu.get_device() == "mps"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert cu.get_device() == "cpu"


def test_seed_everything_makes_every_generator_repeat():
    def draw():
        return random.random(), float(np.random.rand()), float(torch.rand(1))

    cu.seed_everything(123)
    first = draw()
    cu.seed_everything(123)
    assert draw() == first
    cu.seed_everything(124)
    assert draw() != first


@pytest.mark.parametrize("bad", [-1, 1.5, "0", True])
def test_seed_rejects_bad_values(bad):
    with pytest.raises(ValueError, match="seed"):
        cu.seed_everything(bad)


def test_hub_offline_flag_wins(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert cu.hub_status() == (False, "HF_HUB_OFFLINE=1")
    assert cu.hub_available() is False


def test_unreachable_hub_fails_fast(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(env_mod, "HUB_HOST", "hub.invalid")  # .invalid never resolves (RFC 2606)
    env_mod._hub_probe.cache_clear()
    try:
        t0 = time.perf_counter()
        ok, reason = cu.hub_status(timeout=2.0)
        assert not ok and "hub.invalid unreachable" in reason
        assert time.perf_counter() - t0 < 5
    finally:
        env_mod._hub_probe.cache_clear()


def test_hub_timeout_must_be_positive():
    with pytest.raises(ValueError, match="timeout"):
        cu.hub_status(timeout=0)


def test_colab_and_ci_detection(monkeypatch):
    monkeypatch.setenv("CI", "true")
    assert cu.in_ci()
    monkeypatch.setenv("CI", "")
    assert not cu.in_ci()
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    assert not cu.in_colab()
    monkeypatch.setenv("COLAB_RELEASE_TAG", "release-colab")
    assert cu.in_colab()


def test_setup_prints_device_profile_versions_and_hub(monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("COURSE_PROFILE", "quick")
    env = cu.setup(seed=7)
    out = capsys.readouterr().out
    assert env.profile == "quick" and env.seed == 7 and env.hub is False
    assert f"device: {env.device}" in out and "profile: quick" in out
    assert f"torch {torch.__version__}" in out and "transformers " in out
    assert "Hub: offline (HF_HUB_OFFLINE=1)" in out


def test_import_has_no_side_effects():
    import subprocess
    import sys

    code = (
        "import os, sys; before = dict(os.environ); import course_utils; "
        "assert dict(os.environ) == before, 'environment changed'; "
        "assert 'transformers' not in sys.modules and 'torch' not in sys.modules, 'heavy imports'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
