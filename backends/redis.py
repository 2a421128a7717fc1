"""Redis backend (``redis.asyncio``, hiredis parser), for one server or a Redis Cluster.

Key layout (``P`` = ``storage.redis.key_prefix``; ``M`` = a snapshot's metadata JSON, every
``SnapshotMeta`` field, byte-identical in every place it is stored):

    P{meta}:id                 string  INCR counter of snapshot ids; never deleted
    P{meta}:k:<key>            string  M; the view-key claim; PXAT expires
    P{meta}:d:<sha256>         string  M; the deleteKey claim (hash of the deleteKey); PXAT expires
    P{meta}:o:<org>            zset    member M, score id: the org's listing index; no TTL
    P{meta}:o:<org>:u:<user>   zset    member M, score id: one user's listing index; no TTL
    P{meta}:exp                zset    member M, score expires: the expiry index; no TTL
    P{meta}:trash              set     "<id>:<key>" bodies still to delete (cluster only); no TTL
    P{<key>}:dashboard         hash    id, body (the exact dashboard bytes); PXAT expires

Expiry. Redis reclaims every per-snapshot key by its native TTL (never-expiring snapshots have
none); the store still compares ``expires <= now`` on every read, so a snapshot vanishes the
instant the caller's clock passes its expiry. The indexes have no TTL: reads skip expired
members and ``delete_expired`` prunes them. Each index member is the whole metadata JSON, so
``delete_expired`` returns full ``SnapshotMeta`` records even after Redis has reclaimed their
keys, and a listing reads one sorted set without touching per-snapshot keys. The cost: ``M``
(a few hundred bytes) is stored five times per snapshot.

Atomicity. All metadata shares the hash tag ``{meta}`` (one cluster slot), so every create,
delete and cleanup commits in one Lua script: create refuses a taken key or deleteKey, takes an
id from INCR and writes claims and indexes; delete compares the claim with ``M`` and removes
claims and index members, so of two racing deletes exactly one wins. A delete first reads the
metadata it is to delete (from the view-key claim, or from the deleteKey claim), checks it
(expiry, the expected id), then runs the script with it: the script deletes nothing unless the
view-key claim still holds exactly those bytes, so a snapshot deleted and created again under
the same key in between (a new id, new bytes) is never touched. Only the dashboard body
lives elsewhere (tagged by its own key, which spreads the bulk of the data over the cluster):

* single server: the body is written and deleted inside those same scripts, so create is one
  round trip and fully atomic;
* cluster: the body is written right after the metadata commits; if that fails the metadata is
  removed again. Delete and cleanup queue the body in ``P{meta}:trash`` inside their commit
  script, then delete it; a failed body delete stays queued and the next ``delete_expired``
  retries it. Body writes and deletes are idempotent and keyed by id, so they never touch a
  newer snapshot of the same key. A view needs the claim and a body of the same id, so a
  half-created snapshot is never served. Left if the process dies right after a create's
  commit: a listed snapshot that answers 404 until deleted.

Errors. ``_call`` is the one boundary: every driver error becomes ``StorageUnavailable`` there,
as does any call after ``aclose``. Stored metadata that does not decode as a snapshot (foreign or
corrupt data under one of our keys) is logged and treated as absent; such a member of the expiry
index is removed from it, so it cannot hold every later cleanup round back.

All metadata living in one slot means one shard holds it (and serves every create, delete and
listing); dashboards, the bulk, are spread. A ``key_prefix`` containing ``{`` or ``}`` would
change the hash tags and is refused at open.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Sequence
from contextlib import suppress
from typing import Self, TypeVar, cast

from backends import redis_layout as layout
from backends.redis_client import (
    DRIVER_ERRORS,
    Client,
    Script,
    connect,
    redacted,
    unavailable,
)
from backends.redis_layout import (
    KeySpace,
    decode_meta,
    encode_meta,
    meta_tail,
    pxat,
    trash_member,
)
from snapshot_server.config import RedisConfig, StorageConfig
from snapshot_server.errors import (
    ConfigError,
    SnapshotExists,
    SnapshotNotFound,
    StorageUnavailable,
    StoreClosed,
)
from snapshot_server.models import CorruptData, NewSnapshot, Snapshot, SnapshotMeta

log = logging.getLogger(__name__)

T = TypeVar("T")
_LIST_BATCH = 500  # index members fetched per round trip while listing


class RedisStore:
    def __init__(self, client: Client, config: RedisConfig) -> None:
        self._client = client
        self._cluster = config.cluster
        self._keys = KeySpace(config.key_prefix)
        # The cluster client's per-node pools raise instead of waiting when full; this gate
        # makes callers queue instead (each call holds at most one connection per node).
        self._gate = asyncio.Semaphore(config.max_connections)
        self._insert = Script(client, layout.INSERT)
        self._write_body = Script(client, layout.WRITE_BODY)
        self._delete = Script(client, layout.DELETE)
        self._delete_body = Script(client, layout.DELETE_BODY)
        self._delete_expired = Script(client, layout.DELETE_EXPIRED)
        self._closed = False

    @classmethod
    async def open(cls, config: StorageConfig) -> Self:
        """Connect and check the server answers. Raises ``StorageUnavailable`` if it does not,
        ``ConfigError`` if ``key_prefix`` holds a hash-tag brace."""
        cfg = config.redis
        if "{" in cfg.key_prefix or "}" in cfg.key_prefix:
            raise ConfigError("storage.redis.key_prefix: must not contain '{' or '}'")
        try:
            client = connect(cfg)
        except (ValueError, *DRIVER_ERRORS) as exc:
            raise StorageUnavailable(
                f"cannot connect to Redis at {redacted(cfg.url)}: {exc}"
            ) from exc
        store = cls(client, cfg)
        try:
            await store.ping()
        except StorageUnavailable as exc:
            with suppress(StorageUnavailable):
                await store.aclose()
            raise StorageUnavailable(
                f"cannot connect to Redis at {redacted(cfg.url)}: {exc}"
            ) from exc
        return store

    async def _call(self, awaitable: Awaitable[T]) -> T:
        """Await one driver call under the connection gate: the store's one error boundary.
        Driver errors, and any call after ``aclose``, raise ``StorageUnavailable``."""
        if self._closed:
            if asyncio.iscoroutine(awaitable):
                awaitable.close()  # never awaited: close it so Python does not warn
            raise StorageUnavailable() from StoreClosed()
        async with self._gate:
            with unavailable():
                return await awaitable

    async def insert(self, record: NewSnapshot) -> SnapshotMeta:
        ks = self._keys
        ms = "" if record.expires is None else str(pxat(record.expires))
        score = "" if record.expires is None else repr(record.expires)
        keys = [
            ks.claim(record.key),
            ks.delete_key(record.delete_key_hash),
            ks.counter,
            ks.org(record.org_id),
            ks.user(record.org_id, record.user_id),
            ks.expiry,
        ]
        args: list[bytes | str] = [meta_tail(record), ms, score]
        if not self._cluster:
            keys.append(ks.body(record.key))
            args.append(record.dashboard)
        result = int(await self._call(self._insert(keys=keys, args=args)))
        if result == -1:
            raise SnapshotExists("key")
        if result == -2:
            raise SnapshotExists("deleteKey")
        stored = record.stored_as(result)
        if self._cluster:
            try:
                await self._call(
                    self._write_body(
                        keys=[ks.body(record.key)], args=[result, ms, record.dashboard]
                    )
                )
            except StorageUnavailable:
                await self._undo_insert(stored)
                raise
        return stored

    async def _undo_insert(self, stored: SnapshotMeta) -> None:
        """Best effort: remove the metadata of a cluster create whose body could not be written,
        so it is not listed without being viewable (the body, should the write have landed after
        all, goes to the trash). Gives up silently if Redis fails again."""
        meta = encode_meta(stored.id, meta_tail(stored))
        keys = [*self._keys.meta_keys(stored), self._keys.expiry, self._keys.trash]
        with suppress(StorageUnavailable):
            await self._call(self._delete(keys=keys, args=[meta, stored.id, trash_member(stored)]))

    async def get(self, key: str, now: float) -> Snapshot:
        pipe = self._client.pipeline(transaction=False)
        pipe.get(self._keys.claim(key))
        pipe.hmget(self._keys.body(key), ["id", "body"])
        raw, (body_id, body) = await self._call(pipe.execute())
        meta = self._live(raw, now, self._keys.claim(key))
        # The body must be this snapshot's: not yet written, or left by a deleted predecessor
        # of the same key, means "not found".
        if body is None or body_id != b"%d" % meta.id:
            raise SnapshotNotFound()
        return Snapshot(meta, body)

    async def get_by_delete_key(self, delete_key_hash: str, now: float) -> SnapshotMeta:
        name = self._keys.delete_key(delete_key_hash)
        return self._live(await self._call(self._client.get(name)), now, name)

    async def list_snapshots(
        self,
        org_id: int,
        user_id: int | None,
        query: str,
        limit: int,
        page: int,
        now: float,
    ) -> list[SnapshotMeta]:
        """See ``SnapshotStore.list_snapshots``.

        Filtering happens here, over the id-ordered index: a page costs reading every index
        member up to its last match, i.e. O(expired-but-unpruned + skipped + returned) members of
        the org (or user) in batches of 500, each member a few hundred bytes of JSON.
        """
        index = self._keys.org(org_id) if user_id is None else self._keys.user(org_id, user_id)
        needle = query.casefold()
        skip, found = (page - 1) * limit, list[SnapshotMeta]()
        after = "-inf"
        while len(found) < limit:
            batch = cast(
                list[tuple[bytes, float]],
                await self._call(
                    self._client.zrangebyscore(
                        index, after, "+inf", start=0, num=_LIST_BATCH, withscores=True
                    )
                ),
            )
            for raw, _score in batch:
                meta = _decoded(raw, index)
                if meta is None or meta.is_expired(now) or needle not in meta.name.casefold():
                    continue
                if skip:
                    skip -= 1
                elif len(found) < limit:
                    found.append(meta)
            if len(batch) < _LIST_BATCH:
                break
            # Resume after the last id seen (exclusive), not at a rank, so concurrent inserts
            # and deletes never make a page skip or repeat an item. The score is the id, and is
            # there even for a member that does not decode.
            after = f"({int(batch[-1][1])}"
        return found

    async def delete(self, key: str, now: float, *, expect_id: int) -> SnapshotMeta:
        name = self._keys.claim(key)
        raw = await self._call(self._client.get(name))
        meta = self._live(raw, now, name)
        if meta.id != expect_id:
            raise SnapshotNotFound()  # the key was deleted and created again since the read
        assert raw is not None
        return await self._delete_meta(raw, meta)

    async def delete_by_delete_key(self, delete_key_hash: str, now: float) -> SnapshotMeta:
        name = self._keys.delete_key(delete_key_hash)
        raw = await self._call(self._client.get(name))
        meta = self._live(raw, now, name)
        assert raw is not None
        return await self._delete_meta(raw, meta)

    async def _delete_meta(self, raw: bytes | str, meta: SnapshotMeta) -> SnapshotMeta:
        """Delete the snapshot whose stored metadata is ``raw``, if the view-key claim still
        holds exactly ``raw`` (the DELETE script compares): a newer snapshot of the same key
        has another id, so other bytes, and is left alone. Raises ``SnapshotNotFound`` if the
        snapshot is gone already."""
        keys = [*self._keys.meta_keys(meta), self._keys.expiry, self._keys.trash]
        if not self._cluster:
            keys.append(self._keys.body(meta.key))
        member = trash_member(meta)
        if not await self._call(self._delete(keys=keys, args=[raw, meta.id, member])):
            raise SnapshotNotFound()  # a concurrent delete won, or the key holds a newer one
        if self._cluster:
            await self._empty_trash([member])
        return meta

    async def delete_expired(self, now: float, limit: int = 1000) -> list[SnapshotMeta]:
        """See ``SnapshotStore.delete_expired``. In a cluster, also deletes up to ``limit``
        dashboard bodies still queued in the trash (see ``_empty_trash``)."""
        members = cast(
            list[bytes],
            await self._call(
                self._client.zrangebyscore(self._keys.expiry, "-inf", repr(now), start=0, num=limit)
            ),
        )
        removed = await self._remove_expired(members)
        if self._cluster:
            trash = await self._call(self._client.srandmember(self._keys.trash, limit))
            await self._empty_trash(cast(list[bytes], trash))
        return removed

    async def _remove_expired(self, members: list[bytes]) -> list[SnapshotMeta]:
        """Remove these expiry-index members' snapshots; return those this call removed.

        A member that does not decode names no snapshot this store can find: it is logged and
        taken out of the index, or it would come first in every later round, for ever.
        """
        decoded = [(raw, _decoded(raw, self._keys.expiry)) for raw in members]
        corrupt = [raw for raw, meta in decoded if meta is None]
        if corrupt:
            await self._call(self._client.zrem(self._keys.expiry, *corrupt))
        valid = [(raw, meta) for raw, meta in decoded if meta is not None]
        if not valid:
            return []
        keys = [self._keys.expiry, self._keys.trash]
        args: list[bytes | int | str] = [4 if self._cluster else 5]
        for raw, meta in valid:
            keys.extend(self._keys.meta_keys(meta))
            if not self._cluster:
                keys.append(self._keys.body(meta.key))
            args.extend([raw, meta.id, trash_member(meta)])
        positions: list[int] = await self._call(self._delete_expired(keys=keys, args=args))
        return [valid[p - 1][1] for p in positions]

    async def _empty_trash(self, members: Sequence[bytes | str]) -> None:
        """Cluster only: delete the dashboard bodies these trash entries name, then the entries.

        A body lives outside the ``{meta}`` slot, so delete scripts queue it in the trash in the
        same step that removes the metadata; this removal is idempotent, keyed by id (a body a
        newer snapshot of the same key wrote is left), and what fails now stays queued for the
        next ``delete_expired``. Never raises ``StorageUnavailable``: the delete it follows has
        already happened.
        """

        async def remove(member: str) -> None:
            snapshot_id, _, key = member.partition(":")
            await self._call(self._delete_body(keys=[self._keys.body(key)], args=[snapshot_id]))
            await self._call(self._client.srem(self._keys.trash, member))

        texts = [m.decode() if isinstance(m, bytes) else m for m in members]
        results = await asyncio.gather(*(remove(m) for m in texts), return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            # Not raised (the delete itself is done), but an operator must be able to see why
            # dashboard bodies pile up in the trash.
            log.warning(
                "could not delete %d of %d dashboard bodies (left queued in %s for the next "
                "cleanup round): %s",
                len(failures),
                len(texts),
                self._keys.trash,
                failures[0].__cause__ or failures[0],
            )

    @staticmethod
    def _live(raw: bytes | str | None, now: float, name: str) -> SnapshotMeta:
        """The metadata in ``raw``, read from key ``name``. Raises ``SnapshotNotFound`` if
        absent, expired, or not a snapshot's metadata (logged)."""
        meta = None if raw is None else _decoded(raw, name)
        if meta is None or meta.is_expired(now):
            raise SnapshotNotFound()
        return meta

    async def ping(self) -> None:
        """Return if Redis answers; in a cluster, if every primary answers and the metadata slot
        is served (a node in ``cluster_state:fail`` still answers PING, but not a keyed read)."""
        await self._call(self._client.ping())
        if self._cluster:
            await self._call(self._client.exists(self._keys.counter))

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        with unavailable():
            await self._client.aclose()


def _decoded(raw: bytes | str, name: str) -> SnapshotMeta | None:
    """The snapshot metadata ``raw`` (read from key ``name``), or ``None`` if it is not that:
    foreign or corrupt data is logged and treated as absent."""
    try:
        return decode_meta(raw)
    except CorruptData as exc:
        log.warning("ignoring corrupt snapshot metadata in %s: %s", name, exc)
        return None
