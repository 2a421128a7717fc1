"""Fixture for the Redis backend under test: the session's server, a fresh key prefix per test
(tests never see each other's keys, and nothing is flushed)."""

from __future__ import annotations

import uuid

import pytest

from backends.redis import RedisSettings
from snapshot_server.config import StorageConfig


def redis_config(url: str, *, cluster: bool = False, socket_timeout: float = 2.0) -> StorageConfig:
    """A config for ``url`` under a key prefix no other test uses."""
    settings = RedisSettings(
        url=url,
        cluster=cluster,
        key_prefix=f"test:{uuid.uuid4().hex}:",
        socket_timeout=socket_timeout,
        socket_connect_timeout=socket_timeout,
    )
    return StorageConfig.using("redis", settings)


def redis_settings(config: StorageConfig) -> RedisSettings:
    """The Redis settings ``config`` holds (what the store under test reads)."""
    return RedisSettings.read(config.section("redis"))


@pytest.fixture
def redis_storage_config(redis_server_url: str) -> StorageConfig:
    return redis_config(redis_server_url)
