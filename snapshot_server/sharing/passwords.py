"""Snapshot passwords: argon2id (``argon2-cffi``), hashed and verified in worker threads.

A hash costs tens of milliseconds of CPU and 64 MiB of memory by design (argon2-cffi's defaults,
RFC 9106's second recommended profile), so it never runs on the event loop, and only
``CONCURRENCY`` run at once: a burst of password attempts waits its turn instead of taking the
memory of a hundred hashes. The plaintext is never stored, logged or kept past the call.
"""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ..errors import InvalidSnapshot

MIN_LENGTH = 8
# argon2 takes any length; the bound keeps a request from making every attempt hash megabytes.
MAX_LENGTH = 1024
CONCURRENCY = 2  # the server's share of cores for hashing; more would only queue in the pool


def check_password(value: object, field: str = "password") -> str:
    """``value`` if it is an acceptable new password: a string of ``MIN_LENGTH`` to
    ``MAX_LENGTH`` characters. Raises ``InvalidSnapshot`` naming ``field`` otherwise."""
    if not isinstance(value, str):
        raise InvalidSnapshot(f"{field} must be a string")
    if not MIN_LENGTH <= len(value) <= MAX_LENGTH:
        raise InvalidSnapshot(
            f"{field} must be between {MIN_LENGTH} and {MAX_LENGTH} characters long"
        )
    return value


class Passwords:
    """Hashes and verifies passwords off the event loop, at most ``CONCURRENCY`` at a time."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()  # argon2id
        self._slots: asyncio.Semaphore | None = None  # made on first use, inside the loop

    async def hash(self, password: str) -> str:
        """The PHC string (``$argon2id$v=19$...``) of ``password``, with a fresh salt."""
        async with self._slot():
            return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, phc: str, password: str) -> bool:
        """Whether ``password`` is the one ``phc`` was made from. A hash that cannot be read
        (damaged) matches nothing, nor does a password that is not text: aiohttp hands header
        bytes that are not UTF-8 on as lone surrogates, which no stored password holds."""
        if len(password) > MAX_LENGTH or not _encodable(password):
            return False
        async with self._slot():
            return await asyncio.to_thread(self._verify, phc, password)

    def _verify(self, phc: str, password: str) -> bool:
        try:
            return self._hasher.verify(phc, password)
        except (VerificationError, InvalidHashError):
            return False

    def _slot(self) -> asyncio.Semaphore:
        if self._slots is None:
            self._slots = asyncio.Semaphore(CONCURRENCY)
        return self._slots


def _encodable(password: str) -> bool:
    try:
        password.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
