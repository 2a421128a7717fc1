"""Every typed key of the application and its requests, in one place.

Types only needed for annotations are imported under ``TYPE_CHECKING``: the features that own
them (metrics, the viewer's page renderer) import this module themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from aiohttp import web

from ..auth import Identity, TokenAuthenticator
from ..config import Config
from ..service import SnapshotService
from ..storage import SnapshotStore

if TYPE_CHECKING:
    from ..abuse.rates import RateLimits
    from ..metrics import Metrics
    from ..purge import PurgeDispatcher
    from ..sharing.gate import AccessGate
    from ..viewer.page import PageRenderer
    from .snapshot_answers import SnapshotAnswers
    from .uploads import UploadGate

CONFIG = web.AppKey("config", Config)
STORE = web.AppKey("store", SnapshotStore)
SERVICE = web.AppKey("service", SnapshotService)
AUTHENTICATOR = web.AppKey("authenticator", TokenAuthenticator)
PURGER: web.AppKey[PurgeDispatcher | None] = web.AppKey("purger")
METRICS: web.AppKey[Metrics] = web.AppKey("metrics")
RENDERER: web.AppKey[PageRenderer] = web.AppKey("page_renderer")
RATE_LIMITS: web.AppKey[RateLimits | None] = web.AppKey("rate_limits")
"""``None`` when ``[limits] enabled`` is false: no limiter is made and nothing is counted."""
PAGE_ERRORS: web.AppKey[Callable[[int, str], web.Response]] = web.AppKey("page_errors")
"""How an error is shown to a person (not on ``/api/``): set by the viewer, which owns HTML."""

UPLOADS: web.AppKey[UploadGate] = web.AppKey("uploads")
ANSWERS: web.AppKey[SnapshotAnswers] = web.AppKey("snapshot_answers")
ACCESS: web.AppKey[AccessGate] = web.AppKey("access_gate")
"""Who may see a password-protected snapshot (``sharing.gate``)."""

IDENTITY = web.RequestKey("identity", Identity)
REQUEST_ID_KEY = web.RequestKey("request_id", str)
"""The request's id (``observing``): sent back in ``X-Request-Id``, carried by its log lines."""
