"""What the ``[snapshots] external_*`` keys must hold. ``config`` calls ``problems`` and names
the key; nothing here reads files or opens connections."""

from __future__ import annotations

from collections.abc import Iterator

from .answers import http_url

CREATE_PATH = "/api/snapshots"  # appended to external_snapshot_url, as Grafana does


def problems(enabled: bool, url: str, token: str) -> Iterator[tuple[str, str]]:
    """``(key, reason)`` for each bad ``external_*`` setting, first problem first."""
    if url and http_url(url) is None:
        yield "external_snapshot_url", "must be an absolute http(s) URL such as https://host/"
    elif url and ("?" in url or "#" in url):
        yield "external_snapshot_url", "must not have a query or fragment"
    if enabled and not url:
        yield "external_snapshot_url", "is required when external_enabled = true"
    if token != token.strip() or not token.isprintable():
        yield "external_snapshot_token", "must not contain spaces at its ends or control characters"


def create_url(base: str) -> str:
    """Where snapshots are published: ``{external_snapshot_url}/api/snapshots`` (one slash)."""
    return base.rstrip("/") + CREATE_PATH
