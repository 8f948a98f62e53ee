"""Sphinx configuration of the course website, one edition at a time (``make site``; CONTRIBUTING.md).

``tools/build_site.py`` copies this file, ``course_site.py``, ``_templates/`` and ``_static/`` into
each edition's source folder (``build/site-src/en``, ``build/site-src/zh``) beside the pages it
generates, and writes ``_site.json`` there: the edition's language and strings, the commit and the
stable section ids. Nothing here executes a notebook: myst-nb renders the outputs stored in them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).absolute().parent  # the edition's source folder (not resolved: a copy lives there)
sys.path.insert(0, str(HERE))
SITE = json.loads((HERE / "_site.json").read_text(encoding="utf-8"))

project = SITE["title"]
author = SITE["author"]
copyright = SITE["copyright"]
language = SITE["sphinx_language"]
root_doc = "index"

extensions = ["myst_nb", "sphinx_copybutton", "course_site"]
exclude_patterns = ["_extra", "_site.json", "**/.ipynb_checkpoints"]
templates_path = ["_templates"]
# Fail on a link to a page, file or anchor that does not exist (tools/build_site.py passes -W -n).
nitpicky = True

# The notebooks are shown as stored, never run: their outputs come from `make notebooks`.
nb_execution_mode = "off"
nb_merge_streams = True
myst_enable_extensions = ["strikethrough"]
suppress_warnings = ["myst.strikethrough"]  # strikethrough renders in HTML, the only builder used

html_theme = "sphinx_book_theme"
html_title = SITE["title"]
html_static_path = ["_static"]
html_extra_path = ["_extra"]  # the notebooks as committed, for the download links
html_css_files = ["course.css"]
html_js_files = ["course.js"]
html_favicon = "_static/favicon.svg"
html_copy_source = False
html_show_sourcelink = False
html_last_updated_fmt = None
# Dark mode follows the reader's system; the theme's switch overrides it.
html_context = {"course": SITE, "default_mode": "auto"}
html_theme_options = {
    "home_page_in_toc": True,
    "show_toc_level": 2,
    "use_download_button": False,  # each chapter links its .ipynb as committed (the info line under the title)
    "use_fullscreen_button": False,
    "navbar_persistent": [],  # no second search box above the sidebar's
    "search_bar_text": SITE["strings"]["search_placeholder"],
    "footer_content_items": ["extra-footer.html"],
    "extra_footer": SITE["footer"],
}
