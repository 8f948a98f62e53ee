"""Install the course from a workshop bundle, with no network: ``python3 install.py`` (or ``./install.sh``).

This file is ``install.py`` inside a bundle made by ``make bundle`` (tools/bundle.py copies it there);
it uses the standard library only, so any Python 3.8+ can run it far enough to say what is wrong.

    python3 install.py            verify the bundle, install, write course.env, open JupyterLab
    python3 install.py --no-lab   the same without opening JupyterLab (tests; ./lab.sh opens it later)
    python3 install.py --verify   only verify (platform, Python, wheels, every file's size and sha256)

Before anything is created, :func:`verify` refuses a bundle without its manifest (written last: a
half-copy), one built for another system, processor, Python, C library or macOS, one missing a wheel
(naming the package) and one with a file of the wrong size or sha256. Then :func:`install` creates
``venv/`` from ``wheels/`` only (``--no-index`` / ``--offline`` on every call, and :func:`offline_env`),
and ``course.env`` points the course at the bundled caches with ``HF_HUB_OFFLINE=1`` (``lab.sh`` sources it).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

MANIFEST = "MANIFEST.json"
FORMAT = 1
VENV = "venv"
ENV_FILE = "course.env"
STAMP = ".bundle-installed"
#: Free disk space asked for, as a multiple of the wheels' size (measured: a 2.2 GB venv from 0.65 GB of wheels).
DISK_FACTOR = 4


class BundleError(Exception):
    """The bundle cannot be installed here; the message says why and what to do."""


def say(msg: str) -> None:
    print(f"[install] {msg}", flush=True)


def human(n: float) -> str:
    """Bytes in decimal units: ``512 B``, ``1.3 GB``."""
    for unit in ("B", "KB", "MB"):
        if abs(n) < 1000:
            return f"{n:.0f} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def sha256(path: Path) -> str:
    """The sha256 of the file ``path`` (Python 3.11+: :func:`verify` checks the Python first)."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def canonical(name: str) -> str:
    """A distribution name as PEP 503 compares them (``Foo_bar`` and ``foo-bar`` are the same)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def wheel_name_version(filename: str) -> tuple[str, str]:
    """``(canonical name, version)`` from a wheel's file name (``torch-2.13.0+cpu-cp311-...whl``)."""
    if not isinstance(filename, str) or not filename.endswith(".whl") or filename.count("-") < 4:
        raise ValueError(
            f"filename must be a wheel file name such as 'six-1.16.0-py2.py3-none-any.whl', got {filename!r}"
        )
    name, version = filename.split("-")[:2]
    return canonical(name), version


# ----------------------------------------------------------------------------------------------
# This machine, and the platform a bundle was built for


def normalise_machine(machine: str) -> str:
    """``x86_64`` / ``arm64`` / ``aarch64`` as wheels name them per system (AMD64 -> x86_64)."""
    m = machine.lower()
    return {"amd64": "x86_64", "x64": "x86_64"}.get(m, m)


def host() -> dict:
    """This machine as the manifest's ``target`` describes one."""
    info = {
        "system": platform.system(),
        "machine": normalise_machine(platform.machine()),
        "python": f"{sys.version_info[0]}.{sys.version_info[1]}",
        "implementation": sys.implementation.name,
    }
    if info["system"] == "Linux":
        lib, version = platform.libc_ver()
        info["libc"] = f"{lib} {version}".strip() if lib else "unknown"
    if info["system"] == "Darwin":
        info["macos_version"] = platform.mac_ver()[0] or "unknown"
    return info


def describe(target: dict) -> str:
    """``Linux x86_64, CPython 3.11 (glibc 2.28 or newer)`` for a manifest target or :func:`host`."""
    impl = {"cpython": "CPython"}.get(target.get("implementation", ""), target.get("implementation", "?"))
    text = f"{target.get('system', '?')} {target.get('machine', '?')}, {impl} {target.get('python', '?')}"
    if target.get("glibc"):
        text += f" (glibc {target['glibc']} or newer)"
    elif target.get("libc"):
        text += f" ({target['libc']})"
    if target.get("macos"):
        text += f" (macOS {target['macos']} or newer)"
    elif target.get("macos_version"):
        text += f" (macOS {target['macos_version']})"
    return text


def _version_tuple(text: str) -> tuple[int, ...]:
    """``(2, 28)`` from ``"2.28"``; ``()`` when ``text`` holds no number."""
    return tuple(int(n) for n in re.findall(r"\d+", text))


def check_target(target: dict, here: dict) -> None:
    """Raise :class:`BundleError` naming both platforms when the bundle's ``target`` does not fit ``here``."""
    problems = []
    for key, what in (
        ("system", "operating system"),
        ("machine", "processor"),
        ("implementation", "Python implementation"),
        ("python", "Python version"),
    ):
        if target.get(key) != here.get(key):
            problems.append(f"{what} {target.get(key)!r} != {here.get(key)!r}")
    if target.get("glibc") and here.get("system") == "Linux" and not problems:
        libc = here.get("libc", "")
        have = _version_tuple(libc.split()[-1]) if libc.startswith("glibc") else ()
        if not have or have < _version_tuple(target["glibc"]):
            problems.append(f"C library {libc or 'unknown'} is older than glibc {target['glibc']} or not glibc")
    if target.get("macos") and here.get("system") == "Darwin" and not problems:
        have = _version_tuple(here.get("macos_version", ""))
        if not have or have < _version_tuple(target["macos"]):
            problems.append(f"macOS {here.get('macos_version', 'unknown')} is older than {target['macos']}")
    if problems:
        name = target.get("name", "?")
        raise BundleError(
            f"this bundle was built for {describe(target)} [target {name}], but this machine is {describe(here)}: "
            + "; ".join(problems)
            + ". Build a bundle for this machine (on one with internet: make bundle BUNDLE_TARGET=<target> "
            "BUNDLE_PYTHON=<x.y>), or run this one with the Python it was built for (PYTHON=python3.x ./install.sh)."
        )


# ----------------------------------------------------------------------------------------------
# The manifest and the files


def load_manifest(bundle: Path) -> dict:
    """The bundle's manifest; :class:`BundleError` when it is missing (half-copied) or unreadable."""
    path = Path(bundle) / MANIFEST
    if not path.is_file():
        raise BundleError(
            f"{path} is missing: the bundle is incomplete (the build writes the manifest last, and a copy "
            "may have stopped before it). Copy the whole bundle folder again."
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BundleError(f"{path} cannot be read ({exc}): the bundle is damaged; copy it again.") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleError(
            f"{path}: format {manifest.get('format') if isinstance(manifest, dict) else '?'}; "
            f"this installer reads format {FORMAT}. Use the install.py that came with the bundle."
        )
    for key in ("target", "wheels", "files", "install"):
        if key not in manifest:
            raise BundleError(f"{path} has no {key!r} entry: the bundle is damaged; copy it again.")
    return manifest


def missing_wheels(bundle: Path, manifest: dict) -> list[str]:
    """``name==version (file)`` for every wheel the build resolved that is not in the bundle."""
    wheels = manifest["wheels"]
    return [f"{w['name']}=={w['version']} ({w['file']})" for w in wheels if not (Path(bundle) / w["file"]).is_file()]


def damaged_files(bundle: Path, manifest: dict, hashes: bool = True) -> list[str]:
    """Files of the manifest that are missing or differ in size (or sha256, when ``hashes``)."""
    bad = []
    bundle = Path(bundle)
    for rel, (size, digest) in sorted(manifest["files"].items()):
        path = bundle / rel
        if not path.is_file():
            bad.append(f"{rel}: missing")
        elif path.stat().st_size != size:
            bad.append(f"{rel}: {path.stat().st_size} bytes, expected {size}")
        elif hashes and sha256(path) != digest:
            bad.append(f"{rel}: sha256 differs")
    for rel, target in sorted(manifest.get("links", {}).items()):
        if not os.path.islink(bundle / rel):
            bad.append(f"{rel}: missing (a link to {target})")
    return bad


def _refuse(problems: list[str], what: str, sep: str, fix: str) -> None:
    """:class:`BundleError` listing the first ten ``problems`` (``N what: a, b ... fix``), if there are any."""
    if problems:
        listed = sep.join(problems[:10]) + (" ..." if len(problems) > 10 else "")
        raise BundleError(f"{len(problems)} {what}: {listed}. {fix}")


def verify(bundle: Path, here: dict | None = None, log=say) -> dict:
    """Every check that runs before anything is created; returns the manifest or raises :class:`BundleError`."""
    bundle = Path(bundle)
    manifest = load_manifest(bundle)
    check_target(manifest["target"], host() if here is None else here)
    log(f"built for {describe(manifest['target'])}; this machine fits")
    gone = missing_wheels(bundle, manifest)
    what = f"wheel(s) that the build resolved are missing from {bundle / 'wheels'}"
    _refuse(gone, what, ", ", "Copy the bundle again (or rebuild it with make bundle).")
    t0 = time.perf_counter()
    bad = damaged_files(bundle, manifest, hashes=False) or damaged_files(bundle, manifest, hashes=True)
    what = "file(s) of the bundle are missing or damaged (a half-copied bundle?)"
    _refuse(bad, what, "; ", "Copy the whole bundle folder again.")
    total = sum(size for size, _ in manifest["files"].values())
    log(
        f"{len(manifest['files'])} files ({human(total)}) match their sha256 "
        f"({len(manifest['wheels'])} wheels; checked in {time.perf_counter() - t0:.1f} s)"
    )
    return manifest


# ----------------------------------------------------------------------------------------------
# Installing


def offline_env(bundle: Path) -> dict:
    """The environment of every installer call: no index, no configuration file, no cache left behind."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIP_", "UV_", "VIRTUAL_ENV", "CONDA_", "PYTHONHOME", "PYTHONPATH"))
    }
    wheels = str(Path(bundle) / "wheels")
    env.update(
        dict.fromkeys(("PIP_NO_INDEX", "PIP_NO_INPUT", "PIP_DISABLE_PIP_VERSION_CHECK", "PIP_NO_CACHE_DIR"), "1")
    )
    env.update(dict.fromkeys(("UV_OFFLINE", "UV_NO_INDEX", "UV_NO_CONFIG", "UV_NO_PROGRESS"), "1"))
    env.update(PIP_FIND_LINKS=wheels, PIP_CONFIG_FILE=os.devnull, UV_FIND_LINKS=wheels, UV_PYTHON_DOWNLOADS="never")
    env["UV_CACHE_DIR"] = str(Path(bundle) / ".install-cache")
    return env


def _step(cmd: list, env: dict, what: str) -> float:
    """Run ``cmd`` (shown first) with ``env``; its seconds, or :class:`BundleError` with the output's tail."""
    say(f"{what}: {' '.join(shlex.quote(str(c)) for c in cmd)}")
    t0 = time.perf_counter()
    proc = subprocess.run([str(c) for c in cmd], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.strip().splitlines()[-30:])
        raise BundleError(f"{what} failed (exit {proc.returncode}):\n{tail}")
    seconds = time.perf_counter() - t0
    say(f"  done in {seconds:.1f} s")
    return seconds


def folder_size(path: Path) -> int:
    """Bytes of the regular files under ``path`` (hard links counted once)."""
    sizes = {}
    for p in Path(path).rglob("*"):
        if p.is_file() and not p.is_symlink():
            st = p.stat()
            sizes[st.st_dev, st.st_ino] = st.st_size
    return sum(sizes.values())


def write_env_file(bundle: Path, manifest: dict) -> Path:
    """``course.env``: the course's caches in the bundle, the Hub off, installers without an index."""
    bundle = Path(bundle).resolve()
    cache = bundle / "course" / "data" / "cache"
    lines = [
        "# Written by install.py: the course's settings for this bundle. lab.sh sources it; in a shell: . ./course.env",
        f"export COURSE_CACHE_DIR={shlex.quote(str(cache))}",
    ]
    if manifest.get("caches", {}).get("emotion"):
        lines.append(f"export COURSE_DATA_DIR={shlex.quote(str(cache / 'data'))}")
    lines += [
        "export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 HF_EVALUATE_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1",
        f"export PIP_NO_INDEX=1 PIP_FIND_LINKS={shlex.quote(str(bundle / 'wheels'))} UV_OFFLINE=1",
        f'export PATH={shlex.quote(str(bundle / VENV / "bin"))}:"$PATH"',
        "",
    ]
    path = bundle / ENV_FILE
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def install(bundle: Path, manifest: dict, force: bool = False) -> dict:
    """Create ``venv/`` from ``wheels/`` only; returns the seconds of each step and the venv's size."""
    bundle = Path(bundle).resolve()
    venv = bundle / VENV
    stamp = venv / STAMP
    if venv.exists():
        if stamp.is_file() and not force:
            say(f"already installed in {venv} (python3 install.py --force reinstalls)")
            return {"seconds": {}, "venv_bytes": folder_size(venv), "reused": True}
        say(f"removing the earlier, {'complete' if stamp.is_file() else 'unfinished'} install in {venv}")
        shutil.rmtree(venv)
    wheel_bytes = sum(manifest["files"][w["file"]][0] for w in manifest["wheels"] if w["file"] in manifest["files"])
    free = shutil.disk_usage(bundle).free
    if free < DISK_FACTOR * wheel_bytes:
        raise BundleError(
            f"only {human(free)} free on the disk of {bundle}; the install needs about "
            f"{human(DISK_FACTOR * wheel_bytes)}. Free some space and run install.py again."
        )
    say(f"installing into {venv} (about {human(DISK_FACTOR * wheel_bytes * 0.8)} of disk; {human(free)} free)")
    env = offline_env(bundle)
    seconds = {}
    python = venv / "bin" / "python"
    wheels = bundle / "wheels"
    seconds["venv"] = _step([sys.executable, "-m", "venv", venv], env, "create the virtual environment")
    spec = manifest["install"]
    pip = [python, "-m", "pip", "install", "--quiet", "--no-index", "--find-links", wheels, spec["uv"]]
    seconds["uv"] = _step(pip, env, "install uv from the bundle")
    uv = [venv / "bin" / "uv", "pip", "install", "--offline", "--no-index", "--find-links", wheels]
    uv += ["--python", python, "--compile-bytecode", "--quiet"]
    extras = ",".join(spec["extras"])
    stack = [*uv, "-r", bundle / spec["requirements_file"], "-e", f"{bundle / 'course'}[{extras}]"]
    try:
        seconds["stack"] = _step(stack, env, "install the course and its stack (torch included)")
        if spec.get("no_deps"):
            seconds["standins"] = _step([*uv, "--no-deps", *spec["no_deps"]], env, "install the stand-in packages")
    finally:
        shutil.rmtree(env["UV_CACHE_DIR"], ignore_errors=True)
    stamp.write_text(json.dumps({"built": manifest.get("built"), "seconds": seconds}) + "\n", encoding="utf-8")
    size = folder_size(venv)
    say(f"venv: {human(size)} on disk")
    return {"seconds": seconds, "venv_bytes": size, "reused": False}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-lab", action="store_true", help="install only; open JupyterLab later with ./lab.sh")
    parser.add_argument("--verify", action="store_true", help="only verify the bundle; create nothing")
    parser.add_argument("--force", action="store_true", help="reinstall even when venv/ is complete")
    args = parser.parse_args(argv)
    bundle = Path(__file__).resolve().parent
    t0 = time.perf_counter()
    try:
        say(f"bundle {bundle}")
        manifest = verify(bundle)
        if args.verify:
            return 0
        result = install(bundle, manifest, force=args.force)
        env_file = write_env_file(bundle, manifest)
    except BundleError as exc:
        print(f"install.py: {exc}", file=sys.stderr)
        return 1
    total = time.perf_counter() - t0
    say(f"settings in {env_file} (caches in course/data/cache, HF_HUB_OFFLINE=1)")
    say(
        f"installed in {total:.0f} s; venv {human(result['venv_bytes'])}, bundle {human(folder_size(bundle) - result['venv_bytes'])}"
    )
    if args.no_lab:
        say("open the course with ./lab.sh")
        return 0
    say("opening JupyterLab (./lab.sh; Ctrl+C stops it)")
    os.execv("/bin/sh", ["/bin/sh", str(bundle / "lab.sh")])


if __name__ == "__main__":
    sys.exit(main())
