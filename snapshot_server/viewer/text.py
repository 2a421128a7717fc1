"""Text panels: markdown or HTML from the dashboard, made safe to put in our page.

Markdown is rendered by markdown-it-py (CommonMark with tables and strikethrough); the result,
and raw HTML panels, pass through nh3 (ammonia): no scripts, event handlers, styles or forms
survive. Images are kept only with inline ``data:image/...`` sources, so the page never
fetches another host.
"""

from __future__ import annotations

import re

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup, escape

from .data import JSON, as_dict, as_str

_MARKDOWN = MarkdownIt("commonmark", {"html": True, "linkify": False}).enable(
    ["table", "strikethrough"]
)
_DATA_IMAGE = re.compile(
    r"data:image/(?:png|gif|jpeg|webp);base64,[A-Za-z0-9+/=\s]*", re.IGNORECASE
)
_IMG_WITHOUT_SRC = re.compile(r"<img(?![^>]*\ssrc=)[^>]*>")
_TAGS = nh3.ALLOWED_TAGS - {"area", "map"}
_ATTRIBUTES = {tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()}
_ATTRIBUTES.setdefault("img", set()).update({"src", "alt", "width", "height", "title"})
_ATTRIBUTES["a"] = {"href", "title"}


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    # Only an image source makes the browser fetch; allow inline data only.
    if tag == "img" and attribute == "src":
        return value if _DATA_IMAGE.fullmatch(value.strip()) else None
    if attribute == "href" and value.strip().lower().startswith("data:"):
        return None
    return value


def sanitize_html(html: str) -> Markup:
    """``html`` reduced to harmless markup (links open nothing of ours, images are inline-only)."""
    cleaned = nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        attribute_filter=_filter_attribute,
        url_schemes={"http", "https", "mailto", "data"},
        link_rel="noopener noreferrer nofollow",
    )
    # An image whose source was refused would show as a broken icon: drop it. nh3's output is
    # normalised (quoted attributes, no ">" inside them), so this pattern is exact.
    cleaned = _IMG_WITHOUT_SRC.sub("", cleaned)
    return Markup(cleaned)  # noqa: S704 - nh3's output is sanitized HTML by contract


def text_source(panel: dict[str, JSON]) -> tuple[str, str]:
    """``(content, mode)`` of a text panel (modern ``options.content``/``mode`` or legacy)."""
    options = as_dict(panel.get("options"))
    content = as_str(options.get("content")) or as_str(panel.get("content"))
    mode = as_str(options.get("mode")) or as_str(panel.get("mode")) or "markdown"
    return content, mode


def shorten(content: str, limit: int) -> str:
    """``content`` cut to at most ``limit`` characters, at a line break when one is near the end.

    Cutting between lines keeps a paragraph, list or table from ending half way; markdown and
    the HTML sanitizer both cope with whatever construct is left open.
    """
    if len(content) <= limit:
        return content
    head = content[:limit]
    newline = head.rfind("\n")
    return head[: newline + 1] if newline >= limit // 2 else head


def text_html(content: str, mode: str) -> Markup:
    """The sanitized HTML of text panel ``content`` in ``mode`` (markdown, html, code or text).

    Its cost grows with ``content``: callers shorten it first (see ``budget.Limits.text_chars``).
    """
    if mode == "html":
        return sanitize_html(content)
    if mode in ("code", "text"):
        return Markup("<pre>") + escape(content) + Markup("</pre>")
    return sanitize_html(_MARKDOWN.render(content))
