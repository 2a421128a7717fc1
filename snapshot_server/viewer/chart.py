"""Geometry of a time-series chart: scaled, downsampled paths, axis ticks, legend and hover data.

The plot is drawn in a fixed 1000 x 1000 SVG viewBox stretched to the panel (strokes do not scale),
so the server never needs to know the pixel size; axis labels are placed in percent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import orjson

from .colors import series_color
from .reduce import downsample
from .series import Series
from .units import format_time, format_value

VIEW = 1000.0
_TIME_STEPS_MS = [
    s * 1000
    for s in (
        1,
        2,
        5,
        10,
        15,
        30,
        60,
        120,
        300,
        600,
        900,
        1800,
        3600,
        7200,
        10800,
        21600,
        43200,
        86400,
        172800,
        604800,
        2592000,
        7776000,
        31536000,
    )
]


@dataclass(frozen=True, slots=True)
class Line:
    """One drawn series: a polyline ``d`` (may be empty) and ``dots`` for isolated points."""

    name: str
    color: str
    d: str
    dots: str


@dataclass(frozen=True, slots=True)
class Tick:
    """An axis label at ``pos`` percent along its axis (from the left, or from the top)."""

    pos: float
    label: str


@dataclass(frozen=True, slots=True)
class Chart:
    """Everything the template needs to draw one time-series panel."""

    lines: list[Line]
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    hover_json: str
    drawn_points: int  # points in all paths and dots: what the page budget is charged


def nice_step(span: float, count: int) -> float:
    """A 1/2/5 x 10^n step that cuts ``span`` into about ``count`` intervals."""
    raw = span / max(count, 1)
    magnitude = 10.0 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * magnitude >= raw)


def value_domain(
    series: list[Series],
    config_min: float | None,
    config_max: float | None,
) -> tuple[float, float, float]:
    """``(low, high, step)`` of the value axis: nice bounds around the data or configured ones."""
    present = [v for s in series for v in s.values if v is not None]
    low = config_min if config_min is not None else min(present, default=0.0)
    high = config_max if config_max is not None else max(present, default=1.0)
    if high < low:
        low, high = high, low
    if high == low:
        pad = abs(high) * 0.1 or 1.0
        low, high = low - pad, high + pad
    step = nice_step(high - low, 4)
    if config_min is None:
        low = math.floor(low / step) * step
    if config_max is None:
        high = math.ceil(high / step) * step
    return low, high, step


def time_domain(
    series: list[Series],
    dashboard_range: tuple[float, float] | None,
) -> tuple[float, float]:
    """The dashboard's time range when it overlaps the data, else the data's own extent."""
    first = min((s.times[0] for s in series if s.times), default=0.0)
    last = max((s.times[-1] for s in series if s.times), default=1.0)
    if dashboard_range and dashboard_range[0] < dashboard_range[1]:
        start, end = dashboard_range
        if start <= last and end >= first:
            return start, end
    if first == last:
        return first - 60_000, last + 60_000
    return first, last


def _time_ticks(start: float, end: float, count: int) -> list[Tick]:
    span = end - start
    step = next((s for s in _TIME_STEPS_MS if s * count >= span), _TIME_STEPS_MS[-1])
    tick = math.ceil(start / step) * step
    ticks: list[Tick] = []
    while tick <= end and len(ticks) < 50:
        ticks.append(Tick(round((tick - start) / span * 100, 3), format_time(tick, span)))
        tick += step
    return ticks


def _fmt(number: float) -> str:
    return f"{number:.1f}".rstrip("0").rstrip(".")


def build_chart(
    series: list[Series],
    *,
    unit: str,
    decimals: int | None,
    width_cols: int,
    points: int,
    dashboard_range: tuple[float, float] | None,
    config_min: float | None = None,
    config_max: float | None = None,
) -> Chart:
    """The drawable chart of ``series``, each downsampled to at most ``points`` points."""
    start, end = time_domain(series, dashboard_range)
    low, high, step = value_domain(series, config_min, config_max)

    def x_of(t: float) -> float:
        return (t - start) / (end - start) * VIEW

    def y_of(v: float) -> float:
        return VIEW - (v - low) / (high - low) * VIEW

    lines: list[Line] = []
    hover: list[dict[str, object]] = []
    drawn = 0
    for index, item in enumerate(series):
        runs = downsample(item.times, item.values, points)
        path: list[str] = []
        dots: list[str] = []
        readout: list[list[float | str]] = []
        for run in runs:
            drawn += len(run)
            coords = [(x_of(t), y_of(v)) for t, v in run]
            if len(coords) == 1:
                dots.append(f"M{_fmt(coords[0][0])} {_fmt(coords[0][1])}h0")
            else:
                # One decimal of a 1000-unit box is finer than any screen pixel.
                path.append("M" + "L".join([f"{x:.1f} {y:.1f}" for x, y in coords]))
            readout.extend(
                [round(x_of(t), 1), format_value(v, unit, decimals)]
                for t, v in run
                if start <= t <= end
            )
        color = series_color(item.config, index)
        lines.append(Line(item.name, color, "".join(path), "".join(dots)))
        hover.append({"n": item.name, "c": color, "p": readout})
    y_ticks: list[Tick] = []
    tick = low
    while tick <= high + step / 1000 and len(y_ticks) < 20:
        y_ticks.append(Tick(round(y_of(tick) / VIEW * 100, 3), format_value(tick, unit, decimals)))
        tick += step
    hover_json = orjson.dumps({"t0": start, "t1": end, "s": hover}).decode()
    return Chart(
        lines=lines,
        x_ticks=_time_ticks(start, end, max(3, width_cols // 2)),
        y_ticks=y_ticks,
        drawn_points=drawn,
        # Safe inside <script type="application/json">: no "<", ">" or "&" can end the element.
        hover_json=hover_json.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026"),
    )
