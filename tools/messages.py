"""The course's message catalogue: extract the messages of course_utils, update the translations, compile them.

A message is an English string literal in ``_("...")`` (translated where it is shown) or ``N_("...")``
(a table built at import, translated later with ``_(value)``); see course_utils/i18n.py. Each
language other than English has ``course_utils/locale/<lang>/LC_MESSAGES/course_utils.po`` (the
text a translator edits, keyed by the English) and the ``.mo`` file compiled from it (what
``gettext`` reads, shipped in the package).

    python tools/messages.py extract   # update every .po from the code: new messages untranslated, a changed
                                       # one fuzzy (its old translation, with the old English after #|),
                                       # vanished ones dropped; then compile
    python tools/messages.py status    # what is left to translate: untranslated and fuzzy entries, with their English
    python tools/messages.py compile   # write every .mo from its .po
    python tools/messages.py check     # exit 1, naming each problem (tests/test_messages.py runs the same checks)

After changing a message in the code: ``extract``, translate the entries ``status`` lists (and drop the
``#, fuzzy`` line of each one reviewed), then ``compile``. The English is the key: a translation is
current exactly while its ``msgid`` is the message as the code writes it now.

Standard library only (no Babel, no GNU gettext tools): the .po files use the usual format, with
file-level references and one line per string, and GNU ``msgfmt`` reads them too.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import re
import string
import struct
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "course_utils"
LOCALE = PACKAGE / "locale"
DOMAIN = "course_utils"
#: The translated languages (English is the source).
LANGUAGES = ("zh",)
#: How similar a new message must be to a vanished one to inherit its translation as fuzzy.
FUZZY_RATIO = 0.6
HEADER = {
    "zh": (
        "# Chinese (zh) translations of the course's messages: checker hints, the setup report, progress tables.\n"
        "# English is the source; tools/messages.py extract updates this file from course_utils/, compile writes\n"
        "# the .mo beside it. Terms follow GLOSSARY.md; code, arguments and names stay in English.\n"
    ),
}
METADATA = (
    "Project-Id-Version: course-utils\n"
    "Language: {lang}\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=UTF-8\n"
    "Content-Transfer-Encoding: 8bit\n"
    "Plural-Forms: nplurals=1; plural=0;\n"
)
FORMAT_FLAG = "python-brace-format"


# ----------------------------------------------------------------------------------------------
# Extraction


@dataclass
class Message:
    """One message of the code: its English, the files that use it, whether it is ``.format()``-ed."""

    msgid: str
    files: list[str] = field(default_factory=list)
    formatted: bool = False


def _fields(text: str) -> list[tuple[str, str | None, str | None]] | None:
    """The replacement fields of ``text`` read as a ``str.format`` template, ``(name, conversion, spec)`` each;
    None when it is not a valid template."""
    try:
        return [(name, conv, spec) for _lit, name, spec, conv in string.Formatter().parse(text) if name is not None]
    except ValueError:
        return None


def _binds_underscore(tree: ast.AST) -> list[int]:
    """Lines where the name ``_`` is bound other than by ``from ... import _`` (it would hide the gettext function)."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == "_" and isinstance(node.ctx, (ast.Store, ast.Del)):
            lines.append(node.lineno)
        elif isinstance(node, ast.arg) and node.arg == "_":
            lines.append(node.lineno)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == "_":
            lines.append(node.lineno)
        elif isinstance(node, ast.ExceptHandler) and node.name == "_":
            lines.append(node.lineno)
        elif isinstance(node, ast.Import) and any((a.asname or a.name) == "_" for a in node.names):
            lines.append(node.lineno)
    return lines


def _markers(tree: ast.AST) -> set[str]:
    """Which of ``_`` and ``N_`` the module imports from course_utils.i18n (a module's own ``_`` is not gettext)."""
    return {
        a.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[-1] == "i18n"
        for a in node.names
        if a.name in ("_", "N_") and a.asname is None
    }


def extract(root: Path = PACKAGE) -> tuple[list[Message], list[str]]:
    """Every message under ``root`` (in the order the files are read, sorted by path) and the problems found:
    a non-literal ``N_()``, an f-string in ``_()``, a ``.format()`` whose names differ from the message's
    fields, a ``_`` bound where ``_()`` is used."""
    found: dict[str, Message] = {}
    problems: list[str] = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=rel)
        markers = _markers(tree)
        if "_" in markers:
            problems += [
                f"{rel}:{line}: `_` is bound here, which hides the gettext function _()"
                for line in _binds_underscore(tree)
            ]
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        calls = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in markers
        ]
        for node in sorted(calls, key=lambda node: (node.lineno, node.col_offset)):  # the order of the source
            where, marker = f"{rel}:{node.lineno}", node.func.id
            if len(node.args) != 1 or node.keywords:
                problems.append(f"{where}: {marker}() takes exactly one argument, the message")
                continue
            arg = node.args[0]
            if isinstance(arg, ast.JoinedStr):
                problems.append(f"{where}: an f-string in {marker}(): write named fields and call .format(name=...)")
                continue
            if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
                if marker == "N_":
                    problems.append(f"{where}: N_() marks a string literal, not an expression")
                continue  # _(value): looks up a message marked elsewhere (N_)
            msgid = arg.value
            if not msgid:
                problems.append(f"{where}: an empty message (the empty msgid is the catalogue's header)")
                continue
            message = found.setdefault(msgid, Message(msgid))
            if rel not in message.files:
                message.files.append(rel)
            attr, call = parents.get(node), parents.get(parents.get(node))  # type: ignore[arg-type]
            if isinstance(attr, ast.Attribute) and attr.attr == "format" and isinstance(call, ast.Call):
                message.formatted = True
                fields = _fields(msgid)
                names = {f[0] for f in fields or []}
                given = {k.arg for k in call.keywords}
                if fields is None:
                    problems.append(f"{where}: the message is not a valid str.format template: {msgid!r}")
                elif call.args or None in given or any(not re.fullmatch(r"[A-Za-z_]\w*", n) for n in names):
                    problems.append(f"{where}: format the message with named fields and keywords only: {msgid!r}")
                elif names != given:
                    problems.append(
                        f"{where}: the message's fields {sorted(names)} differ from the .format() keywords {sorted(given)}"
                    )
    return list(found.values()), problems


# ----------------------------------------------------------------------------------------------
# The .po format


@dataclass
class Entry:
    """One entry of a .po file."""

    msgid: str
    msgstr: str = ""
    files: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    previous: str | None = None  # the English this (fuzzy) translation was made for
    obsolete: bool = False

    @property
    def fuzzy(self) -> bool:
        return "fuzzy" in self.flags


_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}
_UNESCAPES = {"\\": "\\", '"': '"', "n": "\n", "t": "\t", "r": "\r"}


def _quote(text: str) -> str:
    return '"' + "".join(_ESCAPES.get(c, c) for c in text) + '"'


def _unquote(token: str, where: str) -> str:
    if len(token) < 2 or token[0] != '"' or token[-1] != '"':
        raise ValueError(f"{where}: expected a quoted string, got {token!r}")
    out, chars = [], iter(token[1:-1])
    for c in chars:
        if c == "\\":
            nxt = next(chars, "")
            if nxt not in _UNESCAPES:
                raise ValueError(f"{where}: unknown escape \\{nxt}")
            out.append(_UNESCAPES[nxt])
        elif c == '"':
            raise ValueError(f"{where}: an unescaped quote in {token!r}")
        else:
            out.append(c)
    return "".join(out)


def read_po(path: Path) -> tuple[str, list[Entry]]:
    """``(header comment, entries)`` of a .po file, the metadata entry (empty msgid) among the entries."""
    header: list[str] = []
    entries: list[Entry] = []
    current: Entry | None = None
    key = ""  # "msgid" or "msgstr": the string that a quoted line continues

    def close() -> None:
        nonlocal current, key
        if current is not None:
            entries.append(current)
        current, key = None, ""

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        where, line = f"{path.name}:{number}", raw.strip()
        if not line:
            close()
            continue
        if not entries and current is None and line.startswith("#") and line[:2] not in ("#:", "#,", "#|", "#.", "#~"):
            header.append(raw)  # the file's opening comment
            continue
        obsolete = line.startswith("#~")
        if obsolete:
            line = line[2:].strip()
        elif line.startswith("#"):
            if key == "msgstr":  # a comment after a complete entry starts the next one
                close()
            current = current or Entry(msgid="")
            if line.startswith("#:"):
                current.files += line[2:].split()
            elif line.startswith("#,"):
                current.flags += [f.strip() for f in line[2:].split(",") if f.strip()]
            elif line.startswith("#|"):
                previous = line[2:].strip()
                if not previous.startswith("msgid "):
                    raise ValueError(f"{where}: only the previous msgid is kept after #|")
                current.previous = _unquote(previous[6:].strip(), where)
            continue  # other comments (#. or # ...) are for people
        if line.startswith(("msgctxt", "msgid_plural", "msgstr[")):
            raise ValueError(f"{where}: contexts and plural forms are not used in this catalogue")
        if line.startswith("msgid "):
            if key == "msgstr":
                close()
            current = current or Entry(msgid="")
            current.msgid, current.obsolete, key = _unquote(line[6:].strip(), where), obsolete, "msgid"
        elif line.startswith("msgstr "):
            if current is None or key != "msgid":
                raise ValueError(f"{where}: msgstr without its msgid")
            current.msgstr, key = _unquote(line[7:].strip(), where), "msgstr"
        elif line.startswith('"') and current is not None and key:
            setattr(current, key, getattr(current, key) + _unquote(line, where))
        else:
            raise ValueError(f"{where}: cannot read {raw!r}")
    close()
    return "\n".join(header) + ("\n" if header else ""), entries


def write_po(header: str, entries: Iterable[Entry]) -> str:
    """The text of a .po file: the header comment, then each entry (one line per string)."""
    blocks = [header.rstrip("\n")] if header else []
    for e in entries:
        lines = []
        prefix = "#~ " if e.obsolete else ""
        if e.files and not e.obsolete:
            lines.append("#: " + " ".join(e.files))
        if e.flags:
            lines.append("#, " + ", ".join(e.flags))
        if e.previous is not None:
            lines.append("#| msgid " + _quote(e.previous))
        if e.msgid == "" and "\n" in e.msgstr:  # the metadata: one line per field, as tools write it
            lines += ['msgid ""', 'msgstr ""'] + [_quote(part) for part in e.msgstr.splitlines(keepends=True)]
        else:
            lines += [prefix + "msgid " + _quote(e.msgid), prefix + "msgstr " + _quote(e.msgstr)]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def po_path(lang: str) -> Path:
    return LOCALE / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def mo_path(lang: str) -> Path:
    return po_path(lang).with_suffix(".mo")


# ----------------------------------------------------------------------------------------------
# Update, compile


def updated(messages: list[Message], entries: list[Entry], lang: str) -> list[Entry]:
    """The catalogue for ``messages``: translations kept, new messages empty or fuzzy (the closest vanished
    message's translation), vanished ones dropped, files and format flags as the code has them now."""
    old = {e.msgid: e for e in entries if not e.obsolete and e.msgid}
    used = {m.msgid for m in messages}
    vanished = [e for e in old.values() if e.msgid not in used and e.msgstr]
    out = [Entry("", METADATA.format(lang=lang))]
    for m in messages:
        flags = [FORMAT_FLAG] if m.formatted else []
        if m.msgid in old:
            e = old[m.msgid]
            fuzzy = e.fuzzy
            out.append(
                Entry(
                    m.msgid,
                    e.msgstr,
                    list(m.files),
                    (["fuzzy"] if fuzzy else []) + flags,
                    e.previous if fuzzy else None,
                )
            )
            continue
        near = max(vanished, key=lambda e: difflib.SequenceMatcher(None, e.msgid, m.msgid).ratio(), default=None)
        if near is not None and difflib.SequenceMatcher(None, near.msgid, m.msgid).ratio() >= FUZZY_RATIO:
            out.append(Entry(m.msgid, near.msgstr, list(m.files), ["fuzzy", *flags], near.msgid))
        else:
            out.append(Entry(m.msgid, "", list(m.files), flags))
    return out


def compile_mo(entries: Iterable[Entry]) -> bytes:
    """The GNU .mo file of ``entries``: the metadata and every translated, non-fuzzy, current entry, sorted by msgid."""
    pairs = sorted(
        (e.msgid.encode("utf-8"), e.msgstr.encode("utf-8"))
        for e in entries
        if e.msgstr and not e.fuzzy and not e.obsolete
    )
    ids = strs = b""
    offsets = []
    for msgid, msgstr in pairs:
        offsets.append((len(ids), len(msgid), len(strs), len(msgstr)))
        ids += msgid + b"\0"
        strs += msgstr + b"\0"
    n = len(pairs)
    key_start = 7 * 4 + 16 * n  # header, then two tables of (length, offset)
    value_start = key_start + len(ids)
    keys, values = [], []
    for id_off, id_len, str_off, str_len in offsets:
        keys += [id_len, key_start + id_off]
        values += [str_len, value_start + str_off]
    head = struct.pack("Iiiiiii", 0x950412DE, 0, n, 7 * 4, 7 * 4 + n * 8, 0, key_start)  # no hash table
    return head + struct.pack(f"{len(keys)}i", *keys) + struct.pack(f"{len(values)}i", *values) + ids + strs


# ----------------------------------------------------------------------------------------------
# Check


def _cjk(text: str) -> bool:
    return any("\u4e00" <= c <= "\u9fff" or "\u3000" <= c <= "\u303f" or "\uff00" <= c <= "\uffef" for c in text)


def check(
    lang: str, messages: list[Message] | None = None, po: Path | None = None, mo: Path | None = None
) -> list[str]:
    """Everything wrong with ``lang``'s catalogue against the code, one line each (empty: all is well).

    ``messages`` (default: :func:`extract`, whose problems are reported too), ``po`` and ``mo`` (default:
    the package's files) let a test check a planted change.
    """
    if messages is None:
        messages, problems = extract()
    else:
        problems = []
    po, mo = po or po_path(lang), mo or mo_path(lang)
    rel = po.name if not po.is_relative_to(ROOT) else po.relative_to(ROOT).as_posix()
    if not po.is_file():
        return [*problems, f"{rel} is missing: run python tools/messages.py extract"]
    try:
        _header, entries = read_po(po)
    except ValueError as exc:
        return [*problems, f"{rel}: {exc}"]
    by_id = {e.msgid: e for e in entries if not e.obsolete}
    code = {m.msgid: m for m in messages}
    if "" not in by_id or "charset=UTF-8" not in by_id[""].msgstr:
        problems.append(f"{rel}: no metadata entry declaring charset=UTF-8")
    for e in entries:
        if e.obsolete:
            problems.append(f"{rel}: an obsolete entry (#~) for {e.msgid!r}: delete it")
        elif e.msgid and e.msgid not in code:
            problems.append(f"{rel}: no code uses {e.msgid!r} (obsolete): run python tools/messages.py extract")
    for m in messages:
        e = by_id.get(m.msgid)
        if e is None:
            problems.append(
                f"{rel}: no entry for {m.msgid!r} ({', '.join(m.files)}): run python tools/messages.py extract"
            )
        elif not e.msgstr.strip():
            problems.append(f"{rel}: untranslated: {m.msgid!r}")
        elif e.fuzzy:
            problems.append(f"{rel}: fuzzy (made for {e.previous!r}): review {m.msgid!r}, then drop its fuzzy flag")
        elif m.formatted:
            want, got = _fields(m.msgid), _fields(e.msgstr)
            if got is None:
                problems.append(
                    f"{rel}: the translation of {m.msgid!r} is not a valid str.format template: {e.msgstr!r}"
                )
            elif sorted(map(str, set(want or []))) != sorted(map(str, set(got))):
                problems.append(
                    f"{rel}: the translation of {m.msgid!r} has the fields {sorted({f[0] for f in got})}, "
                    f"the English {sorted({f[0] for f in want or []})} (names, conversions and formats must match)"
                )
        if e is not None and lang == "zh" and e.msgstr.strip() and not _code_only(m.msgid) and not _cjk(e.msgstr):
            problems.append(f"{rel}: the translation of {m.msgid!r} has no Chinese in it: {e.msgstr!r}")
    if not mo.is_file():
        problems.append(f"{mo.name} is missing beside {rel}: run python tools/messages.py compile")
    elif mo.read_bytes() != compile_mo(entries):
        problems.append(f"{mo.name} is not the compiled {rel}: run python tools/messages.py compile")
    return problems


def _code_only(text: str) -> bool:
    """True for a message that is code, a symbol or a name (``-``, ``generate()``): its translation may be itself."""
    return not re.search(r"[A-Za-z]{2,}\s+[A-Za-z]{2,}", re.sub(r"`[^`]*`", "", text))


# ----------------------------------------------------------------------------------------------
# Commands


def _status(lang: str) -> Iterator[str]:
    _header, entries = read_po(po_path(lang))
    for e in entries:
        if e.msgid and (not e.msgstr.strip() or e.fuzzy):
            state = "fuzzy" if e.fuzzy else "untranslated"
            yield f"[{state}] {', '.join(e.files)}\n  English: {e.msgid}" + (
                f"\n  was:     {e.previous}\n  old translation: {e.msgstr}" if e.fuzzy else ""
            )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="tools/messages.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["extract", "status", "compile", "check"])
    args = parser.parse_args(argv)
    messages, problems = extract()
    if args.command in ("extract", "check") and problems:
        print("\n".join(problems), file=sys.stderr)
        if args.command == "extract":
            return 1
    status = 0
    for lang in LANGUAGES:
        po = po_path(lang)
        if args.command == "extract":
            header, entries = read_po(po) if po.is_file() else (HEADER.get(lang, ""), [])
            entries = updated(messages, entries, lang)
            po.parent.mkdir(parents=True, exist_ok=True)
            po.write_text(write_po(header, entries), encoding="utf-8")
            mo_path(lang).write_bytes(compile_mo(entries))
            todo = sum(1 for e in entries if e.msgid and (not e.msgstr or e.fuzzy))
            print(f"{po.relative_to(ROOT)}: {len(entries) - 1} messages, {todo} to translate or review")
        elif args.command == "compile":
            mo_path(lang).write_bytes(compile_mo(read_po(po)[1]))
            print(f"wrote {mo_path(lang).relative_to(ROOT)}")
        elif args.command == "status":
            todo = list(_status(lang))
            print("\n".join(todo) if todo else f"{po.relative_to(ROOT)}: every message is translated")
        else:
            found = check(lang, messages)
            if found:
                print("\n".join(found), file=sys.stderr)
                status = 1
    return 1 if (args.command == "check" and problems) else status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
