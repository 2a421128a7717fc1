"""Small helpers shared by the test suites."""

from __future__ import annotations

import asyncio
import functools
import os
import secrets
import struct
import time
import zlib
from collections.abc import Awaitable, Callable
from typing import Any, cast

import pytest
from aiohttp import web
from aiohttp.test_utils import BaseTestServer, TestClient, TestServer

from snapshot_server.errors import SnapshotNotFound
from snapshot_server.models import NewSnapshot, SnapshotMeta, hash_secret
from snapshot_server.storage import SnapshotStore
from snapshot_server.webapp.protocol import SnapshotRunner

Client = TestClient[web.Request, web.Application]
ClientFactory = Callable[[BaseTestServer], Awaitable[Any]]


class SnapshotTestServer(TestServer):
    """aiohttp's test server, serving the app exactly as ``snapshot-server serve`` does:
    through ``SnapshotRunner`` (JSON protocol errors, no inflation by aiohttp)."""

    async def _make_runner(self, **kwargs: Any) -> web.AppRunner:
        return SnapshotRunner(self.app, **kwargs)


async def serve(aiohttp_client: ClientFactory, app: web.Application) -> Client:
    """A test client of ``app`` served by ``SnapshotTestServer`` on a loopback port."""
    return cast(Client, await aiohttp_client(SnapshotTestServer(app)))


class ManualClock:
    """A clock that stands still until a test moves it. Starts at the real time, so backends
    with native TTLs (Redis) see sensible absolute expiry times."""

    def __init__(self, start: float | None = None) -> None:
        self.now = float(int(start if start is not None else time.time()))

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def skip_or_fail(reason: str) -> None:
    """Skip locally, but fail in CI: there a missing service is a missing install step."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: required here, not skippable)")
    pytest.skip(reason)


def find_program(name: str, *paths: str) -> str | None:
    """The first of ``paths`` that is a file, else ``name`` on PATH, else ``None``."""
    import shutil
    from pathlib import Path

    for path in paths:
        if Path(path).is_file():
            return path
    return shutil.which(name)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago on ``host`` (the OS picks it)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def new_record(
    now: float,
    key: str | None = None,
    delete_key: str | None = None,
    *,
    name: str = "snap",
    org_id: int = 1,
    user_id: int = 1,
    expires_in: float | None = None,
    dashboard: bytes = b'{"title":"t","panels":[]}',
    password_hash: str = "",
) -> NewSnapshot:
    """A record to insert, created at ``now``; random keys unless given."""
    meta = SnapshotMeta(
        id=0,
        key=key or secrets.token_hex(16),
        delete_key_hash=hash_secret(delete_key or secrets.token_hex(16)),
        name=name,
        org_id=org_id,
        user_id=user_id,
        external=False,
        external_url="",
        external_delete_url="",
        created=now,
        updated=now,
        expires=None if expires_in is None else now + expires_in,
        etag='"e"',
        password_hash=password_hash,
    )
    return NewSnapshot(meta, dashboard)


async def assert_unreachable(
    store: SnapshotStore, key: str, delete_key: str, snapshot_id: int, now: float
) -> None:
    """Every way to the snapshot (its view key, its deleteKey, both deletes) says not found."""
    with pytest.raises(SnapshotNotFound):
        await store.get(key, now)
    with pytest.raises(SnapshotNotFound):
        await store.get_by_delete_key(hash_secret(delete_key), now)
    with pytest.raises(SnapshotNotFound):
        await store.delete(key, now, expect_id=snapshot_id)
    with pytest.raises(SnapshotNotFound):
        await store.delete_by_delete_key(hash_secret(delete_key), now)


async def until(condition: Callable[[], bool], within: float = 10.0) -> None:
    """Wait until ``condition()`` holds (polled): state a server reaches in its own time."""
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"condition not reached in {within:g} s"
        await asyncio.sleep(0.01)


@functools.cache
def gzip_bomb(inflated_mib: int) -> bytes:
    """A valid gzip body of ~1 KiB per MiB it inflates to (zeros), built without compressing
    them all: a full flush makes every 1 MiB block of zeros compress to the same bytes."""
    block = bytes(1 << 20)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    first = deflate.compress(block) + deflate.flush(zlib.Z_FULL_FLUSH)
    repeated = deflate.compress(block) + deflate.flush(zlib.Z_FULL_FLUSH)
    last = deflate.compress(block) + deflate.flush()
    crc = 0
    for _ in range(inflated_mib):
        crc = zlib.crc32(block, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    trailer = struct.pack("<II", crc, (inflated_mib << 20) & 0xFFFFFFFF)
    return header + first + repeated * (inflated_mib - 2) + last + trailer
