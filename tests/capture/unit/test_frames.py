"""Frames, field by field against Grafana's own converter golden files.

The golden files (tests/fixtures/grafana/promlib/, see the README there) are what Grafana's
Prometheus converter makes of a Prometheus answer. Grafana then adds, in its backend, the step
as the time field's ``config.interval``, ``displayNameFromDS`` from the legend, the metric's
name as the value field's name, and ``executedQueryString`` / ``custom.calculatedMinStep`` on a
query's first frame; the browser adds ``refId`` and stores each frame with ``config`` always
present and without the ``entities`` side table (NaN and infinities are ``null``).
:func:`grafana_snapshot_frames` applies exactly those steps to a golden file, and our frames
must equal the result (what the browser does across a panel's frames: test_browser.py).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from snapshot_server.capture.frames import FrameError, count_points, query_frames, series_and_points
from snapshot_server.capture.model import DatasourceTarget, PlannedQuery, QueryResult

FIXTURES = Path(__file__).parents[2] / "fixtures" / "grafana" / "promlib"


def load(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return loaded


def planned(
    *,
    expr: str = "up",
    legend: str = "",
    step: int = 15_000,
    ref_id: str = "A",
    instant: bool = False,
) -> PlannedQuery:
    return PlannedQuery(
        panel_id=1,
        panel_title="Up",
        ref_id=ref_id,
        datasource=DatasourceTarget("prom", 15_000),
        expr=expr,
        legend_format=legend,
        instant=instant,
        start_ms=0,
        end_ms=0,
        step_ms=step,
        interval_ms=step,
    )


def grafana_snapshot_frames(
    golden: dict[str, Any], query: PlannedQuery, display_names: list[str]
) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = copy.deepcopy(golden["frames"])
    for position, (frame, name) in enumerate(zip(frames, display_names, strict=True)):
        schema = frame["schema"]
        schema["refId"] = query.ref_id
        time_field, value_field = schema["fields"]
        time_field["config"] = {"interval": query.step_ms}
        value_field["config"] = {"displayNameFromDS": name} if name else {}
        value_field["name"] = value_field["labels"].get("__name__", "Value")
        if position == 0:
            step_text = f"{query.step_ms // 1000}s"
            schema["meta"]["executedQueryString"] = f"Expr: {query.expr}\nStep: {step_text}"
            schema["meta"]["custom"]["calculatedMinStep"] = query.step_ms
        frame["data"].pop("entities", None)
    return frames


def test_matrix_matches_grafanas_golden_file() -> None:
    query = planned()
    frames = query_frames(QueryResult(query, load("prom-matrix.json")["data"]))
    expected = grafana_snapshot_frames(
        load("prom-matrix-frame.json"),
        query,
        [
            'up{instance="localhost:9090", job="prometheus"}',
            'up{instance="localhost:9091", job="node"}',
        ],
    )
    assert frames == expected
    # The parts the issue names, spelled out.
    first = frames[0]["schema"]
    assert first["meta"]["type"] == "timeseries-multi"
    assert first["meta"]["custom"]["resultType"] == "matrix"
    assert first["fields"][0] == {
        "name": "Time",
        "type": "time",
        "typeInfo": {"frame": "time.Time"},
        "config": {"interval": 15_000},
    }
    assert first["fields"][1]["name"] == "up"
    assert "executedQueryString" not in frames[1]["schema"]["meta"]
    assert frames[0]["data"]["values"][0] == [1435781430781, 1435781445781, 1435781460781]


def test_nan_and_infinities_are_null_like_a_browser_stores_them() -> None:
    query = planned(expr="rate(x[1m])", legend="{{handler}}")
    frames = query_frames(QueryResult(query, load("prom-matrix-with-nans.json")["data"]))
    expected = grafana_snapshot_frames(
        load("prom-matrix-with-nans-frame.json"), query, ["/api/v1/query_range"]
    )
    assert frames == expected
    assert frames[0]["data"]["values"][1] == [None, None, None]
    assert json.dumps(frames)  # JSON without NaN: strict parsers accept it
    assert "NaN" not in json.dumps(frames)


def test_vector_matches_grafanas_golden_file() -> None:
    query = planned(instant=True, legend="__auto")
    frames = query_frames(QueryResult(query, load("prom-vector.json")["data"]))
    # __auto names only a series without labels: none here.
    expected = grafana_snapshot_frames(load("prom-vector-frame.json"), query, [""] * 5)
    assert frames == expected
    assert {frame["schema"]["meta"]["type"] for frame in frames} == {"numeric-multi"}


def test_scalar_matches_grafanas_golden_file() -> None:
    query = planned(expr="scalar(x)", instant=True)
    frames = query_frames(QueryResult(query, load("prom-scalar.json")["data"]))
    # A series without labels would be named "{}": Grafana names it after the expression.
    expected = grafana_snapshot_frames(load("prom-scalar-frame.json"), query, ["scalar(x)"])
    assert frames == expected


def matrix(*series: tuple[dict[str, str], list[list[Any]]]) -> dict[str, Any]:
    return {
        "resultType": "matrix",
        "result": [{"metric": labels, "values": values} for labels, values in series],
    }


@pytest.mark.parametrize(
    ("legend", "labels", "expr", "name"),
    [
        ("{{job}}", {"__name__": "up", "job": "api"}, "up", "api"),
        ("{{ job }} on {{instance}}", {"job": "api", "instance": "h:1"}, "up", "api on h:1"),
        ("{{missing}}", {"job": "api"}, "up", ""),
        ("fixed", {"job": "api"}, "up", "fixed"),
        ("__auto", {"job": "api"}, "up", ""),
        ("__auto", {}, "sum(up)", "sum(up)"),
        ("", {}, "sum(up)", "sum(up)"),
        ("", {"__name__": "up"}, "up", "up"),
        ("", {"b": "2", "a": 'q"uote'}, "x", '{a="q\\"uote", b="2"}'),
    ],
)
def test_display_name_from_the_legend(
    legend: str, labels: dict[str, str], expr: str, name: str
) -> None:
    query = planned(expr=expr, legend=legend)
    frames = query_frames(QueryResult(query, matrix((labels, [[1, "1"]]))))
    value_field = frames[0]["schema"]["fields"][1]
    assert value_field["config"] == ({"displayNameFromDS": name} if name else {})
    assert value_field["labels"] == labels
    assert value_field["name"] == labels.get("__name__", "Value")


def test_a_query_without_series_still_carries_its_metadata() -> None:
    query = planned(expr="absent_metric", step=30_000)
    frames = query_frames(QueryResult(query, {"resultType": "matrix", "result": []}))
    assert frames == [
        {
            "schema": {
                "refId": "A",
                "meta": {
                    "executedQueryString": "Expr: absent_metric\nStep: 30s",
                    "custom": {"calculatedMinStep": 30_000},
                },
                "fields": [],
            },
            "data": {"values": []},
        }
    ]
    assert count_points(frames) == 0


def test_points_are_counted_over_all_frames() -> None:
    frames = query_frames(
        QueryResult(planned(), matrix(({"a": "1"}, [[1, "1"], [2, "2"]]), ({"a": "2"}, [[1, "3"]])))
    )
    assert count_points(frames) == 3


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"resultType": "string", "result": [1, "x"]}, "'string'"),
        ({"resultType": "matrix", "result": {}}, "list of series"),
        ({"resultType": "matrix", "result": [{"metric": {}, "values": "x"}]}, "'values' list"),
        ({"resultType": "matrix", "result": [{"metric": {}, "values": [[1]]}]}, "pair"),
        ({"resultType": "vector", "result": [{"metric": {}, "value": [1, "x"]}]}, "pair"),
        ({"resultType": "vector", "result": ["x"]}, "'metric' object"),
        # An infinite time was an OverflowError (a 500); one of 1e300 s an integer the stored
        # JSON cannot hold (a misleading 400).
        ({"resultType": "vector", "result": [{"metric": {}, "value": ["inf", "1"]}]}, "pair"),
        ({"resultType": "matrix", "result": [{"metric": {}, "values": [[1e300, "1"]]}]}, "time"),
        ({"resultType": "scalar", "result": [-1e300, "1"]}, "out of range"),
    ],
)
def test_malformed_answers_are_frame_errors(data: dict[str, Any], message: str) -> None:
    with pytest.raises(FrameError, match=message):
        query_frames(QueryResult(planned(), data))


def test_native_histograms_are_left_out() -> None:
    data = {"resultType": "matrix", "result": [{"metric": {"a": "1"}, "histograms": []}]}
    frames = query_frames(QueryResult(planned(), data))
    assert frames[0]["schema"]["fields"] == []


@pytest.mark.parametrize(
    "name",
    ["prom-matrix.json", "prom-matrix-with-nans.json", "prom-vector.json", "prom-scalar.json"],
)
def test_series_and_points_count_what_the_frames_hold(name: str) -> None:
    data = load(name)["data"]
    frames = query_frames(QueryResult(planned(), data))
    assert series_and_points(data) == (len(frames), count_points(frames))
