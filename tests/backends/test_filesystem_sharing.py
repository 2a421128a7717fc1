"""Filesystem update and rotate through crashes: a rotate interrupted before or after its commit
resolves to one record (at the next open, or the next cleanup round), never two; files and
journal lines written before ``password_hash`` existed still read; cleanup keeps a record whose
expiry an update moved even when the journal lags it."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import orjson
import pytest

from backends.filesystem import FilesystemStore, disk, sharing
from backends.filesystem.format import encode_journal_add
from snapshot_server.errors import SnapshotNotFound, StorageUnavailable
from snapshot_server.models import SnapshotChanges, hash_secret
from tests.backends.fs_support import append_journal, config_for, journal_lines, record_files
from tests.contract.helpers import listed
from tests.support import ManualClock, assert_unreachable, new_record


def fail_writes_to(monkeypatch: pytest.MonkeyPatch, suffix: str) -> None:
    """The disk fails every atomic write of a file ending in ``suffix`` (as a full disk or a
    crash at that step would: the write does not happen)."""
    real = disk.write_atomic

    def write_atomic(layout: Any, path: str, data: bytes) -> None:
        if path.endswith(suffix):
            raise OSError(28, "No space left on device", path)
        real(layout, path, data)

    monkeypatch.setattr(sharing, "write_atomic", write_atomic)


async def test_rotate_interrupted_after_its_commit_is_finished(
    fs: FilesystemStore, root: Path, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = await fs.insert(new_record(clock(), "k1", "dk", dashboard=b'{"r":1}'))
    fail_writes_to(monkeypatch, ".dk")  # the index step, after the new record is committed
    with pytest.raises(StorageUnavailable):
        await fs.rotate("k1", "k2", clock(), expect_id=stored.id, updated=clock(), grace_until=None)
    monkeypatch.undo()
    assert len(record_files(root)) == 2  # the new record, and the old one not yet removed
    # Already one snapshot to every reader: the new key, never the stale copy.
    assert (await fs.get("k2", clock())).meta.key == "k2"
    with pytest.raises(SnapshotNotFound):
        await fs.get("k1", clock())
    assert (await fs.get_by_delete_key(hash_secret("dk"), clock())).key == "k2"
    assert [m.key for m in await listed(fs, clock())] == ["k2"]
    with pytest.raises(SnapshotNotFound):  # no second rotate of the stale copy
        await fs.rotate("k1", "k3", clock(), expect_id=stored.id, updated=clock(), grace_until=None)

    reopened = await FilesystemStore.open(config_for(root))  # a restart resolves it
    try:
        assert len(record_files(root)) == 1
        assert await reopened.delete_expired(clock()) == []
        assert not list((root / "aliases").iterdir())  # dead (no grace): swept by cleanup
        got = await reopened.get("k2", clock())
        assert (got.meta.id, got.dashboard) == (stored.id, b'{"r":1}')
        deleted = await reopened.delete_by_delete_key(hash_secret("dk"), clock())
        assert deleted.key == "k2"
        await assert_unreachable(reopened, "k2", "dk", stored.id, clock())
        assert record_files(root) == []
    finally:
        await reopened.aclose()


async def test_rotate_interrupted_before_its_commit_is_undone(
    fs: FilesystemStore, root: Path, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = await fs.insert(new_record(clock(), "u1", "dk"))
    fail_writes_to(monkeypatch, ".rec")  # the commit itself fails...
    monkeypatch.setattr(sharing.Sharing, "_undo_rotate", lambda *_: None)  # ...and we crash
    with pytest.raises(StorageUnavailable):
        await fs.rotate("u1", "u2", clock(), expect_id=stored.id, updated=clock(), grace_until=None)
    monkeypatch.undo()
    # The old key still serves its record: the rotate never committed.
    assert (await fs.get("u1", clock())).meta == stored
    with pytest.raises(SnapshotNotFound):
        await fs.get("u2", clock())
    # The next cleanup round puts the journal back (it named the new key), so it lists again.
    assert await fs.delete_expired(clock()) == []
    assert await listed(fs, clock()) == [stored]
    assert not list((root / "aliases").iterdir())
    moved = await fs.rotate(
        "u1", "u3", clock(), expect_id=stored.id, updated=clock(), grace_until=None
    )
    assert (await fs.get("u3", clock())).meta == moved


async def test_rotate_whose_write_fails_is_undone_at_once(
    fs: FilesystemStore, root: Path, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = await fs.insert(new_record(clock(), "w1", "dk"))
    fail_writes_to(monkeypatch, ".alias")
    with pytest.raises(StorageUnavailable):
        await fs.rotate(
            "w1", "w2", clock(), expect_id=stored.id, updated=clock(), grace_until=clock() + 60
        )
    monkeypatch.undo()
    assert await listed(fs, clock()) == [stored]
    assert (await fs.get("w1", clock())).meta == stored
    assert len(record_files(root)) == 1


async def test_stale_copy_of_a_deleted_snapshot_is_removed(
    fs: FilesystemStore, root: Path, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = await fs.insert(new_record(clock(), "s1", "dk"))
    fail_writes_to(monkeypatch, ".dk")
    with pytest.raises(StorageUnavailable):
        await fs.rotate("s1", "s2", clock(), expect_id=stored.id, updated=clock(), grace_until=None)
    monkeypatch.undo()
    await fs.delete("s2", clock(), expect_id=stored.id)
    with pytest.raises(SnapshotNotFound):
        await fs.get("s1", clock())  # the stale copy is not served, though still on disk
    assert len(record_files(root)) == 1
    await fs.delete_expired(clock())
    assert record_files(root) == []
    again = await fs.insert(new_record(clock(), "s1", "dk"))
    assert (await fs.get("s1", clock())).meta == again


def strip_password_hash(path: Path) -> None:
    """Rewrite the record at ``path`` as a version before password hashes wrote it."""
    data = path.read_bytes()
    line, _, dashboard = data.partition(b"\n")
    _magic, _digest, body = line.split(b" ", 2)
    header = orjson.loads(body)
    del header["password_hash"]
    body = orjson.dumps(header)
    digest = hashlib.sha256(body).hexdigest().encode()
    path.write_bytes(b"snapshot-record/1 " + digest + b" " + body + b"\n" + dashboard)


def strip_journal(root: Path) -> None:
    lines = []
    for line in journal_lines(root):
        _digest, payload = line.split(b" ", 1)
        if payload.startswith(b"+"):
            fields = orjson.loads(payload[1:])
            del fields["password_hash"]
            payload = b"+" + orjson.dumps(fields)
        lines.append(hashlib.sha256(payload).hexdigest()[:16].encode() + b" " + payload + b"\n")
    (root / "journal").write_bytes(b"".join(lines))


async def test_records_and_journal_without_password_hash_read_as_none(
    root: Path, clock: ManualClock
) -> None:
    store = await FilesystemStore.open(config_for(root))
    try:
        stored = await store.insert(new_record(clock(), "old", "dk", expires_in=600))
    finally:
        await store.aclose()
    (path,) = record_files(root)
    strip_password_hash(path)
    strip_journal(root)
    assert b"password_hash" not in (root / "journal").read_bytes() + path.read_bytes()
    store = await FilesystemStore.open(config_for(root))
    try:
        assert (await store.get("old", clock())).meta == stored
        assert await listed(store, clock()) == [stored]
        assert (await store.org_usage(1, clock())).snapshots == 1
    finally:
        await store.aclose()


async def test_cleanup_keeps_a_record_the_journal_says_expired(
    fs: FilesystemStore, root: Path, clock: ManualClock
) -> None:
    stored = await fs.insert(new_record(clock(), "lag", expires_in=10))
    longer = await fs.update(
        "lag",
        clock(),
        expect_id=stored.id,
        changes=SnapshotChanges(clock(), expires=clock() + 1000),
    )
    append_journal(root, encode_journal_add(stored, 25))  # the journal lags the record
    clock.advance(10)
    assert await fs.delete_expired(clock()) == []
    assert (await fs.get("lag", clock())).meta == longer
    assert await listed(fs, clock()) == [longer]  # the journal was put right
    clock.advance(990)
    assert [m.id for m in await fs.delete_expired(clock())] == [stored.id]
