"""One view model per panel: what the template draws, decided from the panel's type and data.

:func:`panel_view` never raises: a panel that cannot be read becomes a frame with a note. A panel
draws within the page's :class:`~.budget.Budget`; whatever it leaves out is said in its ``notes``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

from markupsafe import Markup

from .budget import Budget, clip, plural
from .chart import Chart, build_chart
from .colors import threshold_color
from .data import JSON, Frame, as_dict, as_list, as_str, decimals_of, panel_frames, to_number
from .layout import Placed
from .reduce import reduce_values
from .series import count_numeric_fields, count_series, numeric_fields, select_series
from .tables import Table, build_tables
from .text import shorten, text_html, text_source
from .units import format_value

log = logging.getLogger(__name__)

CHART_TYPES = frozenset({"timeseries", "graph", "trend"})
STAT_TYPES = frozenset({"stat", "gauge", "bargauge", "singlestat"})
TABLE_TYPES = frozenset({"table", "table-old"})


@dataclass(frozen=True, slots=True)
class StatValue:
    """A reduced value: ``text`` to show, ``fraction`` (0..1) of the gauge bar when drawn."""

    name: str
    text: str
    color: str | None
    fraction: float | None


@dataclass(slots=True)
class PanelView:
    """A panel ready for the template; ``kind``: chart, stat, table, text, row or note.

    ``notes`` say what the panel left out to stay within the page's limits.
    """

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
    notes: list[str] = field(default_factory=list)


def is_chart(panel: JSON) -> bool:
    """Whether ``panel`` is drawn as a time-series chart (and so shares the page's points)."""
    return as_dict(panel).get("type") in CHART_TYPES


def _defaults(panel: dict[str, JSON]) -> dict[str, JSON]:
    return as_dict(as_dict(panel.get("fieldConfig")).get("defaults"))


def _unit(panel: dict[str, JSON], config: dict[str, JSON]) -> str:
    unit = as_str(config.get("unit")) or as_str(_defaults(panel).get("unit"))
    if not unit and panel.get("type") == "graph":
        axes = as_list(panel.get("yaxes"))
        unit = as_str(as_dict(axes[0]).get("format")) if axes else ""
    if not unit and panel.get("type") == "singlestat":
        unit = as_str(panel.get("format"))
    return unit


def _chart(view: PanelView, panel: dict[str, JSON], frames: list[Frame],
           time_range: tuple[float, float] | None, budget: Budget) -> None:  # fmt: skip
    limits = budget.limits
    defaults = _defaults(panel)
    share = budget.chart_share()
    # Points per series are fixed before any series is read, so reading is bounded too.
    width_cap = max(limits.points_per_column, view.w * limits.points_per_column)
    expected = max(1, min(limits.series, count_series(frames)))
    per_series = min(width_cap, max(2, share // expected))
    chosen = select_series(
        frames, defaults, limit=limits.series, max_points=per_series * limits.read_factor
    )
    series = [replace(s, name=clip(s.name, limits.name_chars)) for s in chosen.series]
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
        decimals=decimals_of(defaults),
        width_cols=view.w,
        points=min(width_cap, max(2, share // len(series))),
        dashboard_range=time_range,
        config_min=to_number(defaults.get("min")),
        config_max=to_number(defaults.get("max")),
    )
    budget.spend_points(view.chart.drawn_points)
    if chosen.hidden:
        view.notes.append(
            f"{chosen.hidden:,} more series not shown (a chart draws at most {limits.series})"
        )
    thinned = max(series, key=lambda s: s.read_every)
    if thinned.read_every > 1:
        view.notes.append(
            f"Long series thinned before drawing: 1 point in {thinned.read_every:,} "
            f"of {thinned.raw_points:,} was read"
        )


def _calc(panel: dict[str, JSON]) -> str:
    calcs = as_list(as_dict(as_dict(panel.get("options")).get("reduceOptions")).get("calcs"))
    if calcs and isinstance(calcs[0], str):
        return calcs[0]
    return as_str(panel.get("valueName")) or "lastNotNull"


def _stats(view: PanelView, panel: dict[str, JSON], frames: list[Frame], budget: Budget) -> None:
    limits = budget.limits
    defaults = _defaults(panel)
    calc = _calc(panel)
    bar = panel.get("type") in ("gauge", "bargauge")
    shown = numeric_fields(frames, defaults, limits.stats)
    for name, fld in shown:
        config = {**defaults, **fld.config}
        value = reduce_values([to_number(v) for v in fld.values], calc)
        fraction = None
        if bar and value is not None:
            low = to_number(config.get("min"))
            high = to_number(config.get("max"))
            low = 0.0 if low is None else low
            high = (100.0 if value <= 100 else value) if high is None else high
            fraction = max(0.0, min(1.0, (value - low) / (high - low))) if high > low else 1.0
        text = format_value(value, _unit(panel, config), decimals_of(config))
        color = threshold_color(config, value)
        view.stats.append(StatValue(clip(name, limits.name_chars), text, color, fraction))
    if not view.stats:
        view.kind, view.note = "note", "No data in this snapshot"
    hidden = count_numeric_fields(frames) - len(shown)
    if hidden > 0:
        view.notes.append(
            f"{hidden:,} more values not shown (a panel shows at most {limits.stats})"
        )


def _tables(view: PanelView, panel: dict[str, JSON], frames: list[Frame], budget: Budget) -> None:
    view.tables, hidden_tables = build_tables(frames, _defaults(panel), budget)
    if hidden_tables and not view.tables:
        view.kind = "note"
        view.note = "Table not shown: this page's limit of table cells is used up"
    elif hidden_tables:
        view.notes.append(f"{plural(hidden_tables, 'more table')} not shown (table cell limit)")
    elif not view.tables:
        view.kind, view.note = "note", "No data in this snapshot"


def _text(view: PanelView, panel: dict[str, JSON], budget: Budget) -> None:
    limits = budget.limits
    content, mode = text_source(panel)
    # Shortened before markdown and the sanitizer run: their cost grows with the text.
    shown = shorten(content, min(limits.text_chars, budget.text_left))
    budget.spend_text(len(shown))
    if content and not shown:
        view.kind = "note"
        view.note = (
            f"Text not shown: this page's limit of {limits.page_text_chars:,} characters of "
            "text is used up"
        )
        return
    view.kind, view.html = "text", text_html(shown, mode)
    if len(shown) < len(content):
        view.notes.append(
            f"Text shortened: the first {len(shown):,} of {len(content):,} characters are shown"
        )


def _fill(view: PanelView, panel: dict[str, JSON], time_range: tuple[float, float] | None,
          budget: Budget) -> None:  # fmt: skip
    kind = as_str(panel.get("type"))
    if kind == "row":
        view.kind = "row"
    elif kind == "text":
        _text(view, panel, budget)
    elif kind in CHART_TYPES:
        view.kind = "chart"
        _chart(view, panel, panel_frames(panel), time_range, budget)
    elif kind in STAT_TYPES:
        view.kind = "stat"
        _stats(view, panel, panel_frames(panel), budget)
    elif kind in TABLE_TYPES:
        view.kind = "table"
        _tables(view, panel, panel_frames(panel), budget)
    else:
        view.kind = "note"
        view.note = f"Panel type “{clip(kind, 60) or 'unknown'}” is not shown in snapshot view"


def panel_view(
    index: int, placed: Placed, time_range: tuple[float, float] | None, budget: Budget
) -> PanelView:
    """The view of ``placed.panel``; a panel that is not an object or fails becomes a note."""
    limits = budget.limits
    panel = as_dict(placed.panel)
    view = PanelView(
        dom_id=f"panel-{index}",
        title=clip(as_str(panel.get("title")), limits.name_chars),
        kind="note",
        x=placed.x,
        y=placed.y,
        w=placed.w,
        h=placed.h,
        description=clip(as_str(panel.get("description")), limits.description_chars),
    )
    if not panel:
        view.note = "This panel could not be read"
        return view
    try:
        _fill(view, panel, time_range, budget)
    except Exception:  # one odd panel must not take the page down; it is logged and noted
        log.exception("snapshot viewer: cannot draw panel %r", view.title)
        view.kind, view.note, view.chart = "note", "This panel could not be drawn", None
        view.stats, view.tables, view.notes = [], [], []
    return view
