"""A small Sphinx extension for the course website: stable section anchors and the language switch.

Stable anchors. docutils derives a section's id from its title's ASCII letters, so a Chinese heading
gets a counter (``id3``) that moves whenever a heading is added above it. Here every notebook page,
in both editions, gets the ids that ``tools/build_site.py`` computed from the *English* heading of
the same cell (the Chinese notebooks are built from the English ones and keep their cell ids):
``zh/notebooks/05_fine_tuning.html#the-confusion-matrix`` is section 5.1 in
both editions, it survives any rewording of the Chinese text, and the language switch keeps it.
Other pages (README.zh.md, INSTRUCTOR.zh.md, ...) have no English twin: a heading whose id would be
a counter gets a GitHub-style slug of its own text (Chinese characters kept), the anchor GitHub
shows for the same file.
"""

from __future__ import annotations

import re
import unicodedata

from docutils import nodes
from sphinx.util import logging

logger = logging.getLogger(__name__)
AUTO_ID = re.compile(r"^id\d+$")


def github_slug(text: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens (letters of any script kept)."""
    text = unicodedata.normalize("NFC", text.strip().lower())
    kept = "".join(ch for ch in text if ch in "-_ " or unicodedata.category(ch)[0] in "LNM")
    return kept.replace(" ", "-")


def _unique(slug: str, taken: set[str]) -> str:
    candidate, n = slug or "section", 1
    while candidate in taken:
        candidate, n = f"{slug or 'section'}-{n}", n + 1
    taken.add(candidate)
    return candidate


def stable_ids(app, doctree: nodes.document) -> None:
    docname = app.env.docname
    sections = list(doctree.findall(nodes.section))
    planned = app.config.html_context["course"]["anchors"].get(docname)
    if planned is not None:
        if len(planned) != len(sections):
            logger.warning(
                "%s: %d headings in the page, %d stable anchors planned by tools/build_site.py",
                docname,
                len(sections),
                len(planned),
                location=docname,
            )
            return
        new_ids = planned
    else:
        taken = {i for s in sections for i in s["ids"] if not AUTO_ID.match(i)}
        new_ids = [
            _unique(github_slug(s[0].astext()), taken) if AUTO_ID.match(s["ids"][0]) else s["ids"][0] for s in sections
        ]
    wanted = set(new_ids)
    for section, new in zip(sections, new_ids):
        old = [i for i in section["ids"] if i != new and i not in wanted]
        section["ids"] = [new, *old]
        doctree.ids[new] = section


def other_edition(app, pagename, templatename, context, doctree) -> None:
    """``course_other_href``: this page in the other edition (the two editions have the same page names)."""
    other = app.config.html_context["course"]["other"]
    context["course_other_href"] = "../" * (pagename.count("/") + 1) + f"{other}/{pagename}.html"


def setup(app):
    # Before Sphinx's own collectors (priority 500) read the section ids into the page's table of contents.
    app.connect("doctree-read", stable_ids, priority=100)
    app.connect("html-page-context", other_edition)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
