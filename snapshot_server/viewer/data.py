"""Turn the data Grafana embeds in a snapshot into frames, whatever its era (``series`` turns
frames into the series a chart draws).

Grafana has written panel data in four shapes over the years; :func:`panel_frames` reads them all:

* legacy time series: ``panel.snapshotData = [{"target": name, "datapoints": [[value, ms], ...]}]``;
* legacy tables: ``panel.snapshotData = [{"columns": [{"text": ...}], "rows": [[...]]}]``;
* data frames: ``panel.snapshotData = [{"fields": [{"name", "type", "values", "config"}]}]``;
* Scenes (10.1+): ``panel.targets[i].snapshot = [{"schema": {"fields"}, "data": {"values"}}]``.

Nothing here raises on odd input: anything unreadable is skipped, so a damaged panel shows less data
rather than breaking the page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

JSON = Any

_TIME_NAMES = frozenset({"time", "timestamp", "__time__", "ts"})


@dataclass(frozen=True, slots=True)
class Field:
    """One column of a frame. ``type`` is Grafana's: "time", "number", "string", "boolean", ..."""

    name: str
    type: str
    values: list[JSON]
    config: dict[str, JSON] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Frame:
    """A table of equally long (or shorter, never longer than the first) columns."""

    fields: list[Field]
    name: str = ""


def as_dict(value: JSON) -> dict[str, JSON]:
    """``value`` if it is a JSON object, else an empty dict."""
    return value if isinstance(value, dict) else {}


def as_list(value: JSON) -> list[JSON]:
    """``value`` if it is a JSON array, else an empty list."""
    return value if isinstance(value, list) else []


def as_str(value: JSON) -> str:
    """``value`` if it is a string; numbers as their text; anything else as ""."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def to_number(value: JSON) -> float | None:
    """A finite float from a JSON number or numeric string, else ``None`` (booleans too)."""
    kind = type(value)
    if kind is float:
        return value if math.isfinite(value) else None
    if kind is int:
        return float(value)
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def decimals_of(config: dict[str, JSON]) -> int | None:
    """The ``decimals`` a field config asks for, or ``None`` (chosen by magnitude)."""
    number = to_number(config.get("decimals"))
    return None if number is None else int(number)


def to_epoch_ms(value: JSON) -> float | None:
    """Epoch milliseconds from a number or an ISO 8601 string, else ``None``."""
    number = to_number(value)
    if number is not None:
        return number
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000.0
        except ValueError:
            return None
    return None


def _labels(value: JSON) -> dict[str, str]:
    return {str(k): as_str(v) for k, v in as_dict(value).items()}


def _field(raw: JSON, values: JSON) -> Field | None:
    spec = as_dict(raw)
    if not spec:
        return None
    return Field(
        name=as_str(spec.get("name")),
        type=as_str(spec.get("type")),
        values=as_list(values),
        config=as_dict(spec.get("config")),
        labels=_labels(spec.get("labels")),
    )


def _from_datapoints(item: dict[str, JSON]) -> Frame:
    points = [p for p in as_list(item.get("datapoints")) if isinstance(p, list) and len(p) >= 2]
    return Frame(
        name=as_str(item.get("target")),
        fields=[
            Field(name="Time", type="time", values=[p[1] for p in points]),
            Field(
                name=as_str(item.get("target")),
                type="number",
                values=[p[0] for p in points],
                labels=_labels(item.get("tags")),
            ),
        ],
    )


def _from_table(item: dict[str, JSON]) -> Frame:
    columns = as_list(item.get("columns"))
    rows = [r for r in as_list(item.get("rows")) if isinstance(r, list)]
    fields = []
    for index, column in enumerate(columns):
        spec = as_dict(column)
        name = as_str(spec.get("text")) if spec else as_str(column)
        kind = as_str(spec.get("type")) if spec else ""
        values = [row[index] if index < len(row) else None for row in rows]
        fields.append(Field(name=name, type=kind or _guess_type(name, values), values=values))
    return Frame(fields=fields)


def _from_fields(item: dict[str, JSON]) -> Frame:
    fields = [
        f for raw in as_list(item.get("fields")) if (f := _field(raw, as_dict(raw).get("values")))
    ]
    return Frame(fields=fields, name=as_str(item.get("name")))


def _from_dataframe_json(item: dict[str, JSON]) -> Frame:
    schema = as_dict(item.get("schema"))
    columns = as_list(as_dict(item.get("data")).get("values"))
    fields = []
    for index, raw in enumerate(as_list(schema.get("fields"))):
        made = _field(raw, columns[index] if index < len(columns) else [])
        if made is not None:
            fields.append(made)
    return Frame(fields=fields, name=as_str(schema.get("name")))


def _guess_type(name: str, values: list[JSON]) -> str:
    sample = [v for v in values[:50] if v is not None]
    if name.lower() in _TIME_NAMES and sample and all(to_epoch_ms(v) is not None for v in sample):
        return "time"
    if sample and all(to_number(v) is not None and not isinstance(v, str) for v in sample):
        return "number"
    return "string"


def frame_from_item(item: JSON) -> Frame | None:
    """One frame from any single element Grafana puts in ``snapshotData`` or ``snapshot``."""
    data = as_dict(item)
    if "datapoints" in data:
        return _from_datapoints(data)
    if "fields" in data:
        return _from_fields(data)
    if "schema" in data:
        return _from_dataframe_json(data)
    if "columns" in data and "rows" in data:
        return _from_table(data)
    return None


def panel_frames(panel: dict[str, JSON]) -> list[Frame]:
    """Every frame in ``panel``: ``snapshotData`` first, then Scenes' ``targets[].snapshot``."""
    items = list(as_list(panel.get("snapshotData")))
    for target in as_list(panel.get("targets")):
        items.extend(as_list(as_dict(target).get("snapshot")))
    return [frame for item in items if (frame := frame_from_item(item)) is not None]


def field_kind(fld: Field) -> str:
    """The field's Grafana type, inferred from its name and values when the type is missing."""
    if fld.type:
        return fld.type
    return _guess_type(fld.name, fld.values)
