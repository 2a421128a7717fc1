"""Storage backends, chosen by name in ``[storage] backend``.

``REGISTRY`` maps a name to ``"module:Class"`` and is imported lazily, so a deployment imports
only the drivers of the backends its config names (an SQLite deployment never imports redis).
Adding a backend is one module (or package) here, defining a ``SnapshotStore`` with its
``Settings``, one line in ``REGISTRY`` and a fixture module in ``tests/stores/`` (README,
"Design"); every other list of names derives from ``REGISTRY``.

Import rule: this package imports the contract (``snapshot_server.storage``, ``.models``,
``.errors``, ``.config``, ``.config_reader``) and nothing else of ``snapshot_server``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from snapshot_server.config import StorageConfig
from snapshot_server.errors import ConfigError
from snapshot_server.storage import SnapshotStore

if TYPE_CHECKING:
    from limits.aio.storage import Storage

REGISTRY: dict[str, str] = {
    "sqlite": "backends.sqlite:SQLiteStore",
    "redis": "backends.redis:RedisStore",
    "filesystem": "backends.filesystem:FilesystemStore",
    "memory": "backends.memory:MemoryStore",
}


def backend_class(name: str) -> type[SnapshotStore]:
    """The store class registered under ``name``. Raises ``KeyError`` for an unknown name."""
    module_name, _, class_name = REGISTRY[name].partition(":")
    module = importlib.import_module(module_name)
    return cast(type[SnapshotStore], getattr(module, class_name))


def check_storage(config: StorageConfig) -> None:
    """Validate ``[storage]``: ``backend`` is a registered name, and every ``[storage.NAME]``
    table present is a registered backend's and reads with its ``Settings``. A table of a
    backend not in use is checked too: switching backends is a one-line edit, and must not
    reveal a bad setting only then. Raises ``ConfigError`` naming the first bad key."""
    names = ", ".join(REGISTRY)
    if config.backend not in REGISTRY:
        raise ConfigError(f"storage.backend: must be one of {names}")
    for name in config.tables:
        if name not in REGISTRY:
            raise ConfigError(f"storage.{name}: unknown key (backends: {names})")
        backend_class(name).Settings.read(config.section(name))


def describe_storage(config: StorageConfig) -> str:
    """Which backend serves ``config`` and where its snapshots live, for the operator."""
    return (
        f"{config.backend} {backend_class(config.backend).Settings.read(config.section()).where()}"
    )


def shared_by_processes(config: StorageConfig) -> bool:
    """Whether ``serve --workers N`` may run over ``config``'s backend."""
    return backend_class(config.backend).shared_by_processes


async def open_store(config: StorageConfig) -> SnapshotStore:
    """Open the backend ``config.backend`` names. Raises ``StorageUnavailable``, or
    ``ConfigError`` for a setting ``check_storage`` would have refused."""
    return await backend_class(config.backend).open(config)


def shared_limits(config: StorageConfig) -> Callable[[], Storage] | None:
    """Where the rate limits of a deployment on ``config`` should count, if its backend has a
    server that every worker and host shares: the maker of a storage of the ``limits`` library
    there (a backend's ``Settings`` offers one as ``rate_limit_storage()``; Redis does).
    ``None``: each process counts in its own memory."""
    settings = backend_class(config.backend).Settings.read(config.section())
    return getattr(settings, "rate_limit_storage", None)
