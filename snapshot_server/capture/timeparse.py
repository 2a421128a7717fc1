"""Grafana's time syntax (a dashboard's ``time.from`` / ``time.to``) to epoch milliseconds.

Accepted, as Grafana's date math accepts them: ``now``; ``now`` followed by any number of
``+N<unit>`` / ``-N<unit>`` steps and ``/<unit>`` roundings (``now-6h``, ``now/d``,
``now-1d/d``, ``now-1M+2d/w``; ``N`` defaults to 1); an ISO 8601 date or date-time (a missing
zone means UTC); and epoch milliseconds (digits only). Units: ``s m h d w M y``.

A rounding truncates to the start of the unit for a range's start and, as Grafana does for a
range's end (``round_up``), to the last millisecond of the unit: ``now/d`` as ``to`` is
23:59:59.999 of today. As moment.js does: seconds, minutes and hours step in absolute time,
days and weeks in calendar days, months and years in calendar months (a day the target month
lacks is clamped to its last day). Rounding and dates without a zone are in the dashboard's
time zone ``tz`` (UTC by default); a week starts on the ``week_start`` day (Sunday by default,
as in Grafana's default locale).

Errors are :class:`TimeParseError` (a ``ValueError``) with a message naming the expression.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta, tzinfo

__all__ = ["TimeParseError", "iso_ms", "parse_time", "parse_time_range"]

_UNITS = "smhdwMy"
_FIXED_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_STEP = re.compile(r"([+-])(\d*)([smhdwMy])|/([smhdwMy])")
_WEEKDAYS = {"monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4}
_WEEKDAYS |= {"saturday": 5, "sunday": 6}


class TimeParseError(ValueError):
    """A time expression Grafana would not accept; the message names it."""


def parse_time_range(
    time_from: str, time_to: str, now_ms: int, *, week_start: str = "sunday", tz: tzinfo = UTC
) -> tuple[int, int]:
    """``(from_ms, to_ms)`` of a range, ``to`` rounded up; raises if it is empty or reversed."""
    start = parse_time(time_from, now_ms, round_up=False, week_start=week_start, tz=tz)
    end = parse_time(time_to, now_ms, round_up=True, week_start=week_start, tz=tz)
    if start >= end:
        raise TimeParseError(
            f"time range from {time_from!r} to {time_to!r} is empty: 'from' must be before 'to'"
        )
    return start, end


def parse_time(
    expression: str | int,
    now_ms: int,
    *,
    round_up: bool = False,
    week_start: str = "sunday",
    tz: tzinfo = UTC,
) -> int:
    """Epoch milliseconds of ``expression`` evaluated at ``now_ms``."""
    if isinstance(expression, bool) or not isinstance(expression, str | int):
        raise TimeParseError(f"time {expression!r} is not a string or a number")
    if isinstance(expression, int):
        return _in_range(expression, expression)
    text = expression.strip()
    if not text:
        raise TimeParseError("time is empty")
    if text.isdigit():
        return _in_range(int(text), text)
    if text.startswith("now"):
        try:
            return _date_math(text, now_ms, round_up=round_up, week_start=week_start, tz=tz)
        except OverflowError:  # a step past what a date can hold ("now-99999999999999m")
            raise TimeParseError(f"time {text!r} is out of range") from None
    return _absolute(text, tz)


def _in_range(epoch_ms: int, expression: str | int) -> int:
    # Later steps (zone offsets, alignment, dates in messages) need a representable date.
    if not _MIN_MS <= epoch_ms <= _MAX_MS:
        raise TimeParseError(f"time {expression!r} is out of range (years 1 to 9999)")
    return epoch_ms


def _absolute(text: str, tz: tzinfo) -> int:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise TimeParseError(
            f"time {text!r} is neither 'now' with date math (now-6h, now/d), an ISO 8601 date "
            "nor epoch milliseconds"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return _to_ms(moment)


def _date_math(text: str, now_ms: int, *, round_up: bool, week_start: str, tz: tzinfo) -> int:
    first_day = _WEEKDAYS.get(week_start.lower())
    if first_day is None:
        raise TimeParseError(f"week start {week_start!r} is not a day of the week")
    moment = datetime.fromtimestamp(now_ms // 1000, tz=UTC).astimezone(tz)
    moment = moment.replace(microsecond=(now_ms % 1000) * 1000)
    rest = text[len("now") :]
    position = 0
    while position < len(rest):
        step = _STEP.match(rest, position)
        if step is None:
            raise TimeParseError(
                f"time {text!r}: cannot read {rest[position:]!r} (expected +N or -N or /unit "
                f"with a unit among {', '.join(_UNITS)})"
            )
        sign, digits, unit, round_unit = step.groups()
        if round_unit is not None:
            moment = _round(moment, round_unit, up=round_up, first_day=first_day)
        else:
            amount = int(digits) if digits else 1
            moment = _shift(moment, -amount if sign == "-" else amount, unit)
        position = step.end()
    return _to_ms(moment)


def _shift(moment: datetime, amount: int, unit: str) -> datetime:
    zone = moment.tzinfo
    if unit in "smh":
        # Absolute time: an hour is an hour even across a daylight saving change.
        shifted = moment.astimezone(UTC) + timedelta(milliseconds=amount * _FIXED_MS[unit])
        return shifted.astimezone(zone)
    if unit in "dw":
        # Calendar days: the wall clock time is kept (aware arithmetic is wall-clock).
        return _normalise(moment + timedelta(days=amount * (7 if unit == "w" else 1)))
    months = amount * (12 if unit == "y" else 1)
    return _normalise(_add_months(moment, months))


def _normalise(moment: datetime) -> datetime:
    # A wall-clock result may fall in a gap or fold; a round trip through UTC settles it.
    return moment.astimezone(UTC).astimezone(moment.tzinfo)


def _add_months(moment: datetime, months: int) -> datetime:
    index = moment.year * 12 + (moment.month - 1) + months
    year, month = divmod(index, 12)
    if not 1 <= year <= 9999:
        raise TimeParseError("time is out of range")
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def _round(moment: datetime, unit: str, *, up: bool, first_day: int) -> datetime:
    start = _start_of(moment, unit, first_day)
    if not up:
        return start
    # The end of a unit is the start of the next one less a millisecond, as moment's endOf.
    following = _shift(start, 1, unit)
    return (following.astimezone(UTC) - timedelta(milliseconds=1)).astimezone(start.tzinfo)


def _start_of(moment: datetime, unit: str, first_day: int) -> datetime:
    return _normalise(_truncate(moment, unit, first_day))


def _truncate(moment: datetime, unit: str, first_day: int) -> datetime:
    if unit == "s":
        return moment.replace(microsecond=0)
    if unit == "m":
        return moment.replace(second=0, microsecond=0)
    if unit == "h":
        return moment.replace(minute=0, second=0, microsecond=0)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "d":
        return day
    if unit == "w":
        return day - timedelta(days=(day.weekday() - first_day) % 7)
    if unit == "M":
        return day.replace(day=1)
    return day.replace(month=1, day=1)


def _to_ms(moment: datetime) -> int:
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


_MIN_MS = _to_ms(datetime(1, 1, 2, tzinfo=UTC))  # a day in: any zone's offset still fits
_MAX_MS = _to_ms(datetime(9999, 12, 30, tzinfo=UTC))


def iso_ms(epoch_ms: int) -> str:
    """``2024-01-02T03:04:05.678Z``: JavaScript's ``toISOString`` of epoch milliseconds."""
    moment = datetime.fromtimestamp(epoch_ms // 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{epoch_ms % 1000:03d}Z"
