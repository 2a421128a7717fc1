"""Fixture for the memory backend under test."""

from __future__ import annotations

import pytest

from snapshot_server.config import StorageConfig


@pytest.fixture
def memory_storage_config() -> StorageConfig:
    return StorageConfig(backend="memory")
