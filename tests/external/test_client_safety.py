"""The remote client against answers no well-behaved HTTP server gives (raw sockets on a
loopback port): what reaches the 502 message and the log must never carry the secrets in the
URL called (a remote deleteKey lives in the deleteUrl's path)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from snapshot_server.errors import BadGateway
from snapshot_server.external.client import RemoteClient

SECRET = "RemoteDeleteKey0123456789abcdefX"

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _malformed(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read(65536)
    writer.write(b"HTTP/1.1 200 OK\r\nBad Header Line\x00\r\n\r\n")
    await writer.drain()
    writer.close()


@pytest.fixture
async def malformed_port() -> AsyncIterator[int]:
    server = await asyncio.start_server(_malformed, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


async def test_a_malformed_answer_never_echoes_the_url_called(
    malformed_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    client = RemoteClient(timeout=2.0)
    url = f"http://127.0.0.1:{malformed_port}/api/snapshots-delete/{SECRET}"
    caplog.set_level(logging.DEBUG)
    try:
        with pytest.raises(BadGateway) as raised:
            await client.delete(url)
    finally:
        await client.aclose()
    message = raised.value.message
    assert f"127.0.0.1:{malformed_port}" in message  # it still names the server
    assert "delete the snapshot" in message
    assert SECRET not in message
    assert SECRET not in caplog.text
    assert "\n" not in message  # the remote's bytes cannot forge log lines
