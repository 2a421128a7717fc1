"""Filesystem backend specifics the contract suite cannot see: permissions, sharding, paths,
failed writes, crash debris, id persistence and error mapping."""

from __future__ import annotations

import errno
import os
import re
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest

from backends.filesystem import FilesystemStore, disk, ops, records
from backends.filesystem.layout import Layout
from snapshot_server.errors import SnapshotNotFound, StorageUnavailable
from snapshot_server.models import ListQuery, ListScope, Snapshot, hash_secret
from tests.backends.fs_support import (
    all_files,
    config_for,
    debris,
    index_file,
    mode,
    realpath,
    record_files,
    walk,
)
from tests.support import ManualClock, new_record

RECORD_PATH = re.compile(r"records/([0-9a-f]{2})/([0-9a-f])/([0-9a-f]{64})\.rec")


async def test_root_dirs_and_files_are_private(
    fs: FilesystemStore, root: Path, clock: ManualClock
) -> None:
    for i in range(5):
        await fs.insert(new_record(clock(), f"private-{i}", f"private-dk-{i}"))
    assert mode(root) == 0o700
    dirs = [p for p in walk(root) if p.is_dir()]
    assert len(dirs) == 2 + 2 * 2 * 5  # records/, deletekeys/, two shard levels per file
    assert {mode(d) for d in dirs} == {0o700}
    files = all_files(root)
    assert len(files) == 4 + 2 * 5  # lock, counter, journal, deletions, a record and an index each
    assert {mode(f) for f in files} == {0o600}


async def test_records_are_sharded_by_key_hash(
    fs: FilesystemStore, root: Path, clock: ManualClock
) -> None:
    keys = [f"key-{i}" for i in range(300)]
    for key in keys:
        await fs.insert(new_record(clock(), key))
    paths = [p.relative_to(root).as_posix() for p in record_files(root)]
    assert len(paths) == 300
    digests = set()
    leaves: dict[str, int] = {}
    for path in paths:
        match = RECORD_PATH.fullmatch(path)
        assert match, path
        first, second, digest = match.groups()
        assert (digest[:2], digest[2:3]) == (first, second)
        digests.add(digest)
        leaves[f"{first}/{second}"] = leaves.get(f"{first}/{second}", 0) + 1
    assert digests == {hash_secret(k) for k in keys}  # named by SHA-256 of the key
    # 300 keys spread over 256 first-level shards (~177 used when uniform) and 65536 leaves.
    assert len({leaf[:2] for leaf in leaves}) > 150
    assert max(leaves.values()) <= 2
    assert not any(k in str(p) for p in all_files(root) for k in keys)


async def test_every_path_stays_under_the_root(
    fs: FilesystemStore, root: Path, clock: ManualClock, tmp_path: Path
) -> None:
    hostile = ["..", "../../etc/passwd", "/etc/passwd", "a/../../b", "", "x" * 129, "k\n"]
    for key in hostile:
        with pytest.raises(SnapshotNotFound):
            await fs.get(key, clock())
        with pytest.raises(SnapshotNotFound):
            await fs.delete(key, clock(), expect_id=1)
    with pytest.raises(SnapshotNotFound):
        await fs.get_by_delete_key("../" * 20 + "etc/passwd", clock())
    await fs.insert(new_record(clock(), "normal-key"))
    resolved = realpath(root)
    assert all(realpath(p).startswith(resolved + "/") for p in walk(root))
    # Nothing was created beside the root.
    assert [p.name for p in walk(tmp_path) if not p.is_relative_to(root)] == ["store"]
    layout = Layout(resolved)
    for outside in ("/etc/passwd", resolved, resolved + "-sibling/x"):
        with pytest.raises(ValueError, match="escapes"):
            layout.check_under_root(outside)
    with pytest.raises(ValueError, match="64 lowercase hex"):
        layout.index_path("../../x")


@pytest.mark.parametrize("when", ["before-rename", "after-rename"])
async def test_failed_write_leaves_nothing_and_is_storage_unavailable(
    fs: FilesystemStore,
    root: Path,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
    when: str,
) -> None:
    real_replace = os.replace

    def failing_replace(src: Any, dst: Any, **dir_fds: Any) -> None:
        # Targeted fault: only the record file's rename fails (the counter and the delete-key
        # index are written first and must be rolled back).
        if str(dst).endswith(".rec"):
            if when == "after-rename":
                real_replace(src, dst, **dir_fds)
            raise OSError(errno.EIO, "injected I/O error")
        real_replace(src, dst, **dir_fds)

    monkeypatch.setattr(os, "replace", failing_replace)
    record = new_record(clock(), "doomed", "doomed-dk", expires_in=60)
    with pytest.raises(StorageUnavailable):
        await fs.insert(record)
    monkeypatch.setattr(os, "replace", real_replace)

    assert debris(root) == []
    with pytest.raises(SnapshotNotFound):
        await fs.get("doomed", clock())
    with pytest.raises(SnapshotNotFound):
        await fs.get_by_delete_key(hash_secret("doomed-dk"), clock())
    assert await fs.list_snapshots(ListScope(1), ListQuery("", 100, 1), clock()) == []
    # Neither the key nor the deleteKey stays claimed; the burnt id is not reused.
    stored = await fs.insert(record)
    assert stored.id == 2
    assert (await fs.get_by_delete_key(hash_secret("doomed-dk"), clock())).id == 2


async def test_stray_temp_files_are_ignored_then_removed_on_open(
    root: Path, clock: ManualClock
) -> None:
    store = await FilesystemStore.open(config_for(root))
    kept = await store.insert(new_record(clock(), "kept", "kept-dk"))
    (record,) = record_files(root)
    shard = record.parent
    strays = [
        root / ".tmp-counter.partial",
        shard / ".tmp-abc123.partial",
        shard / f".tmp-{hash_secret('other')}.rec.partial",
        index_file(root, "kept-dk", None).parent / ".tmp-x.partial",
    ]
    for stray in strays:
        stray.write_bytes(b"snapshot-record/1 half a rec")

    assert (await store.get("kept", clock())).meta == kept
    assert [
        m.key for m in await store.list_snapshots(ListScope(1), ListQuery("", 100, 1), clock())
    ] == ["kept"]
    assert len(await store.delete_expired(clock() + 10**9)) == 0
    await store.aclose()
    assert all(s.exists() for s in strays)  # nothing removed them while the store ran

    reopened = await FilesystemStore.open(config_for(root))
    try:
        assert not any(s.exists() for s in strays)
        assert (await reopened.get("kept", clock())).meta == kept
        assert (await reopened.get_by_delete_key(hash_secret("kept-dk"), clock())).id == kept.id
        assert len(debris(root)) == 2
    finally:
        await reopened.aclose()


async def test_ids_are_never_reused_across_reopen(root: Path, clock: ManualClock) -> None:
    store = await FilesystemStore.open(config_for(root))
    await store.insert(new_record(clock()))
    last = await store.insert(new_record(clock(), "last"))
    await store.delete("last", clock(), expect_id=last.id)
    await store.aclose()
    store = await FilesystemStore.open(config_for(root))
    try:
        assert (await store.insert(new_record(clock()))).id == last.id + 1
        # A lost counter file is rebuilt from the records on disk.
        (root / "counter").unlink()
        assert (await store.insert(new_record(clock()))).id == last.id + 2
    finally:
        await store.aclose()


async def test_blocking_io_runs_on_the_store_threads(
    fs: FilesystemStore, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[str] = []
    real_write, real_read = disk.write_atomic, records.read_snapshot

    def write_spy(layout: Layout, path: str, data: bytes) -> None:
        threads.append(threading.current_thread().name)
        real_write(layout, path, data)

    def read_spy(layout: Layout, path: str) -> Snapshot | None:
        threads.append(threading.current_thread().name)
        return real_read(layout, path)

    monkeypatch.setattr(ops, "write_atomic", write_spy)
    monkeypatch.setattr(records, "read_snapshot", read_spy)
    stored = await fs.insert(new_record(clock(), "k"))
    await fs.get("k", clock())
    await fs.delete("k", clock(), expect_id=stored.id)
    assert len(threads) >= 5  # counter, index, record; two verified reads
    assert all(name.startswith("snapshot-fs") for name in threads), threads


async def test_os_errors_become_storage_unavailable(root: Path, clock: ManualClock) -> None:
    store = await FilesystemStore.open(config_for(root))
    await store.ping()
    shutil.rmtree(root)
    try:
        with pytest.raises(StorageUnavailable):
            await store.ping()
        with pytest.raises(StorageUnavailable):
            await store.insert(new_record(clock()))
    finally:
        await store.aclose()
    with pytest.raises(StorageUnavailable):
        await store.get("any", clock())  # closed
    blocker = root.parent / "a-file"
    blocker.write_bytes(b"")
    with pytest.raises(StorageUnavailable):
        await FilesystemStore.open(config_for(blocker / "root"))
