"""The storage contract every backend implements.

A backend is a class with an ``open(config)`` classmethod returning a ready ``SnapshotStore`` and
a ``Settings`` dataclass for its ``[storage.NAME]`` table; ``backends/__init__.py`` maps a config
name to that class. The service passes ``now`` (from its one
injected clock) into every method that must honour expiry, so an expired snapshot is invisible the
instant ``expires <= now``, whether or not the backend has reclaimed it yet.

Keys are passed already validated (``models.KEY_RE``); deleteKeys are passed only as their hex
SHA-256 (``models.HASH_RE``).

Errors. Every method may raise ``StorageUnavailable`` when the backend cannot be reached; each
backend turns its driver's exceptions into it at one boundary, and no other driver exception
may escape. After ``aclose`` every method raises ``StorageUnavailable``. Stored data the backend
cannot read back as a snapshot (corrupt, truncated, foreign) is logged and treated as absent:
``SnapshotNotFound`` for lookups, skipped by listings and cleanup, never a crash.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, Self

from .config import StorageConfig
from .config_reader import Section
from .models import ListQuery, ListScope, NewSnapshot, Snapshot, SnapshotChanges, SnapshotMeta


@dataclass(frozen=True, slots=True)
class OrgUsage:
    """What one org holds (``SnapshotStore.org_usage``): its unexpired snapshots and the total
    length of their dashboards in bytes (what the per-org caps of ``[limits]`` are held to)."""

    snapshots: int = 0
    bytes: int = 0


class StoreSettings(Protocol):
    """A backend's ``[storage.NAME]`` settings: a frozen dataclass whose field defaults are the
    defaults ``config.example.toml`` documents, one field per key."""

    __dataclass_fields__: ClassVar[dict[str, Any]]

    @classmethod
    def read(cls, section: Section) -> Self:
        """The settings in ``section`` (absent keys take their defaults). Raises
        ``ConfigError`` naming the first bad or unknown key (``section.done()``)."""
        ...

    def where(self) -> str:
        """Where the snapshots live, for the operator (``serving on`` line): a path or an
        address, never a password."""
        ...


class DeletionWatch(Protocol):
    """How a cache of snapshots learns of deletes made anywhere: this process, another worker,
    another host (``SnapshotStore.deletions``)."""

    def version(self) -> Hashable | None:
        """A value that differs from every value read before once any snapshot of the store
        may have been deleted (deleted by any process, or removed as expired) since that read.
        Cheap enough to call on every GET. A delete changes it before the delete returns.
        ``None`` while this cannot be known (a subscription is down): then nothing may be
        served from a cache, nor added to one."""
        ...


class SnapshotStore(Protocol):
    Settings: ClassVar[type[StoreSettings]]
    shared_by_processes: ClassVar[bool]
    """Whether several processes (``serve --workers N``) may open the same storage and see one
    another's snapshots."""

    @property
    def deletions(self) -> DeletionWatch | None:
        """Tells caches of this store's snapshots about deletes, or ``None``: this store cannot
        tell, and its snapshots are not cached."""
        ...

    @classmethod
    async def open(cls, config: StorageConfig) -> Self:
        """Read this backend's settings from ``config.section()`` (the table of the backend
        ``config`` names), connect (creating schema or directories as needed) and return a
        ready store.

        Raises ``ConfigError`` for a bad setting, ``StorageUnavailable`` when the backend cannot
        be reached at all.
        """
        ...

    async def insert(self, record: NewSnapshot) -> SnapshotMeta:
        """Store ``record`` atomically under a new id and return its stored metadata: every
        field of ``record.meta`` but ``id`` as given (``import`` relies on it to carry times,
        etag and deleteKey hash across backends).

        The id is a positive integer, unique within the store and greater than every id handed
        out before. Raises ``SnapshotExists("key")`` or ``SnapshotExists("deleteKey")`` when an
        unexpired record holds that key or deleteKey hash; nothing is written then. (An expired
        record not yet reclaimed may block its key too, depending on the backend.)
        """
        ...

    async def get(self, key: str, now: float) -> Snapshot:
        """The snapshot with view key ``key``. Raises ``SnapshotNotFound`` if none or expired."""
        ...

    async def get_by_delete_key(self, delete_key_hash: str, now: float) -> SnapshotMeta:
        """The snapshot whose deleteKey hashes to ``delete_key_hash``.

        Raises ``SnapshotNotFound`` if none or expired.
        """
        ...

    async def list_snapshots(
        self, scope: ListScope, query: ListQuery, now: float
    ) -> list[SnapshotMeta]:
        """The unexpired snapshots in ``scope`` whose names match ``query``, in ascending id
        order: the page ``query`` asks for (see ``ListQuery``)."""
        ...

    async def delete(self, key: str, now: float, *, expect_id: int) -> SnapshotMeta:
        """Delete the snapshot with view key ``key`` if it is still the one with id
        ``expect_id``, and return what was deleted: one atomic compare-and-delete.

        The caller names the snapshot it read (to check permissions, say); ids are never reused,
        so if that snapshot was deleted and the key created again in between, the newcomer is
        left alone. Raises ``SnapshotNotFound`` if the key holds nothing, an expired snapshot
        (left to the cleanup job) or a snapshot with another id. Two concurrent deletes of one
        snapshot: exactly one returns, the other raises.
        """
        ...

    async def delete_by_delete_key(self, delete_key_hash: str, now: float) -> SnapshotMeta:
        """Delete the snapshot whose deleteKey hashes to ``delete_key_hash`` and return what was
        deleted, in one atomic step: only the snapshot that holds this deleteKey at the moment
        of the delete is removed, never a later snapshot of the same view key.

        Raises ``SnapshotNotFound`` if none or expired. Two concurrent deletes: exactly one
        returns, the other raises.
        """
        ...

    async def update(
        self, key: str, now: float, *, expect_id: int, changes: SnapshotChanges
    ) -> SnapshotMeta:
        """Apply ``changes`` to the snapshot with view key ``key`` if it is still the one with id
        ``expect_id``, and return its new metadata (``changes.applied_to(old)``): one atomic
        compare-and-update. Raises ``SnapshotNotFound`` if the key holds nothing, an expired
        snapshot or one with another id; nothing changes then. ``key`` must be the snapshot's
        own key: a rotation alias (see ``rotate``) is not found.

        id, key, deleteKey hash, created, org, user, external fields and the dashboard bytes
        never change. A new ``expires`` is honoured everywhere at once: ``expires <= now`` makes
        the snapshot absent at once, and ``delete_expired`` (and, on Redis, every TTL of the
        snapshot's keys, rotation aliases included) follows the new time. Listings see a new
        name at once. ``org_usage`` is unchanged. ``deletions.version()`` changes before it
        returns.
        """
        ...

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
        """Move the snapshot with view key ``key`` (if it is still the one with id
        ``expect_id``) to view key ``new_key`` in one atomic step, and return its new metadata:
        ``key = new_key``, ``updated = updated`` and, when given, ``etag = etag`` (the answer
        changes with ``updated``, so the service gives a new validator); id, deleteKey hash,
        password hash, dashboard and everything else stay.

        Raises ``SnapshotNotFound`` as ``update`` does (an alias ``key`` included), and
        ``SnapshotExists("key")`` if ``new_key`` is held by a snapshot or a live alias (its
        own included); nothing changes then.

        ``grace_until=None``: the old key is free at once. ``grace_until`` (> ``now``): the old
        key stays an alias until then: while ``now < grace_until`` (and the snapshot lives)
        ``get(old_key, now)`` returns the snapshot, whose ``meta.key`` is the new key, and
        ``insert`` of ``old_key`` raises ``SnapshotExists("key")``; from ``grace_until`` on the
        old key is absent. Each alias keeps its own deadline through later rotates, and goes
        with the snapshot when it is deleted in any way (cleanup included). ``delete``,
        ``update`` and ``rotate`` take the current key only, never an alias.
        ``deletions.version()`` changes before it returns; ``org_usage`` is unchanged.
        """
        ...

    async def delete_expired(self, now: float, limit: int = 1000) -> list[SnapshotMeta]:
        """Remove up to ``limit`` snapshots with ``expires <= now``, earliest expiry first;
        return what was removed (so the caller can purge caches). Returns ``[]`` when nothing
        is expired. Its cost grows with ``limit``, not with the snapshots stored: the cleanup
        job calls it in small chunks (``cleanup``).
        """
        ...

    async def org_usage(self, org_id: int, now: float) -> OrgUsage:
        """How many unexpired snapshots (``expires > now``) org ``org_id`` holds, and the total
        length in bytes of their dashboards: what the per-org caps are checked against before
        every create.

        Called before every create while the caps are on, so it must stay cheap however many
        snapshots the org holds: sqlite, redis and filesystem keep running totals per org, and
        their cost grows only with the org's expired snapshots not yet removed by
        ``delete_expired``. An insert or delete running at the same time may or may not be
        counted.
        """
        ...

    async def ping(self) -> None:
        """Return if the backend answers; raise ``StorageUnavailable`` otherwise."""
        ...

    async def aclose(self) -> None:
        """Release connections and files. Idempotent; every other method raises
        ``StorageUnavailable`` afterwards."""
        ...

    async def export_page(self, after_id: int, limit: int, now: float) -> list[Snapshot]:
        """Up to ``limit`` unexpired snapshots (``expires > now``) with ids above ``after_id``,
        in ascending id order, dashboards included: what ``snapshot-server export`` and
        ``migrate`` page through (``after_id`` = the last id of the previous page, 0 first).

        Its cost grows with ``limit`` (and, on Redis, with the number of orgs), not with the
        snapshots stored, so paging through a large store costs one pass. Snapshots inserted
        or deleted while a pager runs may or may not be seen; none is seen twice. Corrupt
        records are logged and skipped, as in listings.
        """
        ...
