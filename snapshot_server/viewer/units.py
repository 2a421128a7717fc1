"""Format numbers the way Grafana's simple units do: percent, bytes, time, ``short``.

Units we do not know are shown as plain numbers, never as a guess.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Context, Decimal

_SHORT = ["", " K", " Mil", " Bil", " Tri", " Quadr", " Quint", " Sext", " Sept"]
_IEC = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
_SI_BYTES = ["B", "kB", "MB", "GB", "TB", "PB", "EB"]
_BITS = ["b", "Kib", "Mib", "Gib", "Tib", "Pib"]
_SI_BITS_PER_SECOND = ["bps", "Kbps", "Mbps", "Gbps", "Tbps", "Pbps"]
_IEC_BYTES_PER_SECOND = ["B/s", "KiB/s", "MiB/s", "GiB/s", "TiB/s", "PiB/s"]
# (unit, seconds) ladder used for durations.
_DURATIONS = [
    ("ns", 1e-9),
    ("µs", 1e-6),
    ("ms", 1e-3),
    ("s", 1.0),
    ("min", 60.0),
    ("hour", 3600.0),
    ("day", 86400.0),
    ("week", 604800.0),
    ("year", 31536000.0),
]

# Enough digits for any |value| < 1e15 with 12 decimals.
_CONTEXT = Context(prec=40, rounding=ROUND_HALF_UP)


def _auto_decimals(value: float) -> int:
    magnitude = abs(value)
    if magnitude == 0 or magnitude >= 100:
        return 0
    if magnitude >= 10:
        return 1
    if magnitude >= 1:
        return 2
    # Enough decimals to show two significant digits of small numbers, capped.
    return min(6, 1 - math.floor(math.log10(magnitude)))


def number(value: float, decimals: int | None = None) -> str:
    """``value`` with ``decimals`` places (automatic when ``None``), trailing zeros trimmed."""
    if abs(value) >= 1e15:
        return f"{value:.3g}"  # digits beyond a float's precision would be noise
    places = _auto_decimals(value) if decimals is None else max(0, min(decimals, 12))
    text = f"{value:.{places}f}"
    if (abs(value) * 10**places) % 1 == 0.5:
        # A tie: round half up like JavaScript's toFixed (so Grafana); Python rounds to even.
        text = f"{_CONTEXT.quantize(Decimal(value), Decimal(1).scaleb(-places)):f}"
    if decimals is None and "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _scaled(value: float, base: float, suffixes: list[str], decimals: int | None, sep: str) -> str:
    index = 0
    scaled = value
    while abs(scaled) >= base and index < len(suffixes) - 1:
        scaled /= base
        index += 1
    return f"{number(scaled, decimals)}{sep}{suffixes[index]}".rstrip()


def _duration(value: float, unit_seconds: float, decimals: int | None) -> str:
    seconds = value * unit_seconds
    name, size = _DURATIONS[0]
    for candidate, candidate_size in _DURATIONS:
        if abs(seconds) >= candidate_size:
            name, size = candidate, candidate_size
    if seconds == 0:
        name, size = next((n, s) for n, s in _DURATIONS if s == unit_seconds)
    return f"{number(seconds / size, decimals)} {name}"


def format_value(value: float | None, unit: str = "", decimals: int | None = None) -> str:
    """The display text of ``value`` in Grafana ``unit`` (e.g. ``"42.5%"``, ``"1.5 MiB"``).

    ``None`` is shown as "No data"; an unknown unit shows the plain number.
    """
    if value is None:
        return "No data"
    if unit in ("percent", "pct"):
        return f"{number(value, decimals)}%"
    if unit == "percentunit":
        return f"{number(value * 100, decimals)}%"
    if unit in ("bytes", "decbytes", "bits", "bps", "Bps", "binBps"):
        ladder, base = {
            "bytes": (_IEC, 1024.0),
            "decbytes": (_SI_BYTES, 1000.0),
            "bits": (_BITS, 1024.0),
            "bps": (_SI_BITS_PER_SECOND, 1000.0),
            "Bps": (_IEC_BYTES_PER_SECOND, 1024.0),
            "binBps": (_IEC_BYTES_PER_SECOND, 1024.0),
        }[unit]
        return _scaled(value, base, ladder, decimals, " ")
    if unit in ("s", "ms", "µs", "us", "ns", "m", "h", "d"):
        factor = {
            "s": 1.0,
            "ms": 1e-3,
            "µs": 1e-6,
            "us": 1e-6,
            "ns": 1e-9,
            "m": 60.0,
            "h": 3600.0,
            "d": 86400.0,
        }[unit]
        return _duration(value, factor, decimals)
    if unit in ("short", "", "none", "number"):
        if unit == "short":
            return _scaled(value, 1000.0, _SHORT, decimals, "")
        return number(value, decimals)
    if unit.startswith("suffix:"):
        return f"{number(value, decimals)}{unit[7:]}"
    if unit.startswith("prefix:"):
        return f"{unit[7:]}{number(value, decimals)}"
    if unit in ("reqps", "rps", "ops", "wps", "iops"):
        return f"{_scaled(value, 1000.0, _SHORT, decimals, '')} {unit}"
    if unit in ("celsius", "fahrenheit"):
        return f"{number(value, decimals)}°{'C' if unit == 'celsius' else 'F'}"
    return number(value, decimals)


def format_time(epoch_ms: float, span_ms: float) -> str:
    """An axis label for ``epoch_ms`` in UTC; finer when the visible ``span_ms`` is short."""
    moment = datetime.fromtimestamp(epoch_ms / 1000.0, tz=UTC)
    if span_ms <= 5 * 60_000:
        return moment.strftime("%H:%M:%S")
    if span_ms <= 2 * 86_400_000:
        return moment.strftime("%H:%M")
    if span_ms <= 120 * 86_400_000:
        return (
            moment.strftime("%m/%d %H:%M")
            if span_ms <= 8 * 86_400_000
            else moment.strftime("%m/%d")
        )
    return moment.strftime("%Y-%m")


def format_timestamp(epoch_ms: float) -> str:
    """A full UTC timestamp, ``YYYY-MM-DD HH:MM:SS``, for table cells and headers."""
    try:
        return datetime.fromtimestamp(epoch_ms / 1000.0, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
    except (OverflowError, OSError, ValueError):
        return number(epoch_ms)
