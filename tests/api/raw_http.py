"""Raw HTTP over a loopback socket, for requests no HTTP client library would send."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from tests.support import Client


@dataclass
class RawResponse:
    status: int
    head: str  # status line and headers, as text
    body: bytes

    def header(self, name: str) -> str | None:
        for line in self.head.split("\r\n")[1:]:
            key, _, value = line.partition(":")
            if key.strip().lower() == name.lower():
                return value.strip()
        return None


async def connect(client: Client) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    server = client.server
    assert server.port is not None
    return await asyncio.open_connection("127.0.0.1", server.port)


async def read_response(reader: asyncio.StreamReader, within: float = 10.0) -> RawResponse:
    """One response (status line, headers, Content-Length body) from ``reader``."""
    async with asyncio.timeout(within):
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        status = int(head.split(" ", 2)[1])
        response = RawResponse(status, head, b"")
        length = response.header("Content-Length")
        if length:
            response.body = await reader.readexactly(int(length))
        return response


async def exchange(client: Client, data: bytes) -> RawResponse:
    """Send ``data`` on a new connection and read one response."""
    reader, writer = await connect(client)
    try:
        writer.write(data)
        await writer.drain()
        return await read_response(reader)
    finally:
        writer.close()
