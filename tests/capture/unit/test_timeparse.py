"""Grafana's time syntax, evaluated at a fixed "now"."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from snapshot_server.capture.timeparse import TimeParseError, parse_time, parse_time_range


def ms(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    return int(moment.timestamp()) * 1000


# Wednesday 2024-01-31 15:45:30.250 UTC
NOW = ms(2024, 1, 31, 15, 45, 30) + 250


@pytest.mark.parametrize(
    ("expression", "round_up", "expected"),
    [
        ("now", False, NOW),
        ("now-6h", False, NOW - 6 * 3_600_000),
        ("now+15m", False, NOW + 15 * 60_000),
        ("now-s", False, NOW - 1_000),
        ("now/d", False, ms(2024, 1, 31)),
        ("now/d", True, ms(2024, 2, 1) - 1),
        ("now-1d/d", False, ms(2024, 1, 30)),
        ("now-1d/d", True, ms(2024, 1, 31) - 1),
        ("now/h", False, ms(2024, 1, 31, 15)),
        ("now/M", False, ms(2024, 1, 1)),
        ("now/M", True, ms(2024, 2, 1) - 1),
        ("now/y", False, ms(2024, 1, 1)),
        # Sunday-started weeks (Grafana's default locale): Sunday 2024-01-28.
        ("now/w", False, ms(2024, 1, 28)),
        ("now/w", True, ms(2024, 2, 4) - 1),
        # Calendar months clamp the day, as moment.js does: 31 January + 1 month = 29 February.
        ("now+1M", False, ms(2024, 2, 29, 15, 45, 30) + 250),
        ("now-1y", False, ms(2023, 1, 31, 15, 45, 30) + 250),
        ("now-2d+3h/h", False, ms(2024, 1, 29, 18)),
        ("2024-01-02T03:04:05Z", False, ms(2024, 1, 2, 3, 4, 5)),
        ("2024-01-02T03:04:05.678+01:00", False, ms(2024, 1, 2, 2, 4, 5) + 678),
        ("2024-01-02", False, ms(2024, 1, 2)),
        ("2024-01-02 03:04:05", False, ms(2024, 1, 2, 3, 4, 5)),
        ("1700000000000", False, 1_700_000_000_000),
    ],
)
def test_grafana_time_syntax(expression: str, round_up: bool, expected: int) -> None:
    assert parse_time(expression, NOW, round_up=round_up) == expected


def test_monday_weeks_when_the_dashboard_says_so() -> None:
    assert parse_time("now/w", NOW, week_start="monday") == ms(2024, 1, 29)


def test_range_rounds_the_end_up() -> None:
    assert parse_time_range("now/d", "now/d", NOW) == (ms(2024, 1, 31), ms(2024, 2, 1) - 1)


@pytest.mark.parametrize(
    ("time_from", "time_to", "message"),
    [
        ("now", "now-1h", "'from' must be before 'to'"),
        ("now-1x", "now", "now-1x"),
        ("yesterday", "now", "yesterday"),
        ("now-6h", "", "empty"),
        ("now-6h", "now/q", "now/q"),
    ],
)
def test_bad_times_are_errors_naming_the_expression(
    time_from: str, time_to: str, message: str
) -> None:
    with pytest.raises(TimeParseError, match=re.escape(message)):
        parse_time_range(time_from, time_to, NOW)


def test_a_time_is_a_value_error_for_the_api() -> None:
    with pytest.raises(ValueError, match="not a string or a number"):
        parse_time(None, NOW)  # type: ignore[arg-type]


NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


def test_rounding_and_zoneless_dates_follow_the_dashboards_zone() -> None:
    # Midnight in New York (UTC-5 in January) is 05:00 UTC.
    assert parse_time("now/d", NOW, tz=NEW_YORK) == ms(2024, 1, 31, 5)
    assert parse_time("now/d", NOW, round_up=True, tz=NEW_YORK) == ms(2024, 2, 1, 5) - 1
    assert parse_time("2024-01-02T03:04:05", NOW, tz=BERLIN) == ms(2024, 1, 2, 2, 4, 5)
    # An explicit offset wins over the zone.
    assert parse_time("2024-01-02T03:04:05Z", NOW, tz=BERLIN) == ms(2024, 1, 2, 3, 4, 5)


def test_days_are_calendar_days_and_hours_absolute_across_daylight_saving() -> None:
    # Berlin moves to summer time at 01:00 UTC on 2024-03-31: that day has 23 hours.
    noon = ms(2024, 3, 31, 12)
    assert parse_time("now-1d", noon, tz=BERLIN) == ms(2024, 3, 30, 13)
    assert parse_time("now-24h", noon, tz=BERLIN) == ms(2024, 3, 30, 12)
    assert parse_time("now/d", noon, tz=BERLIN) == ms(2024, 3, 30, 23)


@pytest.mark.parametrize(
    "expression",
    [
        "now-99999999999999m",  # past what timedelta holds: was an OverflowError (a 500)
        "now+9999999999d",
        "now-999999999999999999s",
        "10000000000000000",  # epoch ms in the year 318857: later steps cannot date it
        "1000000000000000000000000000000",
        2**63,
    ],
)
def test_a_time_past_what_a_date_holds_is_out_of_range(expression: str | int) -> None:
    with pytest.raises(TimeParseError, match="out of range"):
        parse_time(expression, NOW)


def test_the_years_one_to_9999_are_in_range() -> None:
    assert parse_time("253402128000000", NOW) == ms(9999, 12, 30)
    assert parse_time("now-2023y", NOW) == ms(1, 1, 31, 15, 45, 30) + 250
