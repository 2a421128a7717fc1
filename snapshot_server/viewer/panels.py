"""One view model per panel: what the template draws, decided from the panel's type and data.

:func:`panel_view` never raises: a panel that cannot be read becomes a frame with a note.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from markupsafe import Markup

from .chart import Chart, build_chart
from .colors import threshold_color
from .data import (
    JSON,
    Field,
    Frame,
    as_dict,
    as_list,
    as_str,
    display_name,
    field_kind,
    frame_series,
    numeric_fields,
    panel_frames,
    to_epoch_ms,
    to_number,
)
from .layout import Placed
from .reduce import reduce_values
from .text import text_panel_html
from .units import format_timestamp, format_value

log = logging.getLogger(__name__)

CHART_TYPES = frozenset({"timeseries", "graph", "trend"})
STAT_TYPES = frozenset({"stat", "gauge", "bargauge", "singlestat"})
TABLE_TYPES = frozenset({"table", "table-old"})
MAX_TABLE_ROWS = 500
MAX_STATS = 24


@dataclass(frozen=True, slots=True)
class StatValue:
    """A reduced value: ``text`` to show, ``fraction`` (0..1) of the gauge bar when drawn."""

    name: str
    text: str
    color: str | None
    fraction: float | None


@dataclass(frozen=True, slots=True)
class Table:
    """A frame as text cells; ``hidden_rows`` counts rows left out to keep the page small."""

    name: str
    headers: list[str]
    rows: list[list[str]]
    hidden_rows: int


@dataclass(slots=True)
class PanelView:
    """A panel ready for the template; ``kind``: chart, stat, table, text, row or note."""

    dom_id: str
    title: str
    kind: str
    x: int
    y: int
    w: int
    h: int
    description: str = ""
    note: str = ""
    chart: Chart | None = None
    stats: list[StatValue] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    html: Markup = field(default_factory=Markup)
    show_legend: bool = True


def _defaults(panel: dict[str, JSON]) -> dict[str, JSON]:
    return as_dict(as_dict(panel.get("fieldConfig")).get("defaults"))


def _decimals(config: dict[str, JSON]) -> int | None:
    number = to_number(config.get("decimals"))
    return None if number is None else int(number)


def _unit(panel: dict[str, JSON], config: dict[str, JSON]) -> str:
    unit = as_str(config.get("unit")) or as_str(_defaults(panel).get("unit"))
    if not unit and panel.get("type") == "graph":
        axes = as_list(panel.get("yaxes"))
        unit = as_str(as_dict(axes[0]).get("format")) if axes else ""
    if not unit and panel.get("type") == "singlestat":
        unit = as_str(panel.get("format"))
    return unit


def _chart(view: PanelView, panel: dict[str, JSON], frames: list[Frame],
           time_range: tuple[float, float] | None) -> None:  # fmt: skip
    defaults = _defaults(panel)
    series = frame_series(frames, defaults)
    if not series:
        view.kind, view.note = "note", "No data in this snapshot"
        return
    legend = as_dict(as_dict(panel.get("options")).get("legend"))
    view.show_legend = legend.get("showLegend") is not False and (
        as_dict(panel.get("legend")).get("show") is not False
    )
    view.chart = build_chart(
        series,
        unit=_unit(panel, series[0].config),
        decimals=_decimals(defaults),
        width_cols=view.w,
        dashboard_range=time_range,
        config_min=to_number(defaults.get("min")),
        config_max=to_number(defaults.get("max")),
    )


def _calc(panel: dict[str, JSON]) -> str:
    calcs = as_list(as_dict(as_dict(panel.get("options")).get("reduceOptions")).get("calcs"))
    if calcs and isinstance(calcs[0], str):
        return calcs[0]
    return as_str(panel.get("valueName")) or "lastNotNull"


def _stats(view: PanelView, panel: dict[str, JSON], frames: list[Frame]) -> None:
    defaults = _defaults(panel)
    calc = _calc(panel)
    bar = panel.get("type") in ("gauge", "bargauge")
    for name, fld in numeric_fields(frames, defaults)[:MAX_STATS]:
        config = {**defaults, **fld.config}
        value = reduce_values([to_number(v) for v in fld.values], calc)
        fraction = None
        if bar and value is not None:
            low = to_number(config.get("min"))
            high = to_number(config.get("max"))
            low = 0.0 if low is None else low
            high = (100.0 if value <= 100 else value) if high is None else high
            fraction = max(0.0, min(1.0, (value - low) / (high - low))) if high > low else 1.0
        text = format_value(value, _unit(panel, config), _decimals(config))
        view.stats.append(StatValue(name, text, threshold_color(config, value), fraction))
    if not view.stats:
        view.kind, view.note = "note", "No data in this snapshot"


def _cell(fld: Field, value: JSON, kind: str, config: dict[str, JSON]) -> str:
    if value is None:
        return ""
    if kind == "time":
        epoch = to_epoch_ms(value)
        return format_timestamp(epoch) if epoch is not None else as_str(value)
    if kind == "number":
        number = to_number(value)
        if number is not None:
            return format_value(number, as_str(config.get("unit")), _decimals(config))
    if isinstance(value, dict | list):
        return "…" if value else ""
    return as_str(value) or ("true" if value is True else "false" if value is False else "")


def _tables(view: PanelView, panel: dict[str, JSON], frames: list[Frame]) -> None:
    defaults = _defaults(panel)
    for frame in frames:
        if not frame.fields:
            continue
        kinds = [field_kind(f) for f in frame.fields]
        configs = [{**defaults, **f.config} for f in frame.fields]
        length = max(len(f.values) for f in frame.fields)
        rows = [
            [
                _cell(f, f.values[i] if i < len(f.values) else None, kind, config)
                for f, kind, config in zip(frame.fields, kinds, configs, strict=True)
            ]
            for i in range(min(length, MAX_TABLE_ROWS))
        ]
        headers = [display_name(f, frame, {}) for f in frame.fields]
        view.tables.append(Table(frame.name, headers, rows, max(0, length - MAX_TABLE_ROWS)))
    if not view.tables:
        view.kind, view.note = "note", "No data in this snapshot"


def _fill(view: PanelView, panel: dict[str, JSON], time_range: tuple[float, float] | None) -> None:
    kind = as_str(panel.get("type"))
    if kind == "row":
        view.kind = "row"
    elif kind == "text":
        view.kind, view.html = "text", text_panel_html(panel)
    elif kind in CHART_TYPES:
        view.kind = "chart"
        _chart(view, panel, panel_frames(panel), time_range)
    elif kind in STAT_TYPES:
        view.kind = "stat"
        _stats(view, panel, panel_frames(panel))
    elif kind in TABLE_TYPES:
        view.kind = "table"
        _tables(view, panel, panel_frames(panel))
    else:
        view.kind = "note"
        view.note = f"Panel type “{kind or 'unknown'}” is not shown in snapshot view"


def panel_view(index: int, placed: Placed, time_range: tuple[float, float] | None) -> PanelView:
    """The view of ``placed.panel``; a panel that is not an object or fails becomes a note."""
    panel = as_dict(placed.panel)
    view = PanelView(
        dom_id=f"panel-{index}",
        title=as_str(panel.get("title")),
        kind="note",
        x=placed.x,
        y=placed.y,
        w=placed.w,
        h=placed.h,
        description=as_str(panel.get("description")),
    )
    if not panel:
        view.note = "This panel could not be read"
        return view
    try:
        _fill(view, panel, time_range)
    except Exception:  # one odd panel must not take the page down; it is logged and noted
        log.exception("snapshot viewer: cannot draw panel %r", view.title)
        view.kind, view.note, view.chart = "note", "This panel could not be drawn", None
        view.stats, view.tables = [], []
    return view
