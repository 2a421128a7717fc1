"""``[capture] auto = true``: grafana-client's stock ``create_new_snapshot(dashboard=...)``
gets its Prometheus panels captured, for tokens holding ``snapshots:capture`` only, and panels
that carry data of their own are left alone."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer
from grafana_client.api import GrafanaApi

from backends import open_store
from snapshot_server.webapp.app import create_app
from tests.api.conftest import USERS, auth
from tests.capture.apps import CAPTURER_TOKEN, capture_config, dashboard
from tests.capture.prometheus_server import PrometheusServer
from tests.support import Client

MakeClient = Callable[..., Awaitable[Client]]


def timed(window: tuple[int, int]) -> dict[str, Any]:
    """The test dashboard over ``window`` (epoch ms in ``time``, as Grafana accepts it)."""
    sent = dashboard()
    sent["time"] = {"from": str(window[0]), "to": str(window[1])}
    return sent


async def test_stock_grafana_client_gets_data(
    aiohttp_server: Callable[[web.Application], Awaitable[TestServer]],
    prometheus: PrometheusServer,
    window: tuple[int, int],
) -> None:
    app = create_app(capture_config(prometheus.url, auto=True), open_store)
    server = await aiohttp_server(app)
    api = GrafanaApi(auth=USERS["editor"][0], host="127.0.0.1", port=server.port, protocol="http")
    sent = timed(window)

    def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        made = api.snapshots.create_new_snapshot(dashboard=sent, name="auto", expires=3600)
        return made, api.snapshots.get_snapshot_by_key(made["key"])

    try:
        made, got = await asyncio.to_thread(scenario)
    finally:
        api.client.s.close()
    assert made["capture"]["panels"] == 5
    requests = got["dashboard"]["panels"][0]
    (target,) = requests["targets"]
    assert target["queryType"] == "snapshot"
    assert [f["data"]["values"][1] for f in target["snapshot"]] == [[2.0] * 41, [0.5] * 41]
    assert got["dashboard"]["panels"][4] == sent["panels"][4]  # Loki: not ours


async def test_auto_needs_the_scope_and_no_capture_member(
    make_capture_client: MakeClient, prometheus: PrometheusServer, window: tuple[int, int]
) -> None:
    client = await make_capture_client(prometheus.url, auto=True)
    sent = timed(window)
    for headers, extra in (
        ({"Authorization": f"Bearer {CAPTURER_TOKEN}"}, {}),  # may create, may not capture
        (auth("editor"), {"capture": False}),  # declined
    ):
        response = await client.post(
            "/api/snapshots", json={"dashboard": sent, **extra}, headers=headers
        )
        answer = await response.json()
        assert set(answer) == {"deleteKey", "deleteUrl", "key", "url", "id"}
        got = await (await client.get(f"/api/snapshots/{answer['key']}")).json()
        assert got["dashboard"] == sent


async def test_auto_leaves_panels_with_data_alone(
    make_capture_client: MakeClient, prometheus: PrometheusServer, window: tuple[int, int]
) -> None:
    client = await make_capture_client(prometheus.url, auto=True)
    sent = timed(window)
    legacy = sent["panels"][1]
    legacy["snapshotData"] = [{"target": "kept", "datapoints": [[1, window[0]]]}]
    scenes = sent["panels"][2]
    scenes["targets"][0]["snapshot"] = [{"schema": {"fields": []}, "data": {"values": []}}]
    response = await client.post("/api/snapshots", json={"dashboard": sent}, headers=auth("editor"))
    answer = await response.json()
    assert answer["capture"]["panels"] == 3  # Requests, and the two in the collapsed row
    got = (await (await client.get(f"/api/snapshots/{answer['key']}")).json())["dashboard"]
    assert got["panels"][1] == legacy
    assert got["panels"][2] == scenes
    assert got["panels"][0]["targets"][0]["queryType"] == "snapshot"


async def test_auto_does_not_capture_for_anonymous_public_mode(
    make_capture_client: MakeClient, prometheus: PrometheusServer, window: tuple[int, int]
) -> None:
    client = await make_capture_client(prometheus.url, auto=True, public_mode=True)
    sent = timed(window)
    response = await client.post("/api/snapshots", json={"dashboard": sent})
    assert response.status == 200
    answer = await response.json()
    assert "capture" not in answer
    got = await (await client.get(f"/api/snapshots/{answer['key']}")).json()
    assert got["dashboard"] == sent
