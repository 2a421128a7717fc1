"""Security of the page: every dashboard string escaped, text sanitized, strict CSP, safe links."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Any

import pytest

from snapshot_server.viewer import content_security_policy, render_error_page
from snapshot_server.viewer.render import ASSET_VERSION, safe_link
from tests.viewer.dashboards import render_dashboard as render

EVIL = "<script>window.__pwned=1</script>\"'><img src=x onerror=alert(1)>"
T = [1_763_780_400_000 + i * 60_000 for i in range(3)]


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text of every <script>."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)


def parse(html: str) -> Tags:
    parser = Tags()
    parser.feed(html)
    return parser


def evil_dashboard() -> dict[str, Any]:
    frame = {
        "fields": [
            {"name": "time", "type": "time", "values": T},
            {"name": EVIL, "type": "number", "values": [1, 2, 3], "config": {"unit": EVIL}},
            {"name": "host", "type": "string", "values": [EVIL, "a", "b"]},
        ]
    }
    panel = {"title": EVIL, "description": EVIL, "snapshotData": [frame], "gridPos": {"w": 12}}
    return {
        "title": EVIL,
        "tags": [EVIL],
        "snapshot": {"originalUrl": "javascript:alert(1)"},
        "panels": [
            {
                **panel,
                "type": "timeseries",
                "fieldConfig": {
                    "defaults": {
                        "color": {"mode": "fixed", "fixedColor": "url(http://203.0.113.1/x)"}
                    }
                },
            },
            {**panel, "type": "stat"},
            {**panel, "type": "table"},
            {**panel, "type": EVIL},
            {
                "type": "row",
                "title": EVIL,
                "collapsed": True,
                "panels": [{**panel, "type": "stat"}],
            },
            {"type": "text", "title": "t", "options": {"mode": "html", "content": EVIL}},
        ],
    }


def test_every_dashboard_string_is_escaped() -> None:
    html = render(evil_dashboard(), name=EVIL)
    parsed = parse(html)
    assert all(tag != "img" for tag, _ in parsed.tags)
    assert all("onerror" not in attrs for _, attrs in parsed.tags)
    assert "<script>window.__pwned" not in html
    assert html.count("&lt;script&gt;window.__pwned=1&lt;/script&gt;") >= 6
    # Only our script and inert JSON data blocks, none of which can be closed early.
    scripts = [attrs for tag, attrs in parsed.tags if tag == "script"]
    assert [a.get("src") for a in scripts if a.get("type") != "application/json"] == [
        f"/public/snapshot-viewer/viewer.js?v={ASSET_VERSION}"
    ]
    for data in parsed.scripts:
        assert "<" not in data
        json.loads(data)
    # Colours that could fetch are replaced by the palette.
    assert "203.0.113.1" not in html
    assert "javascript:" not in html


def test_text_panels_are_sanitized() -> None:
    content = (
        "# Title\n\n<script>window.__pwned=1</script><img src=x onerror=alert(1)>"
        '<img src="http://203.0.113.9/t.png"><img src="//203.0.113.9/t.png">'
        '<img src="data:image/png;base64,iVBORw0KGgo=" alt="ok"><a href="https://ok.example/">ok</a>'
        '<p style="background:url(http://203.0.113.9/)" onclick="x()">p</p>'
        '<iframe src="https://203.0.113.9/"></iframe><a href="data:text/html,x">d</a>'
        '<img alt="a><script>window.__pwned=2</script>" src="http://203.0.113.9/">'
    )
    html = render(
        {"panels": [{"type": "text", "options": {"mode": "markdown", "content": content}}]}
    )
    body = html[html.index("text-content") :]
    assert "<h1>Title</h1>" in body
    assert "<script" not in body
    assert "onerror" not in body
    assert "onclick" not in body
    assert "203.0.113.9" not in body
    assert "<iframe" not in body
    assert "style=" not in body
    assert '<img src="data:image/png;base64,iVBORw0KGgo=" alt="ok">' in body
    assert 'href="https://ok.example/"' in body
    assert "data:text/html" not in body


def test_legacy_text_panel_and_code_mode() -> None:
    html = render({"panels": [
        {"type": "text", "mode": "markdown", "content": "*old*"},
        {"type": "text", "options": {"mode": "code", "content": "<b>x</b>"}},
    ]})  # fmt: skip
    assert "<em>old</em>" in html
    assert "<pre>&lt;b&gt;x&lt;/b&gt;</pre>" in html


def test_csp_is_strict_and_matches_the_page_nonce() -> None:
    policy = content_security_policy("N0nce")
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives == {
        "default-src": "'none'",
        "script-src": "'self' 'nonce-N0nce'",
        "style-src": "'self' 'nonce-N0nce'",
        "img-src": "'self' data:",
        "font-src": "'self'",
        "connect-src": "'none'",
        "base-uri": "'none'",
        "form-action": "'none'",
        "frame-ancestors": "'none'",
    }
    html = render({"panels": []})
    parsed = parse(html)
    inline = [a for t, a in parsed.tags if t in ("style", "script") and a.get("type") is None]
    assert inline
    assert all(a.get("nonce") == "N0nce" for a in inline)
    assert all("style" not in attrs for _, attrs in parsed.tags)  # the CSP forbids style attributes
    assert not re.search(r"(src|href)=\"(https?:)?//", html)


@pytest.mark.parametrize(
    ("url", "linked"),
    [
        ("https://grafana.example/d/abc", True),
        ("http://grafana.example/d/abc", True),
        ("/d/abc?orgId=1", True),
        ("//evil.example/", False),
        ("/\\evil.example", False),
        ("javascript:alert(1)", False),
        ("JaVaScRiPt:alert(1)", False),
        ("data:text/html,x", False),
        ("d/abc", False),
        ("", False),
        (42, False),
        ("/\t/evil.example", False),  # a browser drops the tab: //evil.example
        ("/\r\n/evil.example", False),
        ("https:///evil.example", False),
    ],
)
def test_original_url_is_linked_only_when_safe(url: object, linked: bool) -> None:
    assert (safe_link(url) != "") is linked
    html = render({"snapshot": {"originalUrl": url}, "panels": []})
    assert ("original dashboard" in html) is linked


def test_error_page_escapes_its_text() -> None:
    html = render_error_page(404, headline="Snapshot <not> found", explanation=EVIL)
    assert "<title>Snapshot &lt;not&gt; found</title>" in html
    assert "<script>window" not in html
    assert "404" in html
