"""The one clock every expiry decision reads: injectable, so tests move time by hand."""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], float]
"""Returns the current POSIX time in seconds."""

system_clock: Clock = time.time
