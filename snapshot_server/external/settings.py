"""What the ``[snapshots] external_*`` keys must hold. ``config`` calls ``problems`` and names
the key; nothing here reads files or opens connections."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote, urlsplit

from .answers import http_url

CREATE_PATH = "/api/snapshots"  # appended to external_snapshot_url, as Grafana does
DELETE_PATH = "/api/snapshots-delete/"  # where a Grafana-compatible server deletes by deleteKey
DEFAULT_PORTS = {"http": 80, "https": 443}


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


def delete_url(base: str, remote_delete_url: str, remote_delete_key: str) -> str:
    """The URL to GET, later, to delete a snapshot published to ``base``: the remote's own
    ``deleteUrl`` when it is on ``base``'s server (scheme, host and port), else ``base``'s
    snapshots-delete route with the remote's deleteKey.

    A remote's answer may name any address, and this server GETs the stored URL whenever the
    pointer is deleted: calling whatever it named would let a remote (or whoever answers in its
    name) aim requests at hosts inside the operator's network. The server it was published to
    is the one the operator chose; a remote behind a proxy that names its public address still
    gets its delete, through the configured address."""
    if _server(remote_delete_url) == _server(base):
        return remote_delete_url
    return base.rstrip("/") + DELETE_PATH + quote(remote_delete_key, safe="")


def _server(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or DEFAULT_PORTS.get(scheme)
