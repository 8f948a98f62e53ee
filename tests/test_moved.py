"""Helpers that moved keep their old import paths: same object, with a DeprecationWarning naming the new path.

One test per shim (course_utils._moved): learners' saved notebooks and Colab installs from ``main``
still say ``from course_utils.analysis import classification_metrics`` or ``cu.env.quiet()``.
"""

from __future__ import annotations

import importlib
import warnings

import pytest

import course_utils._moved as moved

#: old module -> {name: new dotted path}; every shim in the package.
SHIMS = {
    "course_utils.data": {
        "cache_dir": "course_utils.paths.cache_dir",
        "prefetched_data_dir": "course_utils.paths.prefetched_data_dir",
    },
    "course_utils.models": {"prefetch_dir": "course_utils.paths.prefetch_dir"},
    "course_utils.standins": {"standins_dir": "course_utils.paths.standins_dir"},
    "course_utils.analysis": {
        "classification_metrics": "course_utils.metrics.classification_metrics",
        "plot_confusion_matrix": "course_utils.plots.plot_confusion_matrix",
    },
    "course_utils.env": {
        "free_port": "course_utils.net.free_port",
        "quiet": "course_utils.logs.quiet",
        "show_warnings": "course_utils.logs.show_warnings",
    },
}
CASES = [(old, name, new) for old, names in SHIMS.items() for name, new in names.items()]


def _new_object(new: str):
    home, _, attr = new.rpartition(".")
    return getattr(importlib.import_module(home), attr)


def test_the_table_above_is_every_shim_in_the_package():
    for old, names in SHIMS.items():
        assert importlib.import_module(old)._MOVED == names


@pytest.mark.parametrize(("old", "name", "new"), CASES, ids=[f"{o}.{n}" for o, n, _ in CASES])
def test_the_old_attribute_path_warns_and_gives_the_same_object(old, name, new):
    module = importlib.import_module(old)
    assert name not in vars(module), "defined in the old module again: its shim never runs"
    assert _new_object(new).__module__ == new.rpartition(".")[0], "the new home must define it, not re-export it"
    with pytest.warns(DeprecationWarning, match=rf"{old}\.{name} has moved to {new}\b") as caught:
        obj = getattr(module, name)
    assert obj is _new_object(new)
    assert caught[0].filename == __file__, "the warning must point at the line that used the old path"


@pytest.mark.parametrize(("old", "name", "new"), CASES, ids=[f"{o}.{n}" for o, n, _ in CASES])
def test_the_old_from_import_warns_and_gives_the_same_object(old, name, new):
    namespace: dict = {}
    with pytest.warns(DeprecationWarning, match=new):
        exec(f"from {old} import {name}", namespace)
    assert namespace[name] is _new_object(new)


def test_a_name_that_never_lived_there_is_an_attribute_error_without_a_warning():
    import course_utils.analysis as analysis
    import course_utils.data as data

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(AttributeError, match="'course_utils.data' has no attribute 'cache_folder'"):
            data.cache_folder  # noqa: B018
        with pytest.raises(ImportError):
            exec("from course_utils.analysis import confusion_matrix", {})
        assert not hasattr(analysis, "plots")
    with pytest.raises(AttributeError):
        moved.attribute("m", "x", {"y": "course_utils.paths.cache_dir"})


def test_the_package_level_names_are_the_new_homes_and_do_not_warn():
    import course_utils as cu

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cu.cache_dir is _new_object("course_utils.paths.cache_dir")
        assert cu.show_warnings is _new_object("course_utils.logs.show_warnings")
