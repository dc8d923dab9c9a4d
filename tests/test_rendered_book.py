"""Check the rendered book in a real headless browser.

Every page listed in ``_toc.yml`` is opened by Debian's Chromium from ``_build/html``; the DOM
Chromium builds is checked for the page title, for error output, for figures, for exercises with
solutions and for the Colab launch link. One screenshot of the front page must not be blank.

Run after ``jupyter-book build .``. Without ``_build/html`` these tests skip, unless
``JETGEOM_REQUIRE_RENDERED=1`` (set by ``make test``), in which case they fail.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")
bs4 = pytest.importorskip("bs4")

REPO = Path(__file__).resolve().parents[1]
HTML = REPO / "_build" / "html"
CHROMIUM = Path(os.environ.get("JETGEOM_CHROMIUM", "/usr/bin/chromium"))
REQUIRE_RENDERED = os.environ.get("JETGEOM_REQUIRE_RENDERED", "") == "1"
BROWSER_TIMEOUT_S = 180
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio",
]
# Text that must never reach a reader: a Python traceback, or a path of the machine that built
# the book. (A chapter may print an exception's message on purpose, to show a clear error.)
TRACEBACK = "Traceback (most recent call last)"
MACHINE_PATHS = sorted({str(REPO), "site-packages"} | ({str(Path.home())} - {"/", ""}))


def _missing(reason: str) -> None:
    if REQUIRE_RENDERED:
        pytest.fail(reason)
    pytest.skip(reason + " (set JETGEOM_REQUIRE_RENDERED=1 to make this a failure)")


@dataclass(frozen=True)
class Page:
    """One page of the table of contents: its source file and the HTML built from it."""

    docname: str  # as written in _toc.yml, e.g. "chapters/01_jets"
    source: Path
    html: Path

    @property
    def is_notebook(self) -> bool:
        return self.source.suffix == ".ipynb"


def _toc_docnames(toc: dict) -> list[str]:
    """Every page of a jb-book table of contents, in reading order."""
    names = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                names.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    walk(toc.get("parts"))
    walk(toc.get("chapters"))
    walk(toc.get("sections"))
    return names


def _source_of(docname: str) -> Path:
    docname = re.sub(r"\.(md|ipynb)$", "", docname)
    for suffix in (".ipynb", ".md"):
        path = REPO / f"{docname}{suffix}"
        if path.exists():
            return path
    raise FileNotFoundError(f"_toc.yml lists {docname!r} but neither {docname}.md nor .ipynb exists")


def toc_pages() -> list[Page]:
    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    pages = []
    for docname in _toc_docnames(toc):
        docname = re.sub(r"\.(md|ipynb)$", "", docname)
        pages.append(Page(docname, _source_of(docname), HTML / f"{docname}.html"))
    return pages


PAGES = toc_pages()
CHAPTERS = [page for page in PAGES if page.is_notebook]


def _source_title(page: Page) -> str:
    """The page's level-1 heading as written in its source, without Markdown markup."""
    if page.is_notebook:
        cells = json.loads(page.source.read_text())["cells"]
        text = "\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "markdown")
    else:
        text = page.source.read_text()
    match = re.search(r"^# +(.+?)\s*$", text, re.MULTILINE)
    assert match, f"{page.source.name} has no level-1 heading"
    return _plain(re.sub(r"[`*_]", "", match.group(1)))


def _plain(text: str) -> str:
    return " ".join(text.replace("¶", " ").split()).rstrip("#").strip()


@cache
def _browser_profile() -> str:
    return tempfile.mkdtemp(prefix="jetgeom-chromium-")


def run_chromium(*arguments: str) -> subprocess.CompletedProcess:
    if not CHROMIUM.exists():
        _missing(f"{CHROMIUM} not found; `make install` installs Debian's chromium")
    # A fresh profile per call: no state from a previous page, nothing from the user's browser.
    profile = tempfile.mkdtemp(dir=_browser_profile())
    command = [str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *arguments]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=BROWSER_TIMEOUT_S,
                                stdin=subprocess.DEVNULL)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert result.returncode == 0, f"chromium failed ({result.returncode}):\n{result.stderr[-3000:]}"
    return result


@cache
def rendered_dom(page: Page) -> bs4.BeautifulSoup:
    """The DOM Chromium builds for a page, after its scripts ran for a few (virtual) seconds."""
    if not (HTML / "index.html").exists():
        _missing(f"{HTML} has no index.html; build the book first (`jupyter-book build .`)")
    assert page.html.exists(), f"{page.docname} is in _toc.yml but {page.html} was not built"
    result = run_chromium("--virtual-time-budget=5000", "--dump-dom", page.html.as_uri())
    assert "</html>" in result.stdout, f"chromium returned no DOM for {page.html}"
    return bs4.BeautifulSoup(result.stdout, "html.parser")


def _config() -> dict:
    return yaml.safe_load((REPO / "_config.yml").read_text())


def test_toc_lists_pages_that_exist():
    assert PAGES[0].docname == "book/intro"
    assert len({page.docname for page in PAGES}) == len(PAGES), "a page is listed twice in _toc.yml"
    assert PAGES[-1].docname == "book/references", "the references page closes the book"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.docname)
def test_page_has_its_title(page):
    dom = rendered_dom(page)
    expected = _source_title(page)
    headings = [_plain(h1.get_text(" ")) for h1 in dom.select("main h1, article h1")]
    assert expected in headings, f"{page.docname}: expected heading {expected!r}, found {headings}"
    assert dom.title is not None and expected in _plain(dom.title.get_text())


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.docname)
def test_page_has_no_errors(page):
    dom = rendered_dom(page)
    article = dom.select_one("article") or dom
    tracebacks = article.select(".output.traceback, .output.error")
    assert not tracebacks, f"{page.docname} shows an error output:\n{tracebacks[0].get_text()[:2000]}"
    problems = article.select(".system-message, .problematic")
    assert not problems, f"{page.docname} has a Sphinx/MyST problem: {problems[0].get_text()[:500]}"
    for output in article.select(".cell_output"):
        text = output.get_text("\n")
        assert TRACEBACK not in text, f"{page.docname}: a cell output shows a traceback:\n{text[:2000]}"
        for machine_path in MACHINE_PATHS:
            assert machine_path not in text, (
                f"{page.docname}: an output shows the build machine's path {machine_path!r}; "
                "print relative names or hide the path")


@pytest.mark.parametrize("page", CHAPTERS, ids=lambda page: page.docname)
def test_chapter_has_rendered_figures(page):
    dom = rendered_dom(page)
    images = dom.select(".cell_output img")
    assert images, f"{page.docname} shows no figure from a code cell"
    for image in images:
        source = image.get("src", "")
        if source.startswith("data:image/"):
            assert len(source) > 1000, f"{page.docname}: an inline figure is nearly empty"
            continue
        path = (page.html.parent / source).resolve()
        assert path.is_file(), f"{page.docname}: figure {source} is missing from the built site"
        assert path.stat().st_size > 1000, f"{page.docname}: figure {source} is nearly empty"


@pytest.mark.parametrize("page", CHAPTERS, ids=lambda page: page.docname)
def test_chapter_has_exercises_with_solutions(page):
    dom = rendered_dom(page)
    exercises = dom.select("div.exercise")
    solutions = dom.select("div.solution")
    assert exercises, f"{page.docname} has no exercise block"
    assert solutions, f"{page.docname} has no solution block"
    # Solutions stay hidden until the reader opens them.
    for solution in solutions:
        assert "dropdown" in solution.get("class", []), (
            f"{page.docname}: a solution is not a dropdown; add `:class: dropdown`")
    labelled = {exercise.get("id") for exercise in exercises}
    for solution in solutions:
        link = solution.select_one("a.reference.internal")
        assert link is not None and link.get("href", "").split("#")[-1] in labelled, (
            f"{page.docname}: a solution does not point at an exercise on the same page")


@pytest.mark.parametrize("page", CHAPTERS, ids=lambda page: page.docname)
def test_chapter_has_colab_launch_link(page):
    config = _config()
    repository = config["repository"]["url"].removeprefix("https://github.com/").rstrip("/")
    expected = (f"{config['launch_buttons']['colab_url'].rstrip('/')}/github/{repository}/blob/"
                f"{config['repository']['branch']}/{page.docname}.ipynb")
    links = {anchor.get("href") for anchor in _dom_links(page)}
    assert expected in links, (
        f"{page.docname}: no Colab launch link {expected}; found "
        f"{sorted(link for link in links if link and 'colab' in link)}")


def _dom_links(page: Page):
    return rendered_dom(page).select("a[href]")


def test_bibliography_lists_every_entry():
    references = [page for page in PAGES if page.docname == "book/references"]
    assert references, "_toc.yml does not list book/references"
    dom = rendered_dom(references[0])
    keys = re.findall(r"^@\w+\{([^,\s]+),", (REPO / "book" / "references.bib").read_text(), re.MULTILINE)
    assert len(keys) >= 20
    entries = dom.select('[role="doc-biblioentry"], div.citation')
    assert len(entries) == len(keys), f"{len(entries)} entries rendered, {len(keys)} in references.bib"
    text = _plain(dom.get_text(" ")).lower()  # the bibliography style may lower-case titles
    assert "an exploration of learnt representations of w jets" in text
    assert "arxiv:2109.10919" in text


def test_citations_resolve_to_the_bibliography():
    """A `{cite}` role that found its entry links to references.html; an unresolved one does not."""
    cited = 0
    for page in PAGES:
        if page.docname == "book/references":
            continue
        dom = rendered_dom(page)
        for link in dom.select("a.reference.internal"):
            if "references.html#id" in link.get("href", ""):
                cited += 1
        assert "[?]" not in dom.get_text(), f"{page.docname} has an unresolved citation"
    assert cited > 0, "no page cites the bibliography"


def test_front_page_screenshot_is_not_blank(tmp_path):
    pytest.importorskip("PIL")
    from PIL import Image, ImageStat

    if not (HTML / "index.html").exists():
        _missing(f"{HTML} has no index.html; build the book first (`jupyter-book build .`)")
    front = HTML / f"{PAGES[0].docname}.html"
    shot = tmp_path / "intro.png"
    run_chromium("--virtual-time-budget=5000", "--window-size=1280,1600", f"--screenshot={shot}",
                 front.as_uri())
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 30_000, f"screenshot is only {shot.stat().st_size} bytes"
    with Image.open(shot) as image:
        assert image.size == (1280, 1600)
        gray = image.convert("L")
        stats = ImageStat.Stat(gray)
        histogram = gray.histogram()
    dark_fraction = sum(histogram[:128]) / sum(histogram)
    assert stats.stddev[0] > 20, "screenshot is nearly uniform: the page did not render"
    assert 0.01 < dark_fraction < 0.6, f"{dark_fraction:.1%} dark pixels: not a page of text on a light background"
    # Keep a copy beside the built site for a human to look at.
    keep = REPO / "_build" / "screenshots"
    keep.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, keep / "intro.png")
