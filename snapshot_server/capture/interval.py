"""Grafana's interval and step arithmetic for Prometheus queries, ported rule for rule.

Two stages, as in Grafana:

1. The browser (``calculate_interval``): a panel's ``$__interval`` is the range divided by its
   max data points, rounded by :func:`round_interval_ms`, and never below the lower limit (the
   panel's "Min interval", else the datasource's scrape interval).
2. The Prometheus backend (``prometheus_step_ms``): the step is that interval (or the target's
   "Min step" when it sets one), recomputed against the range and max data points, never finer
   than the range / 11,000 (Prometheus's own limit of points per series), times the target's
   ``intervalFactor``; a target whose "Min step" is ``$__rate_interval`` steps by the rate
   interval instead. Start and end are then floored to a multiple of the step (:func:`align`).

Durations are integer milliseconds at the edges and integer nanoseconds inside, as Go computes
them, so that divisions truncate exactly where Grafana's do.
"""

from __future__ import annotations

import re

__all__ = [
    "DEFAULT_RESOLUTION",
    "SAFE_RESOLUTION",
    "IntervalError",
    "align",
    "calculate_interval_ms",
    "format_go_duration",
    "format_interval",
    "is_variable_interval",
    "parse_interval_ms",
    "prometheus_step_ms",
    "rate_interval_ms",
    "round_interval_ms",
]

DEFAULT_RESOLUTION = 1500
SAFE_RESOLUTION = 11_000

_MS = 1_000_000  # nanoseconds
_UNIT_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ms": _MS,
    "s": 1_000 * _MS,
    "m": 60_000 * _MS,
    "h": 3_600_000 * _MS,
}
_DAY_NS = 86_400_000 * _MS
_YEAR_NS = int(_DAY_NS * 365.25)
_CALENDAR_NS = {"d": _DAY_NS, "w": 7 * _DAY_NS, "y": _YEAR_NS, "M": _YEAR_NS // 12}
_CALENDAR = re.compile(r"^(\d+)([dwMy])$")
_GO_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")

# (upper bound inclusive, rounded value) in milliseconds: Grafana's roundInterval table.
_ROUNDING: tuple[tuple[int, int], ...] = (
    (10, 1),
    (15, 10),
    (35, 20),
    (75, 50),
    (150, 100),
    (350, 200),
    (750, 500),
    (1_500, 1_000),
    (3_500, 2_000),
    (7_500, 5_000),
    (12_500, 10_000),
    (17_500, 15_000),
    (25_000, 20_000),
    (45_000, 30_000),
    (90_000, 60_000),
    (210_000, 120_000),
    (450_000, 300_000),
    (750_000, 600_000),
    (1_050_000, 900_000),
    (1_500_000, 1_200_000),
    (2_700_000, 1_800_000),
    (5_400_000, 3_600_000),
    (9_000_000, 7_200_000),
    (16_200_000, 10_800_000),
    (32_400_000, 21_600_000),
    (86_400_000, 43_200_000),
    (172_800_000, 86_400_000),
    (604_800_000, 86_400_000),
    (1_814_400_000, 604_800_000),
)
_BELOW_TWO_YEARS = 3_628_800_000
_THIRTY_DAYS = 2_592_000_000
_ONE_YEAR = 31_536_000_000

_VARIABLE_INTERVALS = frozenset(
    f"{prefix}{name}{suffix}"
    for name in ("__interval", "__interval_ms", "__rate_interval", "__rate_interval_ms")
    for prefix, suffix in (("$", ""), ("${", "}"))
)
_RATE_INTERVALS = frozenset({"$__rate_interval", "${__rate_interval}"})


class IntervalError(ValueError):
    """An interval Grafana cannot read (``"5x"``); the message names it."""


def round_interval_ms(interval_ms: float) -> int:
    """Grafana's ``roundInterval``: a calculated interval snapped to a round value."""
    for bound, rounded in _ROUNDING:
        if interval_ms <= bound:
            return rounded
    return _THIRTY_DAYS if interval_ms < _BELOW_TWO_YEARS else _ONE_YEAR


def _round_ns(interval_ns: int) -> int:
    return round_interval_ms(interval_ns / _MS) * _MS


def parse_interval_ms(text: str) -> int:
    """Milliseconds of a Grafana interval: ``"15s"``, ``"1m30s"``, ``"<10s>"``, ``"2d"``,
    ``"30"`` (bare digits are seconds)."""
    return _parse_interval_ns(text) // _MS


def _parse_interval_ns(text: str) -> int:
    trimmed = text.strip()
    if trimmed.startswith("<"):
        trimmed = trimmed[1:]
    if trimmed.endswith(">"):
        trimmed = trimmed[:-1]
    if trimmed.isdigit():
        return int(trimmed) * 1_000 * _MS
    calendar = _CALENDAR.match(trimmed)
    if calendar is not None:
        return int(calendar.group(1)) * _CALENDAR_NS[calendar.group(2)]
    return _parse_go_duration_ns(trimmed, original=text)


def _parse_go_duration_ns(text: str, *, original: str) -> int:
    if text == "0":
        return 0
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-")
    total = 0.0
    position = 0
    while position < len(body):
        part = _GO_PART.match(body, position)
        if part is None:
            break
        total += float(part.group(1)) * _UNIT_NS[part.group(2)]
        position = part.end()
    if not body or position != len(body):
        raise IntervalError(
            f"interval {original!r} is not a duration such as 15s, 1m30s, 500ms or 2d"
        )
    return sign * int(total)


def format_interval(interval_ms: int) -> str:
    """Grafana's ``FormatInterval``: the largest whole unit (``"2m"``, ``"1h"``, ``"500ms"``);
    what ``$__interval`` becomes."""
    for unit, size in (
        ("y", 31_536_000_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ):
        if interval_ms >= size:
            return f"{interval_ms // size}{unit}"
    return "1ms"


def format_go_duration(interval_ms: int) -> str:
    """Go's ``time.Duration.String`` of whole milliseconds (``"2m0s"``, ``"1h0m0s"``, ``"1.5s"``,
    ``"500ms"``, ``"0s"``); what ``$__rate_interval`` becomes."""
    if interval_ms == 0:
        return "0s"
    sign = "-" if interval_ms < 0 else ""
    value = abs(interval_ms)
    if value < 1_000:
        return f"{sign}{value}ms"
    hours, rest = divmod(value, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1_000)
    second_text = f"{seconds}.{millis:03d}".rstrip("0") if millis else str(seconds)
    text = f"{second_text}s"
    if hours or minutes:
        text = f"{minutes}m{text}"
    if hours:
        text = f"{hours}h{text}"
    return sign + text


def is_variable_interval(text: str) -> bool:
    """True for a "Min step" that names a built-in interval (Grafana then ignores it)."""
    return text in _VARIABLE_INTERVALS


def calculate_interval_ms(range_ms: int, max_data_points: int, low_limit_ms: int | None) -> int:
    """The browser's ``calculateInterval``: ``$__interval`` of a panel (rounded first, then raised
    to the lower limit; no limit means 1 ms)."""
    interval = round_interval_ms((range_ms) / max_data_points)
    low = 1 if low_limit_ms is None else low_limit_ms
    return max(interval, low)


def rate_interval_ms(query_interval_ms: int, scrape_interval_ms: int) -> int:
    """``$__rate_interval``: max(interval + scrape interval, 4 * scrape interval)."""
    return max(query_interval_ms + scrape_interval_ms, 4 * scrape_interval_ms)


def prometheus_step_ms(
    *,
    range_ms: int,
    max_data_points: int,
    query_interval_ms: int,
    min_step: str,
    scrape_interval_ms: int,
    interval_factor: int,
) -> int:
    """The step of a Prometheus range query, as Grafana's backend computes it.

    ``query_interval_ms`` is the panel's ``$__interval`` (:func:`calculate_interval_ms`),
    ``min_step`` the target's ``interval`` ("Min step", variables other than the built-in
    intervals already interpolated; ``""`` when unset), ``interval_factor`` the target's
    ``intervalFactor`` (0 means 1). Raises :class:`IntervalError` for an unreadable min step.
    """
    chosen = "" if is_variable_interval(min_step) or min_step == "0s" else min_step
    if chosen:
        min_interval_ns = _parse_interval_ns(chosen)
    elif query_interval_ms:
        min_interval_ns = query_interval_ms * _MS
    else:
        min_interval_ns = scrape_interval_ms * _MS
    range_ns = range_ms * _MS
    resolution = max_data_points or DEFAULT_RESOLUTION
    calculated_ns = range_ns // resolution
    calculated_ns = min_interval_ns if calculated_ns < min_interval_ns else _round_ns(calculated_ns)
    safe_ns = _round_ns(range_ns // SAFE_RESOLUTION)
    adjusted_ns = max(calculated_ns, safe_ns)
    if min_step in _RATE_INTERVALS:
        # A rate interval is final: the resolution does not apply to it.
        return rate_interval_ms(adjusted_ns // _MS, scrape_interval_ms)
    return (adjusted_ns * (interval_factor or 1)) // _MS


def align(time_ms: int, step_ms: int, utc_offset_s: int = 0) -> int:
    """Floor ``time_ms`` to a multiple of ``step_ms`` (in the zone ``utc_offset_s``), as Grafana
    aligns a range query's start and end so that Prometheus's results cache hits."""
    offset_ms = utc_offset_s * 1_000
    return ((time_ms + offset_ms) // step_ms) * step_ms - offset_ms
