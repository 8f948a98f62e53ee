"""Old import paths of helpers that moved: they keep working, with a ``DeprecationWarning`` naming the new path.

A module whose helpers moved ends with::

    _MOVED = {"cache_dir": "course_utils.paths.cache_dir"}

    def __getattr__(name: str) -> Any:
        return _moved.attribute(__name__, name, _MOVED)

so that ``from course_utils.data import cache_dir`` (a learner's saved notebook, Colab installing
from ``main``) still returns the very same function, and says where it lives now.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any


def attribute(module: str, name: str, moved: dict[str, str]) -> Any:
    """The object that ``module.name`` was before it moved to ``moved[name]``, after a ``DeprecationWarning``.

    Raises ``AttributeError`` (as a module does) for a name that is not in ``moved``.
    """
    new = moved.get(name)
    if new is None:
        raise AttributeError(f"module {module!r} has no attribute {name!r}")
    warnings.warn(
        f"{module}.{name} has moved to {new}: import it from there ({module}.{name} will be removed)",
        DeprecationWarning,
        stacklevel=3,  # the line that named the old path (this function, then the module's __getattr__)
    )
    home, _, attr = new.rpartition(".")
    return getattr(importlib.import_module(home), attr)
