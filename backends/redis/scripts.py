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

# A snapshot's rotation aliases (``layout.Alias``) are named by the members of its alias set
# (the old keys) after the alias prefix: keys of the ``{meta}`` slot derived inside the script,
# as a set cannot be passed whole. An alias whose key a later snapshot's alias has taken since
# (another id) is left alone.
_DROP_ALIASES = """
local function drop_aliases(set, prefix, id)
  for _, old in ipairs(redis.call('SMEMBERS', set)) do
    local alias = redis.call('GET', prefix .. old)
    if alias and string.match(alias, '^%S+ %d+ (%d+) ') == id then
      redis.call('DEL', prefix .. old)
    end
  end
  redis.call('DEL', set)
end
"""

# Sets a key's TTL to PXAT ``ms``, or none when ``ms`` is "" (never expires).
_TTL = """
local function ttl(name, ms)
  if ms == '' then redis.call('PERSIST', name) else redis.call('PEXPIREAT', name, ms) end
end
"""

# The claims and index members of a snapshot whose stored metadata changes from ``old`` to
# ``new`` (``claim`` is the view-key claim to write: the same key, or a rotate's new one).
# KEYS 2..9 as in ``meta_keys`` + expiry index; ``score`` is its expires or "" (never).
_REWRITE = """
local function rewrite(claim, old, new, id, ms, score)
  for _, name in ipairs({claim, KEYS[2]}) do
    if ms == '' then redis.call('SET', name, new) else redis.call('SET', name, new, 'PXAT', ms) end
  end
  for _, index in ipairs({KEYS[3], KEYS[4]}) do
    redis.call('ZREM', index, old)
    redis.call('ZADD', index, id, new)
  end
  redis.call('ZREM', KEYS[9], old)
  if score == '' then
    redis.call('ZREM', KEYS[7], id)
  else
    redis.call('ZADD', KEYS[9], score, new)
    if redis.call('HEXISTS', KEYS[5], id) == 1 then redis.call('ZADD', KEYS[7], score, id) end
  end
end
"""

# KEYS: claim, deleteKey, org index, user index, org sizes, org bytes, org expiring, alias set
# (``meta_keys``), expiry index, [body]
# ARGV: stored meta JSON, new meta JSON, PXAT ms or "" (never), expires score or "", id, alias
# prefix. Rewrites the metadata everywhere and moves every TTL of the snapshot (claims, body,
# alias set, each alias: the earlier of its grace deadline and the expiry). Returns 1 if
# updated (or, re-run, its first run did), 0 if the claim no longer holds the stored JSON.
UPDATE = (
    _TTL
    + _REWRITE
    + """
local held = redis.call('GET', KEYS[1])
if held == ARGV[2] then return 1 end
if held ~= ARGV[1] then return 0 end
rewrite(KEYS[1], ARGV[1], ARGV[2], ARGV[5], ARGV[3], ARGV[4])
if KEYS[10] and redis.call('HGET', KEYS[10], 'id') == ARGV[5] then ttl(KEYS[10], ARGV[3]) end
for _, old in ipairs(redis.call('SMEMBERS', KEYS[8])) do
  local alias = redis.call('GET', ARGV[6] .. old)
  if alias then
    local until_ms, id = string.match(alias, '^%S+ (%d+) (%d+) ')
    if id == ARGV[5] then
      local ms = until_ms
      if ARGV[3] ~= '' and tonumber(ARGV[3]) < tonumber(until_ms) then ms = ARGV[3] end
      redis.call('PEXPIREAT', ARGV[6] .. old, ms)
    end
  end
end
if redis.call('EXISTS', KEYS[8]) == 1 then ttl(KEYS[8], ARGV[3]) end
return 1
"""
)

# KEYS: ``meta_keys`` of the snapshot (its old claim first), expiry index, new claim, alias of
# the old key, alias of the new key, trash, [old body, new body]
# ARGV: stored meta JSON, new meta JSON, PXAT ms or "", expires score or "", id, now, alias
# value or "" (no grace), alias PXAT ms, old key, trash member (the old body's)
# Moves the claim to the new key, rewrites the metadata everywhere, leaves the alias if asked,
# and moves the body (RENAME, same server) or queues the old one in the trash (cluster: the
# caller copied it first). Returns 1 if rotated (or, re-run, its first run did), 0 if the old
# claim no longer holds the stored JSON, -1 if the new key is held by a snapshot or a live alias.
ROTATE = (
    _REWRITE
    + """
local held = redis.call('GET', KEYS[10])
local current = redis.call('GET', KEYS[1])
if held == ARGV[2] and not current then return 1 end
if current ~= ARGV[1] then return 0 end
if held then return -1 end
local alias = redis.call('GET', KEYS[12])
local grace = alias and tonumber(string.match(alias, '^(%S+) '))
if grace and grace > tonumber(ARGV[6]) then return -1 end
if alias then redis.call('DEL', KEYS[12]) end
redis.call('DEL', KEYS[1])
rewrite(KEYS[10], ARGV[1], ARGV[2], ARGV[5], ARGV[3], ARGV[4])
if ARGV[7] ~= '' then
  redis.call('SET', KEYS[11], ARGV[7], 'PXAT', ARGV[8])
  redis.call('SADD', KEYS[8], ARGV[9])
  if ARGV[3] ~= '' then redis.call('PEXPIREAT', KEYS[8], ARGV[3]) end
end
if not KEYS[14] then
  redis.call('SADD', KEYS[13], ARGV[10])
elseif redis.call('HGET', KEYS[14], 'id') == ARGV[5] then
  redis.call('RENAME', KEYS[14], KEYS[15])
end
return 1
"""
)

# KEYS: claim, deleteKey, counter, org index, user index, expiry index, org sizes, org bytes,
# org expiring, alias of the key, [body]
# ARGV: meta tail, PXAT ms or "" (never), expires score, dashboard length, created, [dashboard]
# Returns the new id (or, re-run, the id the first run stored), -1 when the key is taken (by a
# snapshot, or by a rotation alias whose grace runs past ``created``), -2 when the deleteKey is.
INSERT = """
local held = redis.call('GET', KEYS[1])
if held then
  local id = string.match(held, '^{"id":(%d+),')
  if id and held == '{"id":' .. id .. ',' .. ARGV[1] then return tonumber(id) end
  return -1
end
local alias = redis.call('GET', KEYS[10])
local grace = alias and tonumber(string.match(alias, '^(%S+) '))
if grace and grace > tonumber(ARGV[5]) then return -1 end
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
if KEYS[11] then
  redis.call('DEL', KEYS[11])
  redis.call('HSET', KEYS[11], 'id', id, 'body', ARGV[6])
  if ARGV[2] ~= '' then redis.call('PEXPIREAT', KEYS[11], ARGV[2]) end
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

# KEYS: body. ARGV: id, PXAT ms or "", dashboard. WRITE_BODY, unless the key holds the body of
# another id (a snapshot's, or a leftover still in the trash): then 0 and nothing written.
WRITE_BODY_IF_FREE = """
local held = redis.call('HGET', KEYS[1], 'id')
if held and held ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'body', ARGV[3])
if ARGV[2] ~= '' then redis.call('PEXPIREAT', KEYS[1], ARGV[2]) end
return 1
"""

# KEYS: body. ARGV: id, PXAT ms or "" (never). Sets the body's TTL if it is snapshot ``id``'s.
BODY_TTL = (
    _TTL
    + """
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] then return 0 end
ttl(KEYS[1], ARGV[2])
return 1
"""
)

# KEYS: claim, deleteKey, org index, user index, org sizes, org bytes, org expiring, alias set,
# expiry index, trash, receipt, [body]
# ARGV: stored meta JSON, id, trash member, receipt token (unique to this delete call), receipt
# lifetime (ms), alias prefix. Deletes the body when given (same slot), else queues it in the
# trash, drops the snapshot's rotation aliases, and leaves the receipt for a re-run. Returns 1
# if this call removed the snapshot (or, re-run, its first run did), 0 if it was already gone.
DELETE = (
    _UNCOUNT
    + _DROP_ALIASES
    + """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  if redis.call('GET', KEYS[11]) == ARGV[4] then return 1 end
  return 0
end
redis.call('DEL', KEYS[1])
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
uncount(KEYS[5], KEYS[6], KEYS[7], ARGV[2])
drop_aliases(KEYS[8], ARGV[6], ARGV[2])
redis.call('ZREM', KEYS[9], ARGV[1])
redis.call('SET', KEYS[11], ARGV[4], 'PX', ARGV[5])
if not KEYS[12] then
  redis.call('SADD', KEYS[10], ARGV[3])
elseif redis.call('HGET', KEYS[12], 'id') == ARGV[2] then
  redis.call('DEL', KEYS[12])
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
# sizes, org bytes, org expiring, alias set, [body]
# ARGV: keys per snapshot (8, or 9 with the body), alias prefix, then per snapshot: meta JSON,
# id, trash member.
# Returns the 1-based positions of the snapshots this call removed (ZREM decides, so two
# cleanup jobs racing never both report one snapshot).
DELETE_EXPIRED = (
    _UNCOUNT
    + _DROP_ALIASES
    + """
local g = tonumber(ARGV[1])
local removed = {}
for i = 0, (#KEYS - 2) / g - 1 do
  local meta, id, member, k = ARGV[3 + 3 * i], ARGV[4 + 3 * i], ARGV[5 + 3 * i], 2 + g * i
  if redis.call('ZREM', KEYS[1], meta) == 1 then
    if redis.call('GET', KEYS[k + 1]) == meta then redis.call('DEL', KEYS[k + 1]) end
    if redis.call('GET', KEYS[k + 2]) == meta then redis.call('DEL', KEYS[k + 2]) end
    redis.call('ZREM', KEYS[k + 3], meta)
    redis.call('ZREM', KEYS[k + 4], meta)
    uncount(KEYS[k + 5], KEYS[k + 6], KEYS[k + 7], id)
    drop_aliases(KEYS[k + 8], ARGV[2], id)
    if g == 8 then
      redis.call('SADD', KEYS[2], member)
    elseif redis.call('HGET', KEYS[k + 9], 'id') == id then
      redis.call('DEL', KEYS[k + 9])
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
