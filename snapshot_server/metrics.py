"""Prometheus metrics at ``/metrics`` (it ignores the Authorization header: scrapers send none).

Each application has its own registry (tests build many apps in one process). With
``serve --workers N`` the workers count in prometheus-client's multiprocess mode (files in a
directory the supervisor owns, ``metrics_sharing``), and every worker's ``/metrics`` answers
for the whole server: counters and histograms summed over the workers (those that exited
included), gauges summed over the live ones.

    snapshot_http_requests_total{method,route,status}    every answered request
    snapshot_http_request_duration_seconds{method,route} handler time, histogram
    snapshot_created_total{route}                        snapshots created (answered 200)
    snapshot_deleted_total{route}                        snapshots deleted, by the route used
    snapshot_expired_removed_total                       snapshots removed by the cleanup job
    snapshot_cleanup_runs_total{outcome}                 cleanup rounds: ok, failed
    snapshot_storage_errors_total{route}                 requests answered 503: storage failed
    snapshot_purges_total{outcome}                       CDN purge events and deliveries
    snapshot_purge_queue_depth                           purge events queued, not yet sent
    snapshot_external_publishes_total{outcome}           publishes to an external server
    snapshot_limited_total{limit}                        refused by a [limits] rate or cap
    snapshot_response_cache_lookups_total{outcome}       GET answers from the cache: hit, miss
    snapshot_captures_total                              captures that embedded data
    snapshot_capture_failures_total{reason}              captures that failed, by reason
    snapshot_capture_queries_total{outcome}              Prometheus queries run: ok, failed
    snapshot_capture_duration_seconds                    a successful capture's time, histogram

Labels hold route templates (``/api/snapshots/{key}``), never a path: keys are secrets.
"""

from __future__ import annotations

import os
import time

from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest

from .capture.failures import FAILURE_REASONS
from .capture.model import CaptureStats
from .cleanup import CLEANUP_OUTCOMES
from .external.publishing import PUBLISH_OUTCOMES
from .metrics_sharing import MULTIPROC_ENV, shared_registry
from .purge import PurgeDispatcher
from .purge.dispatcher import PURGE_OUTCOMES
from .webapp.appkeys import METRICS
from .webapp.requests import route_template

CREATE_ROUTES = ("/api/snapshots", "//api/snapshots")
"""The routes that create (each also with a trailing slash): a 200 there is a new snapshot."""
DELETE_ROUTES = (("DELETE", "/api/snapshots/{key}"), ("GET", "/api/snapshots-delete/{delete_key}"))
"""The routes that delete (each also with a trailing slash): a 200 there is a snapshot gone."""


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        # Set when this process counts in multiprocess mode (its values live in files there).
        self.shared_dir = os.environ.get(MULTIPROC_ENV) or None
        self.requests = Counter(
            "snapshot_http_requests",
            "HTTP requests answered, by route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "snapshot_http_request_duration_seconds",
            "Time from request to response, by route template.",
            ["method", "route"],
            registry=self.registry,
        )
        self.created = Counter(
            "snapshot_created",
            "Snapshots created, by the route that created them.",
            ["route"],
            registry=self.registry,
        )
        self.deleted = Counter(
            "snapshot_deleted",
            "Snapshots deleted on request, by route template: with a token (DELETE "
            "/api/snapshots/{key}) or with a deleteKey (/api/snapshots-delete/{delete_key}).",
            ["route"],
            registry=self.registry,
        )
        self.expired_removed = Counter(
            "snapshot_expired_removed",
            "Expired snapshots removed from storage by the cleanup job.",
            registry=self.registry,
        )
        self.cleanup_runs = Counter(
            "snapshot_cleanup_runs",
            "Rounds of the expiry cleanup job: ok, or failed (storage error; retried next round).",
            ["outcome"],
            registry=self.registry,
        )
        self.storage_errors = Counter(
            "snapshot_storage_errors",
            "Requests answered 503 because storage failed, by route template.",
            ["route"],
            registry=self.registry,
        )
        self.external_publishes = Counter(
            "snapshot_external_publishes",
            "Snapshots published to the external snapshot server: published; failed (the "
            "remote refused or did not answer); withdrawn (stored there, not here, so deleted "
            "there again).",
            ["outcome"],
            registry=self.registry,
        )
        self.limited = Counter(
            "snapshot_limited",
            "Requests refused by a rate limit or per-org cap, by its [limits] key.",
            ["limit"],
            registry=self.registry,
        )

        self.cache_lookups = Counter(
            "snapshot_response_cache_lookups",
            "Lookups of GET /api/snapshots/{key} answers: hit (served from this process's"
            " response cache) or miss (read from storage).",
            ["outcome"],
            registry=self.registry,
        )
        self.captures = Counter(
            "snapshot_captures",
            "Creates whose Prometheus queries were captured and embedded.",
            registry=self.registry,
        )
        self.capture_failures = Counter(
            "snapshot_capture_failures",
            "Captures that failed: query_error (PromQL), datasource_error (unreachable or not"
            " Prometheus), timeout, over_cap, bad_request (datasource, time or variables).",
            ["reason"],
            registry=self.registry,
        )
        self.capture_queries = Counter(
            "snapshot_capture_queries",
            "Prometheus queries run by captures: ok or failed.",
            ["outcome"],
            registry=self.registry,
        )
        self.capture_duration = Histogram(
            "snapshot_capture_duration_seconds",
            "Time a successful capture took, from planning to embedding.",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=self.registry,
        )
        self._cache_hits = self.cache_lookups.labels("hit")
        self._cache_misses = self.cache_lookups.labels("miss")

        # Every series an alert may watch exists from the start, at 0: a rate() or an
        # increase() over a series that appears with its first event misses that event.
        self.created.labels(CREATE_ROUTES[0])
        for _method, route in DELETE_ROUTES:
            self.deleted.labels(route)
        for outcome in CLEANUP_OUTCOMES:
            self.cleanup_runs.labels(outcome)
        for outcome in PUBLISH_OUTCOMES:
            self.external_publishes.labels(outcome)
        for reason in FAILURE_REASONS:
            self.capture_failures.labels(reason)

        # The labelled children by label values: ``labels()`` validates and locks on every
        # call, a noticeable part of a cached GET; the label sets are few (routes x statuses).
        self._timers: dict[tuple[str, str], Histogram] = {}
        self._counters: dict[tuple[str, str, int], Counter] = {}
        # What a 200 on a route means, by (method, route template).
        self._events: dict[tuple[str, str], Counter] = {}
        for route in CREATE_ROUTES:
            for template in (route, route + "/"):
                self._events["POST", template] = self.created.labels(template)
        for method, route in DELETE_ROUTES:
            for template in (route, route + "/"):
                self._events[method, template] = self.deleted.labels(template)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request and its duration (and a 200 on a route that creates or
        deletes, the snapshot created or deleted)."""
        timer = self._timers.get((method, route))
        if timer is None:
            timer = self._timers[method, route] = self.duration.labels(method, route)
        timer.observe(seconds)
        counter = self._counters.get((method, route, status))
        if counter is None:
            counter = self.requests.labels(method, route, str(status))
            self._counters[method, route, status] = counter
        counter.inc()
        if status == 200:
            event = self._events.get((method, route))
            if event is not None:
                event.inc()

    def count_cache_lookup(self, hit: bool) -> None:
        (self._cache_hits if hit else self._cache_misses).inc()

    def count_limited(self, limit: str) -> None:
        self.limited.labels(limit).inc()

    # -- capture.failures.CaptureObserver ---------------------------------------------------

    def capture_done(self, stats: CaptureStats) -> None:
        self.captures.inc()
        self.capture_duration.observe(stats.ms / 1000)

    def query_done(self, ok: bool) -> None:
        self.capture_queries.labels("ok" if ok else "failed").inc()

    def capture_failed(self, reason: str) -> None:
        self.capture_failures.labels(reason).inc()

    def count_storage_error(self, route: str) -> None:
        self.storage_errors.labels(route).inc()

    def count_cleanup_round(self, outcome: str) -> None:
        self.cleanup_runs.labels(outcome).inc()

    def count_publish(self, outcome: str) -> None:
        self.external_publishes.labels(outcome).inc()

    def watch_purges(self, dispatcher: PurgeDispatcher) -> None:
        """Count ``dispatcher``'s purges as they happen (``snapshot_purges_total``, which
        exists only when purges are configured) and follow its queue's depth."""
        purges = Counter(
            "snapshot_purges",
            "CDN purges: events submitted/dropped; requests attempted; deliveries "
            "succeeded/failed/retried.",
            ["outcome"],
            registry=self.registry,
        )
        depth = Gauge(
            "snapshot_purge_queue_depth",
            "CDN purge events queued and not yet taken by a purge worker (summed over workers).",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        children = {outcome: purges.labels(outcome) for outcome in PURGE_OUTCOMES}

        def on_count(outcome: str) -> None:
            children[outcome].inc()
            depth.set(dispatcher.pending)

        dispatcher.stats.on_count = on_count

    def exposition(self) -> bytes:
        """The text a scrape gets: this process's registry, or every worker's files."""
        registry = self.registry if self.shared_dir is None else shared_registry(self.shared_dir)
        return generate_latest(registry)


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Counts every response, including the error middleware's."""
    started = time.perf_counter()
    response = await handler(request)
    elapsed = time.perf_counter() - started
    request.app[METRICS].observe(request.method, route_template(request), response.status, elapsed)
    return response


async def metrics_view(request: web.Request) -> web.Response:
    response = web.Response(body=request.app[METRICS].exposition())
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    response.headers["Cache-Control"] = "no-store"
    return response
