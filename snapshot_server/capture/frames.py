"""A Prometheus answer to data frames, field by field as Grafana's Prometheus backend builds
them, in the JSON form a snapshot stores.

Grafana's backend converts each series to one frame (``Time`` then the value field, whose
labels are the series' labels), names the value field after the ``__name__`` label (``Value``
without one), sets ``config.interval`` (the step in ms) on the time field and
``config.displayNameFromDS`` from the target's legend format, and puts the executed query and
the step (``executedQueryString``, ``custom.calculatedMinStep``) on a query's first frame; a
query without series still yields one empty frame carrying them. The browser gives each frame
its target's ``refId`` and a snapshot stores it as ``dataFrameToJSON`` writes it:
``{"schema", "data": {"values"}}``, NaN and ±Inf as ``null``, every field's ``config`` present
(``{}`` when empty). What the browser's Prometheus support then does across a panel's frames
(legend ``__auto``, table format, ``preferredVisualisationType``) is ``browser.panel_frames``.

Range queries answer a matrix (``meta.type`` ``timeseries-multi``), instant queries a vector
or a scalar (``numeric-multi``); both at ``typeVersion`` [0, 1].
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from .interval import format_go_duration
from .model import PlannedQuery, QueryResult

__all__ = ["FrameError", "count_points", "display_name", "query_frames", "series_and_points"]

AUTO_LEGEND = "__auto"
_LEGEND_LABEL = re.compile(r"\{\{\s*(.+?)\s*\}\}")
_TIME_FIELD_TYPE = {"frame": "time.Time"}
_VALUE_FIELD_TYPE = {"frame": "float64"}
_FRAME_TYPES = {
    "matrix": ("timeseries-multi", [0, 1]),
    "vector": ("numeric-multi", [0, 1]),
    "scalar": ("numeric-multi", [0, 1]),
}


class FrameError(ValueError):
    """A Prometheus ``data`` that is not a matrix, vector or scalar as the API documents them."""


def query_frames(result: QueryResult) -> list[dict[str, Any]]:
    """The frames of one query's answer, in Prometheus's series order."""
    query = result.query
    result_type = result.data.get("resultType")
    raw = result.data.get("result")
    if not isinstance(result_type, str) or result_type not in _FRAME_TYPES:
        raise FrameError(
            f"Prometheus answered a {result_type!r} result; capture reads only "
            "matrix, vector and scalar results"
        )
    series = _series(result_type, raw)
    frames = [
        _series_frame(query, result_type, labels, stamps, values)
        for labels, stamps, values in series
    ]
    if not frames:
        frames = [
            {"schema": {"refId": query.ref_id, "meta": {}, "fields": []}, "data": {"values": []}}
        ]
    first_meta = frames[0]["schema"]["meta"]
    first_meta["executedQueryString"] = executed_query_string(query)
    first_meta.setdefault("custom", {})["calculatedMinStep"] = query.step_ms
    return frames


def executed_query_string(query: PlannedQuery) -> str:
    """What Grafana's query inspector shows for a query: its expression and Go-formatted step."""
    return f"Expr: {query.expr}\nStep: {format_go_duration(query.step_ms)}"


def count_points(frames: list[dict[str, Any]]) -> int:
    """Rows over all ``frames`` (a frame's row count is its time field's length)."""
    return sum(len(frame["data"]["values"][0]) for frame in frames if frame["data"]["values"])


def series_and_points(data: Mapping[str, Any]) -> tuple[int, int]:
    """Series and points of a Prometheus ``data`` that :func:`query_frames` accepts, counted
    without converting it (native histograms, which are not captured, are not counted)."""
    result_type = data.get("resultType")
    raw = data.get("result")
    if result_type == "scalar":
        return 1, 1
    series = points = 0
    for entry in raw if isinstance(raw, list) else ():
        if not isinstance(entry, Mapping):
            continue
        if result_type == "matrix" and isinstance(entry.get("values"), list):
            series += 1
            points += len(entry["values"])
        elif result_type == "vector" and "value" in entry:
            series += 1
            points += 1
    return series, points


def display_name(query: PlannedQuery, labels: Mapping[str, str]) -> str:
    """Grafana's ``displayNameFromDS`` for a series (``""``: none).

    ``{{label}}`` in the legend format takes the label's value (``""`` when absent); the
    ``__auto`` legend names only a series without labels; no legend format names the series
    ``metric{a="1", b="2"}``; a series that would be named ``{}`` is named by the expression.
    """
    legend = _metric_name(labels)
    if query.legend_format == AUTO_LEGEND:
        if labels:
            legend = ""
    elif query.legend_format:
        legend = _LEGEND_LABEL.sub(
            lambda m: labels.get(m.group(1).strip(), ""), query.legend_format
        )
    return query.expr if legend == "{}" else legend


def _metric_name(labels: Mapping[str, str]) -> str:
    pairs = sorted(
        f"{name}={json.dumps(value, ensure_ascii=False)}"
        for name, value in labels.items()
        if name != "__name__"
    )
    name = labels.get("__name__")
    if not pairs:
        return name if name is not None else "{}"
    return f"{name or ''}{{{', '.join(pairs)}}}"


_Series = list[tuple[dict[str, str], list[int], list[float | None]]]


def _series(result_type: str, raw: object) -> _Series:
    if result_type == "scalar":
        return [({}, *_samples([raw]))]
    if not isinstance(raw, list):
        raise FrameError(f"a {result_type} result is a list of series")
    found: _Series = []
    for entry in raw:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("metric", {}), Mapping):
            raise FrameError("a series is an object with a 'metric' object")
        labels = {str(k): str(v) for k, v in entry.get("metric", {}).items()}
        if result_type == "matrix":
            samples = entry.get("values")
            if samples is None and "histograms" in entry:
                continue  # native histograms are not captured
            if not isinstance(samples, list):
                raise FrameError("a matrix series has a 'values' list")
            found.append((labels, *_samples(samples)))
        else:
            if "value" not in entry and "histogram" in entry:
                continue
            found.append((labels, *_samples([entry.get("value")])))
    return found


_MAX_STAMP_MS = 2**53


def _samples(raw: list[Any]) -> tuple[list[int], list[float | None]]:
    """Epoch milliseconds and values of ``[seconds, "value"]`` pairs (a hot loop: a capture
    converts every point it embeds)."""
    try:
        stamps = [round(float(stamp) * 1000) for stamp, _ in raw]
        values = [float(text) for _, text in raw]
    except (TypeError, ValueError, OverflowError):  # OverflowError: a time of "inf"
        raise FrameError('a sample is a [seconds, "number"] pair') from None
    # A time of 1e300 s is a number, but no date: the stored JSON (64-bit integers) and the
    # browser (integers up to 2**53) cannot hold it.
    if stamps and not -_MAX_STAMP_MS <= min(stamps) <= max(stamps) <= _MAX_STAMP_MS:
        raise FrameError("a sample's time is out of range")
    # JSON has no NaN or infinity: the browser's JSON.stringify writes them as null.
    # (v - v is 0 exactly when v is finite.)
    return stamps, [value if value - value == 0 else None for value in values]


def _series_frame(
    query: PlannedQuery,
    result_type: str,
    labels: dict[str, str],
    stamps: list[int],
    values: list[float | None],
) -> dict[str, Any]:
    frame_type, type_version = _FRAME_TYPES[result_type]
    name = display_name(query, labels)
    value_config: dict[str, Any] = {"displayNameFromDS": name} if name else {}
    return {
        "schema": {
            "refId": query.ref_id,
            "meta": {
                "type": frame_type,
                "typeVersion": list(type_version),
                "custom": {"resultType": result_type},
            },
            "fields": [
                {
                    "name": "Time",
                    "type": "time",
                    "typeInfo": dict(_TIME_FIELD_TYPE),
                    "config": {"interval": query.step_ms},
                },
                {
                    "name": labels.get("__name__", "Value"),
                    "type": "number",
                    "typeInfo": dict(_VALUE_FIELD_TYPE),
                    "labels": labels,
                    "config": value_config,
                },
            ],
        },
        "data": {"values": [stamps, values]},
    }
