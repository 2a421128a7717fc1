"""Reductions (Grafana's calcs) and downsampling for drawing."""

from __future__ import annotations

import itertools
import math

import pytest

from snapshot_server.viewer.reduce import downsample, lttb, reduce_values, segments

VALUES: list[float | None] = [None, 4.0, 1.0, None, 7.0, 2.0, None]


@pytest.mark.parametrize(
    ("calc", "expected"),
    [
        ("lastNotNull", 2.0),
        ("last", None),
        ("firstNotNull", 4.0),
        ("first", None),
        ("mean", 3.5),
        ("max", 7.0),
        ("min", 1.0),
        ("sum", 14.0),
        ("count", 7.0),
        ("range", 6.0),
        ("diff", -2.0),
        ("current", 2.0),  # legacy singlestat valueName
        ("avg", 3.5),
        ("total", 14.0),
        ("no-such-calc", 2.0),  # Grafana's default, lastNotNull
    ],
)
def test_calcs(calc: str, expected: float | None) -> None:
    assert reduce_values(VALUES, calc) == expected


def test_calcs_of_nothing_are_none() -> None:
    for calc in ("lastNotNull", "mean", "max", "min", "sum", "range", "last", "first"):
        assert reduce_values([], calc) is None
        assert reduce_values([None, None], calc) is None


def test_delta_counts_a_drop_as_counter_reset() -> None:
    assert reduce_values([1.0, 5.0, 2.0, 4.0], "delta") == 4.0 + 2.0 + 2.0


def test_segments_split_at_nulls() -> None:
    assert segments([1, 2, 3, 4, 5], [None, 1.0, None, 2.0, 3.0]) == [
        [(2, 1.0)],
        [(4, 2.0), (5, 3.0)],
    ]


def test_lttb_keeps_ends_and_peaks_and_respects_threshold() -> None:
    points = [(float(i), math.sin(i / 10.0)) for i in range(1000)]
    points[500] = (500.0, 50.0)  # a spike must survive
    thinned = lttb(points, 100)
    assert len(thinned) == 100
    assert thinned[0] == points[0]
    assert thinned[-1] == points[-1]
    assert (500.0, 50.0) in thinned
    assert [p[0] for p in thinned] == sorted(p[0] for p in thinned)


def test_lttb_returns_small_inputs_unchanged() -> None:
    points = [(1.0, 1.0), (2.0, 3.0)]
    assert lttb(points, 10) == points
    assert lttb([(float(i), 0.0) for i in range(10)], 2) == [(0.0, 0.0), (9.0, 0.0)]


def test_downsample_shares_the_budget_between_runs() -> None:
    times = [float(i) for i in range(1000)]
    values: list[float | None] = [float(i % 7) for i in range(1000)]
    values[250] = None
    runs = downsample(times, values, 200)
    assert len(runs) == 2
    assert 190 <= sum(len(run) for run in runs) <= 210
    assert len(runs[1]) > len(runs[0])  # the longer run gets the larger share
    assert downsample(times[:5], values[:5], 200) == [[(float(i), float(i)) for i in range(5)]]


def test_downsample_of_a_series_full_of_gaps_stays_within_budget() -> None:
    # 5,000 runs of two points: keeping the ends of every run would draw 10,000 points.
    times = [float(i) for i in range(15_000)]
    values: list[float | None] = [None if i % 3 == 2 else float(i % 11) for i in range(15_000)]
    runs = downsample(times, values, 300)
    assert sum(len(run) for run in runs) <= 300
    present = {t for t, v in zip(times, values, strict=True) if v is not None}
    for run in runs:
        # Every drawn point is real, and no line crosses a gap: a run's points were adjacent.
        assert all(t in present for t, _ in run)
        assert all(b[0] - a[0] == 1 for a, b in itertools.pairwise(run))
    assert runs[0][0] == (0.0, 0.0)
    assert runs[-1][-1] == (14_998.0, float(14_998 % 11))  # the last non-null point
