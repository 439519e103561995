"""The course site, opened page by page in a real browser: nothing missing, no broken internal link, maths typeset.

The site is the one in $COURSE_SITE_DIR (``python3 course.py test`` builds it in lab mode first); without it, one is
built here in fast mode (cached in build/, so only the first run pays for the executions). Pages are served over
HTTP on 127.0.0.1, as a web host would, and every request a page makes must succeed without leaving this machine.
"""
from __future__ import annotations

import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urldefrag, urljoin, urlparse

import nbformat
import pytest
from harness import ROOT, artifacts_dir, browser_page, static_server

from course_utils.website.build import chapters_from_readme

pytestmark = pytest.mark.browser

PAGES = ["index.html"] + [chapter.page for chapter in chapters_from_readme(ROOT / "README.md", ROOT / "solutions")]
IGNORED_SCHEMES = ("about:", "data:", "blob:")  # MathJax probes fonts through about:blank; figures are data: URIs


@pytest.fixture(scope="module")
def site() -> Path:
    """The built site's folder."""
    given = os.environ.get("COURSE_SITE_DIR")
    if given:
        folder = Path(given)
        assert (folder / "index.html").is_file(), f"COURSE_SITE_DIR={given} holds no built site (no index.html)"
        return folder
    folder = ROOT / "build" / "site-fast"
    subprocess.run([sys.executable, "-m", "course_utils", "site", "--mode", "fast", "--out", str(folder),
                    "--cache", str(ROOT / "build" / "site-cache")], cwd=ROOT, check=True)
    return folder


@pytest.fixture(scope="module")
def served(site):
    with static_server(site) as base:
        yield base


class _Anchors(HTMLParser):
    """Collects the link targets (href) and the anchor names (id, name) of one HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.anchors: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "a" and values.get("href"):
            self.links.append(values["href"])
        for key in ("id", "name"):
            if values.get(key):
                self.anchors.add(values[key])


def parse(path: Path) -> _Anchors:
    parser = _Anchors()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def broken_links(site: Path, page: str) -> list[str]:
    """Internal links of ``page`` whose file or anchor does not exist in the site."""
    broken = []
    for href in parse(site / page).links:
        if urlparse(href).scheme in ("http", "https", "mailto"):
            continue
        target, fragment = urldefrag(urljoin(page, href))
        path = site / unquote(target) if target else site / page
        if not path.is_file():
            broken.append(f"{href} (no file {path.relative_to(site)})")
        elif fragment and path.suffix == ".html" and not {fragment, unquote(fragment)} & parse(path).anchors:
            # a browser looks for the fragment as written, then percent-decoded (nbconvert's ids are encoded)
            broken.append(f"{href} (no anchor #{fragment} in {path.name})")
    return broken


@pytest.mark.parametrize("page", PAGES)
def test_page_opens_with_every_image_and_link(site, served, page):
    assert (site / page).is_file(), f"the site has no {page}: did its notebook fail to execute?"
    assert broken_links(site, page) == []
    failed, outside = [], []
    with browser_page() as browser:
        browser.on("requestfailed", lambda request: failed.append(f"{request.url} ({request.failure})"))
        browser.on("response", lambda reply: reply.status >= 400 and failed.append(f"{reply.url} ({reply.status})"))
        browser.on("request", lambda request: not request.url.startswith((served, *IGNORED_SCHEMES))
                   and outside.append(request.url))
        browser.goto(f"{served}/{page}", wait_until="load")
        browser.wait_for_function("window.MathJax && MathJax.Hub && MathJax.Hub.queue.pending === 0 "
                                  "&& MathJax.Hub.queue.running === 0")
        images = browser.evaluate("[...document.images].map(i => [i.complete && i.naturalWidth > 0, "
                                  "i.alt || i.src.slice(0, 40)])")
        raw_maths = browser.evaluate("[...document.querySelectorAll('.jp-MarkdownOutput')]"
                                     ".filter(e => /\\$\\$[^$]+\\$\\$/.test(e.innerText)).length")
        browser.screenshot(path=str(artifacts_dir("site") / page.replace(".html", ".png")))
    assert [item for item in failed if not item.startswith(IGNORED_SCHEMES)] == []
    assert outside == [], "the site must read offline: these requests leave the machine"
    assert [name for ok, name in images if not ok] == [], "images that did not load"
    assert raw_maths == 0, "display maths left untypeset"
    if page != "index.html":
        assert images, f"{page} shows no figure"


def test_index_links_every_chapter_and_its_student_notebook(site):
    links = set(parse(site / "index.html").links)
    for page in PAGES[1:]:
        assert page in links
        download = f"downloads/{page.replace('.html', '.ipynb')}"
        assert download in links
        nbformat.validate(nbformat.read(site / download, as_version=4))


def test_pages_show_the_learners_view_not_the_answers(site):
    text = (site / "01_dense_autoencoder.html").read_text(encoding="utf-8")
    assert "NotImplementedError" in text
    assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
