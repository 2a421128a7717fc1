"""Embedding: Grafana's Scenes snapshot shape, collapsed rows, untouched panels, time."""

from __future__ import annotations

import copy
from typing import Any

import orjson

from snapshot_server.capture.browser import panel_frames
from snapshot_server.capture.embed import capture_stats, embed_capture, iso_ms
from snapshot_server.capture.model import CapturePlan, CaptureRequest, QueryResult
from snapshot_server.capture.plan import plan_capture

from .sample import NOW_MS, resolve, sample_dashboard

GRAFANA = {"type": "grafana", "uid": "grafana"}


def answer(plan: CapturePlan) -> list[QueryResult]:
    """One series per range query (two points, one of them NaN), one per instant query."""
    results = []
    for number, query in enumerate(plan.queries):
        if query.instant:
            data: dict[str, Any] = {
                "resultType": "vector",
                "result": [{"metric": {}, "value": [query.end_ms / 1000, "7"]}],
            }
        else:
            data = {
                "resultType": "matrix",
                "result": [
                    {
                        "metric": {"job": f"job{number}"},
                        "values": [
                            [query.start_ms / 1000, str(number)],
                            [(query.start_ms + query.step_ms) / 1000, "NaN"],
                        ],
                    }
                ],
            }
        results.append(QueryResult(query, data))
    return results


def embedded() -> tuple[dict[str, Any], dict[str, Any], CapturePlan, list[QueryResult]]:
    dashboard = sample_dashboard()
    plan = plan_capture(dashboard, CaptureRequest(), resolve, NOW_MS)
    results = answer(plan)
    return dashboard, embed_capture(dashboard, plan, results), plan, results


def snapshot_target(panel: dict[str, Any]) -> dict[str, Any]:
    assert panel["datasource"] == GRAFANA
    [target] = panel["targets"]
    assert isinstance(target, dict)
    assert set(target) == {"refId", "datasource", "queryType", "snapshot"}
    assert (target["refId"], target["datasource"], target["queryType"]) == (
        "A",
        GRAFANA,
        "snapshot",
    )
    return target


def test_captured_panels_hold_one_snapshot_target_with_all_their_frames() -> None:
    _, result, _, results = embedded()
    panel = result["panels"][0]
    frames = snapshot_target(panel)["snapshot"]
    # Targets A, D (range) and D-Instant, in target order, each query's frames as built.
    expected = panel_frames(results[:3])
    assert frames == expected
    assert [frame["schema"]["refId"] for frame in frames] == ["A", "D", "D-Instant"]
    # The rest of the panel is kept.
    assert (panel["id"], panel["title"], panel["gridPos"]["w"]) == (1, "Requests", 24)


def test_panels_in_collapsed_rows_are_captured_in_place() -> None:
    _, result, _, _ = embedded()
    row = result["panels"][3]
    assert (row["type"], row["collapsed"]) == ("row", True)
    nested = row["panels"][0]
    frames = snapshot_target(nested)["snapshot"]
    assert frames[0]["schema"]["fields"][0]["config"] == {"interval": 600_000}


def test_mixed_panel_keeps_only_what_was_captured() -> None:
    _, result, _, _ = embedded()
    frames = snapshot_target(result["panels"][4])["snapshot"]
    # The slow Prometheus target and the default one; the Loki target cannot be captured.
    assert [frame["schema"]["refId"] for frame in frames] == ["A", "C"]


def test_other_panels_are_left_exactly_as_they_were() -> None:
    original, result, _, _ = embedded()
    for index in (1, 2, 5):  # text, Loki, only-hidden
        assert result["panels"][index] == original["panels"][index]


def test_legacy_snapshot_data_is_never_written() -> None:
    _, result, _, _ = embedded()
    assert "snapshotData" not in result["panels"][6]
    assert "snapshotData" not in orjson.dumps(result["panels"][0]).decode()


def test_time_becomes_the_absolute_range_with_the_original_under_raw() -> None:
    _, result, plan, _ = embedded()
    assert result["time"] == {
        "from": "2023-11-14T16:13:27.000Z",
        "to": "2023-11-14T22:13:27.000Z",
        "raw": {"from": "now-6h", "to": "now"},
    }
    assert result["snapshot"] == {"timestamp": "2023-11-14T22:13:27.000Z"}
    assert iso_ms(plan.from_ms) == result["time"]["from"]


def test_the_input_dashboard_is_not_changed() -> None:
    dashboard = sample_dashboard()
    before = copy.deepcopy(dashboard)
    plan = plan_capture(dashboard, CaptureRequest(), resolve, NOW_MS)
    embed_capture(dashboard, plan, answer(plan))
    assert dashboard == before


def test_results_in_any_order_embed_in_target_order() -> None:
    dashboard = sample_dashboard()
    plan = plan_capture(dashboard, CaptureRequest(), resolve, NOW_MS)
    results = answer(plan)
    forward = embed_capture(dashboard, plan, results)
    backward = embed_capture(dashboard, plan, list(reversed(results)))
    assert forward == backward


def test_the_embedded_dashboard_is_strict_json() -> None:
    _, result, _, _ = embedded()
    encoded = orjson.dumps(result)
    assert b"NaN" not in encoded
    assert orjson.loads(encoded) == result


def test_stats_count_panels_queries_series_and_points() -> None:
    _, _, plan, results = embedded()
    stats = capture_stats(plan, results, elapsed_ms=12)
    # 7 queries: 6 range queries of one series with two points, one instant query of one.
    assert stats.as_json() == {"panels": 4, "queries": 7, "series": 7, "points": 13, "ms": 12}


def test_stats_do_not_count_the_empty_frame_of_a_query_without_series() -> None:
    plan = plan_capture(sample_dashboard(), CaptureRequest(), resolve, NOW_MS)
    empty = [QueryResult(query, {"resultType": "matrix", "result": []}) for query in plan.queries]
    stats = capture_stats(plan, empty, elapsed_ms=0)
    assert (stats.series, stats.points) == (0, 0)


def test_iso_ms_is_javascripts_to_iso_string() -> None:
    assert iso_ms(0) == "1970-01-01T00:00:00.000Z"
    assert iso_ms(1_435_781_430_781) == "2015-07-01T20:10:30.781Z"
