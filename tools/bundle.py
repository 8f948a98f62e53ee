"""The workshop bundle: one folder that installs and runs the whole course on a machine with no network.

    python tools/bundle.py build [--out build/bundle] [--target linux-x86_64] [--python 3.11] [--archive] [--no-solutions]
    python tools/bundle.py rehearse [--bundle DIR] [--notebooks 00 03]     (make bundle-test)

``build`` (``make bundle``; needs PyPI) writes ``course/`` (the checkout, :func:`plumbing.copy_checkout`, with
its caches), ``wheels/`` (what ``uv pip compile --python-platform`` resolves for the target, fetched by ``pip
download --platform``), ``requirements.txt``, ``install.py`` (tools/bundle_install.py), the files of
tools/bundle_data/ and, last, ``MANIFEST.json`` (target, wheels, every file's size and sha256). ``rehearse``
(``make bundle-test``) installs a bundle in a network namespace with only loopback, fresh HOME and caches, runs
notebooks and ``lab.sh``; figures in ``build/bundle-test/report.json``. bundle.mk and INSTRUCTOR.md ("Workshop
kit") say what a bundle holds and how an instructor uses it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote

from packaging.requirements import Requirement
from packaging.tags import compatible_tags, cpython_tags, mac_platforms
from packaging.utils import canonicalize_name, parse_wheel_filename

from course_utils.data import EMOTION_SPLITS, emotion_files_present
from course_utils.paths import prefetched_data_dir

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bundle_install as bi  # noqa: E402
from latest_check import pip_check_problems  # noqa: E402
from plumbing import TORCH_VERSION, RehearsalError, copy_checkout, find_uv, run, torch_requirement  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
#: install.sh, lab.sh and the README.txt template, as they go into a bundle.
DATA = Path(__file__).resolve().parent / "bundle_data"
DEFAULT_OUT = ROOT / "build" / "bundle"
DEFAULT_REPORT = ROOT / "build" / "bundle-test" / "report.json"
EXTRAS = ("lab", "test", "offline")
#: Notebooks the end-to-end test executes from an installed bundle (numbers, as in notebooks/NN_*.ipynb).
REHEARSAL_NOTEBOOKS = ("00", "03")
#: PyTorch's index of CPU builds (PyPI's Linux wheel is the CUDA build, with GBs of NVIDIA libraries).
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
#: The worked solutions, as folders of the course: what ``build --no-solutions`` leaves out. (The
#: checkers in course_utils/check and their tests still hold reference code: this keeps the worked
#: answers out of sight during the day, it does not make them secret.)
SOLUTIONS = ("notebooks/solutions", "notebooks/zh/solutions", "translations/zh/notebooks/solutions")
SOLUTIONS_IN = "Worked solutions: course/notebooks/solutions/."
SOLUTIONS_OUT = "The worked solutions are not in this bundle: your instructor hands them out."


@dataclass(frozen=True)
class Target:
    """A platform a bundle can be built for."""

    name: str
    system: str  # platform.system() there
    machine: str  # bundle_install.normalise_machine(platform.machine()) there
    uv_platform: str  # uv pip compile --python-platform
    pip_platforms: tuple[str, ...]  # pip download --platform (each accepted tag)
    glibc: str = ""  # the oldest C library the wheels accept (Linux)
    macos: str = ""  # the oldest macOS the wheels accept (torch 2.13's wheel is macosx_14_0_arm64)


def _linux(arch: str, glibc: int = 28) -> Target:
    """The Linux target for ``arch``, whose wheels need glibc 2.``glibc`` or older (every manylinux tag up to it)."""
    tags = [f"manylinux_2_{m}_{arch}" for m in range(glibc, 4, -1)]
    tags += [f"manylinux{v}_{arch}" for v in (2014, 2010, 1)]  # the older names of 2_17, 2_12 and 2_5
    return Target(f"linux-{arch}", "Linux", arch, f"{arch}-manylinux_2_{glibc}", tuple(tags), f"2.{glibc}")


#: Targets by name. torch 2.13 has no wheels for Intel Macs; Windows learners use WSL 2 (linux-x86_64).
TARGETS: dict[str, Target] = {
    "linux-x86_64": _linux("x86_64"),
    "linux-aarch64": _linux("aarch64"),
    "macos-arm64": Target(
        "macos-arm64", "Darwin", "arm64", "aarch64-apple-darwin", tuple(mac_platforms((14, 0), "arm64")), macos="14.0"
    ),  # macOS 14: every tag it accepts
}


def host_target() -> str:
    """The name in :data:`TARGETS` of this machine, or ValueError naming what it is."""
    here = bi.host()
    for name, t in TARGETS.items():
        if t.system == here["system"] and t.machine == here["machine"]:
            return name
    raise ValueError(
        f"this machine ({here['system']} {here['machine']}) is not a bundle target; "
        f"pass --target, one of {', '.join(TARGETS)}"
    )


def check_python_version(text: str) -> str:
    """``"3.11"`` stays; anything not ``3.N`` (N >= 11) is refused naming the argument."""
    parts = str(text).split(".")
    if len(parts) != 2 or parts[0] != "3" or not parts[1].isdigit() or int(parts[1]) < 11:
        raise ValueError(f"python_version must be '3.N' with N >= 11 (the course needs Python 3.11+), got {text!r}")
    return text


def wheel_fits(filename: str, target: Target, python_version: str) -> bool:
    """True when the wheel ``filename`` installs on ``target`` with CPython ``python_version``."""
    _, _, _, tags = parse_wheel_filename(filename)
    version = tuple(int(p) for p in check_python_version(python_version).split("."))
    platforms = list(target.pip_platforms)
    supported = set(cpython_tags(version, platforms=platforms)) | set(
        compatible_tags(version, "cp" + "".join(map(str, version)), platforms=platforms)
    )
    return not supported.isdisjoint(tags)


def _wheel_of(url: str) -> str:
    """The wheel's file name at the end of ``url`` (``%2B`` decoded to ``+``)."""
    return unquote(url.rsplit("/", 1)[-1])


def torch_for(target: Target, python_version: str) -> tuple[str, list[str]]:
    """The torch requirement and uv flags: the local CPU wheel when it fits the target; else on macOS PyPI's
    wheel (CPU, and MPS), on Linux the CPU build from PyTorch's index (uv's ``--torch-backend=cpu``)."""
    requirement, flags = torch_requirement()
    if requirement.startswith("torch @ ") and wheel_fits(_wheel_of(requirement), target, python_version):
        return requirement, flags
    return f"torch=={TORCH_VERSION}", ([] if target.system == "Darwin" else ["--torch-backend=cpu"])


# ----------------------------------------------------------------------------------------------
# Build


def resolve(course: Path, target: Target, python_version: str, work: Path, log=print) -> tuple[Path, list[str]]:
    """``uv pip compile`` of the course's runtime + extras, torch, setuptools and uv for ``target``.

    Returns the lock file and the pip options that the download needs (the CPU index for torch).
    """
    torch_req, torch_flags = torch_for(target, python_version)
    uv_version = run([find_uv(), "--version"], timeout=30, what="uv --version").split()[1]
    extra_in = work / "extra.in"
    # setuptools builds the editable course package (pyproject's build-system); uv installs the rest.
    extra_in.write_text(f"{torch_req}\nsetuptools>=68\nuv=={uv_version}\n", encoding="utf-8")
    lock = work / "lock.txt"
    cmd = [find_uv(), "pip", "compile", "--quiet", "--no-header", "--no-annotate", course / "pyproject.toml", extra_in]
    cmd += [a for e in EXTRAS for a in ("--extra", e)]
    cmd += ["--python-version", python_version, "--python-platform", target.uv_platform, "--only-binary", ":all:"]
    cmd += [*torch_flags, "-o", lock]
    t0 = time.perf_counter()
    env = dict(os.environ, MACOSX_DEPLOYMENT_TARGET=target.macos) if target.macos else None
    run(cmd, timeout=600, env=env, what="uv pip compile (resolving the wheel list)")
    seconds = time.perf_counter() - t0
    log(f"resolved {len(pins(lock))} distributions for {target.name}, Python {python_version} ({seconds:.1f} s)")
    return lock, ([f"--extra-index-url={TORCH_CPU_INDEX}"] if torch_flags else [])


def download(
    lock: Path, standins: list[str], target: Target, python_version: str, wheels: Path, pip_flags: list[str], log=print
) -> None:
    """``pip download`` every wheel of ``lock`` and the stand-in packages for ``target`` into ``wheels``."""
    common = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps"]
    common += ["--only-binary=:all:", "--python-version", python_version, "--implementation", "cp"]
    common += [*[a for p in target.pip_platforms for a in ("--platform", p)], "-d", wheels, *pip_flags]
    t0 = time.perf_counter()
    run([*common, "-r", lock], timeout=1800, what="pip download (the stack)")
    if standins:
        run([*common, *standins], timeout=1800, what="pip download (the stand-in packages)")
    log(f"downloaded into {wheels} ({time.perf_counter() - t0:.1f} s)")


def pins(lock: Path) -> dict[str, str]:
    """``{canonical name: version}`` of a lock file (``name==version`` or ``name @ url-of-a-wheel``)."""
    found = {}
    for line in lock.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            req = Requirement(line)
            pinned = [s.version for s in req.specifier if s.operator == "=="]
            if not req.url and len(pinned) != 1:
                raise ValueError(f"lock line {line!r} is not pinned (name==version or name @ url)")
            found[canonicalize_name(req.name)] = bi.wheel_name_version(_wheel_of(req.url))[1] if req.url else pinned[0]
    return found


def copy_caches(cache: Path, data_dir: Path | None, dest: Path, log=print) -> dict:
    """Copy the prefetched Hub snapshots, the emotion splits and the built stand-ins into ``dest`` (course/data/cache)."""
    caches = {"hub": False, "emotion": False, "standins": []}
    if (cache / "hub").is_dir() and any((cache / "hub").iterdir()):
        # Snapshots as plain files (the cache's symlinks dereferenced, blobs/ left out): a FAT or exFAT
        # USB stick keeps no symlinks, and huggingface_hub finds a snapshot by refs/ and snapshots/ alone.
        shutil.copytree(cache / "hub", dest / "hub", symlinks=False, ignore=shutil.ignore_patterns("blobs", ".locks"))
        caches["hub"] = True
    for source in [p for p in (data_dir, prefetched_data_dir(cache)) if p is not None]:
        if emotion_files_present(source):  # copied where load_emotion looks for a prefetch
            (prefetched_data_dir(dest) / "emotion").mkdir(parents=True)
            for s in EMOTION_SPLITS:
                shutil.copy2(source / "emotion" / f"{s}.jsonl", prefetched_data_dir(dest) / "emotion" / f"{s}.jsonl")
            caches["emotion"] = True
            break
    for folder in sorted((cache / "standins").glob("[!.]*")) if (cache / "standins").is_dir() else []:
        if (folder / "config.json").is_file():  # built completely (stand-ins are published atomically)
            shutil.copytree(folder, dest / "standins" / folder.name)
            caches["standins"].append(folder.name)
    standins = ", ".join(caches["standins"])
    log(
        "caches: "
        + ("Hub prefetch" if caches["hub"] else "no Hub prefetch (stand-ins only; run make prefetch to add one)")
        + (", emotion" if caches["emotion"] else ", NO emotion data (set COURSE_DATA_DIR or run make prefetch)")
        + (f", stand-ins {standins}" if standins else ", no built stand-ins (built on first use)")
    )
    return caches


def drop_solutions(course: Path) -> list[str]:
    """Remove the worked solutions (:data:`SOLUTIONS`) from the course folder ``course``; returns those removed."""
    removed = []
    for rel in SOLUTIONS:
        folder = Path(course) / rel
        if folder.is_dir():
            shutil.rmtree(folder)
            removed.append(rel)
    return removed


def build(
    out: Path,
    target_name: str | None = None,
    python_version: str | None = None,
    cache: Path | None = None,
    data_dir: Path | None = None,
    archive: bool = False,
    log=print,
    solutions: bool = True,
) -> dict:
    """Build a bundle in the new folder ``out`` (see the module doc); returns the figures printed.

    ``cache`` and ``data_dir`` default to ``$COURSE_CACHE_DIR`` (else data/cache) and ``$COURSE_DATA_DIR``.
    ``solutions=False`` leaves the worked solutions out (:func:`drop_solutions`). The bundle is
    written to ``out.part`` and renamed to ``out`` when complete: an interrupted build leaves nothing."""
    target_name = target_name or host_target()
    if target_name not in TARGETS:
        raise ValueError(f"target must be one of {', '.join(TARGETS)}, got {target_name!r}")
    target = TARGETS[target_name]
    python_version = check_python_version(python_version or f"{sys.version_info[0]}.{sys.version_info[1]}")
    out = Path(out).resolve()
    if out.exists():
        raise ValueError(f"out must be a folder that does not exist yet, got {out} (remove it first)")
    cache = Path(cache or os.environ.get("COURSE_CACHE_DIR") or ROOT / "data" / "cache").resolve()
    data_dir = data_dir or os.environ.get("COURSE_DATA_DIR") or None
    data_dir = Path(data_dir).resolve() if data_dir else None
    t_all = time.perf_counter()
    part = out.with_name(out.name + ".part")
    shutil.rmtree(part, ignore_errors=True)
    part.mkdir(parents=True)
    seconds: dict[str, float] = {}
    try:
        copied = _timed(seconds, "course", copy_checkout, ROOT, part / "course")
        log(f"course: {copied} files from {ROOT}")
        if not solutions:
            log(f"course: worked solutions left out ({', '.join(drop_solutions(part / 'course')) or 'none found'})")
        wheels, resolved, standins = wheelhouse(part, target, python_version, seconds, log)
        caches = _timed(seconds, "caches", copy_caches, cache, data_dir, part / "course" / "data" / "cache", log)
        built = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        write_launchers(part, target, python_version, built, wheels, solutions)
        install = {
            "requirements_file": "requirements.txt",
            "extras": list(EXTRAS),
            "uv": f"uv=={resolved['uv']}",
            "no_deps": sorted(standins),
        }
        info = target_info(target, python_version)
        manifest = _timed(seconds, "checksums", write_manifest, part, info, wheels, caches, built, install, solutions)
        part.rename(out)
    except BaseException:
        shutil.rmtree(part, ignore_errors=True)
        raise
    seconds["total"] = time.perf_counter() - t_all
    figures = sizes(out, manifest)
    figures["seconds"] = {k: round(v, 1) for k, v in seconds.items()}
    if archive:
        figures["archive"] = _archive(out)
    log(summary(figures, manifest))
    return figures


def _timed(seconds: dict[str, float], key: str, step, *args, **kwargs):
    """``step(*args, **kwargs)``, its duration added to ``seconds[key]``."""
    t0 = time.perf_counter()
    try:
        return step(*args, **kwargs)
    finally:
        seconds[key] = seconds.get(key, 0.0) + time.perf_counter() - t0


def wheelhouse(
    part: Path, target: Target, python_version: str, seconds: dict[str, float], log
) -> tuple[list[dict], dict[str, str], list[str]]:
    """Resolve the stack for ``target`` and download its wheels into ``part/wheels``; write ``requirements.txt``.

    Returns the wheels (``{"name", "version", "file"}``), the resolved pins and the stand-in
    packages installed with ``--no-deps``. Raises :class:`RehearsalError` when a wheel does not
    fit the target or the wheelhouse lacks a resolved pin."""
    cmd = [sys.executable, "-m", "course_utils", "requirements"]
    standins = run(cmd, timeout=120, cwd=ROOT, what="python -m course_utils requirements").split()
    with tempfile.TemporaryDirectory(prefix="bundle-resolve-") as tmp:
        lock, pip_flags = _timed(seconds, "resolve", resolve, part / "course", target, python_version, Path(tmp), log)
        resolved = pins(lock)
        _timed(seconds, "download", download, lock, standins, target, python_version, part / "wheels", pip_flags, log)
    wheels = []
    for f in sorted((part / "wheels").iterdir()):
        name, version = bi.wheel_name_version(f.name)
        if not wheel_fits(f.name, target, python_version):
            raise RehearsalError(f"pip downloaded {f.name}, which does not fit {target.name} / Python {python_version}")
        wheels.append({"name": name, "version": version, "file": f"wheels/{f.name}"})
    got = {w["name"]: w["version"] for w in wheels}
    wrong = [f"{n}=={v} (got {got.get(n, 'nothing')})" for n, v in resolved.items() if got.get(n) != v]
    if wrong:
        raise RehearsalError("the wheelhouse lacks what uv resolved: " + ", ".join(wrong))
    (part / "requirements.txt").write_text(
        "# The stack, as resolved at build time (install.py installs it with --no-index from wheels/)\n"
        + "".join(f"{n}=={v}\n" for n, v in sorted(resolved.items()) if n != "uv"),
        encoding="utf-8",
    )
    return wheels, resolved, standins


def write_launchers(
    part: Path, target: Target, python_version: str, built: str, wheels: list[dict], solutions: bool
) -> None:
    """``install.py`` (tools/bundle_install.py), ``install.sh``, ``lab.sh`` and ``README.txt`` into ``part``."""
    shutil.copy2(Path(__file__).with_name("bundle_install.py"), part / "install.py")
    for name in ("install.sh", "lab.sh"):
        shutil.copyfile(DATA / name, part / name)
        (part / name).chmod(0o755)
    wheel_bytes = sum((part / w["file"]).stat().st_size for w in wheels)
    hint = bi.human(bi.DISK_FACTOR * wheel_bytes * 0.8)
    notes = SOLUTIONS_IN if solutions else SOLUTIONS_OUT
    readme = (DATA / "README.txt").read_text(encoding="utf-8")
    readme = readme.format(target=target.name, python=python_version, built=built, install_hint=hint, solutions=notes)
    (part / "README.txt").write_text(readme, encoding="utf-8")


def target_info(target: Target, python_version: str) -> dict:
    """The manifest's ``target``: the platform and Python ``install.py`` checks before installing."""
    info = {k: v for k, v in asdict(target).items() if v and k not in ("uv_platform", "pip_platforms")}
    return info | {"implementation": "cpython", "python": python_version}


def _archive(out: Path) -> dict:
    """``out`` as one uncompressed ``out.tar`` beside it (wheels do not compress); its path, size and seconds."""
    t0 = time.perf_counter()
    tar = out.with_name(out.name + ".tar")
    run(["tar", "-cf", tar, "-C", out.parent, out.name], timeout=1800, what="tar")
    return {"path": str(tar), "bytes": tar.stat().st_size, "seconds": round(time.perf_counter() - t0, 1)}


def write_manifest(
    folder: Path, target: dict, wheels: list[dict], caches: dict, built: str, install: dict, solutions: bool = True
) -> dict:
    """Write ``folder/MANIFEST.json`` (the last file of a bundle): ``target``, the resolved ``wheels``
    (``{"name", "version", "file"}``), whether the worked ``solutions`` are in, and the size and
    sha256 of every file under ``folder``."""
    folder = Path(folder)
    for key in ("system", "machine", "python", "implementation"):
        if key not in target:
            raise ValueError(f"target must have the keys system, machine, python, implementation; {key!r} is missing")
    if "torch" not in {w["name"] for w in wheels}:
        raise ValueError("wheels must include torch (the course's stack)")
    files, links = {}, {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_symlink():
            links[rel] = os.readlink(path)
        elif path.is_file() and rel != bi.MANIFEST:
            files[rel] = [path.stat().st_size, bi.sha256(path)]
    for w in wheels:
        if w["file"] not in files:
            raise ValueError(f"wheels: {w['file']} is not a file in {folder}")
    manifest = {
        "format": bi.FORMAT,
        "built": built,
        "built_on": bi.describe(bi.host()),
        "target": target,
        "torch": next(w["version"] for w in wheels if w["name"] == "torch"),
        "caches": caches,
        "wheels": wheels,
        "install": install,
        "solutions": bool(solutions),
        "files": files,
        "links": links,
    }
    tmp = folder / (bi.MANIFEST + ".part")
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    tmp.rename(folder / bi.MANIFEST)
    return manifest


def sizes(bundle: Path, manifest: dict) -> dict:
    """Bytes of the bundle by part: wheels (torch separately), caches, the course's own files."""
    files = manifest["files"]
    torch_file = next(w["file"] for w in manifest["wheels"] if w["name"] == "torch")
    part = lambda prefix: sum(s for f, (s, _) in files.items() if f.startswith(prefix))  # noqa: E731
    return {
        "bundle": sum(s for s, _ in files.values()),
        "wheels": part("wheels/"),
        "torch_wheel": files[torch_file][0],
        "wheel_count": len(manifest["wheels"]),
        "caches": part("course/data/cache/"),
        "standins": part("course/data/cache/standins/"),
        "hub": part("course/data/cache/hub/"),
        "emotion": part("course/data/cache/data/"),
        "course": part("course/") - part("course/data/cache/"),
        "path": str(bundle),
    }


def summary(figures: dict, manifest: dict) -> str:
    """The lines ``build`` prints: the bundle's size by part, its seconds and its archive."""
    h = bi.human
    t = manifest["target"]
    lines = [
        f"bundle {figures['path']}: {h(figures['bundle'])} for {t['name']}, Python {t['python']} "
        f"(torch {manifest['torch']}){'' if manifest.get('solutions', True) else ', without the worked solutions'}",
        f"  wheels {h(figures['wheels'])} ({figures['wheel_count']} wheels), of which torch "
        f"{h(figures['torch_wheel'])} = {100 * figures['torch_wheel'] / figures['bundle']:.0f} % of the bundle",
        f"  caches {h(figures['caches'])} (stand-ins {h(figures['standins'])}, Hub prefetch {h(figures['hub'])}, "
        f"emotion {h(figures['emotion'])}); course files {h(figures['course'])}",
    ]
    if "seconds" in figures:
        lines.append("  seconds: " + ", ".join(f"{k} {v}" for k, v in figures["seconds"].items()))
    if "archive" in figures:
        lines.append(f"  archive {figures['archive']['path']} ({h(figures['archive']['bytes'])})")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# The end-to-end rehearsal: install from the bundle with the network really off


#: The Python that builds and rehearses (a venv's base): it runs install.sh and the network probe.
BASE_PYTHON = Path(sys._base_executable)
NET_PROBE = r"""
import socket, sys
for host, port in (("pypi.org", 443), ("files.pythonhosted.org", 443), ("151.101.0.223", 443), ("1.1.1.1", 53)):
    try:
        socket.create_connection((host, port), timeout=3).close()
    except OSError as exc:
        print(f"{host}:{port} unreachable ({type(exc).__name__})")
    else:
        sys.exit(f"{host}:{port} answered: the network is not off")
"""


#: Inside the namespace: start ./lab.sh (the learner's command), wait until JupyterLab answers, stop it.
LAB_PROBE = r"""
sh "$1/lab.sh" --no-browser --port 8899 --ServerApp.ip=127.0.0.1 --ServerApp.token=bundle >"$1/lab.log" 2>&1 &
pid=$!
"$1/venv/bin/python" -c '
import time, urllib.request
for _ in range(120):
    try:
        with urllib.request.urlopen("http://127.0.0.1:8899/lab?token=bundle", timeout=2) as r:
            print(f"lab answered: HTTP {r.status}, {len(r.read())} bytes of /lab")
            break
    except OSError:
        time.sleep(0.5)
'
kill "$pid"; wait "$pid"
tail -3 "$1/lab.log"
"""


def in_netns(script: str, *args, **kwargs) -> str:
    """:func:`plumbing.run` of the shell ``script`` (``args`` as ``$1``, ...) in a new network namespace that has
    only a loopback interface (up, for Jupyter's kernels); ``kwargs`` go to ``run``."""
    return run(["unshare", "-n", "--", "sh", "-c", f"ip link set lo up || exit\n{script}", "sh", *args], **kwargs)


def check_netns() -> None:
    """RehearsalError with the fix when ``unshare -n`` cannot make a network namespace here."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        raise RehearsalError(
            "the rehearsal needs unshare (util-linux) and ip (iproute2): apt-get install util-linux iproute2"
        )
    try:
        in_netns("true", timeout=30, what="unshare -n")
    except RehearsalError as exc:
        raise RehearsalError(
            "unshare -n cannot create a network namespace here (it needs root or user namespaces): "
            f"run make bundle-test as root. ({exc})"
        ) from None


def learner_env(home: Path) -> dict:
    """A learner's environment: a fresh HOME and caches, nothing of this machine's pip, uv, Hub or course settings;
    ``PYTHON`` (the Python install.sh runs) is :data:`BASE_PYTHON`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIP_", "UV_", "HF_", "COURSE_", "VIRTUAL_ENV", "CONDA", "PYTHON", "XDG_", "JUPYTER"))
    }
    path = [str(BASE_PYTHON.parent), "/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"]
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"), XDG_CONFIG_HOME=str(home / ".config"))
    env.update(PATH=os.pathsep.join(path), PYTHON=str(BASE_PYTHON))
    return env


def rehearse(
    work: Path,
    bundle: Path | None = None,
    notebooks: tuple[str, ...] = REHEARSAL_NOTEBOOKS,
    report: Path = DEFAULT_REPORT,
    log=print,
) -> dict:
    """Build (or take) a bundle, install it offline in a network namespace and run ``notebooks``; returns the figures."""
    work = Path(work)
    if not work.is_dir() or any(work.iterdir()):
        raise ValueError(f"work must be an existing empty folder, got {work}")
    names = notebook_files(notebooks)
    check_netns()
    figures: dict = {"notebooks": names}
    seconds: dict[str, float] = {}
    t_all = time.perf_counter()
    if bundle is None:
        bundle = work / "built"
        figures["build"] = build(bundle, log=log)
        seconds["build"] = figures["build"]["seconds"]["total"]
    bundle = Path(bundle).resolve()
    manifest = bi.load_manifest(bundle)
    learner = work / "learner" / "hf-course-bundle"  # the copy on the learner's disk (a USB stick's copy)
    learner.parent.mkdir(parents=True)
    _timed(seconds, "copy", run, ["cp", "-a", bundle, learner], timeout=900, what="copy the bundle")
    home = work / "home"
    (home / ".cache").mkdir(parents=True)
    env = learner_env(home)
    log(in_netns('exec "$1" -c "$2"', BASE_PYTHON, NET_PROBE, env=env, timeout=60, what="network probe").strip())
    _timed(seconds, "install", install_offline, work, learner, env, log)
    check_venv(learner, home, env, manifest, log)
    _timed(seconds, "notebooks", run_notebooks, learner, names, env, log)
    _timed(seconds, "lab", start_lab, learner, home, env, log)
    figures["venv_bytes"] = bi.folder_size(learner / "venv")
    figures["bundle_bytes"] = sum(s for s, _ in manifest["files"].values())
    figures["torch_wheel_bytes"] = sizes(bundle, manifest)["torch_wheel"]
    seconds["total"] = time.perf_counter() - t_all
    figures["seconds"] = {k: round(v, 1) for k, v in seconds.items()}
    Path(report).parent.mkdir(parents=True, exist_ok=True)
    Path(report).write_text(json.dumps(figures, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    log(
        f"rehearsal passed: bundle {bi.human(figures['bundle_bytes'])} (torch wheel {bi.human(figures['torch_wheel_bytes'])}), "
        f"venv {bi.human(figures['venv_bytes'])}; seconds: "
        + ", ".join(f"{k} {v}" for k, v in figures["seconds"].items())
    )
    return figures


def notebook_files(notebooks: tuple[str, ...]) -> list[str]:
    """The file names of ``notebooks`` (numbers such as ``"00"``) in notebooks/."""
    names = []
    for nb in notebooks:
        hits = sorted((ROOT / "notebooks").glob(f"{nb}_*.ipynb"))
        if len(hits) != 1:
            raise ValueError(f"notebooks must be numbers of notebooks/NN_*.ipynb such as '00', got {nb!r}")
        names.append(hits[0].name)
    return names


def install_offline(work: Path, learner: Path, env: dict, log=print) -> None:
    """Run the bundle's ``install.sh --no-lab`` in a network namespace (log in ``work/install.log``)."""
    what = "install.sh --no-lab (offline, in a network namespace)"
    out = in_netns('sh "$1/install.sh" --no-lab', learner, env=env, cwd=learner, timeout=1200, what=what)
    log(out.strip())
    (work / "install.log").write_text(out, encoding="utf-8")


def check_venv(learner: Path, home: Path, env: dict, manifest: dict, log=print) -> None:
    """RehearsalError unless the bundle's venv imports its torch and its course_utils and ``pip check``
    finds nothing broken but the stand-ins (installed ``--no-deps`` on purpose, as ``make install`` does)."""
    probe = (
        "import os, torch, transformers, course_utils; "
        "print(torch.__version__, course_utils.__file__, transformers.__version__, os.environ['HF_HUB_OFFLINE'])"
    )
    py = '"$1/venv/bin/python"'
    script = f'. "$1/course.env" && {py} -c "$2" && echo PIP-CHECK && {{ {py} -m pip check || true; }}'
    what = "imports and pip check in the bundle's venv"
    checks = in_netns(script, learner, probe, env=env, cwd=home, timeout=300, what=what)  # cwd: not this checkout
    log(checks.strip())
    if manifest["torch"] not in checks or str(learner / "course" / "course_utils") not in checks:
        raise RehearsalError(
            f"the bundle's venv does not import torch {manifest['torch']} and the bundle's course_utils:\n{checks}"
        )
    standins = [s.split("==")[0] for s in manifest["install"]["no_deps"]]
    broken = pip_check_problems(checks.split("PIP-CHECK", 1)[1], ignore=standins)
    if broken:
        raise RehearsalError("pip check in the bundle's venv: " + "; ".join(broken))


def run_notebooks(learner: Path, names: list[str], env: dict, log=print) -> None:
    """Run the notebooks ``names`` with nbval in the bundle's venv, offline."""
    pytest = (
        '. "$1/course.env" && COURSE_PROFILE=quick "$1/venv/bin/python" -m pytest -q --nbval-lax --nbval-current-env '
        "--nbval-cell-timeout=900 --nbval-sanitize-with notebooks/sanitize.cfg "
        + " ".join(f"notebooks/{n}" for n in names)
    )
    what = f"notebooks {', '.join(names)} with the bundle's venv (offline)"
    out = in_netns(pytest, learner, env=env, cwd=learner / "course", timeout=1800, what=what)
    log(out.strip().splitlines()[-1])


def start_lab(learner: Path, home: Path, env: dict, log=print) -> None:
    """Start ``lab.sh`` as a learner would, offline, and wait until JupyterLab answers."""
    what = "lab.sh (JupyterLab from the bundle, offline)"
    out = in_netns(LAB_PROBE, learner, env=env, cwd=home, timeout=180, what=what)
    if "lab answered: HTTP 200" not in out:
        raise RehearsalError(f"lab.sh: JupyterLab did not answer:\n{out[-2000:]}")
    log(next(line for line in out.splitlines() if "lab answered" in line))


def main(argv: list[str] | None = None) -> int:
    """The command line (see the module doc); 1 with the reason on stderr when the bundle cannot be made."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build a bundle (needs PyPI; caches from $COURSE_CACHE_DIR, $COURSE_DATA_DIR)")
    b.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the bundle folder to create (default build/bundle)")
    b.add_argument(
        "--target", dest="target_name", choices=sorted(TARGETS), help="the learners' platform (default: this machine)"
    )
    b.add_argument("--python", dest="python_version", help="the learners' Python, 3.N (default: this one)")
    b.add_argument("--archive", action="store_true", help="also write OUT.tar (one file to copy)")
    b.add_argument("--force", action="store_true", help="replace an existing --out folder")
    solutions = "leave the worked solutions out (" + ", ".join(SOLUTIONS) + ")"
    b.add_argument("--no-solutions", dest="solutions", action="store_false", help=solutions)
    r = sub.add_parser("rehearse", help="build, then install offline in a network namespace and run notebooks")
    r.add_argument("--bundle", type=Path, help="an existing bundle to rehearse instead of building one")
    r.add_argument("--notebooks", nargs="+", default=list(REHEARSAL_NOTEBOOKS), help="notebook numbers (default 00 03)")
    r.add_argument("--keep", action="store_true", help="keep the work folder")
    args = vars(parser.parse_args(argv))
    try:
        if args.pop("command") == "build":
            if args.pop("force") and args["out"].exists():
                shutil.rmtree(args["out"])
            build(**args)
            return 0
        (ROOT / "build").mkdir(exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="bundle-rehearsal-", dir=ROOT / "build"))
        try:
            rehearse(work, args["bundle"], tuple(args["notebooks"]))
        finally:
            if args["keep"]:
                print(f"kept {work}")
            else:
                shutil.rmtree(work, ignore_errors=True)
    except (RehearsalError, bi.BundleError, ValueError) as exc:
        print(f"bundle: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
