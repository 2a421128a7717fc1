"""Value formatting in Grafana's simple units."""

from __future__ import annotations

import pytest

from snapshot_server.viewer.units import format_time, format_timestamp, format_value


@pytest.mark.parametrize(
    ("value", "unit", "decimals", "expected"),
    [
        (72.25, "percent", None, "72.3%"),  # half up, as Grafana (JavaScript) rounds
        (0.4567, "percentunit", None, "45.7%"),
        (100, "percent", 2, "100.00%"),
        (1536, "bytes", None, "1.5 KiB"),
        (1.5 * 2**30, "bytes", None, "1.5 GiB"),
        (1500, "decbytes", None, "1.5 kB"),
        (0, "bytes", None, "0 B"),
        (42.5, "s", None, "42.5 s"),
        (90000, "s", None, "1.04 day"),
        (0.25, "s", None, "250 ms"),
        (1500, "ms", None, "1.5 s"),
        (236.9166, "ms", None, "237 ms"),
        (6600, "short", None, "6.6 K"),
        (2_500_000, "short", None, "2.5 Mil"),
        (999, "short", None, "999"),
        (3.14159, "", None, "3.14"),
        (3.14159, "none", 3, "3.142"),
        (0.000123, "", None, "0.00012"),
        (-0.5, "", None, "-0.5"),
        (5, "suffix: req", None, "5 req"),
        (5, "furlongs", None, "5"),  # unknown units: the plain number
        (1.7e308, "", None, "1.7e+308"),
        (None, "percent", None, "No data"),
    ],
)
def test_format_value(value: float | None, unit: str, decimals: int | None, expected: str) -> None:
    assert format_value(value, unit, decimals) == expected


def test_time_labels_get_finer_for_short_ranges() -> None:
    moment = 1_763_780_445_000.0  # 2025-11-22T03:00:45Z
    assert format_time(moment, 60_000) == "03:00:45"
    assert format_time(moment, 3_600_000) == "03:00"
    assert format_time(moment, 3 * 86_400_000) == "11/22 03:00"
    assert format_time(moment, 30 * 86_400_000) == "11/22"
    assert format_timestamp(moment) == "2025-11-22 03:00:45"
    assert format_timestamp(1e300) == "1e+300"
