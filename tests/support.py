"""Small helpers shared by the test suites."""

from __future__ import annotations

import os
import time

import pytest


class ManualClock:
    """A clock that stands still until a test moves it. Starts at the real time, so backends
    with native TTLs (Redis) see sensible absolute expiry times."""

    def __init__(self, start: float | None = None) -> None:
        self.now = float(int(start if start is not None else time.time()))

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def skip_or_fail(reason: str) -> None:
    """Skip locally, but fail in CI: there a missing service is a missing install step."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: required here, not skippable)")
    pytest.skip(reason)
