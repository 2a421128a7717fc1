"""Reduce a series to one number (Grafana's ``reduceOptions.calcs``); thin long series to draw."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

Point = tuple[float, float]


def _non_null(values: Sequence[float | None]) -> list[float]:
    return [v for v in values if v is not None]


def _first_not_null(values: Sequence[float | None]) -> float | None:
    return next((v for v in values if v is not None), None)


def _last_not_null(values: Sequence[float | None]) -> float | None:
    return next((v for v in reversed(values) if v is not None), None)


def _mean(values: Sequence[float | None]) -> float | None:
    present = _non_null(values)
    return sum(present) / len(present) if present else None


def _max(values: Sequence[float | None]) -> float | None:
    return max(_non_null(values), default=None)


def _min(values: Sequence[float | None]) -> float | None:
    return min(_non_null(values), default=None)


def _sum(values: Sequence[float | None]) -> float | None:
    present = _non_null(values)
    return sum(present) if present else None


def _range(values: Sequence[float | None]) -> float | None:
    present = _non_null(values)
    return max(present) - min(present) if present else None


def _diff(values: Sequence[float | None]) -> float | None:
    first, last = _first_not_null(values), _last_not_null(values)
    return last - first if first is not None and last is not None else None


def _delta(values: Sequence[float | None]) -> float | None:
    # Grafana's "delta" sums increases and treats a drop as a counter reset.
    present = _non_null(values)
    if not present:
        return None
    total = 0.0
    for previous, current in itertools.pairwise(present):
        total += current - previous if current >= previous else current
    return total


REDUCERS: dict[str, Callable[[Sequence[float | None]], float | None]] = {
    "lastNotNull": _last_not_null,
    "last": lambda values: values[-1] if values else None,
    "firstNotNull": _first_not_null,
    "first": lambda values: values[0] if values else None,
    "mean": _mean,
    "max": _max,
    "min": _min,
    "sum": _sum,
    "count": lambda values: float(len(values)),
    "range": _range,
    "diff": _diff,
    "delta": _delta,
    "allIsNull": lambda values: float(not _non_null(values)),
    "allIsZero": lambda values: float(bool(values) and all(v == 0 for v in values)),
    "changeCount": lambda values: float(sum(1 for a, b in itertools.pairwise(values) if a != b)),
}

# Grafana's legacy singlestat ``valueName`` and older aliases, mapped onto the calcs above.
ALIASES = {"current": "lastNotNull", "avg": "mean", "total": "sum", "delta": "delta"}


def reduce_values(values: Sequence[float | None], calc: str) -> float | None:
    """The ``calc`` of ``values`` (``None`` when there is nothing to reduce).

    Unknown calcs fall back to ``lastNotNull``, Grafana's default.
    """
    reducer = REDUCERS.get(ALIASES.get(calc, calc), _last_not_null)
    return reducer(values)


def lttb(points: Sequence[Point], threshold: int) -> list[Point]:
    """Largest-Triangle-Three-Buckets: at most ``threshold`` points that keep the visual shape.

    Keeps the first and last point; returns the input unchanged when it is already small enough.
    """
    picked = _lttb_indices([p[0] for p in points], [p[1] for p in points], threshold)
    return [points[i] for i in picked]


def _lttb_indices(xs: Sequence[float], ys: Sequence[float], threshold: int) -> list[int]:
    """The indices :func:`lttb` keeps of the points ``zip(xs, ys)``, ascending."""
    count = len(xs)
    if threshold >= count:
        return list(range(count))
    if threshold < 3:
        return [0, count - 1][: max(threshold, 0)]
    picked = [0]
    bucket = (count - 2) / (threshold - 2)
    chosen = 0
    for index in range(threshold - 2):
        start = int(index * bucket) + 1
        end = int((index + 1) * bucket) + 1
        next_end = min(int((index + 2) * bucket) + 1, count)
        # The average of the next bucket is the third corner of each candidate triangle.
        if next_end > end:
            avg_x = sum(xs[end:next_end]) / (next_end - end)
            avg_y = sum(ys[end:next_end]) / (next_end - end)
        else:
            avg_x, avg_y = xs[-1], ys[-1]
        ax, ay = xs[chosen], ys[chosen]
        dx, dy = ax - avg_x, avg_y - ay
        best, best_area = start, -1.0
        for candidate in range(start, min(end, count - 1)):
            area = abs(dx * (ys[candidate] - ay) - (ax - xs[candidate]) * dy)
            if area > best_area:
                best, best_area = candidate, area
        picked.append(best)
        chosen = best
    picked.append(count - 1)
    return picked


def segments(times: Sequence[float], values: Sequence[float | None]) -> list[list[Point]]:
    """Runs of consecutive non-null points: a null is a gap in the line, as in Grafana."""
    runs: list[list[Point]] = []
    current: list[Point] = []
    for t, v in zip(times, values, strict=False):
        if v is None:
            if current:
                runs.append(current)
                current = []
        else:
            current.append((t, v))
    if current:
        runs.append(current)
    return runs


def downsample(
    times: Sequence[float], values: Sequence[float | None], budget: int
) -> list[list[Point]]:
    """The series' non-null runs, thinned with LTTB to at most ``budget`` points in all.

    With few gaps each run gets a share of the budget proportional to its length, and keeps at
    least its two end points. With more runs than that allows (a series full of gaps), LTTB
    picks ``budget`` points from the whole series and the line is broken wherever a gap lay
    between two picked points, so the points drawn never exceed the budget.
    """
    runs = segments(times, values)
    total = sum(len(run) for run in runs)
    if total <= budget:
        return runs
    spare = budget - 2 * len(runs)
    if spare >= 0:
        return [lttb(run, 2 + spare * len(run) // total) for run in runs]
    return _thin_across_gaps(runs, budget)


def _thin_across_gaps(runs: list[list[Point]], budget: int) -> list[list[Point]]:
    points = [point for run in runs for point in run]
    run_of = [number for number, run in enumerate(runs) for _ in run]
    picked = _lttb_indices([p[0] for p in points], [p[1] for p in points], budget)
    thinned: list[list[Point]] = []
    previous = -1
    for index in picked:
        if previous < 0 or run_of[index] != run_of[previous]:
            thinned.append([])
        thinned[-1].append(points[index])
        previous = index
    return thinned
