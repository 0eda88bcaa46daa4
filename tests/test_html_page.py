"""The static HTML leaderboard in a real headless Chromium, driven by Playwright (sync API) with the
machine's own browser (Debian's /usr/bin/chromium, or VBENCH_TEST_BROWSER; Playwright downloads
nothing). The page is opened as a user opens it: the published folder's index.html as a file://
URL, and served over HTTP on 127.0.0.1. In the browser: it renders; clicking a heading sorts the
rows by that column (numbers by value, text by its lower-case form, missing values last both ways,
a second click reverses, aria-sort marks the column); every image (the figures) loads, and so does
every sample grid and figure it links; no console error, page error, dialog or failed request; a
stainer registered as an <img onerror> tag shows as text. The browser starts once per module
(each test gets a fresh context). Without Playwright or a browser the tests skip, and fail under
CI=true."""

from __future__ import annotations

import functools
import io
import json
import os
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest

from vbench.report import build_leaderboard
from vbench.report.publish import publish, write_page
from vbench.stats import summarize
from vbench.store import Store

pytestmark = pytest.mark.slow  # a real browser

XSS = "<img src=x onerror=alert(1)>"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
PAD, CELL = 4, 24  # the sample grid's layout (as vbench.run.sample_grid writes it)


def add(store, name, psnr, ms, artifacts: Path | None = None, ssim: float | None = None):
    run_id = store.create_run(
        stainer=name,
        run_key=name,
        vbench_version="0",
        dataset="qpi-he",
        manifest_hash="m",
        seed=0,
        device="cpu",
        threads=2,
        hardware={"cpu": "Test CPU"},
        artifacts=str(artifacts) if artifacts else None,
    )
    values = {"psnr": [psnr + 0.05 * i for i in range(6)]}
    if ssim is not None:
        values["ssim"] = [ssim + 0.01 * i for i in range(6)]
    store.finish_run(
        run_id,
        [(m, f"t{i}", v) for m, vs in values.items() for i, v in enumerate(vs)],
        [
            dict(metric=m, higher_is_better=True, pipeline="p", status="computed", reason=None, **summarize(vs))
            for m, vs in values.items()
        ],
        infer_ms_p50=ms,
    )


def sample_grid(folder: Path, shade: int) -> Path:
    """A run's samples.png (input | output | target for three tiles) and its samples.json."""
    from PIL import Image

    folder.mkdir(parents=True)
    kinds = ("input", "output", "target")
    canvas = Image.new("RGB", (PAD + len(kinds) * (CELL + PAD), PAD + 3 * (CELL + PAD)), "white")
    rows = []
    for i in range(3):
        cells = {}
        for j, kind in enumerate(kinds):
            y, x = PAD + i * (CELL + PAD), PAD + j * (CELL + PAD)
            colour = (shade if kind == "output" else 40 * i, 90 + 50 * j, 200 - 60 * i)
            canvas.paste(Image.new("RGB", (CELL, CELL), colour), (x, y))
            cells[kind] = [y, x, CELL, CELL]
        rows.append({"tile": f"t{i}", "cells": cells})
    canvas.save(folder / "samples.png")
    (folder / "samples.json").write_text(json.dumps({"image": "samples.png", "rows": rows}))
    return folder


@pytest.fixture
def board_page(tmp_path):
    """`vbench leaderboard -f html -o DIR` of four runs, one named as an HTML tag: no figures."""
    store = Store(f"sqlite:///{tmp_path / 'page.db'}")
    add(store, "alpha", 30.0, 50.0)
    add(store, XSS, 25.0, 5.0)
    add(store, "beta", 20.0, None)  # no latency: sorts last both ways
    add(store, "gamma", 10.0, 500.0)
    out = tmp_path / "site"
    write_page(store, build_leaderboard(store), out)
    return out / "index.html"


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """`vbench publish DIR`: five runs with sample grids, so the page shows the qualitative grid,
    quality-vs-latency and per-tile score figures and links each run's samples."""
    root = tmp_path_factory.mktemp("published")
    store = Store(f"sqlite:///{root / 'runs.db'}")
    # rank order (by PSNR) differs from every other column's order
    for i, (name, psnr, ms, ssim) in enumerate(
        [
            ("alpha", 30.0, 50.0, 0.61),
            ("Zeta", 27.0, 5.0, None),  # capital Z: text sorts by lower case
            (XSS, 25.0, None, 0.72),  # no latency, and a hostile name in the figures' text
            ("beta", 20.0, 0.5, 0.83),
            ("gamma", 10.0, 120.0, 0.40),  # "120" < "5" as text: numbers must sort by value
        ]
    ):
        add(store, name, psnr, ms, sample_grid(root / "artifacts" / f"run{i}", 60 * i), ssim)
    site = root / "site"
    publish(store, site, label="browser test")
    (board,) = json.loads((site / "leaderboard.json").read_text())
    assert {f["kind"] for f in board["figures"]} == {"grid", "pareto", "scores"}
    assert all(len(row["samples"]) == 1 for row in board["rows"])
    return site


class Server(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # quiet
        pass


@pytest.fixture(scope="module")
def served(published):
    """The published folder served over HTTP on 127.0.0.1 only: its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Server, directory=str(published)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


# --- the browser ---------------------------------------------------------------------------------


def find_browser() -> str | None:
    env = os.environ.get("VBENCH_TEST_BROWSER")
    if env:
        return env
    return next((p for p in map(shutil.which, BROWSERS) if p), None)


@pytest.fixture(scope="module")
def browser(prerequisite):
    """One headless Chromium per module (per xdist worker), the machine's own: never downloaded."""
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        prerequisite("Playwright is not installed (pip install -e '.[dev]')")
    exe = find_browser()
    if exe is None:
        prerequisite("no Chromium found (Debian: apt-get install chromium; or set VBENCH_TEST_BROWSER)")
    pw = sync_playwright().start()
    try:
        b = pw.chromium.launch(executable_path=exe, headless=True, args=["--disable-gpu"])
    except Error as exc:
        pw.stop()
        prerequisite(f"Chromium ({exe}) did not start: {exc}")
    yield b
    b.close()
    pw.stop()


class Watch:
    """What went wrong in a page: console errors, uncaught exceptions, failed requests, error
    responses, and JavaScript dialogs (each dismissed, so the page keeps running)."""

    def __init__(self):
        self.console, self.errors, self.failed, self.dialogs = [], [], [], []

    def attach(self, page):
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("requestfailed", lambda r: self.failed.append(f"{r.url}: {r.failure}"))
        page.on("response", lambda r: r.status >= 400 and self.failed.append(f"{r.url}: HTTP {r.status}"))
        page.on("dialog", self._dialog)
        return page

    def _console(self, message):
        # The page declares an empty icon, but a picture opened by itself (a sample grid, a
        # figure's SVG) is a document without one: Chromium then asks the server for
        # /favicon.ico by itself and logs its 404 (not a request of the page).
        if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
            self.console.append(f"{message.text} ({message.location})")

    def _dialog(self, dialog):
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    @property
    def problems(self) -> dict:
        return {
            k: v
            for k, v in dict(console=self.console, errors=self.errors, failed=self.failed, dialogs=self.dialogs).items()
            if v
        }


@pytest.fixture
def tabs(browser):
    """``tabs()``: a new page in a fresh context (its own cache and storage), watched
    (``page.watch``); closed after the test."""
    contexts = []

    def new():
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(30_000)
        contexts.append(context)
        page = context.new_page()
        page.watch = Watch()
        return page.watch.attach(page)

    yield new
    for context in contexts:
        context.close()


# --- what a user sees ----------------------------------------------------------------------------


def names(page) -> list[str]:
    return page.eval_on_selector_all("table.board tbody tr", "rows => rows.map(r => r.cells[1].textContent)")


def headings(page) -> list[str]:
    return page.eval_on_selector_all("table.board thead th", "ths => ths.map(th => th.textContent)")


def aria_sort(page) -> list[str | None]:
    return page.eval_on_selector_all("table.board thead th", "ths => ths.map(th => th.getAttribute('aria-sort'))")


def sort_key(value: str | None, kind: str):
    """The order the page promises (static/page.js): numbers by value, text by its lower-case
    form; None for a missing value."""
    if value is None or value == "":
        return None
    if kind == "number":
        try:
            return float(value)
        except ValueError:
            return None
    return value.lower()


def assert_sorted(keys: list, ascending: bool, what: str):
    present = [k for k in keys if k is not None]
    assert keys == present + [None] * (len(keys) - len(present)), f"{what}: missing values not last: {keys}"
    assert present == sorted(present, reverse=not ascending), f"{what}: not {'as' if ascending else 'des'}cending"


def click_heading(page, col: int):
    page.locator("table.board thead th").nth(col).get_by_role("button").click()


TABLE_STATE = """table => ({
    heads: Array.from(table.tHead.rows[0].cells).map(th => ({
        text: th.textContent, type: th.getAttribute('data-type'), sort: th.getAttribute('aria-sort')})),
    rows: Array.from(table.tBodies[0].rows).map(
        r => Array.from(r.cells).map(c => [c.textContent, c.getAttribute('data-value')])),
})"""


def check_every_column_sorts(page):
    """Clicks each sortable heading twice (a real mouse click) and reads the table after each
    click: sorted by that column (ascending first, the second click reverses; a column already
    sorted ascending starts descending), missing values last both ways, rows kept whole, aria-sort
    on that column only. The clicks must give several different row orders."""
    table = page.locator("table.board")
    start = table.evaluate(TABLE_STATE)
    sortable = [i for i, h in enumerate(start["heads"]) if h["type"]]
    assert len(sortable) >= 5, start["heads"]
    orders = {tuple(r[1][0] for r in start["rows"])}
    for col in sortable:
        kind = start["heads"][col]["type"]
        first = table.evaluate(TABLE_STATE)["heads"][col]["sort"] != "ascending"
        for ascending in (first, not first):
            click_heading(page, col)
            now = table.evaluate(TABLE_STATE)
            what = f"after clicking {now['heads'][col]['text']!r}"
            assert sorted(map(json.dumps, now["rows"])) == sorted(map(json.dumps, start["rows"])), f"{what}: rows"
            assert_sorted([sort_key(r[col][1], kind) for r in now["rows"]], ascending, what)
            marks = [h["sort"] for h in now["heads"]]
            assert marks[col] == ("ascending" if ascending else "descending"), (what, marks)
            assert all(m in (None, "none") for i, m in enumerate(marks) if i != col), (what, marks)
            orders.add(tuple(r[1][0] for r in now["rows"]))
    assert len(orders) >= 4, "the row order hardly changed: does clicking a heading sort at all?"


def check_images_load(page) -> int:
    """Scrolls to every <img> (they load lazily), waits until it has loaded or failed, and checks
    it decoded to a picture. Returns how many there are."""
    imgs = page.locator("img")
    for i in range(imgs.count()):
        img = imgs.nth(i)
        img.scroll_into_view_if_needed()
        page.wait_for_function("e => e.complete", arg=img.element_handle())
        width = img.evaluate("e => e.naturalWidth")
        assert width > 0, f"image {img.get_attribute('src')} did not load"
    return imgs.count()


def check_links(page, url: str, watch: Watch) -> list[str]:
    """Every link of the page: an anchor names an element of the page, a file exists, and each
    linked image (sample grids, figures' PNG and SVG) opens in the browser as a picture."""
    hrefs = page.eval_on_selector_all("a[href]", "as => as.map(a => a.getAttribute('href'))")
    pictures = []
    for href in hrefs:
        if href.startswith("#"):
            assert page.locator(f"[id='{href[1:]}']").count() == 1, href
            continue
        target = urljoin(url, href)
        if target.startswith("file:"):
            assert Path(unquote(urlsplit(target).path)).is_file(), href
        if href.lower().endswith((".png", ".jpg", ".jpeg", ".svg")):
            pictures.append(target)
    other = watch.attach(page.context.new_page())
    for target in dict.fromkeys(pictures):
        response = other.goto(target)
        assert response is None or response.ok, target
        if target.endswith(".svg"):
            box = other.evaluate(
                "(() => { const e = document.documentElement; if (e.localName !== 'svg') return null;"
                " const b = e.getBBox(); return {width: b.width, height: b.height}; })()"
            )
            assert box and box["width"] > 0 and box["height"] > 0, target
        else:
            assert other.evaluate("document.images.length === 1 && document.images[0].naturalWidth") > 0, target
    other.close()
    return pictures


# --- tests ---------------------------------------------------------------------------------------


def test_page_renders_sorts_and_shows_hostile_names_as_text(board_page, tabs, tmp_path):
    page = tabs()
    page.goto(board_page.as_uri())
    shot = page.screenshot()
    (tmp_path / "screenshot.png").write_bytes(shot)
    from PIL import Image

    img = Image.open(io.BytesIO(shot)).convert("L")
    assert img.size[0] > 600 and len(img.getcolors(1 << 16) or []) > 20, "the screenshot is blank"
    lo, hi = img.getextrema()
    assert hi - lo > 150

    assert names(page) == ["alpha", XSS, "beta", "gamma"]  # server-side order: by rank
    heads = headings(page)
    latency = heads.index("ms/tile p50")
    click_heading(page, latency)
    assert names(page) == [XSS, "alpha", "gamma", "beta"]
    assert aria_sort(page)[latency] == "ascending"
    click_heading(page, latency)
    assert names(page) == ["gamma", "alpha", XSS, "beta"]  # missing latency still last
    assert aria_sort(page)[latency] == "descending"
    assert aria_sort(page)[0] == "none"
    click_heading(page, heads.index("method"))
    assert names(page) == [XSS, "alpha", "beta", "gamma"]  # text order ("<" sorts first)

    assert page.watch.dialogs == [], page.watch.dialogs
    assert page.watch.problems == {}
    assert page.locator("img").count() == 0
    assert page.locator("td.name").evaluate_all(f"tds => tds.some(td => td.textContent === {json.dumps(XSS)})")
    data = page.evaluate("JSON.parse(document.getElementById('vbench-data').textContent)")
    assert any(r["stainer"] == XSS for r in data[0]["rows"])


def check_published_page(page, url: str):
    page.goto(url)
    assert names(page)[0] == "alpha" and len(names(page)) == 5
    assert aria_sort(page)[0] == "ascending"  # ranked by the primary metric, server-side

    check_every_column_sorts(page)

    data = page.evaluate("JSON.parse(document.getElementById('vbench-data').textContent)")
    figures = data[0]["figures"]
    assert check_images_load(page) == len(figures) == 3
    srcs = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.getAttribute('src'))")
    assert srcs == [f["path"] for f in figures]
    alts = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.alt)")
    assert [a.split()[0] for a in alts] == ["grid", "pareto", "scores"]

    pictures = check_links(page, url, page.watch)
    assert sum("/samples/run-" in p for p in pictures) == 5  # each run's sample grid
    assert sum("/figures/" in p for p in pictures) == 6  # each figure's PNG and SVG

    assert page.locator("td.name").evaluate_all(f"tds => tds.some(td => td.textContent === {json.dumps(XSS)})")
    assert page.watch.problems == {}, (url, page.watch.problems)


def test_published_page_sorts_by_every_column_and_loads_every_image(tabs, published, served):
    """The published folder's page, opened from the folder (file://) and from a local server."""
    check_published_page(tabs(), (published / "index.html").as_uri())
    check_published_page(tabs(), served + "index.html")


def test_page_is_readable_without_javascript_and_loads_nothing_from_the_network(board_page):
    html = board_page.read_text()
    assert html.count("<table") == 1 and "<td" in html and "alpha" in html
    assert "http://" not in html and "https://" not in html
    assert "Content-Security-Policy" in html and "script-src 'sha256-" in html.replace("&#x27;", "'")
    assert (board_page.parent / "leaderboard.json").is_file()


def test_hostile_urls_from_a_leaderboard_json_link_nowhere_outside_the_folder(board_page, tabs):
    """Every figure and sample path of the JSON set to a javascript:, data:, absolute, remote or
    ..-climbing URL: in the browser, each link and image the page has resolves inside its folder."""
    from vbench.report.publish import render_files

    site = board_page.parent
    data = json.loads((site / "leaderboard.json").read_text())
    urls = ["javascript:alert(1)", "data:text/html,<script>alert(2)</script>", "/etc/passwd", "file:///etc/passwd"]
    urls += ["http://127.0.0.1:9/x.png", "//127.0.0.1:9/x.png", "../../x.png", "java\tscript:alert(3)"]
    data[0]["figures"] = [{"kind": "grid", "path": u, "svg": u, "caption": "<b onclick=alert(4)>c</b>"} for u in urls]
    for row in data[0]["rows"]:
        row["samples"] = {str(i): u for i, u in enumerate(urls)}
    (site / "index.html").write_text(render_files(data, only=("index.html",))["index.html"])
    page = tabs()
    page.goto(board_page.as_uri())
    resolved = page.eval_on_selector_all("a[href], img[src], link[href]", "es => es.map(e => e.href || e.src)")
    folder = site.as_uri() + "/"
    outside = [u for u in resolved if not u.startswith(folder) and u != "data:,"]
    assert outside == [], outside
    assert page.locator("img").count() == 0 and names(page)[0] == "alpha"
    assert page.watch.problems == {}, page.watch.problems
