"""The blocking operations of the filesystem backend (see ``backends.filesystem`` for the design).

Every method runs in a worker thread and may raise ``OSError``; ``FilesystemStore`` turns that
into ``StorageUnavailable``. Writers hold the root's exclusive ``flock``; readers take no lock
(see ``records``), because every file is only ever replaced by ``os.replace``, removed, or (the
journal) appended to.
"""

from __future__ import annotations

import logging
import os

from snapshot_server.errors import InvalidSnapshot, SnapshotExists
from snapshot_server.models import (
    HASH_RE,
    KEY_RE,
    CorruptData,
    ListQuery,
    ListScope,
    NewSnapshot,
    Snapshot,
    SnapshotChanges,
    SnapshotMeta,
)
from snapshot_server.storage import OrgUsage

from .disk import exclusive_lock, exists, read_bytes, remove, write_atomic
from .format import (
    decode_counter,
    encode_counter,
    encode_index,
    encode_journal_add,
    encode_journal_remove,
    encode_record,
)
from .journal import Journal
from .layout import Layout
from .records import Records, read_header, read_index, read_meta
from .root import ping_root, prepare_root
from .sharing import Sharing

log = logging.getLogger(__name__)


class SyncStore:
    """Blocking snapshot storage under one root directory."""

    def __init__(self, root: str) -> None:
        self.layout = Layout(os.path.normpath(os.path.abspath(root)))
        self.journal = Journal(self.layout)
        self.records = Records(self.layout)
        self.sharing = Sharing(self.layout, self.journal, self.records)

    def prepare(self) -> None:
        """Take the root into use (``root.prepare_root``), and finish or undo any rotate a
        crash interrupted (``Sharing.resolve``; no alias is dropped for its deadline here:
        there is no clock at open, and the next cleanup round does it): called once, at
        open."""
        prepare_root(self.layout, self.journal, self.records)
        with exclusive_lock(self.layout):
            self.sharing.resolve(float("-inf"))

    def insert(self, record: NewSnapshot) -> SnapshotMeta:
        """See ``SnapshotStore.insert``. An existing record blocks its key until it is deleted
        or reclaimed by ``delete_expired``, expired or not (as in the SQLite backend)."""
        if not KEY_RE.fullmatch(record.meta.key):
            raise InvalidSnapshot("invalid key")
        if not HASH_RE.fullmatch(record.meta.delete_key_hash):
            raise InvalidSnapshot("invalid deleteKey hash")
        layout = self.layout
        record_path = layout.record_path(record.meta.key)
        index_path = layout.index_path(record.meta.delete_key_hash)
        with exclusive_lock(layout):
            if self.records.snapshot(record.meta.key) is not None:
                raise SnapshotExists("key")
            # A live rotation alias holds its key too (the record's creation is the service's
            # now).
            if self.sharing.alias_holds(record.meta.key, record.meta.created):
                raise SnapshotExists("key")
            if self.records.holder(record.meta.delete_key_hash) is not None:
                raise SnapshotExists("deleteKey")
            # A damaged record in the way (replaced below): its journal entry must go too.
            damaged = read_meta(layout, record_path, exact_size=False)
            meta = record.stored_as(self._next_id())
            journaled = False
            try:
                write_atomic(layout, index_path, encode_index(record.meta.key, meta.id))
                line = encode_journal_add(meta, len(record.dashboard))
                self.journal.append(line, durable=True)
                journaled = True
                # The commit point:
                write_atomic(layout, record_path, encode_record(Snapshot(meta, record.dashboard)))
            except BaseException:
                self._undo_insert(record_path, index_path, meta.id if journaled else None)
                raise
            if damaged is not None and damaged.key == record.meta.key:
                self.journal.append(encode_journal_remove(damaged.id), durable=False)
        return meta

    def get(self, key: str, now: float) -> Snapshot | None:
        """The verified, unexpired record for ``key`` (or the one ``key`` is a live rotation
        alias of), else ``None``."""
        if not KEY_RE.fullmatch(key):
            return None
        snapshot = self.sharing.lookup(key, now)
        return None if snapshot is None or snapshot.meta.is_expired(now) else snapshot

    def get_by_delete_key(self, delete_key_hash: str, now: float) -> SnapshotMeta | None:
        """The unexpired record whose deleteKey hashes to ``delete_key_hash``, else ``None``.
        An index file found dangling is removed (under the lock, after checking again)."""
        if not HASH_RE.fullmatch(delete_key_hash):
            return None
        meta = self.sharing.holder(delete_key_hash)
        if meta is None and exists(self.layout, self.layout.index_path(delete_key_hash)):
            with exclusive_lock(self.layout):
                self._drop_dangling_index(delete_key_hash)
        return None if meta is None or meta.is_expired(now) else meta

    def list_snapshots(self, scope: ListScope, query: ListQuery, now: float) -> list[SnapshotMeta]:
        """See ``SnapshotStore.list_snapshots``. Takes the scope's matching journal entries in
        id order up to the end of the page, and checks each against its record file, once per
        entry (``Journal.committed``), skipping ghosts, for which more entries are taken."""
        wanted = query.offset + query.limit
        count = wanted
        checked: dict[int, bool] = {}
        while True:
            candidates = self.journal.matching(scope, now, query.needle, count)
            found: list[SnapshotMeta] = []
            for meta, known in candidates:
                if len(found) == wanted:
                    break
                if not known and meta.id not in checked:
                    checked[meta.id] = self.records.is_committed(meta)
                if known or checked[meta.id]:
                    found.append(meta)
            if len(found) == wanted or len(candidates) < count:
                self.journal.committed([i for i, ok in checked.items() if ok])
                return found[query.offset :]
            count += wanted - len(found)  # ghosts took places in the page: take more

    def org_usage(self, org_id: int, now: float) -> OrgUsage:
        """See ``SnapshotStore.org_usage``: the journal's running totals (``usage``)."""
        return self.journal.usage(org_id, now)

    def delete(self, key: str, now: float, expect_id: int) -> SnapshotMeta | None:
        """Remove the unexpired record for ``key`` if it still has id ``expect_id``; ``None``
        if there is no such record. Checked and removed under the lock: one atomic step."""
        if not KEY_RE.fullmatch(key):
            return None
        with exclusive_lock(self.layout):
            snapshot = self.sharing.current(key)
            meta = None if snapshot is None else snapshot.meta
            if meta is None or meta.id != expect_id or meta.is_expired(now):
                return None
            self._remove_journaled(meta)
        return meta

    def update(
        self, key: str, now: float, expect_id: int, changes: SnapshotChanges
    ) -> SnapshotMeta | None:
        """See ``SnapshotStore.update`` (``sharing``); ``None`` for not found."""
        if not KEY_RE.fullmatch(key):
            return None
        with exclusive_lock(self.layout):
            return self.sharing.update(key, now, expect_id, changes)

    def rotate(
        self,
        key: str,
        new_key: str,
        now: float,
        expect_id: int,
        updated: float,
        grace_until: float | None,
        etag: str | None = None,
    ) -> SnapshotMeta | None:
        """See ``SnapshotStore.rotate`` (``sharing``); ``None`` for not found."""
        if not KEY_RE.fullmatch(key):
            return None
        if not KEY_RE.fullmatch(new_key):
            raise InvalidSnapshot("invalid key")
        with exclusive_lock(self.layout):
            return self.sharing.rotate(key, new_key, now, expect_id, updated, grace_until, etag)

    def sweep_aliases(self, now: float) -> None:
        """Finish or undo interrupted rotates and drop dead alias files (``Sharing.resolve``):
        part of every cleanup round."""
        with exclusive_lock(self.layout):
            self.sharing.resolve(now)

    def delete_by_delete_key(self, delete_key_hash: str, now: float) -> SnapshotMeta | None:
        """Remove the unexpired record that holds ``delete_key_hash``; ``None`` if there is
        none. Looked up and removed under the lock: one atomic step."""
        if not HASH_RE.fullmatch(delete_key_hash):
            return None
        with exclusive_lock(self.layout):
            meta = self.sharing.holder(delete_key_hash)
            if meta is None:
                self._drop_dangling_index(delete_key_hash)
                return None
            if meta.is_expired(now):
                return None
            self._remove_journaled(meta)
        return meta

    def _remove_journaled(self, meta: SnapshotMeta) -> None:
        """Remove a record and journal its removal. Caller holds the lock."""
        self._remove(meta)
        self.journal.append(encode_journal_remove(meta.id), durable=False)
        self.journal.compact_if_worthwhile()

    def expired_candidates(self, now: float, count: int) -> list[SnapshotMeta]:
        """The first ``count`` journal entries with ``expires <= now``, earliest expiry first
        (ghosts included)."""
        return self.journal.expired(now, count)

    def remove_expired(
        self, candidates: list[SnapshotMeta], now: float, limit: int
    ) -> list[SnapshotMeta]:
        """Remove up to ``limit`` of ``candidates`` that are still stored and expired; return
        them. Ghosts among them are dropped from the journal but not returned."""
        removed: list[SnapshotMeta] = []
        gone: list[int] = []
        with exclusive_lock(self.layout):
            for candidate in candidates:
                if len(removed) >= limit:
                    break
                # Re-read under the lock: it may have been deleted, or deleted and re-created.
                meta = self.records.header(candidate.key)
                if meta is not None and meta.id == candidate.id and not meta.is_expired(now):
                    # Its expiry moved since the candidate was read (an update), or the journal
                    # lags the record (an update interrupted between the two): journal the
                    # record as it is, so the next round does not take it again.
                    header = read_header(self.layout, self.layout.record_path(candidate.key))
                    if header is not None and header[0] != candidate:
                        self.journal.append(encode_journal_add(*header), durable=False)
                    continue
                if meta is not None and meta.id == candidate.id:
                    self._remove(meta)
                    removed.append(meta)
                else:
                    self._drop_dangling_index(candidate.delete_key_hash)
                    if meta is None and exists(
                        self.layout, path := self.layout.record_path(candidate.key)
                    ):
                        # Unreadable (damaged header) and its journal entry says expired:
                        # nothing can ever read it, so reclaim the space.
                        log.warning("removing damaged expired record %s", path)
                        remove(self.layout, path)
                gone.append(candidate.id)
            if gone:
                self.journal.append(b"".join(map(encode_journal_remove, gone)), durable=False)
                self.journal.compact_if_worthwhile()
        return removed

    def export_page(self, after_id: int, limit: int, now: float) -> list[Snapshot]:
        """See ``SnapshotStore.export_page``: the journal's entries in id order, each read
        from its record file (fully verified); ghosts, and records that now hold another id or
        do not read back, are skipped and more entries taken."""
        page: list[Snapshot] = []
        while len(page) < limit:
            wanted = limit - len(page)
            entries = self.journal.after(after_id, now, wanted)
            for entry in entries:
                snapshot = self.records.snapshot(entry.key)
                # A record that now holds another id is a later snapshot of that key: its
                # own entry comes later.
                if (
                    snapshot is not None
                    and snapshot.meta.id == entry.id
                    and not snapshot.meta.is_expired(now)
                ):
                    page.append(snapshot)
            if len(entries) < wanted:
                break
            after_id = entries[-1].id
        return page

    def ping(self) -> None:
        """Raise ``OSError`` unless the root is a directory we can write to."""
        ping_root(self.layout)

    def _drop_dangling_index(self, delete_key_hash: str) -> None:
        """Remove the index file of ``delete_key_hash`` unless a record owns it. Caller holds
        the lock, so no insert is between writing an index and committing its record."""
        if self.records.holder(delete_key_hash) is None and remove(
            self.layout, self.layout.index_path(delete_key_hash)
        ):
            log.info("removed dangling delete-key index %s", delete_key_hash[:12])

    def _remove(self, meta: SnapshotMeta) -> None:
        """Unlink a record (the commit point), then its index file if it still names this key.
        Caller holds the lock and appends the journal line."""
        remove(self.layout, self.layout.record_path(meta.key))
        index_path = self.layout.index_path(meta.delete_key_hash)
        if read_index(self.layout, index_path) == meta.key:
            remove(self.layout, index_path)

    def _undo_insert(self, record_path: str, index_path: str, journaled_id: int | None) -> None:
        """Best effort after a failed insert: whatever was at either path was absent, corrupt
        or dangling (checked before writing), so removing it loses nothing."""
        try:
            for path in (record_path, index_path):
                remove(self.layout, path)
            if journaled_id is not None:
                self.journal.append(encode_journal_remove(journaled_id), durable=False)
        except OSError as exc:
            # What is left is a ghost journal entry or a dangling index: both harmless.
            log.warning("could not fully clean up a failed insert: %s", exc)

    def _next_id(self) -> int:
        """Hand out the next id and persist it before it is used. Caller holds the lock."""
        data = read_bytes(self.layout, self.layout.counter)
        last = 0
        if data is not None:
            try:
                last = decode_counter(data)
            except CorruptData as exc:
                log.error("id counter %s is corrupt (%s); recovering", self.layout.counter, exc)
                data = None
        if data is None:
            # Missing or corrupt: never below any id on disk or in the journal. (Ids of records
            # removed before the counter was lost cannot be known; do not delete the file.)
            known = [m.id for m, _ in self.records.scan()] + [m.id for m in self.journal.entries()]
            last = max(known, default=0)
        write_atomic(self.layout, self.layout.counter, encode_counter(last + 1))
        return last + 1
