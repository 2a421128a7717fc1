"""Single server or Redis Cluster: a strategy chosen once, at open (``topology_for``).

The two differ in how the client is made and in where a snapshot's dashboard body is written
and deleted relative to the metadata scripts (``backends.redis`` explains why):

* ``SingleServer``: the body is one more key of the insert and delete scripts, so a create is
  one round trip and every commit fully atomic;
* ``Cluster``: the body lives in its own slot, apart from the ``{meta}`` slot: written right
  after the metadata commits (undone if that fails), and deleted through the trash set that the
  delete scripts fill in the same step that removes the metadata.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import suppress
from typing import Any, cast

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from snapshot_server.errors import StorageUnavailable
from snapshot_server.models import NewSnapshot, SnapshotMeta

from . import scripts
from .client import Client, Connection, retry_policy
from .layout import (
    Alias,
    KeySpace,
    encode_full,
    encode_meta,
    meta_tail,
    own_body,
    pxat,
    trash_member,
)
from .settings import RedisSettings

log = logging.getLogger(__name__)


class Topology(ABC):
    """The commits of one store: insert, delete, cleanup, each one metadata script plus
    whatever the topology does with the body (``body_keys`` and the subclass's hooks)."""

    def __init__(self, redis: Connection, keys: KeySpace) -> None:
        self.redis = redis
        self.keys = keys
        self._insert = redis.script(scripts.INSERT)
        self._delete = redis.script(scripts.DELETE)
        self._delete_expired = redis.script(scripts.DELETE_EXPIRED)
        self._update = redis.script(scripts.UPDATE)
        self._rotate = redis.script(scripts.ROTATE)

    @staticmethod
    @abstractmethod
    def connect(config: RedisSettings) -> Client:
        """A client for ``config`` (no I/O yet). Raises ``ValueError`` or a driver error for a
        malformed URL."""

    @abstractmethod
    def body_keys(self, key: str) -> list[str]:
        """The body keys the metadata scripts write and delete themselves (``[]``: none)."""

    @abstractmethod
    def body_args(self, record: NewSnapshot) -> list[bytes]:
        """The script arguments that go with ``body_keys`` at insert."""

    async def insert(self, record: NewSnapshot) -> int:
        """Commit ``record``: its new id, or -1 if its key is taken, -2 if its deleteKey is."""
        ks = self.keys
        ms, score = _expiry(record.meta)
        keys = [
            ks.claim(record.meta.key),
            ks.delete_key(record.meta.delete_key_hash),
            ks.counter,
            ks.org(record.meta.org_id),
            ks.user(record.meta.org_id, record.meta.user_id),
            ks.expiry,
            *ks.usage_keys(record.meta.org_id),
            ks.alias(record.meta.key),
            *self.body_keys(record.meta.key),
        ]
        size = str(len(record.dashboard))
        created = repr(record.meta.created)  # the service's now: a live alias blocks the key
        args: list[bytes | str] = [
            meta_tail(record.meta),
            ms,
            score,
            size,
            created,
            *self.body_args(record),
        ]
        return int(await self.redis.call(self._insert(keys=keys, args=args)))

    async def delete(self, raw: bytes | str, meta: SnapshotMeta) -> bool:
        """Delete the snapshot whose stored metadata is ``raw``, if the view-key claim still
        holds exactly ``raw`` (the script compares); whether this call deleted it."""
        ks = self.keys
        keys = [*ks.meta_keys(meta), ks.expiry, ks.trash, ks.receipt(meta.id)]
        # A token of this call: if the reply is lost and the client re-runs the script, the
        # re-run finds the receipt its first run left and answers "deleted" too.
        args = [
            raw,
            meta.id,
            trash_member(meta),
            secrets.token_hex(8),
            scripts.RECEIPT_MS,
            ks.alias_prefix,
        ]
        script = self._delete(keys=[*keys, *self.body_keys(meta.key)], args=args)
        return bool(await self.redis.call(script))

    async def update(self, raw: bytes | str, old: SnapshotMeta, new: SnapshotMeta) -> bool:
        """Replace the snapshot whose stored metadata is ``raw`` by ``new`` (same id and key)
        everywhere, moving every TTL to ``new.expires``, if the view-key claim still holds
        exactly ``raw``; whether it did."""
        ms, score = _expiry(new)
        keys = [*self.keys.meta_keys(new), self.keys.expiry, *self.body_keys(new.key)]
        args = [raw, encode_full(new), ms, score, new.id, self.keys.alias_prefix]
        return bool(await self.redis.call(self._update(keys=keys, args=args)))

    async def rotate(
        self,
        raw: bytes | str,
        old: SnapshotMeta,
        new: SnapshotMeta,
        alias: Alias | None,
        now: float,
    ) -> int:
        """Move the snapshot whose stored metadata is ``raw`` (``old``) to ``new`` (its new
        key), leaving ``alias`` under the old key if given, if the old claim still holds
        exactly ``raw``: 1 if moved, 0 if not (gone, or changed), -1 if the new key is taken."""
        ks = self.keys
        ms, score = _expiry(new)
        keys = [
            *ks.meta_keys(old),
            ks.expiry,
            ks.claim(new.key),
            ks.alias(old.key),
            ks.alias(new.key),
            ks.trash,
            *self.rotate_body_keys(old.key, new.key),
        ]
        alias_ms = ""
        if alias is not None:
            until = (
                alias.grace_until if new.expires is None else min(alias.grace_until, new.expires)
            )
            alias_ms = str(pxat(until))
        args = [
            raw,
            encode_full(new),
            ms,
            score,
            new.id,
            repr(now),
            "" if alias is None else alias.encode(),
            alias_ms,
            old.key,
            trash_member(old),
        ]
        return int(await self.redis.call(self._rotate(keys=keys, args=args)))

    def rotate_body_keys(self, old_key: str, new_key: str) -> list[str]:
        """The body keys the rotate script moves itself (``[]``: none)."""
        return [self.keys.body(old_key), self.keys.body(new_key)] if self.body_keys(old_key) else []

    async def delete_expired(self, found: Sequence[tuple[bytes, SnapshotMeta]]) -> list[int]:
        """Delete these expiry-index members' snapshots (stored metadata, decoded); the
        0-based positions of those this call deleted (the script's ZREM decides, so two
        cleanup jobs racing never both report one snapshot)."""
        per_snapshot = [[*self.keys.meta_keys(m), *self.body_keys(m.key)] for _, m in found]
        keys = [self.keys.expiry, self.keys.trash, *itertools.chain(*per_snapshot)]
        args: list[bytes | int | str] = [len(per_snapshot[0]), self.keys.alias_prefix]
        for raw, meta in found:
            args.extend([raw, meta.id, trash_member(meta)])
        positions: list[int] = await self.redis.call(self._delete_expired(keys=keys, args=args))
        return [p - 1 for p in positions]

    @abstractmethod
    async def sweep(self, limit: int) -> None:
        """Finish up to ``limit`` pieces of deferred work; run by every cleanup round."""

    async def ping(self) -> None:
        """Return if Redis answers, else raise ``StorageUnavailable``."""
        await self.redis.call(self.redis.client.ping())


class SingleServer(Topology):
    """One Redis server: the body is written and deleted inside the metadata scripts."""

    @staticmethod
    def connect(config: RedisSettings) -> Client:
        return Redis.from_url(config.url, retry=retry_policy(False), **_pool_options(config))

    def body_keys(self, key: str) -> list[str]:
        return [self.keys.body(key)]

    def body_args(self, record: NewSnapshot) -> list[bytes]:
        return [record.dashboard]

    async def sweep(self, limit: int) -> None:
        """Nothing to do: every commit was complete."""


class Cluster(Topology):
    """A Redis Cluster: the body lives in its own slot, written after the metadata commits and
    deleted through the trash.

    A failed body write removes the metadata again; a failed body delete stays queued in the
    trash, and the next cleanup round (``sweep``) retries it. Body writes and deletes are
    idempotent and keyed by id, so they never touch a newer snapshot of the same key. Left if
    the process dies right after a create's commit: a listed snapshot that answers 404 until
    deleted (a view needs the claim and a body of the same id).
    """

    def __init__(self, redis: Connection, keys: KeySpace) -> None:
        super().__init__(redis, keys)
        self._write_body = redis.script(scripts.WRITE_BODY)
        self._write_free_body = redis.script(scripts.WRITE_BODY_IF_FREE)
        self._body_ttl = redis.script(scripts.BODY_TTL)
        self._delete_body = redis.script(scripts.DELETE_BODY)

    @staticmethod
    def connect(config: RedisSettings) -> Client:
        return RedisCluster.from_url(config.url, retry=retry_policy(True), **_pool_options(config))

    def body_keys(self, key: str) -> list[str]:
        return []

    def body_args(self, record: NewSnapshot) -> list[bytes]:
        return []

    async def insert(self, record: NewSnapshot) -> int:
        result = await super().insert(record)
        if result > 0:
            ms, _score = _expiry(record.meta)
            body = self._write_body(
                keys=[self.keys.body(record.meta.key)], args=[result, ms, record.dashboard]
            )
            try:
                await self.redis.call(body)
            except StorageUnavailable:
                await self._undo_insert(record.stored_as(result))
                raise
        return result

    async def _undo_insert(self, stored: SnapshotMeta) -> None:
        """Best effort: remove the metadata of a create whose body could not be written, so it
        is not listed without being viewable (the body, should the write have landed after
        all, goes to the trash). Gives up silently if Redis fails again."""
        with suppress(StorageUnavailable):
            await super().delete(encode_meta(stored.id, meta_tail(stored)), stored)

    async def delete(self, raw: bytes | str, meta: SnapshotMeta) -> bool:
        deleted = await super().delete(raw, meta)
        if deleted:
            await self._empty_trash([trash_member(meta)])
        return deleted

    async def update(self, raw: bytes | str, old: SnapshotMeta, new: SnapshotMeta) -> bool:
        """The body's TTL moves apart from the metadata: first when the expiry grows (so the
        body never goes before its snapshot), after the commit when it shrinks. A failure of
        that second step leaves the body longer than its snapshot: logged, not raised (the
        update happened; the body is still deleted with its snapshot, through the trash)."""
        ms, _score = _expiry(new)
        body = self.keys.body(new.key)
        grows = new.expires is None or (old.expires is not None and new.expires > old.expires)
        if grows:
            await self.redis.call(self._body_ttl(keys=[body], args=[new.id, ms]))
        updated = await super().update(raw, old, new)
        if updated and not grows and new.expires != old.expires:
            try:
                await self.redis.call(self._body_ttl(keys=[body], args=[new.id, ms]))
            except StorageUnavailable as exc:
                log.warning("could not shorten the TTL of %s: %s", body, exc.__cause__ or exc)
        return updated

    async def rotate(
        self,
        raw: bytes | str,
        old: SnapshotMeta,
        new: SnapshotMeta,
        alias: Alias | None,
        now: float,
    ) -> int:
        """The body moves in three steps around the metadata commit, so that a view (by the
        new key, or through the alias) finds it at every moment: copied to the new key first
        (unless another id's body is there), then the commit (which queues the old body in the
        trash), then the old body deleted. A rotate that does not commit removes its copy."""
        ms, _score = _expiry(new)
        old_body, new_body = self.keys.body(old.key), self.keys.body(new.key)
        body_id, body = cast(
            list[bytes | None],
            await self.redis.call(self.redis.client.hmget(old_body, ["id", "body"])),
        )
        # Not ours: a half-created snapshot (its body never written); there is nothing to move.
        dashboard = own_body(old.id, body_id, body)
        copied = False
        if dashboard is not None:
            args: list[bytes | str | int] = [old.id, ms, dashboard]
            copied = bool(await self.redis.call(self._write_free_body(keys=[new_body], args=args)))
        result = await super().rotate(raw, old, new, alias, now)
        if result != 1:
            if copied:
                with suppress(StorageUnavailable):  # a copy left over goes with its TTL
                    await self.redis.call(self._delete_body(keys=[new_body], args=[old.id]))
            return result
        if dashboard is not None and not copied:
            # The new key held a body of another id: a leftover of a deleted snapshot (the
            # commit proved no snapshot holds the key), so it is replaced.
            await self.redis.call(self._write_body(keys=[new_body], args=[old.id, ms, dashboard]))
        await self._empty_trash([trash_member(old)])
        return result

    async def sweep(self, limit: int) -> None:
        """Delete up to ``limit`` dashboard bodies still queued in the trash."""
        trash = await self.redis.call(self.redis.client.srandmember(self.keys.trash, limit))
        await self._empty_trash(cast(list[bytes], trash))

    async def ping(self) -> None:
        """Also check the metadata slot is served: a node in ``cluster_state:fail`` still
        answers PING, but not a keyed read."""
        await super().ping()
        await self.redis.call(self.redis.client.exists(self.keys.counter))

    async def _empty_trash(self, members: Sequence[bytes | str]) -> None:
        """Delete the dashboard bodies these trash entries name, then the entries.

        A body lives outside the ``{meta}`` slot, so delete scripts queue it in the trash in the
        same step that removes the metadata; this removal is idempotent, keyed by id (a body a
        newer snapshot of the same key wrote is left), and what fails now stays queued for the
        next cleanup round. Never raises ``StorageUnavailable``: the delete it follows has
        already happened.
        """

        async def remove(member: str) -> None:
            snapshot_id, _, key = member.partition(":")
            body = self._delete_body(keys=[self.keys.body(key)], args=[snapshot_id])
            await self.redis.call(body)
            await self.redis.call(self.redis.client.srem(self.keys.trash, member))

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
                self.keys.trash,
                failures[0].__cause__ or failures[0],
            )


def _expiry(meta: SnapshotMeta) -> tuple[str, str]:
    """``meta``'s expiry as the scripts take it: PXAT ms and the expiry index's score, both ""
    when it never expires."""
    if meta.expires is None:
        return "", ""
    return str(pxat(meta.expires)), repr(meta.expires)


def topology_for(config: RedisSettings) -> type[Topology]:
    """The strategy ``config`` asks for: the one place the two topologies are told apart."""
    return Cluster if config.cluster else SingleServer


def _pool_options(config: RedisSettings) -> dict[str, Any]:
    return {
        "max_connections": config.max_connections,
        "socket_timeout": config.socket_timeout,
        "socket_connect_timeout": config.socket_connect_timeout,
    }
