"""course_utils.env: profile, device, seeding, Hub detection, setup report."""

from __future__ import annotations

import contextlib
import http.server
import random
import socket
import threading
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


@contextlib.contextmanager
def _http_server(status: int):
    """A real HTTP server on loopback answering every GET with ``status``; yields (url, paths seen)."""
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            seen.append(self.path)
            body = b'{"id": "distilbert-base-uncased"}'
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def online(monkeypatch):
    """No offline flag, no proxies from the machine, a fresh probe cache and HTTP session."""
    from huggingface_hub import close_session

    for name in ("HF_HUB_OFFLINE", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY",
                 "http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    from huggingface_hub import constants

    # huggingface_hub read HF_HUB_OFFLINE=1 (make test's setting) at import and then refuses requests
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    env_mod._hub_probe.cache_clear()
    close_session()
    yield monkeypatch
    env_mod._hub_probe.cache_clear()
    close_session()


def test_hub_probe_asks_the_configured_endpoint(online):
    from huggingface_hub import constants

    with _http_server(200) as (url, seen):
        online.setattr(constants, "ENDPOINT", url)  # what HF_ENDPOINT sets when huggingface_hub is imported
        assert cu.hub_status() == (True, f"{url} answered")
    assert seen == ["/api/models/distilbert-base-uncased/revision/main"]


def test_an_endpoint_that_answers_an_error_counts_as_offline_and_says_why(online):
    from huggingface_hub import constants

    with _http_server(404) as (url, _):
        online.setattr(constants, "ENDPOINT", url)
        assert cu.hub_status() == (False, f"{url} answered HTTP 404 for distilbert-base-uncased")


@pytest.mark.parametrize("endpoint", ["http://hub.invalid", "closed-port"])
def test_unreachable_endpoint_fails_fast_and_names_it(online, endpoint):
    from huggingface_hub import constants

    if endpoint == "closed-port":
        with socket.socket() as s:  # a port nothing listens on
            s.bind(("127.0.0.1", 0))
            endpoint = f"http://127.0.0.1:{s.getsockname()[1]}"
    online.setattr(constants, "ENDPOINT", endpoint)
    t0 = time.perf_counter()
    ok, reason = cu.hub_status(timeout=2.0)
    assert not ok and reason.startswith(f"{endpoint} unreachable (") and reason.endswith("within 2 s")
    assert time.perf_counter() - t0 < 5


def test_hub_probe_goes_through_the_configured_proxy(online):
    from huggingface_hub import constants

    with _http_server(200) as (proxy, seen):
        online.setenv("HTTP_PROXY", proxy)
        online.setattr(constants, "ENDPOINT", "http://hub.invalid")  # resolvable only by the proxy
        assert cu.hub_status() == (True, "http://hub.invalid answered")
    # a proxy receives the absolute URL
    assert seen == ["http://hub.invalid/api/models/distilbert-base-uncased/revision/main"]


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
