"""``RedisStore``: the Redis backend's ``SnapshotStore`` (design and key layout in
``backends.redis``). It reads and lists by itself, and hands every commit to its ``Topology``."""

from __future__ import annotations

import dataclasses
import heapq
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import ClassVar, Self, TypeVar, cast

from snapshot_server.config import StorageConfig
from snapshot_server.config_reader import redact_url
from snapshot_server.errors import SnapshotExists, SnapshotNotFound, StorageUnavailable
from snapshot_server.models import (
    ListQuery,
    ListScope,
    NewSnapshot,
    Snapshot,
    SnapshotChanges,
    SnapshotMeta,
)
from snapshot_server.storage import OrgUsage, StoreSettings

from ..batching import ReadBatcher
from .client import DRIVER_ERRORS, Connection
from .deletions import RedisDeletions
from .layout import Alias, KeySpace, glob_escaped, live_meta, matching, own_body, read_meta
from .scripts import ORG_USAGE
from .settings import RedisSettings
from .topology import Topology, topology_for

# Index members fetched per round trip while listing: what the page still needs, within these.
_LIST_MIN_BATCH = 100
_LIST_MAX_BATCH = 1000
_Read = tuple[bytes | None, bytes | None, bytes | None]  # a claim, and its body's id and bytes
# How often update and rotate re-read and retry when another change of the snapshot came
# between their read and their script.
_CHANGE_ATTEMPTS = 8
T = TypeVar("T")


class RedisStore:
    Settings: ClassVar[type[StoreSettings]] = RedisSettings
    shared_by_processes: ClassVar[bool] = True

    def __init__(self, redis: Connection, topology: Topology) -> None:
        self._redis = redis
        self._topology = topology
        self._keys: KeySpace = topology.keys
        self._org_usage = redis.script(ORG_USAGE)
        self.deletions: RedisDeletions | None = None  # set at open (``deletions.py``)
        self._reads = ReadBatcher[_Read](self._fetch)
        self._export_orgs: list[str] | None = None  # the org indexes ``export_page`` merges

    @classmethod
    async def open(cls, config: StorageConfig) -> Self:
        """Connect and check the server answers. Raises ``StorageUnavailable`` if it does not,
        ``ConfigError`` for a bad setting."""
        cfg = RedisSettings.read(config.section())
        topology = topology_for(cfg)
        try:
            client = topology.connect(cfg)
        except (ValueError, *DRIVER_ERRORS) as exc:
            raise StorageUnavailable(
                f"cannot connect to Redis at {redact_url(cfg.url)}: {exc}"
            ) from exc
        redis = Connection(client, cfg.max_connections)
        store = cls(redis, topology(redis, KeySpace(cfg.key_prefix)))
        try:
            await store.ping()
        except StorageUnavailable as exc:
            with suppress(StorageUnavailable):
                await store.aclose()
            raise StorageUnavailable(
                f"cannot connect to Redis at {redact_url(cfg.url)}: {exc}"
            ) from exc
        store.deletions = RedisDeletions(cfg)
        await store.deletions.start()
        return store

    async def insert(self, record: NewSnapshot) -> SnapshotMeta:
        result = await self._topology.insert(record)
        if result == -1:
            raise SnapshotExists("key")
        if result == -2:
            raise SnapshotExists("deleteKey")
        return record.stored_as(result)

    async def get(self, key: str, now: float) -> Snapshot:
        # Batched with the lookups that arrive meanwhile: one pipeline (``backends.batching``).
        raw, body_id, body = await self._reads.get(key) or (None, None, None)
        if raw is None:
            return await self._via_alias(key, now)
        meta = live_meta(raw, now, self._keys.claim(key))
        dashboard = own_body(meta.id, body_id, body)
        if dashboard is None:
            raise SnapshotNotFound()
        return Snapshot(meta, dashboard)

    async def _fetch(self, keys: list[str]) -> dict[str, _Read]:
        pipe = self._redis.client.pipeline(transaction=False)
        for key in keys:
            pipe.get(self._keys.claim(key))
            pipe.hmget(self._keys.body(key), ["id", "body"])
        replies = await self._redis.call(pipe.execute())
        return {
            key: (raw, body_id, body)
            for key, raw, (body_id, body) in zip(keys, replies[::2], replies[1::2], strict=True)
        }

    async def _via_alias(self, key: str, now: float) -> Snapshot:
        """The snapshot ``key`` is a live rotation alias of; ``SnapshotNotFound`` otherwise.
        Only a key without a claim gets here, so a GET of a live key costs nothing more.

        The alias names the snapshot's deleteKey claim (a rotate leaves it), which names the
        current key. On a cluster a rotate moves the body just around its commit: if it is not
        at the current key yet, it is still at the old one."""
        name = self._keys.alias(key)
        raw_alias = await self._redis.call(self._redis.client.get(name))
        alias = None if raw_alias is None else Alias.decode(raw_alias, name)
        if alias is None or now >= alias.grace_until:
            raise SnapshotNotFound()
        claim = self._keys.delete_key(alias.delete_key_hash)
        meta = live_meta(await self._redis.call(self._redis.client.get(claim)), now, claim)
        if meta.id != alias.snapshot_id:
            raise SnapshotNotFound()
        for where in (meta.key, key):
            body_id, body = cast(
                list[bytes | None],
                await self._redis.call(
                    self._redis.client.hmget(self._keys.body(where), ["id", "body"])
                ),
            )
            dashboard = own_body(meta.id, body_id, body)
            if dashboard is not None:
                return Snapshot(meta, dashboard)
        raise SnapshotNotFound()

    async def get_by_delete_key(self, delete_key_hash: str, now: float) -> SnapshotMeta:
        name = self._keys.delete_key(delete_key_hash)
        return live_meta(await self._redis.call(self._redis.client.get(name)), now, name)

    async def list_snapshots(
        self, scope: ListScope, query: ListQuery, now: float
    ) -> list[SnapshotMeta]:
        """See ``SnapshotStore.list_snapshots``.

        Filtering happens here, over the id-ordered index: a page costs reading every index
        member up to its last match, i.e. O(expired-but-unpruned + skipped + returned) members of
        the org (or user), each a few hundred bytes of JSON, fetched as many as the page still
        needs at a time (at least ``_LIST_MIN_BATCH``). Only members that pass the filters are
        checked field by field (``matching``); the others are merely parsed.
        """
        org, user = scope.org_id, scope.user_id
        index = self._keys.org(org) if user is None else self._keys.user(org, user)
        limit = query.limit
        skip, found = query.offset, list[SnapshotMeta]()
        after = "-inf"
        while len(found) < limit:
            want = min(_LIST_MAX_BATCH, max(_LIST_MIN_BATCH, skip + limit - len(found)))
            batch = cast(
                list[tuple[bytes, float]],
                await self._redis.call(
                    self._redis.client.zrangebyscore(
                        index, after, "+inf", start=0, num=want, withscores=True
                    )
                ),
            )
            for raw, _score in batch:
                meta = matching(raw, index, now, query.needle)
                if meta is None:
                    continue
                if skip:
                    skip -= 1
                elif len(found) < limit:
                    found.append(meta)
            if len(batch) < want:
                break
            # Resume after the last id seen (exclusive), not at a rank, so concurrent inserts
            # and deletes never make a page skip or repeat an item. The score is the id, and is
            # there even for a member that does not decode.
            after = f"({int(batch[-1][1])}"
        return found

    async def delete(self, key: str, now: float, *, expect_id: int) -> SnapshotMeta:
        return await self._delete_claimed(self._keys.claim(key), now, expect_id)

    async def delete_by_delete_key(self, delete_key_hash: str, now: float) -> SnapshotMeta:
        return await self._delete_claimed(self._keys.delete_key(delete_key_hash), now, None)

    async def _delete_claimed(self, name: str, now: float, expect_id: int | None) -> SnapshotMeta:
        """Delete the snapshot claim ``name`` names (if it is ``expect_id``, when given).

        The script deletes only if the view-key claim still holds exactly the metadata read
        here: a newer snapshot of the same key has another id, so other bytes, and is left
        alone. An update or rotate of this same snapshot in between changes the bytes too: then
        the claim is read again and the delete retried, for this snapshot (its id) only. Raises
        ``SnapshotNotFound`` if the snapshot is gone (a concurrent delete won) or was never
        there."""
        for _ in range(_CHANGE_ATTEMPTS):
            raw, meta = await self._claimed(name, now, expect_id)
            expect_id = meta.id
            if await self._changing(self._topology.delete(raw, meta), changed=bool):
                return meta
        raise StorageUnavailable("the snapshot kept changing during the delete")

    async def _announce(self) -> None:
        """Tell every worker's cache, and return once they have it (``deletions.py``)."""
        if self.deletions is not None:
            await self.deletions.announce()

    async def update(
        self, key: str, now: float, *, expect_id: int, changes: SnapshotChanges
    ) -> SnapshotMeta:
        """See ``SnapshotStore.update``: read the claim, then one script that rewrites it only
        if it still holds what was read (as ``delete`` does). A concurrent change of the same
        snapshot makes the script refuse; the read and the script are then tried again, so
        each update applies whole, one after another."""
        for _ in range(_CHANGE_ATTEMPTS):
            raw, meta = await self._claimed(self._keys.claim(key), now, expect_id)
            new = changes.applied_to(meta)
            if await self._changing(self._topology.update(raw, meta, new), changed=bool):
                return new
        raise StorageUnavailable("the snapshot kept changing during the update")

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
        """See ``SnapshotStore.rotate``: as ``update``, one script over the metadata (the old
        claim compared with what was read); the body moves with it (``Topology.rotate``)."""
        for _ in range(_CHANGE_ATTEMPTS):
            raw, meta = await self._claimed(self._keys.claim(key), now, expect_id)
            if new_key == key:
                raise SnapshotExists("key")  # held by itself (and its body must stay put)
            new = dataclasses.replace(meta, key=new_key, updated=updated, etag=etag or meta.etag)
            alias = None
            if grace_until is not None and grace_until > now:
                alias = Alias(grace_until, meta.id, meta.delete_key_hash)
            result = await self._changing(
                self._topology.rotate(raw, meta, new, alias, now), changed=lambda r: r == 1
            )
            if result == -1:
                raise SnapshotExists("key")
            if result == 1:
                return new
        raise StorageUnavailable("the snapshot kept changing during the rotate")

    async def _claimed(
        self, name: str, now: float, expect_id: int | None
    ) -> tuple[bytes | str, SnapshotMeta]:
        """The stored metadata in claim ``name`` (raw and decoded) if it is unexpired and (when
        given) snapshot ``expect_id``; ``SnapshotNotFound`` otherwise."""
        raw = await self._redis.call(self._redis.client.get(name))
        meta = live_meta(raw, now, name)
        if expect_id is not None and meta.id != expect_id:
            raise SnapshotNotFound()  # the key was deleted and created again since the read
        assert raw is not None
        return raw, meta

    async def _changing(self, commit: Awaitable[T], changed: Callable[[T], bool]) -> T:
        """Await ``commit`` (a delete, update or rotate) and, if it ``changed`` the snapshot or
        may have (it raised), tell every worker's cache before returning: a cached GET must not
        serve what it removed or replaced."""
        try:
            result = await commit
        except StorageUnavailable:
            await self._announce()
            raise
        if changed(result):
            await self._announce()
        return result

    async def delete_expired(self, now: float, limit: int = 1000) -> list[SnapshotMeta]:
        """See ``SnapshotStore.delete_expired``. Then lets the topology finish up to ``limit``
        pieces of deferred work (a cluster's queued body deletes)."""
        members = cast(
            list[bytes],
            await self._redis.call(
                self._redis.client.zrangebyscore(
                    self._keys.expiry, "-inf", repr(now), start=0, num=limit
                )
            ),
        )
        removed = await self._remove_expired(members)
        if removed:
            await self._announce()
        await self._topology.sweep(limit)
        return removed

    async def _remove_expired(self, members: list[bytes]) -> list[SnapshotMeta]:
        """Remove these expiry-index members' snapshots; return those this call removed.

        A member that does not decode names no snapshot this store can find: it is logged and
        taken out of the index, or it would come first in every later round, for ever.
        """
        decoded = [(raw, read_meta(raw, self._keys.expiry)) for raw in members]
        corrupt = [raw for raw, meta in decoded if meta is None]
        if corrupt:
            await self._redis.call(self._redis.client.zrem(self._keys.expiry, *corrupt))
        found = [(raw, meta) for raw, meta in decoded if meta is not None]
        if not found:
            return []
        return [found[i][1] for i in await self._topology.delete_expired(found)]

    async def org_usage(self, org_id: int, now: float) -> OrgUsage:
        """See ``SnapshotStore.org_usage``: the org's running totals less its expired snapshots
        not yet removed, in one read-only script. Snapshots stored by a version without these
        totals are not counted (nor uncounted when they go)."""
        script = self._org_usage(keys=self._keys.usage_keys(org_id), args=[repr(now)])
        snapshots, size = await self._redis.call(script)
        return OrgUsage(int(snapshots), int(size))

    async def ping(self) -> None:
        """Return if Redis answers (in a cluster: every primary, and the metadata slot)."""
        await self._topology.ping()

    async def export_page(self, after_id: int, limit: int, now: float) -> list[Snapshot]:
        """See ``SnapshotStore.export_page``: a merge of the org listing indexes (scored by
        id) from ``after_id`` on, O(orgs x limit) per page, each snapshot then read as ``get``
        reads it. The org indexes are found with one ``SCAN`` of the keys when a pager starts
        (``after_id`` 0) and again when it seems to reach the end, so an org created meanwhile
        is not missed."""
        if after_id == 0 or self._export_orgs is None:
            self._export_orgs = await self._org_indexes()
        page = await self._export_merged(self._export_orgs, after_id, limit, now)
        if len(page) < limit:
            orgs = await self._org_indexes()
            if orgs != self._export_orgs:
                self._export_orgs = orgs
                page = await self._export_merged(orgs, after_id, limit, now)
        return page

    async def _org_indexes(self) -> list[str]:
        """The names of every org's listing index (not the per-user ones)."""
        stem = self._keys.org(0)[:-1]
        names: set[str] = set()

        async def scan() -> None:
            async for name in self._redis.client.scan_iter(
                match=glob_escaped(stem) + "*", count=1000
            ):
                text = name.decode() if isinstance(name, bytes) else name
                if text[len(stem) :].isdigit():
                    names.add(text)

        await self._redis.call(scan())
        return sorted(names)

    async def _export_merged(
        self, orgs: list[str], after_id: int, limit: int, now: float
    ) -> list[Snapshot]:
        page: list[Snapshot] = []
        while orgs and len(page) < limit:
            want = limit - len(page)
            pipe = self._redis.client.pipeline(transaction=False)
            for index in orgs:
                pipe.zrangebyscore(
                    index, f"({after_id}", "+inf", start=0, num=want, withscores=True
                )
            replies = cast(list[list[tuple[bytes, float]]], await self._redis.call(pipe.execute()))
            fetched = sum(len(reply) for reply in replies)
            # Each org gave its first ``want`` past ``after_id``, so the first ``want`` of the
            # merge are the store's.
            members = list(heapq.merge(*replies, key=lambda m: m[1]))[:want]
            candidates = [
                meta
                for raw, _score in members
                if (meta := matching(raw, "an org index", now, "")) is not None
            ]
            reads = await self._fetch([meta.key for meta in candidates]) if candidates else {}
            for meta in candidates:
                raw, body_id, body = reads[meta.key]
                claimed = None if raw is None else read_meta(raw, self._keys.claim(meta.key))
                # The claim may hold a newer snapshot of the key (exported under its own id).
                if claimed is None or claimed.id != meta.id or claimed.is_expired(now):
                    continue
                dashboard = own_body(meta.id, body_id, body)
                if dashboard is not None:
                    page.append(Snapshot(claimed, dashboard))
            if fetched < want or not members:
                break
            after_id = int(members[-1][1])
        return page

    async def aclose(self) -> None:
        if self.deletions is not None:
            await self.deletions.aclose()
        await self._redis.aclose()
