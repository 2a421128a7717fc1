"""Captured frames into a dashboard, in the shape Grafana's own (Scenes) snapshots have.

Each captured panel's targets become one ``{"refId": "A", "datasource": {"type": "grafana",
"uid": "grafana"}, "queryType": "snapshot", "snapshot": [frames]}`` holding the frames of all
its queries in target order, and the panel's datasource becomes that same Grafana one: this is
what Grafana writes when a user shares a snapshot, so Grafana and the viewer both read it. Any
legacy ``snapshotData`` of a captured panel is dropped. ``dashboard.time`` becomes the
absolute range the queries covered (ISO 8601, as a browser writes it) with the expressions
evaluated kept under ``raw``, and ``dashboard.snapshot.timestamp`` the capture's time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from .browser import panel_frames
from .frames import series_and_points
from .model import CapturePlan, CaptureStats, PlannedQuery, QueryResult
from .panels import iter_panels
from .timeparse import iso_ms

__all__ = [
    "GRAFANA_DATASOURCE",
    "NestingError",
    "capture_stats",
    "embed_capture",
    "embed_into",
    "iso_ms",
    "storable_json",
]

GRAFANA_DATASOURCE = {"type": "grafana", "uid": "grafana"}


class NestingError(ValueError):
    """A dashboard nested deeper than a stored one may be (``orjson`` writes 254 levels)."""


def embed_capture(
    dashboard: Mapping[str, Any], plan: CapturePlan, results: list[QueryResult]
) -> dict[str, Any]:
    """A copy of ``dashboard`` with ``results`` embedded (``dashboard`` is not changed).

    ``results`` are the answers to ``plan.queries`` (any order); a panel is rewritten only if
    at least one of its queries is planned, and then holds exactly the frames of its results
    as Grafana's browser would have made them (``browser.panel_frames``). Raises
    ``NestingError`` for a dashboard too deep to store (``storable_json``).
    """
    # Copied through JSON, not copy.deepcopy: a dashboard read with 1024 levels of nesting
    # would exhaust Python's recursion limit (a RecursionError) long before the store's check.
    return embed_into(orjson.loads(storable_json(dashboard)), plan, results)


def embed_into(
    embedded: dict[str, Any], plan: CapturePlan, results: list[QueryResult]
) -> dict[str, Any]:
    """``embed_capture`` on ``embedded``, a copy of the dashboard the caller already made (and
    may change in place): capture copies it from the bytes its nesting check wrote."""
    by_panel: dict[int, list[QueryResult]] = {}
    order: dict[PlannedQuery, int] = {}
    for position, query in enumerate(plan.queries):
        order.setdefault(query, position)
    for result in sorted(results, key=lambda r: order.get(r.query, len(order))):
        by_panel.setdefault(result.query.panel_index, []).append(result)
    planned = {query.panel_index for query in plan.queries}
    for index, panel in iter_panels(embedded):
        if index not in planned:
            continue
        frames = panel_frames(by_panel.get(index, []))
        panel["datasource"] = dict(GRAFANA_DATASOURCE)
        panel["targets"] = [
            {
                "refId": "A",
                "datasource": dict(GRAFANA_DATASOURCE),
                "queryType": "snapshot",
                "snapshot": frames,
            }
        ]
        panel.pop("snapshotData", None)
    embedded["time"] = {
        "from": iso_ms(plan.from_ms),
        "to": iso_ms(plan.to_ms),
        "raw": {"from": plan.raw_from, "to": plan.raw_to},
    }
    snapshot = embedded.get("snapshot")
    embedded["snapshot"] = {
        **(snapshot if isinstance(snapshot, Mapping) else {}),
        "timestamp": iso_ms(plan.captured_at_ms),
    }
    return embedded


def storable_json(dashboard: Mapping[str, Any]) -> bytes:
    """``dashboard`` as the JSON a store keeps. Raises ``NestingError`` when it is nested too
    deeply to be stored: capture checks this first, as Python's own recursion (``str`` of a
    value, a copy) fails on such a dashboard with a RecursionError."""
    try:
        return orjson.dumps(dashboard)
    except orjson.JSONEncodeError:
        raise NestingError("dashboard is nested too deeply") from None


def capture_stats(plan: CapturePlan, results: list[QueryResult], elapsed_ms: int) -> CaptureStats:
    """What a create answers under ``capture``: panels captured, queries run, series and points
    received, and the capture's wall time."""
    series = 0
    points = 0
    for result in results:
        counted = series_and_points(result.data)
        series += counted[0]
        points += counted[1]
    return CaptureStats(
        panels=plan.panels, queries=len(results), series=series, points=points, ms=elapsed_ms
    )
