"""Blocking file primitives of the filesystem backend, all confined to one root: opening
without following links, atomic replacement, removal, the cross-process write lock. Everything
here runs in a worker thread and raises ``OSError``.

Every path is reached from the root one component at a time (``openat`` with ``O_NOFOLLOW``): a
symbolic link at any level fails with ``ELOOP`` instead of leading out of the root.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import secrets
from collections.abc import Iterator

from .layout import TEMP_PREFIX, TEMP_SUFFIX, Layout

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _refused_link(path: str) -> OSError:
    return OSError(
        errno.ELOOP, "is a symbolic link; links under the store root are never followed", path
    )


def _open_dir(layout: Layout, directory: str, *, create: bool = False) -> int:
    """A descriptor of ``directory`` (the root or a directory under it), reached from the root
    one component at a time with ``O_NOFOLLOW``, so a symbolic link anywhere on the way is
    refused (``ELOOP``) instead of followed out of the root. With ``create``, missing
    directories are made ``0o700`` and their parent fsynced, so the entry survives a power cut.
    The caller closes the descriptor."""
    layout.check_inside(directory)
    fd = _open_component(layout.root, None)
    try:
        current = layout.root
        relative = os.path.relpath(directory, layout.root)
        for part in [] if relative == "." else relative.split(os.sep):
            current = os.path.join(current, part)
            try:
                child = _open_component(current, fd, part)
            except FileNotFoundError:
                if not create:
                    raise
                try:
                    os.mkdir(part, 0o700, dir_fd=fd)
                except FileExistsError:
                    pass  # created by another process between the open and here
                else:
                    os.fsync(fd)
                child = _open_component(current, fd, part)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def _open_component(path: str, dir_fd: int | None, name: str | None = None) -> int:
    try:
        return os.open(path if name is None else name, _DIR_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _refused_link(path) from exc
        raise


@contextlib.contextmanager
def _parent(layout: Layout, path: str, *, create: bool = False) -> Iterator[tuple[int, str]]:
    """``(descriptor of path's directory, path's last component)`` for the block."""
    fd = _open_dir(layout, os.path.dirname(path), create=create)
    try:
        yield fd, os.path.basename(path)
    finally:
        os.close(fd)


def open_file(layout: Layout, path: str, flags: int, mode: int = 0o600) -> int:
    """``os.open`` of a file under the root, without following a link at any level."""
    with _parent(layout, path) as (dir_fd, name):
        try:
            return os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=dir_fd)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise _refused_link(path) from exc
            raise


def ensure_dir(layout: Layout, path: str) -> None:
    """Create ``path`` and any missing parents under the root with mode ``0o700``."""
    os.close(_open_dir(layout, path, create=True))


def check_dir(layout: Layout, path: str) -> None:
    """Raise ``OSError`` unless ``path`` is a directory reached from the root without links."""
    os.close(_open_dir(layout, path))


def exists(layout: Layout, path: str) -> bool:
    """Whether anything (a link included, never followed) is at ``path`` under the root."""
    try:
        with _parent(layout, path) as (dir_fd, name):
            os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


def write_atomic(layout: Layout, path: str, data: bytes) -> None:
    """Replace ``path`` with ``data`` so a reader sees the old file or the new, never a part.

    temp file in the same directory -> write -> fsync -> ``os.replace`` -> fsync directory.
    Missing directories are created. On any exception the temp file is removed and the
    exception propagates; if it came after the rename (the directory fsync), ``path`` already
    holds ``data``. (A rename replaces a link at ``path`` itself; it never writes through one.)
    """
    with _parent(layout, path, create=True) as (dir_fd, name):
        tmp = f"{TEMP_PREFIX}{secrets.token_hex(8)}{TEMP_SUFFIX}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(tmp, flags, 0o600, dir_fd=dir_fd)
        try:
            with open(fd, "wb", closefd=True) as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=dir_fd)
            raise
        os.fsync(dir_fd)


def remove(layout: Layout, path: str) -> bool:
    """Unlink ``path`` and fsync its directory; ``False`` if it did not exist."""
    try:
        with _parent(layout, path) as (dir_fd, name):
            os.unlink(name, dir_fd=dir_fd)
            os.fsync(dir_fd)
    except FileNotFoundError:
        return False
    return True


@contextlib.contextmanager
def exclusive_lock(layout: Layout) -> Iterator[None]:
    """Hold the root's write lock (``flock(LOCK_EX)``) for the block.

    Each call opens its own file description, so threads of one process exclude each other as
    well as other processes; closing the descriptor releases the lock, even if the process dies.
    """
    fd = open_file(layout, layout.lock, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def read_bytes(layout: Layout, path: str) -> bytes | None:
    """The whole file, or ``None`` if it (or its directory) does not exist."""
    try:
        fd = open_file(layout, path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    with open(fd, "rb", closefd=True) as f:
        return f.read()


def stat_file(layout: Layout, path: str) -> os.stat_result:
    """``lstat`` of ``path`` under the root, reached without following links."""
    with _parent(layout, path) as (dir_fd, name):
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
