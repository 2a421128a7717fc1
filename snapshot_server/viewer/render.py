"""HTML for the snapshot page and its error pages (jinja2, autoescaped).

The page draws at most ``Limits.panels`` panels and stays under ``Limits.page_bytes``: each panel
is rendered on its own and measured, and a panel that would take the page past its size is not
shown. Panels not shown, for either reason, are counted in the header and listed by title at the
end of the page.
"""

from __future__ import annotations

import hashlib
import logging
import pathlib
from dataclasses import dataclass

import jinja2
import orjson
from markupsafe import Markup, escape

from ..models import Snapshot
from ..scrub import safe_original_url
from .budget import LIMITS, Budget, Limits, clip, plural
from .data import JSON, as_dict, as_list, as_str
from .layout import Placed, dashboard_panels, place_panels
from .panels import PanelView, is_chart, panel_view
from .timerange import dashboard_time_range
from .units import format_timestamp

log = logging.getLogger(__name__)

STATIC_DIR = pathlib.Path(__file__).parent / "static"
# Asset URLs carry a digest of our static files, so they may be cached as immutable.
ASSET_VERSION = hashlib.sha256(
    b"".join(path.read_bytes() for path in sorted(STATIC_DIR.iterdir()) if path.is_file())
).hexdigest()[:12]
_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(pathlib.Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters["thousands"] = "{:,}".format
_ENV.filters["count_of"] = plural
# Room kept for everything but the panels (header, styles, footer, the list of panels not shown),
# so the whole page stays under ``Limits.page_bytes``: every string in it is clipped, and even
# escaped (5 bytes a character at worst) it is well under this.
FRAME_BYTES = 128 * 1024


@dataclass(frozen=True, slots=True)
class Header:
    """The page header: title, time range text, snapshot name, dates and a safe original link."""

    title: str
    time_range: str
    name: str
    created: str
    expires: str
    original_url: str
    tags: list[str]


def content_security_policy(nonce: str, *, form_action: str = "'none'") -> str:
    """The Content-Security-Policy header value for a page rendered with ``nonce``.

    Scripts and styles only from our own origin or carrying the nonce; images only ours or inline
    ``data:``; no connections, frames, forms (but to ``form_action``), plugins or ``<base>``; no
    one may frame the page.
    """
    return (
        "default-src 'none'; "
        f"script-src 'self' 'nonce-{nonce}'; "
        f"style-src 'self' 'nonce-{nonce}'; "
        "img-src 'self' data:; "
        "font-src 'self'; "
        "connect-src 'none'; "
        "base-uri 'none'; "
        f"form-action {form_action}; "
        "frame-ancestors 'none'"
    )


def safe_link(url: JSON) -> str:
    """``url`` if it may be linked (``safe_original_url``: CVE-2022-39324), else ""."""
    return url if isinstance(url, str) and safe_original_url(url) else ""


def _iso(epoch_ms: float) -> str:
    return format_timestamp(epoch_ms)


def _header(dashboard: dict[str, JSON], snapshot: Snapshot, limits: Limits) -> Header:
    time_range = dashboard_time_range(dashboard, snapshot.meta.created)
    raw = as_dict(as_dict(dashboard.get("time")).get("raw"))
    text = ""
    if time_range is not None:
        text = f"{_iso(time_range[0])} to {_iso(time_range[1])} UTC"
        if as_str(raw.get("from")).startswith("now"):
            text += f" ({as_str(raw.get('from'))} to {as_str(raw.get('to')) or 'now'})"
    expires = (
        "never" if snapshot.meta.expires is None else _iso(snapshot.meta.expires * 1000) + " UTC"
    )
    link = safe_link(as_dict(dashboard.get("snapshot")).get("originalUrl"))
    tags = [as_str(t) for t in as_list(dashboard.get("tags"))[:100] if as_str(t)][:20]
    return Header(
        title=clip(
            as_str(dashboard.get("title")) or snapshot.meta.name or "Snapshot", limits.name_chars
        ),
        time_range=text,
        name=clip(snapshot.meta.name, limits.name_chars),
        created=_iso(snapshot.meta.created * 1000) + " UTC",
        expires=expires,
        original_url=link if len(link) <= limits.url_chars else "",
        tags=[clip(tag, limits.name_chars // 2) for tag in tags],
    )


def _parse(snapshot: Snapshot) -> dict[str, JSON]:
    try:
        parsed = orjson.loads(snapshot.dashboard)
    except orjson.JSONDecodeError:
        log.warning(
            "snapshot viewer: stored dashboard of snapshot %d is not JSON", snapshot.meta.id
        )
        return {}
    return as_dict(parsed)


@dataclass(frozen=True, slots=True)
class NotShown:
    """Panels left out: ``beyond`` the panel limit, ``too_big`` for the page's size; the titles
    of the first few of them (``listed``) and how many more there are."""

    beyond: int
    too_big: int
    titles: list[str]
    more: int

    @property
    def count(self) -> int:
        return self.beyond + self.too_big

    def summary(self, shown: int, limits: Limits) -> str:
        """One sentence for the page header; "" when everything is shown."""
        if not self.count:
            return ""
        reasons = []
        if self.beyond:
            reasons.append(f"{self.beyond:,} beyond the first {limits.panels:,}")
        if self.too_big:
            reasons.append(f"{self.too_big:,} past the page size limit")
        return (
            f"Showing {plural(shown, 'panel')} of {self.count + shown:,}: "
            f"{' and '.join(reasons)} are listed at the end of the page."
        )

    @staticmethod
    def explanation(limits: Limits) -> str:
        """Why panels are left out, for the list at the end of the page."""
        return (
            f"This page draws at most {plural(limits.panels, 'panel')} and "
            f"{limits.page_bytes / 1e6:.3g} MB, so that any browser, a phone's too, can open it."
        )


@dataclass(frozen=True, slots=True)
class Drawn:
    """The rendered panels: HTML sections and their CSS rules, and what was left out."""

    sections: Markup
    styles: Markup
    grid_rows: int
    shown: int
    not_shown: NotShown


def panel_css(view: PanelView) -> Markup:
    """The CSS placing ``view`` on the grid (inline styles are refused by the CSP).

    Only numbers and colours that ``colors.safe_color`` accepted (hex, ``rgb()``, named) go in,
    escaped all the same.
    """
    rules = [
        f"#{view.dom_id}{{grid-column:{view.x + 1}/span {view.w};"
        f"grid-row:{view.y + 1}/span {view.h}}}"
    ]
    for index, stat in enumerate(view.stats):
        if stat.color:
            rules.append(f"#{view.dom_id} .s{index} .stat-value{{color:{escape(stat.color)}}}")
    return Markup("\n".join(rules) + "\n")  # noqa: S704 - numbers and validated colours only


def _untitled(item: Placed, limits: Limits) -> str:
    title = clip(as_str(as_dict(item.panel).get("title")), limits.name_chars)
    return title or "Untitled panel"


def draw_panels(dashboard: dict[str, JSON], snapshot: Snapshot, limits: Limits = LIMITS) -> Drawn:
    """Every panel of ``dashboard`` (collapsed rows opened) in reading order, within ``limits``."""
    time_range = dashboard_time_range(dashboard, snapshot.meta.created)
    placed = place_panels(dashboard_panels(dashboard))
    candidates, beyond = placed[: limits.panels], placed[limits.panels :]
    budget = Budget(limits, charts=sum(1 for item in candidates if is_chart(item.panel)))
    template = _ENV.get_template("panel.html.j2")
    room = limits.page_bytes - FRAME_BYTES
    sections: list[str] = []
    styles: list[str] = []
    left_out: list[Placed] = []
    rows = 0
    for index, item in enumerate(candidates):
        view = panel_view(index, item, time_range, budget)
        section = template.render(p=view)
        css = panel_css(view)
        size = len(section.encode()) + len(css.encode())
        if size > room:
            left_out.append(item)
            continue
        room -= size
        sections.append(section)
        styles.append(css)
        rows = max(rows, view.y + view.h)
    listed = [_untitled(item, limits) for item in [*left_out, *beyond][: limits.listed]]
    not_shown = NotShown(
        beyond=len(beyond),
        too_big=len(left_out),
        titles=listed,
        more=len(left_out) + len(beyond) - len(listed),
    )
    return Drawn(
        sections=Markup("".join(sections)),  # noqa: S704 - rendered by our autoescaping template
        styles=Markup("".join(styles)),  # noqa: S704 - see panel_css
        grid_rows=rows,
        shown=len(sections),
        not_shown=not_shown,
    )


def render_snapshot_page(
    snapshot: Snapshot,
    *,
    nonce: str,
    static_prefix: str = "/public/snapshot-viewer/",
    limits: Limits = LIMITS,
) -> str:
    """The full HTML document showing ``snapshot``; every dashboard string is escaped.

    Never raises for a dashboard that is any JSON value (or not JSON at all): what cannot be read is
    shown as a note. ``nonce`` must match :func:`content_security_policy`'s. The page stays within
    ``limits`` and says what it left out.
    """
    dashboard = _parse(snapshot)
    drawn = draw_panels(dashboard, snapshot, limits)
    return _ENV.get_template("page.html.j2").render(
        header=_header(dashboard, snapshot, limits),
        drawn=drawn,
        limits_note=drawn.not_shown.summary(drawn.shown, limits),
        limits_explanation=NotShown.explanation(limits),
        nonce=nonce,
        static=static_prefix,
        version=ASSET_VERSION,
    )


def render_error_page(
    status: int,
    *,
    headline: str,
    explanation: str,
    static: str = "/public/snapshot-viewer/",
    link: str = "",
) -> str:
    """A small HTML page for an error a person meets (404, 403...): the status, a ``headline``
    and an ``explanation``, both escaped, and a ``link`` onwards if given (an http(s) URL: the
    caller checks that). It uses only our static stylesheet, so it shows correctly under any
    nonce's CSP."""
    return _ENV.get_template("error.html.j2").render(
        status=status,
        headline=headline,
        explanation=explanation,
        static=static,
        version=ASSET_VERSION,
        link=link,
    )


def render_locked_page(*, token: str, wrong: bool, static: str = "/public/snapshot-viewer/") -> str:
    """The page of a password-protected snapshot for someone who has not given its password:
    a form posting the password and the CSRF ``token`` to the page itself, and nothing of the
    dashboard (not even its name). ``wrong``: the last password tried was wrong."""
    return _ENV.get_template("locked.html.j2").render(
        token=token, wrong=wrong, static=static, version=ASSET_VERSION
    )
