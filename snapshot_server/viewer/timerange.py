"""The dashboard's time range as epoch milliseconds, from Grafana's absolute or relative forms."""

from __future__ import annotations

import re

from .data import JSON, as_dict, as_str, to_epoch_ms

_RELATIVE = re.compile(r"now(?:-(\d{1,12})([smhdwMy]))?(?:/[smhdwMy])?")
# What a date can show: years 1 to 9999 (datetime's range), in epoch milliseconds.
_EARLIEST_MS, _LATEST_MS = -62_135_596_800_000.0, 253_402_300_799_000.0
_UNIT_MS = {"s": 1e3, "m": 6e4, "h": 3.6e6, "d": 8.64e7, "w": 6.048e8, "M": 2.592e9, "y": 3.1536e10}


def parse_point(value: JSON, now_ms: float) -> float | None:
    """Epoch ms of an ISO string, an epoch number (or numeric string) or ``now-6h`` relative to
    ``now_ms``; ``None`` when unreadable."""
    absolute = to_epoch_ms(value)
    if absolute is not None:
        return absolute
    match = _RELATIVE.fullmatch(as_str(value).strip())
    if match is None:
        return None
    amount, unit = match.groups()
    point = now_ms - (int(amount) * _UNIT_MS[unit] if amount else 0.0)
    return point if _EARLIEST_MS <= point <= _LATEST_MS else None


def dashboard_time_range(
    dashboard: dict[str, JSON], created_s: float
) -> tuple[float, float] | None:
    """``(from, to)`` in epoch ms; relative ranges are taken from the snapshot's own timestamp."""
    snapshot_at = to_epoch_ms(as_dict(dashboard.get("snapshot")).get("timestamp"))
    now_ms = snapshot_at if snapshot_at is not None else created_s * 1000.0
    time = as_dict(dashboard.get("time"))
    start, end = parse_point(time.get("from"), now_ms), parse_point(time.get("to"), now_ms)
    if start is None or end is None or start >= end:
        return None
    return start, end
