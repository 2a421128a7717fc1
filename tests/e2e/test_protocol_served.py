"""The protocol guarantees hold for ``snapshot-server serve`` itself, not only for the test
server: the CLI serves through the same runner (JSON for malformed HTTP, one clean log line) and
the same application (aiohttp never inflates a body)."""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import orjson
import pytest

from tests.processes import EDITOR_TOKEN, ServerProcess

SECRET = "Qv7CliSecretDeleteKey"


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[ServerProcess]:
    process = ServerProcess(tmp_path, '[storage]\nbackend = "memory"')
    await process.start()
    try:
        yield process
    finally:
        await process.stop()


async def raw_exchange(server: ServerProcess, data: bytes) -> tuple[bytes, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(data)
        await writer.drain()
        async with asyncio.timeout(10):
            head = await reader.readuntil(b"\r\n\r\n")
            return head, await reader.read()
    finally:
        writer.close()


async def test_malformed_http_is_json_and_logged_as_one_line(server: ServerProcess) -> None:
    request = f"GET /api/snapshots-delete/{SECRET}{'A' * 9000} HTTP/1.1\r\nHost: x\r\n\r\n"
    head, body = await raw_exchange(server, request.encode())
    assert head.split(b" ", 2)[1] == b"400"
    assert b"Content-Type: application/json" in head
    assert orjson.loads(body) == {"message": "Bad request: request line or header too long"}
    await server.stop()
    log = server.log()
    assert SECRET not in log
    assert "Traceback" not in log
    (line,) = [line for line in log.splitlines() if "rejected a request" in line]
    assert line.endswith("request line or header too long")


async def test_a_compressed_body_is_inflated_by_the_server_not_aiohttp(
    server: ServerProcess,
) -> None:
    body = orjson.dumps({"dashboard": {"title": "zipped"}})
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{server.base_url}api/snapshots",
            data=zlib.compress(body),
            headers={"Content-Encoding": "deflate", "Authorization": f"Bearer {EDITOR_TOKEN}"},
        ) as created:
            assert created.status == 200
            key = (await created.json())["key"]
        async with session.get(f"{server.base_url}api/snapshots/{key}") as view:
            assert (await view.json())["dashboard"] == {"title": "zipped"}
        async with session.post(
            f"{server.base_url}api/snapshots",
            data=body,
            headers={"Content-Encoding": "br", "Authorization": f"Bearer {EDITOR_TOKEN}"},
        ) as refused:
            assert refused.status == 415
            assert refused.content_type == "application/json"
