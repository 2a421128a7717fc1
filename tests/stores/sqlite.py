"""Fixture for the SQLite backend under test: a fresh database file per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends.sqlite import SQLiteSettings
from snapshot_server.config import StorageConfig


@pytest.fixture
def sqlite_storage_config(tmp_path: Path) -> StorageConfig:
    return StorageConfig.using("sqlite", SQLiteSettings(path=str(tmp_path / "snap.db")))
