"""Taking a filesystem store's root into use (``prepare_root``: creating it, refusing one that
is not safe, sweeping crash debris, rebuilding a missing journal) and checking it still answers
(``ping_root``). Blocking; raises ``OSError`` naming the path at fault.

No symbolic link under the root is ever followed (``disk`` opens everything from the root one
component at a time with ``O_NOFOLLOW``); ``prepare_root`` also refuses a link anywhere in the
tree, a root that is itself a link, and a root owned by another user (who could change the
snapshots). A root others may read or write is narrowed to ``0o700``, with a warning.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat

from .disk import check_dir, ensure_dir, exclusive_lock, exists, remove, write_atomic
from .format import encode_journal_add
from .journal import Journal
from .layout import Layout
from .records import Records
from .walk import is_temp_file, walk_tree

log = logging.getLogger(__name__)


def prepare_root(layout: Layout, journal: Journal, records: Records) -> None:
    """Create the root (``0o700``) and its subdirectories, or check an existing root (see
    ``check_root``); then, under the write lock (so no writer is mid-way), refuse any
    symbolic link in the tree, remove stray temp files, rebuild the journal if it is missing
    and add the dashboard lengths an older version's journal lacks. Costs one walk of the 8192
    shard directories (plus a scan of every record if the journal has to be rebuilt, and a
    read of each record header an older journal names, once)."""
    if not os.path.lexists(layout.root):
        os.makedirs(os.path.dirname(layout.root), exist_ok=True)
        with contextlib.suppress(FileExistsError):  # another worker process won the race
            os.mkdir(layout.root, 0o700)
    check_root(layout.root)
    for sub in (layout.records, layout.deletekeys):
        ensure_dir(layout, sub)
    with exclusive_lock(layout):
        temp_files = []
        for entry in walk_tree(layout):
            if entry.is_symlink():
                raise OSError(
                    errno.ELOOP,
                    "is a symbolic link; links under the store root are never followed (remove it)",
                    entry.path,
                )
            if is_temp_file(entry):
                temp_files.append(entry.path)
        for tmp in temp_files:
            log.info("removing stray temp file %s", tmp)
            remove(layout, tmp)
        if not exists(layout, layout.journal):
            live = sorted(records.scan(), key=lambda found: found[0].id)
            data = b"".join(encode_journal_add(meta, length) for meta, length in live)
            write_atomic(layout, layout.journal, data)
    journal.entries()  # replay now rather than on the first request
    if journal.lacks_lengths():
        with exclusive_lock(layout):
            journal.add_lengths(records.dashboard_length)


def check_root(root: str) -> None:
    """Refuse a root that is a symbolic link, not a directory, or owned by another user (who
    could replace what is inside); narrow one that others may read or write to ``0o700``.
    Raises ``OSError`` with the reason and the path."""
    st = os.lstat(root)
    if stat.S_ISLNK(st.st_mode):
        raise OSError(
            errno.ELOOP,
            "is a symbolic link; set [storage.filesystem] path to the directory itself "
            f"({os.path.realpath(root)})",
            root,
        )
    if not stat.S_ISDIR(st.st_mode):
        raise NotADirectoryError(errno.ENOTDIR, "not a directory", root)
    if st.st_uid != os.geteuid():
        raise PermissionError(
            errno.EPERM,
            f"owned by uid {st.st_uid}, not by this server's user (uid {os.geteuid()}): "
            "that user could change the snapshots; give the directory to the server's user",
            root,
        )
    mode = stat.S_IMODE(st.st_mode)
    if mode != 0o700:
        if mode & 0o077:
            log.warning("narrowing filesystem storage root %s from mode %o to 700", root, mode)
        # Through a descriptor opened without following links (Linux has no lchmod); also
        # undoes a umask that took the owner's bits from a root created just now.
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            os.fchmod(fd, 0o700)
        finally:
            os.close(fd)


def ping_root(layout: Layout) -> None:
    """Raise ``OSError`` unless the root is a directory we can write to."""
    check_dir(layout, layout.records)
    if not os.access(layout.root, os.W_OK | os.X_OK):
        raise PermissionError(errno.EACCES, "not writable", layout.root)
