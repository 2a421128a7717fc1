"""The reference backend: plain dicts in one process.

The smallest correct implementation of the ``SnapshotStore`` contract, used as the test double
and for trying the server out. Nothing survives a restart and nothing is shared between workers.
It stores objects, not bytes, so it has no corrupt data to meet and no driver to fail; after
``aclose`` it refuses every call as the others do.

Costs. Listings walk one dict per scope (the org's, or the user's), in id order, and stop at the
page's end: O(skipped + returned + expired not yet removed), whatever else the store holds.
``delete_expired`` pops a heap ordered by expiry: O(removed log N), never a scan of the store.
``org_usage`` scans every snapshot (the reference of what is counted; checked per create only
while the caps are on).

Rotation aliases live in ``_aliases`` (old key -> the snapshot's id and the grace deadline) and are
resolved through ``_key_by_id``; an alias past its deadline is dropped when next met, and all of a
snapshot's aliases go with it when it is removed.
"""

from __future__ import annotations

import bisect
import dataclasses
import heapq
import itertools
from dataclasses import dataclass
from typing import ClassVar, Self, TypeVar

from snapshot_server.config import StorageConfig
from snapshot_server.config_reader import Section
from snapshot_server.errors import SnapshotExists, SnapshotNotFound, StorageUnavailable, StoreClosed
from snapshot_server.models import (
    UNCHANGED,
    ListQuery,
    ListScope,
    NewSnapshot,
    Snapshot,
    SnapshotChanges,
    SnapshotMeta,
)
from snapshot_server.storage import OrgUsage, StoreSettings

from .deletions import LocalDeletions

K = TypeVar("K")


@dataclass(frozen=True, slots=True)
class _Alias:
    """An old view key a rotate left alive: it reaches snapshot ``snapshot_id`` while
    ``now < grace_until``."""

    snapshot_id: int
    grace_until: float


@dataclass(frozen=True, slots=True)
class MemorySettings:
    """``[storage.memory]`` has no settings; a key in it is an error."""

    @classmethod
    def read(cls, section: Section) -> Self:
        section.done()
        return cls()

    def where(self) -> str:
        return "(lost when the server stops)"


class MemoryStore:
    Settings: ClassVar[type[StoreSettings]] = MemorySettings
    # Plain dicts in one process: a snapshot made through one worker is unknown to the others.
    shared_by_processes: ClassVar[bool] = False

    def __init__(self) -> None:
        self._by_key: dict[str, Snapshot] = {}
        self._key_by_delete_hash: dict[str, str] = {}
        # Listing indexes, id -> meta per org and per (org, user). Ids are handed out in
        # insertion order and dicts keep it: each is in id order for free.
        self._by_org: dict[int, dict[int, SnapshotMeta]] = {}
        self._by_user: dict[tuple[int, int], dict[int, SnapshotMeta]] = {}
        self._key_by_id: dict[int, str] = {}
        self._aliases: dict[str, _Alias] = {}
        self._aliases_by_id: dict[int, set[str]] = {}
        # (expires, id) of every expiring snapshot; entries of deleted snapshots, and entries an
        # update of ``expires`` made stale, stay until popped (checked against the snapshot then).
        self._expiring: list[tuple[float, int]] = []
        self._ids = itertools.count(1)
        self._closed = False
        self.deletions = LocalDeletions()
        self._id_order: list[tuple[int, str]] | None = None  # (id, key) ascending; see export_page

    @classmethod
    async def open(cls, config: StorageConfig) -> Self:
        MemorySettings.read(config.section())
        return cls()

    # No awaits inside these methods: each runs atomically on the event loop.
    async def insert(self, record: NewSnapshot) -> SnapshotMeta:
        self._check_open()
        # insert has no ``now``: the record's creation time is the service's now.
        if record.meta.key in self._by_key or self._alias(record.meta.key, record.meta.created):
            raise SnapshotExists("key")
        if record.meta.delete_key_hash in self._key_by_delete_hash:
            raise SnapshotExists("deleteKey")
        meta = record.stored_as(next(self._ids))
        self._by_key[record.meta.key] = Snapshot(meta, record.dashboard)
        self._id_order = None
        self._key_by_delete_hash[record.meta.delete_key_hash] = record.meta.key
        self._key_by_id[meta.id] = meta.key
        self._by_org.setdefault(meta.org_id, {})[meta.id] = meta
        self._by_user.setdefault((meta.org_id, meta.user_id), {})[meta.id] = meta
        if meta.expires is not None:
            heapq.heappush(self._expiring, (meta.expires, meta.id))
        return meta

    async def get(self, key: str, now: float) -> Snapshot:
        self._check_open()
        alias = None if key in self._by_key else self._alias(key, now)
        if alias is not None:
            key = self._key_by_id[alias.snapshot_id]
        return self._live(key, now)

    async def get_by_delete_key(self, delete_key_hash: str, now: float) -> SnapshotMeta:
        self._check_open()
        return self._live(self._key_by_delete_hash.get(delete_key_hash), now).meta

    async def list_snapshots(
        self, scope: ListScope, query: ListQuery, now: float
    ) -> list[SnapshotMeta]:
        self._check_open()
        needle = query.needle
        if scope.user_id is None:
            index = self._by_org.get(scope.org_id, {})
        else:
            index = self._by_user.get((scope.org_id, scope.user_id), {})
        matches = (
            m for m in index.values() if not m.is_expired(now) and needle in m.name.casefold()
        )
        return list(itertools.islice(matches, query.offset, query.offset + query.limit))

    async def delete(self, key: str, now: float, *, expect_id: int) -> SnapshotMeta:
        self._check_open()
        meta = self._current(key, now, expect_id).meta
        self._remove(meta)
        return meta

    async def delete_by_delete_key(self, delete_key_hash: str, now: float) -> SnapshotMeta:
        self._check_open()
        meta = self._live(self._key_by_delete_hash.get(delete_key_hash), now).meta
        self._remove(meta)
        return meta

    async def update(
        self, key: str, now: float, *, expect_id: int, changes: SnapshotChanges
    ) -> SnapshotMeta:
        self._check_open()
        snapshot = self._current(key, now, expect_id)
        meta = changes.applied_to(snapshot.meta)
        self._replace(snapshot, meta)
        if changes.expires is not UNCHANGED and meta.expires is not None:
            heapq.heappush(self._expiring, (meta.expires, meta.id))
        return meta

    async def rotate(
        self,
        key: str,
        new_key: str,
        now: float,
        *,
        expect_id: int,
        updated: float,
        grace_until: float | None,
        etag: str | None = None,
    ) -> SnapshotMeta:
        self._check_open()
        snapshot = self._current(key, now, expect_id)
        if new_key in self._by_key or self._alias(new_key, now):
            raise SnapshotExists("key")
        meta = dataclasses.replace(
            snapshot.meta, key=new_key, updated=updated, etag=etag or snapshot.meta.etag
        )
        del self._by_key[key]
        self._key_by_delete_hash[meta.delete_key_hash] = new_key
        self._key_by_id[meta.id] = new_key
        self._replace(snapshot, meta)
        if grace_until is not None and grace_until > now:
            self._aliases[key] = _Alias(meta.id, grace_until)
            self._aliases_by_id.setdefault(meta.id, set()).add(key)
        return meta

    async def delete_expired(self, now: float, limit: int = 1000) -> list[SnapshotMeta]:
        self._check_open()
        expired: list[SnapshotMeta] = []
        # self._expiring, not a local: _remove may rebuild it.
        while self._expiring and len(expired) < limit and self._expiring[0][0] <= now:
            _expires, snapshot_id = heapq.heappop(self._expiring)
            key = self._key_by_id.get(snapshot_id)
            snapshot = None if key is None else self._by_key[key]
            # A stale entry (an update moved the expiry) leaves a snapshot that is not expired.
            if snapshot is not None and snapshot.meta.is_expired(now):
                expired.append(snapshot.meta)
                self._remove(snapshot.meta)
        return expired

    async def org_usage(self, org_id: int, now: float) -> OrgUsage:
        self._check_open()
        # A scan of every snapshot: the reference implementation says what is counted; the
        # other backends keep running totals instead.
        sizes = [
            len(s.dashboard)
            for s in self._by_key.values()
            if s.meta.org_id == org_id and not s.meta.is_expired(now)
        ]
        return OrgUsage(len(sizes), sum(sizes))

    async def ping(self) -> None:
        self._check_open()

    async def aclose(self) -> None:
        self._closed = True
        self._by_key.clear()
        self._key_by_delete_hash.clear()
        self._by_org.clear()
        self._by_user.clear()
        self._key_by_id.clear()
        self._aliases.clear()
        self._aliases_by_id.clear()
        self._expiring.clear()

    async def export_page(self, after_id: int, limit: int, now: float) -> list[Snapshot]:
        self._check_open()
        if self._id_order is None:
            # Rebuilt after a change, then bisected: paging through a store nobody writes to
            # costs one pass in all, not one per page.
            self._id_order = [(s.meta.id, key) for key, s in self._by_key.items()]
            self._id_order.sort()
        start = bisect.bisect_right(self._id_order, after_id, key=lambda entry: entry[0])
        page: list[Snapshot] = []
        for index in range(start, len(self._id_order)):
            if len(page) == limit:
                break
            snapshot = self._by_key[self._id_order[index][1]]
            if not snapshot.meta.is_expired(now):
                page.append(snapshot)
        return page

    def _live(self, key: str | None, now: float) -> Snapshot:
        snapshot = None if key is None else self._by_key.get(key)
        if snapshot is None or snapshot.meta.is_expired(now):
            raise SnapshotNotFound()
        return snapshot

    def _current(self, key: str, now: float, expect_id: int) -> Snapshot:
        """``_live(key)`` if it is still snapshot ``expect_id``: what delete, update and rotate
        act on."""
        snapshot = self._live(key, now)
        if snapshot.meta.id != expect_id:
            raise SnapshotNotFound()
        return snapshot

    def _alias(self, key: str, now: float) -> _Alias | None:
        """The live alias ``key`` (its snapshot still stored), or ``None``; a dead one is
        dropped."""
        alias = self._aliases.get(key)
        if alias is None:
            return None
        if now < alias.grace_until and alias.snapshot_id in self._key_by_id:
            return alias
        del self._aliases[key]
        aliases = self._aliases_by_id.get(alias.snapshot_id)
        if aliases is not None:
            aliases.discard(key)
            if not aliases:
                del self._aliases_by_id[alias.snapshot_id]
        return None

    def _replace(self, old: Snapshot, meta: SnapshotMeta) -> None:
        """Store ``meta`` for the snapshot ``old`` was, under ``meta.key``, in every index."""
        self._by_key[meta.key] = Snapshot(meta, old.dashboard)
        self._id_order = None  # a rotate moves the snapshot to another key
        self._by_org[meta.org_id][meta.id] = meta
        self._by_user[(meta.org_id, meta.user_id)][meta.id] = meta
        self.deletions.bump()  # a cached GET of the old meta or key must not be served

    def _remove(self, meta: SnapshotMeta) -> None:
        del self._by_key[meta.key]
        self._id_order = None
        del self._key_by_delete_hash[meta.delete_key_hash]
        del self._key_by_id[meta.id]
        for alias in self._aliases_by_id.pop(meta.id, ()):
            del self._aliases[alias]
        self.deletions.bump()
        _discard(self._by_org, meta.org_id, meta.id)
        _discard(self._by_user, (meta.org_id, meta.user_id), meta.id)
        if len(self._expiring) > 2 * len(self._by_key) + 1024:
            # Mostly entries of deleted snapshots: rebuilt, so deletes cannot grow it for ever.
            self._expiring = [
                (s.meta.expires, s.meta.id)
                for s in self._by_key.values()
                if s.meta.expires is not None
            ]
            heapq.heapify(self._expiring)

    def _check_open(self) -> None:
        if self._closed:
            raise StorageUnavailable() from StoreClosed()


def _discard(indexes: dict[K, dict[int, SnapshotMeta]], scope: K, snapshot_id: int) -> None:
    """Take ``snapshot_id`` out of the index of ``scope``, and an index left empty with it."""
    index = indexes[scope]
    del index[snapshot_id]
    if not index:
        del indexes[scope]
