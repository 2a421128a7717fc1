"""HTML for the snapshot page and its error pages (jinja2, autoescaped)."""

from __future__ import annotations

import hashlib
import logging
import pathlib
from dataclasses import dataclass

import jinja2
import orjson

from ..models import Snapshot
from ..scrub import safe_original_url
from .data import JSON, as_dict, as_list, as_str
from .layout import dashboard_panels, place_panels
from .panels import PanelView, panel_view
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


def content_security_policy(nonce: str) -> str:
    """The Content-Security-Policy header value for a page rendered with ``nonce``.

    Scripts and styles only from our own origin or carrying the nonce; images only ours or inline
    ``data:``; no connections, frames, forms, plugins or ``<base>``; no one may frame the page.
    """
    return (
        "default-src 'none'; "
        f"script-src 'self' 'nonce-{nonce}'; "
        f"style-src 'self' 'nonce-{nonce}'; "
        "img-src 'self' data:; "
        "font-src 'self'; "
        "connect-src 'none'; "
        "base-uri 'none'; "
        "form-action 'none'; "
        "frame-ancestors 'none'"
    )


def safe_link(url: JSON) -> str:
    """``url`` if it may be linked (``safe_original_url``: CVE-2022-39324), else ""."""
    return url if isinstance(url, str) and safe_original_url(url) else ""


def _iso(epoch_ms: float) -> str:
    return format_timestamp(epoch_ms)


def _header(dashboard: dict[str, JSON], snapshot: Snapshot) -> Header:
    time_range = dashboard_time_range(dashboard, snapshot.created)
    raw = as_dict(as_dict(dashboard.get("time")).get("raw"))
    text = ""
    if time_range is not None:
        text = f"{_iso(time_range[0])} to {_iso(time_range[1])} UTC"
        if as_str(raw.get("from")).startswith("now"):
            text += f" ({as_str(raw.get('from'))} to {as_str(raw.get('to')) or 'now'})"
    expires = "never" if snapshot.expires is None else _iso(snapshot.expires * 1000) + " UTC"
    return Header(
        title=as_str(dashboard.get("title")) or snapshot.name or "Snapshot",
        time_range=text,
        name=snapshot.name,
        created=_iso(snapshot.created * 1000) + " UTC",
        expires=expires,
        original_url=safe_link(as_dict(dashboard.get("snapshot")).get("originalUrl")),
        tags=[as_str(t) for t in as_list(dashboard.get("tags")) if as_str(t)][:20],
    )


def _parse(snapshot: Snapshot) -> dict[str, JSON]:
    try:
        parsed = orjson.loads(snapshot.dashboard)
    except orjson.JSONDecodeError:
        log.warning("snapshot viewer: stored dashboard of snapshot %d is not JSON", snapshot.id)
        return {}
    return as_dict(parsed)


def build_panels(dashboard: dict[str, JSON], snapshot: Snapshot) -> list[PanelView]:
    """The view of every panel of ``dashboard`` (collapsed rows opened), in reading order."""
    time_range = dashboard_time_range(dashboard, snapshot.created)
    placed = place_panels(dashboard_panels(dashboard))
    return [panel_view(index, item, time_range) for index, item in enumerate(placed)]


def render_snapshot_page(
    snapshot: Snapshot, *, nonce: str, static_prefix: str = "/public/snapshot-viewer/"
) -> str:
    """The full HTML document showing ``snapshot``; every dashboard string is escaped.

    Never raises for a dashboard that is any JSON value (or not JSON at all): what cannot be read is
    shown as a note. ``nonce`` must match :func:`content_security_policy`'s.
    """
    dashboard = _parse(snapshot)
    panels = build_panels(dashboard, snapshot)
    rows = max((p.y + p.h for p in panels), default=0)
    return _ENV.get_template("page.html.j2").render(
        header=_header(dashboard, snapshot),
        panels=panels,
        grid_rows=rows,
        nonce=nonce,
        static=static_prefix,
        version=ASSET_VERSION,
    )


def render_error_page(
    status: int,
    title: str,
    message: str,
    *,
    static_prefix: str = "/public/snapshot-viewer/",
) -> str:
    """A small HTML page for a viewer error (404, 403...); ``title`` and ``message`` escaped.

    It uses only our static stylesheet, so it shows correctly under any nonce's CSP.
    """
    return _ENV.get_template("error.html.j2").render(
        status=status,
        title=title,
        message=message,
        static=static_prefix,
        version=ASSET_VERSION,
    )
