"""Fixture for the Redis backend against a real 3-node Redis Cluster: a fresh key prefix per
test, like ``tests.stores.redis``. A variant of ``redis``, not a backend of its own."""

from __future__ import annotations

import pytest

from snapshot_server.config import StorageConfig
from tests.stores.redis import redis_config


@pytest.fixture
def redis_cluster_storage_config(redis_cluster_url: str) -> StorageConfig:
    return redis_config(redis_cluster_url, cluster=True)
