"""The course website in a real browser: headless Chromium against build/site served on 127.0.0.1.

Serves the built site (``make site``) with ``python -m http.server`` on a free port (stopped however
the tests end), then, in Debian's Chromium driven by Playwright: both landing pages and chapter 05
in both editions render (screenshots, one in dark mode); the search finds chapter 05 first for
"gradient accumulation" in English and for 梯度累积 in Chinese, typed into the theme's search box;
a word the course never uses finds nothing; the language switch lands on the same chapter and
section in the other edition and back. Every test fails on a JavaScript error, a console error or a
request to any host but the local server. Screenshots are kept in build/site-screens/. Run it with
``make site-test`` (which builds the site and installs Chromium, Playwright and a CJK font first).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from course_utils.net import free_port

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
import plumbing  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "build" / "site"
SHOTS = ROOT / "build" / "site-screens"
CHROMIUM = plumbing.chromium()
CHAPTER = "notebooks/05_fine_tuning.html"
#: A word the course never uses (test_the_unused_word_is_nowhere_in_the_course checks that). Not "xylophone":
#: Pagefind tolerates typos and matches indexed words the query starts with, so that one finds the variable x.
UNUSED = "zyzzyva"
RESULT = ".pagefind-ui__result"


def _require_browser_stack() -> None:
    missing = []
    if not (CHROMIUM and os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        missing.append(f"Chromium at {CHROMIUM}" if CHROMIUM else "Chromium (CHROMIUM is unset, none on PATH)")
    if importlib.util.find_spec("playwright") is None:
        missing.append("the Python package playwright")
    if missing:
        pytest.fail(f"missing {' and '.join(missing)}: `make site-test` installs them", pytrace=False)
    if not (SITE / "BUILD.json").is_file():
        pytest.fail("no site in build/site: run `make site` (make site-test builds it first)", pytrace=False)


@pytest.fixture(scope="module")
def server():
    _require_browser_stack()
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(SITE)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(base + "/index.html", timeout=5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"python -m http.server did not answer on {base}")
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    for old in SHOTS.glob("*.png"):
        old.unlink()
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=list(plumbing.CHROMIUM_ARGS))
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser, server):
    """A fresh page; the test fails on a JavaScript error, a console error or a request to another host."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda err: problems.append(f"JavaScript error: {err}"))
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
    local = urlsplit(server).netloc

    def check_request(req) -> None:
        parts = urlsplit(req.url)
        if parts.scheme in ("http", "https") and parts.netloc != local:
            problems.append(f"request to another host: {req.url}")

    page.on("request", check_request)
    # net::ERR_ABORTED is the browser cancelling a request itself (a click navigates away while the
    # favicon loads); a file the site lacks answers 404, which the response handler below reports.
    page.on(
        "requestfailed",
        lambda req: (
            None
            if "ERR_ABORTED" in (req.failure or "")
            else problems.append(f"request failed: {req.url} ({req.failure})")
        ),
    )
    page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
    page.base = server
    try:
        yield page
    finally:
        context.close()
    assert not problems, "\n".join(problems)


def _shot(page, name: str, full_page: bool = False) -> None:
    page.mouse.move(0, 0)
    page.wait_for_timeout(200)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    assert path.stat().st_size > 20_000, f"{path} is (nearly) empty"


def _search(page, edition: str, query: str):
    """Type ``query`` into the theme's search box (Ctrl+K) on the edition's landing page, submit, wait for Pagefind."""
    from playwright.sync_api import expect

    page.goto(f"{page.base}/{edition}/index.html")
    page.keyboard.press("Control+k")
    box = page.locator("#pst-search-dialog input[name='q']")
    expect(box).to_be_visible(timeout=10_000)
    box.fill(query)
    box.press("Enter")
    page.wait_for_url(re.compile(rf"/{edition}/search\.html\?q="), timeout=15_000)
    expect(page.locator(".pagefind-ui__message")).to_be_visible(timeout=15_000)  # "N results for ..." or none
    page.wait_for_function(
        "() => { const m = document.querySelector('.pagefind-ui__message'); return m && !/^\\s*$/.test(m.textContent); }"
    )
    page.wait_for_timeout(300)  # the result list fills in after the message
    return page.locator(RESULT)


def test_landing_pages_link_both_editions_and_every_chapter(page):
    from playwright.sync_api import expect

    page.goto(page.base + "/index.html")
    expect(page.locator("a[href='en/index.html']")).to_be_visible()
    expect(page.locator("a[href='zh/index.html']")).to_be_visible()
    for edition, title in (("en", "Hands-on Hugging Face"), ("zh", "Hugging Face 实战")):
        page.goto(f"{page.base}/{edition}/index.html")
        expect(page.locator("article h1").first).to_contain_text(title)
        nav = page.locator(".bd-sidenav a.reference.internal")
        chapters = [
            h
            for h in nav.evaluate_all("els => els.map(e => e.getAttribute('href'))")
            if re.match(r"notebooks/\d\d_", h)
        ]
        assert [re.match(r"notebooks/(\d\d)_", h)[1] for h in chapters][:11] == [f"{n:02d}" for n in range(11)], (
            chapters
        )
        _shot(page, f"landing-{edition}")


def test_chapter_05_shows_its_outputs_badge_download_and_provenance_in_both_editions(page):
    from playwright.sync_api import expect

    build = json.loads((SITE / "BUILD.json").read_text())
    for edition in ("en", "zh"):
        page.goto(f"{page.base}/{edition}/{CHAPTER}")
        info = page.locator(".course-chapter-info")
        expect(info).to_contain_text(build["commit"].rstrip("+"))
        images = page.locator("article img")
        assert images.count() >= 2
        broken = images.evaluate_all("els => els.filter(e => !(e.complete && e.naturalWidth > 0)).map(e => e.src)")
        assert not broken, f"images that did not load: {broken}"
        expect(page.locator("article a[href*='colab.research.google.com'] img")).to_be_visible()
        download = info.locator("a[download]").get_attribute("href")
        body = urllib.request.urlopen(f"{page.base}/{edition}/notebooks/{download}", timeout=10).read()
        assert json.loads(body)["nbformat"] == 4 and body == (SITE / edition / "notebooks" / download).read_bytes()
        expect(page.locator("article button.copybtn").first).to_be_attached()
        _scroll_to(page, ".course-chapter-info", 230)  # the Colab badge, the info line, the first cells
        _shot(page, f"chapter05-{edition}")
        _scroll_to(page, "article .cell_output img", 120)  # a stored plot
        _shot(page, f"chapter05-{edition}-plot")
    page.emulate_media(color_scheme="dark")
    page.goto(f"{page.base}/en/{CHAPTER}")
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    _scroll_to(page, ".course-chapter-info", 230)
    _shot(page, "chapter05-en-dark")


def _scroll_to(page, selector: str, above: int) -> None:
    page.locator(selector).first.evaluate(
        f"el => window.scrollTo(0, el.getBoundingClientRect().top + window.scrollY - {above})"
    )


def test_language_switch_lands_on_the_same_chapter_and_section(page):
    from playwright.sync_api import expect

    page.goto(f"{page.base}/en/{CHAPTER}")
    en_ids = page.locator("article section[id]").evaluate_all("els => els.map(e => e.id)")
    page.goto(f"{page.base}/zh/{CHAPTER}")
    zh_ids = page.locator("article section[id]").evaluate_all("els => els.map(e => e.id)")
    shared = [i for i in en_ids[1:] if i in zh_ids]
    assert len(shared) >= 10, f"the editions share only {shared}"
    anchor = shared[len(shared) // 2]
    page.goto(f"{page.base}/en/{CHAPTER}#{anchor}")
    page.locator(".bd-header-article a[data-course-switch]").click()
    page.wait_for_url(f"**/zh/{CHAPTER}#{anchor}", timeout=15_000)
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("article h1").first).to_contain_text("微调")
    assert page.evaluate(f"document.getElementById({anchor!r}).getBoundingClientRect().top") < 300  # scrolled there
    page.locator(".bd-header-article a[data-course-switch]").click()
    page.wait_for_url(f"**/en/{CHAPTER}#{anchor}", timeout=15_000)
    expect(page.locator("article h1").first).to_contain_text("Fine-tuning")
    page.goto(f"{page.base}/zh/glossary.html")  # every page has the switch
    page.locator(".bd-header-article a[data-course-switch]").click()
    page.wait_for_url("**/en/glossary.html", timeout=15_000)


def test_search_finds_chapter_05_first_in_english_and_in_chinese(page):
    for edition, query, shot in (("en", "gradient accumulation", "search-en"), ("zh", "梯度累积", "search-zh")):
        results = _search(page, edition, query)
        assert results.count() > 0, f"no result for {query!r}"
        first = results.first.locator(".pagefind-ui__result-link").first.get_attribute("href")
        assert first.endswith(f"/{edition}/{CHAPTER}") or f"/{edition}/{CHAPTER}#" in first, (query, first)
        assert f"/{edition}/search.html?q=" in page.url
        _shot(page, shot)


def test_a_word_the_course_never_uses_finds_nothing(page):
    for edition in ("en", "zh"):
        results = _search(page, edition, UNUSED)
        assert results.count() == 0
        assert UNUSED in page.locator(".pagefind-ui__message").inner_text()


def test_the_unused_word_is_nowhere_in_the_course():
    sources = [*ROOT.glob("*.md"), *ROOT.glob("notebooks/**/*.ipynb"), *ROOT.glob("benchmarks/results/*.md")]
    assert len(sources) > 40
    for path in sources:
        assert UNUSED not in path.read_text(encoding="utf-8").lower(), path
