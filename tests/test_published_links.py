"""A published page links only to files inside its folder: a ``javascript:``, ``data:``, absolute,
remote or ``..``-climbing URL from any input (a figure or sample path in a leaderboard.json given to
``vbench publish --from-json``) gets no link, and every text and attribute value from the JSON is
escaped for its context (checked by parsing the page, and the README's Markdown links)."""

from __future__ import annotations

import copy
import json
import re
from html.parser import HTMLParser
from urllib.parse import unquote, urljoin, urlsplit

import pytest

from vbench.cli import main
from vbench.report import build_leaderboard
from vbench.report.escape import relative_url
from vbench.report.publish import render_files, to_json
from vbench.stats import summarize
from vbench.store import Store

HOSTILE_URLS = [
    "javascript:alert(1)",
    " JaVaScRiPt:alert(2)",
    "java\tscript:alert(3)",
    "java\nscript:alert(3)",
    "\x01javascript:alert(4)",
    "vbscript:msgbox(5)",
    "data:text/html,<script>alert(6)</script>",
    "data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoNyk+",
    "/etc/passwd",
    "file:///etc/passwd",
    "http://evil.example/x.png",
    "https://evil.example/x.png",
    "//evil.example/x.png",
    "../../../etc/passwd",
    "figures/../../x.png",
    "samples/./../x.jpg",
    "C:\\Windows\\x.png",
    "\\\\server\\share\\x.png",
    "figures\\..\\..\\x.png",
    "x.png?#javascript:alert(8)",
    "",
    "\u202ejpg.exe",
]
TEXT = '"><img src=x onerror=alert(9)><a href="javascript:alert(10)">'


def test_relative_url_keeps_files_inside_the_folder_and_refuses_the_rest():
    assert relative_url("samples/run-1.jpg") == "samples/run-1.jpg"
    assert relative_url("figures/a b#1?.png") == "figures/a%20b%231%3F.png"
    assert relative_url('fig"><x>.png') == "fig%22%3E%3Cx%3E.png"
    assert relative_url("%2e%2e/x.png") == "%252e%252e/x.png"  # a literal file name, not a climb
    for url in HOSTILE_URLS:
        assert relative_url(url) is None, url
    assert relative_url(None) is None and relative_url(["a"]) is None and relative_url(3) is None


@pytest.fixture(scope="module")
def valid_json(tmp_path_factory) -> list[dict]:
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('links') / 'x.db'}")
    for name, base in (("a", 20.0), ("b", 25.0)):
        rid = store.create_run(
            stainer=name, run_key=name, vbench_version="0", dataset="ds", manifest_hash="m", seed=0, device="cpu"
        )
        values = [base + 0.1 * i for i in range(5)]
        store.finish_run(
            rid,
            [("psnr", f"t{i}", v) for i, v in enumerate(values)],
            [
                dict(
                    metric="psnr",
                    status="computed",
                    reason=None,
                    higher_is_better=True,
                    pipeline="p",
                    **summarize(values),
                )
            ],
            infer_ms_p50=1.0,
        )
    return json.loads(to_json(build_leaderboard(store)))


def poison(value, keys: bool = False):
    """Markup before every string of the JSON (and, with ``keys``, of its dict's keys)."""
    if isinstance(value, str):
        return TEXT + value
    if isinstance(value, list):
        return [poison(v) for v in value]
    if isinstance(value, dict):
        return {(TEXT + k if keys else k): poison(v) for k, v in value.items()}
    return value


def hostile(data: list[dict]) -> list[dict]:
    """Markup in every text field (metric names included), and each hostile URL in every URL field."""
    data = poison(copy.deepcopy(data))
    board = data[0]
    for field in ("metrics", "hidden"):
        board[field] = poison(board[field], keys=True)
    for row in board["rows"]:
        row["metrics"] = poison(row["metrics"], keys=True)
        row["not_computed"] = poison(row["not_computed"], keys=True)
    board["figures"] = [
        {"kind": TEXT, "path": url, "svg": HOSTILE_URLS[-1 - i], "caption": TEXT} for i, url in enumerate(HOSTILE_URLS)
    ]
    board["figures"].append({"kind": "grid", "path": "figures/ok.png", "svg": "javascript:alert(11)", "caption": "ok"})
    for row in board["rows"]:
        row["samples"] = {str(i): url for i, url in enumerate(HOSTILE_URLS)} | {"99": "samples/run-1.jpg"}
        row["not_computed"] |= {TEXT: TEXT}
    return data


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls, self.tags, self.handlers = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name.startswith("on"):
                self.handlers.append((tag, name, value))
            if name in ("href", "src", "action", "formaction", "srcset", "poster", "data"):
                self.urls.append((tag, dict(attrs), value))


def assert_inside(url: str, where: str) -> None:
    base = "file:///site/index.html"
    target = urljoin(base, url)
    assert target.startswith("file:///site/"), (where, url)
    parts = urlsplit(url)
    assert not parts.scheme and not parts.netloc and not url.startswith("/"), (where, url)
    assert ".." not in unquote(parts.path).split("/") and "\\" not in url, (where, url)


def check_page(html: str) -> Links:
    links = Links()
    links.feed(html)
    assert links.handlers == [], links.handlers  # no attribute was broken out of
    assert links.tags.count("script") == 2 and links.tags.count("img") == 1, links.tags  # only figures/ok.png
    for tag, attrs, url in links.urls:
        if url.startswith("#") or (tag == "link" and attrs.get("rel") == "icon" and url == "data:,"):
            continue  # the page's own anchors and its empty icon
        assert_inside(url, tag)
    assert "/etc/passwd" not in html.split('id="vbench-data"')[0]  # only in the JSON, never as a link
    return links


def check_readme(md: str) -> None:
    for url in re.findall(r"\]\(([^)]*)\)", md):
        assert_inside(url, "README")
    assert "<img" not in md and "<a " not in md  # the text's markup as entities


def test_hostile_urls_and_text_in_a_leaderboard_json_never_become_links(valid_json):
    files = render_files(hostile(valid_json))
    links = check_page(files["index.html"])
    hrefs = [u for t, _, u in links.urls if t == "a"]
    assert "figures/ok.png" in hrefs and hrefs.count("samples/run-1.jpg") == 2  # the valid ones stay linked
    assert "&quot;&gt;&lt;img src=x onerror=alert(9)&gt;" in files["index.html"]
    check_readme(files["README.md"])


def test_publish_from_json_with_hostile_urls(valid_json, tmp_path, capsys):
    source = tmp_path / "hostile.json"
    source.write_text(json.dumps(hostile(valid_json)))
    code = main(["publish", str(tmp_path / "site"), "--from-json", str(source)])
    err = capsys.readouterr().err
    assert code in (0, 2), err  # published without the links, or refused with a message
    if code == 0:
        check_page((tmp_path / "site" / "index.html").read_text())
        check_readme((tmp_path / "site" / "README.md").read_text())
    else:
        assert "Traceback" not in err and not (tmp_path / "site" / "index.html").exists()
