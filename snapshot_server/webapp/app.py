"""The composition of the web application: ``create_app(config, open_store, ...)``.

Resources live in ``app.cleanup_ctx``: the store is opened on startup and closed on shutdown, and
the cleanup job runs between the two. ``snapshot_server`` never imports ``backends``: the caller
(the CLI, or a test) hands in ``open_store``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web
from limits.aio.storage import MemoryStorage

from ..abuse.addresses import parse_networks
from ..abuse.caps import OrgCaps
from ..abuse.rates import RateLimits
from ..abuse.storage import LimiterStorage, close_storage, memory_storage
from ..auth import TokenAuthenticator
from ..capture.capturing import Capturer
from ..cleanup import run_cleanup_job
from ..clock import Clock, Sleep, system_clock
from ..config import Config, StorageConfig
from ..external.publishing import ExternalSnapshots
from ..metrics import Metrics, metrics_middleware
from ..purge import PurgeDispatcher, build_dispatcher
from ..service import SnapshotService
from ..sharing.attempts import PasswordAttempts
from ..sharing.gate import AccessGate
from ..sharing.passwords import Passwords
from ..sharing.secret import SecretSource, secret_source
from ..storage import SnapshotStore
from ..viewer.page import setup_pages
from .appkeys import (
    ACCESS,
    ANSWERS,
    AUTHENTICATOR,
    CONFIG,
    METRICS,
    PURGER,
    RATE_LIMITS,
    SERVICE,
    STORE,
    UPLOADS,
)
from .middlewares import error_middleware
from .observing import request_id_middleware, send_request_id
from .protocol import HANDLER_ARGS
from .response_cache import ResponseCache
from .routes import setup_routes
from .snapshot_answers import SnapshotAnswer, SnapshotAnswers
from .uploads import UploadGate

log = logging.getLogger(__name__)

StoreOpener = Callable[[StorageConfig], Awaitable[SnapshotStore]]
PURGE_FLUSH_SECONDS = 3.0  # how long shutdown waits for pending CDN purges


async def _cut_uploads(app: web.Application) -> None:
    """The first step of a shutdown, once the sockets no longer accept: uploads still arriving
    are answered 503 now instead of holding the shutdown (``UploadGate.close``)."""
    cut = app[UPLOADS].close()
    if cut:
        log.info("shutting down: %d upload(s) still arriving were cut short", cut)


def create_app(
    config: Config,
    open_store: StoreOpener,
    *,
    clock: Clock = system_clock,
    sleep: Sleep = asyncio.sleep,
    dispatcher: PurgeDispatcher | None = None,
    limiter_storage: LimiterStorage | None = None,
    cookie_secret: SecretSource | None = None,
    passwords: Passwords | None = None,
) -> web.Application:
    """A ready-to-run application. ``clock`` decides expiry; ``sleep`` paces the cleanup job;
    ``dispatcher`` delivers CDN purges (default: built from ``config.cdn``, none when no purger
    is configured); the app starts it and flushes it on shutdown. ``limiter_storage`` makes
    where the rate limits count (default: this process's memory); it is called only when
    ``[limits] enabled``, and what it made is closed on shutdown; the wrong-password limit
    counts there too, or in a storage of its own made the same way (it is always on).
    ``cookie_secret`` gives the secret that signs access cookies (default: ``[sharing]
    cookie_secret_file``, else one for this process: the CLI hands in the deployment's, see
    ``sharing.secret``). ``passwords`` hashes and checks snapshot passwords (default:
    argon2id at argon2-cffi's cost)."""
    app = web.Application(
        middlewares=[request_id_middleware, metrics_middleware, error_middleware],
        # aiohttp's default is 1 MiB; dashboards with embedded data are often larger.
        client_max_size=config.server.max_body_bytes,
        # Carried by the app itself, so every runner serves it with aiohttp's own inflation of
        # request bodies off (see protocol.py).
        handler_args=HANDLER_ARGS,
    )
    app[CONFIG] = config
    app[AUTHENTICATOR] = TokenAuthenticator(config.auth.tokens)
    app[METRICS] = metrics = Metrics()
    app[UPLOADS] = UploadGate(config.limits.upload_bytes_in_flight)
    app.on_response_prepare.append(send_request_id)
    app.on_shutdown.append(_cut_uploads)
    setup_pages(app)
    setup_routes(app)

    # No limiter at all when limits are off: nothing on the hot path but a None check.
    limits = None
    if config.limits.enabled:
        storage = (limiter_storage or memory_storage)()
        limits = RateLimits(config.limits, storage, metrics.count_limited)
    app[RATE_LIMITS] = limits
    caps = OrgCaps.from_settings(config.limits, metrics.count_limited)
    # Always on: shares the rate limits' storage when they have one.
    own_attempts_storage = limits is None
    attempts_storage = (limiter_storage or memory_storage)() if limits is None else limits.storage
    attempts = PasswordAttempts(
        config.sharing.password_attempts,
        attempts_storage,
        # Counted in each worker's own memory: each allows its share of the rate.
        processes=config.server.workers if isinstance(attempts_storage, MemoryStorage) else 1,
    )
    passwords = passwords or Passwords()
    secret_of = cookie_secret or secret_source(config.sharing)

    async def sharing_ctx(app: web.Application) -> AsyncIterator[None]:
        app[ACCESS] = AccessGate(
            secret=await secret_of(),
            passwords=passwords,
            attempts=attempts,
            clock=clock,
            root_url=config.server.public_root,
            cookie_max_age=config.sharing.cookie_max_age,
            trusted=parse_networks(config.limits.trusted_proxies),
        )
        yield
        if own_attempts_storage:
            await close_storage(attempts.storage)

    if dispatcher is None:
        root = config.server.public_root
        dispatcher = build_dispatcher(config.cdn.purgers, root_url=root, clock=clock)
    app[PURGER] = dispatcher
    if dispatcher is not None:
        metrics.watch_purges(dispatcher)

    async def purge_ctx(app: web.Application) -> AsyncIterator[None]:
        # Started before the store and closed after it: purges queued by the last deletes
        # (and by a final cleanup round) are still flushed, within a bound, on shutdown.
        if dispatcher is None:
            yield
            return
        await dispatcher.start()
        try:
            yield
        finally:
            await dispatcher.aclose(timeout=PURGE_FLUSH_SECONDS)

    # The client for external snapshot servers: its session opens on first use.
    external = ExternalSnapshots(config.snapshots, caps, on_publish=metrics.count_publish)

    async def external_ctx(app: web.Application) -> AsyncIterator[None]:
        yield
        await external.aclose()

    # The client for captures' Prometheus datasources: its session opens on first use too.
    capturer = Capturer(config.capture, metrics, clock=clock)

    async def capture_ctx(app: web.Application) -> AsyncIterator[None]:
        yield
        await capturer.aclose()

    async def storage_ctx(app: web.Application) -> AsyncIterator[None]:
        store = await open_store(config.storage)
        app[STORE] = store
        purge = dispatcher.submit if dispatcher is not None else None
        app[SERVICE] = service = SnapshotService(
            config,
            store,
            clock=clock,
            purge=purge,
            caps=caps,
            external=external,
            passwords=passwords,
            capturer=capturer,
        )
        cache = ResponseCache[SnapshotAnswer](config.server.response_cache_bytes, store.deletions)
        app[ANSWERS] = SnapshotAnswers(service, cache, metrics.count_cache_lookup)
        try:
            yield
        finally:
            await store.aclose()

    async def limits_ctx(app: web.Application) -> AsyncIterator[None]:
        yield
        if limits is not None:
            await close_storage(limits.storage)

    async def cleanup_job_ctx(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(
            run_cleanup_job(
                app[SERVICE],
                config.snapshots.cleanup_interval,
                sleep,
                metrics.expired_removed.inc,
                round_done=metrics.count_cleanup_round,
            )
        )
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    app.cleanup_ctx.append(limits_ctx)  # first in, last out: closed whatever fails after it
    app.cleanup_ctx.append(purge_ctx)
    app.cleanup_ctx.append(external_ctx)
    app.cleanup_ctx.append(capture_ctx)
    app.cleanup_ctx.append(storage_ctx)
    # After the store: an unreachable storage is reported as such, before its secret is read.
    app.cleanup_ctx.append(sharing_ctx)
    app.cleanup_ctx.append(cleanup_job_ctx)
    return app
