"""The shapes passed between capture's steps (see the package docstring)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class CaptureRequest:
    """A create's ``capture`` member after validation (``true`` is ``CaptureRequest()``).

    ``time_from`` / ``time_to`` are Grafana time expressions as the client gave them (``now-6h``,
    an ISO date, epoch milliseconds as a string); ``None`` takes the dashboard's ``time``.
    ``variables`` overrides template variables' current values (a list for multi-value ones).
    ``datasource`` names a configured datasource that serves every Prometheus target whose own
    datasource maps to none (``None``: the configured default).
    """

    datasource: str | None = None
    time_from: str | None = None
    time_to: str | None = None
    variables: dict[str, str | list[str]] = field(default_factory=dict)
    max_data_points: int | None = None


@dataclass(frozen=True, slots=True)
class DatasourceTarget:
    """A configured Prometheus-API server as planning sees it: its config ``name`` and its
    scrape interval in milliseconds (Grafana's "Scrape interval"; the lower bound of a step)."""

    name: str
    scrape_interval_ms: int


@dataclass(frozen=True, slots=True)
class PlannedQuery:
    """One Prometheus query to run: target ``ref_id`` of panel ``panel_id``.

    ``expr`` has every variable interpolated. A range query's ``start_ms`` / ``end_ms`` are
    already aligned to ``step_ms`` as Grafana aligns them; an ``instant`` query is evaluated at
    ``end_ms``, the range's end unaligned (as Grafana evaluates it).
    ``interval_ms`` is the panel's ``$__interval`` (a frame's ``config.interval`` is the step).
    ``panel_index`` is the panel's position in planning's walk of the dashboard
    (``panels.iter_panels``: panel ids are not unique in every dashboard), which embedding follows.
    ``format`` is the target's ``format`` (``time_series``, ``table`` or ``heatmap``).
    """

    panel_id: int
    panel_title: str
    ref_id: str
    datasource: DatasourceTarget
    expr: str
    legend_format: str
    instant: bool
    start_ms: int
    end_ms: int
    step_ms: int
    interval_ms: int
    panel_index: int = 0
    format: str = "time_series"


@dataclass(frozen=True, slots=True)
class CapturePlan:
    """Every query of a dashboard, and the absolute range they cover (what ``dashboard.time``
    becomes). ``panels`` counts the panels with at least one query. ``raw_from`` / ``raw_to``
    are the time expressions evaluated (kept under ``dashboard.time.raw``) and
    ``captured_at_ms`` the "now" they were evaluated at (``dashboard.snapshot.timestamp``)."""

    queries: tuple[PlannedQuery, ...]
    from_ms: int
    to_ms: int
    panels: int
    raw_from: str = ""
    raw_to: str = ""
    captured_at_ms: int = 0


@dataclass(frozen=True, slots=True)
class QueryResult:
    """A planned query and the ``data`` member of Prometheus's successful answer to it
    (``{"resultType": "matrix" | "vector" | ..., "result": [...]}``)."""

    query: PlannedQuery
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CaptureStats:
    """What a create's answer reports under ``capture``."""

    panels: int
    queries: int
    series: int
    points: int
    ms: int

    def as_json(self) -> dict[str, int]:
        return {
            "panels": self.panels,
            "queries": self.queries,
            "series": self.series,
            "points": self.points,
            "ms": self.ms,
        }
