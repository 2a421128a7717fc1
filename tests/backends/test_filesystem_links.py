"""The filesystem backend never follows a symbolic link under its root, and refuses or narrows a
root others could tamper with (issue 9, item 9); what it refuses it names (item 17)."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import pytest

from backends.filesystem import FilesystemStore
from snapshot_server.errors import SnapshotNotFound, StorageUnavailable
from snapshot_server.models import ListQuery, ListScope
from tests.backends.fs_support import config_for, entries, make_dir, mode
from tests.support import ManualClock, new_record, skip_or_fail


def shard_of(key: str) -> tuple[str, str]:
    digest = hashlib.sha256(key.encode()).hexdigest()
    return digest[:2], digest[2:3]


async def open_refused(root: Path) -> str:
    with pytest.raises(StorageUnavailable) as info:
        await FilesystemStore.open(config_for(root))
    return info.value.message


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory beside the root that must never receive anything."""
    path = tmp_path / "outside"
    path.mkdir()
    return path


async def test_a_journal_linked_outside_the_root_is_refused_at_open(
    root: Path, outside: Path, clock: ManualClock
) -> None:
    store = await FilesystemStore.open(config_for(root))
    await store.insert(new_record(clock()))
    await store.aclose()
    target = outside / "journal"
    target.write_bytes(b"")
    (root / "journal").unlink()
    (root / "journal").symlink_to(target)

    message = await open_refused(root)
    assert message.startswith(f"cannot open filesystem storage {root}: {root / 'journal'}: ")
    assert "symbolic link" in message
    assert target.read_bytes() == b""


async def test_a_link_planted_while_running_is_not_followed(
    fs: FilesystemStore, root: Path, outside: Path, clock: ManualClock
) -> None:
    stored = await fs.insert(new_record(clock(), "before"))
    target = outside / "journal"
    target.write_bytes(b"")
    (root / "journal").unlink()
    (root / "journal").symlink_to(target)
    with pytest.raises(StorageUnavailable):
        await fs.insert(new_record(clock()))
    with pytest.raises(StorageUnavailable):
        await fs.list_snapshots(ListScope(1), ListQuery("", 10, 1), clock())
    assert target.read_bytes() == b""
    assert (await fs.get("before", clock())).meta.id == stored.id  # records are still read
    assert entries(outside) == [target]


async def test_a_linked_shard_directory_receives_nothing(
    fs: FilesystemStore, root: Path, outside: Path, clock: ManualClock
) -> None:
    first, _ = shard_of("linked")
    (root / "records" / first).symlink_to(outside, target_is_directory=True)
    with pytest.raises(StorageUnavailable):
        await fs.insert(new_record(clock(), "linked"))
    with pytest.raises(StorageUnavailable):
        await fs.get("linked", clock())
    assert entries(outside) == []
    # Nothing half-made: the key and the rest of the store still work once the link is gone.
    (root / "records" / first).unlink()
    with pytest.raises(SnapshotNotFound):
        await fs.get("linked", clock())
    assert (await fs.insert(new_record(clock(), "linked"))).key == "linked"


async def test_a_link_deep_in_the_tree_is_refused_at_open(
    root: Path, outside: Path, clock: ManualClock
) -> None:
    store = await FilesystemStore.open(config_for(root))
    await store.insert(new_record(clock(), "k"))
    await store.aclose()
    first, second = shard_of("k")
    record = next((root / "records" / first / second).iterdir())
    moved = outside / record.name
    record.rename(moved)
    record.symlink_to(moved)

    message = await open_refused(root)
    assert f"{record}: is a symbolic link" in message


async def test_a_root_that_is_a_link_is_refused(tmp_path: Path, outside: Path) -> None:
    root = tmp_path / "root"
    root.symlink_to(outside, target_is_directory=True)
    message = await open_refused(root)
    assert message.startswith(f"cannot open filesystem storage {root}: is a symbolic link")
    assert str(outside) in message  # the path to configure instead
    assert entries(outside) == []


async def test_a_root_others_can_write_is_narrowed(
    root: Path, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    make_dir(root, 0o777)
    caplog.set_level(logging.WARNING, logger="backends")
    store = await FilesystemStore.open(config_for(root))
    try:
        assert mode(root) == 0o700
        assert f"narrowing filesystem storage root {root} from mode 777 to 700" in caplog.text
        await store.insert(new_record(clock()))
    finally:
        await store.aclose()


async def test_a_root_owned_by_another_user_is_refused(root: Path) -> None:
    if os.geteuid() != 0:
        skip_or_fail("giving a directory to another user needs root")
    make_dir(root, 0o700)
    os.chown(root, 12345, 12345)
    message = await open_refused(root)
    assert message.startswith(f"cannot open filesystem storage {root}: owned by uid 12345")
    assert entries(root) == []


async def test_an_unusable_root_names_the_path_and_the_os_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"")
    message = await open_refused(blocker / "root")
    assert message == (f"cannot open filesystem storage {blocker / 'root'}: {blocker}: File exists")
    message = await open_refused(blocker)
    assert message == f"cannot open filesystem storage {blocker}: not a directory"
