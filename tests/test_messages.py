"""Messages in Chinese (course_utils/i18n.py, tools/messages.py): the catalogue is complete and current, and with
COURSE_LANG=zh (or run from notebooks/zh/) every checker's hint, the setup report and the progress tables print in
Chinese, while English prints exactly as written.

The catalogue is keyed by the English itself (gettext's msgid): a changed English message is a new key, so its
old translation no longer applies (``tools/messages.py extract`` offers it as fuzzy), and the test below fails
until the Chinese is reviewed, as the Markdown units' fingerprints do for the notebooks' text."""

from __future__ import annotations

import contextlib
import functools
import gettext
import importlib
import importlib.util
import inspect
import io
import json
import re
import shutil
import string
import sys
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest

from course_utils import check, env, i18n, progress
from course_utils.check._core import verdict

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import messages  # noqa: E402  (tools/messages.py: the catalogue's tools)

CJK = re.compile(r"[\u4e00-\u9fff]")
EXERCISES = sorted(n for n in dir(check) if re.fullmatch(r"exercise_\d\d_\d", n))


@pytest.fixture
def zh(monkeypatch):
    monkeypatch.setenv("COURSE_LANG", "zh")


def english_sentences(text: str) -> list[str]:
    """Runs of four or more English words in ``text``, outside what a hint quotes: code spans, quoted strings,
    bracketed code, and the message of an exception the learner's code raised (a value, not a message)."""
    text = re.sub(r"`[^`]*`", " ", text)
    text = re.sub(r"[A-Z]\w*(Error|Exception|Warning|Interrupt)：[^（）]*", " ", text)
    text = re.sub(r"'[^'\n]*'|\"[^\"\n]*\"", " ", text)
    previous = None
    while previous != text:
        previous, text = text, re.sub(r"\[[\x00-\x7f]*?\]|\([\x00-\x7f]*?\)", " ", text)
    return re.findall(r"\b[A-Za-z]{2,}(?: [A-Za-z]{2,}){3,}\b", text)


# ----------------------------------------------------------------------------------------------
# The catalogue


def test_the_chinese_catalogue_is_complete_and_current():
    """Every message of course_utils has a Chinese translation, current (not fuzzy) and with the English's fields;
    no entry is obsolete; the .mo is the compiled .po (``python tools/messages.py check``)."""
    found = messages.check("zh")
    assert not found, "run tools/messages.py extract, translate, compile:\n" + "\n".join(found)
    catalogue, _ = messages.extract()
    assert len(catalogue) > 400  # hints of 43 exercises, the setup report, the progress tables


def _gettext_reads(mo: Path, msgids: list[str]) -> tuple[str, str | None, dict[str, str]]:
    """What Python's gettext reads from ``mo``: its charset, its plural forms and the translation of each msgid."""
    with mo.open("rb") as f:
        found = gettext.GNUTranslations(f)
    return found.charset().lower(), found.info().get("plural-forms"), {m: found.gettext(m) for m in msgids}


def test_gnu_msgfmt_reads_the_catalogue_as_ours(tmp_path):
    """The .po is standard: GNU msgfmt (when installed) accepts it, format checks included, and its .mo gives gettext
    what ours gives (Babel's .mo differs in bytes: its own metadata entry, no hash-table offset), also for a fuzzy and
    an untranslated entry, which both leave out; a .mo with one translation changed reads differently."""
    msgfmt = shutil.which("msgfmt")
    if msgfmt is None:
        pytest.skip("GNU gettext's msgfmt is not installed")
    import subprocess

    def gnu(po: Path) -> Path:
        out = tmp_path / f"{po.stem}.gnu.mo"
        run = subprocess.run([msgfmt, "--check", "-o", str(out), str(po)], capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        return out

    catalog = messages.read_po(messages.po_path("zh"))
    msgids = [m.id for m in catalog if m.id]
    ours = _gettext_reads(messages.mo_path("zh"), msgids)
    assert _gettext_reads(gnu(messages.po_path("zh")), msgids) == ours
    assert ours[:2] == ("utf-8", "nplurals=1; plural=0;") and sum(ours[2][m] != m for m in msgids) > 400

    fuzzy, emptied, changed = msgids[10:13]
    catalog[fuzzy].flags.add("fuzzy")
    catalog[emptied].string = ""
    po, mo = tmp_path / "planted.po", tmp_path / "planted.mo"
    po.write_text(messages.write_po(catalog), encoding="utf-8")
    mo.write_bytes(messages.compile_mo(catalog))
    planted = _gettext_reads(mo, msgids)
    assert planted == _gettext_reads(gnu(po), msgids)
    assert planted[2][fuzzy] == fuzzy and planted[2][emptied] == emptied and planted[2][changed] != changed
    catalog[changed].string += "!"
    mo.write_bytes(messages.compile_mo(catalog))
    assert _gettext_reads(mo, msgids) != _gettext_reads(gnu(po), msgids)


def test_an_unchanged_po_compiles_to_the_same_bytes_at_any_time():
    """Babel dates a .mo's metadata entry with the time it compiles: compile_mo pins that date, so compiling an
    unchanged .po does not change the committed .mo."""
    catalog = messages.read_po(messages.po_path("zh"))
    assert gettext.GNUTranslations(io.BytesIO(messages.compile_mo(catalog))).info()["pot-creation-date"] == (
        "1970-01-01 00:00+0000"
    )
    assert catalog.creation_date == messages.EPOCH
    unpinned = messages.read_po(messages.po_path("zh"))  # what Babel writes left to itself: today's date
    assert unpinned.creation_date.year > 2000 and unpinned.creation_date != messages.EPOCH


@pytest.fixture
def planted(tmp_path):
    """A copy of the package's sources and of the Chinese catalogue, to plant changes in."""
    package = tmp_path / "course_utils"
    shutil.copytree(ROOT / "course_utils", package, ignore=shutil.ignore_patterns("__pycache__", "locale"))
    po, mo = tmp_path / "course_utils.po", tmp_path / "course_utils.mo"
    shutil.copy(messages.po_path("zh"), po)
    shutil.copy(messages.mo_path("zh"), mo)
    return package, po, mo


def _check(package: Path, po: Path, mo: Path) -> list[str]:
    found, problems = messages.extract(package)
    return problems + messages.check("zh", found, po, mo)


def test_the_planted_copy_passes(planted):
    assert _check(*planted) == []


def test_a_changed_english_hint_fails_until_its_chinese_is_reviewed(planted):
    """Change one hint's English in a checker: the test names it; extract offers the old Chinese as fuzzy, which
    fails too; dropping the fuzzy flag (after review) and compiling makes it pass."""
    package, po, mo = planted
    old = "replace None with your predicted shape, a tuple of ints such as (1, 2, 3)"
    new = "replace None with the shape you predict, a tuple of ints such as (1, 2, 3)"
    source = package / "check" / "nb00.py"
    source.write_text(source.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
    found = _check(package, po, mo)
    assert any("no entry for" in p and new in p for p in found), found
    assert any("no code uses" in p and old in p for p in found), found

    code, _ = messages.extract(package)
    catalog = messages.updated(code, messages.read_po(po))
    fuzzy = catalog[new]
    assert fuzzy.fuzzy and fuzzy.previous_id == [old] and CJK.search(fuzzy.string)
    po.write_text(messages.write_po(catalog), encoding="utf-8")
    mo.write_bytes(messages.compile_mo(catalog))
    found = _check(package, po, mo)
    assert len(found) == 1 and "fuzzy" in found[0] and new in found[0] and repr(old) in found[0], found
    assert messages.read_po(po)[new].previous_id == [old]  # the English it was made for, read back from #| msgid
    assert messages.updated(code, messages.read_po(po))[new].previous_id == [old]  # and kept by another extract

    fuzzy.flags.remove("fuzzy")
    fuzzy.previous_id = []
    po.write_text(messages.write_po(catalog), encoding="utf-8")
    assert _check(package, po, mo) == [f"{mo.name} is not the compiled {po.name}: run python tools/messages.py compile"]
    mo.write_bytes(messages.compile_mo(catalog))
    assert _check(package, po, mo) == []


def test_a_new_untranslated_message_fails(planted):
    package, po, mo = planted
    source = package / "check" / "nb00.py"
    text = source.read_text(encoding="utf-8")
    text = text.replace('_("the matrix part is (3, 4) @ (4, 6)")', '_("a brand-new hint nobody has translated")')
    source.write_text(text, encoding="utf-8")
    code, _ = messages.extract(package)
    catalog = messages.updated(code, messages.read_po(po))
    po.write_text(messages.write_po(catalog), encoding="utf-8")
    mo.write_bytes(messages.compile_mo(catalog))
    assert [p for p in _check(package, po, mo)] == [
        f"{po.name}: untranslated: 'a brand-new hint nobody has translated'"
    ]


@pytest.mark.parametrize(
    "plant, problem",
    [
        (lambda c, e: setattr(e, "string", ""), "untranslated"),
        (lambda c, e: setattr(e, "string", e.string.replace("{shape}", "{形状}")), "has the fields"),
        (lambda c, e: setattr(e, "string", e.string.replace("{shape}", "{shape!r}")), "has the fields"),
        (lambda c, e: setattr(e, "string", e.string.replace("{shape}", "{shape")), "not a valid str.format template"),
        (lambda c, e: setattr(e, "string", "expected a tensor of shape {shape}, got {got}"), "has no Chinese"),
        (lambda c, e: (c.obsolete.update({e.id: e}), c.delete(e.id)), "obsolete entry"),
    ],
    ids=["emptied", "renamed field", "added conversion", "broken field", "left in English", "made obsolete"],
)
def test_a_planted_bad_translation_fails(planted, plant, problem):
    package, po, mo = planted
    catalog = messages.read_po(po)
    plant(catalog, catalog["expected a tensor of shape {shape}, got {got}"])
    po.write_text(messages.write_po(catalog), encoding="utf-8")
    mo.write_bytes(messages.compile_mo(catalog))
    found = _check(package, po, mo)
    assert found and all(problem in p or "no entry for" in p for p in found), found
    assert any(problem in p for p in found)


@pytest.mark.parametrize(
    "new, problem",
    [
        ('msgstr "还"不对"', 'line {n}: cannot read \'msgstr "还"不对"\''),
        ('msgstr "还不对', "line {n}: cannot read 'msgstr \"还不对'"),
        ('msgstr "还不对\\q"', "line {n}: cannot read 'msgstr \"还不对\\\\q\"'"),
        ("", "line {msgid}: missing msgstr for msgid 'not yet right'"),
    ],
    ids=["unescaped quote", "unclosed quote", "unknown escape", "no msgstr"],
)
def test_an_unreadable_po_file_is_named(planted, new, problem):
    """Babel's reader takes a broken quote or escape as text: read_po names the line, as msgfmt would."""
    package, po, mo = planted
    lines = po.read_text(encoding="utf-8").splitlines()
    n = lines.index('msgstr "还不对"') + 1
    assert lines[n - 2] == 'msgid "not yet right"'
    lines[n - 1] = new
    po.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert _check(package, po, mo) == [f"{po.name}: " + problem.format(n=n, msgid=n - 1)]


@pytest.mark.parametrize(
    "code, problem",
    [
        ('def f(x):\n    return _(f"got {x}")\n', "an f-string in _()"),
        ('def f(x):\n    return _("got {x}").format(y=x)\n', "differ from the .format() keywords"),
        ('def f(x):\n    return _("got {}").format(x)\n', "named fields and keywords only"),
        ("A = N_(B)\n", "N_() marks a string literal"),
        ('def f(rows):\n    return [_("row") for _ in rows]\n', "`_` is bound here"),
        ('def f(_):\n    return _("row")\n', "`_` is bound here"),
        ('def _():\n    return N_("row")\n', "`_` is bound here"),
        ('try:\n    X = _("row")\nexcept ValueError as _:\n    pass\n', "`_` is bound here"),
        ('import gettext as _\n\nX = N_("row")\n', "`_` is bound here"),
    ],
)
def test_a_malformed_message_in_the_code_is_named(tmp_path, code, problem):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "mod.py").write_text("from .i18n import N_, _\n\n" + code, encoding="utf-8")
    _found, problems = messages.extract(package)
    assert len(problems) == 1 and problem in problems[0] and problems[0].startswith("pkg/mod.py:"), problems


def test_extract_writes_the_committed_catalogue_unchanged():
    """Reading the .po and updating it to the code changes nothing: the committed file is what extract writes."""
    catalog = messages.updated(messages.extract()[0], messages.read_po(messages.po_path("zh")))
    assert messages.write_po(catalog) == messages.po_path("zh").read_text(encoding="utf-8")


#: String literals of the checkers, the setup report and the progress module that are not messages: texts and
#: prompts the checkers feed to models, keys matched against library errors, markers. (file, how it starts)
NOT_MESSAGES = {
    "nb01.py": ("the a movie", "The capital of France", "After the rain", "My favourite", "The first act",
                "The finale", "Great cast", "Still, I was", "Absolutely terrible", "The old lighthouse",
                "Under the bridge"),
    "nb02.py": ("Which river", "The town grew", "Tokenizers fragment", "Don't split", "The river, the",
                "river bridge town", "Who crossed", "Where did the ferry", "Which tram"),
    "nb03.py": ("vocab_size hidden_size", " LM, tie_word_embeddings="),
    "nb04.py": ("i feel so happy", "unbelievably huggingface", "in memory only: ", "a fresh copy of a"),
    "nb05.py": ("(max_seconds, pause", "(n_examples, batch_size", "unexpected keyword argument", "has no attribute",
                "expected sequence", "Unable to create tensor", "requires grad", "the parcel", "i feel hollow",
                "why does everyone", "i am nervous", "what an unexpected", "i miss the way", "so tired", "i adore",
                "a stranger paid", "i am scared", "my heart is full", "we won", "nothing about today"),
    "env.py": ("IProgress not found",),
    "progress.py": ("python -m course_utils progress", "Application Support"),
}  # fmt: skip


def _unmarked(path: Path) -> list[tuple[int, str]]:
    """String literals with words in them that are neither in ``_()``/``N_()``, a docstring nor a raised error."""
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
        ):
            skip.add(id(body[0].value))  # a docstring
        if isinstance(node, ast.Raise) or (
            isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("_", "N_")
        ):
            skip.update(id(sub) for sub in ast.walk(node))
    found = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
            skip.update(id(sub) for sub in ast.walk(node))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        else:
            continue
        if re.search(r"[A-Za-z]{2,}[ ,:;]+[A-Za-z]{2,}", text):
            found.append((node.lineno, text))
    return found


@pytest.mark.parametrize(
    "path",
    sorted((ROOT / "course_utils" / "check").glob("*.py"))
    + [ROOT / "course_utils" / f for f in ("env.py", "progress.py")],
    ids=lambda p: p.name,
)
def test_every_message_is_marked_for_translation(path):
    """A hint written as a bare string would print in English in the Chinese edition: wrap it in _()."""
    allowed = NOT_MESSAGES.get(path.name, ())
    bare = [f"{path.name}:{line}: {text!r}" for line, text in _unmarked(path) if not text.startswith(allowed)]
    assert not bare, "wrap these in _() (or, if they are not messages, list them in NOT_MESSAGES):\n" + "\n".join(bare)


def test_the_catalogue_uses_the_glossary():
    """The Chinese of each message uses GLOSSARY.md's terms, as tests/test_translations.py checks the notebooks'
    text (a checker's terms are checked as its notebook's)."""
    from test_translations import term_problems

    wrong = []
    for e in messages.read_po(messages.po_path("zh")):
        chapter = re.search(r"check/nb(\d\d)\.py", " ".join(path for path, _line in e.locations))
        for problem in term_problems(e.id, e.string, chapter[1] if chapter else "", chapter is not None):
            wrong.append(f"{e.id!r}: {problem}")
    assert not wrong, "\n".join(wrong)


def test_the_package_ships_the_compiled_catalogue():
    """pyproject's package data carries locale/<lang>/LC_MESSAGES/*.mo (a wheel or a git install has it)."""
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"][
        "course_utils"
    ]
    for lang in messages.LANGUAGES:
        rel = messages.mo_path(lang).relative_to(ROOT / "course_utils").as_posix()
        assert any(fnmatch(rel, p) for p in patterns), f"package-data does not include {rel}"
    assert messages.LANGUAGES == tuple(lang for lang in i18n.LANGUAGES if lang != "en")


# ----------------------------------------------------------------------------------------------
# The language


@pytest.mark.parametrize(
    "value, lang",
    [("zh", "zh"), ("zh_CN", "zh"), ("zh-Hans", "zh"), ("ZH_cn.UTF-8", "zh"), ("zh_TW", "zh"), ("en", "en"),
     ("en_US.UTF-8", "en"), ("fr", "en"), ("C", "en")],
)  # fmt: skip
def test_course_lang_chooses_the_language(monkeypatch, tmp_path, value, lang):
    monkeypatch.setenv("COURSE_LANG", value)
    (tmp_path / "notebooks" / "zh").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "notebooks" / "zh")  # COURSE_LANG wins over the edition
    assert i18n.language() == lang


@pytest.mark.parametrize(
    "folder, lang",
    [("notebooks/zh", "zh"), ("notebooks/zh/solutions", "zh"), ("notebooks", "en"), ("notebooks/solutions", "en"),
     ("zh", "en"), ("elsewhere/zh/solutions", "en"), (".", "en")],
)  # fmt: skip
def test_without_course_lang_the_notebooks_folder_decides(monkeypatch, tmp_path, folder, lang):
    """A Jupyter kernel starts in its notebook's folder: the Chinese edition's kernels speak Chinese."""
    monkeypatch.delenv("COURSE_LANG", raising=False)
    (tmp_path / folder).mkdir(parents=True, exist_ok=True)
    monkeypatch.chdir(tmp_path / folder)
    assert i18n.language() == lang


def test_english_prints_the_messages_as_written(monkeypatch):
    monkeypatch.setenv("COURSE_LANG", "en")
    found, _ = messages.extract()
    assert all(i18n._(m.msgid) == m.msgid for m in found)
    monkeypatch.setenv("COURSE_LANG", "zh")
    assert all(CJK.search(i18n._(m.msgid)) or messages._code_only(m.msgid) for m in found)


# ----------------------------------------------------------------------------------------------
# What a learner sees


@functools.cache
def _fakes(chapter: str) -> dict:
    """A private copy of tests/test_check_NN.py's FAKES table: some fakes remember what they saw (a memorised
    answer), so the adversarial suite's own objects are left untouched."""
    path = ROOT / "tests" / f"test_check_{chapter}.py"
    spec = importlib.util.spec_from_file_location(f"_zh_copy_of_test_check_{chapter}", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.FAKES


def _cases(name: str) -> list[tuple[str, tuple, dict]]:
    """(label, args, kwargs): every fake of the exercise's FAKES table, then its placeholders (None for every
    argument; a function that raises NotImplementedError, as the notebooks' stubs do)."""
    exercise = name.removeprefix("exercise_").replace("_", ".")
    table = _fakes(exercise[:2])[exercise]
    cases = [(f.label, f.args, f.kwargs) for fakes in table.values() if not isinstance(fakes, str) for f in fakes]

    def stub(*args, **kwargs):
        raise NotImplementedError

    n = len(inspect.signature(getattr(check, name)).parameters)
    return cases + [("None everywhere", (None,) * n, {}), ("a stub", (stub,) * n, {})]


@pytest.mark.parametrize("name", EXERCISES)
def test_every_wrong_answer_gets_a_chinese_hint(zh, name):
    """With COURSE_LANG=zh, every fake answer of the adversarial suite and every placeholder is rejected with a
    hint in Chinese: the verdict line's words and the hint's, no English sentence but the learner's own error."""
    exercise = name.removeprefix("exercise_").replace("_", ".")
    checker = getattr(check, name)
    for label, args, kwargs in _cases(name):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            result = checker(*args, **kwargs)
        text = out.getvalue()
        assert not result, f"{exercise} accepted '{label}'"
        assert text.startswith(f"❌ 练习 {exercise}："), f"{exercise} '{label}': {text!r}"
        hint = text.removeprefix(f"❌ 练习 {exercise}：")
        assert CJK.search(hint), f"{exercise} '{label}': the hint is not Chinese: {text!r}"
        assert not english_sentences(hint), f"{exercise} '{label}': English left in {text!r}"


def test_a_hint_left_in_english_is_caught(zh, monkeypatch):
    """Plant a hint whose Chinese is missing at run time: the check above sees the English sentence."""
    english = "replace None with your predicted shape, a tuple of ints such as (1, 2, 3)"
    real = i18n.catalogue("zh")

    class Missing:
        def gettext(self, message: str) -> str:
            return message if message == english else real.gettext(message)

    monkeypatch.setattr(i18n, "catalogue", lambda lang: Missing())
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        check.exercise_00_1(None)
    assert out.getvalue() == f"❌ 练习 00.1：{english}\n"
    assert english_sentences(out.getvalue()) == ["replace None with your predicted shape", "tuple of ints such as"]


def test_a_bare_hint_is_caught(tmp_path):
    source = tmp_path / "nb99.py"
    source.write_text(
        'def f():\n    """A docstring, not a message."""\n    fail("a bare hint in English")\n', encoding="utf-8"
    )
    assert _unmarked(source) == [(3, "a bare hint in English")]


def test_the_english_sentence_detector():
    assert english_sentences("the tokenizer did not change: call it") == ["the tokenizer did not change"]
    assert english_sentences("分词器没有变化：调用 `the tokenizer did not change` 'or a quoted text here'") == []
    assert english_sentences("你的函数抛出了 KeyError：the key is not in the batch（出错的输入：n=3）") == []
    assert english_sentences("例如 [len(ids) for ids in tokenizer(batch['text'])]") == []


def test_a_right_answer_prints_a_chinese_verdict_that_the_stored_outputs_still_match(zh, capsys):
    """The Chinese notebooks keep the English run's outputs: nbval's sanitizer (notebooks/sanitize.cfg) maps the
    Chinese verdict of a right answer to the stored English one, so `make test-zh` compares them equal."""
    from nbval.plugin import get_sanitize_patterns

    patterns = get_sanitize_patterns((ROOT / "notebooks" / "sanitize.cfg").read_text(encoding="utf-8"))

    def sanitize(text: str) -> str:
        for regex, replace in patterns:
            text = re.sub(regex, replace, text)
        return text

    stored = set()
    for path in sorted((ROOT / "notebooks" / "zh").rglob("[0-9][0-9]_*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] == "code" and "nbval-check-output" in cell["metadata"].get("tags", []):
                text = "".join("".join(o.get("text", "")) for o in cell.get("outputs", []))
                stored.update(re.findall(r"^✅ exercise (\d\d\.\d): correct$", text, re.M))
    assert len(stored) > 20, "the solutions' checked cells print their verdicts"
    for exercise in sorted(stored):
        assert verdict(exercise, True)
        line = capsys.readouterr().out
        assert line == f"✅ 练习 {exercise}：正确\n"
        assert sanitize(line) == sanitize(f"✅ exercise {exercise}: correct\n")


def _report_lines(environment: env.Environment) -> list[str]:
    return [line for line in environment.report().splitlines() if not line.startswith("python ")]


def test_the_setup_report_prints_in_chinese(zh, monkeypatch, capsys):
    """Every line of cu.setup()'s report but the versions line is Chinese, for each device, profile, Hub state."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    environment = env.setup(seed=0)
    printed = capsys.readouterr().out.splitlines()
    assert printed == environment.report().splitlines() and len(printed) == 6

    unreachable = env._hub_probe.__wrapped__("http://127.0.0.1:9", 0.5)  # a closed port: refused at once
    assert unreachable[0] is False and CJK.search(unreachable[1])
    variants = []
    for device in ("cpu", "mps", "cuda"):
        if device == "cuda":
            import torch

            monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "Tesla T4")
            monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a: (7, 5))
        precision, reason = env.auto_precision(device)
        for hub, hub_reason in ((True, env._("{endpoint} answered").format(endpoint="https://huggingface.co")),
                                (False, "HF_HUB_OFFLINE=1"), unreachable):  # fmt: skip
            for profile in env.PROFILES:
                variants.append(
                    env.Environment(device, profile, 0, hub, hub_reason, False, device == "cuda", precision, reason)
                )  # type: ignore[arg-type]
    monkeypatch.delenv("COURSE_PROFILE", raising=False)
    for environment in variants:
        for line in _report_lines(environment):
            assert CJK.search(line), line
            assert not english_sentences(line), line
    assert env.auto_precision("tpu")[1] == "无法为设备 'tpu' 自动选择"
    assert env.package_version("no-such-distribution") == "未安装"


def test_the_progress_tables_print_in_chinese(zh, tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_PROGRESS_DIR", str(tmp_path))
    lines = [
        {"format": progress.FORMAT, "learner": "ana", "id": "a1", "exercise": "00.1", "ok": False,
         "time": "2026-12-01T10:00:00.000Z", "hint": "x"},
        {"format": progress.FORMAT, "learner": "ana", "id": "a1", "exercise": "00.1", "ok": True,
         "time": "2026-12-01T10:05:00.000Z"},
        {"format": progress.FORMAT, "learner": "bo", "id": "b2", "exercise": "00.2", "ok": False,
         "time": "2026-12-01T10:06:00.000Z"},
    ]  # fmt: skip
    record = tmp_path / "room.jsonl"
    record.write_text("".join(json.dumps(line) + "\n" for line in lines) + "not json\n", encoding="utf-8")
    entries, problems = progress.read([record])
    assert problems == [f"{record}:4：已跳过，不是 JSON（该行已损坏或被截断）"]
    mine = progress.learner_report([e for e in entries if e.id == "a1"], ["00.1", "00.2"])
    assert mine.splitlines()[0] == "2 道练习中已通过 1 道；0 道尝试过但尚未通过。"
    assert mine.splitlines()[2].split() == ["练习", "结果", "尝试次数", "首次通过"]
    room = progress.room_report(entries, ["00.1", "00.2"])
    assert "卡住的人（尝试过、未通过）" in room and "最近一次结果" in room
    for text in (mine, room):
        assert not english_sentences(text), text


def test_readme_says_the_messages_follow_the_edition():
    for path in (ROOT / "README.md", ROOT / "translations" / "zh" / "README.md"):
        text = path.read_text(encoding="utf-8")
        assert "COURSE_LANG=zh" in text and "notebooks/zh/" in text, path.name
    assert "hints stay in English" not in (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_fields_of_every_format_message_are_its_keywords():
    """A formatted message's fields are named (the Chinese may reorder them) and match its .format() keywords:
    extract() reports a mismatch, so the catalogue test covers it; here, that every formatted message has fields."""
    found, problems = messages.extract()
    assert not problems
    formatted = [m for m in found if m.formatted]
    assert len(formatted) > 100
    for m in formatted:
        names = [name for _lit, name, _spec, _conv in string.Formatter().parse(m.msgid) if name is not None]
        assert names and all(re.fullmatch(r"[A-Za-z_]\w*", n) for n in names), m.msgid
