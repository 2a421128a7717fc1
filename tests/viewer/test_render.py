"""The page as HTML: layout, fixtures, downsampling; no exception for any dashboard."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import pytest

from snapshot_server.viewer import panels as panels_module
from snapshot_server.viewer import render_snapshot_page
from snapshot_server.viewer.layout import dashboard_panels, place_panels
from tests.viewer.dashboards import FIXTURE_NAMES, fixture_snapshot, large_dashboard
from tests.viewer.dashboards import render_dashboard as render

T = [1_763_780_400_000 + i * 60_000 for i in range(3)]


@pytest.mark.parametrize(
    "dashboard",
    [
        b"[]",
        b"null",
        b"not json",
        b'"string"',
        {"panels": "x", "title": 5, "time": "x", "tags": "x", "snapshot": []},
        {"panels": [None, 1, "s", [], {}]},
        {"time": {"from": "now-1h", "to": "now"}, "panels": [
            {"type": "graph", "snapshotData": {"x": 1}, "yaxes": "x"},
            {"type": "graph", "snapshotData": [{"target": None, "datapoints": [[1, T[0]]]}],
             "yaxes": [None]},
            {"type": "stat", "gridPos": "bad", "options": {"reduceOptions": {"calcs": [None]}}},
            {"type": "gauge", "fieldConfig": {"defaults": {"min": 5, "max": 5}},
             "snapshotData": [{"fields": [{"name": "v", "type": "number", "values": [5]}]}]},
            {"type": "table", "snapshotData": [{"fields": [{"name": "a", "values": [{"x": 1}]}]}]},
            {"type": "timeseries", "fieldConfig": {"defaults": {"min": 5, "max": 5}},
             "snapshotData": [{"fields": [
                 {"name": "t", "type": "time", "values": T},
                 {"name": "v", "type": "number", "values": [1e308, -1e308, 0]}]}]},
            {"type": "row", "collapsed": True, "panels": [None, {"type": "row"}, "x"]},
            {"type": "text", "options": "x"},
            {"type": "timeseries", "gridPos": {"x": 99, "y": -5, "w": 0, "h": 1e9}},
        ]},
    ],
)  # fmt: skip
def test_any_dashboard_renders_without_raising(dashboard: dict[str, Any] | bytes) -> None:
    html = render(dashboard)
    assert html.startswith("<!doctype html>")
    assert html.rstrip().endswith("</html>")


def test_a_panel_that_fails_becomes_a_note(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(*args: object) -> None:
        raise ValueError("boom")

    monkeypatch.setattr(panels_module, "_fill", explode)
    with caplog.at_level(logging.ERROR):
        html = render({"panels": [{"type": "timeseries", "title": "Fragile"}]})
    assert "Fragile" in html
    assert "This panel could not be drawn" in html
    assert "boom" in caplog.text


def test_collapsed_row_panels_are_shown_below_it_and_later_panels_move_down() -> None:
    panels = [
        {"type": "row", "collapsed": True, "gridPos": {"x": 0, "y": 0, "w": 24, "h": 1},
         "panels": [{"title": "a", "gridPos": {"x": 0, "y": 1, "w": 12, "h": 8}},
                    {"title": "b", "gridPos": {"x": 12, "y": 1, "w": 12, "h": 4}}]},
        {"type": "row", "collapsed": False, "gridPos": {"x": 0, "y": 1, "w": 24, "h": 1}},
        {"title": "c", "gridPos": {"x": 0, "y": 2, "w": 24, "h": 3}},
    ]  # fmt: skip
    placed = [(p.panel.get("title", p.panel.get("type")), p.x, p.y, p.w, p.h) for p in
              place_panels(panels)]  # fmt: skip
    assert placed == [
        ("row", 0, 0, 24, 1),
        ("a", 0, 1, 12, 8),
        ("b", 12, 1, 12, 4),
        ("row", 0, 9, 24, 1),
        ("c", 0, 10, 24, 3),
    ]


def test_panels_without_grid_pos_stack_below_each_other() -> None:
    placed = place_panels([{"title": "a"}, {"title": "b"}])
    assert [(p.x, p.y, p.w, p.h) for p in placed] == [(0, 0, 12, 8), (0, 8, 12, 8)]


@pytest.mark.parametrize("name", [*FIXTURE_NAMES, "real"])
def test_fixtures_render_every_panel_title(name: str) -> None:
    snapshot = fixture_snapshot(name)
    html = render_snapshot_page(snapshot, nonce="n")
    dashboard = json.loads(snapshot.dashboard)
    for panel in dashboard["panels"]:
        assert f">{_escape(panel['title'])}</h" in html


def _escape(text: str) -> str:
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&#34;")
        .replace("'", "&#39;")
    )


def test_large_dashboard_is_downsampled() -> None:
    html = render(large_dashboard())
    paths = re.findall(r'class="series" d="([^"]*)"', html)
    assert len(paths) == 150
    # 8-column panels: about 320 points per series instead of 1,000.
    assert all(250 <= p.count("L") + p.count("M") <= 340 for p in paths)


def test_legend_follows_the_panel_setting() -> None:
    frame = {"fields": [{"name": "t", "type": "time", "values": T},
                        {"name": "v", "type": "number", "values": [1, 2, 3]}]}  # fmt: skip
    shown = {"type": "timeseries", "snapshotData": [frame]}
    hidden = {**shown, "options": {"legend": {"showLegend": False}}}
    legacy_hidden = {**shown, "type": "graph", "legend": {"show": False}}
    html = render({"panels": [shown, hidden, legacy_hidden]})
    assert html.count('class="legend-name"') == 1
    assert html.count('class="series"') == 3


def test_pre_5_dashboards_with_rows_and_spans_are_laid_out() -> None:
    dashboard = {
        "rows": [
            {"title": "Top", "showTitle": True, "height": "250px", "panels": [
                {"title": "a", "span": 6}, {"title": "b", "span": 6}, {"title": "c", "span": 4}]},
            {"height": 190, "panels": [{"title": "d"}]},
        ]
    }  # fmt: skip
    placed = [(p.panel.get("title"), p.x, p.y, p.w, p.h) for p in
              place_panels(dashboard_panels(dashboard))]  # fmt: skip
    assert placed == [
        ("Top", 0, 0, 24, 1),
        ("a", 0, 1, 12, 7),
        ("b", 12, 1, 12, 7),
        ("c", 0, 8, 8, 7),
        ("d", 0, 15, 24, 5),
    ]
    assert ">Top</h2>" in render(dashboard)
