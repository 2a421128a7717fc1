"""Tables: a panel's frames as rows of text cells, within the page's limits on rows, columns and
cells (which are spent from the page's ``Budget``)."""

from __future__ import annotations

from dataclasses import dataclass

from .budget import Budget, clip
from .data import JSON, Frame, as_str, decimals_of, field_kind, to_epoch_ms, to_number
from .series import display_name
from .units import format_timestamp, format_value


@dataclass(frozen=True, slots=True)
class Table:
    """A frame as text cells; ``hidden_rows`` and ``hidden_columns`` were left out (limits)."""

    name: str
    headers: list[str]
    rows: list[list[str]]
    hidden_rows: int
    hidden_columns: int = 0


def build_tables(
    frames: list[Frame], defaults: dict[str, JSON], budget: Budget
) -> tuple[list[Table], int]:
    """The tables of ``frames`` that fit, and how many did not fit at all (cells used up)."""
    limits = budget.limits
    panel_cells = limits.table_cells
    hidden_tables = 0
    tables: list[Table] = []
    for frame in frames:
        if not frame.fields:
            continue
        fields = frame.fields[: limits.table_columns]
        allowance = min(panel_cells, budget.cells_left)
        if allowance < 2 * len(fields):  # not even the header and one row
            hidden_tables += 1
            continue
        kinds = [field_kind(f) for f in fields]
        configs = [{**defaults, **f.config} for f in fields]
        length = max(len(f.values) for f in frame.fields)
        shown = min(length, limits.table_rows, allowance // len(fields) - 1)
        rows = [
            [
                _cell(f.values[i] if i < len(f.values) else None, kind, config, limits.name_chars)
                for f, kind, config in zip(fields, kinds, configs, strict=True)
            ]
            for i in range(shown)
        ]
        headers = [clip(display_name(f, frame, {}), limits.name_chars) for f in fields]
        cost = len(fields) * (shown + 1)
        panel_cells -= cost
        budget.spend_cells(cost)
        name = clip(frame.name, limits.name_chars)
        tables.append(Table(name, headers, rows, length - shown, len(frame.fields) - len(fields)))
    return tables, hidden_tables


def _cell(value: JSON, kind: str, config: dict[str, JSON], limit: int) -> str:
    if value is None:
        return ""
    if kind == "time":
        epoch = to_epoch_ms(value)
        return format_timestamp(epoch) if epoch is not None else clip(as_str(value), limit)
    if kind == "number":
        number = to_number(value)
        if number is not None:
            return format_value(number, as_str(config.get("unit")), decimals_of(config))
    if isinstance(value, dict | list):
        return "…" if value else ""
    text = as_str(value) or ("true" if value is True else "false" if value is False else "")
    return clip(text, limit)
