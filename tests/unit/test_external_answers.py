"""What a remote's answers must look like before they are trusted (``external.answers``), and
the ``external_*`` config rules (``external.settings``)."""

from __future__ import annotations

import orjson
import pytest

from snapshot_server.external.answers import BadAnswer, http_url, is_deleted, parse_created
from snapshot_server.external.settings import create_url, delete_url, problems

GOOD = {
    "key": "abcDEF123",
    "deleteKey": "zyx987",
    "url": "https://b.example/dashboard/snapshot/abcDEF123",
    "deleteUrl": "https://b.example/api/snapshots-delete/zyx987",
    "id": 7,
}


@pytest.mark.parametrize(
    "url",
    ["http://b.example/x", "https://b.example:8443/dashboard/snapshot/k", "http://[::1]:80/x"],
)
def test_http_urls_are_kept(url: str) -> None:
    assert http_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "file:///etc/passwd",
        "/dashboard/snapshot/k",
        "//b.example/x",
        "https://",
        "https://user:pw@b.example/x",
        "https://b.example/x y",
        "https://b.example/x\n",
        "https://b.example:port/x",
        "ftp://b.example/x",
        "https://b.example/" + "x" * 3000,
        "",
        None,
        3,
    ],
)
def test_other_urls_are_refused(url: object) -> None:
    assert http_url(url) is None


def test_a_good_answer_is_read() -> None:
    published = parse_created(orjson.dumps(GOOD))
    assert (published.key, published.delete_key) == ("abcDEF123", "zyx987")
    assert (published.url, published.delete_url) == (GOOD["url"], GOOD["deleteUrl"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"key": None}, "'key'"),
        ({"key": "../../etc"}, "'key'"),
        ({"deleteKey": ""}, "'deleteKey'"),
        ({"deleteKey": "k" * 5000}, "'deleteKey'"),  # it becomes part of a stored URL
        ({"deleteKey": "a\r\nHost: evil"}, "'deleteKey'"),
        ({"deleteKey": "a b"}, "'deleteKey'"),
        ({"url": "javascript:x"}, "'url'"),
        ({"deleteUrl": 5}, "'deleteUrl'"),
    ],
)
def test_a_bad_field_is_named(change: dict[str, object], message: str) -> None:
    with pytest.raises(BadAnswer, match=message):
        parse_created(orjson.dumps({**GOOD, **change}))


@pytest.mark.parametrize(("raw", "message"), [(b"<html>", "not JSON"), (b"[1]", "JSON object")])
def test_an_answer_that_is_no_object_is_refused(raw: bytes, message: str) -> None:
    with pytest.raises(BadAnswer, match=message):
        parse_created(raw)


@pytest.mark.parametrize(
    ("status", "raw", "deleted"),
    [
        (200, b"", True),
        (500, b'{"message": "Failed to get dashboard snapshot"}', True),
        (500, b'{"message": "Internal server error"}', False),
        (500, b"Failed to get dashboard snapshot", False),
        (404, b'{"message": "Snapshot not found"}', False),
        (204, b"", False),
    ],
)
def test_grafanas_delete_rule(status: int, raw: bytes, deleted: bool) -> None:
    assert is_deleted(status, raw) is deleted


def test_config_problems() -> None:
    assert list(problems(False, "", "")) == []
    assert list(problems(True, "https://b.example", "t0ken")) == []
    assert [k for k, _ in problems(True, "", "")] == ["external_snapshot_url"]
    assert [k for k, _ in problems(False, "b.example", "")] == ["external_snapshot_url"]
    assert [k for k, _ in problems(False, "", " t")] == ["external_snapshot_token"]


@pytest.mark.parametrize("base", ["https://b.example", "https://b.example/", "https://b.example//"])
def test_create_url_has_one_slash(base: str) -> None:
    assert create_url(base) == "https://b.example/api/snapshots"


def test_a_path_prefix_is_kept() -> None:
    assert create_url("https://b.example/snap") == "https://b.example/snap/api/snapshots"


@pytest.mark.parametrize(
    ("base", "answered", "called"),
    [
        # on the configured server (default port spelled or not, host in any case): as answered
        ("https://b.example", "https://B.example:443/api/snapshots-delete/k1", None),
        ("http://b:3000/grafana/", "http://b:3000/grafana/api/snapshots-delete/k1", None),
        # anywhere else: the configured server's route, never the named address
        (
            "http://b:3000",
            "http://169.254.169.254/latest/meta-data",
            "http://b:3000/api/snapshots-delete/k1",
        ),
        (
            "http://b:3000/",
            "http://b:3001/api/snapshots-delete/k1",
            "http://b:3000/api/snapshots-delete/k1",
        ),
        (
            "https://b/sub/",
            "http://b/api/snapshots-delete/k1",
            "https://b/sub/api/snapshots-delete/k1",
        ),
    ],
)
def test_a_delete_url_is_only_ever_on_the_configured_server(
    base: str, answered: str, called: str | None
) -> None:
    assert delete_url(base, answered, "k1") == (called or answered)


def test_a_derived_delete_url_quotes_the_remote_delete_key() -> None:
    assert delete_url("http://b", "http://c/x", "a/../b?c") == (
        "http://b/api/snapshots-delete/a%2F..%2Fb%3Fc"
    )
