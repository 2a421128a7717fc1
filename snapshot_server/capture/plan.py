"""Which Prometheus queries a dashboard asks for, over which range and with which step.

:func:`plan_capture` walks every panel (:func:`iter_panels`: top-level panels, panels inside
collapsed rows and legacy ``rows[].panels``), keeps the targets that have an ``expr``, are not
``hide: true`` and whose datasource maps to a configured one, and computes for each the
interpolated expression, the step and the step-aligned range exactly as Grafana would for the
same dashboard in a browser. Nothing here does I/O.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from .interval import (
    IntervalError,
    align,
    calculate_interval_ms,
    parse_interval_ms,
    prometheus_step_ms,
)
from .model import CapturePlan, CaptureRequest, DatasourceTarget, PlannedQuery
from .timeparse import parse_time_range
from .variables import Variable, dashboard_variables, interpolate, interpolate_builtins

__all__ = [
    "DEFAULT_MAX_DATA_POINTS",
    "GRID_COLUMN_PX",
    "PlanError",
    "Resolver",
    "iter_panels",
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
_MIXED = "-- Mixed --"


class PlanError(ValueError):
    """A capture request that cannot be planned (an unknown datasource); the message says why."""


def iter_panels(dashboard: Mapping[str, Any]) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(index, panel)`` of every non-row panel, nested ones included, in dashboard order.

    The panels yielded are the dashboard's own objects (embedding rewrites them in place on a
    copy); ``index`` counts them from 0 and is what ``PlannedQuery.panel_index`` refers to.
    """
    yield from enumerate(_walk(dashboard))


def _walk(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    containers = [dashboard.get("panels")]
    rows = dashboard.get("rows")
    if isinstance(rows, list):
        containers.extend(row.get("panels") for row in rows if isinstance(row, dict))
    for container in containers:
        if not isinstance(container, list):
            continue
        for panel in container:
            if not isinstance(panel, dict):
                continue
            if panel.get("type") == "row":
                nested = panel.get("panels")
                if isinstance(nested, list):
                    yield from (child for child in nested if isinstance(child, dict))
                continue
            yield panel


def plan_capture(
    dashboard: Mapping[str, Any], request: CaptureRequest, resolve: Resolver, now_ms: int
) -> CapturePlan:
    """The queries to run for ``dashboard`` at ``now_ms``.

    The range is the request's ``from``/``to``, else the dashboard's ``time`` (else the last
    6 hours). A target whose datasource maps to none is still captured through
    ``request.datasource`` when that is set and the target is a Prometheus one (type
    ``prometheus``, or a reference without a type). Raises ``ValueError`` subclasses with a
    message fit for a 400: an unreadable time or interval, a bad variable override or format,
    an unknown ``request.datasource``.
    """
    raw_from, raw_to = _raw_range(dashboard, request)
    week_start = dashboard.get("weekStart") or "sunday"
    from_ms, to_ms = parse_time_range(raw_from, raw_to, now_ms, week_start=str(week_start))
    variables = dashboard_variables(dashboard, request.variables)
    fallback = _fallback_datasource(request, resolve)
    queries: list[PlannedQuery] = []
    panels = 0
    for index, panel in iter_panels(dashboard):
        planned = list(
            _panel_queries(index, panel, variables, resolve, fallback, request, from_ms, to_ms)
        )
        if planned:
            panels += 1
            queries.extend(planned)
    return CapturePlan(
        queries=tuple(queries),
        from_ms=from_ms,
        to_ms=to_ms,
        panels=panels,
        raw_from=raw_from,
        raw_to=raw_to,
        captured_at_ms=now_ms,
    )


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


def _panel_queries(
    index: int,
    panel: Mapping[str, Any],
    variables: Mapping[str, Variable],
    resolve: Resolver,
    fallback: DatasourceTarget | None,
    request: CaptureRequest,
    from_ms: int,
    to_ms: int,
) -> Iterator[PlannedQuery]:
    targets = panel.get("targets")
    if not isinstance(targets, list):
        return
    panel_ref = _interpolate_ref(panel.get("datasource"), variables)
    for target in targets:
        if not isinstance(target, Mapping) or target.get("hide") is True:
            continue
        expr = target.get("expr")
        if not isinstance(expr, str) or not expr.strip():
            continue
        # A target's own datasource wins; a mixed panel's target without one takes the default.
        ref = target.get("datasource")
        if ref is not None:
            ref = _interpolate_ref(ref, variables)
        elif not _is_mixed(panel_ref):
            ref = panel_ref
        datasource = resolve(ref)
        if datasource is None and fallback is not None and _is_prometheus_ref(ref):
            datasource = fallback
        if datasource is None:
            continue
        yield from _target_queries(
            index, panel, target, expr, datasource, variables, request, from_ms, to_ms
        )


def _target_queries(
    index: int,
    panel: Mapping[str, Any],
    target: Mapping[str, Any],
    expr: str,
    datasource: DatasourceTarget,
    variables: Mapping[str, Variable],
    request: CaptureRequest,
    from_ms: int,
    to_ms: int,
) -> Iterator[PlannedQuery]:
    range_ms = to_ms - from_ms
    scrape_ms = datasource.scrape_interval_ms
    max_points = _max_data_points(panel, request)
    panel_interval = panel.get("interval")
    low_limit = scrape_ms
    if isinstance(panel_interval, str) and panel_interval.strip():
        low_limit = _interval_ms(interpolate(panel_interval, variables), panel, "interval")
    query_interval = calculate_interval_ms(range_ms, max_points, low_limit)
    min_step = target.get("interval")
    min_step = interpolate(min_step, variables) if isinstance(min_step, str) else ""
    factor = target.get("intervalFactor")
    factor = factor if isinstance(factor, int) and not isinstance(factor, bool) else 1
    try:
        step = prometheus_step_ms(
            range_ms=range_ms,
            max_data_points=max_points,
            query_interval_ms=query_interval,
            min_step=min_step,
            scrape_interval_ms=scrape_ms,
            interval_factor=factor,
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
    legend = interpolate(legend, variables) if isinstance(legend, str) else ""
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
        legend_format=legend,
        instant=False,
        start_ms=align(from_ms, step),
        end_ms=align(to_ms, step),
        step_ms=step,
        interval_ms=query_interval,
        panel_index=index,
    )
    if ranged:
        yield base
    if instant:
        # Grafana runs a target that is both range and instant as two queries, the instant
        # one under "<refId>-Instant".
        instant_ref = f"{ref_id}-Instant" if ranged else ref_id
        yield dataclasses.replace(base, ref_id=instant_ref, instant=True)


def _max_data_points(panel: Mapping[str, Any], request: CaptureRequest) -> int:
    if request.max_data_points:
        return request.max_data_points
    chosen = panel.get("maxDataPoints")
    if isinstance(chosen, int | float) and not isinstance(chosen, bool) and chosen > 0:
        return int(chosen)
    grid = panel.get("gridPos")
    width = grid.get("w") if isinstance(grid, Mapping) else None
    if isinstance(width, int | float) and not isinstance(width, bool) and width > 0:
        return int(width * GRID_COLUMN_PX)
    return DEFAULT_MAX_DATA_POINTS


def _interval_ms(text: str, panel: Mapping[str, Any], what: str) -> int:
    try:
        return parse_interval_ms(text)
    except IntervalError as error:
        raise IntervalError(
            f"panel {_panel_id(panel)} ({panel.get('title') or ''!s}): {what}: {error}"
        ) from None


def _where(panel: Mapping[str, Any], target: Mapping[str, Any]) -> str:
    return (
        f"panel {_panel_id(panel)} ({panel.get('title') or ''!s}) "
        f"target {target.get('refId') or 'A'!s}"
    )


def _panel_id(panel: Mapping[str, Any]) -> int:
    value = panel.get("id")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _interpolate_ref(ref: object, variables: Mapping[str, Variable]) -> object:
    """A datasource reference with ``$ds`` / ``${DS_PROM}`` resolved to the variable's value."""
    if isinstance(ref, str):
        return _raw(ref, variables) if "$" in ref or "[[" in ref else ref
    if isinstance(ref, Mapping):
        uid = ref.get("uid")
        if isinstance(uid, str) and ("$" in uid or "[[" in uid):
            return {**ref, "uid": _raw(uid, variables)}
    return ref


def _raw(text: str, variables: Mapping[str, Variable]) -> str:
    # A datasource variable names one datasource: its value verbatim, not regex-escaped.
    raw = {
        name: Variable(v.name, v.values[:1], v.texts[:1], False, False, False, None, ())
        for name, v in variables.items()
    }
    return interpolate(text, raw)


def _is_mixed(ref: object) -> bool:
    if isinstance(ref, Mapping):
        return ref.get("uid") == _MIXED or ref.get("type") == "mixed"
    return ref == _MIXED


def _is_prometheus_ref(ref: object) -> bool:
    if isinstance(ref, Mapping):
        return ref.get("type") in (None, "prometheus")
    return ref is None or isinstance(ref, str)
