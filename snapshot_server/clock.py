"""Time, injectable: the one clock every expiry decision reads, and the one way the server
waits (the cleanup job's pace, a purge's backoff), so tests move time by hand and never sleep."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

Clock = Callable[[], float]
"""Returns the current POSIX time in seconds."""

system_clock: Clock = time.time

Sleep = Callable[[float], Awaitable[None]]
"""Waits the given number of seconds (``asyncio.sleep`` in production)."""
