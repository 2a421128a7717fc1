"""Reading panel data in every format Grafana writes into snapshots."""

from __future__ import annotations

import json
from typing import Any

from snapshot_server.viewer.data import panel_frames
from snapshot_server.viewer.series import frame_series, numeric_fields
from tests.viewer.dashboards import load_body

T = [1_700_000_000_000 + i * 60_000 for i in range(4)]


def series_of(panel: dict[str, Any]) -> list[tuple[str, list[float], list[float | None]]]:
    defaults = panel.get("fieldConfig", {}).get("defaults", {})
    return [(s.name, s.times, s.values) for s in frame_series(panel_frames(panel), defaults)]


def test_legacy_datapoints_are_value_then_time_and_all_null_series_are_skipped() -> None:
    panel = {
        "snapshotData": [
            {"target": "up", "datapoints": [[1, T[0]], [None, T[1]], [3.5, T[2]]]},
            {"target": "down", "datapoints": [[None, T[0]], [None, T[1]]]},
        ]
    }
    assert series_of(panel) == [("up", T[:3], [1.0, None, 3.5])]


def test_data_frames_with_time_named_time_or_Time() -> None:
    for time_name in ("time", "Time"):
        panel = {
            "snapshotData": [
                {
                    "fields": [
                        {"name": time_name, "type": "time", "values": T[:2]},
                        {"name": "A-series", "type": "number", "values": [1, 20]},
                    ]
                }
            ]
        }
        assert series_of(panel) == [("A-series", T[:2], [1.0, 20.0])]


def test_scenes_dataframe_json_in_targets_snapshot() -> None:
    panel = {
        "datasource": {"type": "datasource", "uid": "grafana"},
        "targets": [
            {
                "queryType": "snapshot",
                "snapshot": [
                    {
                        "schema": {
                            "fields": [
                                {"name": "Time", "type": "time"},
                                {"name": "Value", "type": "number", "labels": {"job": "api"}},
                            ]
                        },
                        "data": {"values": [T[:3], [5, None, 7]]},
                    }
                ],
            }
        ],
    }
    assert series_of(panel) == [("api", T[:3], [5.0, None, 7.0])]


def test_legend_name_prefers_display_name_from_ds_then_display_name_then_labels() -> None:
    def field(config: dict[str, Any], labels: dict[str, str], name: str = "Value") -> Any:
        return {"name": name, "type": "number", "config": config, "labels": labels, "values": [1]}

    frame = {
        "fields": [
            {"name": "time", "type": "time", "values": [T[0]]},
            field({"displayNameFromDS": "from ds", "displayName": "display"}, {}),
            field({"displayName": "display"}, {"a": "1"}),
            field({}, {"a": "1", "b": "2"}),
            field({}, {"a": "1"}, name="rate"),
            field({}, {}, name="plain"),
        ]
    }
    names = [name for name, _, _ in series_of({"snapshotData": [frame]})]
    assert names == ["from ds", "display", '{a="1", b="2"}', 'rate {a="1"}', "plain"]


def test_unsorted_times_are_sorted_and_bad_values_become_gaps() -> None:
    panel = {
        "snapshotData": [
            {
                "fields": [
                    {"name": "time", "type": "time", "values": [T[2], T[0], "bad", T[1]]},
                    {"name": "v", "type": "number", "values": [3, 1, 9, "NaN"]},
                ]
            }
        ]
    }
    assert series_of(panel) == [("v", [T[0], T[1], T[2]], [1.0, None, 3.0])]


def test_legacy_table_columns_and_rows() -> None:
    panel = {
        "snapshotData": [
            {
                "columns": [{"text": "Time", "type": "time"}, {"text": "Host"}, {"text": "N"}],
                "rows": [[T[0], "a", 1], [T[1], "b"]],
                "type": "table",
            }
        ]
    }
    (frame,) = panel_frames(panel)
    assert [(f.name, f.type, f.values) for f in frame.fields] == [
        ("Time", "time", T[:2]),
        ("Host", "string", ["a", "b"]),
        ("N", "number", [1, None]),
    ]


def test_garbage_is_skipped_without_errors() -> None:
    panels: list[dict[str, Any]] = [
        {"snapshotData": "nope"},
        {"snapshotData": [None, 3, {"fields": "x"}, {"datapoints": [[1], "x", None]}]},
        {"targets": [None, {"snapshot": {"schema": None}}, {"snapshot": [{"schema": {}}]}]},
        {"snapshotData": [{"fields": [{"name": "t", "type": "time", "values": None}]}]},
    ]
    for panel in panels:
        assert series_of(panel) == []


def test_numeric_fields_without_time_serve_stat_panels() -> None:
    frame = {"fields": [{"name": "count", "type": "number", "values": [4, 5]}]}
    assert [name for name, _ in numeric_fields(panel_frames({"snapshotData": [frame]}), {})] == [
        "count"
    ]


def test_real_grafana_sample_reads_its_one_series() -> None:
    panel = load_body("real")["dashboard"]["panels"][0]
    (series,) = series_of(panel)
    assert series[0] == "A-series"
    assert series[2] == [1.0, 20.0, 90.0, 30.0, 50.0, 0.0]
    assert series[1][0] == 1706030536378


def test_reading_does_not_modify_the_panel() -> None:
    panel: dict[str, Any] = load_body("scenes-timeseries")["dashboard"]["panels"][0]
    panel["snapshotData"] = [{"target": "x", "datapoints": [[1, T[0]]]}]
    before = json.dumps(panel, sort_keys=True)
    panel_frames(panel)
    assert json.dumps(panel, sort_keys=True) == before
