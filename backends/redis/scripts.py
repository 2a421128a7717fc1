"""The Lua scripts of the Redis backend: every commit of metadata is one of these, so it is
atomic (all metadata keys share the ``{meta}`` hash tag, one cluster slot).

Where a script takes a body key (single server: ``Topology.body_keys``), it writes or deletes the
dashboard body in the same step; without one (cluster) the body is handled apart, through the
trash. Each script states its KEYS, ARGV and reply.
"""

from __future__ import annotations

# How long a delete's receipt is kept: far longer than one call with its retry takes (a few
# socket timeouts), short enough that receipts cost little memory at any delete rate.
RECEIPT_MS = 60_000

# The client retries a call once when its connection breaks, and the first run may have
# committed before its reply was lost: so a re-run of the same call must answer what the first
# run did. INSERT finds its own record (the same metadata, down to the creation time and the
# body's digest in the etag) and answers its id; DELETE finds the receipt its first run left.

# The per-org usage of a snapshot (see ``backends.redis``: sizes, bytes, expiring) is counted
# by the insert script and uncounted, at most once, by whichever script removes it.
_UNCOUNT = """
local function uncount(sizes, bytes, expiring, id)
  local size = redis.call('HGET', sizes, id)
  if size then
    redis.call('HDEL', sizes, id)
    redis.call('ZREM', expiring, id)
    if redis.call('EXISTS', sizes) == 0 then
      redis.call('DEL', bytes)  -- an org with nothing left leaves no key behind
    else
      redis.call('DECRBY', bytes, size)
    end
  end
end
"""

# KEYS: claim, deleteKey, counter, org index, user index, expiry index, org sizes, org bytes,
# org expiring, [body]
# ARGV: meta tail, PXAT ms or "" (never), expires score, dashboard length, [dashboard]
# Returns the new id (or, re-run, the id the first run stored), -1 when the key is taken, -2
# when the deleteKey is.
INSERT = """
local held = redis.call('GET', KEYS[1])
if held then
  local id = string.match(held, '^{"id":(%d+),')
  if id and held == '{"id":' .. id .. ',' .. ARGV[1] then return tonumber(id) end
  return -1
end
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
  redis.call('ZADD', KEYS[9], ARGV[3], id)
end
redis.call('ZADD', KEYS[4], id, meta)
redis.call('ZADD', KEYS[5], id, meta)
redis.call('HSET', KEYS[7], id, ARGV[4])
redis.call('INCRBY', KEYS[8], ARGV[4])
if KEYS[10] then
  redis.call('DEL', KEYS[10])
  redis.call('HSET', KEYS[10], 'id', id, 'body', ARGV[5])
  if ARGV[2] ~= '' then redis.call('PEXPIREAT', KEYS[10], ARGV[2]) end
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

# KEYS: claim, deleteKey, org index, user index, org sizes, org bytes, org expiring, expiry
# index, trash, receipt, [body]
# ARGV: stored meta JSON, id, trash member, receipt token (unique to this delete call), receipt
# lifetime (ms). Deletes the body when given (same slot), else queues it in the trash, and
# leaves the receipt for a re-run. Returns 1 if this call removed the snapshot (or, re-run, its
# first run did), 0 if it was already gone.
DELETE = (
    _UNCOUNT
    + """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  if redis.call('GET', KEYS[10]) == ARGV[4] then return 1 end
  return 0
end
redis.call('DEL', KEYS[1])
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
uncount(KEYS[5], KEYS[6], KEYS[7], ARGV[2])
redis.call('ZREM', KEYS[8], ARGV[1])
redis.call('SET', KEYS[10], ARGV[4], 'PX', ARGV[5])
if not KEYS[11] then
  redis.call('SADD', KEYS[9], ARGV[3])
elseif redis.call('HGET', KEYS[11], 'id') == ARGV[2] then
  redis.call('DEL', KEYS[11])
end
return 1
"""
)

# KEYS: body. ARGV: id. Deletes the body only if it still belongs to snapshot ``id``.
DELETE_BODY = """
if redis.call('HGET', KEYS[1], 'id') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# Re-run after a lost reply, it reports nothing removed: those snapshots were removed all the
# same, and cached copies expire with them (a max-age never reaches past expiry).
# KEYS: expiry index, trash, then per snapshot: claim, deleteKey, org index, user index, org
# sizes, org bytes, org expiring, [body]
# ARGV: keys per snapshot (7, or 8 with the body), then per snapshot: meta JSON, id, trash member.
# Returns the 1-based positions of the snapshots this call removed (ZREM decides, so two
# cleanup jobs racing never both report one snapshot).
DELETE_EXPIRED = (
    _UNCOUNT
    + """
local g = tonumber(ARGV[1])
local removed = {}
for i = 0, (#KEYS - 2) / g - 1 do
  local meta, id, member, k = ARGV[2 + 3 * i], ARGV[3 + 3 * i], ARGV[4 + 3 * i], 2 + g * i
  if redis.call('ZREM', KEYS[1], meta) == 1 then
    if redis.call('GET', KEYS[k + 1]) == meta then redis.call('DEL', KEYS[k + 1]) end
    if redis.call('GET', KEYS[k + 2]) == meta then redis.call('DEL', KEYS[k + 2]) end
    redis.call('ZREM', KEYS[k + 3], meta)
    redis.call('ZREM', KEYS[k + 4], meta)
    uncount(KEYS[k + 5], KEYS[k + 6], KEYS[k + 7], id)
    if g == 7 then
      redis.call('SADD', KEYS[2], member)
    elseif redis.call('HGET', KEYS[k + 8], 'id') == id then
      redis.call('DEL', KEYS[k + 8])
    end
    removed[#removed + 1] = i + 1
  end
end
return removed
"""
)

# KEYS: org sizes, org bytes, org expiring. ARGV: now.
# Returns {snapshots, bytes}: the org's counted snapshots less those expired at ``now`` and not
# yet removed by the cleanup job.
ORG_USAGE = """
local n = redis.call('HLEN', KEYS[1])
local b = tonumber(redis.call('GET', KEYS[2]) or '0')
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', ARGV[1])) do
  local size = redis.call('HGET', KEYS[1], id)
  if size then
    n = n - 1
    b = b - tonumber(size)
  end
end
return {n, b}
"""
