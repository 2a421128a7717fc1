"""Series: the numeric fields of a panel's frames against time, named as Grafana's legend names
them, and chosen within the page's budget (how many series, how many raw points read).

Nothing here raises on odd input: unreadable values are gaps, unusable fields are skipped.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from .data import JSON, Field, Frame, as_str, field_kind, to_epoch_ms, to_number

# Field names Grafana gives value columns when the datasource had nothing better to call them.
_GENERIC_NAMES = frozenset({"", "value", "values", "__value__"})


@dataclass(frozen=True, slots=True)
class Series:
    """A numeric field against time: ``times`` in epoch ms, ``values`` with ``None`` for gaps.

    ``times`` and ``values`` have the same length and ``times`` is sorted ascending.
    """

    name: str
    times: list[float]
    values: list[float | None]
    config: dict[str, JSON]
    read_every: int = 1  # > 1: only every n-th raw point was read (see ``select_series``)
    raw_points: int = 0  # raw points in the snapshot, when ``read_every`` > 1


@dataclass(frozen=True, slots=True)
class SeriesSet:
    """The series of a chart, and how many more had data but were left out (``limit``)."""

    series: list[Series]
    hidden: int


def display_name(fld: Field, frame: Frame, defaults: dict[str, JSON]) -> str:
    """The legend name Grafana would show: ``displayNameFromDS``, ``displayName``, then the name.

    A generic name ("Value") is replaced by the series labels, else by the frame's name.
    """
    for source in (fld.config, defaults):
        for key in ("displayNameFromDS", "displayName"):
            name = as_str(source.get(key))
            if name:
                return name
    labels = ", ".join(f'{k}="{v}"' for k, v in fld.labels.items())
    generic = fld.name.strip().lower() in _GENERIC_NAMES
    if labels:
        if generic:
            return next(iter(fld.labels.values())) if len(fld.labels) == 1 else "{" + labels + "}"
        return f"{fld.name} {{{labels}}}"
    if generic and frame.name:
        return frame.name
    return fld.name or frame.name or "Value"


def frame_series(frames: list[Frame], defaults: dict[str, JSON]) -> list[Series]:
    """Numeric fields against their frame's time field, sorted by time; all-null ones skipped."""
    return select_series(frames, defaults).series


def count_series(frames: list[Frame]) -> int:
    """An upper bound of the series in ``frames`` (numeric fields beside a time field), cheaply:
    fields are not read, so all-null ones count too."""
    total = 0
    for frame in frames:
        kinds = [field_kind(f) for f in frame.fields]
        if "time" in kinds:
            total += sum(1 for kind in kinds if kind == "number")
    return total


def _has_number(fld: Field) -> bool:
    return any(to_number(v) is not None for v in fld.values)


def select_series(
    frames: list[Frame],
    defaults: dict[str, JSON],
    *,
    limit: int | None = None,
    max_points: int | None = None,
) -> SeriesSet:
    """:func:`frame_series`, stopping after ``limit`` series and reading at most ``max_points``
    raw points of each: a longer series is read at every n-th point (stride), so its cost is
    bounded before any conversion. Series past ``limit`` are only counted, not read.
    """
    result: list[Series] = []
    hidden = 0
    for frame in frames:
        time_field = next((f for f in frame.fields if field_kind(f) == "time"), None)
        if time_field is None:
            continue
        numeric = [f for f in frame.fields if f is not time_field and field_kind(f) == "number"]
        if limit is not None and len(result) >= limit:
            hidden += sum(1 for fld in numeric if _has_number(fld))
            continue
        raw = len(time_field.values)
        step = 1 if max_points is None or raw <= max_points else -(-raw // max(1, max_points))
        times = [to_epoch_ms(v) for v in time_field.values[::step]]
        for fld in numeric:
            if limit is not None and len(result) >= limit:
                hidden += 1 if _has_number(fld) else 0
                continue
            pairs = [
                (t, to_number(v))
                for t, v in zip(times, fld.values[::step], strict=False)
                if t is not None
            ]
            if not any(v is not None for _, v in pairs):
                continue
            if any(a[0] > b[0] for a, b in itertools.pairwise(pairs)):
                pairs.sort(key=lambda pair: pair[0])
            result.append(
                Series(
                    name=display_name(fld, frame, defaults),
                    times=[t for t, _ in pairs],
                    values=[v for _, v in pairs],
                    config=fld.config,
                    read_every=step,
                    raw_points=min(raw, len(fld.values)) if step > 1 else 0,
                )
            )
    return SeriesSet(result, hidden)


def numeric_fields(
    frames: list[Frame], defaults: dict[str, JSON], limit: int | None = None
) -> list[tuple[str, Field]]:
    """``(display name, field)`` for every numeric field of every frame (the first ``limit``)."""
    found = (
        (frame, fld) for frame in frames for fld in frame.fields if field_kind(fld) == "number"
    )
    return [
        (display_name(fld, frame, defaults), fld) for frame, fld in itertools.islice(found, limit)
    ]


def count_numeric_fields(frames: list[Frame]) -> int:
    """How many numeric fields ``frames`` hold (what :func:`numeric_fields` would return)."""
    return sum(1 for frame in frames for fld in frame.fields if field_kind(fld) == "number")
