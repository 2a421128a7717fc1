"""Typed application and request keys (``web.AppKey``), shared by app, views and middlewares."""

from __future__ import annotations

from aiohttp import web

from .auth import Identity, TokenAuthenticator
from .clock import Clock
from .config import Config
from .purge import PurgeDispatcher
from .service import SnapshotService
from .storage import SnapshotStore

CONFIG = web.AppKey("config", Config)
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
STORE = web.AppKey("store", SnapshotStore)
SERVICE = web.AppKey("service", SnapshotService)
PURGER: web.AppKey[PurgeDispatcher | None] = web.AppKey("purger")
AUTHENTICATOR = web.AppKey("authenticator", TokenAuthenticator)
IDENTITY = web.RequestKey("identity", Identity)


def identity_of(request: web.Request) -> Identity:
    """The caller, as resolved by the identity middleware."""
    return request[IDENTITY]
