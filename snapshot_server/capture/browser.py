"""What Grafana's browser does to a panel's Prometheus frames before a snapshot stores them.

Grafana's Prometheus support post-processes every answer in the browser (``transformV2``) and
a snapshot stores the result, so a snapshot built without a browser must do the same, per
request (one per datasource of a panel):

- a target with the ``__auto`` legend gets, on each value field named after its metric, the
  display name Grafana's ``getFieldDisplayName`` gives a field named ``Value`` with its labels
  (``up{job="api"}``, or the value of the one label all series share);
- frames of ``format: "table"`` targets become one table frame per target: ``Time``, one
  string column per label (sorted, ``filterable``), then ``Value`` (``Value #<refId>`` when
  several targets are tables), rows sorted by time, ``preferredVisualisationType``
  ``"rawPrometheus"``;
- frames of ``format: "heatmap"`` targets are named after their ``le`` label, grouped by their
  other labels, sorted by ``le``, de-accumulated (each bucket less the one below it, below
  1e-9 counted as 0) and merged into one ``heatmap-rows`` frame per group;
- every other frame is marked ``preferredVisualisationType: "graph"``.

The answer is the graphs, then the tables, then the heatmaps, as Grafana orders them.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping
from typing import Any

from .frames import query_frames
from .model import QueryResult

__all__ = ["panel_frames"]

_Frame = dict[str, Any]


def panel_frames(results: list[QueryResult]) -> list[_Frame]:
    """The frames a snapshot of a panel holds, given its queries' results in target order."""
    by_datasource: dict[str, list[QueryResult]] = {}
    for result in results:
        by_datasource.setdefault(result.query.datasource.name, []).append(result)
    frames: list[_Frame] = []
    for group in by_datasource.values():
        frames.extend(_one_request(group))
    return frames


def _one_request(results: list[QueryResult]) -> list[_Frame]:
    frames = [frame for result in results for frame in query_frames(result)]
    formats = {result.query.ref_id: result.query.format for result in results}
    auto = {result.query.ref_id for result in results if result.query.legend_format == "__auto"}
    if auto:
        # Once per request, not per field: it reads every frame's labels, which naming keeps.
        single = _single_label_name(frames)
        for frame in frames:
            if _ref(frame) in auto:
                _auto_display_name(frame, single)
    tables = [frame for frame in frames if formats.get(_ref(frame)) == "table"]
    heatmaps = [frame for frame in frames if formats.get(_ref(frame)) == "heatmap"]
    others = [frame for frame in frames if formats.get(_ref(frame)) not in ("table", "heatmap")]
    for frame in others:
        frame["schema"]["meta"]["preferredVisualisationType"] = "graph"
    return others + _to_tables(tables) + _to_heatmaps(heatmaps)


def _ref(frame: _Frame) -> str:
    return str(frame["schema"].get("refId", ""))


def _auto_display_name(frame: _Frame, single: str | None) -> None:
    for field in frame["schema"]["fields"]:
        labels = field.get("labels") or {}
        if labels.get("__name__") and labels["__name__"] == field["name"]:
            field["config"]["displayNameFromDS"] = _value_display_name(labels, single)


def _value_display_name(labels: Mapping[str, str], single: str | None) -> str:
    # getFieldDisplayName of a field named "Value" in a frame without a name: its labels,
    # or only the value of ``single``, the one label name every labelled field of the
    # request's frames shares (``_single_label_name``).
    if single is None:
        return _format_labels(labels) or "Value"
    return labels.get(single) or "Value"


def _single_label_name(frames: list[_Frame]) -> str | None:
    single: str | None = None
    for frame in frames:
        for field in frame["schema"]["fields"]:
            for name in field.get("labels") or {}:
                if single is None:
                    single = name
                elif name != single:
                    return None
    return single


def _format_labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    pairs = ", ".join(f'{key}="{labels[key]}"' for key in sorted(labels) if key != "__name__")
    return f"{labels.get('__name__', '')}{{{pairs}}}"


def _to_tables(frames: list[_Frame]) -> list[_Frame]:
    if not frames or (len(frames) == 1 and not _rows(frames[0])):
        return frames
    by_ref: dict[str, list[_Frame]] = {}
    for frame in frames:
        by_ref.setdefault(_ref(frame), []).append(frame)
    value_name = "Value" if len(by_ref) == 1 else None
    return [_table(ref, group, value_name or f"Value #{ref}") for ref, group in by_ref.items()]


def _rows(frame: _Frame) -> int:
    values = frame["data"]["values"]
    return len(values[0]) if values else 0


def _table(ref: str, frames: list[_Frame], value_name: str) -> _Frame:
    label_names: list[str] = []
    for frame in frames:
        fields = frame["schema"]["fields"]
        labels = fields[1].get("labels") or {} if len(fields) > 1 else {}
        label_names.extend(name for name in sorted(labels) if name not in label_names)
    time_config: dict[str, Any] = {}
    rows: list[tuple[Any, list[str], Any]] = []
    for frame in frames:
        fields = frame["schema"]["fields"]
        if not fields:
            continue
        if "interval" not in time_config and "interval" in fields[0].get("config", {}):
            time_config["interval"] = fields[0]["config"]["interval"]
        labels = fields[1].get("labels") or {} if len(fields) > 1 else {}
        times, values = frame["data"]["values"][0], frame["data"]["values"][1]
        for stamp, value in zip(times, values, strict=True):
            rows.append((stamp, [labels.get(name, "") for name in label_names], value))
    # Grafana sorts by time only when the times go back somewhere; its sort is stable.
    if any(later[0] < earlier[0] for earlier, later in itertools.pairwise(rows)):
        rows.sort(key=lambda row: row[0])
    meta = copy.deepcopy(frames[0]["schema"]["meta"])
    meta["preferredVisualisationType"] = "rawPrometheus"
    fields = [{"name": "Time", "type": "time", "config": time_config}]
    fields.extend(
        {"name": name, "config": {"filterable": True}, "type": "string"} for name in label_names
    )
    fields.append({"name": value_name, "type": "number", "config": {}})
    columns: list[list[Any]] = [[row[0] for row in rows]]
    columns.extend([row[1][index] for row in rows] for index in range(len(label_names)))
    columns.append([row[2] for row in rows])
    return {"schema": {"refId": ref, "meta": meta, "fields": fields}, "data": {"values": columns}}


def _to_heatmaps(frames: list[_Frame]) -> list[_Frame]:
    for frame in frames:
        fields = frame["schema"]["fields"]
        le = (fields[1].get("labels") or {}).get("le") if len(fields) > 1 else None
        if le:
            frame["schema"]["name"] = le
            fields[1]["config"]["displayNameFromDS"] = le
    by_ref: dict[str, list[_Frame]] = {}
    for frame in frames:
        by_ref.setdefault(_ref(frame), []).append(frame)
    merged: list[_Frame] = []
    for group in by_ref.values():
        by_series: dict[str, list[_Frame]] = {}
        for frame in group:
            by_series.setdefault(_series_key(frame), []).append(frame)
        for buckets in by_series.values():
            buckets.sort(key=_bucket_bound)
            _deaccumulate(buckets)
            merged.extend(_merge_buckets(buckets))
    return merged


def _series_key(frame: _Frame) -> str:
    # Grafana joins the values of the labels other than le, in the labels' (sorted) order.
    fields = frame["schema"]["fields"]
    labels = (fields[1].get("labels") or {}) if len(fields) > 1 else {}
    return ",".join(labels[name] for name in sorted(labels) if name != "le")


def _bucket_bound(frame: _Frame) -> float:
    name = frame["schema"].get("name")
    fields = frame["schema"]["fields"]
    text = name if name is not None else (fields[1]["name"] if len(fields) > 1 else "")
    if text.lstrip("+-").lower() in ("inf", "infinity"):
        return float("-inf") if text.startswith("-") else float("inf")
    try:
        return float(text)
    except ValueError:
        # Grafana's comparison with NaN keeps the order: a constant key does too.
        return 0.0


def _deaccumulate(buckets: list[_Frame]) -> None:
    """Each bucket less the one below it, from the top down (Grafana's histogram over time);
    a missing value (NaN) below counts as 0, and a difference below 1e-9 is 0."""
    for upper, lower in zip(reversed(buckets[1:]), reversed(buckets[:-1]), strict=True):
        top = upper["data"]["values"][1]
        bottom = lower["data"]["values"][1]
        for index, value in enumerate(top):
            if value is None:
                continue
            below = bottom[index] if index < len(bottom) else None
            difference = value - (below or 0)
            top[index] = 0 if difference < 1e-9 else difference


def _merge_buckets(buckets: list[_Frame]) -> list[_Frame]:
    if not buckets or (len(buckets) == 1 and not _rows(buckets[0])):
        return []
    first = buckets[0]
    schema = copy.deepcopy(first["schema"])
    schema["meta"]["type"] = "heatmap-rows"
    counts = []
    for bucket in buckets:
        field = copy.deepcopy(bucket["schema"]["fields"][1])
        field["name"] = field["config"].get("displayNameFromDS")
        if field["name"] is None:
            del field["name"]  # undefined in Grafana, so absent from the JSON
        counts.append(field)
    schema["fields"] = [schema["fields"][0], *counts]
    values = [first["data"]["values"][0]] + [bucket["data"]["values"][1] for bucket in buckets]
    return [{"schema": schema, "data": {"values": values}}]
