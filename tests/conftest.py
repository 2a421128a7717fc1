"""Shared fixtures. Every backend under test is a fixture ``<name>_storage_config`` in
``tests/stores/<name>.py``; ``storage_config`` is parametrized over all of them, so the contract
and API suites run unchanged against each. ``SNAPSHOT_TEST_BACKENDS=sqlite,redis`` narrows a run.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest

from backends import open_store
from snapshot_server.config import StorageConfig
from snapshot_server.storage import SnapshotStore
from tests.support import ManualClock

pytest_plugins = [
    "tests.stores.memory",
    "tests.stores.sqlite",
    "tests.stores.filesystem",
    "tests.e2e.varnish",
    "tests.redis_servers",
    "tests.stores.redis",
    "tests.stores.redis_cluster",
]

ALL_BACKENDS = ("memory", "sqlite", "filesystem", "redis", "redis_cluster")
BACKENDS = tuple(
    b for b in os.environ.get("SNAPSHOT_TEST_BACKENDS", ",".join(ALL_BACKENDS)).split(",") if b
)


@pytest.fixture(params=BACKENDS)
def storage_config(request: pytest.FixtureRequest) -> StorageConfig:
    config: StorageConfig = request.getfixturevalue(f"{request.param}_storage_config")
    return config


@pytest.fixture
async def store(storage_config: StorageConfig) -> AsyncIterator[SnapshotStore]:
    opened = await open_store(storage_config)
    try:
        yield opened
    finally:
        await opened.aclose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()
