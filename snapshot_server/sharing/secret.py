"""The secret that signs access cookies and form tokens: the same in every worker of
``serve --workers N`` and on every host of a deployment, and the same after a restart (or every
cookie handed out would stop working).

Where it comes from, first match:

1. ``[sharing] cookie_secret_file``: a file the operator provides (at least 32 characters;
   e.g. ``head -c 32 /dev/urandom | base64 > cookie-secret``). Needed for hosts that share no
   storage they could keep one in.
2. Beside the data, generated once by whichever process starts first:
   sqlite: ``<path>.cookie-secret`` next to the database file; filesystem:
   ``<path>.cookie-secret`` next to the snapshot directory (both mode 0600, created with a
   link that never replaces, so concurrent first starts agree); redis: the key
   ``<key_prefix>cookie-secret`` (``SET NX``), so every host on that Redis agrees.
3. memory (lost on restart anyway): random, for this process only.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ..errors import StorageUnavailable
from .access import SECRET_BYTES
from .settings import SharingSettings

SecretSource = Callable[[], Awaitable[bytes]]
"""Gives the signing secret; called once when an application starts."""

MIN_FILE_SECRET = 32  # characters of an operator's secret file (after stripping whitespace)
SUFFIX = ".cookie-secret"


def secret_source(
    sharing: SharingSettings, backend: str = "", settings: Any = None
) -> SecretSource:
    """Where the secret of a deployment comes from (see the module's docstring). ``settings``
    is the storage backend's own settings (``path``, or ``url``/``cluster``/``key_prefix``)."""
    if sharing.cookie_secret_file:
        path = Path(sharing.cookie_secret_file)
        return lambda: asyncio.to_thread(read_secret_file, path)
    if backend == "redis" and settings is not None:
        return lambda: redis_secret(settings.url, settings.cluster, settings.key_prefix)
    path_text = getattr(settings, "path", "")
    if backend in ("sqlite", "filesystem") and path_text and path_text != ":memory:":
        kept = Path(str(path_text).rstrip("/\\") + SUFFIX)
        return lambda: asyncio.to_thread(kept_file_secret, kept)
    return process_secret


async def process_secret() -> bytes:
    """A random secret for this process alone (a memory store's snapshots die with it too)."""
    return secrets.token_bytes(SECRET_BYTES)


def read_secret_file(path: Path) -> bytes:
    """The operator's secret file. Raises ``StorageUnavailable`` (the server cannot start,
    as without its store) if it is unreadable or too short."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise StorageUnavailable(f"sharing.cookie_secret_file: cannot read {path}: {exc}") from exc
    if len(text) < MIN_FILE_SECRET:
        raise StorageUnavailable(
            f"sharing.cookie_secret_file: {path} must hold at least {MIN_FILE_SECRET} characters"
        )
    return text.encode()


def kept_file_secret(path: Path) -> bytes:
    """The secret kept in ``path``, generated there first if absent. Concurrent first starts
    each write a temporary file and link it to ``path``; a link never replaces, so the first
    one wins and every process reads the same. Raises ``StorageUnavailable`` on an I/O error."""
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                with os.fdopen(fd, "w", encoding="ascii") as file:
                    file.write(secrets.token_hex(SECRET_BYTES))
                    file.flush()
                    os.fsync(file.fileno())
                with contextlib.suppress(FileExistsError):
                    os.link(temporary, path)
            finally:
                os.unlink(temporary)
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise StorageUnavailable(f"Cannot keep the cookie secret in {path}") from exc
    if len(text) < MIN_FILE_SECRET:
        raise StorageUnavailable(f"The cookie secret in {path} is damaged: delete it")
    return text.encode()


async def redis_secret(url: str, cluster: bool, key_prefix: str) -> bytes:
    """The secret kept in Redis at ``<key_prefix>cookie-secret`` (no TTL), set there first if
    absent (``SET NX``: concurrent first starts agree). Raises ``StorageUnavailable``."""
    from redis.asyncio import Redis, RedisCluster
    from redis.exceptions import RedisError

    name = f"{key_prefix}cookie-secret"
    client: Redis | RedisCluster = RedisCluster.from_url(url) if cluster else Redis.from_url(url)
    try:
        await client.set(name, secrets.token_hex(SECRET_BYTES), nx=True)
        value = await client.get(name)
    except (RedisError, OSError) as exc:
        raise StorageUnavailable("Cannot read the cookie secret from Redis") from exc
    finally:
        await client.aclose()
    if not isinstance(value, bytes) or len(value) < MIN_FILE_SECRET:
        raise StorageUnavailable(f"The cookie secret in Redis ({name}) is damaged: delete it")
    return value
