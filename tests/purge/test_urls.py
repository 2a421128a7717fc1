"""``snapshot_server.urls``: the one place a snapshot's public addresses and surrogate key are
spelled. The API, viewer and purge suites check what clients and caches see; these check the
building blocks, the root normalisation above all (a root without its ``/`` would glue the
host to the path)."""

from __future__ import annotations

import pytest

from snapshot_server import urls
from snapshot_server.config import ServerConfig


@pytest.mark.parametrize("root", ["https://snap.example.com", "https://snap.example.com/"])
def test_public_root_ends_with_exactly_one_slash(root: str) -> None:
    assert urls.public_root(root) == "https://snap.example.com/"
    assert urls.public_root(urls.public_root(root)) == "https://snap.example.com/"


def test_server_config_uses_the_same_normalisation() -> None:
    assert ServerConfig(root_url="https://snap.example.com/s").public_root == (
        "https://snap.example.com/s/"
    )
    assert ServerConfig(host="::1", port=8080).public_root == "http://[::1]:8080/"


def test_snapshot_addresses() -> None:
    root = "https://snap.example.com/s/"
    assert urls.view_url(root, "k1") == "https://snap.example.com/s/dashboard/snapshot/k1"
    assert urls.api_url(root, "k1") == "https://snap.example.com/s/api/snapshots/k1"
    assert urls.delete_url(root, "d1") == "https://snap.example.com/s/api/snapshots-delete/d1"
    assert urls.cached_urls(root, "k1") == (urls.api_url(root, "k1"), urls.view_url(root, "k1"))
    assert urls.surrogate_key("k1") == "snapshot-k1"
