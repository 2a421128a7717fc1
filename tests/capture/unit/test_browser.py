"""What Grafana's browser does to a panel's frames: the ``__auto`` legend, tables, graphs."""

from __future__ import annotations

from typing import Any

from snapshot_server.capture.browser import panel_frames
from snapshot_server.capture.frames import query_frames
from snapshot_server.capture.model import DatasourceTarget, PlannedQuery, QueryResult

MAIN = DatasourceTarget("main", 15_000)
OTHER = DatasourceTarget("other", 15_000)


def query(
    ref_id: str = "A",
    *,
    legend: str = "",
    fmt: str = "time_series",
    instant: bool = False,
    datasource: DatasourceTarget = MAIN,
) -> PlannedQuery:
    return PlannedQuery(
        panel_id=1,
        panel_title="P",
        ref_id=ref_id,
        datasource=datasource,
        expr=f"expr_{ref_id}",
        legend_format=legend,
        instant=instant,
        start_ms=0,
        end_ms=0,
        step_ms=15_000,
        interval_ms=15_000,
        format=fmt,
    )


def matrix(q: PlannedQuery, *series: tuple[dict[str, str], list[tuple[int, str]]]) -> QueryResult:
    return QueryResult(
        q,
        {
            "resultType": "matrix",
            "result": [
                {"metric": labels, "values": [[t, v] for t, v in points]}
                for labels, points in series
            ],
        },
    )


def vector(q: PlannedQuery, *series: tuple[dict[str, str], str]) -> QueryResult:
    return QueryResult(
        q,
        {
            "resultType": "vector",
            "result": [{"metric": labels, "value": [100, value]} for labels, value in series],
        },
    )


def display_names(frames: list[dict[str, Any]]) -> list[str | None]:
    return [frame["schema"]["fields"][1]["config"].get("displayNameFromDS") for frame in frames]


def test_time_series_frames_are_marked_graph_and_otherwise_unchanged() -> None:
    result = matrix(query(legend="{{job}}"), ({"job": "a"}, [(1, "1")]))
    [frame] = panel_frames([result])
    [backend] = query_frames(result)
    assert frame["schema"]["meta"].pop("preferredVisualisationType") == "graph"
    assert frame == backend


def test_auto_legend_names_metric_fields_as_grafana_names_a_value_field() -> None:
    result = matrix(
        query(legend="__auto"),
        ({"__name__": "up", "job": "a", "instance": "x"}, [(1, "1")]),
        ({"__name__": "up", "job": "b", "instance": "y"}, [(1, "0")]),
        ({"job": "c"}, [(1, "1")]),  # not named after a metric: left alone
    )
    assert display_names(panel_frames([result])) == [
        'up{instance="x", job="a"}',
        'up{instance="y", job="b"}',
        None,
    ]


def test_auto_legend_with_one_label_name_everywhere_uses_its_value() -> None:
    result = matrix(query(legend="__auto"), ({"__name__": "up"}, [(1, "1")]))
    assert display_names(panel_frames([result])) == ["up"]


def test_auto_legend_looks_at_every_frame_of_the_request() -> None:
    auto = matrix(query("A", legend="__auto"), ({"__name__": "up"}, [(1, "1")]))
    other = matrix(query("B", legend="{{job}}"), ({"job": "x"}, [(1, "1")]))
    # Two label names across the request's frames: the full label set names the field.
    assert display_names(panel_frames([auto, other])) == ["up{}", "x"]
    # On another datasource, B is another request and does not count.
    other_ds = matrix(query("B", datasource=OTHER), ({"job": "x"}, [(1, "1")]))
    assert display_names(panel_frames([auto, other_ds]))[0] == "up"


def test_a_table_target_becomes_one_table_frame() -> None:
    result = vector(
        query(fmt="table", instant=True),
        ({"__name__": "up", "job": "a", "instance": "x"}, "1"),
        ({"__name__": "up", "job": "b"}, "NaN"),
    )
    [table] = panel_frames([result])
    first_meta = query_frames(result)[0]["schema"]["meta"]
    assert table["schema"] == {
        "refId": "A",
        "meta": {**first_meta, "preferredVisualisationType": "rawPrometheus"},
        "fields": [
            {"name": "Time", "type": "time", "config": {"interval": 15_000}},
            {"name": "__name__", "config": {"filterable": True}, "type": "string"},
            {"name": "instance", "config": {"filterable": True}, "type": "string"},
            {"name": "job", "config": {"filterable": True}, "type": "string"},
            {"name": "Value", "type": "number", "config": {}},
        ],
    }
    assert table["data"]["values"] == [
        [100_000, 100_000],
        ["up", "up"],
        ["x", ""],
        ["a", "b"],
        [1.0, None],
    ]


def test_several_table_targets_name_their_values_by_ref_id_and_follow_the_graphs() -> None:
    a = vector(query("A", fmt="table", instant=True), ({"job": "a"}, "1"))
    b = vector(query("B", fmt="table", instant=True), ({"job": "b"}, "2"))
    c = matrix(query("C"), ({"job": "c"}, [(1, "3")]))
    frames = panel_frames([a, b, c])
    assert [
        (f["schema"]["refId"], f["schema"]["meta"]["preferredVisualisationType"]) for f in frames
    ] == [("C", "graph"), ("A", "rawPrometheus"), ("B", "rawPrometheus")]
    assert [
        frames[1]["schema"]["fields"][-1]["name"],
        frames[2]["schema"]["fields"][-1]["name"],
    ] == [
        "Value #A",
        "Value #B",
    ]


def test_a_range_table_is_sorted_by_time_stably() -> None:
    result = matrix(
        query(fmt="table"),
        ({"job": "a"}, [(1, "1"), (2, "2")]),
        ({"job": "b"}, [(1, "3"), (2, "4")]),
    )
    [table] = panel_frames([result])
    assert table["data"]["values"] == [
        [1_000, 1_000, 2_000, 2_000],
        ["a", "b", "a", "b"],
        [1.0, 3.0, 2.0, 4.0],
    ]


def test_a_table_target_without_series_keeps_its_empty_frame() -> None:
    result = QueryResult(query(fmt="table", instant=True), {"resultType": "vector", "result": []})
    assert panel_frames([result]) == query_frames(result)


def test_heatmap_targets_become_deaccumulated_heatmap_rows() -> None:
    result = matrix(
        query(fmt="heatmap", legend="{{le}}"),
        ({"job": "a", "le": "1"}, [(1, "3"), (2, "5")]),
        ({"job": "a", "le": "+Inf"}, [(1, "3"), (2, "6")]),
        ({"job": "a", "le": "0.1"}, [(1, "1"), (2, "NaN")]),
        ({"job": "b", "le": "1"}, [(1, "7"), (2, "8")]),
    )
    graph = matrix(query("B"), ({"job": "c"}, [(1, "1")]))
    frames = panel_frames([result, graph])
    assert [f["schema"]["meta"].get("type") for f in frames] == [
        "timeseries-multi",
        "heatmap-rows",
        "heatmap-rows",
    ]
    job_a = frames[1]
    assert job_a["schema"]["name"] == "0.1"
    assert [field.get("name") for field in job_a["schema"]["fields"]] == [
        "Time",
        "0.1",
        "1",
        "+Inf",
    ]
    assert job_a["data"]["values"] == [
        [1_000, 2_000],
        [1.0, None],  # the lowest bucket is kept; NaN stays missing
        [2.0, 5.0],  # 3 - 1, and 5 - NaN (a missing value below counts as 0)
        [0, 1.0],  # 3 - 3 is 0, 6 - 5
    ]
    assert "preferredVisualisationType" not in job_a["schema"]["meta"]
    # The merged frame is its lowest bucket's, as in Grafana: here not the query's first frame.
    assert job_a["schema"]["meta"]["custom"] == {"resultType": "matrix"}
    job_b = frames[2]
    assert job_b["data"]["values"] == [[1_000, 2_000], [7.0, 8.0]]


def test_a_heatmap_target_without_series_leaves_nothing() -> None:
    result = QueryResult(query(fmt="heatmap"), {"resultType": "matrix", "result": []})
    assert panel_frames([result]) == []
