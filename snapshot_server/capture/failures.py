"""How captures are counted: the ``CaptureObserver`` the app's metrics implement (``Uncounted``
where nothing counts), and the reason label each kind of failure gets."""

from __future__ import annotations

from typing import Protocol

from ..errors import BadGateway, GatewayTimeout, PayloadTooLarge, SnapshotError
from .model import CaptureStats
from .prometheus import QueryRejected

FAILURE_REASONS = ("query_error", "datasource_error", "timeout", "over_cap", "bad_request")


class CaptureObserver(Protocol):
    """Told of each capture that embedded data, each query run, each failed capture."""

    def capture_done(self, stats: CaptureStats) -> None: ...

    def query_done(self, ok: bool) -> None: ...

    def capture_failed(self, reason: str) -> None: ...


class Uncounted(CaptureObserver):
    """The observer of captures nothing counts (a service made without one: tests, tools)."""

    def capture_done(self, stats: CaptureStats) -> None:
        pass

    def query_done(self, ok: bool) -> None:
        pass

    def capture_failed(self, reason: str) -> None:
        pass


def failure_reason(exc: SnapshotError) -> str:
    """The failure's label, one of ``FAILURE_REASONS``."""
    if isinstance(exc, GatewayTimeout):
        return "timeout"
    if isinstance(exc, PayloadTooLarge):
        return "over_cap"
    if isinstance(exc, BadGateway):
        return "datasource_error"
    if isinstance(exc, QueryRejected):
        return "query_error"
    return "bad_request"
