"""The page's budget: huge dashboards draw what fits, within bounded work, and say what is left out.

Work is asserted by counting what was built (panels, markdown characters, points read), never
by timing.
"""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import orjson
import pytest

from snapshot_server.viewer import budget as budget_module
from snapshot_server.viewer import panels as panels_module
from snapshot_server.viewer import render_snapshot_page
from snapshot_server.viewer import text as text_module
from snapshot_server.viewer.budget import LIMITS, Limits
from tests.viewer.dashboards import (
    large_dashboard,
    make_snapshot,
    many_panels_dashboard,
    markdown_dashboard,
)

T0 = 1_763_780_400_000


def render(dashboard: dict[str, Any], limits: Limits = LIMITS) -> str:
    return render_snapshot_page(make_snapshot(orjson.dumps(dashboard)), nonce="n", limits=limits)


def size(page: str) -> int:
    return len(page.encode())


def drawn_points(page: str) -> int:
    """Points in every series path and dot path of the page."""
    paths = re.findall(r'class="(?:series|dots)" d="([^"]*)"', page)
    return sum(len(re.findall(r"[ML]", d)) for d in paths)


def limit_notes(page: str) -> list[str]:
    return [unescape(n) for n in re.findall(r'<p class="limit-note">(.*?)</p>', page)]


def series_panel(series: int, points: int, w: int = 24, **extra: Any) -> dict[str, Any]:
    fields: list[dict[str, Any]] = [
        {"name": "Time", "type": "time", "values": [T0 + i * 1000 for i in range(points)]}
    ]
    fields += [
        {"name": f"s{s}", "type": "number", "values": [float((i * (s + 3)) % 97) for i in
                                                       range(points)]}
        for s in range(series)
    ]  # fmt: skip
    return {"type": "timeseries", "title": "Chart", "gridPos": {"w": w, "h": 8},
            "snapshotData": [{"fields": fields}], **extra}  # fmt: skip


def test_twenty_thousand_panels_draw_the_first_ones_and_list_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built: list[int] = []
    real_panel_view = panels_module.panel_view

    def counted(index: int, *args: Any) -> Any:
        built.append(index)
        return real_panel_view(index, *args)

    monkeypatch.setattr("snapshot_server.viewer.render.panel_view", counted)
    dashboard = many_panels_dashboard()  # ~45 MB of JSON
    assert len(dashboard["panels"]) == 20_000
    page = render(dashboard)
    # Only the panels drawn were ever built: the cost does not grow with the dashboard.
    assert len(built) == LIMITS.panels == 200
    assert page.count('<section class="panel ') == 200
    assert size(page) < LIMITS.page_bytes
    assert "Showing 200 panels of 20,000: 19,800 beyond the first 200 are listed" in page
    assert "<h2>19,800 panels not shown</h2>" in page
    listed = re.findall(r"<li>(Panel \d+)</li>", page)
    assert listed == [f"Panel {n}" for n in range(201, 251)]
    assert "and 19,750 more" in page
    assert 'id="panel-199"' in page
    assert 'id="panel-200"' not in page


def test_a_5_mb_markdown_panel_is_shortened_before_markdown_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rendered: list[int] = []
    real_render = text_module.text_html

    def counted(content: str, mode: str) -> Any:
        rendered.append(len(content))
        return real_render(content, mode)

    monkeypatch.setattr("snapshot_server.viewer.panels.text_html", counted)
    page = render(markdown_dashboard())  # 5.3 million characters of runbook markdown
    assert len(rendered) == 1
    assert rendered[0] <= LIMITS.text_chars
    assert rendered[0] > LIMITS.text_chars * 0.9  # cut at a line break near the limit
    assert size(page) < 200_000
    assert limit_notes(page) == [
        f"Text shortened: the first {rendered[0]:,} of 5,300,000 characters are shown"
    ]
    assert page.count("<h2>Step ") > 50  # the start of the text is there, as markdown


def test_text_panels_share_the_page_text_allowance() -> None:
    line = "word " * 19 + "word\n"  # 100 characters
    panels = [
        {"type": "text", "title": f"t{n}", "options": {"mode": "markdown", "content": line * 150}}
        for n in range(5)
    ]  # 15,000 characters each
    page = render({"panels": panels}, Limits(page_text_chars=50_000))
    assert limit_notes(page) == ["Text shortened: the first 5,000 of 15,000 characters are shown"]
    assert "Text not shown: this page&#39;s limit of 50,000 characters of text is used up" in page
    assert page.count('data-kind="text"') == 4


def test_page_size_limit_leaves_out_whole_panels_and_lists_them() -> None:
    limits = Limits(page_bytes=400_000)
    page = render(large_dashboard(), limits)  # 30 charts, about 1.5 MB when all drawn
    assert size(page) <= limits.page_bytes
    shown = page.count('<section class="panel ')
    assert 0 < shown < 30
    # A panel is drawn whole or not at all: each shown chart has its five series.
    assert page.count('class="series"') == shown * 5
    assert f"Showing {shown} panels of 30: {30 - shown} past the page size limit" in page
    listed = re.findall(r"<li>(Latency \d+)</li>", page)
    assert listed == [f"Latency {n}" for n in range(shown + 1, 31)]


def test_drawn_points_are_shared_within_the_page_allowance() -> None:
    limits = Limits(page_points=6_000)
    page = render(large_dashboard(), limits)  # 150 series of 1,000 points
    assert page.count('class="series"') == 150
    assert drawn_points(page) <= 6_000
    assert drawn_points(page) > 5_000  # the allowance is used, not wasted
    assert render(large_dashboard()).count('class="series"') == 150


def test_a_chart_draws_at_most_the_series_limit() -> None:
    page = render({"panels": [series_panel(series=80, points=10)]})
    assert page.count('class="series"') == LIMITS.series == 50
    assert limit_notes(page) == ["30 more series not shown (a chart draws at most 50)"]


def test_a_long_series_is_read_at_a_stride_and_drawn_within_its_width() -> None:
    page = render({"panels": [series_panel(series=1, points=200_000, w=24)]})
    # Full width: 24 columns x 40 points; reading is bounded to 10 raw points per drawn point.
    assert drawn_points(page) <= 960
    assert limit_notes(page) == [
        "Long series thinned before drawing: 1 point in 21 of 200,000 was read"
    ]
    hover = re.search(r'class="chart-data">(.*?)</script>', page)
    assert hover is not None
    assert len(orjson.loads(hover.group(1))["s"][0]["p"]) <= 960


def test_a_series_full_of_gaps_stays_within_its_points() -> None:
    values = [None if i % 2 else float(i) for i in range(100_000)]
    panel = series_panel(series=1, points=100_000, w=12)
    panel["snapshotData"][0]["fields"][1]["values"] = values
    page = render({"panels": [panel]})
    assert drawn_points(page) <= 12 * 40


def test_tables_are_limited_in_columns_rows_and_page_cells() -> None:
    columns = [{"name": f"c{c}", "type": "string", "values": [f"v{r}" for r in range(1000)]}
               for c in range(80)]  # fmt: skip
    wide = {"type": "table", "title": "Wide", "snapshotData": [{"fields": columns}]}
    page = render({"panels": [wide]})
    assert page.count("<th>") == 50
    rows = 5_000 // 50 - 1  # the panel's cells, header row included
    assert page.count("<tr><td>") == rows
    assert f"{1000 - rows:,} more rows not shown" in page
    assert "30 more columns not shown" in page

    narrow = {"type": "table", "title": "Narrow", "snapshotData": [{"fields": columns[:10]}]}
    page = render({"panels": [narrow] * 8}, Limits(page_cells=12_000))
    # 500 rows x 10 columns each (5,010 cells): two tables fit, the third gets what is left.
    assert page.count("<tr><td>") == 500 + 500 + (12_000 - 2 * 5_010) // 10 - 1
    assert page.count("Table not shown: this page&#39;s limit of table cells is used up") == 5


def test_stat_panels_say_how_many_values_they_leave_out() -> None:
    fields = [{"name": f"v{n}", "type": "number", "values": [n]} for n in range(30)]
    page = render({"panels": [{"type": "stat", "snapshotData": [{"fields": fields}]}]})
    assert page.count('class="stat-value"') == 24
    assert limit_notes(page) == ["6 more values not shown (a panel shows at most 24)"]


@pytest.mark.parametrize("limits", [LIMITS, Limits(page_bytes=300_000)])
def test_hostile_strings_cannot_take_the_page_past_its_size(limits: Limits) -> None:
    huge = '"<&' * 2_000  # past every clip; escaping makes each character 4-6 bytes
    frame = {"name": huge, "fields": [
        {"name": "time", "type": "time", "values": [T0, T0 + 1000]},
        {"name": huge, "type": "number", "values": [1, 2], "labels": {"l": huge}},
        {"name": huge, "type": "string", "values": [huge, huge]},
    ]}  # fmt: skip
    kinds = ["timeseries", "stat", "table", "text", "row", huge]
    panels = [
        {"type": kinds[n % len(kinds)], "title": huge, "description": huge,
         "snapshotData": [frame], "options": {"content": huge, "mode": "html"}}
        for n in range(210)
    ]  # fmt: skip
    url = "https://grafana.example.com/d/" + "x" * 100_000
    dashboard = {"title": huge, "tags": [huge] * 200, "panels": panels,
                 "snapshot": {"originalUrl": url}}  # fmt: skip
    snapshot = make_snapshot(orjson.dumps(dashboard), name=huge)
    page = render_snapshot_page(snapshot, nonce="n", limits=limits)
    assert size(page) <= limits.page_bytes
    assert "original dashboard" not in page  # a link that long is not shown
    assert page.count('<span class="tag">') == 20
    assert "not shown" in page


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 10, "short"),
        ("line one\nline two\nline three", 22, "line one\nline two\n"),
        ("one long line without breaks", 10, "one long l"),
        ("a\n" + "b" * 30, 20, "a\n" + "b" * 18),  # the only break is too early to cut at
    ],
)
def test_shorten_cuts_at_a_line_break_near_the_limit(text: str, limit: int, expected: str) -> None:
    assert text_module.shorten(text, limit) == expected


def test_clip_and_plural() -> None:
    assert budget_module.clip("abcdef", 4) == "abc…"
    assert budget_module.clip("abcd", 4) == "abcd"
    assert budget_module.plural(1, "panel") == "1 panel"
    assert budget_module.plural(20_000, "panel") == "20,000 panels"
