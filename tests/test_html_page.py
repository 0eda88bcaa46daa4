"""The static HTML leaderboard in a real headless Chromium (driven over the DevTools protocol,
tests/chromium.py): it renders, clicking a heading reorders the rows (numbers by value, missing
values last, aria-sort), and a stainer registered as an <img onerror> tag shows as text with no
dialog fired. Without a browser the test skips, and fails under CI=true."""

from __future__ import annotations

import importlib.util
import io
import json
from pathlib import Path

import pytest

from vbench.report import build_leaderboard
from vbench.report.publish import write_page
from vbench.stats import summarize
from vbench.store import Store

XSS = "<img src=x onerror=alert(1)>"
_spec = importlib.util.spec_from_file_location("vbench_test_chromium", Path(__file__).with_name("chromium.py"))
chromium = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(chromium)


def add(store, name, psnr, ms):
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
    )
    values = [psnr + 0.05 * i for i in range(6)]
    store.finish_run(
        run_id,
        [("psnr", f"t{i}", v) for i, v in enumerate(values)],
        [dict(metric="psnr", higher_is_better=True, pipeline="p", status="computed", reason=None, **summarize(values))],
        infer_ms_p50=ms,
    )


@pytest.fixture
def page(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'page.db'}")
    add(store, "alpha", 30.0, 50.0)
    add(store, XSS, 25.0, 5.0)
    add(store, "beta", 20.0, None)  # no latency: sorts last both ways
    add(store, "gamma", 10.0, 500.0)
    out = tmp_path / "site"
    write_page(store, build_leaderboard(store), out)
    return out / "index.html"


@pytest.fixture
def browser(prerequisite):
    exe = chromium.find_browser()
    if exe is None:
        prerequisite("no Chromium found (Debian: apt-get install chromium; or set VBENCH_TEST_BROWSER)")
    try:
        b = chromium.Browser(exe)
    except (OSError, chromium.BrowserError) as exc:
        prerequisite(f"Chromium ({exe}) did not start: {exc}")
    yield b
    b.close()


def names(b) -> list[str]:
    return b.js("Array.from(document.querySelector('table.board').tBodies[0].rows).map(r => r.cells[1].textContent)")


def test_page_renders_sorts_and_shows_hostile_names_as_text(page, browser, tmp_path):
    browser.open(page.as_uri())
    shot = browser.screenshot()
    (tmp_path / "screenshot.png").write_bytes(shot)
    from PIL import Image

    img = Image.open(io.BytesIO(shot)).convert("L")
    assert img.size[0] > 600 and len(img.getcolors(1 << 16) or []) > 20, "the screenshot is blank"
    lo, hi = img.getextrema()
    assert hi - lo > 150

    assert names(browser) == ["alpha", XSS, "beta", "gamma"]  # server-side order: by rank
    heads = browser.js("Array.from(document.querySelector('table.board').tHead.rows[0].cells).map(c => c.textContent)")
    latency = heads.index("ms/tile p50") + 1
    browser.click(f"table.board thead th:nth-child({latency}) button")
    assert names(browser) == [XSS, "alpha", "gamma", "beta"]
    assert (
        browser.js(f"document.querySelector('table.board thead th:nth-child({latency})').getAttribute('aria-sort')")
        == "ascending"
    )
    browser.click(f"table.board thead th:nth-child({latency}) button")
    assert names(browser) == ["gamma", "alpha", XSS, "beta"]  # missing latency still last
    assert browser.js("document.querySelector('table.board thead th').getAttribute('aria-sort')") == "none"
    method = heads.index("method") + 1
    browser.click(f"table.board thead th:nth-child({method}) button")
    assert names(browser) == [XSS, "alpha", "beta", "gamma"]  # text order ("<" sorts first)

    assert browser.dialogs == [], browser.dialogs
    assert browser.errors() == []
    assert browser.js("document.querySelectorAll('img').length") == 0
    assert browser.js(
        f"Array.from(document.querySelectorAll('td.name')).some(td => td.textContent === {json.dumps(XSS)})"
    )
    data = browser.js("JSON.parse(document.getElementById('vbench-data').textContent)")
    assert any(r["stainer"] == XSS for r in data[0]["rows"])


def test_page_is_readable_without_javascript_and_loads_nothing_from_the_network(page):
    html = page.read_text()
    assert html.count("<table") == 1 and "<td" in html and "alpha" in html
    assert "http://" not in html and "https://" not in html
    assert "Content-Security-Policy" in html and "script-src 'sha256-" in html.replace("&#x27;", "'")
    assert (page.parent / "leaderboard.json").is_file()
