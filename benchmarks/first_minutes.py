"""Benchmark: from a fresh clone to JupyterLab open on notebook 00, on each branch.

    python benchmarks/first_minutes.py                      # both branches, empty package cache: ~8 min on 2 cores
    python benchmarks/first_minutes.py --branches offline --warm-cache

For each branch it clones this repository's HEAD into a temporary folder and times what a learner
runs there: ``make lab``'s set-up (the runtime and JupyterLab: the ``.venv/.course-lab`` stamp it
builds before starting JupyterLab), then, offline only, ``make offline`` (the stand-in packages,
built once). Then ``tests/browser/test_jupyterlab.py`` runs against the clone's venv: JupyterLab
starts, headless Chromium opens notebook 00 and runs its Colab cell, setup cell and first tensor
cell, and the setup cell must report the branch. Online, the Hub is the local mirror
(``tools/hub_mirror.py``: ``make mirror`` builds it, ``make mirror-deps`` installs olah). Each
branch gets its own empty uv cache (``--warm-cache``: the machine's own) and Hugging Face cache,
so the install downloads every package except what ``FIND_LINKS`` holds locally (torch on the
course's CI machines). Writes ``benchmarks/results/first_minutes_<device>.json``; needs Chromium
(``$CHROMIUM``, else on PATH) and Playwright (``make browser-deps``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))

import plumbing  # noqa: E402  (tools/plumbing.py: the local wheel folders)
from emotion_finetune import machine  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
BROWSER_TEST = "tests/browser/test_jupyterlab.py"
BRANCHES = ("offline", "online")
#: What a learner's shell would not have: this machine's course and offline settings.
SCRUBBED = ("COURSE_", "HF_HUB_OFFLINE", "HF_EVALUATE_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")
#: The browser test's steps that come before the learner can work: server up, notebook open, setup run.
TO_WORK = ("lab_answers", "notebook_open", "colab_cell", "setup_cell")


def _run(cmd: list[str], cwd: Path, env: dict[str, str], log: Path) -> float:
    """Run ``cmd``, its output appended to ``log``; its seconds, or an error with the log's tail."""
    start = time.monotonic()
    with open(log, "a") as out:
        out.write(f"\n$ {' '.join(cmd)}\n")
        out.flush()
        done = subprocess.run(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    if done.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}):\n{log.read_text()[-3000:]}")
    return round(time.monotonic() - start, 1)


def _venv_facts(venv: Path) -> dict:
    site = next(venv.glob("lib/python3*/site-packages"))
    size = subprocess.run(["du", "-sb", str(venv)], capture_output=True, text=True, check=True).stdout.split()[0]
    return {"packages": len(list(site.glob("*.dist-info"))), "gigabytes": round(int(size) / 1e9, 2)}


def learner_env(work: Path, warm_cache: bool) -> dict[str, str]:
    """A learner's environment: no course or offline settings, caches of its own under ``work``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED)}
    env["HF_HOME"] = str(work / "hf")
    if not warm_cache:
        env["UV_CACHE_DIR"] = str(work / "uv-cache")
    return env


def one_branch(branch: str, work: Path, warm_cache: bool, endpoint: str | None) -> dict:
    """Clone, set up as a learner would on ``branch``, open notebook 00 in the browser; the seconds of each step."""
    clone, log = work / "course", work / "log.txt"
    env = learner_env(work, warm_cache)
    seconds = {"git clone": _run(["git", "clone", "--quiet", str(ROOT), str(clone)], work, env, log)}
    seconds["make lab (set-up)"] = _run(["make", ".venv/.course-lab"], clone, env, log)
    if branch == "offline":
        seconds["make offline"] = _run(["make", "offline"], clone, env, log)
    facts = _venv_facts(clone / ".venv")
    lab_env = dict(env, COURSE_LAB_PYTHON=str(clone / ".venv" / "bin" / "python"), COURSE_LAB_BRANCH=branch)
    if endpoint:
        lab_env["HF_ENDPOINT"] = endpoint
    _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", BROWSER_TEST], ROOT, lab_env, log)
    browser = json.loads((ROOT / "build" / "browser" / "timings.json").read_text())
    assert browser["branch"] == branch and browser["python"] == lab_env["COURSE_LAB_PYTHON"], browser
    seconds.update({f"browser: {step}": value for step, value in browser["seconds"].items()})
    excluded = round(sum(browser["seconds"][step] for step in TO_WORK), 1)
    included = round(excluded + sum(v for k, v in seconds.items() if not k.startswith("browser")), 1)
    return {"seconds": seconds, "install_excluded": excluded, "install_included": included, "venv": facts}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--branches", nargs="+", choices=BRANCHES, default=list(BRANCHES))
    parser.add_argument("--warm-cache", action="store_true", help="use the machine's uv cache (default: an empty one)")
    parser.add_argument("--out", type=Path, default=RESULTS / "first_minutes_cpu.json")
    parser.add_argument("--keep", action="store_true", help="keep the clones (their paths are printed)")
    args = parser.parse_args(argv)

    runs = {}
    with ExitStack() as stack:
        endpoint = None
        if "online" in args.branches:
            import hub_mirror

            hub_mirror.build()
            endpoint = stack.enter_context(hub_mirror.serve())
        for branch in args.branches:
            work = Path(tempfile.mkdtemp(prefix=f"first-minutes-{branch}-"))
            if not args.keep:
                stack.callback(shutil.rmtree, work, ignore_errors=True)
            runs[branch] = one_branch(branch, work, args.warm_cache, endpoint if branch == "online" else None)
            print(branch, json.dumps(runs[branch], indent=1), f"(in {work})", flush=True)
    record = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip(),
        "machine": dict(
            machine(),
            cores=os.cpu_count(),
            local_wheels=sorted(p.name for d in plumbing.WHEEL_DIRS for p in Path(d).glob("*.whl")),
        ),
        "uv_cache": "warm (the machine's)" if args.warm_cache else "empty",
        "to_work": "install excluded: " + " + ".join(TO_WORK),
        "branches": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
