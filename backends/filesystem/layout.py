"""Where everything lives under a filesystem store's root: the ``Layout`` of paths.

Under the root (directories ``0o700``, files ``0o600``)::

    lock                              flock(2) target; held exclusively by every writer
    counter                           the last id handed out
    journal                           append-only listing journal (``journal``)
    deletions                         rewritten by every delete (``backends.deletions``)
    records/ab/c/<sha256(key)>.rec    one file per snapshot; ab/c = its first three hex digits
    deletekeys/ab/c/<hash>.dk         one per deleteKey hash, naming the record's key
    aliases/<sha256(key)>.alias       an old key a rotate left (``sharing``); few: not sharded

File names are only ever hex digests, so neither a view key nor a deleteKey becomes a path, and
each path is checked to stay under the root anyway. 256 x 16 = 4096 leaf directories keep each
one under a few thousand entries up to ~10 million records, while a walk of the whole tree (the
temp-file sweep at open) stays at 4096 directory reads however many records there are.
"""

from __future__ import annotations

import hashlib
import os
import re

from snapshot_server.models import HASH_RE

TEMP_PREFIX = ".tmp-"
TEMP_SUFFIX = ".partial"
RECORD_NAME_RE = re.compile(r"[0-9a-f]{64}\.rec")
ALIAS_NAME_RE = re.compile(r"[0-9a-f]{64}\.alias")
SHARD_RES = (re.compile(r"[0-9a-f]{2}"), re.compile(r"[0-9a-f]"))


class Layout:
    """Paths of one store root. ``root`` must be absolute and normalised."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.lock = os.path.join(root, "lock")
        self.counter = os.path.join(root, "counter")
        self.journal = os.path.join(root, "journal")
        self.deletions = os.path.join(root, "deletions")
        self.records = os.path.join(root, "records")
        self.deletekeys = os.path.join(root, "deletekeys")
        self.aliases = os.path.join(root, "aliases")

    def record_path(self, key: str) -> str:
        """Where the record for view key ``key`` lives (named by the key's SHA-256)."""
        return self._sharded(self.records, hashlib.sha256(key.encode()).hexdigest(), ".rec")

    def index_path(self, delete_key_hash: str) -> str:
        """Where the delete-key index file for ``delete_key_hash`` (64 hex digits) lives."""
        if not HASH_RE.fullmatch(delete_key_hash):
            raise ValueError("delete_key_hash must be 64 lowercase hex digits")
        return self._sharded(self.deletekeys, delete_key_hash, ".dk")

    def alias_path(self, key: str) -> str:
        """Where the rotation alias for old view key ``key`` lives."""
        path = os.path.join(self.aliases, hashlib.sha256(key.encode()).hexdigest() + ".alias")
        self.check_under_root(path)
        return path

    def _sharded(self, base: str, digest: str, suffix: str) -> str:
        path = os.path.join(base, digest[:2], digest[2:3], digest + suffix)
        self.check_under_root(path)
        return path

    def check_under_root(self, path: str) -> None:
        """Raise ``ValueError`` unless ``path`` is lexically inside the root."""
        normal = os.path.normpath(path)
        if normal == self.root or os.path.commonpath((self.root, normal)) != self.root:
            raise ValueError(f"path {path!r} escapes the store root")

    def check_inside(self, path: str) -> None:
        """Raise ``ValueError`` unless ``path`` is the root or lexically inside it."""
        if os.path.normpath(path) != self.root:
            self.check_under_root(path)
