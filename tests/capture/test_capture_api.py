"""Capture through the API against the real Prometheus: create with ``capture``, then GET the
snapshot and check the embedded frames field by field (the known rates, step-aligned times,
NaN as null, display names, refIds, where ``executedQueryString`` goes), and that a create
without ``capture`` is exactly what it was before."""

from __future__ import annotations

from typing import Any

import orjson

from snapshot_server.capture.embed import iso_ms
from tests.api.conftest import auth
from tests.capture.apps import LOKI, dashboard
from tests.support import Client, ManualClock

GRAFANA = {"type": "grafana", "uid": "grafana"}
STEP_MS = 15_000  # 10 minutes over a 24-column panel: Grafana's step is the scrape interval


async def create(client: Client, body: dict[str, Any], user: str = "editor") -> dict[str, Any]:
    response = await client.post("/api/snapshots", json=body, headers=auth(user))
    answer: dict[str, Any] = await response.json()
    assert response.status == 200, answer
    return answer


async def stored(client: Client, key: str) -> dict[str, Any]:
    response = await client.get(f"/api/snapshots/{key}")
    assert response.status == 200
    got: dict[str, Any] = (await response.json())["dashboard"]
    return got


def series_frame(
    ref_id: str,
    name: str,
    labels: dict[str, str],
    display: str,
    times: list[int],
    values: list[Any],
    *,
    first: str | None,
) -> dict[str, Any]:
    """A range query's frame as Grafana's Prometheus support builds it; ``first`` is the
    executed query of a query's first frame (``None`` on the others)."""
    meta: dict[str, Any] = {
        "type": "timeseries-multi",
        "typeVersion": [0, 1],  # as in Grafana's converter golden file
        "custom": {"resultType": "matrix"},
    }
    if first is not None:
        meta["custom"]["calculatedMinStep"] = STEP_MS
        meta["executedQueryString"] = f"Expr: {first}\nStep: 15s"
    meta["preferredVisualisationType"] = "graph"
    return {
        "schema": {
            "refId": ref_id,
            "meta": meta,
            "fields": [
                {
                    "name": "Time",
                    "type": "time",
                    "typeInfo": {"frame": "time.Time"},
                    "config": {"interval": STEP_MS},
                },
                {
                    "name": name,
                    "type": "number",
                    "typeInfo": {"frame": "float64"},
                    "labels": labels,
                    "config": {"displayNameFromDS": display},
                },
            ],
        },
        "data": {"values": [times, values]},
    }


def snapshot_target(*frames: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"refId": "A", "datasource": GRAFANA, "queryType": "snapshot", "snapshot": list(frames)}
    ]


async def test_captured_frames_are_grafanas_exactly(
    capture_client: Client, window: tuple[int, int], clock: ManualClock
) -> None:
    start, end = window
    sent = dashboard()
    answer = await create(
        capture_client, {"dashboard": sent, "capture": {"from": start, "to": str(end)}}
    )
    times = list(range(start, end + 1, STEP_MS))
    n = len(times)
    assert n == 41
    assert set(answer) == {"deleteKey", "deleteUrl", "key", "url", "id", "capture"}
    capture = answer["capture"]
    assert capture.pop("ms") >= 0
    # Requests A (2 series), Temperature, Flaky, Singleton, Now (instant: 1 point); B is hidden
    assert capture == {"panels": 5, "queries": 5, "series": 6, "points": 5 * n + 1}

    got = await stored(capture_client, answer["key"])
    requests, temperature, flaky, row, logs = got["panels"]
    query = 'rate(capture_requests_total{job="api"}[5m])'  # $job interpolated
    assert requests["datasource"] == GRAFANA
    assert requests["targets"] == snapshot_target(
        series_frame(
            "A", "Value", {"code": "200", "job": "api"}, "200", times, [2.0] * n, first=query
        ),
        series_frame(
            "A", "Value", {"code": "500", "job": "api"}, "500", times, [0.5] * n, first=None
        ),
    )
    assert temperature["targets"] == snapshot_target(
        series_frame(
            "T",
            "capture_temperature_celsius",
            {"__name__": "capture_temperature_celsius", "room": "lab"},
            "lab",
            times,
            [21.5] * n,
            first="capture_temperature_celsius",
        )
    )
    # NaN on every whole minute (every 4th sample); JSON has no NaN: null, as Grafana writes it
    (frame,) = flaky["targets"][0]["snapshot"]
    assert frame["data"]["values"] == [times, [None if t % 60_000 == 0 else 1.0 for t in times]]
    assert frame["schema"]["fields"][1]["labels"] == {"__name__": "capture_flaky", "probe": "a"}

    singleton, instant = row["panels"]  # inside a collapsed row: captured too
    assert singleton["targets"] == snapshot_target(
        series_frame(
            "S",
            "capture_singleton",
            {"__name__": "capture_singleton"},
            "capture_singleton",
            times,
            [7.0] * n,
            first="capture_singleton",
        )
    )
    (point,) = instant["targets"][0]["snapshot"]
    assert point["schema"]["refId"] == "I"
    assert point["schema"]["meta"]["type"] == "numeric-multi"
    assert point["schema"]["meta"]["custom"]["resultType"] == "vector"
    assert point["data"]["values"] == [[end], [7.0]]  # evaluated at the range's end

    assert logs == sent["panels"][4]  # another datasource: left exactly as sent
    assert logs["datasource"] == LOKI
    assert got["time"] == {
        "from": iso_ms(start),
        "to": iso_ms(end),
        "raw": {"from": str(start), "to": str(end)},
    }
    assert got["snapshot"]["timestamp"] == iso_ms(int(clock() * 1000))
    assert "snapshotData" not in orjson.dumps(got).decode()


async def test_the_dashboards_own_range_and_a_variable_override(
    capture_client: Client, window: tuple[int, int], clock: ManualClock
) -> None:
    """Without from/to, the dashboard's own ``time`` (relative to the server's clock)."""
    start, end = window
    clock.now = end / 1000
    sent = dashboard()
    sent["time"] = {"from": "now-10m", "to": "now"}
    sent["panels"][0]["targets"][0]["expr"] = 'rate(capture_requests_total{code="$code"}[5m])'
    answer = await create(
        capture_client, {"dashboard": sent, "capture": {"variables": {"code": "500"}}}
    )
    got = await stored(capture_client, answer["key"])
    (frame,) = got["panels"][0]["targets"][0]["snapshot"]
    assert frame["data"]["values"][0] == list(range(start, end + 1, STEP_MS))
    assert frame["data"]["values"][1] == [0.5] * 41
    assert got["time"]["raw"] == {"from": "now-10m", "to": "now"}


async def test_without_capture_nothing_changes(capture_client: Client) -> None:
    """No ``capture`` member (or ``false``): Grafana's five fields, the dashboard as sent."""
    for extra in ({}, {"capture": False}, {"capture": None}):
        sent = dashboard()
        answer = await create(capture_client, {"dashboard": sent, **extra})
        assert set(answer) == {"deleteKey", "deleteUrl", "key", "url", "id"}
        assert await stored(capture_client, answer["key"]) == sent


async def test_a_capture_with_nothing_to_capture_reports_zeros(capture_client: Client) -> None:
    sent = {"title": "logs only", "panels": [dashboard()["panels"][4]]}
    answer = await create(capture_client, {"dashboard": sent, "capture": True})
    assert answer["capture"] == {"panels": 0, "queries": 0, "series": 0, "points": 0, "ms": 0}
    assert await stored(capture_client, answer["key"]) == sent
