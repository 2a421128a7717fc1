"""The event loop the server runs on: uvloop when it is installed (the optional extra,
``pip install 'snapshot-server[uvloop]'``), asyncio's own otherwise, silently.

Diagnostics: with ``SNAPSHOT_SERVER_SLOW_CALLBACK_MS=N`` in the environment, the loop runs in
asyncio debug mode and logs (logger ``asyncio``, level WARNING) every callback or task step that
held it for N milliseconds or more: ``Executing <...> took X seconds``. The test suite honours
the same variable for its own loops (``tests/conftest.py``), and the servers it starts inherit
it, so ``SNAPSHOT_SERVER_SLOW_CALLBACK_MS=50 python -m pytest`` finds blocking calls anywhere.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

SLOW_CALLBACK_ENV = "SNAPSHOT_SERVER_SLOW_CALLBACK_MS"

try:
    import uvloop
except ImportError:  # the extra is not installed: asyncio's loop
    uvloop = None  # type: ignore[assignment]


def describe(loop: asyncio.AbstractEventLoop) -> str:
    """Which kind ``loop`` is, for the operator: ``uvloop 0.21.0`` or ``asyncio``, and
    ``(debug)`` after it in debug mode."""
    if uvloop is not None and isinstance(loop, uvloop.Loop):
        kind = f"uvloop {importlib.metadata.version('uvloop')}"
    else:
        kind = "asyncio"
    return f"{kind} (debug)" if loop.get_debug() else kind


def new_loop() -> asyncio.AbstractEventLoop:
    """A new event loop (uvloop's if installed), in debug mode if the environment asks for it
    (``debug_from_environment``)."""
    loop = asyncio.new_event_loop() if uvloop is None else uvloop.new_event_loop()
    debug_from_environment(loop)
    return loop


def run(main: Coroutine[Any, Any, T], *, loop_factory: Callable[[], Any] = new_loop) -> T:
    """``asyncio.run(main)`` on a loop from ``loop_factory`` (``new_loop``)."""
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(main)


def debug_from_environment(loop: asyncio.AbstractEventLoop) -> None:
    """Put ``loop`` in debug mode, logging callbacks slower than ``$SNAPSHOT_SERVER_SLOW_
    CALLBACK_MS`` milliseconds, if that is set to a positive number; else leave it alone."""
    threshold = slow_callback_seconds()
    if threshold is not None:
        loop.set_debug(True)
        loop.slow_callback_duration = threshold


def slow_callback_seconds() -> float | None:
    """``$SNAPSHOT_SERVER_SLOW_CALLBACK_MS`` in seconds; ``None`` if unset, empty or not a
    positive number."""
    try:
        milliseconds = float(os.environ.get(SLOW_CALLBACK_ENV, ""))
    except ValueError:
        return None
    return milliseconds / 1000 if milliseconds > 0 else None
