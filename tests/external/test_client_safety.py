"""The remote client against answers no well-behaved HTTP server gives (raw sockets on a
loopback port): what reaches the 502 message and the log must never carry the secrets in the
URL called (a remote deleteKey lives in the deleteUrl's path); a slow drip is cut off by the
total timeout; a compressed answer is bounded by what it inflates to."""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from snapshot_server.errors import BadGateway
from snapshot_server.external.client import MAX_ANSWER_BYTES, RemoteClient

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


async def _serve(handler: Handler) -> tuple[asyncio.Server, int]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_a_slow_drip_answer_is_cut_off_by_the_total_timeout() -> None:
    # Headers at once, then one byte every 0.2 s: a per-read timeout would wait forever.
    async def drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
        writer.write(b"Content-Length: 1000\r\n\r\n")
        try:
            for _ in range(100):
                writer.write(b" ")
                await writer.drain()
                await asyncio.sleep(0.2)
        except (ConnectionError, asyncio.CancelledError):
            pass
        writer.close()

    server, port = await _serve(drip)
    client = RemoteClient(timeout=1.0)
    try:
        with pytest.raises(BadGateway, match="did not answer within 1 s"):
            await asyncio.wait_for(
                client.create(f"http://127.0.0.1:{port}/api/snapshots", b"{}"), 10
            )
    finally:
        await client.aclose()
        server.close()


async def test_a_compressed_answer_is_bounded_after_decompression() -> None:
    # 64 KiB on the wire that inflate to 64 MiB: the bound is on what is read, not what is sent.
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    body = b"".join(packer.compress(b"\0" * (1 << 20)) for _ in range(64)) + packer.flush()
    assert len(body) < MAX_ANSWER_BYTES

    async def bomb(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body) + body
        )
        await writer.drain()
        writer.close()

    server, port = await _serve(bomb)
    client = RemoteClient(timeout=5.0)
    try:
        with pytest.raises(BadGateway, match=f"more than {MAX_ANSWER_BYTES} bytes"):
            await client.create(f"http://127.0.0.1:{port}/api/snapshots", b"{}")
    finally:
        await client.aclose()
        server.close()
