"""The course's messages in the learner's language: Python's gettext over the catalogue in ``locale/``.

English is the source: a message is written in English in the code, inside :func:`_`, and that
English text is the catalogue's key (its ``msgid``). ``locale/zh/LC_MESSAGES/course_utils.po``
holds the Chinese of each message; ``tools/messages.py`` extracts the messages, updates the ``.po``
file and compiles the ``.mo`` file that :mod:`gettext` reads (``tests/test_messages.py`` fails on a
message without a current translation). A message with values names them, so that a translation
can put them in another order::

    _("expected a tensor of shape {shape}, got {got}").format(shape=..., got=...)

The language, read at every call (so ``%env COURSE_LANG=zh`` takes effect at once):

- ``COURSE_LANG`` when set: ``zh``, ``zh_CN``, ``zh-Hans``, ``zh_CN.UTF-8``... mean Chinese, any
  other value English;
- else the notebook's edition: a kernel whose working directory is ``notebooks/zh`` or
  ``notebooks/zh/solutions`` (Jupyter starts a kernel in its notebook's folder) speaks Chinese;
- else English.

Importing this module reads nothing but the environment and the working directory, and only when a
message is looked up.
"""

from __future__ import annotations

import functools
import gettext
import os
from pathlib import Path

#: The gettext domain: ``locale/<language>/LC_MESSAGES/course_utils.mo``.
DOMAIN = "course_utils"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
#: The languages the course speaks: English (the source) and Chinese.
LANGUAGES = ("en", "zh")
#: The environment variable that chooses the language.
ENV = "COURSE_LANG"


def _normalise(value: str) -> str | None:
    """``"zh"`` for any spelling of Chinese (``zh``, ``zh_CN``, ``zh-Hans``, ``zh_CN.UTF-8``), ``"en"`` for any other
    non-empty value, None for an empty one."""
    value = value.strip().lower()
    if not value:
        return None
    return "zh" if value.replace("-", "_").split("_")[0].split(".")[0] == "zh" else "en"


def edition(folder: str | os.PathLike[str]) -> str:
    """``"zh"`` when ``folder`` is the Chinese edition's (``…/notebooks/zh`` or ``…/notebooks/zh/solutions``), else ``"en"``.

    Course plumbing: not taught.
    """
    parts = Path(folder).parts
    if parts and parts[-1] == "solutions":
        parts = parts[:-1]
    return "zh" if parts[-2:] == ("notebooks", "zh") else "en"


def language() -> str:
    """The language of the messages now: ``COURSE_LANG``, else the edition of the working directory's notebooks, else English.

    Course plumbing: not taught.
    """
    chosen = _normalise(os.environ.get(ENV, ""))
    if chosen is not None:
        return chosen
    try:
        return edition(os.getcwd())
    except OSError:  # the working directory was removed
        return "en"


@functools.lru_cache(maxsize=len(LANGUAGES))
def catalogue(lang: str) -> gettext.NullTranslations:
    """The compiled catalogue of ``lang`` (English: the messages as written).

    Course plumbing: not taught.
    """
    if lang == "en":
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, localedir=LOCALE_DIR, languages=[lang], fallback=True)


def _(message: str) -> str:
    """``message`` in the learner's language (:func:`language`); the English itself when no translation exists."""
    return catalogue(language()).gettext(message) if message else message


def N_(message: str) -> str:
    """Mark ``message`` for the catalogue without translating it now (a table built at import): translate it with
    :func:`_` where it is shown.

    Course plumbing: not taught.
    """
    return message
