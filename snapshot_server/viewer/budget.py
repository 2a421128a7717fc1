"""How much of a dashboard one snapshot page draws, and the running account of it.

A stored dashboard may be 64 MB: 20,000 panels, series of millions of points, megabytes of
markdown. Drawing all of it gave pages of 100 MB that took a worker thread for tens of seconds
and no phone could open. The page instead draws what fits in :class:`Limits` and says, on the
page, what it left out. Each limit is applied *before* the work it guards (a panel is not built,
a series is not read past its share, markdown is shortened before it is parsed), so the cost of
a render is bounded by the limits, not by the dashboard.

Shared allowances (points, table cells, text) are spent in reading order through one
:class:`Budget` per render; the page's byte size is accounted for in ``render.py``, which measures
each rendered panel.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    """The page's limits. The defaults are the server's; tests pass smaller ones.

    The README ("Viewing a snapshot") explains each number to the people who meet them.
    """

    panels: int = 200  # panels and rows drawn, in reading order; the rest are listed by title
    page_bytes: int = 3_000_000  # the whole HTML page, UTF-8
    series: int = 50  # series drawn per chart
    points_per_column: int = 40  # drawn points per series per grid column (960 at full width)
    page_points: int = 50_000  # drawn points on the whole page, shared between the charts
    read_factor: int = 10  # a series reads at most this many raw points per point it draws
    stats: int = 24  # values per stat, gauge or bar gauge panel
    table_rows: int = 500  # rows per table
    table_columns: int = 50  # columns per table
    table_cells: int = 5_000  # cells per table panel, headers included
    page_cells: int = 25_000  # table cells on the whole page
    text_chars: int = 20_000  # source characters per text panel (markdown or HTML)
    page_text_chars: int = 50_000  # source characters of all text panels together
    name_chars: int = 200  # titles, series and column names, tags, table cells
    description_chars: int = 1_000  # a panel's description (its title tooltip)
    url_chars: int = 2_000  # the "original dashboard" link; a longer one is not shown
    listed: int = 50  # titles listed of the panels that are not shown


LIMITS = Limits()


def clip(text: str, limit: int) -> str:
    """``text``, cut to ``limit`` characters with an ellipsis when it is longer."""
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def plural(count: int, word: str) -> str:
    """``"1 panel"``, ``"20,000 panels"``: a count with thousands separators and its noun."""
    return f"{count:,} {word}{'' if count == 1 else 's'}"


class Budget:
    """What is left of one page's shared allowances; one per render, spent in reading order.

    Drawn points are shared fairly: each chart may use the points left divided by the charts
    left, and what it does not use passes to the charts after it. Table cells and text
    characters go first come, first served.
    """

    def __init__(self, limits: Limits, charts: int) -> None:
        self.limits = limits
        self._points = limits.page_points
        self._charts = charts
        self._cells = limits.page_cells
        self._text = limits.page_text_chars

    def chart_share(self) -> int:
        """Points the next chart may draw (all its series together). Call once per chart."""
        share = max(0, self._points) // max(1, self._charts)
        self._charts = max(0, self._charts - 1)
        return share

    def spend_points(self, count: int) -> None:
        """Record ``count`` points drawn (may overdraw a little: each series keeps its ends)."""
        self._points -= count

    @property
    def cells_left(self) -> int:
        return max(0, self._cells)

    def spend_cells(self, count: int) -> None:
        self._cells -= count

    @property
    def text_left(self) -> int:
        return max(0, self._text)

    def spend_text(self, count: int) -> None:
        self._text -= count
