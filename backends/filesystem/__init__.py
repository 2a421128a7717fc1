"""Filesystem backend: one file per snapshot under ``[storage.filesystem] path``.

No server to run and nothing to install; several worker processes may share one root on a local
filesystem (``flock`` must work there: local disks do, NFS emulates it on Linux).

Modules: ``store`` (the async ``FilesystemStore``: thread pool, error boundary), ``ops`` (the
blocking operations), ``sharing`` (update, rotate, rotation aliases and their crash recovery),
``records`` (strict lookups, no lock), ``root`` (taking the root into use), ``journal`` (the
listing journal), ``usage`` (its running totals per org), ``format`` (record = checksummed JSON
header line + the exact dashboard bytes; index, counter and journal lines), ``layout`` (paths
and sharding), ``disk`` (no-follow opening, atomic writes, the lock), ``walk`` (walking the
shard tree).

Writes and crash safety. Every file but the journal is written as temp file (same directory) ->
write -> fsync -> ``os.replace`` -> fsync of the directory, the temp file removed on any error,
so a reader sees a whole file or none; the journal is only appended to, in whole checksummed
lines. Writers (insert, update, rotate, delete, delete_expired) hold an exclusive ``flock`` on
``<root>/lock``, which makes "is the key or deleteKey taken? then write" atomic across
processes; readers take no lock. An insert writes, in this order:

1. the id counter, so an id is durable before anyone sees it (ids are never reused; an id burnt
   by a failed insert is skipped);
2. the delete-key index file ``deletekeys/ab/c/<hash>.dk`` naming the view key;
3. a ``+meta`` line in the journal, fsynced;
4. the record file ``records/ab/c/<sha256(key)>.rec``. Its rename is the commit point.

The record is the source of truth: an index file counts only if the record it names is intact
and names the same deleteKey hash, and a journal entry is listed only if its record file holds
that id. A crash before step 4 therefore leaves nothing visible: a dangling index (removed when
next looked up, or overwritten by the next insert of that deleteKey) and a ghost journal entry
(skipped by listings, dropped by delete_expired once expired). A crash after step 4 loses
nothing, because steps 1-3 were durable first. A delete unlinks the record (commit point, with a
directory fsync), then the index, then appends ``-id``; a crash in between leaves the same
harmless debris. ``open`` removes stray temp files under the lock (no writer is mid-way then).

Costs (N = snapshots). get: one file read, the dashboard hashed to verify it; get_by_delete_key
and delete: the same plus one tiny index read. insert: counter, index and record writes and one
journal append (4 file + 3 directory fsyncs, ~5 ms on a VM disk), serialised across processes.
list_snapshots: replays only journal lines appended since the last call, walks the entries of
the scope (org or user, kept in id order by ``scopes``) up to the end of the requested page, and
reads the header of each one not yet found committed (``Journal.committed``: once per entry).
Measured with 100k snapshots in one org: ~6 ms for page 1 of 100 the first time, ~0.1 ms after;
memory ~0.8 KB per snapshot per worker process. delete_expired: the earliest expired entries
from the per-org expiry lists (no scan), then per removed record two unlinks and two directory
fsyncs, in batches of 32 so writers are never held up for long.
org_usage: the journal's running totals per org, less the org's expired entries not yet removed
(found by bisection); ghost entries count until ``delete_expired`` drops them.
``open``: one walk of the 4096 shard directories plus a full journal replay (~1 s at 100k); if
the journal file is missing it is rebuilt from the records (reads every record header: ~5 s).

Links and ownership. No symbolic link under the root is ever followed: every file and directory
is reached from the root one component at a time with ``O_NOFOLLOW`` (``disk``), and
``open`` refuses a link anywhere in the tree, a root that is itself a link, and a root owned by
another user; a root others may read or write is narrowed to ``0o700`` (with a warning).

A corrupt record (torn, truncated, edited) is logged and treated as absent: its dashboard is
never returned, and an insert of its key replaces it. Listings check a record's header checksum
and size, not the dashboard's checksum, and only the first time they meet its entry, so a record
damaged in place (its dashboard, or anything once listed) may still appear in a list while
get/get_by_delete_key/delete say 404.
"""

from .store import FilesystemSettings, FilesystemStore

__all__ = ["FilesystemSettings", "FilesystemStore"]
