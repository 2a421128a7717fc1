"""Fixtures for real server processes in both external roles, on sqlite and on Redis."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tests.processes import ServerProcess

StorageToml = Callable[[str], str]
"""``storage_toml(name)``: the ``[storage]`` tables of one instance, apart from the others'."""


@pytest.fixture(params=["sqlite", "redis"])
def storage_toml(request: pytest.FixtureRequest, tmp_path: Path) -> StorageToml:
    if request.param == "sqlite":
        return lambda name: (
            f'[storage]\nbackend = "sqlite"\n[storage.sqlite]\npath = "{tmp_path / name}.db"\n'
        )
    url: str = request.getfixturevalue("redis_server_url")
    return lambda name: (
        f'[storage]\nbackend = "redis"\n[storage.redis]\nurl = "{url}"\n'
        f'key_prefix = "ext-{name}-{uuid.uuid4().hex}:"\n'
    )


@pytest.fixture
async def processes() -> AsyncIterator[list[ServerProcess]]:
    """Servers a test starts are added here and stopped (SIGTERM) after it."""
    started: list[ServerProcess] = []
    yield started
    for server in started:
        await server.stop()


async def start(started: list[ServerProcess], directory: Path, toml: str) -> ServerProcess:
    server = ServerProcess(directory, toml)
    started.append(server)
    await server.start()
    return server
