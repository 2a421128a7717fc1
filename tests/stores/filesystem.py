"""Fixture for the filesystem backend under test: a fresh root directory per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends.filesystem import FilesystemSettings
from snapshot_server.config import StorageConfig


@pytest.fixture
def filesystem_storage_config(tmp_path: Path) -> StorageConfig:
    return StorageConfig.using("filesystem", FilesystemSettings(path=str(tmp_path / "snapshots")))
