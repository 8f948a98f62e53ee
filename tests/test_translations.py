"""The Chinese edition (tools/translate.py): complete, current, built from the English run, consistent in its terms."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import translate  # noqa: E402

DOCS = translate.documents()
NOTEBOOK_DOCS = [d for d in DOCS if d.is_notebook]


def _id(doc: translate.Document) -> str:
    return doc.english.relative_to(ROOT).as_posix()


def test_every_english_document_has_a_chinese_edition():
    chapters = sorted(ROOT.glob("notebooks/[0-9][0-9]_*.ipynb")) + sorted(ROOT.glob("notebooks/solutions/[0-9]*.ipynb"))
    assert [d.english for d in NOTEBOOK_DOCS] == chapters and len(chapters) == 22
    assert {d.english.name for d in DOCS if not d.is_notebook} == {"README.md", "INSTRUCTOR.md"}
    for doc in DOCS:
        assert doc.translation.is_file(), f"{_id(doc)} has no translation file {doc.translation.relative_to(ROOT)}"


@pytest.mark.parametrize("doc", DOCS, ids=_id)
def test_translation_is_complete_and_current(doc):
    problems = translate.problems(doc)
    assert not problems, "\n".join(map(str, problems)) + "\nsee translations/README.md, 'After an English change'"


@pytest.mark.parametrize("doc", DOCS, ids=_id)
def test_chinese_edition_is_the_build_of_the_current_english(doc):
    assert doc.chinese.is_file(), f"{doc.chinese.relative_to(ROOT)} is missing: run `make zh`"
    assert doc.chinese.read_text(encoding="utf-8") == translate.render(doc), (
        f"{doc.chinese.relative_to(ROOT)} is out of date: run `make zh`"
    )


def _directives(source: str) -> list[str]:
    return [line.strip() for line in source.splitlines() if translate.DIRECTIVE.match(line.strip())]


@pytest.mark.parametrize("doc", NOTEBOOK_DOCS, ids=_id)
def test_code_outputs_and_ids_are_the_english_ones(doc):
    en = nbformat.read(doc.english, as_version=4)
    zh = nbformat.read(doc.chinese, as_version=4)
    assert [(c.id, c.cell_type) for c in zh.cells] == [(c.id, c.cell_type) for c in en.cells]
    assert zh.metadata == en.metadata
    for a, b in zip(en.cells, zh.cells):
        if a.cell_type != "code":
            assert translate.CJK.search(b.source), f"{doc.chinese.name} {b.id}: markdown without Chinese"
            continue
        assert translate.strip_comments(b.source) == translate.strip_comments(a.source), f"{b.id}: code differs"
        assert _directives(b.source) == _directives(a.source), f"{b.id}: a tool directive (# NBVAL_...) changed"
        assert b.outputs == a.outputs and b.execution_count == a.execution_count and b.metadata == a.metadata


def test_links_point_to_the_chinese_edition_or_resolve():
    link = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")
    for doc in DOCS:
        if doc.is_notebook:
            cells = nbformat.read(doc.chinese, as_version=4).cells
            text = "\n".join(c.source for c in cells if c.cell_type == "markdown")
        else:
            text = doc.chinese.read_text(encoding="utf-8")
        for target in link.findall(translate.CODE_SPAN.sub("", text)):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):
                continue
            resolved = (doc.chinese.parent / target).resolve()
            assert resolved.exists(), f"{doc.chinese.relative_to(ROOT)} links to {target}, which does not exist"
            english = resolved.relative_to(ROOT).as_posix()
            assert not (english.startswith("notebooks/") and english.endswith(".ipynb") and "/zh/" not in english), (
                f"{doc.chinese.relative_to(ROOT)} links to the English notebook {target}"
            )


_MARKDOWN = None


def structure(text: str) -> list[str]:
    """The shape of Markdown ``text``, its words left out: one entry per block, in order.

    A block is a heading with its level (``h2``), a paragraph, a list or list item (``ul``, ``ol``,
    ``li``), a table, row and cell, a block quote, fenced code (with its language), display math (with
    its formula), a rule or HTML. Each entry carries, sorted (a sentence may reorder them), the
    block's code spans, link and image targets and inline math: what a translation keeps as it is.
    """
    global _MARKDOWN
    if _MARKDOWN is None:
        from markdown_it import MarkdownIt
        from mdit_py_plugins.dollarmath import dollarmath_plugin

        _MARKDOWN = MarkdownIt("commonmark").enable("table").use(dollarmath_plugin)
    out: list[str] = []
    for tok in _MARKDOWN.parse(text):
        if tok.type == "inline":
            items = []
            for child in tok.children or []:
                if child.type == "code_inline":
                    items.append(f"code `{child.content}`")
                elif child.type == "link_open":
                    items.append(f"link {child.attrs['href']}")
                elif child.type == "image":
                    items.append(f"image {child.attrs['src']}")
                elif child.type.startswith("math_inline"):
                    items.append(f"math ${child.content}$")
            if items:
                out[-1] += " [" + ", ".join(sorted(items)) + "]"
        elif tok.nesting == 1:
            out.append(tok.tag)
        elif tok.type == "fence":
            out.append(f"fence {tok.info}".strip())
        elif tok.type == "math_block":
            out.append(f"math $${tok.content.strip()}$$")
        elif tok.nesting == 0:
            out.append(tok.type)
    return out


def _structure_diff(english: str, chinese: str) -> str:
    import difflib

    a, b = structure(english), structure(chinese)
    if a == b:
        return ""
    return "\n".join(difflib.unified_diff(a, b, "English", "Chinese", lineterm="", n=1))


@pytest.mark.parametrize("doc", DOCS, ids=_id)
def test_markdown_has_the_structure_of_the_english(doc):
    """Each Chinese markdown cell (or document) has its English's headings, lists, tables, code spans, links and math."""
    failed = []
    if doc.is_notebook:
        en = nbformat.read(doc.english, as_version=4)
        zh = nbformat.read(doc.chinese, as_version=4)
        for i, (a, b) in enumerate(zip(en.cells, zh.cells)):
            if a.cell_type != "markdown":
                continue
            english, chinese = translate.relink(a.source, doc.english, doc.chinese), b.source
            if i == 0:
                english = english.removesuffix(translate.authoring.colab_badge(_id(doc)))
                chinese = chinese.removesuffix(
                    translate.authoring.colab_badge(doc.chinese.relative_to(ROOT).as_posix())
                )
            diff = _structure_diff(english, chinese)
            if diff:
                failed.append(f"{b.id}:\n{diff}")
    else:
        english = translate.relink(doc.english_text(), doc.english, doc.chinese)
        english = english.replace(f"]({doc.chinese.name})", f"]({doc.english.name})")  # "中文版" <-> "English"
        chinese = doc.chinese.read_text(encoding="utf-8").split("\n\n", 1)[1].removesuffix(translate.README_TAIL + "\n")
        diff = _structure_diff(english, chinese)
        if diff:
            failed.append(diff)
    assert not failed, (
        f"{len(failed)} markdown cell(s) of {doc.chinese.relative_to(ROOT)} differ in shape:\n" + "\n".join(failed)
    )


def test_the_shape_test_sees_a_heading_that_swallowed_its_paragraph():
    english = "## Setup\nEvery notebook starts with `setup()`.\n\n- [one](a.ipynb)\n- $x^2$"
    assert structure("## 准备工作\n每个笔记本都以 `setup()` 开头。\n\n- [一](a.ipynb)\n- $x^2$") == structure(english)
    assert _structure_diff(english, "## 准备工作每个笔记本都以 `setup()` 开头。\n\n- [一](a.ipynb)\n- $x^2$")
    assert _structure_diff(english, "## 准备工作\n每个笔记本都以 setup() 开头。\n\n- [一](a.ipynb)\n- $x^2$")
    assert _structure_diff(english, "## 准备工作\n每个笔记本都以 `setup()` 开头。\n\n- [一](b.ipynb)\n- $x^2$")


@pytest.mark.parametrize("doc", [d for d in DOCS if not d.is_notebook], ids=_id)
def test_fenced_code_in_documents_keeps_its_code_and_translates_its_comments(doc):
    def fences(text: str) -> list[str]:
        return [b for b in translate.blocks(text) if b.startswith("```")]

    english = fences(translate._neutral_doc(doc.english_text()))
    chinese = fences(doc.chinese.read_text(encoding="utf-8"))
    assert len(chinese) == len(english)
    for a, b in zip(english, chinese):
        found = translate.fence_comments(a)
        lines = a.splitlines()
        for row, col, _ in found:
            lines[row] = lines[row][:col].rstrip()
        code = [line.rstrip() for line in b.splitlines()]
        for row, col, _ in found:
            assert translate.CJK.search(code[row][col:]), f"{doc.chinese.name}: comment not translated: {code[row]}"
            code[row] = code[row][:col].rstrip()
        assert code == [line.rstrip() for line in lines], f"{doc.chinese.name}: the code of a fenced block changed"


def test_fence_comments_skip_quotes_and_urls():
    block = "```bash\nexport A=x   # one\necho '# not' \"#no\"  # two\ncurl https://x/#anchor\n# three\n```"
    assert [t for _, _, t in translate.fence_comments(block)] == ["# one", "# two", "# three"]
    out = translate.with_comments(block, ["# 一", "# 二", "# 三"], fenced=True)
    assert out.splitlines()[1] == "export A=x   # 一" and out.splitlines()[4] == "# 三"


def test_badges_open_the_chinese_notebooks():
    for doc in NOTEBOOK_DOCS:
        first = nbformat.read(doc.chinese, as_version=4).cells[0].source
        assert first.endswith(translate.authoring.colab_badge(doc.chinese.relative_to(ROOT).as_posix()))


# ------------------------------------------------------------------ staleness, on a scratch copy


@pytest.fixture
def scratch(tmp_path):
    """A copy of notebook 00, its translation and Chinese edition, as a Document outside the repository."""
    doc = next(d for d in NOTEBOOK_DOCS if d.english.name.startswith("00_"))
    copy = translate.Document(
        tmp_path / doc.english.name,
        tmp_path / "translation.md",
        tmp_path / "zh.ipynb",
        repo_path=doc.english.relative_to(ROOT).as_posix(),
    )
    shutil.copy(doc.english, copy.english)
    shutil.copy(doc.translation, copy.translation)
    assert translate.problems(copy) == []
    return copy


def _edit(doc, index: int, change) -> str:
    nb = nbformat.read(doc.english, as_version=4)
    nb.cells[index].source = change(nb.cells[index].source)
    nbformat.write(nb, doc.english)
    return nb.cells[index].id


def _first(doc, kind: str) -> int:
    nb = nbformat.read(doc.english, as_version=4)
    return next(
        i
        for i, c in enumerate(nb.cells)
        if i > 1
        and (
            c.cell_type == "markdown" if kind == "markdown" else c.cell_type == "code" and translate.comments(c.source)
        )
    )


def test_one_changed_english_cell_makes_exactly_its_unit_stale(scratch):
    key = _edit(scratch, _first(scratch, "markdown"), lambda s: s.replace(" ", "  ", 1))
    problems = translate.problems(scratch)
    assert [(p.key, p.what) for p in problems] == [(key, "stale")]


def test_a_changed_comment_makes_its_unit_stale_and_changed_code_none(scratch):
    i = _first(scratch, "comments")
    _edit(scratch, i, lambda s: s + "\nx_new = 1  # a new comment")
    key = nbformat.read(scratch.english, as_version=4).cells[i].id
    assert [(p.key, p.what) for p in translate.problems(scratch)] == [(key, "stale"), (key, "invalid")]
    shutil.copy(next(d for d in NOTEBOOK_DOCS if d.english.name.startswith("00_")).english, scratch.english)
    _edit(scratch, i, lambda s: s + "\nx_new = 1")
    assert translate.problems(scratch) == [], "a code change that keeps the comments changes no unit"


def test_an_inserted_cell_is_missing_and_the_others_stay_current(scratch):
    nb = nbformat.read(scratch.english, as_version=4)
    new = nbformat.v4.new_markdown_cell("## A new section\nWith new English text.")
    new.id = "00-new"
    nb.cells.insert(3, new)
    nbformat.write(nb, scratch.english)
    assert [(p.key, p.what) for p in translate.problems(scratch)] == [("00-new", "missing")]
    assert translate.template(scratch) == 1
    assert [(p.key, p.what) for p in translate.problems(scratch)] == [("00-new", "untranslated")]


def test_stamp_records_the_updated_translation(scratch):
    key = _edit(scratch, _first(scratch, "markdown"), lambda s: s + "\n\nOne more sentence.")
    text = scratch.translation.read_text(encoding="utf-8")
    marker = next(m for m in translate.MARKER.finditer(text) if m["key"] == key)
    scratch.translation.write_text(text[: marker.end()] + "\n再多一句。" + text[marker.end() :], encoding="utf-8")
    assert [p.what for p in translate.problems(scratch)] == ["stale"], "editing the text alone does not clear it"
    translate.stamp(scratch, [key])
    assert translate.problems(scratch) == []
    with pytest.raises(ValueError, match="keys must be units"):
        translate.stamp(scratch, ["00-999"])


def test_comments_are_replaced_in_place_and_directives_kept():
    source = "# NBVAL_CHECK_OUTPUT\nx = 1  # one\n%timeit x  # magic\ns = '# not a comment'\n# two"
    assert [c[2] for c in translate.comments(source)] == ["# one", "# two"]
    out = translate.with_comments(source, ["# 一", "# 二"])
    assert out == "# NBVAL_CHECK_OUTPUT\nx = 1  # 一\n%timeit x  # magic\ns = '# not a comment'\n# 二"
    assert translate.strip_comments(out) == translate.strip_comments(source)
    with pytest.raises(ValueError, match="2 comments"):
        translate.with_comments(source, ["# 一"])


def test_soft_breaks_between_chinese_characters_are_joined():
    assert translate.join_lines("第一行，\n第二行。\n- 列表\n  继续\n| 表 |\nEnglish\n中文") == (
        "第一行，第二行。\n- 列表继续\n| 表 |\nEnglish\n中文"
    )


def test_headings_tables_and_code_are_never_joined_to_the_next_line():
    text = "## 准备工作\n每个笔记本。\n### 小节（一）\n正文\n| 表 |\n中文\n```\n# 注释。\n代码\n```\n<summary>提示</summary>\n中文"
    assert translate.join_lines(text) == text


def test_run_times_come_from_the_timings_table():
    table = translate.timings.load()
    doc = next(d for d in DOCS if d.english.name == "INSTRUCTOR.md")
    text = doc.chinese.read_text(encoding="utf-8")
    assert translate.timings.fmt(translate.timings.seconds_of(table, "05")) in text
    assert "{run_time" not in text


# -------------------------------------------------------------------------------- the glossary

#: English terms that mean something else outside the notebooks that teach them; they are checked
#: only there (GLOSSARY.md's notebook column). Elsewhere: LoRA's rank is 秩, attention heads are
#: 头, "split" is also the verb 切分, a masked-LM head's `decoder` is a projection, `key`/`value`
#: are also a dict's, a training step is 步 but a "step" may be a stage, and streamed generation
#: is 流式输出; in 10 an embedding is a text's vector, 句向量 or 向量.
SCOPED = {"rank", "world size", "head", "split", "decoder", "key", "value", "step", "streaming", "embedding"}


#: (term, words of the English unit) where the term is translated by what it means there, with the reason.
EXCEPTIONS = {
    ("step", "How many examples one optimizer step sees"): "an update, 一次优化器更新, is the sense needed",
    ("split", "rare words split into several pieces"): "the verb, 切分",
    ("prompt", "no Drive mounts, no prompts"): "a dialog asking for input, 不弹出提示",
    ("kernel", "a convolution with a kernel of width 1"): "a convolution's kernel, 卷积核",
    ("cell", "its densest cells"): "a plot's hexagonal bins, 格子",
    ("attend", "attend per head"): "the step, computing attention: 计算注意力",
    ("attend", "attend, and merge back"): "the step, computing attention: 计算注意力",
}

#: Terms that English also uses for a neighbouring concept, with the Chinese of that sense: "every rank"
#: and "rank 0" are processes (每个进程, 0 号进程), where 进程序号 (the id) would be wrong.
OTHER_SENSE = {"rank": "进程"}

#: Renderings that GLOSSARY.md's term replaced: (pattern, an example). Where the English unit uses the
#: term, its Chinese must not use them outside code spans and parentheses, so that the term can be
#: defined once as logits（未归一化分数） or 池化层（pooler）. One concept, one word: a reader met
#: 未归一化分数 and logits, 注意 ("be careful") and 关注 for "attend", pooler and 池化层.
REJECTED = {
    "logits": (r"未归一化的?分数", "未归一化分数"),
    "attend": (r"注意(?!力)", "注意"),
    "pooler": (r"(?<![A-Za-z_])pooler(?![A-Za-z_])", "pooler"),
    "teacher forcing": (r"(?<![A-Za-z])teacher[- ]forc[a-z]*|教师强迫", "teacher forcing"),
    "kernel": (r"算子|(?<![A-Za-z_])kernels?(?![A-Za-z_])", "算子"),
    "cell": (r"(?<!运算)单元(?![格测])", "单元"),
}


def glossary() -> list[tuple[str, str, set[str]]]:
    """(English term, Chinese term, notebooks) for each pair GLOSSARY.md states one to one."""
    out = []
    for line in (ROOT / "GLOSSARY.md").read_text(encoding="utf-8").splitlines():
        cols = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cols) != 4 or cols[0] in ("English", "---") or set(cols[0]) <= {"-"}:
            continue
        english = re.split(r" / |, ", re.sub(r"\s*\(.*?\)", "", cols[0]))
        chinese = re.split(r" / |、", re.sub(r"（.*?）", "", cols[1]))
        if len(english) == len(chinese):
            notebooks = set(re.findall(r"\d\d", cols[3]))
            out += [(e.strip(), z.strip(), notebooks) for e, z in zip(english, chinese)]
    return out


def test_glossary_pairs_are_read():
    pairs = {e: z for e, z, _ in glossary()}
    assert pairs["tokenizer"] == "分词器" and pairs["fine-tuning"] == "微调" and len(pairs) > 60
    assert pairs["logits"] == "logits" and pairs["rank"] == "进程序号" and pairs["pooler"] == "池化层"
    assert set(REJECTED) <= set(pairs), "each rejected rendering belongs to a glossary term"


_CODE = re.compile(r"```.*?```|`[^`]*`|\]\([^)]*\)", re.S)


def term_problems(english: str, chinese: str, number: str = "", is_notebook: bool = True) -> list[str]:
    """What in ``chinese`` breaks GLOSSARY.md for the terms ``english`` uses: a missing term, a rejected rendering.

    ``number`` is the notebook's ("05"): the terms in :data:`SCOPED` are checked only in their notebooks.
    """
    english, chinese = re.sub(r"\s+", " ", _CODE.sub("", english)), _CODE.sub("", chinese)
    bare = re.sub(r"（[^（）]*）", "", chinese)  # definitions in parentheses are allowed a second word
    original, out = english, []
    for term, zh, notebooks in sorted(glossary(), key=lambda row: -len(row[0])):  # longest first
        pattern = re.compile(rf"\b{re.escape(term)}s?\b", re.I)
        used = pattern.search(english)
        english = pattern.sub(" ", english)  # "sentence embedding" is not also "embedding"
        if not used or (term.lower() in SCOPED and (not is_notebook or number not in notebooks)):
            continue
        if any(t == term and words in original for t, words in EXCEPTIONS):
            continue
        if zh not in chinese and not re.search(re.escape(term), chinese, re.I):
            if not (term in OTHER_SENSE and OTHER_SENSE[term] in chinese):
                out.append(f"'{term}' is {zh}")
        if term in REJECTED:
            found = re.search(REJECTED[term][0], bare, re.I)
            if found:
                out.append(f"'{term}' is {zh}, not {found[0]}")
    return out


def test_glossary_terms_are_used_consistently():
    """Where the English unit uses a glossary term, the Chinese uses its Chinese term (or keeps the English)
    and none of the renderings it replaced (:data:`REJECTED`)."""
    wrong = []
    for doc in DOCS:
        pairs, _ = translate.match(doc)
        for unit, entry in pairs:
            if entry is None or unit.kind == "comments":
                continue
            for problem in term_problems(unit.text, entry.text, doc.english.name[:2], doc.is_notebook):
                wrong.append(f"{doc.translation.relative_to(ROOT)} {unit.key}: {problem}")
    assert not wrong, "GLOSSARY.md's term not used:\n" + "\n".join(wrong)


@pytest.mark.parametrize("term", sorted(REJECTED))
def test_a_rejected_rendering_is_caught(term):
    pairs = {e: z for e, z, _ in glossary()}
    english = f"Here the {term} matters."
    assert term_problems(english, f"这里{pairs[term]}很重要。") == []
    assert term_problems(english, f"这里{pairs[term]}（{REJECTED[term][1]}）很重要。") == [], "a definition is allowed"
    problems = term_problems(english, f"这里{pairs[term]}很重要，{REJECTED[term][1]}也是。")
    assert problems == [f"'{term}' is {pairs[term]}, not {REJECTED[term][1]}"]


def test_a_rejected_rendering_planted_in_a_translation_fails(scratch):
    """Planting 注意 for "attend" in notebook 00's translation is caught, unit by unit."""
    text = scratch.translation.read_text(encoding="utf-8")
    pairs, _ = translate.match(scratch)
    attend = [
        u.key for u, e in pairs if u.kind != "comments" and re.search(r"\battends?\b", u.text) and "关注" in e.text
    ]
    assert attend, "notebook 00 says 'attend' somewhere"
    scratch.translation.write_text(text.replace("关注", "注意"), encoding="utf-8")
    flagged = set()
    for unit, entry in translate.match(scratch)[0]:
        if unit.kind != "comments" and term_problems(unit.text, entry.text, "00"):
            flagged.add(unit.key)
    assert set(attend) <= flagged


def test_a_chinese_deck_builds(tmp_path):
    import build_slides

    doc = NOTEBOOK_DOCS[0]
    deck = build_slides.convert(build_slides.make_exporter(), doc.chinese, tmp_path)
    title = nbformat.read(doc.chinese, as_version=4).cells[0].source.splitlines()[0].removeprefix("# ")
    assert deck.name == doc.chinese.name.replace(".ipynb", ".slides.html")
    assert title in deck.read_text(encoding="utf-8") and translate.CJK.search(title)


def test_status_show_finds_the_english_then_for_a_copy_outside_the_repository(tmp_path):
    """``english_then`` reads git history by the document's repository path, so a scratch copy finds it too."""
    import subprocess

    committed = subprocess.run(["git", "show", "HEAD:INSTRUCTOR.md"], cwd=ROOT, capture_output=True, text=True)
    assert committed.returncode == 0, committed.stderr
    (tmp_path / "INSTRUCTOR.md").write_text(committed.stdout, encoding="utf-8")
    copy = translate.Document(tmp_path / "INSTRUCTOR.md", tmp_path / "t.md", tmp_path / "zh.md", "INSTRUCTOR.md")
    unit = copy.units()[0]
    assert translate.english_then(copy, unit.sha, commits=1) == unit.text
    assert translate.english_then(copy, "0" * len(unit.sha), commits=1) is None  # a text no commit had
    unnamed = copy._replace(repo_path="")  # without its repository path the copy has no history
    assert translate.english_then(unnamed, unit.sha, commits=1) is None
