"""course_utils.data: emotion loading order, bad inputs, cache folder."""

from __future__ import annotations

import json

import pytest

import course_utils as cu
from course_utils import data, paths


def _write_split_files(root, rows=3):
    folder = root / "emotion"
    folder.mkdir(parents=True)
    for split in data.EMOTION_SPLITS:
        with (folder / f"{split}.jsonl").open("w") as fh:
            for i in range(rows):
                fh.write(json.dumps({"text": f"{split} text {i}", "label": i % 6}) + "\n")


@pytest.fixture
def shared_data(monkeypatch):
    import os

    root = os.environ.get("COURSE_DATA_DIR")
    if not root:
        pytest.fail("COURSE_DATA_DIR must point at the emotion mirror (make test sets it)")
    return root


def test_emotion_sizes_and_labels(shared_data):
    ds = cu.load_emotion()
    assert {k: ds[k].num_rows for k in ds} == {"train": 16_000, "validation": 2_000, "test": 2_000}
    assert ds["train"].features["label"].names == ["sadness", "joy", "love", "anger", "fear", "surprise"]
    assert ds["validation"].features["label"].int2str(4) == "fear"


def test_one_split(shared_data):
    val = cu.load_emotion("validation")
    assert val.num_rows == 2_000 and set(val.column_names) == {"text", "label"}


def test_wrong_split_is_rejected():
    with pytest.raises(ValueError, match="split must be one of"):
        cu.load_emotion("valid")


def test_missing_data_folder_names_the_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError) as err:
        cu.load_emotion()
    assert "COURSE_DATA_DIR" in str(err.value) and "train" in str(err.value)


def test_offline_without_data_says_what_to_do(monkeypatch, tmp_path):
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(RuntimeError) as err:
        cu.load_emotion()
    assert "COURSE_DATA_DIR" in str(err.value) and "make prefetch" in str(err.value)


def test_offline_falls_back_to_prefetched_copy(monkeypatch, tmp_path):
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    _write_split_files(tmp_path / "data")
    ds = cu.load_emotion()
    assert ds["test"][2] == {"text": "test text 2", "label": 2}


def test_cache_dir_honours_env(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "c"))
    assert cu.cache_dir() == tmp_path / "c" and (tmp_path / "c").is_dir()


def test_prefetch_offline_explains_itself(monkeypatch, tmp_path):
    from course_utils import prefetch

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(RuntimeError, match="prefetch needs the Hub"):
        prefetch.fetch_checkpoints()
    with pytest.raises(RuntimeError, match="COURSE_DATA_DIR"):
        prefetch.fetch_emotion(tmp_path)
    _write_split_files(tmp_path)  # already there: nothing to download, no error
    assert prefetch.fetch_emotion(tmp_path) == tmp_path


def test_emotion_revision_is_pinned_unless_overridden(monkeypatch):
    from course_utils import data

    monkeypatch.delenv("COURSE_EMOTION_REVISION", raising=False)
    assert data.emotion_revision() == data.EMOTION_REVISION and len(data.EMOTION_REVISION) == 40
    monkeypatch.setenv("COURSE_EMOTION_REVISION", " main ")
    assert data.emotion_revision() == "main"
    monkeypatch.setenv("COURSE_EMOTION_REVISION", "")
    assert data.emotion_revision() == data.EMOTION_REVISION


def test_prefetch_and_load_emotion_agree_on_the_folder(monkeypatch, tmp_path):
    from course_utils import prefetch

    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert paths.prefetched_data_dir() == tmp_path / "data"
    assert paths.prefetched_data_dir(tmp_path / "bundle") == tmp_path / "bundle" / "data"
    assert not data.emotion_files_present(paths.prefetched_data_dir())
    _write_split_files(paths.prefetched_data_dir(), rows=1)
    assert data.emotion_files_present(tmp_path / "data")
    assert prefetch.fetch_emotion() == tmp_path / "data"  # found where the default looks: nothing to download
