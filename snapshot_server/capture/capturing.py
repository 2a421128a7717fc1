"""A create's capture, start to end: plan the dashboard's Prometheus queries, run them against
the configured datasources (concurrently, within the caps and the time bound), turn the
answers into frames and embed them, and say what it cost.

Everything fails as a whole: a capture either embeds every planned query's answer or raises
(and the create stores nothing). Counted by a ``CaptureObserver`` (the app's metrics).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from ..errors import BadGateway, GatewayTimeout, InvalidSnapshot, PayloadTooLarge, SnapshotError
from .datasources import DatasourceResolver, without_panels_with_data
from .embed import NestingError, capture_stats, embed_into, storable_json
from .failures import CaptureObserver, failure_reason
from .frames import FrameError, series_and_points
from .model import CapturePlan, CaptureRequest, CaptureStats, PlannedQuery, QueryResult
from .plan import plan_capture
from .prometheus import ByteBudget, PrometheusClient, auth_headers
from .settings import CaptureSettings


@dataclass(frozen=True, slots=True)
class Captured:
    """A capture's outcome: the dashboard with the data embedded, and what it cost."""

    dashboard: dict[str, Any]
    stats: CaptureStats


class Capturer:
    """The captures of one application: its settings, its one Prometheus client."""

    def __init__(
        self,
        settings: CaptureSettings,
        observer: CaptureObserver,
        *,
        clock: Callable[[], float],
    ) -> None:
        self.settings = settings
        self.observer = observer
        self.clock = clock
        self.client = PrometheusClient(timeout=settings.timeout)

    async def aclose(self) -> None:
        await self.client.aclose()

    async def capture(
        self,
        dashboard: Mapping[str, Any],
        request: CaptureRequest,
        *,
        only_without_data: bool = False,
    ) -> Captured | None:
        """``dashboard`` with its planned queries' answers embedded (a copy: ``dashboard`` is
        not changed), or ``None`` when it has no query to capture. ``only_without_data``
        (``[capture] auto``) plans only the panels that carry no data of their own.

        Raises ``InvalidSnapshot`` (an unknown datasource, a bad time or variable, a PromQL
        error naming the panel), ``PayloadTooLarge`` (a cap), ``BadGateway`` and
        ``GatewayTimeout`` (the datasource failed or was too slow)."""
        try:
            return await self._capture(dashboard, request, only_without_data)
        except SnapshotError as exc:
            self.observer.capture_failed(failure_reason(exc))
            raise

    async def _capture(
        self, dashboard: Mapping[str, Any], request: CaptureRequest, only_without_data: bool
    ) -> Captured | None:
        started = time.perf_counter()
        resolver = DatasourceResolver(self.settings)
        now_ms = int(self.clock() * 1000)
        # Planning and embedding are pure Python over the whole dashboard (about half a second
        # per MB of body): in a worker thread, so one large create never stalls every other
        # request of the server meanwhile.
        stored, plan = await asyncio.to_thread(
            _plan, dashboard, request, resolver, now_ms, only_without_data
        )
        if not plan.queries:
            return None
        self._check_plan(plan)
        results = await self._run(plan, resolver)
        embedded, stats = await asyncio.to_thread(_embed, stored, plan, results, started)
        self.observer.capture_done(stats)
        return Captured(embedded, stats)

    def _check_plan(self, plan: CapturePlan) -> None:
        s = self.settings
        if s.max_queries and len(plan.queries) > s.max_queries:
            raise PayloadTooLarge(
                f"The dashboard has {len(plan.queries)} queries to capture; at most"
                f" {s.max_queries} are allowed (capture.max_queries)"
            )
        # Each query's own range: a panel's relative time ("timeFrom": "1y") widens its own.
        range_ms = max([plan.to_ms - plan.from_ms, *(q.end_ms - q.start_ms for q in plan.queries)])
        range_s = range_ms / 1000
        if s.max_range and range_s > s.max_range:
            raise PayloadTooLarge(
                f"The time range to capture is {range_s:g} s; at most {s.max_range} s is"
                " allowed (capture.max_range)"
            )

    async def _run(self, plan: CapturePlan, resolver: DatasourceResolver) -> list[QueryResult]:
        """Every query of ``plan``, at most ``max_concurrent_queries`` at once, all within
        ``timeout``; the first failure cancels the rest and is raised."""
        s = self.settings
        budget = ByteBudget(s.max_response_bytes)
        tally = _Tally(s)
        gate = asyncio.Semaphore(s.max_concurrent_queries)
        headers: dict[str, dict[str, str]] = {}

        async def run(query: PlannedQuery) -> QueryResult:
            datasource = resolver.settings_of(query)
            async with gate:
                try:
                    data = await self.client.query(
                        datasource, headers[datasource.name], query, budget
                    )
                except SnapshotError:
                    self.observer.query_done(False)
                    raise
            self.observer.query_done(True)
            tally.add(data)
            return QueryResult(query, data)

        for query in plan.queries:
            datasource = resolver.settings_of(query)
            if datasource.name not in headers:
                headers[datasource.name] = auth_headers(datasource)
        try:
            async with asyncio.timeout(s.timeout):
                async with asyncio.TaskGroup() as group:
                    tasks = [group.create_task(run(query)) for query in plan.queries]
        except TimeoutError:
            raise GatewayTimeout(
                f"Capturing took longer than {s.timeout:g} s (capture.timeout)"
            ) from None
        except BaseExceptionGroup as group_error:
            raise _first_error(group_error) from None
        return [task.result() for task in tasks]


class _Tally:
    """Series and points received so far by one capture, against its caps."""

    def __init__(self, settings: CaptureSettings) -> None:
        self.settings = settings
        self.series = 0
        self.points = 0

    def add(self, data: dict[str, Any]) -> None:
        # As the answer's stats count them: an answer's entries may be of any type here.
        series, points = series_and_points(data)
        self.series += series
        self.points += points
        s = self.settings
        if s.max_series and self.series > s.max_series:
            raise PayloadTooLarge(
                f"The queries returned more than {s.max_series} series (capture.max_series)"
            )
        if s.max_points and self.points > s.max_points:
            raise PayloadTooLarge(
                f"The queries returned more than {s.max_points} points (capture.max_points)"
            )


def _first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The error a failed TaskGroup stands for: the first ``SnapshotError`` in it (the others
    are the cancelled queries' echoes), else the group itself."""
    for error in group.exceptions:
        if isinstance(error, BaseExceptionGroup):
            error = _first_error(error)
        if isinstance(error, SnapshotError):
            return error
    return group


def _plan(
    dashboard: Mapping[str, Any],
    request: CaptureRequest,
    resolver: DatasourceResolver,
    now_ms: int,
    only_without_data: bool,
) -> tuple[bytes, CapturePlan]:
    """``dashboard`` as stored JSON (embedding copies it from these bytes) and its capture
    plan (run in a worker thread: see ``Capturer._capture``)."""
    try:
        stored = storable_json(dashboard)  # before anything reads it: see its docstring
    except NestingError as exc:  # the message the store's own check gives
        raise InvalidSnapshot(str(exc)) from None
    try:
        plan = plan_capture(dashboard, request, resolver.resolve, now_ms)
    except ValueError as exc:  # the engine's errors: a bad time, interval or variable
        raise InvalidSnapshot(f"Cannot capture: {exc}") from None
    return stored, without_panels_with_data(dashboard, plan) if only_without_data else plan


def _embed(
    stored: bytes, plan: CapturePlan, results: list[QueryResult], started: float
) -> tuple[dict[str, Any], CaptureStats]:
    """The dashboard ``stored`` with ``results`` embedded, and the stats of a capture
    ``started`` at that ``perf_counter`` (run in a worker thread)."""
    try:
        embedded = embed_into(orjson.loads(stored), plan, results)
        return embedded, capture_stats(plan, results, round((time.perf_counter() - started) * 1000))
    except FrameError as exc:
        raise BadGateway(
            f"A Prometheus datasource answered what capture cannot use: {exc}"
        ) from None
