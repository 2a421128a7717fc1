"""The snapshot page in a real headless Chromium: what a person sees, and what the page may not do.

Pages come from ``viewer_url`` (see ``tests/e2e/browser.py``): the real app when it routes the
viewer, else a stand-in. Screenshots land in ``tests/e2e/artifacts/`` for a human look.
"""

from __future__ import annotations

import itertools
import json
from typing import TYPE_CHECKING, Any

import pytest

from tests.e2e.browser import ARTIFACTS, RecordedPage, ViewerUrl, browser, open_page, viewer_url
from tests.viewer.dashboards import FIXTURE_NAMES, fixture_snapshot

if TYPE_CHECKING:
    from playwright.async_api import Browser

__all__ = ["browser", "viewer_url"]  # fixtures, re-exported so pytest finds them here


async def texts(page: RecordedPage, selector: str) -> list[str]:
    """The trimmed rendered text of every element matching ``selector`` (SVG text included)."""
    found: list[str] = await page.page.locator(selector).evaluate_all(
        "els => els.map(e => (e.innerText ?? e.textContent).trim())"
    )
    return found


async def assert_clean(page: RecordedPage) -> None:
    """No console error, no uncaught exception, no request off loopback, no injected script ran."""
    assert page.console_errors == []
    assert page.page_errors == []
    assert page.foreign_requests() == []
    pwned = await page.page.evaluate("[window.__pwned, window.__pwned_title]")
    assert pwned == [None, None]


def titles_of(name: str) -> list[str]:
    """Every panel title (collapsed rows' panels included) of fixture ``name``."""
    panels: list[dict[str, Any]] = list(json.loads(fixture_snapshot(name).dashboard)["panels"])
    for panel in list(panels):
        panels.extend(panel.get("panels") or [])
    return [p["title"] for p in panels]


@pytest.mark.parametrize("name", [*FIXTURE_NAMES, "real"])
async def test_every_fixture_shows_its_panels(
    browser: Browser, viewer_url: ViewerUrl, name: str
) -> None:
    page = await open_page(browser, viewer_url(name))
    shown = await texts(page, ".panel-title, .row h2")
    for title in titles_of(name):
        assert title in shown
    assert await page.page.locator("html[data-viewer-ready='1']").count() == 1
    for chart in await page.page.locator(".panel-chart").all():
        lengths = await chart.locator("path.series, path.dots").evaluate_all(
            "ps => ps.map(p => p.getTotalLength() + (p.getAttribute('d').length > 8 ? 1 : 0))"
        )
        assert lengths
        assert max(lengths) > 0
    await page.screenshot(name)
    await assert_clean(page)


async def test_legacy_graph_lines_legend_axis_and_singlestat(
    browser: Browser, viewer_url: ViewerUrl
) -> None:
    page = await open_page(browser, viewer_url("legacy-graph"))
    chart = page.page.locator("#panel-0")
    # cpu.steal is all null: no legend entry and no empty path.
    assert await texts(page, "#panel-0 .legend-name") == ["cpu.user", "cpu.system"]
    user = await chart.locator("path.series[data-series='cpu.user']").get_attribute("d")
    assert user is not None
    assert user.count("M") == 2
    box = await chart.locator("path.series").first.bounding_box()
    assert box is not None
    assert box["width"] > 1000
    assert box["height"] > 50
    assert all(label.endswith("%") for label in await texts(page, "#panel-0 .yaxis text"))
    assert "03:30" in await texts(page, "#panel-0 .xaxis text")
    assert await texts(page, "#panel-1 .stat-value") == ["237 ms"]
    await assert_clean(page)


async def test_hover_readout_names_series_and_values(
    browser: Browser, viewer_url: ViewerUrl
) -> None:
    page = await open_page(browser, viewer_url("legacy-graph"))
    plot = page.page.locator("#panel-0 .plot")
    box = await plot.bounding_box()
    assert box is not None
    readout = page.page.locator("#panel-0 .readout")
    assert await readout.is_hidden()
    await page.page.mouse.move(box["x"] + box["width"] * 0.75, box["y"] + box["height"] / 2)
    await readout.wait_for(state="visible")
    text = await readout.inner_text()
    assert "cpu.user" in text
    assert "cpu.system" in text
    assert "%" in text
    assert "2025-11-22 03:45:00 UTC" in text
    await page.screenshot("legacy-graph-hover")
    await page.page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] + 200)
    await readout.wait_for(state="hidden")
    await assert_clean(page)


async def test_scenes_frames_legend_names_units_and_single_point(
    browser: Browser, viewer_url: ViewerUrl
) -> None:
    page = await open_page(browser, viewer_url("scenes-timeseries"))
    legend = await texts(page, "#panel-0 .legend-name")
    # Labels stand in for the generic "Value"; displayNameFromDS wins when present.
    assert legend == ['{instance="web-1:9100", job="node"}', "web-2 memory"]
    assert any(label.endswith("GiB") for label in await texts(page, "#panel-0 .yaxis text"))
    assert await texts(page, "#panel-1 .legend-name") == ["deploy duration"]
    dot = page.page.locator("#panel-1 path.dots")
    assert await dot.count() == 1
    dot_box = await dot.bounding_box()
    assert dot_box is not None
    assert dot_box["width"] >= 4
    assert dot_box["height"] >= 4
    await assert_clean(page)


async def test_stat_gauge_and_bargauge_values(browser: Browser, viewer_url: ViewerUrl) -> None:
    page = await open_page(browser, viewer_url("stats"))
    values = {
        title: await texts(page, f"#panel-{i} .stat-value")
        for i, title in enumerate(await texts(page, ".panel-title"))
    }
    assert values == {
        "Disk used (last)": ["72.3%"],
        "Disk used (mean)": ["57.7%"],
        "Uptime (max)": ["1.04 day"],
        "Requests (sum)": ["6.6 K"],
        "CPU gauge": ["81.5%"],
        "Per-host load": ["75%", "95%"],
    }
    gauge_color = await page.page.locator("#panel-4 .stat-value").evaluate(
        "e => getComputedStyle(e).color"
    )
    assert gauge_color == "rgb(234, 184, 57)"  # the 70 threshold's #EAB839
    assert await texts(page, "#panel-5 .stat-name") == ["web-1", "web-2"]
    await assert_clean(page)


async def test_tables_show_frame_fields_and_legacy_rows(
    browser: Browser, viewer_url: ViewerUrl
) -> None:
    page = await open_page(browser, viewer_url("tables"))
    assert await texts(page, "#panel-0 th") == ["Time", "host", "status", "latency"]
    assert await texts(page, "#panel-0 tbody tr:nth-child(1) td") == [
        "2025-11-22 03:00:00",
        "web-1",
        "ok",
        "12.5 ms",
    ]
    assert await texts(page, "#panel-0 tbody tr:nth-child(3) td") == [
        "2025-11-22 03:02:00",
        "db-<1>",
        "ok",
        "",
    ]
    assert await texts(page, "#panel-1 th") == ["Time", "Metric", "Value"]
    assert await texts(page, "#panel-1 tbody tr:nth-child(2) td") == [
        "2025-11-22 03:01:00",
        "warnings",
        "17",
    ]
    await assert_clean(page)


async def test_text_panels_are_sanitized_and_nothing_leaves_localhost(
    browser: Browser, viewer_url: ViewerUrl
) -> None:
    page = await open_page(browser, viewer_url("text-xss"))
    await assert_clean(page)
    html = page.page.locator("#panel-0 .text-content")
    assert await html.locator("h1").inner_text() == "Runbook"
    assert await html.locator("a", has_text="the wiki").get_attribute("href") == (
        "https://wiki.example.com/runbook"
    )
    assert await html.locator("td").all_inner_texts() == ["web-1", "frontend"]
    sources = await page.page.locator("img").evaluate_all("imgs => imgs.map(i => i.src)")
    assert all(src.startswith("data:image/") for src in sources if src)
    assert await page.page.locator("iframe, form, input, link[href*='203.0.113']").count() == 0
    assert await page.page.locator("main script").count() == 0
    # Hostile strings are shown as text, never interpreted.
    assert await page.page.locator("h1").first.inner_text() == (
        "Text <script>window.__pwned_title=1</script>"
    )
    assert "original dashboard" not in await page.page.locator(".meta").inner_text()
    await page.page.locator("#panel-1 p").click()  # the stripped onclick must not fire
    assert await page.page.evaluate("window.__pwned") is None


async def test_rows_and_collapsed_rows_show_their_panels(
    browser: Browser, viewer_url: ViewerUrl
) -> None:
    page = await open_page(browser, viewer_url("rows"))

    async def top(selector: str) -> float:
        box = await page.page.locator(selector).first.bounding_box()
        assert box is not None
        return box["y"]

    details = await top(".row h2 >> text=Details (collapsed)")
    footer = await top(".row h2 >> text=Footer row")
    for title in ("Errors", "Saturation"):
        assert details < await top(f".panel-title >> text={title}") < footer
    assert await top(".panel-title >> text=Requests") < details
    note = page.page.locator(".panel", has_text="Traffic share").locator(".note")
    assert await note.inner_text() == "Panel type “piechart” is not shown in snapshot view"
    await assert_clean(page)


async def test_large_dashboard_draws_every_panel(browser: Browser, viewer_url: ViewerUrl) -> None:
    """30 panels x 5 series x 1,000 points: all drawn. The time is reported, not asserted."""
    page = await open_page(browser, viewer_url("large"))
    await page.page.locator("html[data-viewer-ready='1']").wait_for(state="attached")
    # Milliseconds since navigation start; "painted" is the frame after load has been drawn.
    timing = await page.page.evaluate(
        """() => new Promise(resolve => requestAnimationFrame(() => requestAnimationFrame(() => {
            const nav = performance.getEntriesByType("navigation")[0];
            const paint = performance.getEntriesByName("first-contentful-paint")[0];
            resolve({responseStart: nav.responseStart, responseEnd: nav.responseEnd,
                     domContentLoaded: nav.domContentLoadedEventEnd, load: nav.loadEventEnd,
                     firstContentfulPaint: paint ? paint.startTime : null,
                     painted: performance.now(), htmlBytes: nav.decodedBodySize});
        })))"""
    )
    assert await page.page.locator(".panel-chart").count() == 30
    assert await page.page.locator("path.series").count() == 150
    assert await page.page.locator(".legend-name").count() == 150
    assert await texts(page, "#panel-29 .legend-name") == [f"p29 host-{s}" for s in range(5)]
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "large-timing.json").write_text(json.dumps(timing))
    print(f"large dashboard: {timing}")
    await page.screenshot("large")
    await assert_clean(page)


async def test_a_dashboard_past_the_panel_limit_opens_on_a_phone(
    browser: Browser, viewer_url: ViewerUrl
) -> None:
    """250 panels: the first 200 are drawn, the header says so on the first screen, and the
    rest are listed by title at the end of the page."""
    page = await open_page(browser, viewer_url("many"), width=390, height=844)
    note = page.page.locator(".limits a")
    assert await note.is_visible()
    box = await note.bounding_box()
    assert box is not None
    assert box["y"] + box["height"] < 844  # seen without scrolling
    assert await note.inner_text() == (
        "Showing 200 panels of 250: 50 beyond the first 200 are listed at the end of the page."
    )
    assert await page.page.locator(".panel-chart").count() == 200
    assert await texts(page, "#not-shown li") == [f"Panel {n}" for n in range(201, 251)]
    await note.click()  # the note links to the list
    heading = page.page.locator("#not-shown h2")
    assert await heading.inner_text() == "50 panels not shown"
    assert await heading.is_visible()
    heading_box = await heading.bounding_box()
    assert heading_box is not None
    assert -1 < heading_box["y"] < 844  # scrolled into view (to within a sub-pixel)
    await page.screenshot("many-phone")
    await assert_clean(page)


async def test_unknown_key_is_an_html_error_page(browser: Browser, viewer_url: ViewerUrl) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    response = await page.goto(viewer_url("nope"))
    assert response is not None
    assert response.status == 404
    assert "Snapshot not found" in await page.locator("h1").inner_text()


async def test_narrow_screens_stack_panels_full_width(
    browser: Browser, viewer_url: ViewerUrl
) -> None:
    page = await open_page(browser, viewer_url("rows"), width=420, height=800)
    boxes = [
        box
        for box in [await s.bounding_box() for s in await page.page.locator(".panel").all()]
        if box is not None
    ]
    assert len(boxes) == 5
    assert all(box["width"] > 360 for box in boxes)
    assert all(a["y"] + a["height"] <= b["y"] for a, b in itertools.pairwise(boxes))
    await page.screenshot("rows-narrow")
    await assert_clean(page)
