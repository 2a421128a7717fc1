"""Fixtures of the end-to-end tests."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.redis_servers import RedisServer, free_port
from tests.support import skip_or_fail


@pytest.fixture(params=["sqlite", "filesystem", "redis"])
async def shared_storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """TOML for a backend that several server processes can share (Redis: a private
    ``redis-server`` on a free loopback port)."""
    if request.param == "sqlite":
        yield f'[storage]\nbackend = "sqlite"\n[storage.sqlite]\npath = "{tmp_path}/s.db"'
    elif request.param == "filesystem":
        yield f'[storage]\nbackend = "filesystem"\n[storage.filesystem]\npath = "{tmp_path}/fs"'
    else:
        if shutil.which("redis-server") is None:
            skip_or_fail("redis-server not installed")
        server = RedisServer(tmp_path / "redis", free_port())
        server.start()
        try:
            yield f'[storage]\nbackend = "redis"\n[storage.redis]\nurl = "{server.url}"'
        finally:
            server.stop()
