"""Filesystem backend integrity: what crashes and damaged files leave behind is never served,
and the listing journal stays correct through torn lines, compaction and loss."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from backends.filesystem import FilesystemStore, journal
from backends.filesystem.format import encode_index, encode_journal_add, encode_journal_remove
from snapshot_server.errors import SnapshotNotFound
from snapshot_server.models import ListQuery, ListScope, hash_secret
from tests.backends.fs_support import (
    append_journal,
    config_for,
    debris,
    index_file,
    journal_ids,
    journal_lines,
    record_files,
)
from tests.support import ManualClock, assert_unreachable, new_record


async def test_crash_between_index_and_record_leaves_nothing_visible(
    fs: FilesystemStore, root: Path, clock: ManualClock
) -> None:
    """What a crash after steps 1-2 of an insert leaves (the counter, the delete-key index and
    the journal entry, but no record), plus an index whose key now has another deleteKey."""
    kept = await fs.insert(new_record(clock(), "kept", "kept-dk"))
    ghost = new_record(clock(), "ghost", "ghost-dk", expires_in=5).stored_as(kept.id + 1)
    (root / "counter").write_bytes(f"snapshot-counter/1 {ghost.id}\n".encode())
    dangling = index_file(root, "ghost-dk", encode_index("ghost", ghost.id))
    stale = index_file(root, "stale-dk", encode_index("kept", 99))
    append_journal(root, encode_journal_add(ghost, 25))

    with pytest.raises(SnapshotNotFound):
        await fs.get("ghost", clock())
    assert [
        m.key for m in await fs.list_snapshots(ListScope(1), ListQuery("", 100, 1), clock())
    ] == ["kept"]
    for delete_key, index in (("ghost-dk", dangling), ("stale-dk", stale)):
        assert index.exists()
        with pytest.raises(SnapshotNotFound):
            await fs.get_by_delete_key(hash_secret(delete_key), clock())
        assert not index.exists()  # found dangling, removed under the lock
    # The key and deleteKey are free; the ghost's id is not handed out again.
    again = await fs.insert(new_record(clock(), "ghost", "ghost-dk"))
    assert again.id == ghost.id + 1
    clock.advance(5)
    assert await fs.delete_expired(clock()) == []  # the expired ghost is not reported...
    assert [
        m.key for m in await fs.list_snapshots(ListScope(1), ListQuery("", 100, 1), clock())
    ] == [
        "kept",
        "ghost",
    ]
    assert ghost.id not in journal_ids(root)  # ...but dropped from the journal


async def test_journal_survives_torn_lines_and_is_compacted(
    fs: FilesystemStore, root: Path, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal, "COMPACT_MIN_DEAD", 6)
    first = await fs.insert(new_record(clock(), "first"))
    # A crash in the middle of appending "-13": the torn "-1" must not remove id 1.
    append_journal(root, encode_journal_remove(first.id * 10 + 3)[:-2])
    assert [m.id for m in await fs.list_snapshots(ListScope(1), ListQuery("", 10, 1), clock())] == [
        first.id
    ]
    second = await fs.insert(new_record(clock(), "second"))  # terminates the torn line first
    assert [m.id for m in await fs.list_snapshots(ListScope(1), ListQuery("", 10, 1), clock())] == [
        first.id,
        second.id,
    ]
    for i in range(4):
        temp = await fs.insert(new_record(clock(), f"temp-{i}"))
        await fs.delete(temp.key, clock(), expect_id=temp.id)
    # Uncompacted: 2 live + 1 torn + 8 dead lines. Dead lines reached 7 after the third delete,
    # so it rewrote the journal to the 2 live lines; the fourth pair came after.
    assert len(journal_lines(root)) == 2 + 2
    assert journal_ids(root) == [first.id, second.id]
    # Another process's view (a fresh store) and this one agree after the rewrite.
    other = await FilesystemStore.open(config_for(root))
    try:
        for store in (fs, other):
            listed = await store.list_snapshots(ListScope(1), ListQuery("", 10, 1), clock())
            assert [m.key for m in listed] == ["first", "second"]
    finally:
        await other.aclose()


async def test_missing_journal_is_rebuilt_on_open(root: Path, clock: ManualClock) -> None:
    store = await FilesystemStore.open(config_for(root))
    stored = [await store.insert(new_record(clock(), f"k{i}")) for i in range(3)]
    await store.aclose()
    (root / "journal").unlink()
    store = await FilesystemStore.open(config_for(root))
    try:
        assert await store.list_snapshots(ListScope(1), ListQuery("", 10, 1), clock()) == [
            s for s in stored
        ]
    finally:
        await store.aclose()


CORRUPTIONS: dict[str, Callable[[bytes], bytes]] = {
    "empty": lambda data: b"",
    "cut-in-header": lambda data: data[:40],
    "cut-after-header": lambda data: data[: data.index(b"\n") + 1],
    "dashboard-truncated": lambda data: data[:-1],
    "dashboard-extended": lambda data: data + b" ",
    "dashboard-byte-flipped": lambda data: data[:-2] + bytes([data[-2] ^ 1]) + data[-1:],
    "header-edited": lambda data: data.replace(b'"name":"snap"', b'"name":"snip"'),
}


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
async def test_corrupt_record_is_never_returned(
    fs: FilesystemStore, root: Path, clock: ManualClock, corruption: str
) -> None:
    victim = await fs.insert(new_record(clock(), "victim", "victim-dk", expires_in=60))
    (path,) = record_files(root)
    data = path.read_bytes()
    changed = CORRUPTIONS[corruption](data)
    assert changed != data
    path.write_bytes(changed)

    await assert_unreachable(fs, "victim", "victim-dk", victim.id, clock())
    listed = await fs.list_snapshots(ListScope(1), ListQuery("", 100, 1), clock())
    # Listing reads headers only: a same-size in-place change of the dashboard is invisible to
    # it (documented); every other corruption is caught by the header checksum or file size.
    assert [m.key for m in listed] == (["victim"] if corruption == "dashboard-byte-flipped" else [])
    # The damaged record does not block its key or deleteKey.
    replacement = await fs.insert(new_record(clock(), "victim", "victim-dk"))
    assert (await fs.get("victim", clock())).meta == replacement
    assert await fs.list_snapshots(ListScope(1), ListQuery("", 100, 1), clock()) == [replacement]
    # With its header still readable, the replaced record's journal entry is dropped at once;
    # otherwise it stays a ghost (never listed) until it expires.
    header_lost = corruption in ("empty", "cut-in-header", "header-edited")
    assert journal_ids(root) == [victim.id] * header_lost + [replacement.id]
    clock.advance(60)
    assert await fs.delete_expired(clock()) == []
    assert journal_ids(root) == [replacement.id]


async def test_delete_expired_reclaims_an_unreadable_expired_record(
    fs: FilesystemStore, root: Path, clock: ManualClock
) -> None:
    await fs.insert(new_record(clock(), "damaged", "damaged-dk", expires_in=10))
    (path,) = record_files(root)
    path.write_bytes(b"snapshot-record/1 garbage\n")
    clock.advance(10)
    assert await fs.delete_expired(clock()) == []  # nothing readable to report
    assert debris(root) == []
    assert journal_ids(root) == []
