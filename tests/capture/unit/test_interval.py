"""Grafana's step rules, checked against Grafana's own step tables.

The cases of ``TestCalculatePrometheusInterval``, ``TestCalculateRateInterval``, ``TestParse``
and ``TestAlignTimeRange`` (grafana/grafana ``pkg/promlib/models``), rewritten as data: each
row is the inputs Grafana's test gives and the step (or rate interval, or aligned time) it
expects.
"""

from __future__ import annotations

import pytest

from snapshot_server.capture.interval import (
    IntervalError,
    align,
    calculate_interval_ms,
    format_go_duration,
    format_interval,
    parse_interval_ms,
    prometheus_step_ms,
    rate_interval_ms,
    round_interval_ms,
)

S = 1_000
M = 60 * S
H = 60 * M
D = 24 * H

# (min step, scrape interval, intervalMs, intervalFactor, range, maxDataPoints) -> step
STEP_TABLE = [
    ("min step bigger than calculated", "10m", 15 * S, 5 * M, 1, 48 * H, 761, 10 * M),
    ("calculated bigger than min step", "2m", 15 * S, 5 * M, 1, 48 * H, 761, 5 * M),
    ("min step 2m, intervalMs 15m", "2m", 15 * S, 15 * M, 1, 48 * H, 175, 15 * M),
    ("12h range, no intervalMs", "", 15 * S, 0, 1, 12 * H, 0, 30 * S),
    ("1h range, no intervalMs", "", 15 * S, 0, 1, 1 * H, 0, 15 * S),
    ("high intervalFactor", "", 15 * S, 0, 10, 48 * H, 0, 20 * M),
    ("low intervalFactor", "", 15 * S, 0, 1, 48 * H, 0, 2 * M),
    ("scrape interval 240s", "", 240 * S, 0, 1, 48 * H, 0, 4 * M),
    ("intervalFactor 0 means 1", "", 15 * S, 0, 0, 1 * H, 0, 15 * S),
    ("$__interval as min step", "$__interval", 15 * S, 1 * M, 1, 48 * H, 0, 2 * M),
    ("${__interval} as min step", "${__interval}", 15 * S, 1 * M, 1, 48 * H, 0, 2 * M),
    ("explicit 1m min step", "1m", 15 * S, 1 * M, 1, 48 * H, 0, 2 * M),
    ("$__rate_interval", "$__rate_interval", 30 * S, 100 * S, 1, 2 * D, 12384, 130 * S),
    ("${__rate_interval}", "${__rate_interval}", 30 * S, 100 * S, 1, 2 * D, 12384, 130 * S),
    ("min step 150s over 100s", "150s", 30 * S, 100 * S, 1, 2 * D, 12384, 150 * S),
    ("min step 150s over 120s", "150s", 30 * S, 120 * S, 1, 2 * D, 12384, 150 * S),
    ("min step 120s", "120s", 30 * S, 120 * S, 1, 2 * D, 12384, 120 * S),
    ("30s everywhere, 1h", "30s", 30 * S, 30 * S, 1, 1 * H, 12384, 30 * S),
    ("rate min step, 1h", "$__rate_interval", 30 * S, 30 * S, 1, 1 * H, 12384, 2 * M),
    ("rate min step, 2d", "$__rate_interval", 30 * S, 120 * S, 1, 2 * D, 12384, 150 * S),
    ("interval min step, 2d", "$__interval", 15 * S, 120 * S, 1, 2 * D, 12384, 120 * S),
    ("no scrape interval: 15s", "", 15 * S, 0, 1, 1 * H, 0, 15 * S),
    ("very short range", "", 15 * S, 0, 1, 1 * M, 0, 15 * S),
    ("very long range", "", 15 * S, 0, 1, 30 * D, 0, 30 * M),
    ("manual 5m min step", "5m", 15 * S, 0, 1, 48 * H, 0, 5 * M),
    ("auto, 30s scrape, 1h", "", 30 * S, 30 * S, 1, 1 * H, 1613, 30 * S),
    ("auto, 15s scrape, 5m", "", 15 * S, 15 * S, 1, 5 * M, 1055, 15 * S),
    ("$__interval_ms as min step", "$__interval_ms", 15 * S, 1 * M, 1, 48 * H, 0, 2 * M),
    ("${__interval_ms} as min step", "${__interval_ms}", 15 * S, 1 * M, 1, 48 * H, 0, 2 * M),
    ("maxDataPoints 0 means 1500", "", 15 * S, 0, 1, 1 * H, 0, 15 * S),
    ("very small maxDataPoints", "", 15 * S, 0, 1, 1 * H, 10, 5 * M),
    ("large maxDataPoints", "", 15 * S, 0, 1, 1 * H, 10000, 15 * S),
]


@pytest.mark.parametrize(
    ("min_step", "scrape", "interval_ms", "factor", "range_ms", "points", "step"),
    [row[1:] for row in STEP_TABLE],
    ids=[row[0] for row in STEP_TABLE],
)
def test_step_matches_grafanas_table(
    min_step: str,
    scrape: int,
    interval_ms: int,
    factor: int,
    range_ms: int,
    points: int,
    step: int,
) -> None:
    assert (
        prometheus_step_ms(
            range_ms=range_ms,
            max_data_points=points,
            query_interval_ms=interval_ms,
            min_step=min_step,
            scrape_interval_ms=scrape,
            interval_factor=factor,
        )
        == step
    )


def test_the_11000_points_rule_raises_a_fine_step() -> None:
    # 30 days at 100,000 points would be 25.9 s; Prometheus keeps at most 11,000 points a
    # series, so Grafana raises the step to round(30 d / 11,000) = round(235.6 s) = 5m.
    step = prometheus_step_ms(
        range_ms=30 * D,
        max_data_points=100_000,
        query_interval_ms=1,
        min_step="",
        scrape_interval_ms=15 * S,
        interval_factor=1,
    )
    assert step == 5 * M
    assert 30 * D // step <= 11_000


def test_an_unreadable_min_step_is_an_error_naming_it() -> None:
    with pytest.raises(IntervalError, match="invalid-interval"):
        prometheus_step_ms(
            range_ms=48 * H,
            max_data_points=0,
            query_interval_ms=0,
            min_step="invalid-interval",
            scrape_interval_ms=15 * S,
            interval_factor=1,
        )


RATE_TABLE = [
    (100 * S, 30 * S, 130 * S),
    (60 * S, 30 * S, 120 * S),
    (30 * S, 15 * S, 60 * S),
    (5 * M, 1 * M, 6 * M),
    (2 * M, 1 * M, 4 * M),
    (0, 30 * S, 120 * S),
    (10 * S, 30 * S, 120 * S),
    (10 * M, 30 * S, 630 * S),
    (10 * S, 5 * S, 20 * S),
    (2 * H, 1 * H, 4 * H),
    (45 * S, 15 * S, 60 * S),
    (50 * S, 10 * S, 60 * S),
    (1 * M, 2 * M, 8 * M),
]


@pytest.mark.parametrize(("interval", "scrape", "expected"), RATE_TABLE)
def test_rate_interval_matches_grafanas_table(interval: int, scrape: int, expected: int) -> None:
    assert rate_interval_ms(interval, scrape) == expected


@pytest.mark.parametrize(
    ("time_ms", "step", "offset_s", "expected"),
    [
        (1664816826 * S, 10 * S, 0, 1664816820 * S),
        (1664816825 * S + 5, 10, 0, 1664816825 * S),
        (1664816825 * S + 5, 2 * S, -3, 1664816825 * S),
        # A week-long step starts every range on a Thursday (the epoch's weekday).
        (1704672000 * S, 604800 * S, 0, 1704326400 * S),
    ],
)
def test_align_matches_grafanas_table(
    time_ms: int, step: int, offset_s: int, expected: int
) -> None:
    assert align(time_ms, step, offset_s) == expected


@pytest.mark.parametrize(
    ("raw", "rounded"),
    [
        (10, 1),
        (11, 10),
        (15, 10),
        (16, 20),
        (1_500, 1_000),
        (1_501, 2_000),
        (28_800, 30_000),
        (45_000, 30_000),
        (45_001, 60_000),
        (115_200, 120_000),
        (86_400_000, 43_200_000),
        (604_800_000, 86_400_000),
        (1_814_400_000, 604_800_000),
        (3_628_799_999, 2_592_000_000),
        (3_628_800_000, 31_536_000_000),
    ],
)
def test_round_interval_table_edges(raw: int, rounded: int) -> None:
    assert round_interval_ms(raw) == rounded


def test_browser_interval_rounds_then_applies_the_lower_limit() -> None:
    # 6 h over 960 points is 22.5 s, rounded to 20 s; a 30 s lower limit wins over it.
    assert calculate_interval_ms(6 * H, 960, 15 * S) == 20 * S
    assert calculate_interval_ms(6 * H, 960, 30 * S) == 30 * S
    # No lower limit is 1 ms, and the rounding table's floor is 1 ms too.
    assert calculate_interval_ms(1_000, 1_000, None) == 1


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("15s", 15 * S),
        ("1m30s", 90 * S),
        ("500ms", 500),
        ("1.5s", 1_500),
        ("<10s>", 10 * S),
        ("30", 30 * S),
        ("2d", 2 * D),
        ("1w", 7 * D),
        ("1h", H),
    ],
)
def test_parse_interval(text: str, ms: int) -> None:
    assert parse_interval_ms(text) == ms


@pytest.mark.parametrize("text", ["", "5x", "s", "1m x", "1.2.3s"])
def test_parse_interval_rejects_nonsense(text: str) -> None:
    with pytest.raises(IntervalError):
        parse_interval_ms(text)


@pytest.mark.parametrize(
    ("ms", "grafana", "go"),
    [
        (120 * S, "2m", "2m0s"),
        (135 * S, "2m", "2m15s"),
        (H, "1h", "1h0m0s"),
        (30 * S, "30s", "30s"),
        (500, "500ms", "500ms"),
        (1_500, "1s", "1.5s"),
        (2 * D, "2d", "48h0m0s"),
        (0, "1ms", "0s"),
    ],
)
def test_interval_formats(ms: int, grafana: str, go: str) -> None:
    assert format_interval(ms) == grafana
    assert format_go_duration(ms) == go
