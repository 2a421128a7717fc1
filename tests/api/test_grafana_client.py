"""The real ``grafana-client`` package from PyPI against the running server: the client our
users have. It is synchronous, so it runs in a thread while the server runs on the loop."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from grafana_client.api import GrafanaApi
from grafana_client.client import GrafanaClientError

from backends import open_store
from snapshot_server.config import StorageConfig
from snapshot_server.webapp.app import create_app
from tests.api.conftest import USERS, api_config
from tests.support import ManualClock

DASHBOARD: dict[str, Any] = {
    "title": "From grafana-client",
    "panels": [{"id": 1, "type": "stat", "title": "up"}],
}


async def test_grafana_client_create_list_get_delete(
    aiohttp_server: Callable[[web.Application], Awaitable[TestServer]],
    storage_config: StorageConfig,
    clock: ManualClock,
) -> None:
    server = await aiohttp_server(create_app(api_config(storage_config), open_store, clock=clock))
    api = GrafanaApi(auth=USERS["editor"][0], host="127.0.0.1", port=server.port, protocol="http")
    snapshots = api.snapshots

    def scenario() -> None:
        made = snapshots.create_new_snapshot(dashboard=DASHBOARD, name="gc", expires=3600)
        assert set(made) == {"deleteKey", "deleteUrl", "key", "url", "id"}
        other = snapshots.create_new_snapshot(dashboard=DASHBOARD, name="gc2")

        listed = snapshots.get_dashboard_snapshots()
        assert [item["key"] for item in listed] == [made["key"], other["key"]]
        assert listed[0]["name"] == "gc"

        got = snapshots.get_snapshot_by_key(made["key"])
        assert got["dashboard"] == DASHBOARD
        assert got["meta"]["isSnapshot"] is True

        deleted = snapshots.delete_snapshot_by_key(made["key"])
        assert deleted["message"].startswith("Snapshot deleted.")
        assert deleted["id"] == made["id"]

        deleted = snapshots.delete_snapshot_by_delete_key(other["deleteKey"])
        assert deleted["message"].startswith("Snapshot deleted.")
        assert deleted["id"] == other["id"]

        assert snapshots.get_dashboard_snapshots() == []
        with pytest.raises(GrafanaClientError) as gone:
            snapshots.get_snapshot_by_key(made["key"])
        assert gone.value.status_code == 404

    try:
        await asyncio.to_thread(scenario)
    finally:
        api.client.s.close()
