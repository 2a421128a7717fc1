"""Key names and the stored metadata encoding of the Redis backend, and reading metadata back
(anything that does not decode is logged and treated as absent).

``backends.redis`` documents the layout; this module is its single source of truth. Every
metadata key carries the hash tag ``{meta}`` so one Lua script can touch all of them, even in a
Redis Cluster; a dashboard body is tagged by its own snapshot key so the bulk spreads over the
cluster. Snapshot keys match ``[A-Za-z0-9_-]`` and deleteKey hashes are hex, so no name below can
collide with another.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import orjson

from snapshot_server.errors import SnapshotNotFound
from snapshot_server.models import (
    CorruptData,
    SnapshotMeta,
    json_object,
    meta_from_fields,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class KeySpace:
    """The Redis key names under one ``key_prefix`` (``P`` in the layout table)."""

    prefix: str

    @property
    def counter(self) -> str:
        return f"{self.prefix}{{meta}}:id"

    @property
    def expiry(self) -> str:
        return f"{self.prefix}{{meta}}:exp"

    @property
    def trash(self) -> str:
        return f"{self.prefix}{{meta}}:trash"

    def receipt(self, snapshot_id: int) -> str:
        return f"{self.prefix}{{meta}}:r:{snapshot_id}"

    def claim(self, key: str) -> str:
        return f"{self.prefix}{{meta}}:k:{key}"

    def delete_key(self, delete_key_hash: str) -> str:
        return f"{self.prefix}{{meta}}:d:{delete_key_hash}"

    def org(self, org_id: int) -> str:
        return f"{self.prefix}{{meta}}:o:{org_id}"

    def user(self, org_id: int, user_id: int) -> str:
        return f"{self.prefix}{{meta}}:o:{org_id}:u:{user_id}"

    def usage_keys(self, org_id: int) -> list[str]:
        """The org's usage keys, in the order the scripts expect: ``s`` (sizes), ``b`` (bytes),
        ``e`` (expiring)."""
        return [f"{self.prefix}{{meta}}:{kind}:{org_id}" for kind in "sbe"]

    def body(self, key: str) -> str:
        return f"{self.prefix}{{{key}}}:dashboard"

    @property
    def alias_prefix(self) -> str:
        """What ``alias(key)`` puts before ``key``: the scripts name an alias from it and a
        member of ``aliases(id)``."""
        return f"{self.prefix}{{meta}}:a:"

    def alias(self, key: str) -> str:
        return self.alias_prefix + key

    def aliases(self, snapshot_id: int) -> str:
        return f"{self.prefix}{{meta}}:al:{snapshot_id}"

    def meta_keys(self, meta: SnapshotMeta) -> list[str]:
        """The metadata keys a snapshot is in (claims, indexes, its org's usage, its alias
        set), in the order the scripts expect."""
        return [
            self.claim(meta.key),
            self.delete_key(meta.delete_key_hash),
            self.org(meta.org_id),
            self.user(meta.org_id, meta.user_id),
            *self.usage_keys(meta.org_id),
            self.aliases(meta.id),
        ]


def meta_tail(meta: SnapshotMeta) -> bytes:
    """The metadata JSON of ``meta``, every field as given but ``id``, without ``id`` and
    without its opening brace.

    The insert script prepends ``{"id":N,`` once INCR has chosen N, so Python and Lua build the
    byte-identical string (``encode_meta``) that delete scripts compare against.
    """
    fields = meta.fields()
    del fields["id"]
    return orjson.dumps(fields)[1:]


def encode_meta(snapshot_id: int, tail: bytes) -> bytes:
    """The stored metadata JSON: the same bytes the insert script writes."""
    return b'{"id":%d,' % snapshot_id + tail


def encode_full(meta: SnapshotMeta) -> bytes:
    """The stored metadata JSON of ``meta`` as it is (an update's or a rotate's new record):
    the form ``encode_meta`` gives, with ``updated`` kept."""
    fields = meta.fields()
    del fields["id"]
    return encode_meta(meta.id, orjson.dumps(fields)[1:])


@dataclass(frozen=True, slots=True)
class Alias:
    """A rotation alias's value: the old key reaches snapshot ``snapshot_id`` (found through
    its deleteKey claim, which a rotate leaves where it is) while ``now < grace_until``.

    Stored as ``"<grace_until> <grace_until as PXAT ms> <id> <deleteKey hash>"``: the scripts
    read the first two and the id by pattern (``'^(%S+) (%d+) (%d+) '``)."""

    grace_until: float
    snapshot_id: int
    delete_key_hash: str

    def encode(self) -> str:
        return f"{self.grace_until!r} {pxat(self.grace_until)} {self.snapshot_id} " + (
            self.delete_key_hash
        )

    @classmethod
    def decode(cls, raw: bytes | str, name: str) -> Alias | None:
        """The alias in ``raw`` (read from key ``name``), or ``None`` (logged) if it is not
        one."""
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        try:
            until, _ms, snapshot_id, delete_key_hash = text.split(" ")
            return cls(float(until), int(snapshot_id), delete_key_hash)
        except ValueError:
            log.warning("ignoring corrupt rotation alias in %s", name)
            return None


def decode_meta(raw: bytes | str) -> SnapshotMeta:
    """Parse stored metadata JSON, every field checked. Raises ``CorruptData`` on foreign or
    damaged data."""
    return meta_from_fields(json_object(raw, "snapshot metadata"))


def trash_member(meta: SnapshotMeta) -> str:
    """A trash entry: the body of snapshot ``id`` under ``key`` is to be deleted."""
    return f"{meta.id}:{meta.key}"


def pxat(expires: float) -> int:
    """Milliseconds for ``PXAT``: rounded up, so Redis never reclaims before ``expires``."""
    return max(1, math.ceil(expires * 1000))


def live_meta(raw: bytes | str | None, now: float, name: str) -> SnapshotMeta:
    """The metadata in ``raw``, read from key ``name``. Raises ``SnapshotNotFound`` if absent,
    expired, or not a snapshot's metadata (logged)."""
    meta = None if raw is None else read_meta(raw, name)
    if meta is None or meta.is_expired(now):
        raise SnapshotNotFound()
    return meta


def read_meta(raw: bytes | str, name: str) -> SnapshotMeta | None:
    """The snapshot metadata ``raw`` (read from key ``name``), or ``None`` if it is not that:
    foreign or corrupt data is logged and treated as absent."""
    try:
        return decode_meta(raw)
    except CorruptData as exc:
        log.warning("ignoring corrupt snapshot metadata in %s: %s", name, exc)
        return None


def matching(raw: bytes | str, name: str, now: float, needle: str) -> SnapshotMeta | None:
    """The snapshot metadata ``raw`` (a member of listing index ``name``) if it is unexpired at
    ``now`` and its casefolded name contains ``needle``; else ``None``. Foreign or corrupt data
    is ``None`` too (logged when it could be listed).

    The filters read the parsed JSON first; only a member that passes them is checked field by
    field (``decode_meta``), so members a listing skips cost a parse, not a full check.
    """
    try:
        fields = orjson.loads(raw)
    except orjson.JSONDecodeError:
        fields = None
    if not isinstance(fields, dict):
        return read_meta(raw, name)  # logs why it is not a snapshot's metadata
    expires, title = fields.get("expires"), fields.get("name")
    if isinstance(expires, int | float) and not isinstance(expires, bool) and expires <= now:
        return None
    if isinstance(title, str) and needle not in title.casefold():
        return None
    try:
        meta = meta_from_fields(fields)
    except CorruptData as exc:
        log.warning("ignoring corrupt snapshot metadata in %s: %s", name, exc)
        return None
    return None if meta.is_expired(now) or needle not in meta.name.casefold() else meta


def own_body(snapshot_id: int, body_id: bytes | None, body: bytes | None) -> bytes | None:
    """``body`` (the ``body`` field of a body hash) if the hash's ``id`` field names snapshot
    ``snapshot_id``; ``None`` for no body or one that is not its own yet (not yet written, or
    left by a deleted predecessor of the same key)."""
    return body if body is not None and body_id == b"%d" % snapshot_id else None


def glob_escaped(text: str) -> str:
    """``text`` as a literal in a Redis ``MATCH`` pattern."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
