"""Rehearse the branches CI cannot reach: every notebook against a real Hub server on loopback.

    python tools/rehearse.py online   [NOTEBOOK ...]   # the Hub branch (Colab, laptops, HF_ENDPOINT mirrors)
    python tools/rehearse.py prefetch [NOTEBOOK ...]   # `make prefetch` through the mirror, then HF_HUB_OFFLINE=1

``online`` starts the course's Hub mirror (tools/hub_mirror.py: olah on a free port) and runs each
notebook top to bottom in a fresh kernel, quick profile, with ``HF_ENDPOINT`` pointing at the mirror
and ``HF_HUB_OFFLINE`` unset: the canonical checkpoints and ``dair-ai/emotion`` come from the
mirror. ``prefetch`` runs ``python -m course_utils prefetch`` through the mirror, stops it, and
runs the notebooks offline from what was fetched (a workshop room without Wi-Fi).

Every cell must run; stored outputs are not compared (the mirror's canonical checkpoints have
random weights, so their outputs differ from the stored offline run by design; the notebooks'
own assertions and parity checks still run). A failing notebook is reported with its cell.

The rehearsal never touches the normal caches: it runs with its own ``HF_HOME`` and
``COURSE_CACHE_DIR`` under ``<course cache>/rehearsal/<mode>/`` (wiped at the start), and ends by
checking, in a fresh process with the offline test environment, that every canonical name still
resolves to its offline stand-in. The mirror server is stopped however the run ends. The run
prints a time table and writes it to ``build/rehearsal/<mode>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT))

import hub_mirror  # noqa: E402

MODES = ("online", "prefetch")
#: Variables that would leak the offline test set-up into the rehearsal.
OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "COURSE_DATA_DIR")


def all_notebooks() -> list[Path]:
    chapters = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    return chapters + sorted((ROOT / "notebooks" / "solutions").glob("[0-9][0-9]_*.ipynb"))


def workdir(mode: str, cache: Path | None = None) -> Path:
    """``<course cache>/rehearsal/<mode>``: everything the rehearsal downloads or writes."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    from course_utils.data import cache_dir

    return (cache or cache_dir()) / "rehearsal" / mode


def rehearsal_env(mode: str, work: Path, endpoint: str | None, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of the rehearsal's kernels: its own caches, the mirror as the Hub (or offline)."""
    env = dict(os.environ if base is None else base)
    for name in OFFLINE_VARIABLES:
        env.pop(name, None)
    env.update(
        HF_HOME=str(work / ("hf-home" if mode == "online" else "hf-home-offline")),
        COURSE_CACHE_DIR=str(work / "course-cache"),
        COURSE_PROFILE="quick",
        COURSE_EMOTION_REVISION="main",  # the mirror's copy cannot carry the Hub's commit id
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_EVALUATE_OFFLINE="1",  # evaluate ignores HF_ENDPOINT; the course's metrics are local files
        TOKENIZERS_PARALLELISM="false",
    )
    if endpoint is not None:
        env["HF_ENDPOINT"] = endpoint
    else:
        env.pop("HF_ENDPOINT", None)
        env["HF_HUB_OFFLINE"] = "1"
    return env


def _link_standins(work: Path) -> None:
    """Share the built offline stand-ins (never anything from the mirror) with the rehearsal's cache."""
    from course_utils.standins import standins_dir

    target = work / "course-cache" / "standins"
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        target.symlink_to(standins_dir(), target_is_directory=True)


def run_notebook(path: Path, env: dict[str, str], out_dir: Path, timeout: int = 900) -> tuple[bool, str]:
    """Execute ``path`` in a fresh kernel with ``env``; return (ok, message naming the failing cell)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)  # the kernel inherits this process's environment
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    try:
        client.execute()
        ok, message = True, "ok"
    except CellExecutionError as err:
        ok, message = False, _failed_cell(nb) or str(err).strip().splitlines()[-1]
    except Exception as err:  # a timeout or a dead kernel
        ok, message = False, f"{type(err).__name__}: {err}"
    finally:
        os.environ.clear()
        os.environ.update(saved)
    out_dir.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out_dir / path.name)
    return ok, message


def _shown(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        elif "text/plain" in out.get("data", {}):
            parts.append(out["data"]["text/plain"])
    return "".join(parts)


def checked_cells_that_differ(stored: Path, executed: Path) -> tuple[int, list[int]]:
    """(number of ``# NBVAL_CHECK_OUTPUT`` cells, indices of those whose output differs from the stored run).

    Reported, not failed on: outputs that depend on the loaded model (ids, logits, sizes) differ on
    the mirror's canonical checkpoints by design; the list tells a reviewer where to look.
    """
    import nbformat

    a, b = nbformat.read(stored, as_version=4), nbformat.read(executed, as_version=4)
    checked = [i for i, c in enumerate(a.cells) if c.cell_type == "code" and "# NBVAL_CHECK_OUTPUT" in c.source]
    return len(checked), [i for i in checked if i >= len(b.cells) or _shown(a.cells[i]) != _shown(b.cells[i])]


def _failed_cell(nb) -> str | None:
    """``cell N (first line of its code): ErrorName: message`` for the cell that raised, if any."""
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                first = next(
                    (line for line in cell.source.splitlines() if line.strip() and not line.startswith("#")), ""
                )
                evalue = re.sub(r"\x1b\[[0-9;]*m", "", out.get("evalue", "")).strip().splitlines()
                return f"cell {index} ({first[:60]}): {out.get('ename')}: {evalue[0] if evalue else ''}"
    return None


def check_caches_never_mix() -> str:
    """In a fresh process with the offline test environment, every canonical name resolves to its stand-in."""
    code = (
        "import course_utils as cu, course_utils.models as m\n"
        "for name in (cu.ENCODER, cu.SENTIMENT, cu.CAUSAL_LM, cu.EMBEDDER, 'bert-base-uncased'):\n"
        "    path = cu.resolve_checkpoint(name, verbose=False)\n"
        "    assert path == str(m._standin_path(m.STANDINS[name])), (name, path)\n"
        "print('after the rehearsal, the offline environment still resolves every canonical name to its stand-in')\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("HF_ENDPOINT", "COURSE_CACHE_DIR", "HF_HOME")}
    env["HF_HUB_OFFLINE"] = "1"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"the rehearsal leaked into the normal caches:\n{done.stderr[-2000:]}")
    return done.stdout.strip()


def prefetch_through(endpoint: str, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    env = dict(env, HF_ENDPOINT=endpoint)
    env.pop("HF_HUB_OFFLINE", None)
    env["HF_HOME"] = str(Path(env["COURSE_CACHE_DIR"]).parent / "hf-home-prefetch")
    subprocess.run([sys.executable, "-m", "course_utils", "prefetch"], env=env, check=True)
    return time.perf_counter() - t0


def rehearse(mode: str, notebooks: list[Path], port: int | None = None) -> int:
    work = workdir(mode)
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    _link_standins(work)
    t_build = time.perf_counter()
    hub_mirror.build()
    t_build = time.perf_counter() - t_build
    results: list[dict] = []
    t_prefetch = None
    with hub_mirror.serve(port=port) as endpoint:
        print(f"Hub mirror at {endpoint}; rehearsal caches in {work}", flush=True)
        if mode == "online":
            env = rehearsal_env(mode, work, endpoint)
            for path in notebooks:
                results.append(_run_one(path, env, work))
        else:
            env = rehearsal_env(mode, work, None)
            t_prefetch = prefetch_through(endpoint, env)
    if mode == "prefetch":  # the mirror is stopped: the room has no network
        for path in notebooks:
            results.append(_run_one(path, env, work))
    failed = [r for r in results if not r["ok"]]
    _table(mode, results, t_build, t_prefetch)
    if not failed:
        print(check_caches_never_mix())
    out = ROOT / "build" / "rehearsal" / f"{mode}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "mode": mode,
                "mirror_build_s": round(t_build, 1),
                "prefetch_s": None if t_prefetch is None else round(t_prefetch, 1),
                "notebooks": results,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"rehearsal {mode}: {len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


def _run_one(path: Path, env: dict[str, str], work: Path) -> dict:
    name = str(path.relative_to(ROOT))
    print(f"running {name} ...", flush=True)
    t0 = time.perf_counter()
    out_dir = work / "executed" / path.parent.name
    ok, message = run_notebook(path, env, out_dir)
    seconds = time.perf_counter() - t0
    n_checked, differ = checked_cells_that_differ(path, out_dir / path.name)
    print(f"  {'ok' if ok else 'FAILED'} in {seconds:.1f} s{'' if ok else ': ' + message}", flush=True)
    return {
        "notebook": name,
        "seconds": round(seconds, 1),
        "ok": ok,
        "message": message,
        "checked_cells": n_checked,
        "checked_cells_that_differ": differ,
    }


def _table(mode: str, results: list[dict], t_build: float, t_prefetch: float | None) -> None:
    print(
        f"\n| notebook ({mode} rehearsal) | seconds | result | checked outputs unlike the stored offline run |"
        "\n|---|---|---|---|"
    )
    for r in results:
        differ = f"{len(r['checked_cells_that_differ'])} of {r['checked_cells']}"
        print(f"| {r['notebook']} | {r['seconds']:.1f} | {'ok' if r['ok'] else 'FAILED: ' + r['message']} | {differ} |")
    total = sum(r["seconds"] for r in results)
    extra = f", prefetch {t_prefetch:.1f} s" if t_prefetch is not None else ""
    print(f"| total | {total:.1f} | mirror build {t_build:.1f} s{extra} | |\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mode", choices=MODES)
    parser.add_argument(
        "notebooks", nargs="*", type=Path, help="notebooks to run (default: every chapter and solution)"
    )
    parser.add_argument("--port", type=int, default=None, help="the mirror's port (default: a free one)")
    args = parser.parse_args(argv)
    notebooks = [p.resolve() for p in args.notebooks] or all_notebooks()
    missing = [str(p) for p in notebooks if not p.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    from course_utils.env import quiet

    quiet()
    hub_mirror.stop_on_sigterm()  # so that the mirror and the kernels are stopped on `kill` too
    try:
        return rehearse(args.mode, notebooks, port=args.port)
    except RuntimeError as err:  # the mirror did not start, or the caches mixed
        print(f"rehearsal {args.mode}: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
