"""The whole app over a Redis that goes away: requests answer 503 JSON promptly (no hang beyond
the socket timeout), and the same app serves again once Redis is back, without a restart."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient

from backends import open_store
from snapshot_server.webapp.app import create_app
from tests.api.conftest import api_config, auth, create
from tests.redis_servers import start_server
from tests.stores.redis import redis_config
from tests.support import ClientFactory, ManualClock, serve, skip_or_fail

SOCKET_TIMEOUT = 0.5
MARGIN = 1.5  # scheduling slack on a loaded CI machine

Client = TestClient[web.Request, web.Application]


async def test_redis_down_is_503_and_recovers(
    aiohttp_client: ClientFactory,
    tmp_path: Path,
    clock: ManualClock,
) -> None:
    if shutil.which("redis-server") is None:
        skip_or_fail("redis-server not installed")
    server = start_server(tmp_path)
    try:
        storage = redis_config(server.url, socket_timeout=SOCKET_TIMEOUT)
        client = await serve(
            aiohttp_client, create_app(api_config(storage), open_store, clock=clock)
        )
        made = await create(client)

        await asyncio.to_thread(server.stop)
        started = time.monotonic()
        requests = {
            "view": client.get(f"/api/snapshots/{made['key']}"),
            "create": client.post("/api/snapshots", json={"dashboard": {}}, headers=auth("editor")),
            "list": client.get("/api/dashboard/snapshots", headers=auth("editor")),
            "delete": client.get(f"/api/snapshots-delete/{made['deleteKey']}"),
            "health": client.get("/api/health"),
        }
        for name, request in requests.items():
            response = await request
            assert response.status == 503, name
            assert response.content_type == "application/json"
            body = await response.json()
            assert body["message"] == "Storage unavailable", name
        assert time.monotonic() - started < len(requests) * (SOCKET_TIMEOUT + MARGIN)

        await asyncio.to_thread(server.start)  # same port, empty data (no persistence)
        assert (await client.get("/api/health")).status == 200
        again = await create(client)
        response = await client.get(f"/api/snapshots/{again['key']}")
        assert response.status == 200
    finally:
        server.stop()
