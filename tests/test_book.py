"""The built book, opened in headless Chromium: math typeset offline, figures shown, Colab links, navigation.

`make test` builds the book first (warnings are errors there). Each page's rendered DOM is read
with `chromium --dump-dom`, served from a loopback HTTP server; a screenshot of each page is saved
under _build/screenshots/ for people to look at.
"""

import functools
import http.server
import io
import json
import os
import re
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
import yaml
from bs4 import BeautifulSoup

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
]

pytestmark = pytest.mark.browser

SCREEN = (1280, 800)  # a laptop's browser window, in CSS pixels: "one screen"
MAX_SCREENS = 15  # a page reads in one sitting
MAX_CODE_LINES = 150  # code a reader sees on one page; the rest is folded (hide-input)


def _toc_files():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [chapter["file"] for chapter in part["chapters"]]
    return files


def _repository_url():
    return yaml.safe_load((ROOT / "_config.yml").read_text())["repository"][
        "url"
    ].rstrip("/")


@pytest.fixture(scope="module")
def chromium():
    exe = (
        shutil.which("chromium")
        or shutil.which("chromium-browser")
        or shutil.which("google-chrome")  # GitHub's runners
    )
    if exe is None:
        message = "headless Chromium is not installed: `apt-get install chromium` (make does it when run as root)"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must run the browser checks")
        pytest.skip(message)
    return exe


# Run in each page after it loaded: the layout the reader sees, written into the DOM that
# --dump-dom returns (figures' drawn vs natural width, code blocks that scroll sideways).
LAYOUT_PROBE = b"""<script>
window.addEventListener("load", () => setTimeout(() => {
  for (const img of document.querySelectorAll("article img")) {
    img.dataset.naturalWidth = img.naturalWidth;
    img.dataset.drawnWidth = img.getBoundingClientRect().width;
  }
  for (const pre of document.querySelectorAll("article pre")) {
    // folded code (hide-input) is not on the screen until opened: only what is shown counts
    pre.dataset.overflows = pre.checkVisibility() && pre.scrollWidth > pre.clientWidth + 1;
  }
  const column = document.querySelector("article").getBoundingClientRect().right;
  for (const eq of document.querySelectorAll("article mjx-container[display='true']")) {
    const box = eq.firstElementChild || eq;
    eq.dataset.overflows = box.getBoundingClientRect().right > column + 1;
  }
  for (const table of document.querySelectorAll("article table")) {
    // wider than the column, or wider than its own box (then it scrolls: part is hidden)
    table.dataset.overflows = table.getBoundingClientRect().right > column + 1
      || table.scrollWidth > table.clientWidth + 1;
  }
  // the reader's view: the page's height, and the code lines a reader sees without unfolding
  document.body.dataset.pageHeight = document.documentElement.scrollHeight;
  let codeLines = 0;
  for (const pre of document.querySelectorAll("article div.cell_input pre")) {
    if (pre.checkVisibility()) codeLines += pre.innerText.trimEnd().split("\\n").length;
  }
  document.body.dataset.codeLines = codeLines;
  document.body.dataset.probed = "yes";
}, 500));
</script></body>"""


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Static files, with :data:`LAYOUT_PROBE` added to every HTML page."""

    def log_message(self, *args):
        pass

    def send_head(self):
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            path = path / "index.html"
        if path.suffix != ".html" or not path.is_file():
            return super().send_head()
        body = path.read_bytes().replace(b"</body>", LAYOUT_PROBE, 1)
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)


@pytest.fixture(scope="module")
def site():
    if not (HTML / "index.html").exists():
        pytest.fail("_build/html is missing: run `make book` first (make test does)")
    handler = functools.partial(_Handler, directory=str(HTML))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _chromium(exe, tmp_path_factory, *args):
    profile = tmp_path_factory.mktemp("chromium-profile")
    return subprocess.run(
        [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def rendered(chromium, site, tmp_path_factory):
    """Each TOC page's DOM after scripts ran (MathJax included); screenshots on the side."""
    shots = ROOT / "_build" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    pages = {}
    for doc in _toc_files():
        url = f"{site}/{doc}.html"
        dom = _chromium(
            chromium,
            tmp_path_factory,
            "--virtual-time-budget=15000",
            f"--window-size={SCREEN[0]},{SCREEN[1]}",
            "--dump-dom",
            url,
        ).stdout
        _chromium(
            chromium,
            tmp_path_factory,
            "--virtual-time-budget=15000",
            f"--window-size={SCREEN[0]},{SCREEN[1] * 2}",
            f"--screenshot={shots / (doc.replace('/', '__') + '.png')}",
            url,
        )
        pages[doc] = BeautifulSoup(dom, "html.parser")
    return pages


@pytest.mark.parametrize("doc", _toc_files())
def test_math_is_typeset(rendered, doc):
    page = rendered[doc]
    article = page.find("article") or page
    assert article.get_text().strip(), f"{doc}: empty page"
    math = article.select(".math")
    for element in math:
        assert element.find("mjx-container"), (
            f"{doc}: math left untypeset: {element.get_text()[:80]!r}"
        )
    text = article.get_text()
    assert "$$" not in text, f"{doc}: raw $$ left in the page"
    source = (
        (ROOT / f"{doc}.md") if (ROOT / f"{doc}.md").exists() else ROOT / f"{doc}.ipynb"
    )
    if "$" in source.read_text():
        assert math, f"{doc}: its source has math but the page has none"


def _outputs(doc):
    """Every output's data bundle in the committed notebook of ``doc``."""
    nb = json.loads((ROOT / f"{doc}.ipynb").read_text())
    return [
        out.get("data", {})
        for cell in nb["cells"]
        if cell["cell_type"] == "code"
        for out in cell.get("outputs", [])
    ]


def _html_outputs(doc, marker):
    html = ("".join(data.get("text/html", "")) for data in _outputs(doc))
    return [h for h in html if marker in h]


def _notebook_images(doc):
    return sum("image/png" in data for data in _outputs(doc))


@pytest.mark.parametrize(
    "doc", [d for d in _toc_files() if (ROOT / f"{d}.ipynb").exists()]
)
def test_notebook_pages_show_their_figures_and_a_colab_link(rendered, doc):
    page = rendered[doc]
    images = [
        img
        for img in page.select("article img")
        if "/_images/" in img.get("src", "")
        or img.get("src", "").startswith("../_images")
    ]
    expected = _notebook_images(doc)
    assert expected > 0, f"{doc}: the committed notebook has no figure"
    assert len(images) == expected, (
        f"{doc}: {expected} figures in the notebook, {len(images)} on the page"
    )
    for img in images:
        assert (HTML / doc).parent.joinpath(img["src"]).resolve().is_file(), (
            f"{doc}: broken image {img['src']}"
        )
    repo = _repository_url().removeprefix("https://github.com/")
    colab = f"https://colab.research.google.com/github/{repo}/blob/main/{doc}.ipynb"
    assert any(a.get("href") == colab for a in page.find_all("a")), (
        f"{doc}: no Colab launch link {colab}"
    )


@pytest.mark.parametrize("doc", _toc_files())
def test_navigation_reaches_every_page(rendered, doc):
    nav = rendered[doc].select_one("nav.bd-docs-nav") or rendered[doc]
    hrefs = {a["href"].split("#")[0] for a in nav.find_all("a", href=True)}
    base = (HTML / doc).parent
    targets = {(base / h).resolve() for h in hrefs if h and not h.startswith("http")}
    for other in _toc_files():
        assert (HTML / f"{other}.html").resolve() in targets or other == doc, (
            f"{doc}: no link to {other}"
        )
    for target in targets:
        assert target.exists(), f"{doc}: navigation link to missing {target}"


@pytest.mark.parametrize(
    "doc", [d for d in _toc_files() if (ROOT / f"{d}.ipynb").exists()]
)
def test_computed_tables_render_as_tables(rendered, doc):
    """Every table a notebook displays is a <table> on the page, never a paragraph of pipes."""
    article = rendered[doc].find("article") or rendered[doc]
    expected = len(_html_outputs(doc, "<table"))
    assert len(article.select("div.cell_output table")) == expected, (
        f"{doc}: {expected} tables displayed in the notebook, {len(article.select('div.cell_output table'))} on the page"
    )
    assert "|---" not in article.get_text(), (
        f"{doc}: a Markdown table rule is shown as text"
    )
    assert "PosixPath" not in article.get_text(), (
        f"{doc}: a path object is shown on the page"
    )


CHAPTERS = [d for d in _toc_files() if (ROOT / f"{d}.ipynb").exists()]


@pytest.mark.parametrize("doc", CHAPTERS)
def test_every_chapter_ends_with_a_summary_and_exercises(rendered, doc):
    article = rendered[doc].find("article") or rendered[doc]
    # "5.9. Summary": the book numbers its chapters' sections
    headings = [
        re.sub(r"^[\d.]+\s+", "", h.get_text(" ", strip=True).rstrip("#").strip())
        for h in article.find_all("h2")
    ]
    assert "Summary" in headings, f"{doc}: no Summary section (h2 headings: {headings})"
    exercises = article.select("div.exercise")
    assert len(exercises) >= 2, (
        f"{doc}: {len(exercises)} exercise blocks, at least 2 expected"
    )
    solutions = article.select("div.solution")
    assert len(solutions) >= len(exercises), f"{doc}: an exercise has no solution"
    assert all(
        "dropdown" in s.get("class", []) or s.find_parent("details") for s in solutions
    ), f"{doc}: solutions must be collapsed"


@pytest.mark.parametrize("doc", CHAPTERS)
def test_no_plumbing_or_machine_paths_on_the_page(rendered, doc):
    article = rendered[doc].find("article") or rendered[doc]
    text = article.get_text()
    for needle in (
        "PosixPath",
        "/work/",
        "/root/",
        "/home/",
        "/tmp/",
        "Traceback",
        "%pip install",
        "NBVAL",
    ):
        assert needle not in text, f"{doc}: {needle!r} appears on the page"


@pytest.mark.parametrize("doc", _toc_files())
def test_figures_fit_the_column_and_code_does_not_scroll(rendered, doc):
    """No figure is shrunk to fit (its fonts, 9 pt and up at 100 dpi, stay legible); no code
    cell, printed output or display equation hides text to the right of the column."""
    page = rendered[doc]
    assert page.body.get("data-probed") == "yes", f"{doc}: the layout probe did not run"
    article = page.find("article") or page
    for img in article.select("img[data-natural-width]"):
        natural, drawn = (
            float(img["data-natural-width"]),
            float(img["data-drawn-width"]),
        )
        if "_images/" in img.get("src", ""):  # the notebooks' figures
            assert drawn >= natural - 1, (
                f"{doc}: a {natural:.0f} px figure is shrunk to {drawn:.0f} px "
                f"({img['src']}); draw it at lec16.plots.COLUMN_INCHES or split it"
            )
    scrolling = [
        pre.get_text()[:60] for pre in article.select('pre[data-overflows="true"]')
    ]
    assert not scrolling, f"{doc}: code or output wider than the column: {scrolling}"
    clipped = [
        eq.get_text()[:60]
        for eq in article.select('mjx-container[data-overflows="true"]')
    ]
    assert not clipped, f"{doc}: display equations wider than the column: {clipped}"


@pytest.mark.parametrize(
    "doc",
    [
        "notebooks/01_em_and_the_bound",
        "notebooks/17_gan_theory",
        "notebooks/15_diffusion",
    ],
)
def test_animations_are_embedded_and_playable(rendered, doc):
    """EM's iterations, the 1-D GAN game and the swiss roll's diffusion move: JavaScript
    animations (no ffmpeg), < 3 MB each."""
    movies = _html_outputs(doc, 'class="animation"')
    assert movies, f"{doc}: the notebook displays no animation"
    assert all(len(m.encode()) < 3e6 for m in movies), (
        f"{doc}: an animation is over 3 MB"
    )
    article = rendered[doc].find("article") or rendered[doc]
    players = article.select("div.animation")
    assert len(players) == len(movies), (
        f"{doc}: {len(movies)} animations, {len(players)} players on the page"
    )
    for player in players:
        frame = player.find("img")
        assert frame is not None and frame.get("src", "").startswith(
            "data:image/png"
        ), f"{doc}: the animation shows no frame (its script did not run)"
        assert player.find("button") or player.find("input"), f"{doc}: no play controls"


def test_bibliography_labels_follow_the_author_year_citations(rendered):
    """Citations read "Burda et al., 2016"; the bibliography's labels must read the same."""
    import re

    labels = [
        label.get_text(strip=True).strip("[]")
        for label in rendered["book/references"].select("div.citation span.label")
    ]
    assert labels, "the references page lists no works"
    pattern = re.compile(r"^[^\d,]+(?: et al\.| and [^\d,]+)?, \d{4}[a-z]?$")
    assert all(pattern.match(label) for label in labels), labels


@pytest.mark.parametrize("doc", _toc_files())
def test_pages_read_in_one_sitting(rendered, doc):
    """At most MAX_SCREENS screens of SCREEN, and at most MAX_CODE_LINES lines of visible code."""
    body = rendered[doc].body
    screens = int(body["data-page-height"]) / SCREEN[1]
    assert screens <= MAX_SCREENS, (
        f"{doc}: {screens:.1f} screens at {SCREEN[0]} px; split it along the slides' seams"
    )
    lines = int(body["data-code-lines"])
    assert lines <= MAX_CODE_LINES, (
        f"{doc}: {lines} visible code lines; tag figure and table cells hide-input"
    )


@pytest.mark.parametrize("doc", CHAPTERS)
def test_every_figure_has_a_numbered_caption(rendered, doc):
    article = rendered[doc].find("article") or rendered[doc]
    for img in article.select("div.cell_output img"):
        figure = img.find_parent("figure")
        number = figure and figure.select_one("figcaption .caption-number")
        assert number and re.match(r"Fig\. [\d.]+", number.get_text(strip=True)), (
            f"{doc}: a figure without a numbered caption ({img.get('src', '')[:60]}); "
            "give its cell metadata mystnb.figure.caption and .name"
        )
        text = figure.select_one("figcaption .caption-text")
        assert text and len(text.get_text(strip=True)) > 20, (
            f"{doc}: figure {number.get_text(strip=True)} has no caption that says what to see"
        )


@pytest.mark.parametrize("doc", CHAPTERS)
def test_no_result_table_is_folded(rendered, doc):
    article = rendered[doc].find("article") or rendered[doc]
    folded = [
        d.get_text(" ", strip=True)[:60]
        for d in article.select("details")
        if d.select("div.cell_output table")
    ]
    assert not folded, f"{doc}: a result table is folded away: {folded}"


def _prose(article):
    """The page's running text: no code, no outputs, no typeset math."""
    article = BeautifulSoup(str(article), "html.parser")
    for node in article.select("pre, code, div.cell_output, mjx-container, script"):
        node.decompose()
    return article.get_text(" ")


@pytest.mark.parametrize("doc", _toc_files())
def test_prose_names_chapters_by_link_and_leaves_no_raw_markup(rendered, doc):
    text = _prose(rendered[doc].find("article") or rendered[doc])
    by_number = re.findall(
        r"\b(?:notebook|chapter)s? \d{2}\b|\b\d{2}_[a-z]+_?[a-z_]*\b", text
    )
    assert not by_number, f"{doc}: a chapter named by its file number: {by_number}"
    for raw in ("$", "\\begin", "{\\"):
        at = text.find(raw)
        assert at < 0, (
            f"{doc}: raw markup {raw!r} in the text: {text[max(0, at - 40) : at + 40]!r}"
        )


@pytest.mark.parametrize("doc", _toc_files())
def test_tables_fit_the_column(rendered, doc):
    article = rendered[doc].find("article") or rendered[doc]
    wide = [
        t.get_text(" ", strip=True)[:60]
        for t in article.select('table[data-overflows="true"]')
    ]
    assert not wide, f"{doc}: tables wider than the column (clipped): {wide}"
