"""Key names, the stored metadata encoding and the Lua scripts of the Redis backend.

``backends/redis.py`` documents the layout; this module is its single source of truth. Every
metadata key carries the hash tag ``{meta}`` so one Lua script can touch all of them, even in a
Redis Cluster; a dashboard body is tagged by its own snapshot key so the bulk spreads over the
cluster. Snapshot keys match ``[A-Za-z0-9_-]`` and deleteKey hashes are hex, so no name below can
collide with another.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import orjson

from snapshot_server.models import (
    META_FIELDS,
    CorruptData,
    NewSnapshot,
    SnapshotMeta,
    meta_from_fields,
)


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

    def claim(self, key: str) -> str:
        return f"{self.prefix}{{meta}}:k:{key}"

    def delete_key(self, delete_key_hash: str) -> str:
        return f"{self.prefix}{{meta}}:d:{delete_key_hash}"

    def org(self, org_id: int) -> str:
        return f"{self.prefix}{{meta}}:o:{org_id}"

    def user(self, org_id: int, user_id: int) -> str:
        return f"{self.prefix}{{meta}}:o:{org_id}:u:{user_id}"

    def body(self, key: str) -> str:
        return f"{self.prefix}{{{key}}}:dashboard"

    def meta_keys(self, meta: SnapshotMeta) -> list[str]:
        """The four per-snapshot metadata keys, in the order the scripts expect."""
        return [
            self.claim(meta.key),
            self.delete_key(meta.delete_key_hash),
            self.org(meta.org_id),
            self.user(meta.org_id, meta.user_id),
        ]


def meta_tail(record: NewSnapshot | SnapshotMeta) -> bytes:
    """The metadata JSON of ``record`` at creation (``updated`` = ``created``) without ``id``
    and without its opening brace.

    The insert script prepends ``{"id":N,`` once INCR has chosen N, so Python and Lua build the
    byte-identical string (``encode_meta``) that delete scripts compare against.
    """
    fields = {
        f: (record.created if f == "updated" else getattr(record, f))
        for f in META_FIELDS
        if f != "id"
    }
    return orjson.dumps(fields)[1:]


def encode_meta(snapshot_id: int, tail: bytes) -> bytes:
    """The stored metadata JSON: the same bytes the insert script writes."""
    return b'{"id":%d,' % snapshot_id + tail


def decode_meta(raw: bytes | str) -> SnapshotMeta:
    """Parse stored metadata JSON, every field checked. Raises ``CorruptData`` on foreign or
    damaged data."""
    try:
        fields = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise CorruptData("snapshot metadata is not JSON") from exc
    if not isinstance(fields, dict):
        raise CorruptData("snapshot metadata is not a JSON object")
    return meta_from_fields(fields)


def trash_member(meta: SnapshotMeta) -> str:
    """A trash entry: the body of snapshot ``id`` under ``key`` is to be deleted."""
    return f"{meta.id}:{meta.key}"


def pxat(expires: float) -> int:
    """Milliseconds for ``PXAT``: rounded up, so Redis never reclaims before ``expires``."""
    return max(1, math.ceil(expires * 1000))


# KEYS: claim, deleteKey, counter, org index, user index, expiry index, [body]
# ARGV: meta tail, PXAT ms or "" (never), expires score, [dashboard]
# Returns the new id, -1 when the key is taken, -2 when the deleteKey is.
INSERT = """
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
if redis.call('EXISTS', KEYS[2]) == 1 then return -2 end
local id = redis.call('INCR', KEYS[3])
local meta = string.format('{"id":%d,', id) .. ARGV[1]
if ARGV[2] == '' then
  redis.call('SET', KEYS[1], meta)
  redis.call('SET', KEYS[2], meta)
else
  redis.call('SET', KEYS[1], meta, 'PXAT', ARGV[2])
  redis.call('SET', KEYS[2], meta, 'PXAT', ARGV[2])
  redis.call('ZADD', KEYS[6], ARGV[3], meta)
end
redis.call('ZADD', KEYS[4], id, meta)
redis.call('ZADD', KEYS[5], id, meta)
if KEYS[7] then
  redis.call('DEL', KEYS[7])
  redis.call('HSET', KEYS[7], 'id', id, 'body', ARGV[4])
  if ARGV[2] ~= '' then redis.call('PEXPIREAT', KEYS[7], ARGV[2]) end
end
return id
"""

# KEYS: body. ARGV: id, PXAT ms or "", dashboard. Replaces whatever body was there.
WRITE_BODY = """
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'body', ARGV[3])
if ARGV[2] ~= '' then redis.call('PEXPIREAT', KEYS[1], ARGV[2]) end
return 1
"""

# KEYS: claim, deleteKey, org index, user index, expiry index, trash, [body]
# ARGV: stored meta JSON, id, trash member. Deletes the body when given (same slot), else queues
# it in the trash. Returns 1 if this call removed the snapshot, 0 if it was already gone.
DELETE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[1])
if not KEYS[7] then
  redis.call('SADD', KEYS[6], ARGV[3])
elseif redis.call('HGET', KEYS[7], 'id') == ARGV[2] then
  redis.call('DEL', KEYS[7])
end
return 1
"""

# KEYS: body. ARGV: id. Deletes the body only if it still belongs to snapshot ``id``.
DELETE_BODY = """
if redis.call('HGET', KEYS[1], 'id') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# KEYS: expiry index, trash, then per snapshot: claim, deleteKey, org index, user index, [body]
# ARGV: keys per snapshot (4, or 5 with the body), then per snapshot: meta JSON, id, trash member.
# Returns the 1-based positions of the snapshots this call removed (ZREM decides, so two
# cleanup jobs racing never both report one snapshot).
DELETE_EXPIRED = """
local g = tonumber(ARGV[1])
local removed = {}
for i = 0, (#KEYS - 2) / g - 1 do
  local meta, id, member, k = ARGV[2 + 3 * i], ARGV[3 + 3 * i], ARGV[4 + 3 * i], 2 + g * i
  if redis.call('ZREM', KEYS[1], meta) == 1 then
    if redis.call('GET', KEYS[k + 1]) == meta then redis.call('DEL', KEYS[k + 1]) end
    if redis.call('GET', KEYS[k + 2]) == meta then redis.call('DEL', KEYS[k + 2]) end
    redis.call('ZREM', KEYS[k + 3], meta)
    redis.call('ZREM', KEYS[k + 4], meta)
    if g == 4 then
      redis.call('SADD', KEYS[2], member)
    elseif redis.call('HGET', KEYS[k + 5], 'id') == id then
      redis.call('DEL', KEYS[k + 5])
    end
    removed[#removed + 1] = i + 1
  end
end
return removed
"""
