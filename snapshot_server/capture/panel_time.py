"""A panel's own time range: its "Relative time" (``timeFrom``) and "Time shift" (``timeShift``)
overrides, applied to the dashboard's range as Grafana applies them.

``timeFrom`` (``"1h"``, ``"now-2d"``, ``"+1h"`` for the future) replaces a relative dashboard
range (one whose ``from`` or ``to`` mentions ``now``) with ``now-1h`` .. ``now``; an absolute
dashboard range keeps its range. ``timeShift`` (``"1d"``, ``"1d/d"``) then moves both ends back:
``from`` rounded down and ``to`` rounded up. An override Grafana cannot read is ignored, as
Grafana ignores it (it shows "invalid time override" and keeps the range).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from .timeparse import TimeParseError, parse_time
from .variables import Variable, interpolate

__all__ = ["DashboardRange", "panel_range", "utc_offset_s"]


@dataclass(frozen=True, slots=True)
class DashboardRange:
    """The dashboard's range as evaluated, and what re-evaluating an override needs."""

    raw_from: str
    raw_to: str
    from_ms: int
    to_ms: int
    now_ms: int
    zone: tzinfo
    week_start: str


def panel_range(
    panel: Mapping[str, Any], dashboard: DashboardRange, variables: Mapping[str, Variable]
) -> tuple[int, int]:
    """``(from_ms, to_ms)`` the panel's queries cover."""
    start, end = dashboard.from_ms, dashboard.to_ms
    time_from = _override(panel.get("timeFrom"), variables)
    if time_from and ("now" in dashboard.raw_from or "now" in dashboard.raw_to):
        relative = _describe(time_from)
        try:
            # Grafana evaluates both ends without rounding up here.
            start, end = (_parse(text, dashboard.now_ms, dashboard, False) for text in relative)
        except TimeParseError:
            start, end = dashboard.from_ms, dashboard.to_ms
    time_shift = _override(panel.get("timeShift"), variables)
    if time_shift:
        shift = "now-" + time_shift.lstrip("-")
        try:
            shifted = (_parse(shift, start, dashboard, False), _parse(shift, end, dashboard, True))
        except TimeParseError:
            shifted = (start, end)
        start, end = shifted
    return start, end


def utc_offset_s(zone: tzinfo, at_ms: int) -> int:
    """The zone's offset from UTC at ``at_ms``, in seconds."""
    offset = zone.utcoffset(datetime.fromtimestamp(at_ms // 1000, tz=UTC))
    return int(offset.total_seconds()) if offset is not None else 0


def _override(value: object, variables: Mapping[str, Variable]) -> str:
    if not isinstance(value, str):
        return ""
    return interpolate(value, variables, "glob").strip()


def _describe(expression: str) -> tuple[str, str]:
    # Grafana's describeTextRange: "1h" is the last hour, "+1h" the next one.
    future = expression.startswith("+")
    if "now" not in expression:
        expression = ("now" if future else "now-") + expression
    return ("now", expression) if future else (expression, "now")


def _parse(expression: str, at_ms: int, dashboard: DashboardRange, round_up: bool) -> int:
    return parse_time(
        expression, at_ms, round_up=round_up, week_start=dashboard.week_start, tz=dashboard.zone
    )
