"""Rehearse the branches CI cannot reach: every notebook against a real Hub server on loopback.

    python tools/rehearse.py online   [NOTEBOOK ...]   # the Hub branch (Colab, laptops, HF_ENDPOINT mirrors)
    python tools/rehearse.py prefetch [NOTEBOOK ...]   # `make prefetch` through the mirror, then HF_HUB_OFFLINE=1

CONTRIBUTING.md ("The online branch, rehearsed") says what each runs, in which caches, and which
outputs are compared: checked cells tagged ``same-online`` with the stored offline run, as nbval
compares them, and those tagged ``online-expected`` with ``notebooks/online_expected.json`` (entries
as :func:`marker_problems` says). A difference or a failing cell fails the notebook; the table goes
to ``build/rehearsal/<mode>.json``.
"""

from __future__ import annotations

import argparse
import copy
import difflib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from textwrap import indent

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT))

import authoring  # noqa: E402
import hub_mirror  # noqa: E402

MODES = ("online", "prefetch")
#: Variables that would leak the offline test set-up into the rehearsal.
OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "COURSE_DATA_DIR")
#: The cell tags the rehearsal reads (module docstring).
SAME_TAG = "same-online"
EXPECTED_TAG = "online-expected"
#: The tag nbval reads (``--nbval-lax``): the cell's stored output is checked offline.
CHECK_TAG = authoring.CHECK_TAG
#: Expected online outputs of the ``online-expected`` cells, by notebook and cell id.
EXPECTED_FILE = ROOT / "notebooks" / "online_expected.json"
#: nbval's sanitizers (``make test-notebooks`` passes the same file with --nbval-sanitize-with).
SANITIZE_FILE = ROOT / "notebooks" / "sanitize.cfg"
#: Output fields never compared: nbval 0.11's skip list (images too, as without --nbdime), and stderr, where
#: downloads and Hub notices write online (a checked cell stores none offline: tests/test_notebooks.py).
SKIP_FIELDS = (
    "metadata",
    "traceback",
    "prompt_number",
    "output_type",
    "name",
    "execution_count",
    "application/vnd.jupyter.widget-view+json",
    "image/png",
    "image/jpeg",
    "stderr",
)
#: Keys of an ``online_expected.json`` entry that are not output fields.
ENTRY_KEYS = ("cell", "why")


def all_notebooks() -> list[Path]:
    chapters = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    return chapters + sorted((ROOT / "notebooks" / "solutions").glob("[0-9][0-9]_*.ipynb"))


def workdir(mode: str, cache: Path | None = None) -> Path:
    """``<course cache>/rehearsal/<mode>``: everything the rehearsal downloads or writes."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    from course_utils.paths import cache_dir

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
    from course_utils.paths import standins_dir

    target = work / "course-cache" / "standins"
    target.parent.mkdir(parents=True)  # in a work folder made empty by rehearse()
    target.symlink_to(standins_dir(), target_is_directory=True)


def run_notebook(path: Path, env: dict[str, str], out_dir: Path, timeout: int = 900) -> tuple[bool, str]:
    """Execute ``path`` in a fresh kernel with ``env``; return (ok, message naming the failing cell)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:  # the stored run's outputs must not pass for this run's in cells it never reaches
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    try:
        client.execute(env=env)  # the kernel's whole environment (jupyter_client's start_kernel(env=...))
        ok, message = True, "ok"
    except CellExecutionError as err:
        ok, message = False, _failed_cell(nb) or str(err).strip().splitlines()[-1]
    except Exception as err:  # a timeout or a dead kernel
        ok, message = False, f"{type(err).__name__}: {err}"
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


def checked_cells_that_differ(stored, executed) -> tuple[int, list[int]]:
    """(number of ``nbval-check-output`` cells, indices of those whose output differs from the stored run).

    Reported, not failed on (:func:`compare_online` fails on the tagged cells): outputs that depend on
    the loaded model differ on the mirror's random-weight checkpoints by design.
    """
    checked = [i for i, c in enumerate(stored.cells) if is_checked(c)]
    ran = executed.cells
    return len(checked), [i for i in checked if i >= len(ran) or _shown(stored.cells[i]) != _shown(ran[i])]


def sanitizers(path: Path = SANITIZE_FILE) -> list[tuple[str, str]]:
    """The (regex, replacement) pairs of an nbval sanitize file, read as nbval reads it."""
    from nbval.plugin import get_sanitize_patterns

    return get_sanitize_patterns(Path(path).read_text(encoding="utf-8"))


def _sanitize(value, patterns: list[tuple[str, str]]):
    if not isinstance(value, str):
        return value
    for regex, replace in patterns:
        value = re.sub(regex, replace, value)
    return value


def comparable(outputs: list, patterns: list[tuple[str, str]]) -> dict[str, list]:
    """A cell's outputs as nbval compares them: ``{field: [sanitized values]}``.

    Streams are coalesced per name (carriage returns and backspaces applied) and keyed by the stream's name,
    rich outputs are flattened to their MIME types, and :data:`SKIP_FIELDS` are dropped.
    """
    import nbformat
    from nbval.plugin import coalesce_streams, transform_streams_for_comparison

    outs = coalesce_streams([nbformat.from_dict(copy.deepcopy(dict(o))) for o in outputs])
    flat: dict[str, list] = {}
    for out in transform_streams_for_comparison(outs):
        for key, value in {**out.pop("data", {}), **out}.items():  # rich outputs flattened to their MIME types
            if key not in SKIP_FIELDS:
                flat.setdefault(key, []).append(_sanitize(value, patterns))
    return flat


def expected_comparable(entry: dict, patterns: list[tuple[str, str]]) -> dict[str, list]:
    """An ``online_expected.json`` entry's output fields, in :func:`comparable`'s form."""
    return {
        key: [_sanitize(v, patterns) for v in (value if isinstance(value, list) else [value])]
        for key, value in entry.items()
        if key not in ENTRY_KEYS
    }


def _render(flat: dict[str, list]) -> list[str]:
    lines = []
    for key in sorted(flat):
        for value in flat[key]:
            lines.append(f"[{key}]\n")
            text = value if isinstance(value, str) else json.dumps(value)
            lines.extend(line + "\n" for line in text.splitlines() or [""])
    return lines


def output_diff(reference: dict[str, list], online: dict[str, list], reference_name: str) -> str:
    """A unified diff of two :func:`comparable` outputs ("" when they are equal)."""
    return "".join(difflib.unified_diff(_render(reference), _render(online), reference_name, "online run"))


def load_expected(path: Path = EXPECTED_FILE) -> dict[str, dict[str, dict]]:
    """``{notebook path: {cell id: entry}}`` from ``online_expected.json`` (keys starting with ``_`` are notes)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return {name: cells for name, cells in data.items() if not name.startswith("_")}


def _first_code_line(source: str) -> str:
    return next((line for line in source.splitlines() if line.strip() and not line.startswith("#")), "")


def is_checked(cell) -> bool:
    """Whether nbval checks ``cell``'s output: a code cell tagged :data:`CHECK_TAG`."""
    tags = cell.get("metadata", {}).get("tags", [])
    return cell.get("cell_type") == "code" and isinstance(tags, list) and CHECK_TAG in tags


def _tags(cell) -> list[str]:
    tags = cell.get("metadata", {}).get("tags", [])
    return [t for t in tags if t in (SAME_TAG, EXPECTED_TAG)] if isinstance(tags, list) else []


def marker_problems(nb, name: str, expected: dict[str, dict]) -> list[str]:
    """What is wrong with the notebook ``name``'s comparison tags and its ``online_expected.json`` entries.

    A tagged cell must be a checked cell (``nbval-check-output``: its stored output is verified
    offline) with stored outputs, carry one of the two tags, and an ``online-expected`` cell needs
    an entry whose ``cell`` is its first line of code, a ``why`` and at least one output field;
    every entry needs its tagged cell.
    """
    problems = []
    entries = expected.get(name, {})
    tagged_expected = set()
    for index, cell in enumerate(nb.cells):
        tags = _tags(cell)
        if not tags:
            continue
        where = f"{name} cell {index} ({cell.get('id')})"
        if not is_checked(cell):
            problems.append(f"{where}: tagged {tags} but not a {CHECK_TAG} cell")
            continue
        if len(tags) > 1:
            problems.append(f"{where}: tagged both {SAME_TAG} and {EXPECTED_TAG}")
        if SAME_TAG in tags and not cell.get("outputs"):
            problems.append(f"{where}: tagged {SAME_TAG} but stores no output to compare with")
        if EXPECTED_TAG in tags:
            tagged_expected.add(cell.get("id"))
            entry = entries.get(cell.get("id"))
            if entry is None:
                problems.append(f"{where}: tagged {EXPECTED_TAG} but has no entry in {EXPECTED_FILE.name}")
            elif entry.get("cell") != _first_code_line(cell.source):
                problems.append(
                    f"{where}: its {EXPECTED_FILE.name} entry is for the cell starting {entry.get('cell')!r}, "
                    f"this one starts {_first_code_line(cell.source)!r} (did the ids move?)"
                )
            elif not entry.get("why") or not expected_comparable(entry, []):
                problems.append(f"{where}: its {EXPECTED_FILE.name} entry needs a 'why' and an output field")
    for cell_id in sorted(set(entries) - tagged_expected):
        problems.append(f"{name}: {EXPECTED_FILE.name} has an entry for {cell_id}, which is not tagged {EXPECTED_TAG}")
    return problems


def compare_online(stored, executed, name: str, expected: dict[str, dict], patterns: list[tuple[str, str]]) -> dict:
    """Compare the tagged cells of an executed notebook with the stored run or their expected value.

    Returns ``{"same_online": n, "online_expected": n, "compared": n, "differ": [...], "not_run": [...]}``:
    counts of the outputs compared, each difference as ``{"cell", "id", "tag", "diff"}``, and the
    indices of tagged cells the run never reached (a cell before them failed).
    """
    entries = expected.get(name, {})
    result: dict = {"same_online": 0, "online_expected": 0, "compared": 0, "differ": [], "not_run": []}
    for index, cell in enumerate(stored.cells):
        tags = _tags(cell)
        if not tags:
            continue
        ran = executed.cells[index] if index < len(executed.cells) else None
        if ran is None or ran.get("id") != cell.get("id") or ran.get("execution_count") is None:
            result["not_run"].append(index)
            continue
        online = comparable(ran.get("outputs", []), patterns)
        if EXPECTED_TAG in tags:
            tag, reference_name = EXPECTED_TAG, f"expected online ({EXPECTED_FILE.name})"
            reference = expected_comparable(entries[cell.id], patterns)
        else:
            tag, reference_name = SAME_TAG, "stored offline run"
            reference = comparable(cell.get("outputs", []), patterns)
        result[tag.replace("-", "_")] += 1
        result["compared"] += 1
        diff = output_diff(reference, online, reference_name)
        if diff:
            result["differ"].append({"cell": index, "id": cell.get("id"), "tag": tag, "diff": diff})
    return result


def _failed_cell(nb) -> str | None:
    """``cell N (first line of its code): ErrorName: message`` for the cell that raised, if any."""
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                first = _first_code_line(cell.source)
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
    env = dict(env, HF_ENDPOINT=endpoint, HF_HOME=str(Path(env["COURSE_CACHE_DIR"]).parent / "hf-home-prefetch"))
    env.pop("HF_HUB_OFFLINE", None)
    subprocess.run([sys.executable, "-m", "course_utils", "prefetch"], env=env, check=True)
    return time.perf_counter() - t0


def check_markers(notebooks: list[Path], expected: dict[str, dict]) -> None:
    """Raise RuntimeError naming every misplaced comparison tag or stale ``online_expected.json`` entry."""
    import nbformat

    problems = []
    for path in notebooks:
        problems += marker_problems(nbformat.read(path, as_version=4), _name(path), expected)
    if problems:
        raise RuntimeError("the outputs to compare online are not marked right:\n  " + "\n  ".join(problems))


def _name(path: Path) -> str:
    path = Path(path).resolve()
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name


def _run_all(
    notebooks: list[Path], env: dict[str, str], work: Path, expected: dict, patterns: list, jobs: int = 1
) -> list[dict]:
    """Run the notebooks one at a time, or ``jobs`` at a time in forked processes with one torch thread each."""
    if jobs == 1:
        return [_run_one(path, env, work, expected, patterns) for path in notebooks]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    env = {**env, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}  # two kernels on two cores: one thread each
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork")) as pool:
        futures = [pool.submit(_run_one, path, env, work, expected, patterns) for path in notebooks]
        return [f.result() for f in futures]


def rehearse(mode: str, notebooks: list[Path], port: int | None = None, jobs: int = 1) -> int:
    expected = load_expected()
    check_markers(notebooks, expected)  # before the mirror: a wrong tag costs nothing to find
    patterns = sanitizers()
    work = workdir(mode)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)  # fails if the old one could not be removed
    _link_standins(work)
    t_build = time.perf_counter()
    hub_mirror.build()
    t_build = time.perf_counter() - t_build
    with hub_mirror.serve(port=port) as endpoint:
        print(f"Hub mirror at {endpoint}; rehearsal caches in {work}", flush=True)
        env = rehearsal_env(mode, work, endpoint if mode == "online" else None)
        t_prefetch = prefetch_through(endpoint, env) if mode == "prefetch" else None
        if mode == "online":
            results = _run_all(notebooks, env, work, expected, patterns, jobs)
    if mode == "prefetch":  # the mirror is stopped: the room has no network
        results = _run_all(notebooks, env, work, expected, patterns, jobs)
    failed = [r for r in results if not r["ok"]]
    summary = {
        "mode": mode,
        "mirror_build_s": round(t_build, 1),
        "prefetch_s": None if t_prefetch is None else round(t_prefetch, 1),
        "outputs_compared": sum(r["outputs_compared"] for r in results),
        "notebooks": results,
    }
    _table(summary)
    if not failed:
        print(check_caches_never_mix())
    out = ROOT / "build" / "rehearsal" / f"{mode}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"rehearsal {mode}: {len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


def _run_one(path: Path, env: dict[str, str], work: Path, expected: dict, patterns: list[tuple[str, str]]) -> dict:
    import nbformat

    name = _name(path)
    print(f"running {name} ...", flush=True)
    t0 = time.perf_counter()
    out_dir = work / "executed" / path.parent.name
    ok, message = run_notebook(path, env, out_dir)
    seconds = time.perf_counter() - t0
    stored, executed = (nbformat.read(p, as_version=4) for p in (path, out_dir / path.name))
    n_checked, differ = checked_cells_that_differ(stored, executed)
    compared = compare_online(stored, executed, name, expected, patterns)
    for d in compared["differ"]:
        print(
            f"  cell {d['cell']} ({d['id']}, {d['tag']}): the output differs\n{indent(d['diff'], '    ')}",
            flush=True,
        )
    if ok and compared["differ"]:
        ok = False
        cells = ", ".join(f"cell {d['cell']} ({d['id']})" for d in compared["differ"])
        message = f"{len(compared['differ'])} compared output(s) differ: {cells}"
    print(
        f"  {'ok' if ok else 'FAILED'} in {seconds:.1f} s, {compared['compared']} outputs compared"
        f"{'' if ok else ': ' + message}",
        flush=True,
    )
    return {
        "notebook": name,
        "seconds": round(seconds, 1),
        "ok": ok,
        "message": message,
        "outputs_compared": compared["compared"],
        "outputs_compared_with_offline": compared["same_online"],
        "outputs_compared_with_expected": compared["online_expected"],
        "outputs_that_differ": compared["differ"],
        "tagged_cells_not_run": compared["not_run"],
        "checked_cells": n_checked,
        "checked_cells_that_differ": differ,
    }


def _table(summary: dict) -> None:
    results = summary["notebooks"]
    print(
        f"\n| notebook ({summary['mode']} rehearsal) | seconds | result | outputs compared (with offline + expected) "
        "| checked outputs unlike the stored offline run |"
        "\n|---|---|---|---|---|"
    )
    for r in results:
        differ = f"{len(r['checked_cells_that_differ'])} of {r['checked_cells']}"
        compared = (
            f"{r['outputs_compared']} ({r['outputs_compared_with_offline']} + {r['outputs_compared_with_expected']})"
        )
        result = "ok" if r["ok"] else "FAILED: " + r["message"]
        print(f"| {r['notebook']} | {r['seconds']:.1f} | {result} | {compared} | {differ} |")
    total = sum(r["seconds"] for r in results)
    prefetch = f", prefetch {summary['prefetch_s']:.1f} s" if summary["prefetch_s"] is not None else ""
    build = f"mirror build {summary['mirror_build_s']:.1f} s{prefetch}"
    print(f"| total | {total:.1f} | {build} | {summary['outputs_compared']} | |\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mode", choices=MODES)
    parser.add_argument(
        "notebooks", nargs="*", type=Path, help="notebooks to run (default: every chapter and solution)"
    )
    parser.add_argument("--port", type=int, default=None, help="the mirror's port (default: a free one)")
    parser.add_argument(
        "--jobs", type=int, default=1, choices=(1, 2), help="notebooks at a time (2: one torch thread each)"
    )
    args = parser.parse_args(argv)
    notebooks = [p.resolve() for p in args.notebooks] or all_notebooks()
    missing = [str(p) for p in notebooks if not p.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    hub_mirror.stop_on_sigterm()  # so that the mirror and the kernels are stopped on `kill` too
    try:
        return rehearse(args.mode, notebooks, port=args.port, jobs=args.jobs)
    except RuntimeError as err:  # the mirror did not start, or the caches mixed
        print(f"rehearsal {args.mode}: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
