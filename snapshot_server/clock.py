"""Time, injectable: the one clock every expiry decision reads, and the one way the server
waits (the cleanup job's pace, a purge's backoff), so tests move time by hand and never sleep;
and the one format every time is shown in."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

Clock = Callable[[], float]
"""Returns the current POSIX time in seconds."""

system_clock: Clock = time.time

Sleep = Callable[[float], Awaitable[None]]
"""Waits the given number of seconds (``asyncio.sleep`` in production)."""


def rfc3339(timestamp: float) -> str:
    """``2026-11-22T04:31:52Z``: how every time is shown (API responses, webhooks)."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
