"""Check the rendered book in a real headless browser.

Every page listed in ``_toc.yml`` is opened from ``_build/html`` by Debian's Chromium, driven by
Playwright (``executable_path=/usr/bin/chromium``; Playwright never downloads a browser here). The
built pages load MathJax 3 from a CDN, as the online book must; the test answers those requests
with the MathJax that ``make mathjax`` installs from the npm registry into ``_build/node`` and
blocks every other network request, so the maths is typeset exactly as a reader's browser does,
offline. Each page then has to show:

- its title, no error output, no machine paths; chapters: figures, exercises with dropdown
  solutions, the Colab launch link; citations that resolve to the bibliography;
- every formula typeset: no ``.math`` element left without MathJax output, no MathJax error
  (``mjx-merror`` / ``data-mjx-error``), and no raw ``$...$``, ``$$``, ``\\(...\\)`` or ``\\[...\\]`` in
  the page's text;
- at a laptop's width (1366 x 768 viewport): no figure wider than the text column, no blank
  figure; a full-page screenshot of every page is kept in ``_build/screenshots/`` for a person.

Run after ``jupyter-book build .``. Without ``_build/html`` (or Chromium, Playwright, MathJax) these
tests skip, unless ``JETGEOM_REQUIRE_RENDERED=1`` (set by ``make test``), in which case they fail.
"""

from __future__ import annotations

import io
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")
bs4 = pytest.importorskip("bs4")

pytestmark = pytest.mark.built_book

REPO = Path(__file__).resolve().parents[1]
HTML = REPO / "_build" / "html"
SCREENSHOTS = REPO / "_build" / "screenshots"
CHROMIUM = Path(os.environ.get("JETGEOM_CHROMIUM", "/usr/bin/chromium"))
MATHJAX = Path(os.environ.get("JETGEOM_MATHJAX", REPO / "_build" / "node" / "node_modules" / "mathjax"))
# What Sphinx 7 writes into every page with maths (its default mathjax_path); the online book
# keeps it. The test maps everything under this prefix to the local MathJax.
MATHJAX_CDN = "https://cdn.jsdelivr.net/npm/mathjax@3/"
REQUIRE_RENDERED = os.environ.get("JETGEOM_REQUIRE_RENDERED", "") == "1"
LAPTOP = {"width": 1366, "height": 768}
PAGE_TIMEOUT_MS = 120_000
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                 "--hide-scrollbars", "--mute-audio"]
# Text that must never reach a reader: a Python traceback, or a path of the machine that built
# the book. (A chapter may print an exception's message on purpose, to show a clear error.)
TRACEBACK = "Traceback (most recent call last)"
MACHINE_PATHS = sorted({str(REPO), "site-packages"} | ({str(Path.home())} - {"/", ""}))
# Delimiters MathJax would have replaced: left in the text, a formula was never typeset.
RAW_MATH = re.compile(r"\$\$|(?<![\w\\])\$[^$\s][^$\n]*?\$(?!\w)|\\\(|\\\)|\\\[|\\\]")
# A figure is blank when its pixels hardly vary (standard deviation of the grey levels, 0-255).
BLANK_STDDEV = 4.0


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


# ------------------------------------------------------------------------------------ the browser

# Runs in the page once MathJax has finished: what the maths and figure checks need.
_INSPECT = """async () => {
  const result = {mathjax: Boolean(window.MathJax && MathJax.startup)};
  if (result.mathjax) { await MathJax.startup.promise; }
  const article = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
  result.untypeset = [...article.querySelectorAll('.math')]
      .filter(el => !el.querySelector('mjx-container')).map(el => el.textContent.slice(0, 200));
  result.mathErrors = [...document.querySelectorAll('mjx-merror, [data-mjx-error]')]
      .map(el => el.getAttribute('data-mjx-error') || el.textContent.slice(0, 200));
  result.typeset = article.querySelectorAll('mjx-container').length;
  const prose = article.cloneNode(true);
  prose.querySelectorAll('pre, code, script, style, textarea, svg, mjx-container, .cell_output, .highlight')
      .forEach(el => el.remove());
  result.text = prose.textContent;
  const column = article.getBoundingClientRect();
  const style = getComputedStyle(article);
  result.column = {left: column.left + parseFloat(style.paddingLeft),
                   right: column.right - parseFloat(style.paddingRight)};
  result.images = [...article.querySelectorAll('img')].map((img, index) => {
    const box = img.getBoundingClientRect();
    return {index, src: (img.getAttribute('src') || '').slice(0, 120), complete: img.complete,
            naturalWidth: img.naturalWidth, left: box.left, right: box.right, width: box.width,
            height: box.height, visible: box.width > 0 && box.height > 0,
            pageLeft: box.left + window.scrollX, pageTop: box.top + window.scrollY};
  });
  return result;
}"""


@dataclass
class Rendered:
    """What Chromium showed for one page."""

    dom: "bs4.BeautifulSoup"
    inspection: dict
    screenshot: Path
    figure_stddevs: dict[int, float] = field(default_factory=dict)
    mathjax_sources: list[str] = field(default_factory=list)
    missing_mathjax_files: list[str] = field(default_factory=list)


class _Browser:
    """One Chromium for the whole test run; each page opens in a fresh context."""

    def __init__(self):
        self._playwright = None
        self._browser = None
        self._pages: dict[str, Rendered] = {}

    def _start(self):
        if self._browser is not None:
            return self._browser
        if not (HTML / "index.html").exists():
            _missing(f"{HTML} has no index.html; build the book first (`jupyter-book build .`)")
        if not CHROMIUM.exists():
            _missing(f"{CHROMIUM} not found; `make install` installs Debian's chromium")
        if not (MATHJAX / "es5" / "tex-mml-chtml.js").exists():
            _missing(f"no MathJax at {MATHJAX}; `make mathjax` installs it from the npm registry")
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            _missing("playwright is not installed; it is in the test extra: pip install -e '.[test]'")
        self._playwright = sync_playwright().start()
        self._browser = self._playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        return self._browser

    def close(self):
        if self._browser is not None:
            self._browser.close()
            self._playwright.stop()
        self._browser = self._playwright = None

    def render(self, page: Page) -> Rendered:
        if page.docname in self._pages:
            return self._pages[page.docname]
        browser = self._start()
        assert page.html.exists(), f"{page.docname} is in _toc.yml but {page.html} was not built"
        mathjax_sources: list[str] = []
        missing: list[str] = []

        def answer(route):
            url = route.request.url
            if url.startswith(MATHJAX_CDN):
                local = MATHJAX / url[len(MATHJAX_CDN):].split("?")[0].split("#")[0]
                mathjax_sources.append(url)
                if local.is_file():
                    route.fulfill(path=str(local), headers={"Access-Control-Allow-Origin": "*"})
                else:
                    missing.append(url)
                    route.abort()
            elif url.startswith("file:"):
                route.continue_()
            else:  # no network: fonts, widget managers and the like fall back as they would offline
                route.abort()

        context = browser.new_context(viewport=LAPTOP, device_scale_factor=1)
        try:
            context.route("**/*", answer)
            tab = context.new_page()
            tab.set_default_timeout(PAGE_TIMEOUT_MS)
            tab.goto(page.html.as_uri(), wait_until="load")
            if tab.locator(f'script[src^="{MATHJAX_CDN}"]').count():
                tab.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
            inspection = tab.evaluate(_INSPECT)
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            screenshot = SCREENSHOTS / (page.docname.replace("/", "__") + ".png")
            tab.screenshot(path=str(screenshot), full_page=True)
            # Each figure as the reader sees it: cut from the full-page screenshot.
            stddevs = _figure_stddevs(screenshot, inspection["images"])
            rendered = Rendered(bs4.BeautifulSoup(tab.content(), "html.parser"), inspection, screenshot,
                                stddevs, mathjax_sources, missing)
        finally:
            context.close()
        self._pages[page.docname] = rendered
        return rendered


def _grey_stddev(png: bytes) -> float:
    from PIL import Image, ImageStat

    with Image.open(io.BytesIO(png)) as image:
        return ImageStat.Stat(image.convert("L")).stddev[0]


def _figure_stddevs(screenshot: Path, images: list[dict]) -> dict[int, float]:
    """Grey-level standard deviation of every visible figure, cut from the full-page screenshot."""
    from PIL import Image, ImageStat

    stddevs = {}
    with Image.open(screenshot) as page_image:
        grey = page_image.convert("L")
        for image in images:
            if image["visible"]:
                box = (round(image["pageLeft"]), round(image["pageTop"]),
                       round(image["pageLeft"] + image["width"]), round(image["pageTop"] + image["height"]))
                stddevs[image["index"]] = ImageStat.Stat(grey.crop(box)).stddev[0]
    return stddevs


BROWSER = _Browser()


@pytest.fixture(scope="module", autouse=True)
def _close_browser():
    yield
    BROWSER.close()


def rendered_dom(page: Page) -> "bs4.BeautifulSoup":
    """The DOM Chromium built for a page, after its scripts and MathJax ran."""
    return BROWSER.render(page).dom


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


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.docname)
def test_maths_is_typeset_locally(page):
    rendered = BROWSER.render(page)
    inspection = rendered.inspection
    assert not rendered.missing_mathjax_files, f"MathJax files not in {MATHJAX}: {rendered.missing_mathjax_files}"
    assert not inspection["mathErrors"], f"{page.docname}: MathJax cannot typeset {inspection['mathErrors']}"
    assert not inspection["untypeset"], f"{page.docname}: formulas left untypeset: {inspection['untypeset'][:5]}"
    raw = [match.group(0) for match in RAW_MATH.finditer(inspection["text"])]
    if raw:
        context = [inspection["text"][max(0, m.start() - 60):m.end() + 60].replace("\n", " ")
                   for m in RAW_MATH.finditer(inspection["text"])][:5]
        pytest.fail(f"{page.docname}: raw TeX delimiters in the page text (MyST did not parse them): {context}")
    if page.is_notebook:
        # Every chapter writes maths: MathJax must have been loaded (from the CDN URL) and have run.
        assert inspection["mathjax"] and rendered.mathjax_sources, f"{page.docname} loaded no MathJax"
        assert all(url.startswith(MATHJAX_CDN) for url in rendered.mathjax_sources)
        assert inspection["typeset"] > 0, f"{page.docname}: no formula typeset"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.docname)
def test_figures_fit_the_column_and_are_not_blank_at_laptop_width(page):
    rendered = BROWSER.render(page)
    column = rendered.inspection["column"]
    width = column["right"] - column["left"]
    assert width > 400, f"{page.docname}: the text column is only {width:.0f} px wide at 1366 px"
    for image in rendered.inspection["images"]:
        if not image["visible"]:
            continue  # inside a closed dropdown
        assert image["complete"] and image["naturalWidth"] > 0, f"{page.docname}: figure {image['src']} did not load"
        assert image["width"] <= width + 1 and image["right"] <= column["right"] + 1, (
            f"{page.docname}: figure {image['src']} is {image['width']:.0f} px wide, wider than the "
            f"{width:.0f} px text column")
        stddev = rendered.figure_stddevs[image["index"]]
        assert stddev > BLANK_STDDEV, f"{page.docname}: figure {image['src']} is blank (grey-level std {stddev:.1f})"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.docname)
def test_page_screenshot_shows_a_page_of_text(page):
    from PIL import Image, ImageStat

    shot = BROWSER.render(page).screenshot
    with Image.open(shot) as image:
        assert image.width == LAPTOP["width"] and image.height >= LAPTOP["height"]
        grey = image.convert("L")
        stddev = ImageStat.Stat(grey).stddev[0]
        histogram = grey.histogram()
    dark_fraction = sum(histogram[:128]) / sum(histogram)
    assert stddev > 20, f"{shot.name} is nearly uniform: the page did not render"
    assert 0.005 < dark_fraction < 0.6, f"{shot.name}: {dark_fraction:.1%} dark pixels, not text on a light page"


def test_blank_figure_and_raw_maths_checks_can_fail():
    """The thresholds above separate a blank image from a real plot."""
    from PIL import Image, ImageDraw

    blank, plot = Image.new("RGB", (400, 300), "white"), Image.new("RGB", (400, 300), "white")
    draw = ImageDraw.Draw(plot)
    draw.line([(40, 260), (380, 260)], fill="black", width=2)
    draw.line([(40, 20), (40, 260)], fill="black", width=2)
    draw.line([(40, 250), (380, 40)], fill=(31, 119, 180), width=3)
    as_png = []
    for image in (blank, plot):
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        as_png.append(buffer.getvalue())
    assert _grey_stddev(as_png[0]) <= BLANK_STDDEV < _grey_stddev(as_png[1])
    for text in ("a price $\\beta$ per nat", "$$x$$", "\\(x\\)", "\\[x\\]"):
        assert RAW_MATH.search(text), text
    for text in ("costs 5 dollars", "a $ sign alone", "pT [GeV]"):
        assert not RAW_MATH.search(text), text
