"""What the server removes from a posted dashboard before storing it.

Always: a ``snapshot.originalUrl`` that is not ``http(s)://`` or a path starting with a single
``/`` (CVE-2022-39324: ``javascript:`` or ``//evil.example`` links on the snapshot banner).
With ``scrub = true``: what Grafana's share dialog strips from a snapshot (panel ``targets``,
panel and dashboard ``links``, annotation queries, template-variable queries), for clients that
post an unscrubbed dashboard model.
"""

from __future__ import annotations

from typing import Any


def safe_original_url(value: object) -> bool:
    """True for an ``originalUrl`` that may be linked: ``http://``, ``https://`` or ``/path``.

    Any whitespace or control character disqualifies it: browsers drop tabs and newlines
    inside URLs before parsing, so ``"/\t/evil.example"`` would open ``//evil.example``.
    """
    if not isinstance(value, str) or any(
        c.isspace() or ord(c) < 0x20 or c == "\x7f" for c in value
    ):
        return False
    scheme, sep, rest = value.partition("://")
    if sep and scheme.lower() in ("http", "https"):
        return bool(rest) and not rest.startswith(("/", "\\"))
    return value.startswith("/") and not value.startswith("//") and "\\" not in value


def sanitize_dashboard(dashboard: dict[str, Any], *, scrub: bool) -> None:
    """Apply the rules above to ``dashboard``, in place."""
    snapshot = dashboard.get("snapshot")
    if isinstance(snapshot, dict) and not safe_original_url(snapshot.get("originalUrl", "/")):
        del snapshot["originalUrl"]
    if scrub:
        _scrub(dashboard)


def _scrub(dashboard: dict[str, Any]) -> None:
    dashboard.pop("links", None)
    for panel in _panels(dashboard.get("panels")):
        _scrub_targets(panel)
        panel.pop("links", None)
    annotations = dashboard.get("annotations")
    if isinstance(annotations, dict):
        for annotation in _dicts(annotations.get("list")):
            annotation.pop("target", None)
            annotation.pop("query", None)
    templating = dashboard.get("templating")
    if isinstance(templating, dict):
        for variable in _dicts(templating.get("list")):
            variable.pop("query", None)
            variable.pop("definition", None)


def _scrub_targets(panel: dict[str, Any]) -> None:
    """Drop the queries; keep Scenes' ``targets[].snapshot`` (Grafana 10.1+), which is where
    such a snapshot's data lives, with only what identifies it."""
    if "targets" not in panel:
        return
    kept = [
        {k: t[k] for k in ("refId", "queryType", "snapshot") if k in t}
        for t in _dicts(panel["targets"])
        if "snapshot" in t
    ]
    if kept:
        panel["targets"] = kept
    else:
        del panel["targets"]


def _panels(panels: object) -> list[dict[str, Any]]:
    """Every panel, including those nested in collapsed rows."""
    found: list[dict[str, Any]] = []
    for panel in _dicts(panels):
        found.append(panel)
        found.extend(_panels(panel.get("panels")))
    return found


def _dicts(items: object) -> list[dict[str, Any]]:
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []
