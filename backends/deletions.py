"""Deletion watches (``snapshot_server.storage.DeletionWatch``) for the backends without a server
to tell them: one for a store in one process, one for a store on one host's disk.

The on-disk watch is an 8-byte file beside the storage, mapped shared into every process that
opens the store. Every delete overwrites it with 8 fresh random bytes after its commit and
before it returns; a reader compares the bytes it saw last. Random bytes rather than a counter:
two processes bumping at once need no lock (whatever mix of their bytes lands, it differs from
what any reader saw before, but for a 2^-64 chance). Reading is a memory access, cheap enough
for every GET.

Processes on one host share the page cache, so they see each other's writes at once. Hosts that
share a network filesystem do not share mapped pages: such deployments must turn the response
cache off (``[server] response_cache_bytes = 0``).
"""

from __future__ import annotations

import mmap
import os
import secrets

_SIZE = 8


class LocalDeletions:
    """For a store that lives in one process: a counter bumped by every delete."""

    def __init__(self) -> None:
        self._count = 0

    def version(self) -> int:
        return self._count

    def bump(self) -> None:
        self._count += 1


class SharedDeletions:
    """For a store on this host's disk, shared by processes: the mapped file ``path``."""

    def __init__(self, path: str) -> None:
        """Open (creating it ``0o600``) and map ``path``. Blocking: call it off the event
        loop. Raises ``OSError``."""
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            if os.fstat(fd).st_size < _SIZE:
                os.ftruncate(fd, _SIZE)  # never shrinks or rewrites what another process wrote
            self._map = mmap.mmap(fd, _SIZE, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        finally:
            os.close(fd)  # the mapping keeps the file

    def version(self) -> bytes | None:
        if self._map.closed:
            return None
        return self._map[:_SIZE]

    def bump(self) -> None:
        if not self._map.closed:
            self._map[:_SIZE] = secrets.token_bytes(_SIZE)

    def close(self) -> None:
        self._map.close()
