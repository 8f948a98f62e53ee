"""A Hub (or mirror) that is slow or refuses: 429, 5xx and stalls, injected between the course and olah.

tests/fault_proxy.py sits between huggingface_hub and a real olah mirror of two tiny repositories
(``HuggingFaceTB/SmolLM2-135M``, a name with an offline stand-in: a config and 2 MB of "weights";
``dair-ai/emotion``: a few rows).
Each case runs the course's loading code (``resolve_checkpoint``, ``load_emotion``) in a fresh
process with ``HF_ENDPOINT`` at the proxy and checks the message, and that it comes at once (a
stall within the stall timeout, 2 s here) instead of after minutes of retries.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "tests"))

import fault_proxy  # noqa: E402
import hub_mirror  # noqa: E402
from fault_proxy import Fault  # noqa: E402

from course_utils import models  # noqa: E402

#: A checkpoint name with an offline stand-in, which the course's own mirror does not serve.
CHECKPOINT = "HuggingFaceTB/SmolLM2-135M"
#: The stall timeout the child processes run with (HF_HUB_DOWNLOAD_TIMEOUT; the default is 10 s).
STALL_S = 2
WEIGHTS = bytes(range(256)) * 8192  # 2 MB: stored as an LFS object, as the Hub stores weights
EMOTION_ROWS = {
    "train": [{"text": "i feel happy", "label": 1}, {"text": "i feel sad", "label": 0}],
    "validation": [{"text": "i am scared", "label": 4}],
    "test": [{"text": "what a surprise", "label": 5}],
}


def _build_checkpoint(out: Path) -> None:
    (out / "config.json").write_text(json.dumps({"model_type": "llama"}))
    (out / "model.safetensors").write_bytes(WEIGHTS)


def _build_emotion(out: Path) -> None:
    files = "".join(f"    - split: {s}\n      path: {s}.jsonl\n" for s in EMOTION_ROWS)
    (out / "README.md").write_text(f"---\nconfigs:\n  - config_name: default\n    data_files:\n{files}---\n")
    for split, rows in EMOTION_ROWS.items():
        (out / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


REPOS = (
    hub_mirror.Repo("models", CHECKPOINT, _build_checkpoint, "fault-test checkpoint"),
    hub_mirror.Repo("datasets", "dair-ai/emotion", _build_emotion, "fault-test emotion"),
)


@pytest.fixture(scope="module")
def mirror(tmp_path_factory):
    python = hub_mirror.default_olah_python()
    assert python.is_file(), f"olah's venv is missing: run `make mirror-deps` (creates {python.parent.parent})"
    root = tmp_path_factory.mktemp("fault-mirror")
    for repo in REPOS:
        hub_mirror.build_repo(repo, root)
    with hub_mirror.serve(root, python=python, repos=REPOS) as endpoint:
        yield endpoint


@pytest.fixture
def proxy(mirror):
    with fault_proxy.running(mirror, lifetime=120) as running:
        yield running
    assert not fault_proxy.listening(running.endpoint), "the fault proxy still listens after its test"


#: Runs in the child: one course call, its outcome as a JSON line.
CHILD = r"""
import json, sys, time
import course_utils as cu, course_utils.env
from course_utils.models import HubFaultError
course_utils.env.HUB_PROBE_REPO = sys.argv[2]  # the setup probe asks for a repository this mirror has
call = sys.argv[1]
t0 = time.perf_counter()
out = {}
try:
    if call == "checkpoint":
        out["returned"] = cu.resolve_checkpoint(sys.argv[2])
    elif call == "no-standin":
        out["returned"] = cu.resolve_checkpoint("course-test/not-mirrored")
    else:
        out["rows"] = cu.load_emotion()["train"].num_rows
except HubFaultError as err:
    out.update(error="HubFaultError", kind=err.kind, message=str(err), retry_after=err.retry_after)
except LookupError as err:
    out.update(error="LookupError", message=str(err))
out["seconds"] = time.perf_counter() - t0
print("RESULT " + json.dumps(out))
"""


def _run(proxy: fault_proxy.FaultProxy, tmp_path: Path, call: str = "checkpoint") -> tuple[dict, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "COURSE_DATA_DIR")
    }
    env.update(
        HF_ENDPOINT=proxy.endpoint,
        HF_HOME=str(tmp_path / "hf-home"),
        COURSE_CACHE_DIR=str(tmp_path / "course-cache"),
        COURSE_EMOTION_REVISION="main",
        HF_HUB_DOWNLOAD_TIMEOUT=str(STALL_S),
        HF_HUB_ETAG_TIMEOUT=str(STALL_S),
        HF_HUB_DISABLE_PROGRESS_BARS="1",
        HF_HUB_DISABLE_TELEMETRY="1",
        OMP_NUM_THREADS="1",
    )
    done = subprocess.run(
        [sys.executable, "-c", CHILD, call, CHECKPOINT],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        cwd=tmp_path,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stdout[-2000:] + done.stderr[-3000:]
    printed = "\n".join(line for line in done.stdout.splitlines() if not line.startswith("RESULT "))
    return json.loads(lines[-1].removeprefix("RESULT ")), printed


def _says_what_to_do(message: str, endpoint: str) -> None:
    assert f"from {endpoint}:" in message
    assert "`%env HF_ENDPOINT=<mirror URL>`" in message and "`make prefetch`" in message
    assert "token" not in message.lower() and "login" not in message.lower()  # no credential prompt


def test_a_healthy_mirror_through_the_proxy_serves_the_checkpoint(proxy, tmp_path):
    out, printed = _run(proxy, tmp_path)
    assert out["returned"] == CHECKPOINT and "error" not in out
    assert printed == f"{CHECKPOINT}: from the Hugging Face Hub at {proxy.endpoint}"
    assert any(path.endswith("/model.safetensors") for _, path, _ in proxy.log)


def test_rate_limited_stops_at_once_and_says_how_long_to_wait(proxy, tmp_path):
    """huggingface_hub alone: 5 waits of Retry-After + 1 s per file (about 10 minutes for 60 s), then "check your connection"."""
    proxy.fault = Fault.status(429, retry_after=60, match="/resolve/")
    out, _ = _run(proxy, tmp_path)
    assert out["kind"] == "rate-limited" and out["retry_after"] == 60
    assert out["message"].startswith(
        f"Could not download '{CHECKPOINT}' from {proxy.endpoint}: "
        "rate-limited (HTTP 429 Too Many Requests; it asks to wait 60 s).\nWhat to do: wait 60 s and run this cell again"
    )
    assert "`%env HF_HUB_OFFLINE=1`" in out["message"]  # the encoder has an offline stand-in
    _says_what_to_do(out["message"], proxy.endpoint)
    assert out["seconds"] < 5
    assert proxy.fault.hits <= 2  # one 429 per file at most (two files in parallel): no retry loop


@pytest.mark.parametrize(("status", "match"), [(500, "/resolve/"), (503, r"model\.safetensors")])
def test_a_failing_server_stops_after_two_retries(proxy, tmp_path, status, match):
    """huggingface_hub alone: a 503 on the weights took 51 s and blamed a missing pytorch_model.bin."""
    proxy.fault = Fault.status(status, match=match)
    out, _ = _run(proxy, tmp_path)
    assert out["kind"] == "server error"
    assert f"the server failed (HTTP {status} " in out["message"]
    assert "wait a few minutes and run this cell again" in out["message"]
    _says_what_to_do(out["message"], proxy.endpoint)
    assert out["seconds"] < 8
    assert proxy.fault.hits <= 1 + models.SERVER_ERROR_RETRIES + 1


def test_a_stalled_download_ends_within_the_stall_timeout_and_resumes(proxy, tmp_path):
    """huggingface_hub alone: 6 read timeouts of 10 s with resumes (71 s), then "no file named pytorch_model.bin"."""
    proxy.fault = Fault.stall(after_bytes=65536, match=r"model\.safetensors")
    out, _ = _run(proxy, tmp_path)
    assert out["kind"] == "stalled"
    assert f"the download stalled (nothing received for {STALL_S} s)" in out["message"]
    assert "`%env HF_HUB_DOWNLOAD_TIMEOUT=60`" in out["message"]
    _says_what_to_do(out["message"], proxy.endpoint)
    assert STALL_S <= out["seconds"] < STALL_S + 5
    assert proxy.fault.hits == 1
    proxy.fault = None  # the mirror recovers: running the cell again completes the download
    again, _ = _run(proxy, tmp_path)
    assert again["returned"] == CHECKPOINT


def test_a_mirror_that_never_answers_ends_within_the_stall_timeout(proxy, tmp_path):
    """huggingface_hub alone: 13 minutes (timeouts of 10 s, then 60 s per retry, for each file)."""
    proxy.fault = Fault.hang(match="/resolve/")
    out, _ = _run(proxy, tmp_path)
    assert out["kind"] == "stalled"
    assert STALL_S <= out["seconds"] < STALL_S + 5


def test_a_local_copy_is_used_when_the_hub_refuses(proxy, tmp_path):
    first, _ = _run(proxy, tmp_path)
    assert first["returned"] == CHECKPOINT
    proxy.fault = Fault.status(429, retry_after=30, skip=1)  # the setup probe passes, then nothing does
    out, printed = _run(proxy, tmp_path)
    assert "error" not in out and Path(out["returned"], "model.safetensors").read_bytes() == WEIGHTS
    assert printed == (
        f"{CHECKPOINT}: {proxy.endpoint}: rate-limited (HTTP 429 Too Many Requests; it asks to wait 30 s) -> local copy"
    )


def test_a_refusing_probe_keeps_the_offline_fallback_and_says_why(proxy, tmp_path):
    """The setup probe itself gets the 429: the Hub counts as offline (as when unreachable), with the reason."""
    proxy.fault = Fault.status(429, retry_after=30)
    out, _ = _run(proxy, tmp_path, call="no-standin")
    assert out["error"] == "LookupError"
    assert f"{proxy.endpoint} answered HTTP 429" in out["message"]
    assert "rate-limited: wait a minute, then restart the kernel, or use another Hub mirror" in out["message"]


def test_emotion_from_a_failing_hub_says_what_to_do(proxy, tmp_path):
    proxy.fault = Fault.status(502, match="/resolve/|/paths-info/|/tree/")
    out, _ = _run(proxy, tmp_path, call="emotion")
    assert out["kind"] == "server error" and "Could not download 'dair-ai/emotion'" in out["message"]
    assert "set COURSE_DATA_DIR to a folder holding emotion/" in out["message"]
    _says_what_to_do(out["message"], proxy.endpoint)
    assert out["seconds"] < 10


def test_emotion_falls_back_to_the_prefetched_copy(proxy, tmp_path):
    folder = tmp_path / "course-cache" / "data" / "emotion"
    folder.mkdir(parents=True)
    for split, rows in EMOTION_ROWS.items():
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    proxy.fault = Fault.status(429, match="/resolve/|/paths-info/|/tree/")
    out, printed = _run(proxy, tmp_path, call="emotion")
    assert out["rows"] == 2
    assert (
        printed
        == f"dair-ai/emotion: {proxy.endpoint}: rate-limited (HTTP 429 Too Many Requests) -> the copy made by `make prefetch`"
    )


# Without a server.


def test_each_fault_says_what_happened_and_what_to_do():
    for kind, details, happened, first in [
        ("rate-limited", {"retry_after": None}, "rate-limited (HTTP 429 Too Many Requests)", "wait a minute"),
        (
            "server error",
            {"status": 502, "count": 3},
            "the server failed (HTTP 502 Bad Gateway, 3 times)",
            "wait a few",
        ),
        ("stalled", {"waited": 10.0}, "the download stalled (nothing received for 10 s)", "run this cell again"),
    ]:
        err = models.HubFaultError(kind, "https://hf-mirror.example", **details).naming("org/name", "OFFLINE WAY")
        line1, line2 = str(err).split("\n")
        assert line1 == f"Could not download 'org/name' from https://hf-mirror.example: {happened}."
        assert line2.startswith(f"What to do: {first}") and line2.endswith("or work offline: OFFLINE WAY.")
    with pytest.raises(ValueError, match="kind must be one of"):
        models.HubFaultError("slow", "https://hf-mirror.example")


def test_retry_after_comes_from_either_header():
    assert models._retry_after({"retry-after": "120"}) == 120
    assert models._retry_after({"ratelimit": '"api";r=0;t=55'}) == 55
    assert models._retry_after({"ratelimit": '"api";r=10;t=55'}) is None  # not the reason for the 429
    assert models._retry_after({}) is None


def test_the_fault_proxy_stops_itself_and_wakes_stalled_connections():
    import http.client

    proxy = fault_proxy.FaultProxy("http://127.0.0.1:9", lifetime=1.0).start()
    proxy.fault = Fault.hang()
    conn = http.client.HTTPConnection(*proxy.endpoint.removeprefix("http://").split(":"), timeout=10)
    t0 = time.perf_counter()
    conn.request("GET", "/anything")
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        conn.getresponse()  # the hang ends when the proxy's lifetime does
    assert time.perf_counter() - t0 < 5
    time.sleep(0.2)
    assert not fault_proxy.listening(proxy.endpoint)
    with pytest.raises(ValueError, match="upstream must be"):
        fault_proxy.FaultProxy("https://huggingface.co")


def test_the_guard_is_there_only_while_the_course_downloads():
    """Other errors pass unchanged, and huggingface_hub gets its own client factory back."""
    from huggingface_hub import get_session
    from huggingface_hub.utils import _http

    factory = _http._GLOBAL_CLIENT_FACTORY
    seen = []

    def download():
        seen.append(type(get_session()._transport).__name__)
        raise KeyError("not a fault")

    with pytest.raises(KeyError, match="not a fault"):
        models.explain_hub_faults(CHECKPOINT, download)
    assert seen == ["GuardedTransport"]
    assert _http._GLOBAL_CLIENT_FACTORY is factory
    assert type(get_session()._transport).__name__ != "GuardedTransport"
