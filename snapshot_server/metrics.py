"""Prometheus metrics at ``/metrics`` (it ignores the Authorization header: scrapers send none).

Each application has its own registry (tests build many apps in one process). With
``--workers N`` every worker process counts its own requests, as with any pre-fork server: a
scrape through the shared port sees one worker; scrape each worker or sum over instances.

    snapshot_http_requests_total{method,route,status}    every answered request
    snapshot_http_request_duration_seconds{method,route} handler time, histogram
    snapshot_expired_removed_total                       snapshots removed by the cleanup job
    snapshot_purges_total{outcome}                       CDN purge deliveries and events
    snapshot_limited_total{limit}                        refused by a [limits] rate or cap
    snapshot_response_cache_lookups_total{outcome}       GET answers from the cache: hit, miss
    snapshot_captures_total                              captures that embedded data
    snapshot_capture_failures_total{reason}              captures that failed, by reason
    snapshot_capture_queries_total{outcome}              Prometheus queries run: ok, failed
    snapshot_capture_duration_seconds                    a successful capture's time, histogram
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from .capture.failures import FAILURE_REASONS
from .capture.model import CaptureStats
from .purge import PurgeDispatcher
from .webapp.appkeys import METRICS
from .webapp.requests import route_template


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
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
        self.expired_removed = Counter(
            "snapshot_expired_removed",
            "Expired snapshots removed from storage by the cleanup job.",
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
        for reason in FAILURE_REASONS:  # every series exists from the start, at 0
            self.capture_failures.labels(reason)
        self._cache_hits = self.cache_lookups.labels("hit")
        self._cache_misses = self.cache_lookups.labels("miss")

        # The labelled children by label values: ``labels()`` validates and locks on every
        # call, a noticeable part of a cached GET; the label sets are few (routes x statuses).
        self._timers: dict[tuple[str, str], Histogram] = {}
        self._counters: dict[tuple[str, str, int], Counter] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request and its duration."""
        timer = self._timers.get((method, route))
        if timer is None:
            timer = self._timers[method, route] = self.duration.labels(method, route)
        timer.observe(seconds)
        counter = self._counters.get((method, route, status))
        if counter is None:
            counter = self.requests.labels(method, route, str(status))
            self._counters[method, route, status] = counter
        counter.inc()

    def count_cache_lookup(self, hit: bool) -> None:
        (self._cache_hits if hit else self._cache_misses).inc()

    def count_limited(self, limit: str) -> None:
        self.limited.labels(limit).inc()

    # -- capture.capturing.CaptureObserver ---------------------------------------------------

    def capture_done(self, stats: CaptureStats) -> None:
        self.captures.inc()
        self.capture_duration.observe(stats.ms / 1000)

    def query_done(self, ok: bool) -> None:
        self.capture_queries.labels("ok" if ok else "failed").inc()

    def capture_failed(self, reason: str) -> None:
        self.capture_failures.labels(reason).inc()

    def watch_purges(self, dispatcher: PurgeDispatcher) -> None:
        """Expose ``dispatcher.stats`` (read at scrape time, nothing copied on the hot path)."""
        self.registry.register(_PurgeCollector(dispatcher))


class _PurgeCollector(Collector):
    def __init__(self, dispatcher: PurgeDispatcher) -> None:
        self.dispatcher = dispatcher

    def collect(self) -> Iterator[Metric]:
        stats = self.dispatcher.stats
        family = CounterMetricFamily(
            "snapshot_purges",
            "CDN purges: events submitted/dropped, deliveries succeeded/failed/retried.",
            labels=["outcome"],
        )
        for outcome in ("submitted", "dropped", "succeeded", "failed", "retried"):
            family.add_metric([outcome], getattr(stats, outcome))
        yield family


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Outermost: counts every response, including the error middleware's."""
    started = time.perf_counter()
    response = await handler(request)
    elapsed = time.perf_counter() - started
    request.app[METRICS].observe(request.method, route_template(request), response.status, elapsed)
    return response


async def metrics_view(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS].registry)
    response = web.Response(body=body)
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    response.headers["Cache-Control"] = "no-store"
    return response
