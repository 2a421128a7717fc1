"""The public addresses of a snapshot, built in one place: the share link and deleteUrl the
API answers with, the URLs a CDN may have cached (and a purge must drop), and the surrogate
key every cached response is tagged with (``Surrogate-Key`` / ``Cache-Tag``).

``root`` is the public base URL as returned by ``public_root``: it always ends with ``/``.
"""

from __future__ import annotations


def public_root(root_url: str) -> str:
    """``root_url`` normalised to end with exactly the one ``/`` every URL below appends to."""
    return root_url if root_url.endswith("/") else root_url + "/"


def view_url(root: str, key: str) -> str:
    """The viewer page a person opens: the ``url`` a create answers with."""
    return f"{root}dashboard/snapshot/{key}"


def api_url(root: str, key: str) -> str:
    """The snapshot's JSON (what Grafana fetches)."""
    return f"{root}api/snapshots/{key}"


def delete_url(root: str, delete_key: str) -> str:
    """The ``deleteUrl``: a GET of it deletes the snapshot."""
    return f"{root}api/snapshots-delete/{delete_key}"


def cached_urls(root: str, key: str) -> tuple[str, str]:
    """Every URL a cache may hold for ``key``: what a purge drops. Never the deleteUrl, which
    is not cacheable (it deletes)."""
    return (api_url(root, key), view_url(root, key))


def surrogate_key(key: str) -> str:
    """The tag on every cacheable response for ``key``; Fastly purges by it."""
    return f"snapshot-{key}"
