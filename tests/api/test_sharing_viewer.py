"""The viewer page of a password-protected snapshot on every backend: the locked page holds no
dashboard data, the form sets a signed, HttpOnly, SameSite=Strict, path-scoped cookie on a
right password only, and refuses posts from elsewhere (Origin, Sec-Fetch-Site, CSRF token)."""

from __future__ import annotations

from snapshot_server.sharing.settings import SharingSettings
from tests.api.conftest import Client, auth, create
from tests.api.raw_http import exchange
from tests.api.sharing_support import (
    PASSWORD,
    MakeSharing,
    attempts_clock,
    make_sharing,
    open_form,
    post_form,
    protected,
    purger,
    set_cookies,
    sharing_client,
)

__all__ = ["attempts_clock", "make_sharing", "purger", "sharing_client"]  # fixtures

TITLE = "Quarterly revenue"
PANEL = "Sales by region"


async def secret_snapshot(client: Client) -> str:
    made = await protected(
        client,
        name="Board meeting",
        dashboard={"title": TITLE, "panels": [{"type": "text", "title": PANEL, "id": 1}]},
    )
    return str(made["key"])


async def test_the_locked_page_holds_no_dashboard_data(sharing_client: Client) -> None:
    key = await secret_snapshot(sharing_client)
    response = await sharing_client.get(f"/dashboard/snapshot/{key}")
    html = await response.text()
    assert response.status == 401
    for secret in (TITLE, PANEL, "Board meeting"):
        assert secret not in html
    assert 'type="password"' in html
    assert response.headers["Cache-Control"] == "private, no-store"
    assert "form-action 'self'" in response.headers["Content-Security-Policy"]
    form_cookie = set_cookies(response)["snapshot_form"]
    for attribute in ("HttpOnly", "SameSite=Strict", f"Path=/dashboard/snapshot/{key}"):
        assert attribute in form_cookie


async def test_a_wrong_password_sets_nothing_and_shows_nothing(sharing_client: Client) -> None:
    key = await secret_snapshot(sharing_client)
    response = await post_form(sharing_client, key, "not the password")
    html = await response.text()
    assert response.status == 401
    assert "Wrong password" in html
    assert TITLE not in html
    assert "snapshot_access" not in set_cookies(response)


async def test_a_right_password_sets_the_cookie_and_redirects_to_the_page(
    sharing_client: Client,
) -> None:
    key = await secret_snapshot(sharing_client)
    response = await post_form(sharing_client, key, PASSWORD)
    assert response.status == 303
    assert response.headers["Location"] == f"/dashboard/snapshot/{key}"
    assert response.headers["Cache-Control"] == "private, no-store"
    cookies = response.headers.getall("Set-Cookie")
    assert sorted(c.split("Path=")[1].split(";")[0] for c in cookies) == [
        f"/api/snapshots/{key}",
        f"/dashboard/snapshot/{key}",
    ]
    for cookie in cookies:
        assert cookie.startswith("snapshot_access=")
        assert PASSWORD.split()[0] not in cookie
        for attribute in ("HttpOnly", "SameSite=Strict", "Max-Age=86400", "Secure"):
            assert attribute in cookie
    value = cookies[0].split(";")[0].split("=", 1)[1]
    page = await sharing_client.get(
        f"/dashboard/snapshot/{key}", headers={"Cookie": f"snapshot_access={value}"}
    )
    assert page.status == 200
    assert TITLE in await page.text()
    assert page.headers["Cache-Control"] == "private, no-store"


async def test_posts_from_elsewhere_are_refused(sharing_client: Client) -> None:
    key = await secret_snapshot(sharing_client)
    foreign = (
        {"Origin": "https://evil.example.test"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "https://evil.example.test", "Sec-Fetch-Site": "same-origin"},
    )
    for headers in foreign:
        response = await post_form(sharing_client, key, PASSWORD, headers=headers)
        assert response.status == 403, headers
        assert "snapshot_access" not in set_cookies(response)
    same = {"Origin": "https://snapshots.example.test", "Sec-Fetch-Site": "same-origin"}
    assert (await post_form(sharing_client, key, PASSWORD, headers=same)).status == 303
    # What Chromium sends for the page's own form under its no-referrer policy.
    null = {"Origin": "null", "Sec-Fetch-Site": "same-origin"}
    assert (await post_form(sharing_client, key, PASSWORD, headers=null)).status == 303


async def test_the_csrf_token_must_match_the_pages_cookie(sharing_client: Client) -> None:
    key = await secret_snapshot(sharing_client)
    token, nonce = await open_form(sharing_client, key)
    other_token, other_nonce = await open_form(sharing_client, key)
    other_key = await secret_snapshot(sharing_client)
    key_token, key_nonce = await open_form(sharing_client, other_key)
    attempts = (
        ({"password": PASSWORD}, nonce),  # no token
        ({"password": PASSWORD, "csrf": token}, None),  # no cookie
        ({"password": PASSWORD, "csrf": token}, other_nonce),  # another page's cookie
        ({"password": PASSWORD, "csrf": key_token}, key_nonce),  # another snapshot's form
        ({"password": PASSWORD, "csrf": nonce + ".forged"}, nonce),
    )
    for data, cookie in attempts:
        headers = {"Cookie": f"snapshot_form={cookie}"} if cookie else {}
        response = await sharing_client.post(
            f"/dashboard/snapshot/{key}", data=data, headers=headers, allow_redirects=False
        )
        assert response.status == 403
        assert "text/html" in response.headers["Content-Type"]
    assert other_token != token


async def test_the_form_is_rate_limited_too(
    make_sharing: MakeSharing, attempts_clock: object
) -> None:
    client = await make_sharing(sharing=SharingSettings(password_attempts="2/minute"))
    key = await secret_snapshot(client)
    for _ in range(2):
        assert (await post_form(client, key, "wrong wrong")).status == 401
    refused = await post_form(client, key, PASSWORD)
    assert refused.status == 429
    assert "Retry-After" in refused.headers
    assert refused.headers["Cache-Control"] == "private, no-store"
    assert "snapshot_access" not in set_cookies(refused)


async def test_a_snapshot_without_a_password_never_shows_the_form(sharing_client: Client) -> None:
    key = (await create(sharing_client))["key"]
    page = await sharing_client.get(f"/dashboard/snapshot/{key}")
    assert page.status == 200
    assert 'type="password"' not in await page.text()
    assert page.headers["Cache-Control"].startswith("public, max-age=")


async def test_a_hostile_csrf_token_or_form_cookie_is_refused_not_a_500(
    sharing_client: Client,
) -> None:
    """The form's token and its cookie come from the client: non-ASCII text in either (which
    hmac.compare_digest refuses to compare as str), or cookie bytes that are not UTF-8, are a
    stale form (403), never a 500."""
    key = await secret_snapshot(sharing_client)
    token, nonce = await open_form(sharing_client, key)
    for forged in (f"{nonce}.\u00e9t\u00e9", f"{nonce}.\ufffd"):
        response = await sharing_client.post(
            f"/dashboard/snapshot/{key}",
            data={"password": PASSWORD, "csrf": forged},
            headers={"Cookie": f"snapshot_form={nonce}"},
            allow_redirects=False,
        )
        assert response.status == 403
    body = f"password=x&csrf={token}".encode()
    raw = await exchange(
        sharing_client,
        b"POST /dashboard/snapshot/%s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n"
        b"Cookie: snapshot_form=\xff%s\r\n\r\n%s"
        % (key.encode(), len(body), nonce.encode()[1:], body),
    )
    assert raw.status == 403


async def test_no_password_earns_no_cookie_that_a_later_password_would_honour(
    sharing_client: Client,
) -> None:
    """A form posted after the owner removed the password goes to the page, but grants no access
    cookie: one would open the snapshot without its password once a password is set again."""
    key = await secret_snapshot(sharing_client)
    token, nonce = await open_form(sharing_client, key)
    removed = await sharing_client.patch(
        f"/api/snapshots/{key}", json={"password": None}, headers=auth("editor")
    )
    assert removed.status == 200
    response = await sharing_client.post(
        f"/dashboard/snapshot/{key}",
        data={"password": "anything at all", "csrf": token},
        headers={"Cookie": f"snapshot_form={nonce}"},
        allow_redirects=False,
    )
    assert response.status == 303
    assert "snapshot_access" not in set_cookies(response)
