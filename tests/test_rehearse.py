"""tools/rehearse.py: the outputs that must agree on both branches, compared after an online run.

Synthetic notebooks stand in for the stored offline run and the online run; no mirror, no kernel.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import rehearse  # noqa: E402

NAME = "notebooks/42_demo.ipynb"
PATTERNS = rehearse.sanitizers()


def _stdout(text: str):
    return nbformat.v4.new_output("stream", name="stdout", text=text)


def _cell(
    source: str,
    outputs: list,
    tags: list[str] | None = None,
    count: int | None = 1,
    cell_id: str = "42-002",
    checked: bool = True,
):
    """A code cell; ``checked`` adds the tag nbval reads (the rehearsal compares only such cells)."""
    cell = nbformat.v4.new_code_cell(source, id=cell_id)
    cell.outputs, cell.execution_count = outputs, count
    if tags is not None or checked:
        cell.metadata["tags"] = ([rehearse.CHECK_TAG] if checked else []) + list(tags or [])
    return cell


def _notebook(*cells) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# 42 · Demo", id="42-000"), *cells]
    return nb


CHECKED = "print(len(train), train.features['label'].names)"


def _compare(stored_outputs, online_outputs, tags=("same-online",), expected=None, source=CHECKED):
    stored = _notebook(_cell(source, stored_outputs, list(tags)))
    online = _notebook(_cell(source, online_outputs, list(tags)))
    return rehearse.compare_online(stored, online, NAME, expected or {}, PATTERNS)


def test_an_equal_tagged_output_passes_and_is_counted():
    out = [_stdout("16000 ['sadness', 'joy']\n")]
    result = _compare(out, [_stdout("16000 ['sadness', 'joy']\n")])
    assert result == {"same_online": 1, "online_expected": 0, "compared": 1, "differ": [], "not_run": []}


def test_a_changed_output_fails_with_a_diff():
    result = _compare([_stdout("16000 ['sadness', 'joy']\n")], [_stdout("15999 ['sadness', 'joy']\n")])
    [difference] = result["differ"]
    assert (difference["cell"], difference["id"], difference["tag"]) == (1, "42-002", "same-online")
    assert "--- stored offline run" in difference["diff"] and "+++ online run" in difference["diff"]
    assert "-16000 ['sadness', 'joy']" in difference["diff"] and "+15999 ['sadness', 'joy']" in difference["diff"]


def test_a_missing_or_extra_output_field_fails():
    """As in nbval: an execute_result where the offline run printed, or nothing at all, is a difference."""
    stored = [_stdout("True\n")]
    result = _compare(stored, [nbformat.v4.new_output("execute_result", data={"text/plain": "True"})])
    assert "-[stdout]" in result["differ"][0]["diff"] and "+[text/plain]" in result["differ"][0]["diff"]
    assert _compare(stored, [])["differ"]


def test_differences_the_sanitizers_remove_pass():
    """notebooks/sanitize.cfg applies to both sides, as nbval applies it offline (timings, addresses)."""
    stored = [_stdout("took 3.2 s | object at 0x7f3a2b1c4d50\n")]
    online = [_stdout("took 41.07 s | object at 0x55d0e4a1b2c3\n")]
    assert _compare(stored, online)["differ"] == []
    assert _compare(stored, [_stdout("took 41.07 s | object at 0x55d0e4a1b2c3!\n")])["differ"]


def test_streams_are_coalesced_and_stderr_is_not_compared_online():
    """Split stdout chunks, carriage-return progress and download bars on stderr are no difference."""
    stored = [_stdout("a\nb\n")]
    online = [
        nbformat.v4.new_output("stream", name="stderr", text="Downloading data: 100%|##########| 1/1\n"),
        _stdout("a\n"),
        _stdout("x\rb\n"),
    ]
    assert _compare(stored, online)["differ"] == []


def test_images_are_not_compared_but_their_text_is():
    def figure(text, png):
        return nbformat.v4.new_output("display_data", data={"text/plain": text, "image/png": png})

    assert _compare([figure("<Figure>", "AAAA")], [figure("<Figure>", "BBBB")])["differ"] == []
    assert _compare([figure("<Figure>", "AAAA")], [figure("<Figure 2>", "AAAA")])["differ"]


EXPECTED_SOURCE = "print(type(config).__name__, config.hidden_size)"
ENTRY = {
    "cell": "print(type(config).__name__, config.hidden_size)",
    "why": "distilbert-base-uncased's config.json: dim 768",
    "stdout": "DistilBertConfig 768\n",
}


def test_an_online_expected_value_is_used_instead_of_the_offline_output():
    stored = [_stdout("BertConfig 384\n")]  # the stand-in's, offline
    expected = {NAME: {"42-002": ENTRY}}
    kwargs = dict(tags=("online-expected",), expected=expected, source=EXPECTED_SOURCE)
    result = _compare(stored, [_stdout("DistilBertConfig 768\n")], **kwargs)
    assert result["differ"] == [] and (result["online_expected"], result["same_online"], result["compared"]) == (
        1,
        0,
        1,
    )
    [difference] = _compare(stored, [_stdout("BertConfig 384\n")], **kwargs)["differ"]
    assert difference["tag"] == "online-expected"
    assert "--- expected online (online_expected.json)" in difference["diff"]
    assert "-DistilBertConfig 768" in difference["diff"] and "+BertConfig 384" in difference["diff"]


def test_an_expected_value_may_hold_several_fields_and_is_sanitized():
    entry = dict(ENTRY, stdout="DistilBertConfig 768 in 1.0 s\n", **{"text/plain": ["0"]})
    expected = {NAME: {"42-002": entry}}
    online = [
        _stdout("DistilBertConfig 768 in 2.5 s\n"),
        nbformat.v4.new_output("execute_result", data={"text/plain": "0"}),
    ]
    result = _compare([], online, tags=("online-expected",), expected=expected, source=EXPECTED_SOURCE)
    assert result["differ"] == []


def test_tagged_cells_the_run_never_reached_are_listed_not_compared():
    stored = _notebook(_cell(CHECKED, [_stdout("1\n")], ["same-online"]))
    online = _notebook(_cell(CHECKED, [], ["same-online"], count=None))
    result = rehearse.compare_online(stored, online, NAME, {}, PATTERNS)
    assert (result["compared"], result["not_run"], result["differ"]) == (0, [1], [])


def test_untagged_cells_are_not_compared():
    stored = _notebook(_cell(CHECKED, [_stdout("BertModel\n")]))
    online = _notebook(_cell(CHECKED, [_stdout("DistilBertModel\n")]))
    assert rehearse.compare_online(stored, online, NAME, {}, PATTERNS)["compared"] == 0


@pytest.mark.parametrize(
    ("cells", "expected", "problem"),
    [
        ([_cell("print(1)", [_stdout("1\n")], ["same-online"], checked=False)], {}, "not a nbval-check-output cell"),
        ([_cell(CHECKED, [], ["same-online"])], {}, "stores no output"),
        ([_cell(CHECKED, [_stdout("1\n")], ["same-online", "online-expected"])], {}, "tagged both"),
        ([_cell(EXPECTED_SOURCE, [], ["online-expected"])], {}, "has no entry in online_expected.json"),
        (
            [_cell(EXPECTED_SOURCE, [], ["online-expected"])],
            {NAME: {"42-002": dict(ENTRY, cell="print(something_else)")}},
            "did the ids move?",
        ),
        (
            [_cell(EXPECTED_SOURCE, [], ["online-expected"])],
            {NAME: {"42-002": {"cell": ENTRY["cell"], "stdout": "x\n"}}},
            "needs a 'why'",
        ),
        ([_cell(EXPECTED_SOURCE, [], None)], {NAME: {"42-002": ENTRY}}, "which is not tagged online-expected"),
    ],
)
def test_misplaced_tags_and_stale_entries_are_named(cells, expected, problem):
    problems = rehearse.marker_problems(_notebook(*cells), NAME, expected)
    assert any(problem in found for found in problems) and all(NAME in found for found in problems), problems


def test_a_marker_problem_stops_the_rehearsal_before_the_mirror(tmp_path, monkeypatch):
    path = tmp_path / "42_demo.ipynb"
    nbformat.write(_notebook(_cell("print(1)", [_stdout("1\n")], ["same-online"], checked=False)), path)
    monkeypatch.setattr(rehearse.hub_mirror, "build", lambda: pytest.fail("the mirror was built"))
    with pytest.raises(RuntimeError, match="not marked right"):
        rehearse.rehearse("online", [path])


def test_a_difference_fails_the_notebook_and_is_recorded(tmp_path, monkeypatch, capsys):
    """_run_one: a run whose cells all pass but whose compared output differs fails, and the JSON says why."""
    path = tmp_path / "42_demo.ipynb"
    nbformat.write(
        _notebook(
            _cell(CHECKED, [_stdout("16000\n")], ["same-online"]),
            _cell(EXPECTED_SOURCE, [_stdout("BertConfig 384\n")], ["online-expected"], count=2, cell_id="42-003"),
        ),
        path,
    )

    def fake_run(nb_path, env, out_dir, online):
        nb = nbformat.read(nb_path, as_version=4)
        for cell, text in zip(nb.cells[1:], online):
            cell.outputs = [_stdout(text)]
        out_dir.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, out_dir / nb_path.name)
        return True, "ok"

    expected = {path.name: {"42-003": ENTRY}}
    monkeypatch.setattr(
        rehearse, "run_notebook", lambda p, e, o: fake_run(p, e, o, ["16000\n", "DistilBertConfig 768\n"])
    )
    record = rehearse._run_one(path, {}, tmp_path / "work", expected, PATTERNS)
    assert record["ok"] and record["outputs_compared"] == 2
    assert (record["outputs_compared_with_offline"], record["outputs_compared_with_expected"]) == (1, 1)

    monkeypatch.setattr(
        rehearse, "run_notebook", lambda p, e, o: fake_run(p, e, o, ["15999\n", "DistilBertConfig 768\n"])
    )
    record = rehearse._run_one(path, {}, tmp_path / "work", expected, PATTERNS)
    assert not record["ok"] and record["message"] == "1 compared output(s) differ: cell 1 (42-002)"
    assert [d["id"] for d in record["outputs_that_differ"]] == ["42-002"]
    json.dumps(record)  # what build/rehearsal/<mode>.json holds
    out = capsys.readouterr().out
    assert "cell 1 (42-002, same-online): the output differs" in out and "    -16000" in out


def test_the_sanitizers_are_nbvals():
    """The rehearsal reads the file `make test-notebooks` gives nbval, with nbval's own parser."""
    makefile = (ROOT / "Makefile").read_text()
    assert f"--nbval-sanitize-with {rehearse.SANITIZE_FILE.relative_to(ROOT).as_posix()}" in makefile
    assert PATTERNS and all(re.compile(regex) for regex, _ in PATTERNS)


STORED = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")) + sorted(
    (ROOT / "notebooks" / "solutions").glob("[0-9][0-9]_*.ipynb")
)


@pytest.mark.parametrize("path", STORED, ids=lambda p: p.relative_to(ROOT / "notebooks").as_posix())
def test_the_course_notebooks_are_marked_right(path):
    """Every tagged cell is a checked cell; online_expected.json matches the tagged cells, by id and first line."""
    nb = nbformat.read(path, as_version=4)
    assert rehearse.marker_problems(nb, rehearse._name(path), rehearse.load_expected()) == []


def test_every_online_expected_entry_names_a_notebook():
    names = {rehearse._name(p) for p in STORED}
    assert set(rehearse.load_expected()) <= names


def test_cells_after_a_failure_are_not_compared_with_their_stored_output(tmp_path):
    """run_notebook clears the stored outputs first: a tagged cell the run never reached is listed, not passed."""
    path = tmp_path / "42_demo.ipynb"
    nbformat.write(
        _notebook(
            _cell("raise ValueError('stop')", [], count=1, cell_id="42-001"),
            _cell(
                CHECKED.replace("print(len(train), train.features['label'].names)", "print(1)"),
                [_stdout("1\n")],
                ["same-online"],
                count=2,
                cell_id="42-002",
            ),
        ),
        path,
    )
    ok, message = rehearse.run_notebook(path, dict(os.environ), tmp_path / "out", timeout=60)
    assert not ok and "ValueError: stop" in message
    executed = nbformat.read(tmp_path / "out" / path.name, as_version=4)
    assert executed.cells[2].execution_count is None and executed.cells[2].outputs == []
    result = rehearse.compare_online(nbformat.read(path, as_version=4), executed, NAME, {}, PATTERNS)
    assert (result["compared"], result["not_run"]) == (0, [2])
