"""Clients that take too long or send too much at once: request heads and bodies that trickle
in are cut off, and the bytes of bodies being received at once are bounded. These are protocol
matters, the same on every backend: the server here stores in memory.

The deadlines are aiohttp's own timers on the real event loop (no clock to inject there), so the
tests configure them short instead of sleeping long."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import pytest

from backends import open_store
from snapshot_server.abuse.settings import LimitsSettings
from snapshot_server.config import StorageConfig
from snapshot_server.webapp.app import create_app
from snapshot_server.webapp.appkeys import UPLOADS
from tests.api.conftest import Client, api_config, auth
from tests.api.raw_http import connect, read_response
from tests.support import ClientFactory, ManualClock, serve, until

MIB = 1 << 20
Make = Callable[..., Awaitable[Client]]


@pytest.fixture
def make(aiohttp_client: ClientFactory, clock: ManualClock) -> Make:
    async def make(**limits: Any) -> Client:
        config = api_config(StorageConfig(backend="memory"), limits=LimitsSettings(**limits))
        return await serve(aiohttp_client, create_app(config, open_store, clock=clock))

    return make


def create_head(length: int, user: str = "editor") -> bytes:
    token = auth(user)["Authorization"]
    return (
        "POST /api/snapshots HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: {token}\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


async def test_a_trickling_request_head_is_cut_off(make: Make) -> None:
    client = await make(header_timeout=0.3)
    reader, writer = await connect(client)
    writer.write(b"GET /api/health HTTP/1.1\r\nHo")  # and never the rest
    async with asyncio.timeout(5):
        assert await reader.read() == b""  # closed by the server, nothing answered
    writer.close()
    assert (await client.get("/api/health")).status == 200  # others are served meanwhile


async def test_a_head_that_completes_in_time_is_served(make: Make) -> None:
    client = await make(header_timeout=1.0)
    reader, writer = await connect(client)
    for part in (b"GET /api/hea", b"lth HTTP/1.1\r\n", b"Host: x\r\n\r\n"):
        writer.write(part)
        await asyncio.sleep(0.05)
    assert (await read_response(reader)).status == 200
    writer.close()


async def test_an_idle_keep_alive_connection_is_not_cut_off_by_the_head_deadline(
    make: Make,
) -> None:
    client = await make(header_timeout=0.2)
    reader, writer = await connect(client)
    writer.write(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (await read_response(reader)).status == 200
    await asyncio.sleep(0.5)  # idle, longer than the head deadline: no head has started
    writer.write(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (await read_response(reader)).status == 200
    writer.close()


async def test_a_trickling_body_is_answered_408(make: Make) -> None:
    client = await make(body_timeout=0.3)
    reader, writer = await connect(client)
    writer.write(create_head(1000) + b'{"dashboard": {')  # and never the rest
    response = await read_response(reader, within=5)
    writer.close()
    assert response.status == 408
    assert orjson.loads(response.body) == {
        "message": "Request body took too long to arrive: the limit is 0.3 seconds"
    }
    listed = await client.get("/api/dashboard/snapshots", headers=auth("editor"))
    assert await listed.json() == []


async def test_uploads_beyond_the_bytes_in_flight_wait_their_turn(make: Make) -> None:
    client = await make(upload_bytes_in_flight=MIB, body_timeout=10)
    gate = client.app[UPLOADS]
    body = orjson.dumps({"dashboard": {"pad": "x" * (700 * 1024)}})
    first_reader, first = await connect(client)
    first.write(create_head(len(body)) + body[:1000])  # holds its reservation, half sent
    await until(lambda: gate.reserved == len(body))
    second = asyncio.create_task(client.post("/api/snapshots", data=body, headers=auth("editor")))
    await asyncio.sleep(0.1)
    assert gate.reserved == len(body)  # the second does not fit beside the first: it waits
    first.write(body[1000:])
    assert (await read_response(first_reader)).status == 200
    first.close()
    assert (await second).status == 200
    assert gate.reserved == 0


async def test_an_upload_that_cannot_get_room_in_time_is_503_with_retry_after(
    make: Make,
) -> None:
    client = await make(upload_bytes_in_flight=MIB, body_timeout=0.3)
    gate = client.app[UPLOADS]
    async with gate.hold(MIB, wait=1):  # other uploads hold every byte meanwhile
        response = await client.post(
            "/api/snapshots", json={"dashboard": {}}, headers=auth("editor")
        )
    assert response.status == 503
    assert int(response.headers["Retry-After"]) >= 1
    assert (await response.json())["message"].startswith("Too many uploads in progress")
    assert gate.reserved == 0
    assert (
        await client.post("/api/snapshots", json={"dashboard": {}}, headers=auth("editor"))
    ).status == 200
