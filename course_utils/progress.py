"""Each learner's progress: every checker verdict, kept on the learner's own machine.

A checker (``cu.check.exercise_NN_k``) appends one JSON line per verdict to ``progress.jsonl`` in
the user's data directory (``~/.local/share/hf-course`` on Linux, ``~/Library/Application
Support/hf-course`` on macOS, ``%LOCALAPPDATA%\\hf-course`` on Windows; ``COURSE_PROGRESS_DIR``
moves it), so ``make clean`` and a new clone keep it. Nothing leaves the machine unless the learner
exports it. ``COURSE_PROGRESS=0`` turns it off; test runs (pytest), CI (``CI=true``) and the
course's rehearsals never write it. A placeholder answer is not an attempt: the untouched
``raise NotImplementedError  # your code here`` or the untouched ``None``.

    python -m course_utils progress                     # your table: exercise, passed, attempts, first passed
    python -m course_utils progress --export [FILE]     # your record as one file, to hand in (Colab: to download)
    python -m course_utils progress --merge FILE|DIR... # a room: passed and stuck per exercise, each learner

A learner is named once: ``COURSE_LEARNER``, else a random id made on first use (``learner.json``
beside the record). Each line carries that id, so a learner who sets a name later is still one
learner when records are merged; the newest name is shown.

Every message goes through :func:`course_utils.i18n._` (gettext; Chinese with ``COURSE_LANG=zh`` or
from ``notebooks/zh/``): messages are whole sentences with named fields, never pieced together.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import sys
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .i18n import _

#: The line format: every line of a record carries it; a line without it is foreign.
FORMAT = "hf-course-progress/1"
#: The folder's name in the user's data directory.
APP = "hf-course"
RECORD = "progress.jsonl"
IDENTITY = "learner.json"
OFF = "COURSE_PROGRESS"  # 0, off, false or no: never write
DIR = "COURSE_PROGRESS_DIR"  # where the record lives (default: the user's data directory)
LEARNER = "COURSE_LEARNER"  # the learner's name in the record
#: How much of a hint a line keeps (enough for the instructor to see what went wrong).
HINT_CHARS = 200
_FALSY = ("0", "off", "false", "no")


# ----------------------------------------------------------------------------------------------
# Where, and whether


def data_dir() -> Path:
    """The folder of the record: ``$COURSE_PROGRESS_DIR``, else the user's data directory for ``hf-course``.

    Course plumbing: not taught.
    """
    if os.environ.get(DIR):
        return Path(os.environ[DIR]).expanduser()
    try:
        import platformdirs
    except ImportError:
        platformdirs = None  # type: ignore[assignment]
    if platformdirs is not None:
        return Path(platformdirs.user_data_dir(APP, appauthor=False))
    home = Path.home()
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local") / APP
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / APP
    return Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share") / APP


def record_path() -> Path:
    """The file every verdict is appended to: :data:`RECORD` in :func:`data_dir`.

    Course plumbing: not taught.
    """
    return data_dir() / RECORD


def why_off(environ: Mapping[str, str] | None = None, modules: Iterable[str] | None = None) -> str | None:
    """Why no verdict is recorded here (a sentence), or None when they are.

    Off: ``COURSE_PROGRESS=0`` (or off/false/no); a test run (pytest imported, or
    ``PYTEST_CURRENT_TEST`` inherited by a notebook kernel that nbval started); CI (``CI`` set to
    anything but 0/false/no); a course rehearsal (tools/rehearse.py keeps its caches under a
    ``rehearsal`` folder; the Colab rehearsal sets ``COLAB_RELEASE_TAG=rehearsal``).

    Course plumbing: not taught.
    """
    env = os.environ if environ is None else environ
    loaded = sys.modules if modules is None else modules
    value = env.get(OFF, "").strip().lower()
    if value in _FALSY:
        return _("{name}={value} turns the record off").format(name=OFF, value=env.get(OFF, ""))
    if "pytest" in loaded or "PYTEST_CURRENT_TEST" in env:
        return _("this is a test run (pytest)")
    if env.get("CI", "").strip().lower() not in ("", *_FALSY):
        return _("this is a CI run (CI={value})").format(value=env.get("CI", ""))
    if env.get("COLAB_RELEASE_TAG") == "rehearsal" or "rehearsal" in Path(env.get("COURSE_CACHE_DIR", "")).parts:
        return _("this is one of the course's rehearsals")
    return None


def learner() -> tuple[str, str]:
    """``(name, id)``: the id is made once per data directory; the name is ``$COURSE_LEARNER``, else the id.

    Course plumbing: not taught.
    """
    folder = data_dir()
    path = folder / IDENTITY
    uid = ""
    try:
        uid = str(json.loads(path.read_text(encoding="utf-8"))["id"])
    except (OSError, ValueError, KeyError, TypeError):
        folder.mkdir(parents=True, exist_ok=True)
        uid = secrets.token_hex(4)
        try:
            with path.open("x", encoding="utf-8") as fh:  # two kernels at once: the first one wins
                json.dump({"id": uid, "created": _now()}, fh)
        except FileExistsError:
            uid = str(json.loads(path.read_text(encoding="utf-8"))["id"])
    name = os.environ.get(LEARNER, "").strip()
    return (name or uid), uid


def _now() -> str:
    """UTC to the millisecond (two verdicts in one second stay two when records are merged)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def unanswered(args: Sequence[Any], kwargs: Mapping[str, Any]) -> bool:
    """True when every argument a checker got is the untouched placeholder: ``None``, or a dict,
    list or tuple holding only ``None`` (``{"t.T": None, ...}`` in 00.3, ``None, None`` in 09.4).

    Course plumbing: not taught.
    """
    values = [*args, *kwargs.values()]

    def blank(value: Any) -> bool:
        if value is None:
            return True
        if isinstance(value, dict):
            return bool(value) and all(blank(v) for v in value.values())
        if isinstance(value, (list, tuple)):
            return bool(value) and all(blank(v) for v in value)
        return False

    return bool(values) and all(blank(v) for v in values)


def record(exercise: str, ok: bool, hint: str = "", placeholder: bool = False) -> bool:
    """Append one verdict to the record; True when a line was written.

    Nothing is written for a placeholder, or when :func:`why_off` says so. Never raises: a full
    disk or a read-only home must not break a checker (the learner's verdict matters more).

    Course plumbing: not taught.
    """
    try:
        if placeholder or why_off() is not None:
            return False
        name, uid = learner()
        line = {
            "format": FORMAT,
            "learner": name,
            "id": uid,
            "exercise": exercise,
            "ok": bool(ok),
            "time": _now(),
        }
        if not ok and hint:
            line["hint"] = hint[:HINT_CHARS]
        with record_path().open("a", encoding="utf-8") as fh:  # one write per line: appends do not interleave
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")
        return True
    except Exception:  # noqa: BLE001 - see the docstring
        return False


# ----------------------------------------------------------------------------------------------
# Reading


@dataclass(frozen=True)
class Entry:
    """One verdict of a record.

    Course plumbing: not taught.
    """

    learner: str
    id: str
    exercise: str
    ok: bool
    time: str
    hint: str = ""


_EXERCISE = re.compile(r"\d\d\.\d")
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z")


def parse(line: str) -> Entry | str:
    """The :class:`Entry` of one line, or why it was skipped (``"not JSON"``, ``"not a progress line"``...).

    Course plumbing: not taught.
    """
    try:
        obj = json.loads(line)
    except ValueError:
        return _("not JSON (a damaged or cut line)")
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        return _('not a progress line (no "format": "{format}")').format(format=FORMAT)
    fields = {k: obj.get(k) for k in ("learner", "id", "exercise", "ok", "time")}
    if not (
        isinstance(fields["learner"], str)
        and fields["learner"]
        and isinstance(fields["id"], str)
        and fields["id"]
        and isinstance(fields["exercise"], str)
        and _EXERCISE.fullmatch(fields["exercise"])
        and isinstance(fields["ok"], bool)
        and isinstance(fields["time"], str)
        and _TIME.fullmatch(fields["time"])
    ):
        return _("a progress line with a missing or malformed field")
    hint = obj.get("hint")
    return Entry(**fields, hint=hint if isinstance(hint, str) else "")  # type: ignore[arg-type]


def read(paths: Iterable[Path]) -> tuple[list[Entry], list[str]]:
    """Every verdict in ``paths`` (files, or folders: their ``*.jsonl``), each once, oldest first,
    and a line per problem (``FILE:LINE: why``): a problem is reported and skipped, never fatal.

    Course plumbing: not taught.
    """
    entries: dict[tuple, Entry] = {}
    problems: list[str] = []
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(path.glob("*.jsonl"))
            if not found:
                problems.append(_("{path}: a folder without *.jsonl files").format(path=path))
            files.extend(found)
        else:
            files.append(path)
    for path in files:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            problems.append(_("{path}: cannot be read ({error})").format(path=path, error=exc.strerror or exc))
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            got = parse(line)
            if isinstance(got, str):
                problems.append(_("{path}:{line}: skipped, {why}").format(path=path, line=number, why=got))
            else:  # the same file handed in twice, or an export beside its record, counts once
                entries.setdefault((got.id, got.exercise, got.ok, got.time, got.hint), got)
    return sorted(entries.values(), key=lambda e: e.time), problems


def course_exercises() -> list[str]:
    """Every exercise id of the course (``"00.1"`` ...), read from the checkers' sources (no torch import).

    Course plumbing: not taught.
    """
    ids: set[str] = set()
    for path in (Path(__file__).parent / "check").glob("nb*.py"):
        ids.update(re.findall(r'@checker\(\s*"(\d\d\.\d)"', path.read_text(encoding="utf-8")))
    return sorted(ids)


# ----------------------------------------------------------------------------------------------
# Tables


@dataclass
class Standing:
    """One learner on one exercise.

    Course plumbing: not taught.
    """

    attempts: int = 0
    first_passed: str = ""  # time of the first pass (UTC, as recorded)

    @property
    def passed(self) -> bool:
        return bool(self.first_passed)


def standings(entries: Iterable[Entry]) -> dict[str, dict[str, Standing]]:
    """``{learner id: {exercise: Standing}}``.

    Course plumbing: not taught.
    """
    out: dict[str, dict[str, Standing]] = {}
    for e in sorted(entries, key=lambda e: e.time):
        s = out.setdefault(e.id, {}).setdefault(e.exercise, Standing())
        s.attempts += 1
        if e.ok and not s.first_passed:
            s.first_passed = e.time
    return out


def local_time(stamp: str) -> str:
    """A recorded UTC time as this machine's local time, to the minute.

    Course plumbing: not taught.
    """
    try:
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return stamp
    return when.astimezone().strftime("%Y-%m-%d %H:%M")


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """Columns padded to their widest cell (wide characters count twice), two spaces apart.

    Course plumbing: not taught.
    """
    rows = [list(map(str, r)) for r in rows]
    widths = [max(_width(c) for c in col) for col in zip(headers, *rows)]
    lines = [[*headers], ["-" * w for w in widths], *rows]
    return "\n".join("  ".join(c + " " * (w - _width(c)) for c, w in zip(line, widths)).rstrip() for line in lines)


def learner_report(entries: Sequence[Entry], exercises: Sequence[str] | None = None) -> str:
    """One learner's table: every exercise, passed or not, attempts, first time passed.

    Course plumbing: not taught.
    """
    exercises = list(exercises if exercises is not None else course_exercises())
    by_id = standings(entries)
    mine: dict[str, Standing] = {}
    for per in by_id.values():  # one learner; several ids only if their data directory was replaced
        for ex, s in per.items():
            m = mine.setdefault(ex, Standing())
            m.attempts += s.attempts
            m.first_passed = min(filter(None, (m.first_passed, s.first_passed)), default="")
    rows = []
    for ex in sorted(set(exercises) | set(mine)):
        s = mine.get(ex, Standing())
        result = _("passed") if s.passed else (_("not yet") if s.attempts else _("-"))
        rows.append([ex, result, str(s.attempts), local_time(s.first_passed) if s.passed else ""])
    passed = sum(s.passed for s in mine.values())
    stuck = sum(1 for s in mine.values() if s.attempts and not s.passed)
    head = _("{passed} of {total} exercises passed; {stuck} tried and not passed yet.").format(
        passed=passed, total=len(rows), stuck=stuck
    )
    return head + "\n\n" + table([_("exercise"), _("result"), _("attempts"), _("first passed")], rows)


def room_report(entries: Sequence[Entry], exercises: Sequence[str] | None = None) -> str:
    """A room: per exercise, how many passed and who is stuck (tried, not passed); per learner, where they stand.

    Course plumbing: not taught.
    """
    exercises = list(exercises if exercises is not None else course_exercises())
    by_id = standings(entries)
    names = {e.id: e.learner for e in sorted(entries, key=lambda e: e.time)}  # the newest name wins
    last = {e.id: e for e in sorted(entries, key=lambda e: e.time)}
    order = sorted(by_id, key=lambda uid: (names[uid].lower(), uid))
    label = {
        uid: names[uid] if list(names.values()).count(names[uid]) == 1 else f"{names[uid]} ({uid})" for uid in order
    }
    tried = sorted({ex for per in by_id.values() for ex in per}, key=lambda ex: (ex not in exercises, ex))
    ex_rows = []
    for ex in tried:
        passed = [uid for uid in order if by_id[uid].get(ex, Standing()).passed]
        stuck = [uid for uid in order if ex in by_id[uid] and not by_id[uid][ex].passed]
        ex_rows.append([ex, str(len(passed)), str(len(stuck)), ", ".join(label[u] for u in stuck)])
    learner_rows = []
    for uid in order:
        per = by_id[uid]
        stuck = [ex for ex in sorted(per) if not per[ex].passed]
        e = last[uid]
        verdict = _("passed") if e.ok else _("not yet")
        learner_rows.append(
            [
                label[uid],
                str(sum(s.passed for s in per.values())),
                ", ".join(stuck) or _("-"),
                _("{exercise} {verdict}, {time}").format(exercise=e.exercise, verdict=verdict, time=local_time(e.time)),
            ]
        )
    head = _("{learners} learners; {total} exercises in the course, {tried} of them tried by someone.").format(
        learners=len(order), total=len(exercises), tried=len(tried)
    )
    return (
        head
        + "\n\n"
        + table([_("exercise"), _("passed"), _("stuck"), _("who is stuck (tried, not passed)")], ex_rows)
        + "\n\n"
        + table([_("learner"), _("passed"), _("stuck on"), _("last verdict")], learner_rows)
    )


# ----------------------------------------------------------------------------------------------
# Commands


def export(path: Path | None = None, name: str | None = None, download: bool = True) -> Path:
    """Write this machine's record to one file (default ``progress-<learner>.jsonl`` here) and return it.

    ``name`` replaces the learner's name on every line (a learner who never set ``COURSE_LEARNER``).
    Only well-formed lines are copied. In a Colab kernel the file is then downloaded to the
    learner's computer (``download=False`` keeps it in the runtime).

    Course plumbing: not taught.
    """
    entries, _problems = read([record_path()]) if record_path().exists() else ([], [])
    if not entries:
        raise FileNotFoundError(_("no verdict recorded yet in {path}").format(path=record_path()))
    label = name or entries[-1].learner
    path = Path(path) if path else Path(f"progress-{re.sub(r'[^A-Za-z0-9._-]+', '_', label)}.jsonl")
    lines = []
    for e in entries:
        line = {
            "format": FORMAT,
            "learner": name or e.learner,
            "id": e.id,
            "exercise": e.exercise,
            "ok": e.ok,
            "time": e.time,
        }
        if e.hint:
            line["hint"] = e.hint
        lines.append(json.dumps(line, ensure_ascii=False) + "\n")
    path.write_text("".join(lines), encoding="utf-8")
    if download and "google.colab" in sys.modules:
        from google.colab import files

        files.download(str(path))
    return path


def main(argv: Sequence[str]) -> int:
    """``python -m course_utils progress [--export [FILE] [--name NAME] | --merge PATH...]``.

    Course plumbing: not taught.
    """
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m course_utils progress",
        description=_("Your exercise record (kept on this machine), or a room's records merged."),
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--export",
        nargs="?",
        const="",
        metavar="FILE",
        help=_("write your record to FILE (default progress-NAME.jsonl)"),
    )
    group.add_argument(
        "--merge",
        nargs="+",
        type=Path,
        metavar="PATH",
        help=_("several learners' records (files or folders of *.jsonl)"),
    )
    parser.add_argument("--name", help=_("with --export: the name to put on your lines"))
    args = parser.parse_args(list(argv))

    if args.merge:
        entries, problems = read(args.merge)
        for problem in problems:
            print(problem, file=sys.stderr)
        if not entries:
            print(_("no progress lines in {paths}").format(paths=" ".join(map(str, args.merge))), file=sys.stderr)
            return 1
        if problems:
            print(_("{n} problem(s) above: those lines were skipped.").format(n=len(problems)), file=sys.stderr)
        print(room_report(entries))
        return 0

    if args.export is not None:
        try:
            path = export(Path(args.export) if args.export else None, name=args.name, download=False)
        except FileNotFoundError as exc:
            print(exc, file=sys.stderr)
            return 1
        print(_("wrote {path}: hand this file to your instructor.").format(path=path.resolve()))
        if "COLAB_RELEASE_TAG" in os.environ:
            print(
                _(
                    "In Colab, download it before the runtime resets: from google.colab import files; files.download('{path}')"
                ).format(path=path)
            )
        return 0

    path = record_path()
    entries, problems = read([path]) if path.exists() else ([], [])
    for problem in problems:
        print(problem, file=sys.stderr)
    uid = learner()[1] if (path.parent / IDENTITY).exists() else ""
    name = os.environ.get(LEARNER, "").strip() or (entries[-1].learner if entries else uid)
    if name and name != uid:
        print(_("Learner {name} (id {id}); record {path}").format(name=name, id=uid or "?", path=path))
    else:
        print(
            _("Learner {id} (no name: set {variable} to put yours on the record); record {path}").format(
                id=uid or "?", variable=LEARNER, path=path
            )
        )
    reason = why_off()
    if reason:
        print(_("Nothing is recorded in this shell: {reason}.").format(reason=reason))
    print(learner_report(entries))
    return 0
