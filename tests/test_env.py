"""course_utils.env: profile, device, seeding, Hub detection, setup report."""

from __future__ import annotations

import contextlib
import http.server
import importlib
import logging
import random
import socket
import threading
import time
import warnings

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

    for name in (
        "HF_HUB_OFFLINE",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "no_proxy",
    ):
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
        endpoint = f"http://127.0.0.1:{env_mod.free_port()}"  # a port nothing listens on
    online.setattr(constants, "ENDPOINT", endpoint)
    t0 = time.perf_counter()
    ok, reason = cu.hub_status(timeout=2.0)
    assert not ok and reason.startswith(f"{endpoint} unreachable (") and reason.endswith("within 2 s")
    assert time.perf_counter() - t0 < 5


def test_free_port_is_a_port_nothing_listens_on_and_a_server_can_take():
    port = env_mod.free_port()
    assert isinstance(port, int) and 1024 <= port <= 65535
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, "something listens on the 'free' port"
    with socket.socket() as server:  # and a server can bind it
        server.bind(("127.0.0.1", port))
        server.listen()


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
    assert "quiet: transformers and datasets log errors only" in out and "cu.show_warnings()" in out


def test_setup_says_how_to_switch_profile_and_precision(monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("COURSE_PROFILE", "quick")
    monkeypatch.setattr(env_mod, "get_device", lambda: "cuda")  # Colab's free T4, mocked
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Tesla T4")
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (7, 5))
    env = cu.setup()
    lines = capsys.readouterr().out.splitlines()
    assert env.precision == "fp16" and "compute capability 7.5" in env.precision_reason
    assert "profile quick: small subsets, few steps; switch: `%env COURSE_PROFILE=full`" in lines[1]
    assert lines[2].startswith("precision for training: fp16 autocast (Tesla T4, compute capability 7.5")
    assert "--mixed_precision" in lines[2] and "mixed_precision('no' | 'bf16' | 'fp16')" in lines[2]


def test_an_unreachable_hub_names_the_mirror_variable_in_one_line(monkeypatch, capsys):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(
        env_mod, "hub_status", lambda: (False, "https://huggingface.co unreachable (ConnectError) within 3 s")
    )
    cu.setup()
    hub = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Hub:")]
    assert len(hub) == 1 and "unreachable" in hub[0]
    assert hub[0].index("HF_ENDPOINT") < hub[0].index("stand-ins")  # the fix first, then the fallback


def test_kept_random_state_restores_every_generator_even_after_an_error():
    def draw():
        return random.random(), float(np.random.rand()), float(torch.rand(1))

    cu.seed_everything(3)
    expected = draw()
    cu.seed_everything(3)
    with pytest.raises(RuntimeError), env_mod.kept_random_state():
        draw()
        torch.manual_seed(99)
        random.seed(99)
        np.random.seed(99)
        torch.nn.Linear(50, 50)
        raise RuntimeError("a build that fails half-way")
    assert draw() == expected


@pytest.mark.parametrize("bad", [0, "yes", None])
def test_setup_rejects_a_verbose_that_is_not_a_bool(bad):
    with pytest.raises(ValueError) as err:
        cu.setup(verbose=bad)
    assert "verbose" in str(err.value) and "True or False" in str(err.value) and repr(bad) in str(err.value)


def test_import_has_no_side_effects():
    import subprocess
    import sys

    code = (
        "import os, sys; before = dict(os.environ); import course_utils; "
        "assert dict(os.environ) == before, 'environment changed'; "
        "assert 'transformers' not in sys.modules and 'torch' not in sys.modules, 'heavy imports'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- show_warnings: what setup() hides, visible for one block -------------------------------------


class _Records(logging.Handler):
    """Collects the messages that reach a logger's handlers (i.e. that its level let through)."""

    def __init__(self) -> None:
        super().__init__(level=logging.NOTSET)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def quieted(monkeypatch):
    """cu.setup() done (quiet), a recorder on transformers' logger, bars allowed by the environment."""
    import datasets

    hub_tqdm = importlib.import_module(
        "huggingface_hub.utils.tqdm"
    )  # the module (the package re-exports a class of that name)
    import transformers.utils.logging as tf_logging
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_DISABLE_PROGRESS_BARS", None)
    monkeypatch.setattr(hub_tqdm, "HF_HUB_DISABLE_PROGRESS_BARS", None)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    before = (
        tf_logging.get_verbosity(),
        datasets.logging.get_verbosity(),
        tf_logging.is_progress_bar_enabled(),
        hub_tqdm.are_progress_bars_disabled(),
    )
    cu.setup(verbose=False)
    records = _Records()
    root = logging.getLogger("transformers")
    root.addHandler(records)
    yield records
    root.removeHandler(records)
    tf_logging.set_verbosity(before[0])
    datasets.logging.set_verbosity(before[1])
    (tf_logging.enable_progress_bar if before[2] else tf_logging.disable_progress_bar)()
    (hub_tqdm.disable_progress_bars if before[3] else hub_tqdm.enable_progress_bars)()


def _tiny_bert(folder) -> str:
    """A 1-layer BERT saved without a classification head: loading it with one prints a LOAD REPORT."""
    from transformers import BertConfig, BertModel

    config = BertConfig(
        vocab_size=50,
        hidden_size=8,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=16,
        max_position_embeddings=16,
    )
    BertModel(config).save_pretrained(folder)
    return str(folder)


def test_a_transformers_warning_is_hidden_after_setup_shown_in_the_block_and_hidden_again(quieted, tmp_path):
    from transformers import BertForSequenceClassification

    folder = _tiny_bert(tmp_path / "tiny")

    def load() -> list[str]:
        quieted.messages.clear()
        BertForSequenceClassification.from_pretrained(folder, num_labels=2)
        return [m for m in quieted.messages if "LOAD REPORT" in m]

    assert load() == []  # after setup: hidden
    with cu.show_warnings():
        shown = load()
    assert len(shown) == 1 and "classifier.weight" in shown[0] and "MISSING" in shown[0]
    assert load() == []  # hidden again


def test_warn_once_messages_come_back_in_the_block(quieted):
    import transformers.utils.logging as tf_logging

    logger = tf_logging.get_logger("transformers.course_test")
    logger.warning_once("a once-only warning emitted while hidden")
    assert quieted.messages == []
    with cu.show_warnings():
        logger.warning_once("a once-only warning emitted while hidden")
    assert quieted.messages == ["a once-only warning emitted while hidden"]


def test_python_warnings_filtered_by_setup_show_in_the_block(quieted, monkeypatch):
    shown: list[str] = []
    monkeypatch.setattr(warnings, "showwarning", lambda message, *args, **kwargs: shown.append(str(message)))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="IProgress not found")  # what quiet() adds
        warnings.filterwarnings("ignore", category=FutureWarning)  # a notebook's own filter
        warnings.warn("IProgress not found. Please update jupyter and ipywidgets.", UserWarning, stacklevel=1)
        assert shown == []
        with cu.show_warnings():
            warnings.warn("IProgress not found. Please update jupyter and ipywidgets.", UserWarning, stacklevel=1)
            warnings.warn("`x` is deprecated", FutureWarning, stacklevel=1)
        assert shown == ["IProgress not found. Please update jupyter and ipywidgets.", "`x` is deprecated"]
        warnings.warn("`x` is deprecated", FutureWarning, stacklevel=1)
        assert len(shown) == 2  # the filters are back


def test_show_warnings_restores_levels_and_bars_even_after_an_error(quieted):
    import datasets

    hub_tqdm = importlib.import_module(
        "huggingface_hub.utils.tqdm"
    )  # the module (the package re-exports a class of that name)
    import transformers.utils.logging as tf_logging

    def state():
        return (
            tf_logging.get_verbosity(),
            datasets.logging.get_verbosity(),
            tf_logging.is_progress_bar_enabled(),
            hub_tqdm.are_progress_bars_disabled(),
        )

    assert state() == (logging.ERROR, logging.ERROR, False, True)  # what setup() leaves
    with pytest.raises(RuntimeError, match="inside"):
        with cu.show_warnings():
            assert state() == (logging.WARNING, logging.WARNING, True, False)
            raise RuntimeError("inside")
    assert state() == (logging.ERROR, logging.ERROR, False, True)
    with cu.show_warnings(progress_bars=False):
        assert state() == (logging.WARNING, logging.WARNING, False, True)
    assert state() == (logging.ERROR, logging.ERROR, False, True)
    # a level the learner chose is kept in the block (INFO is more verbose than WARNING) and restored after
    tf_logging.set_verbosity_info()
    with cu.show_warnings(progress_bars=False):
        assert tf_logging.get_verbosity() == logging.INFO
    assert tf_logging.get_verbosity() == logging.INFO


def test_show_warnings_leaves_bars_off_when_the_environment_forbids_them(quieted, monkeypatch):
    hub_tqdm = importlib.import_module(
        "huggingface_hub.utils.tqdm"
    )  # the module (the package re-exports a class of that name)
    import transformers.utils.logging as tf_logging
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_DISABLE_PROGRESS_BARS", True)
    monkeypatch.setattr(hub_tqdm, "HF_HUB_DISABLE_PROGRESS_BARS", True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # enabling against the variable would warn
        with cu.show_warnings():
            assert not tf_logging.is_progress_bar_enabled() and hub_tqdm.are_progress_bars_disabled()


@pytest.mark.parametrize("bad", [1, "yes", None])
def test_show_warnings_rejects_a_progress_bars_that_is_not_a_bool(bad):
    with pytest.raises(ValueError) as err:
        cu.show_warnings(progress_bars=bad)  # raised at the call, before any `with`
    msg = str(err.value)
    assert "progress_bars" in msg and "True or False" in msg and repr(bad) in msg
