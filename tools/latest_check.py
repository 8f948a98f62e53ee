"""Latest-releases check: does the course still pass with the newest transformers, datasets, peft,
accelerate and evaluate, ignoring the upper bounds in pyproject.toml? Catches API removals before
learners who `pip install -U` hit them. CONTRIBUTING.md ("Kit tools") says what it does, step by step.

    python3 tools/latest_check.py [--pre] [--always]      (or: make latest-check [LATEST_FLAGS=--pre])

Exit status: 0 nothing new or all passed, 1 tests failed, 2 set-up failed (or a bad argument).
Environment: LATEST_VENV (default .venv-latest), VENV (the course's venv, .venv), PYTHON (python3),
MAKE (make). Logs and the JUnit report go to build/latest-check/.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bundle_install import canonical  # stdlib only: $(PYTHON) runs this tool, maybe without packaging

ROOT = Path(__file__).resolve().parent.parent
#: Upgraded to their newest releases; a new release of any of them is a reason to run the tests.
PACKAGES = ("transformers", "datasets", "peft", "accelerate", "evaluate")
#: Shown in the version table (what the upgrade may pull along).
WATCH = (*PACKAGES, "huggingface_hub", "tokenizers", "safetensors", "sentence-transformers", "torch")
LOG_DIR = Path("build/latest-check")
MISSING = "-"
#: Run by each venv's Python: "name version" per line (MISSING when not installed).
VERSIONS_SCRIPT = """
import sys
from importlib import metadata
for name in sys.argv[1:]:
    try:
        print(name, metadata.version(name))
    except metadata.PackageNotFoundError:
        print(name, "-")
"""


# ---- The pure parts (tests/test_latest_check.py): version table, pip check filter, JUnit summary.


def newer(base: str, latest: str) -> str:
    """The table's "newer?" cell for one package: yes, no, older (below the course's) or missing."""
    if latest == base:
        return "no"
    if MISSING in (base, latest):
        return "missing" if latest == MISSING else "yes"
    try:
        from packaging.version import Version

        return "yes" if Version(latest) > Version(base) else "older"
    except Exception:  # no packaging module, or a version it cannot parse: only say that they differ
        return "differs"


def version_rows(base: Mapping[str, str] | None, latest: Mapping[str, str]) -> list[tuple[str, str, str, str]]:
    """(package, course venv, latest venv, newer?) per package of ``latest``; ``base`` None: no course venv."""
    old = {name: (base or {}).get(name, MISSING) for name in latest}
    return [(name, old[name], version, newer(old[name], version)) for name, version in latest.items()]


def format_table(header: tuple[str, ...], rows: Iterable[tuple[str, ...]], indent: str = "   ") -> str:
    """A plain-text table with ``|`` between columns, each as wide as its widest cell."""
    lines = [header, *rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = [" | ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() for line in lines]
    text.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(indent + line for line in text)


def anything_differs(base: Mapping[str, str] | None, latest: Mapping[str, str]) -> bool:
    """True when one of :data:`PACKAGES` has another version in the latest venv (or there is no course venv)."""
    return base is None or any(base.get(p, MISSING) != latest.get(p, MISSING) for p in PACKAGES)


def pip_check_problems(output: str, ignore: Iterable[str] = ()) -> list[str]:
    """The lines of ``pip check`` output that name a problem, less those of the ``ignore`` distributions.

    The stand-in packages are installed --no-deps on purpose, so their missing dependencies are expected.
    """
    skip = {canonical(n) for n in ignore}
    lines = [line for line in output.splitlines() if line.strip() and not line.startswith("No broken requirements")]
    return [line for line in lines if canonical(line.split()[0]) not in skip]


@dataclass
class JUnitSummary:
    """What a pytest JUnit XML report says: counts by outcome, run time, and each problem's first line."""

    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    seconds: float = 0.0
    notebook_cells: int = 0
    notebook_seconds: float = 0.0
    problems: list[tuple[str, str, str]] = field(default_factory=list)  # (FAILED or ERROR, test id, first line)


def _first_line(element: ET.Element) -> str:
    lines = f"{element.get('message') or ''}\n{element.text or ''}".splitlines()
    return next((line.strip() for line in lines if line.strip()), "(no message)")


def read_junit(path: Path) -> JUnitSummary:
    """Count the outcomes in a ``pytest --junitxml`` report.

    Each ``<testcase>`` is one outcome: failed (a ``<failure>``), error (an ``<error>``: a setup,
    teardown or collection error, reported as its own testcase), skipped, else passed. Cells of
    notebooks (nbval: the class name holds ``.ipynb``) are also counted apart, with their time.
    """
    root = ET.parse(path).getroot()
    summary = JUnitSummary(seconds=sum(float(s.get("time", 0)) for s in root.iter("testsuite")))
    for case in root.iter("testcase"):
        classname, name = case.get("classname", ""), case.get("name", "")
        test_id = f"{classname}::{name}" if classname else name
        if ".ipynb" in classname:
            summary.notebook_cells += 1
            summary.notebook_seconds += float(case.get("time", 0))
        failure, error = case.find("failure"), case.find("error")
        if failure is not None:
            summary.failed += 1
            summary.problems.append(("FAILED", test_id, _first_line(failure)))
        elif error is not None:
            summary.errors += 1
            summary.problems.append(("ERROR", test_id, _first_line(error)))
        elif case.find("skipped") is not None:
            summary.skipped += 1
        else:
            summary.passed += 1
    return summary


def summary_lines(summary: JUnitSummary, most: int = 30) -> list[str]:
    """The report's test part: the failures (at most ``most``), the most repeated first lines, the counts."""
    lines = [f"{kind} {test_id}: {first}" for kind, test_id, first in summary.problems[:most]]
    if len(summary.problems) > most:
        lines.append(f"... and {len(summary.problems) - most} more")
    repeated = Counter(first for *_, first in summary.problems).most_common(5)
    lines += [f"{n:4d} x {first}" for first, n in repeated if n > 1]
    counts = f"{summary.passed} passed, {summary.failed} failed, {summary.errors} errors, {summary.skipped} skipped"
    lines.append(f"{counts} in {summary.seconds:.0f} s")
    if summary.notebook_cells:
        lines.append(f"notebooks: {summary.notebook_cells} cells in {summary.notebook_seconds:.0f} s")
    return lines


# ---- The steps.


def versions(python: Path) -> dict[str, str]:
    """{package: version or MISSING} for :data:`WATCH`, as ``python``'s environment has them."""
    out = subprocess.run([str(python), "-c", VERSIONS_SCRIPT, *WATCH], capture_output=True, text=True, check=True)
    return dict(line.split(" ", 1) for line in out.stdout.splitlines())


def run_logged(cmd: list[str], log: Path, env: Mapping[str, str] | None = None) -> int:
    """Run ``cmd`` with its output in ``log``; its exit status."""
    with log.open("w") as fh:
        return subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env).returncode


def setup_failed(what: str, log: Path) -> int:
    print("\n".join(log.read_text(errors="replace").splitlines()[-20:]))
    print(f"latest_check: {what} failed (log: {log})")
    return 2


def main(argv: list[str] | None = None) -> int:
    intro, _, usage = __doc__.partition("\n\n")
    parser = argparse.ArgumentParser(
        description=intro, epilog=usage, allow_abbrev=False, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pre", action="store_true", help="also take pre-releases")
    parser.add_argument("--always", action="store_true", help="run the tests even when nothing is newer")
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        print(f"latest_check: unknown argument '{unknown[0]}' (accepted: --pre, --always)", file=sys.stderr)
        return 2

    os.chdir(ROOT)
    latest_venv = Path(os.environ.get("LATEST_VENV", ".venv-latest"))
    base_venv = Path(os.environ.get("VENV", ".venv"))
    make_vars = [f"VENV={latest_venv}", f"PYTHON={os.environ.get('PYTHON', 'python3')}"]
    make = [*shlex.split(os.environ.get("MAKE", "make")), "--no-print-directory", *make_vars]
    py = latest_venv / "bin" / "python"
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()

    print(f"== 1. course install in {latest_venv} (as make install)", flush=True)
    # The Makefile's own install rule, with VENV pointed at the separate venv.
    if run_logged([*make, "install"], LOG_DIR / "install.log"):
        return setup_failed("install", LOG_DIR / "install.log")

    print(f"== 2. pip install -U {'--pre ' if args.pre else ''}{' '.join(PACKAGES)}", flush=True)
    # pip resolves only what it is asked for, so course-utils' upper bounds do not hold it back; with
    # PYTHONDONTWRITEBYTECODE unset it writes .pyc files, without which imports take twice as long.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    upgrade = [str(py), "-m", "pip", "install", "-q", "-U", *(["--pre"] if args.pre else []), *PACKAGES]
    if run_logged(upgrade, LOG_DIR / "upgrade.log", env=env):
        return setup_failed("upgrade", LOG_DIR / "upgrade.log")
    # pip warns when a new release leaves our bounds (course-utils requires transformers<6, ...): keep it.
    for line in (LOG_DIR / "upgrade.log").read_text(errors="replace").splitlines():
        if re.search("incompatible|requires", line, re.I):
            print(f"   pip: {line}")
    (latest_venv / ".course-installed").touch()  # so that make does not reinstall (and downgrade) before testing

    print(f"== 3. versions: course venv ({base_venv}) vs latest ({latest_venv})")
    base_python = base_venv / "bin" / "python"
    base = versions(base_python) if os.access(base_python, os.X_OK) else None
    latest = versions(py)
    print(format_table(("package", "course venv", "latest venv", "newer?"), version_rows(base, latest)))
    changed = anything_differs(base, latest)
    standins = subprocess.run([str(py), "-m", "course_utils", "requirements"], capture_output=True, text=True).stdout
    check = subprocess.run([str(py), "-m", "pip", "check"], capture_output=True, text=True)
    problems = pip_check_problems(check.stdout + check.stderr, ignore=(r.split("=")[0] for r in standins.split()))
    print("   pip check: " + ("\n      ".join(problems[:8]) or "clean (apart from the stand-ins, installed --no-deps)"))

    if not changed and not args.always:
        print(
            f"== nothing newer than the course's {base_venv} among: {' '.join(PACKAGES)}; "
            "tests not run (--always runs them)"
        )
        print(f"latest_check: done in {time.monotonic() - t0:.0f} s")
        return 0

    log, junit = LOG_DIR / "test.log", LOG_DIR / "junit.xml"
    print(f"== 4. make test in {latest_venv} (unit tests + notebooks; log: {log}, report: {junit})", flush=True)
    junit.unlink(missing_ok=True)  # a report left by an earlier run must not pass for this one's
    status = run_logged([*make, f"PYTEST_ARGS=--junitxml={ROOT / junit}", "test"], log)

    print("== 5. report")
    if junit.is_file():
        print("\n".join(f"   {line}" for line in summary_lines(read_junit(junit))))
    else:
        print("\n".join(f"   {line}" for line in log.read_text(errors="replace").splitlines()[-20:]))
        print("   (no JUnit report: make test stopped before pytest ran)")
    elapsed = time.monotonic() - t0
    if status == 0:
        print(f"latest_check: PASSED with the newest releases ({elapsed:.0f} s)")
        return 0
    if not changed:
        print(
            f"   (no package differs from {base_venv}: these failures are not caused by new releases; make test shows them too)"
        )
    print(f"latest_check: FAILED with the newest releases ({elapsed:.0f} s); full log: {log}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
