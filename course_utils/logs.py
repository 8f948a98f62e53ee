"""Logs, warnings and progress bars: what :func:`course_utils.setup` silences, and how to see it again.

- :func:`quiet`: the libraries' loading noise off for the session (:func:`~course_utils.setup` calls it);
- :func:`show_warnings`: ``with cu.show_warnings(): ...`` shows it again for one block.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator
from types import ModuleType
from typing import Any


def quiet() -> None:
    """Silence loading noise that does not teach.

    Precisely: the ``transformers`` and ``datasets`` loggers are set to ERROR (their warnings,
    among them transformers' LOAD REPORT of missing/unexpected/newly initialised weights, and
    their info messages are dropped; errors still print); the progress bars of transformers and
    huggingface_hub (weight loading, downloads) are switched off; a Python warnings filter hides
    tqdm's "IProgress not found"; ``TOKENIZERS_PARALLELISM`` is set to ``false`` unless already
    set (no fork warning from tokenizers).

    Not silenced: Python warnings (``FutureWarning``, ``DeprecationWarning``...) that the libraries
    raise with ``warnings.warn``, errors, huggingface_hub's logging, and the progress bars of
    ``Trainer`` and ``Dataset.map``. :func:`show_warnings` undoes all of the above but
    ``TOKENIZERS_PARALLELISM`` for one block.

    Course plumbing: not taught.
    """
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # Without ipywidgets, tqdm.auto warns (with a file path) that it falls back to text bars: fine.
    warnings.filterwarnings("ignore", message="IProgress not found")
    logging.getLogger("transformers").setLevel(logging.ERROR)
    try:
        import transformers

        transformers.utils.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
    except ImportError:
        pass
    try:
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
    except ImportError:
        pass
    try:
        import datasets

        datasets.logging.set_verbosity_error()
    except ImportError:
        pass


def show_warnings(progress_bars: bool = True) -> contextlib.AbstractContextManager[None]:
    """Inside ``with cu.show_warnings(): ...``, see what :func:`setup` hides; afterwards it is hidden again.

    For the block: transformers and datasets log at WARNING (their default; a more verbose level
    you set stays), transformers' "print
    once" warnings are shown again even if they were already emitted while hidden, Python
    warnings are shown once per code location (``"default"`` action, which also overrides the
    ``ignore`` filters of :func:`quiet` and of the notebook), and, with ``progress_bars=True``, the
    progress bars of transformers and huggingface_hub are on (unless ``HF_HUB_DISABLE_PROGRESS_BARS=1``
    forbids them). On exit, even after an exception, every one of these settings gets back the
    value it had on entry. ``TOKENIZERS_PARALLELISM`` is left as it is.

    Taught in: 04 Datasets, "`map`: one example or a batch at a time".
    """
    if not isinstance(progress_bars, bool):
        raise ValueError(f"progress_bars must be True or False, got {progress_bars!r}")
    return _shown_warnings(progress_bars)


@contextlib.contextmanager
def _shown_warnings(progress_bars: bool) -> Iterator[None]:
    with contextlib.ExitStack() as restore, warnings.catch_warnings():
        warnings.simplefilter("default")  # every warning, once per location (catch_warnings restores the filters)
        tf_logging: ModuleType | None
        try:
            import transformers.utils.logging as tf_logging
        except ImportError:
            tf_logging = None
        if tf_logging is not None:
            restore.callback(tf_logging.set_verbosity, tf_logging.get_verbosity())
            if tf_logging.get_verbosity() > logging.WARNING:  # keep INFO or DEBUG if the learner chose them
                tf_logging.set_verbosity_warning()
            once = getattr(logging.Logger, "warning_once", None)
            if once is not None and hasattr(once, "cache_clear"):
                once.cache_clear()  # messages already "printed once" while hidden come back
        try:
            import datasets
        except ImportError:
            pass
        else:
            restore.callback(datasets.logging.set_verbosity, datasets.logging.get_verbosity())
            if datasets.logging.get_verbosity() > logging.WARNING:
                datasets.logging.set_verbosity_warning()
        if progress_bars:
            _enable_progress_bars(restore, tf_logging)
        yield


def _enable_progress_bars(restore: contextlib.ExitStack, tf_logging: Any) -> None:
    """Switch transformers' and huggingface_hub's bars on; register how to put them back."""
    try:
        from huggingface_hub import constants
        from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars
    except ImportError:
        return
    if constants.HF_HUB_DISABLE_PROGRESS_BARS is True:  # the environment variable wins; enabling would only warn
        return
    hub_was_disabled = are_progress_bars_disabled()
    tf_was_enabled = tf_logging.is_progress_bar_enabled() if tf_logging is not None else None

    def put_back() -> None:
        if tf_logging is not None:  # transformers' switch also flips huggingface_hub's: set it first
            (tf_logging.enable_progress_bar if tf_was_enabled else tf_logging.disable_progress_bar)()
        (disable_progress_bars if hub_was_disabled else enable_progress_bars)()

    restore.callback(put_back)
    if tf_logging is not None:
        tf_logging.enable_progress_bar()
    enable_progress_bars()
