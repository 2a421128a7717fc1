"""Fixture for the filesystem backend under test: a fresh root directory per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from snapshot_server.config import FilesystemConfig, StorageConfig


@pytest.fixture
def filesystem_storage_config(tmp_path: Path) -> StorageConfig:
    return StorageConfig(
        backend="filesystem", filesystem=FilesystemConfig(path=str(tmp_path / "snapshots"))
    )
