"""``export`` then ``import`` between every pair of sqlite, filesystem and redis (a real
redis-server): 2,000 snapshots arrive byte for byte with every metadata field, their deleteKeys
work through the service, and the same import again skips them all."""

from __future__ import annotations

import asyncio
import itertools
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from backends import open_store
from backends.filesystem import FilesystemSettings
from backends.sqlite import SQLiteSettings
from snapshot_server.cli import main
from snapshot_server.config import Config, StorageConfig
from snapshot_server.errors import SnapshotNotFound
from snapshot_server.service import SnapshotService
from tests.moving.support import (
    Population,
    assert_holds_exactly,
    config_file,
    fill,
    lines_of,
    population,
    summary,
)
from tests.stores.redis import redis_config

MOVED = ("sqlite", "filesystem", "redis")
COUNT = 2000
SNAPSHOTS = population(COUNT, time.time())
Source = Callable[[str, Path], StorageConfig]


def storage(name: str, directory: Path, redis_url: str) -> StorageConfig:
    if name == "sqlite":
        return StorageConfig.using("sqlite", SQLiteSettings(path=str(directory / "snap.db")))
    if name == "filesystem":
        return StorageConfig.using("filesystem", FilesystemSettings(path=str(directory / "fs")))
    # Generous timeouts: the whole suite shares this Redis with these 2,000-snapshot batches.
    return redis_config(redis_url, socket_timeout=15)


async def check_target(config: StorageConfig, snapshots: Population) -> None:
    store = await open_store(config)
    try:
        await assert_holds_exactly(store, snapshots.records, time.time())
        service = SnapshotService(Config(), store, clock=time.time)
        local = [r for r in snapshots.records if not r.meta.external]
        for record in local[:: len(local) // 20]:
            deleted = await service.delete_by_delete_key(snapshots.delete_keys[record.meta.key])
            assert deleted.key == record.meta.key
            with pytest.raises(SnapshotNotFound):
                await store.get(record.meta.key, time.time())
    finally:
        await store.aclose()


@pytest.fixture(scope="session")
def filled(session_scratch: Path, redis_server_url: str) -> Source:
    """``filled(name, directory)``: a store of backend ``name`` in ``directory`` holding
    ``SNAPSHOTS``. SQLite and filesystem stores are copies of one filled per session (filling
    a filesystem store takes seconds: an insert is four fsyncs); Redis is filled afresh."""
    templates: dict[str, Path] = {}

    def make(name: str, directory: Path) -> StorageConfig:
        if name == "redis":
            config = storage(name, directory, redis_server_url)
            asyncio.run(fill(config, SNAPSHOTS.records))
            return config
        if name not in templates:
            templates[name] = session_scratch / f"filled-{name}"
            templates[name].mkdir()
            asyncio.run(fill(storage(name, templates[name], redis_server_url), SNAPSHOTS.records))
        shutil.copytree(templates[name], directory, dirs_exist_ok=True)
        return storage(name, directory, redis_server_url)

    return make


@pytest.mark.parametrize(("source", "target"), list(itertools.product(MOVED, MOVED)))
def test_export_then_import_moves_every_snapshot_exactly(
    source: str,
    target: str,
    filled: Source,
    scratch: Path,
    tmp_path: Path,
    redis_server_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (scratch / "b").mkdir()
    source_storage = filled(source, scratch / "a")
    target_storage = storage(target, scratch / "b", redis_server_url)
    source_config = config_file(tmp_path, "source", source_storage)
    target_config = config_file(tmp_path, "target", target_storage)
    exported = tmp_path / "export.jsonl"

    assert main(["export", "--config", source_config, "--out", str(exported)]) == 0
    assert f"export: {COUNT} snapshot(s) written" in capsys.readouterr().out
    lines = lines_of(exported)
    assert lines[0] == {"format": "snapshot-server-export", "version": 1}
    assert lines[-1] == {"end": True, "count": COUNT}
    assert len(lines) == COUNT + 2

    assert main(["import", "--config", target_config, str(exported)]) == 0
    out = capsys.readouterr().out
    assert summary(out) == {"copied": COUNT, "skipped": 0, "expired": 0, "failed": 0}

    assert main(["import", "--config", target_config, str(exported)]) == 0
    assert summary(capsys.readouterr().out) == {
        "copied": 0,
        "skipped": COUNT,
        "expired": 0,
        "failed": 0,
    }
    asyncio.run(check_target(target_storage, SNAPSHOTS))
