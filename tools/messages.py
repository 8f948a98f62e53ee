"""The course's message catalogue: extract the messages of course_utils, update the translations, compile them.

What a message is, where the catalogues live and the steps after changing one: CONTRIBUTING.md,
"Messages in Chinese".

    python tools/messages.py extract   # update every .po from the code: new messages untranslated, a changed
                                       # one fuzzy (its old translation, with the old English after #|),
                                       # vanished ones dropped; then compile
    python tools/messages.py status    # what is left to translate: untranslated and fuzzy entries, with their English
    python tools/messages.py compile   # write every .mo from its .po
    python tools/messages.py check     # exit 1, naming each problem (tests/test_messages.py runs the same checks)

Babel reads and writes the .po and .mo files and merges the code's messages into a catalogue (as ``pybabel
update`` does); this tool decides which calls are messages and what the code and the translations must obey.
The .po keeps the course's header and one line per string; GNU ``msgfmt`` reads it too.
"""

from __future__ import annotations

import argparse
import ast
import datetime
import io
import re
import string
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from babel.messages import mofile, pofile
from babel.messages.catalog import Catalog

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "course_utils"
LOCALE = PACKAGE / "locale"
DOMAIN = "course_utils"
#: The translated languages (English is the source).
LANGUAGES = ("zh",)
HEADER = {
    "zh": (
        "# Chinese (zh) translations of the course's messages: checker hints, the setup report, progress tables.\n"
        "# English is the source; tools/messages.py extract updates this file from course_utils/, compile writes\n"
        "# the .mo beside it. Terms follow GLOSSARY.md; code, arguments and names stay in English."
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
#: Babel wraps comments at 76 columns even with width=0, which splits a long ``#| msgid "..."`` inside its quotes.
NO_WRAP = 1 << 30
#: A line of an entry: a keyword, a quoted string, or both; Babel's reader accepts broken quotes and escapes.
PO_LINE = re.compile(r'(#[~|] )?(msgctxt |msgid |msgid_plural |msgstr |msgstr\[\d+\] )?"([^"\\]|\\[\\"ntr])*"')
#: The creation date Babel writes into a .mo's metadata: fixed, so that the same .po compiles to the same bytes.
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


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
    defines = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.ExceptHandler)
    return [
        node.lineno
        for node in ast.walk(tree)
        if (isinstance(node, ast.Name) and node.id == "_" and isinstance(node.ctx, (ast.Store, ast.Del)))
        or (isinstance(node, ast.arg) and node.arg == "_")
        or (isinstance(node, defines) and node.name == "_")
        or (isinstance(node, ast.Import) and any((a.asname or a.name) == "_" for a in node.names))
    ]


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
# The .po and .mo files (Babel)


def po_path(lang: str) -> Path:
    return LOCALE / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def mo_path(lang: str) -> Path:
    return po_path(lang).with_suffix(".mo")


def read_po(path: Path) -> Catalog:
    """The catalogue in the .po file ``path``; ValueError names a line that is not valid .po. Babel reads
    ``#| msgid`` lines as comments: they become ``previous_id``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, 1):
        if line and (not line.startswith("#") or line.startswith(("#~", "#|"))) and not PO_LINE.fullmatch(line):
            raise ValueError(f"line {number}: cannot read {line!r}")
    try:
        catalog = pofile.read_po(lines, abort_invalid=True)
    except pofile.PoFileError as exc:  # Babel counts lines from 0
        raise ValueError(f"line {exc.lineno + 1}: {exc.args[0].removesuffix(f' on {exc.lineno}')}") from exc
    for m in [*catalog, *catalog.obsolete.values()]:
        previous = [c for c in m.user_comments if c.startswith("| msgid ")]
        m.previous_id = [pofile.denormalize(c.removeprefix("| msgid ")) for c in previous]
        m.user_comments = [c for c in m.user_comments if c not in previous]
    return catalog


def write_po(catalog: Catalog) -> str:
    """The text of ``catalog``'s .po file: its header comment, the course's metadata, then its entries."""
    out = io.BytesIO()
    pofile.write_po(out, catalog, width=NO_WRAP, omit_header=True, include_previous=True, include_lineno=False)
    metadata = pofile.normalize(METADATA.format(lang=catalog.locale_identifier), width=0)
    return f'{catalog.header_comment}\n\nmsgid ""\nmsgstr {metadata}\n\n{out.getvalue().decode().rstrip()}\n'


def updated(messages: list[Message], catalog: Catalog) -> Catalog:
    """``catalog`` updated to the code's ``messages`` by Babel's ``Catalog.update``: translations kept, a new message
    empty or fuzzy (the closest old message's translation, whose English becomes its ``previous_id``), vanished ones
    dropped, files and format flags as the code has them now (Babel would flag every message with braces)."""
    template = Catalog()
    for m in messages:
        template.add(m.msgid, locations=[(path, None) for path in m.files])
    previous = {m.id: m.previous_id for m in catalog}
    catalog.update(template)
    catalog.obsolete.clear()
    formatted = {m.msgid for m in messages if m.formatted}
    for m in catalog:
        m.flags = (m.flags & {"fuzzy"}) | ({"python-brace-format"} if m.id in formatted else set())
        if m.fuzzy and not m.previous_id:  # fuzzy before this update: keep the English it was made for
            m.previous_id = previous.get(m.id, [])
    return catalog


def compile_mo(catalog: Catalog) -> bytes:
    """The .mo file of ``catalog``: its translated, non-fuzzy messages and Babel's metadata entry, dated :data:`EPOCH`."""
    catalog.creation_date = EPOCH
    out = io.BytesIO()
    mofile.write_mo(out, catalog)
    return out.getvalue()


def translations(catalog: Catalog) -> dict[str, str]:
    """What gettext finds in ``catalog`` (a .po's or a .mo's): the translation of each translated, non-fuzzy message."""
    return {m.id: m.string for m in catalog if m.id and m.string and not m.fuzzy}


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
    problems: list[str] = []
    if messages is None:
        messages, problems = extract()
    po, mo = po or po_path(lang), mo or mo_path(lang)
    rel = po.name if not po.is_relative_to(ROOT) else po.relative_to(ROOT).as_posix()
    if not po.is_file():
        return [*problems, f"{rel} is missing: run python tools/messages.py extract"]
    try:
        catalog = read_po(po)
    except ValueError as exc:
        return [*problems, f"{rel}: {exc}"]
    if not re.search(r'^"Content-Type: text/plain; charset=UTF-8\\n"$', po.read_text(encoding="utf-8"), re.M):
        problems.append(f"{rel}: no metadata entry declaring charset=UTF-8")
    code = {m.msgid for m in messages}
    problems += [f"{rel}: an obsolete entry (#~) for {e.id!r}: delete it" for e in catalog.obsolete.values()]
    problems += [
        f"{rel}: no code uses {e.id!r} (obsolete): run python tools/messages.py extract"
        for e in catalog
        if e.id and e.id not in code
    ]
    for m in messages:
        e = catalog.get(m.msgid)
        if e is None:
            problems.append(
                f"{rel}: no entry for {m.msgid!r} ({', '.join(m.files)}): run python tools/messages.py extract"
            )
        elif not e.string.strip():
            problems.append(f"{rel}: untranslated: {m.msgid!r}")
        elif e.fuzzy:
            was = e.previous_id[0] if e.previous_id else None
            problems.append(f"{rel}: fuzzy (made for {was!r}): review {m.msgid!r}, then drop its fuzzy flag")
        elif m.formatted:
            want, got = _fields(m.msgid), _fields(e.string)
            if got is None:
                problems.append(
                    f"{rel}: the translation of {m.msgid!r} is not a valid str.format template: {e.string!r}"
                )
            elif set(want or []) != set(got):
                problems.append(
                    f"{rel}: the translation of {m.msgid!r} has the fields {sorted({f[0] for f in got})}, "
                    f"the English {sorted({f[0] for f in want or []})} (names, conversions and formats must match)"
                )
        if e is not None and lang == "zh" and e.string.strip() and not _code_only(m.msgid) and not _cjk(e.string):
            problems.append(f"{rel}: the translation of {m.msgid!r} has no Chinese in it: {e.string!r}")
    if not mo.is_file():
        problems.append(f"{mo.name} is missing beside {rel}: run python tools/messages.py compile")
    else:
        with mo.open("rb") as f:
            if translations(mofile.read_mo(f)) != translations(catalog):
                problems.append(f"{mo.name} is not the compiled {rel}: run python tools/messages.py compile")
    return problems


def _code_only(text: str) -> bool:
    """True for a message that is code, a symbol or a name (``-``, ``generate()``): its translation may be itself."""
    return not re.search(r"[A-Za-z]{2,}\s+[A-Za-z]{2,}", re.sub(r"`[^`]*`", "", text))


# ----------------------------------------------------------------------------------------------
# Commands


def _status(lang: str) -> Iterator[str]:
    for e in read_po(po_path(lang)):
        if e.id and (not e.string.strip() or e.fuzzy):
            files = ", ".join(path for path, _line in e.locations)
            yield f"[{'fuzzy' if e.fuzzy else 'untranslated'}] {files}\n  English: {e.id}" + (
                f"\n  was:     {e.previous_id[0] if e.previous_id else None}\n  old translation: {e.string}"
                if e.fuzzy
                else ""
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
            catalog = updated(messages, read_po(po) if po.is_file() else Catalog(lang, header_comment=HEADER[lang]))
            po.parent.mkdir(parents=True, exist_ok=True)
            po.write_text(write_po(catalog), encoding="utf-8")
            mo_path(lang).write_bytes(compile_mo(catalog))
            todo = sum(1 for e in catalog if e.id and (not e.string or e.fuzzy))
            print(f"{po.relative_to(ROOT)}: {len(catalog)} messages, {todo} to translate or review")
        elif args.command == "compile":
            mo_path(lang).write_bytes(compile_mo(read_po(po)))
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
