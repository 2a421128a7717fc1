"""Which Prometheus queries a dashboard asks for, over which range and with which step.

:func:`plan_capture` walks every panel (``panels.iter_panels``: top-level panels, panels inside
collapsed rows and legacy ``rows[].panels``), keeps the targets that have an ``expr``, are not
``hide: true`` and whose datasource maps to a configured one, and computes for each the
interpolated expression, the step and the step-aligned range exactly as Grafana would for the
same dashboard in a browser. Nothing here does I/O.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, tzinfo
from typing import Any, TypeGuard
from zoneinfo import ZoneInfo

from .builtins import interpolate_builtins
from .interval import (
    IntervalError,
    align,
    calculate_interval_ms,
    parse_interval_ms,
    prometheus_step_ms,
)
from .model import CapturePlan, CaptureRequest, DatasourceTarget, PlannedQuery
from .panel_time import DashboardRange, panel_range, utc_offset_s
from .panels import interpolate_ref, is_prometheus_ref, iter_panels, target_datasource
from .timeparse import parse_time_range
from .variables import Variable, dashboard_variables, interpolate

__all__ = [
    "DEFAULT_MAX_DATA_POINTS",
    "GRID_COLUMN_PX",
    "PlanError",
    "Resolver",
    "dashboard_zone",
    "plan_capture",
]

Resolver = Callable[[Any], DatasourceTarget | None]
"""Maps a datasource reference (``{"type", "uid"}``, a name, ``None`` for the default) to a
configured datasource, or ``None`` when it is not one of ours."""

# Grafana asks for as many points as the panel is wide in pixels. Without a browser the width
# is estimated on a 1920 px wide dashboard (24 grid columns of 80 px); a panel without a grid
# position gets Scenes' fallback of 500.
GRID_COLUMN_PX = 80
DEFAULT_MAX_DATA_POINTS = 500
# The queries' text a plan may hold, interpolated: variables bound each interpolation
# (``variables.MAX_INTERPOLATED_CHARS``), this their sum over thousands of targets.
MAX_PLAN_CHARS = 16 << 20


class PlanError(ValueError):
    """A capture request that cannot be planned (an unknown datasource); the message says why."""


@dataclass(frozen=True, slots=True)
class _Scope:
    """What every target of one capture is planned against."""

    request: CaptureRequest
    variables: Mapping[str, Variable]
    resolve: Resolver
    fallback: DatasourceTarget | None
    dashboard_range: DashboardRange


@dataclass(frozen=True, slots=True)
class _PanelRange:
    """A panel's range (its overrides applied) and the zone offset steps align in there."""

    from_ms: int
    to_ms: int
    utc_offset_s: int


def plan_capture(
    dashboard: Mapping[str, Any], request: CaptureRequest, resolve: Resolver, now_ms: int
) -> CapturePlan:
    """The queries to run for ``dashboard`` at ``now_ms``.

    The range is the request's ``from``/``to``, else the dashboard's ``time`` (else the last
    6 hours), read in the dashboard's ``timezone`` (:func:`dashboard_zone`); a panel's own
    "Relative time" and "Time shift" apply to its queries (``panel_time``). A target whose
    datasource maps to none is still captured through ``request.datasource`` when that is set
    and the target is a Prometheus one (type ``prometheus``, or a reference without a type).
    Raises ``ValueError`` subclasses with a message fit for a 400: an unreadable time or
    interval, a bad variable override or format, an unknown ``request.datasource``.
    """
    raw_from, raw_to = _raw_range(dashboard, request)
    week_start = str(dashboard.get("weekStart") or "sunday")
    zone = dashboard_zone(dashboard)
    from_ms, to_ms = parse_time_range(raw_from, raw_to, now_ms, week_start=week_start, tz=zone)
    scope = _Scope(
        request=request,
        variables=dashboard_variables(dashboard, request.variables, (from_ms, to_ms)),
        resolve=resolve,
        fallback=_fallback_datasource(request, resolve),
        dashboard_range=DashboardRange(raw_from, raw_to, from_ms, to_ms, now_ms, zone, week_start),
    )
    queries: list[PlannedQuery] = []
    panels = 0
    chars = 0
    for index, panel in iter_panels(dashboard):
        planned = list(_panel_queries(scope, index, panel))
        if planned:
            panels += 1
            queries.extend(planned)
            chars += sum(len(q.expr) + len(q.legend_format) for q in planned)
            if chars > MAX_PLAN_CHARS:
                raise PlanError(
                    f"the dashboard's queries, variables interpolated, are over {MAX_PLAN_CHARS}"
                    " characters"
                )
    return CapturePlan(
        queries=tuple(queries),
        from_ms=from_ms,
        to_ms=to_ms,
        panels=panels,
        raw_from=raw_from,
        raw_to=raw_to,
        captured_at_ms=now_ms,
    )


def dashboard_zone(dashboard: Mapping[str, Any]) -> tzinfo:
    """The dashboard's time zone: an IANA name, or UTC for ``"utc"`` and, having no browser to
    ask, for ``"browser"``, an empty or an unknown zone."""
    name = dashboard.get("timezone")
    if not isinstance(name, str) or name.lower() in ("", "utc", "browser"):
        return UTC
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError, OSError):  # not found, not a key, unreadable
        return UTC


def _raw_range(dashboard: Mapping[str, Any], request: CaptureRequest) -> tuple[str, str]:
    time = dashboard.get("time")
    time = time if isinstance(time, Mapping) else {}
    raw_from = request.time_from or _time_text(time.get("from")) or "now-6h"
    raw_to = request.time_to or _time_text(time.get("to")) or "now"
    return raw_from, raw_to


def _time_text(value: object) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    return value if isinstance(value, str) and value else None


def _fallback_datasource(request: CaptureRequest, resolve: Resolver) -> DatasourceTarget | None:
    if request.datasource is None:
        return None
    target = resolve(request.datasource)
    if target is None:
        raise PlanError(f"capture datasource {request.datasource!r} is not configured")
    return target


def _panel_queries(scope: _Scope, index: int, panel: Mapping[str, Any]) -> Iterator[PlannedQuery]:
    targets = panel.get("targets")
    if not isinstance(targets, list):
        return
    panel_ref = interpolate_ref(panel.get("datasource"), scope.variables)
    start, end = panel_range(panel, scope.dashboard_range, scope.variables)
    # Grafana aligns steps in the dashboard's zone, at its offset at the range's end.
    span = _PanelRange(start, end, utc_offset_s(scope.dashboard_range.zone, end))
    for target in targets:
        if not isinstance(target, Mapping) or target.get("hide") is True:
            continue
        expr = target.get("expr")
        if not isinstance(expr, str) or not expr.strip():
            continue
        ref = target_datasource(panel_ref, target, scope.variables)
        datasource = scope.resolve(ref)
        if datasource is None and scope.fallback is not None and is_prometheus_ref(ref):
            datasource = scope.fallback
        if datasource is not None:
            yield from _target_queries(scope, span, index, panel, target, expr, datasource)


def _target_queries(
    scope: _Scope,
    span: _PanelRange,
    index: int,
    panel: Mapping[str, Any],
    target: Mapping[str, Any],
    expr: str,
    datasource: DatasourceTarget,
) -> Iterator[PlannedQuery]:
    variables = scope.variables
    range_ms = span.to_ms - span.from_ms
    scrape_ms = datasource.scrape_interval_ms
    max_points = _max_data_points(panel, scope.request)
    panel_interval = panel.get("interval")
    low_limit = scrape_ms
    if isinstance(panel_interval, str) and panel_interval.strip():
        try:
            low_limit = parse_interval_ms(interpolate(panel_interval, variables, "glob"))
        except IntervalError as error:
            raise IntervalError(f"{_where(panel)}: interval: {error}") from None
    query_interval = calculate_interval_ms(range_ms, max_points, low_limit)
    min_step = target.get("interval")
    min_step = interpolate(min_step, variables, "glob") if isinstance(min_step, str) else ""
    factor = target.get("intervalFactor")
    # Grafana multiplies by a negative factor too and Prometheus then refuses the query; a
    # factor below 1 is taken as 1 here instead.
    factor = factor if isinstance(factor, int) and not isinstance(factor, bool) else 1
    try:
        step = prometheus_step_ms(
            range_ms=range_ms,
            max_data_points=max_points,
            query_interval_ms=query_interval,
            min_step=min_step,
            scrape_interval_ms=scrape_ms,
            interval_factor=max(factor, 1),
        )
    except IntervalError as error:
        raise IntervalError(f"{_where(panel, target)}: min step: {error}") from None
    final_expr = interpolate_builtins(
        interpolate(expr, variables),
        step_ms=step,
        query_interval_ms=query_interval,
        min_step=min_step,
        scrape_interval_ms=scrape_ms,
        range_ms=range_ms,
    )
    legend = target.get("legendFormat")
    target_format = target.get("format")
    ref_id = target.get("refId")
    ref_id = ref_id if isinstance(ref_id, str) and ref_id else "A"
    instant = target.get("instant") is True
    ranged = target.get("range") is True or not instant
    base = PlannedQuery(
        panel_id=_panel_id(panel),
        panel_title=str(panel.get("title") or ""),
        ref_id=ref_id,
        datasource=datasource,
        expr=final_expr,
        legend_format=interpolate(legend, variables, "glob") if isinstance(legend, str) else "",
        instant=False,
        start_ms=align(span.from_ms, step, span.utc_offset_s),
        end_ms=align(span.to_ms, step, span.utc_offset_s),
        step_ms=step,
        interval_ms=query_interval,
        panel_index=index,
        format=target_format if isinstance(target_format, str) and target_format else "time_series",
    )
    if ranged:
        yield base
    if instant:
        # Grafana runs a target that is both range and instant as two queries, the instant
        # one under "<refId>-Instant", and evaluates an instant query at the range's very end,
        # not aligned to the step.
        yield dataclasses.replace(
            base,
            ref_id=f"{ref_id}-Instant" if ranged else ref_id,
            instant=True,
            start_ms=span.from_ms,
            end_ms=span.to_ms,
        )


def _max_data_points(panel: Mapping[str, Any], request: CaptureRequest) -> int:
    """The request's, else the panel's ``maxDataPoints``, else its estimated width; at least 1
    (a fraction of a point would divide the range by zero)."""
    if request.max_data_points is not None and request.max_data_points > 0:
        return request.max_data_points
    chosen = panel.get("maxDataPoints")
    if _positive(chosen):
        return _points(chosen)
    grid = panel.get("gridPos")
    width = grid.get("w") if isinstance(grid, Mapping) else None
    if _positive(width):
        return _points(width * GRID_COLUMN_PX)
    return DEFAULT_MAX_DATA_POINTS


def _points(value: float) -> int:
    # A finite width times the column's pixels may overflow to infinity, which int() refuses;
    # past 2**53 points the step is the range's over 11,000 anyway.
    return max(int(min(value, 2**53)), 1)


def _positive(value: object) -> TypeGuard[int | float]:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


def _where(panel: Mapping[str, Any], target: Mapping[str, Any] | None = None) -> str:
    """The panel (and target) an error message names."""
    where = f"panel {_panel_id(panel)} ({panel.get('title') or ''!s})"
    return where if target is None else f"{where} target {target.get('refId') or 'A'!s}"


def _panel_id(panel: Mapping[str, Any]) -> int:
    value = panel.get("id")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
