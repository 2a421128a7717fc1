"""Update and rotate for the filesystem backend, and the rotation aliases they leave.

Update rewrites a record in place (same key, same path): a ``+`` journal line with the new
metadata (fsynced), then the record replaced atomically (the commit point), as an insert does.

Rotate moves a record to the path of its new key. Under the write lock:

1. a ``+`` journal line with the new metadata, fsynced (it replaces the entry of that id, so
   the journal names the new key from here on);
2. the alias file of the old key (``aliases/<sha256(old key)>.alias``: old key, id, grace
   deadline; the deadline is the rotate's ``now`` when no grace is asked for);
3. the record written under the new key: the commit point;
4. the delete-key index pointed at the new key;
5. the old record removed, and, without a grace, the alias file too.

A snapshot has *moved* away from a key with an alias file once the journal names another key
for its id and that key's record holds the id (step 3 done). Lookups follow that rule, so a
record found under an alias of its own id counts until the commit and never after (a stale
copy), an alias of a deleted snapshot (its id gone from the journal) is dead at once, and
chained aliases (rotated twice) all lead to where the snapshot is now. A crash part-way leaves
the alias file as the note of a rotate to finish or undo: ``resolve`` (at open, and in every
cleanup round) finishes one that committed (steps 4-5), undoes one that did not (the journal
entry put back), removes the stale copy of a snapshot deleted since, and drops alias files
that can serve nothing more: a duplicate id always resolves to one record.
"""

from __future__ import annotations

import dataclasses
import logging

from snapshot_server.errors import SnapshotExists
from snapshot_server.models import Snapshot, SnapshotChanges, SnapshotMeta

from .disk import remove, write_atomic
from .format import AliasFile, encode_alias, encode_index, encode_journal_add, encode_record
from .journal import Journal
from .layout import Layout
from .records import Records, read_alias, read_index
from .walk import iter_alias_files

log = logging.getLogger(__name__)


class Sharing:
    """Update, rotate and the aliases of one root. The write methods (``update``, ``rotate``,
    ``resolve``) need the root's lock held by the caller; the others are reads, lock-free like
    ``records``."""

    def __init__(self, layout: Layout, journal: Journal, records: Records) -> None:
        self.layout = layout
        self.journal = journal
        self.records = records

    # Reads.

    def current(self, key: str) -> Snapshot | None:
        """The record of ``key`` (``Records.snapshot``) if it is the snapshot's current one:
        not a stale copy left under a key the snapshot has moved away from, nor the copy of a
        snapshot deleted since."""
        snapshot = self.records.snapshot(key)
        if snapshot is None:
            return None
        alias = read_alias(self.layout, self.layout.alias_path(key))
        if alias is None or alias.snapshot_id != snapshot.meta.id:
            return snapshot  # the usual case: one failed open()
        entry = self.journal.entry(alias.snapshot_id)
        if entry is None:
            return None  # deleted since
        return None if self._moved(key, alias) is not None else snapshot

    def lookup(self, key: str, now: float) -> Snapshot | None:
        """What ``get`` serves for ``key``: its current record, or the snapshot ``key`` is a
        live alias of (its ``meta.key`` the new key). Expiry is the caller's to check."""
        snapshot = self.records.snapshot(key)
        alias = read_alias(self.layout, self.layout.alias_path(key))
        if alias is None or (snapshot is not None and snapshot.meta.id != alias.snapshot_id):
            return snapshot  # the usual case, or a later snapshot under a dead alias's key
        moved = self._moved(key, alias)
        if moved is not None:
            return moved if now < alias.grace_until else None
        return None if snapshot is None else self.current(key)

    def holder(self, delete_key_hash: str) -> SnapshotMeta | None:
        """The current record's metadata of the snapshot that holds ``delete_key_hash``, also
        while its index still names the key a rotate moved it from (a rotate interrupted after
        its commit)."""
        meta = self.records.holder(delete_key_hash)
        if meta is None or self.current(meta.key) is not None:
            return meta
        entry = self.journal.entry(meta.id)
        moved = None if entry is None else self.records.meta(entry.key)
        return moved if moved is not None and moved.id == meta.id else None

    def alias_holds(self, key: str, now: float) -> bool:
        """Whether ``key`` is a live alias at ``now`` (its snapshot moved, its grace running)."""
        alias = read_alias(self.layout, self.layout.alias_path(key))
        return alias is not None and now < alias.grace_until and self._moved(key, alias) is not None

    def _moved(self, key: str, alias: AliasFile) -> Snapshot | None:
        """The snapshot ``alias`` (stored under ``key``) names, if it has moved away from
        ``key``: the journal names another key for it, whose record holds its id."""
        entry = self.journal.entry(alias.snapshot_id)
        if entry is None or entry.key == key:
            return None
        snapshot = self.records.snapshot(entry.key)
        return snapshot if snapshot is not None and snapshot.meta.id == alias.snapshot_id else None

    # Writes (the caller holds the root's lock).

    def update(
        self, key: str, now: float, expect_id: int, changes: SnapshotChanges
    ) -> SnapshotMeta | None:
        """See ``SnapshotStore.update``; ``None`` for not found."""
        snapshot = self.current(key)
        if snapshot is None or snapshot.meta.id != expect_id or snapshot.meta.is_expired(now):
            return None
        meta = changes.applied_to(snapshot.meta)
        self.journal.append(encode_journal_add(meta, len(snapshot.dashboard)), durable=True)
        try:
            write_atomic(
                self.layout,
                self.layout.record_path(key),
                encode_record(Snapshot(meta, snapshot.dashboard)),
            )
        except BaseException:
            self._restore_entry(snapshot)
            raise
        return meta

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
        """See ``SnapshotStore.rotate``; ``None`` for not found. Raises ``SnapshotExists``."""
        snapshot = self.current(key)
        if snapshot is None or snapshot.meta.id != expect_id or snapshot.meta.is_expired(now):
            return None
        if new_key == key or self.records.snapshot(new_key) is not None:
            raise SnapshotExists("key")
        if self.alias_holds(new_key, now):
            raise SnapshotExists("key")
        old = snapshot.meta
        meta = dataclasses.replace(old, key=new_key, updated=updated, etag=etag or old.etag)
        until = grace_until if grace_until is not None and grace_until > now else now
        alias = AliasFile(key, old.id, until)
        layout = self.layout
        self.journal.append(encode_journal_add(meta, len(snapshot.dashboard)), durable=True)
        try:
            write_atomic(layout, layout.alias_path(key), encode_alias(alias))
            remove(layout, layout.alias_path(new_key))  # a dead one, if any
            # The commit point:
            record = encode_record(Snapshot(meta, snapshot.dashboard))
            write_atomic(layout, layout.record_path(new_key), record)
        except BaseException:
            self._undo_rotate(snapshot, new_key)
            raise
        # Committed: what fails from here on is finished by ``resolve``.
        self._finish(old, meta, alias, now)
        return meta

    def resolve(self, now: float) -> None:
        """Finish or undo every rotate a crash (or an I/O error) left half-done, remove the
        stale copy of a snapshot deleted since, and remove alias files that can serve nothing
        more (deadline passed at ``now``, or snapshot gone)."""
        layout = self.layout
        for path in iter_alias_files(layout):
            alias = read_alias(layout, path)
            if alias is None or layout.alias_path(alias.key) != path:
                continue  # corrupt or misplaced: logged by the read; left for the operator
            old = self.records.snapshot(alias.key)
            if old is not None and old.meta.id == alias.snapshot_id:
                self._resolve_interrupted(old, alias, now)
            elif now >= alias.grace_until or self._moved(alias.key, alias) is None:
                remove(layout, path)

    def _resolve_interrupted(self, old: Snapshot, alias: AliasFile, now: float) -> None:
        """The old record of ``alias``'s rotate is still there: finish the rotate if its new
        record was committed (the journal, written first, names where), undo it if not, and
        remove the old record if the snapshot has been deleted since."""
        layout = self.layout
        entry = self.journal.entry(alias.snapshot_id)
        if entry is None:
            log.warning("removing the stale copy of deleted snapshot %d", alias.snapshot_id)
            remove(layout, layout.record_path(alias.key))
            index_path = layout.index_path(old.meta.delete_key_hash)
            if read_index(layout, index_path) == alias.key:
                remove(layout, index_path)
        elif entry.key != alias.key:
            moved = self._moved(alias.key, alias)
            if moved is not None:
                log.warning("finishing an interrupted rotate of snapshot %d", entry.id)
                self._finish(old.meta, moved.meta, alias, now)
                return
            log.warning("undoing an interrupted rotate of snapshot %d", entry.id)
            self._restore_entry(old)
        remove(layout, layout.alias_path(alias.key))

    def _finish(self, old: SnapshotMeta, new: SnapshotMeta, alias: AliasFile, now: float) -> None:
        """Steps 4-5 of a committed rotate from ``old`` to ``new``."""
        layout = self.layout
        write_atomic(layout, layout.index_path(new.delete_key_hash), encode_index(new.key, new.id))
        remove(layout, layout.record_path(old.key))
        if now >= alias.grace_until:
            remove(layout, layout.alias_path(old.key))

    def _undo_rotate(self, snapshot: Snapshot, new_key: str) -> None:
        """Best effort after a rotate failed before its commit: the new record removed (the
        write may have failed after its rename; the key held nothing before), the journal
        entry put back and the alias file removed (what is left otherwise, ``resolve``
        undoes)."""
        try:
            remove(self.layout, self.layout.record_path(new_key))
            self._restore_entry(snapshot)
            remove(self.layout, self.layout.alias_path(snapshot.meta.key))
        except OSError as exc:
            log.warning("could not undo a failed rotate at once (left to cleanup): %s", exc)

    def _restore_entry(self, snapshot: Snapshot) -> None:
        """Journal ``snapshot``'s record as it is (after a change that did not commit)."""
        line = encode_journal_add(snapshot.meta, len(snapshot.dashboard))
        self.journal.append(line, durable=True)
