"""Storage backends, chosen by name in ``[storage] backend``.

The registry maps a name to ``"module:Class"`` and imports lazily, so a deployment only imports
the driver it uses (an SQLite deployment never imports redis). Adding a backend is one module
here and one line in ``REGISTRY``.
"""

from __future__ import annotations

import importlib
from typing import cast

from snapshot_server.config import StorageConfig
from snapshot_server.storage import SnapshotStore

REGISTRY: dict[str, str] = {
    "memory": "backends.memory:MemoryStore",
    "sqlite": "backends.sqlite:SQLiteStore",
    "redis": "backends.redis:RedisStore",
    "filesystem": "backends.filesystem:FilesystemStore",
}


def backend_class(name: str) -> type[SnapshotStore]:
    """The store class registered under ``name``. Raises ``KeyError`` for an unknown name."""
    module_name, _, class_name = REGISTRY[name].partition(":")
    module = importlib.import_module(module_name)
    return cast(type[SnapshotStore], getattr(module, class_name))


async def open_store(config: StorageConfig) -> SnapshotStore:
    """Open the backend ``config.backend`` names. Raises ``StorageUnavailable``."""
    return await backend_class(config.backend).open(config)
