"""Every way a capture fails, through the API: the status and JSON message the contract
promises, and nothing stored (the list stays empty)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.api.conftest import auth
from tests.capture import stubs
from tests.capture.apps import CAPTURER_TOKEN, dashboard, panel
from tests.capture.prometheus_server import PrometheusServer
from tests.support import Client, free_port

MakeClient = Callable[..., Awaitable[Client]]


async def refused(
    client: Client, body: dict[str, Any], status: int, headers: dict[str, str] | None = None
) -> str:
    """Post ``body``; check the answer is ``status`` with a JSON message and that nothing was
    stored; return the message."""
    response = await client.post(
        "/api/snapshots", json=body, headers=auth("editor") if headers is None else headers
    )
    assert response.status == status
    assert response.content_type == "application/json"
    message: str = (await response.json())["message"]
    listed = await client.get("/api/dashboard/snapshots", headers=auth("admin"))
    assert await listed.json() == []
    return message


def window_body(window: tuple[int, int], **capture: Any) -> dict[str, Any]:
    return {"dashboard": dashboard(), "capture": {"from": window[0], "to": window[1], **capture}}


async def test_a_promql_error_is_400_naming_the_panel(
    capture_client: Client, window: tuple[int, int]
) -> None:
    body = window_body(window)
    body["dashboard"]["panels"][2]["targets"][0]["expr"] = "sum(capture_flaky"
    message = await refused(capture_client, body, 400)
    assert message.startswith("Panel 3 ('Flaky'), query F: Prometheus rejected it: ")
    assert "unclosed left parenthesis" in message


async def test_a_closed_port_is_502(make_capture_client: MakeClient) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    client = await make_capture_client(url)
    message = await refused(client, {"dashboard": dashboard(), "capture": True}, 502)
    assert message.startswith(f"Prometheus datasource 'prom' ({url}) could not be reached")


async def test_a_redirect_is_not_followed(
    make_capture_client: MakeClient, aiohttp_server: stubs.ServerFactory
) -> None:
    stub = await stubs.start_stub(aiohttp_server, stubs.redirect_to_trap)
    client = await make_capture_client(stub.url, max_concurrent_queries=1)
    message = await refused(client, {"dashboard": dashboard(), "capture": True}, 502)
    assert "answered a redirect (HTTP 307), which is not followed" in message
    assert "/trap" not in {path for path, _, _ in stub.received}


async def test_a_slow_datasource_is_504(
    make_capture_client: MakeClient, aiohttp_server: stubs.ServerFactory
) -> None:
    stub = await stubs.start_stub(aiohttp_server, stubs.never_answer)
    client = await make_capture_client(stub.url, timeout=0.3)
    try:
        message = await refused(client, {"dashboard": dashboard(), "capture": True}, 504)
    finally:
        stub.release.set()
    assert "0.3 s" in message


async def test_a_server_that_is_not_prometheus_is_502(
    make_capture_client: MakeClient, aiohttp_server: stubs.ServerFactory
) -> None:
    stub = await stubs.start_stub(aiohttp_server, stubs.html_page)
    client = await make_capture_client(stub.url)
    message = await refused(client, {"dashboard": dashboard(), "capture": True}, 502)
    assert "did not answer like a Prometheus API" in message


@pytest.mark.parametrize(
    ("cap", "message"),
    [
        ({"max_queries": 4}, "The dashboard has 5 queries to capture; at most 4 are allowed"),
        ({"max_range": 599}, "The time range to capture is 600 s; at most 599 s is allowed"),
        ({"max_series": 5}, "The queries returned more than 5 series (capture.max_series)"),
        ({"max_points": 100}, "The queries returned more than 100 points (capture.max_points)"),
        ({"max_response_bytes": 2000}, "Prometheus answers exceed 2000 bytes for this snapshot"),
    ],
)
async def test_over_a_cap_is_413(
    make_capture_client: MakeClient,
    prometheus: PrometheusServer,
    window: tuple[int, int],
    cap: dict[str, int],
    message: str,
) -> None:
    client = await make_capture_client(prometheus.url, **cap)
    assert (await refused(client, window_body(window), 413)).startswith(message)


async def test_just_at_the_caps_passes(
    make_capture_client: MakeClient, prometheus: PrometheusServer, window: tuple[int, int]
) -> None:
    caps = {"max_queries": 5, "max_range": 600, "max_series": 6, "max_points": 206}
    client = await make_capture_client(prometheus.url, **caps)
    response = await client.post("/api/snapshots", json=window_body(window), headers=auth("editor"))
    assert response.status == 200


async def test_refusals(make_capture_client: MakeClient, prometheus: PrometheusServer) -> None:
    body = {"dashboard": dashboard(), "capture": True}
    client = await make_capture_client(prometheus.url)
    no_scope = {"Authorization": f"Bearer {CAPTURER_TOKEN}"}
    assert await refused(client, body, 403, no_scope) == (
        "Capturing data needs the snapshots:capture scope"
    )
    # the same token creates without capture
    response = await client.post(
        "/api/snapshots", json={"dashboard": dashboard()}, headers=no_scope
    )
    assert response.status == 200
    await client.get(f"/api/snapshots-delete/{(await response.json())['deleteKey']}")

    disabled = await make_capture_client(prometheus.url, enabled=False)
    assert await refused(disabled, body, 403) == (
        "Capturing data on create is disabled on this server"
    )

    public = await make_capture_client(prometheus.url, public_mode=True)
    assert await refused(public, body, 403, {}) == (
        "Anonymous snapshots cannot capture data: use a token"
    )


@pytest.mark.parametrize(
    ("capture", "message"),
    [
        ("yes", "capture must be true, false or an object"),
        ([1], "capture must be true, false or an object"),
        ({"form": "now-1h"}, "capture.form is not a capture option"),
        ({"datasource": "nope"}, "Cannot capture: capture datasource 'nope' is not configured"),
        ({"datasource": 3}, "capture.datasource must be a non-empty string"),
        ({"from": "yesterday-ish"}, "Cannot capture: "),
        ({"from": True}, "capture.from must be a time such as"),
        ({"to": -1}, "capture.to must not be negative"),
        ({"maxDataPoints": 0}, "capture.maxDataPoints must be an integer from 1 to 100000"),
        ({"maxDataPoints": "9"}, "capture.maxDataPoints must be an integer from 1 to 100000"),
        ({"variables": ["job"]}, "capture.variables must be an object"),
        ({"variables": {"job": 3}}, "capture.variables.job must be a string or a list"),
    ],
)
async def test_a_bad_capture_member_is_400(
    capture_client: Client, capture: Any, message: str
) -> None:
    body = {"dashboard": dashboard(), "capture": capture}
    assert (await refused(capture_client, body, 400)).startswith(message)


async def test_failures_are_counted(capture_client: Client, window: tuple[int, int]) -> None:
    await capture_client.post("/api/snapshots", json=window_body(window), headers=auth("editor"))
    bad = window_body(window)
    bad["dashboard"]["panels"] = [panel(1, "Bad", {"refId": "A", "expr": "rate("})]
    await capture_client.post("/api/snapshots", json=bad, headers=auth("editor"))
    text = await (await capture_client.get("/metrics")).text()
    assert "snapshot_captures_total 1.0" in text
    assert 'snapshot_capture_queries_total{outcome="ok"} 5.0' in text
    assert 'snapshot_capture_queries_total{outcome="failed"} 1.0' in text
    assert 'snapshot_capture_failures_total{reason="query_error"} 1.0' in text
    assert 'snapshot_capture_failures_total{reason="timeout"} 0.0' in text
    assert "snapshot_capture_duration_seconds_count 1.0" in text


async def test_a_result_capture_cannot_use_is_502(
    make_capture_client: MakeClient, aiohttp_server: stubs.ServerFactory
) -> None:
    """A string result (``resultType: string``) has no frames Grafana would draw."""
    answer = {"status": "success", "data": {"resultType": "string", "result": [1, "x"]}}
    stub = await stubs.start_stub(aiohttp_server, stubs.answering(200, answer))
    client = await make_capture_client(stub.url)
    message = await refused(client, {"dashboard": dashboard(), "capture": True}, 502)
    assert message.startswith("A Prometheus datasource answered what capture cannot use: ")


async def test_a_self_referencing_all_value_is_400(make_capture_client: MakeClient) -> None:
    # Planning refuses it before any query (the port is closed): it was a RecursionError, a 500.
    client = await make_capture_client(f"http://127.0.0.1:{free_port()}")
    board = dashboard()
    board["templating"]["list"] = [
        {
            "name": "job",
            "type": "custom",
            "includeAll": True,
            "allValue": "$job",
            "current": {"value": "$__all"},
        }
    ]
    board["panels"][0]["targets"][0]["expr"] = 'up{job=~"$job"}'
    message = await refused(client, {"dashboard": board, "capture": True}, 400)
    assert message.startswith("Cannot capture: variable 'job': its All value names variables")


async def test_a_time_past_what_a_date_holds_is_400(make_capture_client: MakeClient) -> None:
    client = await make_capture_client(f"http://127.0.0.1:{free_port()}")
    body = {"dashboard": dashboard(), "capture": {"from": "now-99999999999999m"}}
    message = await refused(client, body, 400)  # was an OverflowError: a 500
    assert message == "Cannot capture: time 'now-99999999999999m' is out of range"


async def test_a_panels_relative_time_counts_against_the_range_cap(
    make_capture_client: MakeClient,
) -> None:
    # An hour's dashboard, but one panel's "Relative time" asks a year: refused before any
    # query (the port is closed). It ran before: the cap read the dashboard's range only.
    client = await make_capture_client(f"http://127.0.0.1:{free_port()}", max_range=7200)
    board = dashboard()
    board["time"] = {"from": "now-1h", "to": "now"}
    board["panels"][0]["timeFrom"] = "1y"
    message = await refused(client, {"dashboard": board, "capture": True}, 413)
    assert message.startswith("The time range to capture is 3.1536e+07 s")
    assert message.endswith("at most 7200 s is allowed (capture.max_range)")


@pytest.mark.parametrize("values", [5, None, {"a": 1}])
async def test_series_values_of_the_wrong_type_are_502(
    make_capture_client: MakeClient, aiohttp_server: stubs.ServerFactory, values: object
) -> None:
    # Counting them against the caps raised a TypeError (a 500) for a number.
    series = {"metric": {"__name__": "up"}, "values": values}
    answer = {"status": "success", "data": {"resultType": "matrix", "result": [series]}}
    stub = await stubs.start_stub(aiohttp_server, stubs.answering(200, answer))
    client = await make_capture_client(stub.url, max_points=1000)
    message = await refused(client, {"dashboard": dashboard(), "capture": True}, 502)
    assert message.startswith("A Prometheus datasource answered what capture cannot use: ")


async def test_a_dashboard_nested_too_deeply_is_400(
    make_capture_client: MakeClient, aiohttp_server: stubs.ServerFactory
) -> None:
    # Deeper than the stored JSON may be (254 levels), yet readable (1024): copying it to
    # embed the data raised a RecursionError (a 500).
    answer = {"status": "success", "data": {"resultType": "matrix", "result": []}}
    stub = await stubs.start_stub(aiohttp_server, stubs.answering(200, answer))
    client = await make_capture_client(stub.url)
    deep: list[object] = []
    for _ in range(900):
        deep = [deep]
    board = dashboard()
    board["panels"][0]["options"] = deep
    message = await refused(client, {"dashboard": board, "capture": True}, 400)
    assert message == "dashboard is nested too deeply"


@pytest.mark.parametrize("place", ["title", "variable"])
async def test_a_deep_value_planning_reads_is_400_before_any_query(
    make_capture_client: MakeClient, place: str
) -> None:
    # Planning names a panel by its title and reads variables' values as text: str() of a
    # value 1000 levels deep raised a RecursionError (a 500). The port is closed: nothing ran.
    client = await make_capture_client(f"http://127.0.0.1:{free_port()}")
    board = dashboard()
    if place == "title":
        board["panels"][0]["title"] = "DEEP"
    else:
        board["templating"]["list"][0]["current"] = {"value": ["DEEP"]}
    # Written by hand: JSON encoders refuse this depth, the server's parser reads 1024 levels.
    raw = json.dumps({"dashboard": board, "capture": True}).replace(
        '"DEEP"', "[" * 1000 + "]" * 1000
    )
    response = await client.post(
        "/api/snapshots", data=raw, headers={**auth("editor"), "Content-Type": "application/json"}
    )
    assert response.status == 400
    assert await response.json() == {"message": "dashboard is nested too deeply"}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"key": "not a key!"}, "key must match"),
        ({"key": "same-key-123", "deleteKey": "same-key-123"}, "key and deleteKey must differ"),
        ({"expires": 200 * 365 * 86400}, "expires must be at most"),
    ],
)
async def test_a_create_bound_to_fail_runs_no_query(
    make_capture_client: MakeClient, aiohttp_server: stubs.ServerFactory, fields: Any, message: str
) -> None:
    # The create's own checks come first: the capture ran before them, every query for nothing.
    answer = {"status": "success", "data": {"resultType": "matrix", "result": []}}
    stub = await stubs.start_stub(aiohttp_server, stubs.answering(200, answer))
    client = await make_capture_client(stub.url)
    body = {"dashboard": dashboard(), "capture": True, **fields}
    assert (await refused(client, body, 400)).startswith(message)
    assert stub.received == []
