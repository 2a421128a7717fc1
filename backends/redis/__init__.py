"""Redis backend (``redis.asyncio``, hiredis parser), for one server or a Redis Cluster.

Modules: ``store`` (``RedisStore``: reads and listing), ``topology`` (single server or cluster:
the client, and where a dashboard body is written and deleted), ``scripts`` (the Lua commits),
``layout`` (key names; metadata encoded, and decoded strictly), ``client`` (the error boundary,
scripts by digest), ``settings`` (``[storage.redis]``).

Key layout (``P`` = ``storage.redis.key_prefix``; ``M`` = a snapshot's metadata JSON, every
``SnapshotMeta`` field, byte-identical in every place it is stored):

    P{meta}:id                 string  INCR counter of snapshot ids; never deleted
    P{meta}:k:<key>            string  M; the view-key claim; PXAT expires
    P{meta}:d:<sha256>         string  M; the deleteKey claim (hash of the deleteKey); PXAT expires
    P{meta}:o:<org>            zset    member M, score id: the org's listing index; no TTL
    P{meta}:o:<org>:u:<user>   zset    member M, score id: one user's listing index; no TTL
    P{meta}:exp                zset    member M, score expires: the expiry index; no TTL
    P{meta}:trash              set     "<id>:<key>" bodies still to delete (cluster only); no TTL
    P{meta}:s:<org>            hash    id -> dashboard length: the org's counted snapshots; no TTL
    P{meta}:b:<org>            string  the sum of those lengths (INCRBY/DECRBY); no TTL
    P{meta}:e:<org>            zset    member id, score expires: the org's expiring ones; no TTL
    P{meta}:r:<id>             string  a delete's receipt (a token of the call); 60 s TTL
    P{meta}:a:<old key>        string  a rotation alias: "<grace deadline> <its PXAT ms> <id>
                                       <deleteKey hash>"; PXAT min(grace deadline, expires)
    P{meta}:al:<id>            set     the old keys of the snapshot's aliases; PXAT expires
    P{<key>}:dashboard         hash    id, body (the exact dashboard bytes); PXAT expires

Expiry. Redis reclaims every per-snapshot key by its native TTL (never-expiring snapshots have
none); the store still compares ``expires <= now`` on every read, so a snapshot vanishes the
instant the caller's clock passes its expiry. The indexes have no TTL: reads skip expired
members and ``delete_expired`` prunes them. Each index member is the whole metadata JSON, so
``delete_expired`` returns full ``SnapshotMeta`` records even after Redis has reclaimed their
keys, and a listing reads one sorted set without touching per-snapshot keys. The cost: ``M``
(a few hundred bytes) is stored five times per snapshot.

Update and rotate. Both read the view-key claim, then run one script that compares it with
what was read (as a delete does) and rewrites the claims and every index member with the new
``M``, moving every TTL of the snapshot when its expiry changes; if another change of the same
snapshot came in between, they (and deletes) read again and retry. A rotate moves the claim to
the new key and, with a grace period, leaves the alias ``P{meta}:a:<old key>``: a GET that finds
no claim looks there (so a live key's GET costs nothing more), checks the deadline against the
caller's clock, and follows the deleteKey claim (a rotate leaves it in place) to the snapshot's
current key. An insert refuses a key a live alias holds. Every delete and cleanup drops the
snapshot's aliases (named by its alias set; an alias whose key another snapshot's alias has
taken since is left alone). The body follows the key: renamed inside the script on one server;
on a cluster copied to the new key before the commit and the old one queued in the trash by it
(a GET through an alias also looks at the old key, so the body is found at every moment).

Usage per org (``org_usage``, for the per-org caps). The insert script counts a snapshot in
its org's ``s``/``b`` keys and, if it expires, ``e``; whichever script removes it (delete,
cleanup) uncounts it there, only if it is counted, so nothing is uncounted twice. A read takes
the totals less the members of ``e`` expired by then (the ones the cleanup job has yet to
remove): one read-only script, O(those members). Snapshots stored by a version without these
keys are never counted, so they do not weigh on the caps.

Atomicity. All metadata shares the hash tag ``{meta}`` (one cluster slot), so every create,
delete and cleanup commits in one Lua script: create refuses a taken key or deleteKey, takes an
id from INCR and writes claims and indexes; delete compares the claim with ``M`` and removes
claims and index members, so of two racing deletes exactly one wins. A delete first reads the
metadata it is to delete (from the view-key claim, or from the deleteKey claim), checks it
(expiry, the expected id), then runs the script with it: the script deletes nothing unless the
view-key claim still holds exactly those bytes, so a snapshot deleted and created again under
the same key in between (a new id, new bytes) is never touched. Only the dashboard body
lives elsewhere (tagged by its own key, which spreads the bulk of the data over the cluster),
and where it is written and deleted is the one thing single server and cluster do differently
(``topology``): inside those same scripts on one server; on a cluster after the metadata
commits, and through the trash set ``P{meta}:trash``. A view needs the claim and a body of the
same id, so a half-created snapshot is never served.

Retries. The client retries a command once when its connection breaks (a restarted server
leaves every pooled connection broken), and a script whose reply was lost may have committed
already. So a re-run answers what its first run did (``scripts``): an insert that finds its own
record answers its id, not "key taken"; a delete that finds the receipt its first run left
answers "deleted", not "already gone". Another create or delete still loses as before.

Errors. ``Connection.call`` is the one boundary: every driver error becomes
``StorageUnavailable`` there, as does any call after ``aclose``. Stored metadata that does not
decode as a snapshot (foreign or corrupt data under one of our keys) is logged and treated as
absent; such a member of the expiry index is removed from it, so it cannot hold every later
cleanup round back.

All metadata living in one slot means one shard holds it (and serves every create, delete and
listing); dashboards, the bulk, are spread. A ``key_prefix`` containing ``{`` or ``}`` would
change the hash tags and is refused (``RedisSettings.read``).
"""

from .settings import RedisSettings
from .store import RedisStore

__all__ = ["RedisSettings", "RedisStore"]
