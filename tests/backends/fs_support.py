"""Helpers shared by the filesystem backend's tests: records to insert and ways to look at, or
tamper with, what the backend left on disk."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from backends.filesystem import FilesystemSettings
from snapshot_server.config import StorageConfig
from snapshot_server.models import hash_secret


def config_for(root: Path) -> StorageConfig:
    return StorageConfig.using("filesystem", FilesystemSettings(path=str(root)))


def all_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def debris(root: Path) -> list[Path]:
    """Temp files, records and delete-key index files under ``root``."""
    return [p for p in all_files(root) if p.name.startswith(".tmp-") or p.suffix in (".rec", ".dk")]


def index_file(root: Path, delete_key: str, content: bytes | None) -> Path:
    """The index file path of ``delete_key``, written with ``content`` unless it is None."""
    digest = hash_secret(delete_key)
    path = root / "deletekeys" / digest[:2] / digest[2:3] / f"{digest}.dk"
    if content is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return path


def append_journal(root: Path, data: bytes) -> None:
    with (root / "journal").open("ab") as f:
        f.write(data)


def journal_lines(root: Path) -> list[bytes]:
    return (root / "journal").read_bytes().splitlines()


def journal_ids(root: Path) -> list[int]:
    """The ids the journal file lists as live, replaying its "+" and "-" lines in order."""
    live: list[int] = []
    for line in journal_lines(root):
        if added := re.search(rb' \+\{"id":(\d+),', line):
            live.append(int(added[1]))
        elif removed := re.fullmatch(rb"[0-9a-f]{16} -(\d+)", line):
            live.remove(int(removed[1]))
    return live


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def walk(root: Path) -> list[Path]:
    return sorted(root.rglob("*"))


def realpath(path: Path) -> str:
    return os.path.realpath(path)


def record_files(root: Path) -> list[Path]:
    return sorted(root.glob("records/*/*/*.rec"))


def entries(directory: Path) -> list[Path]:
    return sorted(directory.iterdir())


def make_dir(path: Path, mode: int) -> None:
    """``path`` (and missing parents) created with exactly ``mode``, whatever the umask."""
    path.mkdir(parents=True)
    os.chmod(path, mode)
