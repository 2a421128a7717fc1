"""Password-protected snapshots through the API on every backend: create, the 401 without the
password, the header, the access cookie (bound to one snapshot and key, signed, expiring),
private no-store everywhere, never in the response cache, and the wrong-password limit."""

from __future__ import annotations

import asyncio

import orjson
from argon2 import PasswordHasher

from snapshot_server.sharing.passwords import Passwords
from snapshot_server.sharing.settings import SharingSettings
from snapshot_server.webapp.appkeys import ANSWERS, CONFIG, STORE
from tests.api.conftest import Client, auth, create
from tests.api.raw_http import RawResponse, exchange
from tests.api.sharing_support import (
    PASSWORD,
    MakeSharing,
    access_cookie,
    attempts_clock,
    make_sharing,
    protected,
    purger,
    sharing_client,
    with_password,
)
from tests.support import ManualClock

__all__ = ["attempts_clock", "make_sharing", "purger", "sharing_client"]  # fixtures

SECRET_TITLE = "Secret dashboard"
UNICODE_PASSWORD = "pässwörd ключ"


async def test_create_answers_grafanas_five_fields_and_keeps_only_a_hash(
    sharing_client: Client,
) -> None:
    made = await protected(sharing_client)
    assert set(made) == {"deleteKey", "deleteUrl", "key", "url", "id"}
    stored = await sharing_client.app[STORE].get(made["key"], 0)
    assert stored.meta.password_hash.startswith("$argon2id$")
    assert PASSWORD not in orjson.dumps(stored.meta.fields()).decode()
    listed = await (
        await sharing_client.get("/api/dashboard/snapshots", headers=auth("editor"))
    ).json()
    assert [i["passwordProtected"] for i in listed] == [True]
    assert "argon2" not in orjson.dumps(listed).decode()


async def test_bad_passwords_on_create_are_400_and_store_nothing(sharing_client: Client) -> None:
    for bad in ("short", 12345678, ["a" * 8], "x" * 1025):
        data = await create(sharing_client, status=400, password=bad)
        assert "password" in data["message"]
    listed = await (
        await sharing_client.get("/api/dashboard/snapshots", headers=auth("editor"))
    ).json()
    assert listed == []
    # null is "no password", as for every optional field of the create body
    made = await create(sharing_client, password=None)
    assert (await sharing_client.get(f"/api/snapshots/{made['key']}")).status == 200


async def test_without_or_with_a_wrong_password_is_401_private_and_shows_nothing(
    sharing_client: Client,
) -> None:
    key = (await protected(sharing_client))["key"]
    for headers in ({}, with_password("wrong password"), with_password("")):
        response = await sharing_client.get(f"/api/snapshots/{key}", headers=headers)
        assert response.status == 401
        assert await response.json() == {"message": "Password required"}
        assert response.headers["Cache-Control"] == "private, no-store"
        assert response.headers["WWW-Authenticate"].startswith("SnapshotPassword")
        assert "ETag" not in response.headers


async def test_the_right_password_in_the_header_shows_it_private_and_no_store(
    sharing_client: Client,
) -> None:
    key = (await protected(sharing_client))["key"]
    response = await sharing_client.get(f"/api/snapshots/{key}", headers=with_password())
    assert response.status == 200
    assert (await response.json())["dashboard"]["title"] == SECRET_TITLE
    assert response.headers["Cache-Control"] == "private, no-store"
    # A valid token beside it changes nothing; a 304 still needs the password.
    both = {**with_password(), **auth("viewer")}
    assert (await sharing_client.get(f"/api/snapshots/{key}", headers=both)).status == 200
    etag = response.headers["ETag"]
    revalidate = await sharing_client.get(f"/api/snapshots/{key}", headers={"If-None-Match": etag})
    assert revalidate.status == 401
    again = {"If-None-Match": etag, **with_password()}
    assert (await sharing_client.get(f"/api/snapshots/{key}", headers=again)).status == 304


async def test_a_password_header_that_is_not_utf8_is_a_wrong_password(
    sharing_client: Client,
) -> None:
    """aiohttp hands undecodable header bytes on as surrogates, which argon2 cannot encode: such
    a header must be a wrong password (401, counted), not a 500. UTF-8 bytes are the password's."""
    key = (await protected(sharing_client, password=UNICODE_PASSWORD))["key"]

    async def get(password: bytes) -> RawResponse:
        return await exchange(
            sharing_client,
            b"GET /api/snapshots/%s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            b"X-Snapshot-Password: %s\r\n\r\n" % (key.encode(), password),
        )

    refused = await get(b"\xff\xfe" + UNICODE_PASSWORD.encode())
    assert refused.status == 401
    assert orjson.loads(refused.body) == {"message": "Password required"}
    assert (await get(UNICODE_PASSWORD.encode())).status == 200


async def test_authorization_keeps_its_meaning(sharing_client: Client) -> None:
    """HTTP Basic is not a password channel: it is a malformed token, as before."""
    key = (await protected(sharing_client))["key"]
    basic = {"Authorization": "Basic dXNlcjpjb3JyZWN0IGhvcnNlIGJhdHRlcnk="}
    response = await sharing_client.get(f"/api/snapshots/{key}", headers=basic)
    assert (response.status, (await response.json())["message"]) == (401, "Unauthorized")


async def test_snapshots_without_a_password_answer_as_before(sharing_client: Client) -> None:
    key = (await create(sharing_client))["key"]
    response = await sharing_client.get(f"/api/snapshots/{key}", headers=with_password("any"))
    assert response.status == 200
    assert response.headers["Cache-Control"].startswith("public, max-age=")


async def test_protected_answers_never_enter_the_response_cache(sharing_client: Client) -> None:
    answers = sharing_client.app[ANSWERS]
    plain = (await create(sharing_client))["key"]
    key = (await protected(sharing_client))["key"]
    for _ in range(2):
        assert (
            await sharing_client.get(f"/api/snapshots/{key}", headers=with_password())
        ).status == 200
    assert (await sharing_client.get(f"/api/snapshots/{plain}")).status == 200
    if answers.cache.enabled:
        assert len(answers.cache) == 1
        assert answers.cache.get(key) is None
    # A cached public answer is not served once the snapshot gets a password.
    patched = await sharing_client.patch(
        f"/api/snapshots/{plain}", json={"password": PASSWORD}, headers=auth("editor")
    )
    assert patched.status == 200
    response = await sharing_client.get(f"/api/snapshots/{plain}")
    assert response.status == 401
    assert response.headers["Cache-Control"] == "private, no-store"


async def test_the_access_cookie_opens_the_api_too(sharing_client: Client) -> None:
    key = (await protected(sharing_client))["key"]
    cookie = await access_cookie(sharing_client, key)
    headers = {"Cookie": f"snapshot_access={cookie}"}
    response = await sharing_client.get(f"/api/snapshots/{key}", headers=headers)
    assert response.status == 200
    assert response.headers["Cache-Control"] == "private, no-store"


async def test_a_cookie_for_another_snapshot_is_refused_even_with_the_same_password(
    sharing_client: Client,
) -> None:
    first = (await protected(sharing_client))["key"]
    second = (await protected(sharing_client))["key"]
    cookie = await access_cookie(sharing_client, first)
    for path in (f"/api/snapshots/{second}", f"/dashboard/snapshot/{second}"):
        response = await sharing_client.get(path, headers={"Cookie": f"snapshot_access={cookie}"})
        assert response.status == 401
        assert SECRET_TITLE not in await response.text()


async def test_a_tampered_cookie_is_refused(sharing_client: Client) -> None:
    key = (await protected(sharing_client))["key"]
    snapshot_id, expires, mac = (await access_cookie(sharing_client, key)).split(".")
    flipped = mac[:-1] + ("A" if mac[-1] != "A" else "B")
    forged = (
        f"{snapshot_id}.{expires}.{flipped}",  # the MAC touched
        f"{snapshot_id}.{int(expires) + 86400}.{mac}",  # a longer life
        f"{int(snapshot_id) + 1}.{expires}.{mac}",  # another id
        f"{snapshot_id}.{expires}",
        "garbage",
    )
    for value in forged:
        headers = {"Cookie": f"snapshot_access={value}"}
        assert (await sharing_client.get(f"/api/snapshots/{key}", headers=headers)).status == 401


async def test_a_hostile_cookie_is_refused_not_a_500(sharing_client: Client) -> None:
    """A cookie value is the client's to write: an expiry too long for int(), a MAC with
    non-ASCII text (which hmac.compare_digest refuses to compare as str) or bytes that are not
    UTF-8 must each be no grant (401 on the API, the locked page), never a 500."""
    made = await protected(sharing_client)
    key, snapshot_id = made["key"], made["id"]
    hostile = (
        f"{snapshot_id}.{'9' * 4400}.mac".encode(),
        f"{snapshot_id}.99999999999.\u00e9t\u00e9".encode(),
        f"{snapshot_id}.99999999999.".encode() + b"\xff\xfe",
    )
    for value in hostile:
        for path in (f"/api/snapshots/{key}", f"/dashboard/snapshot/{key}"):
            response = await exchange(
                sharing_client,
                b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                b"Cookie: snapshot_access=%s\r\n\r\n" % (path.encode(), value),
            )
            assert response.status == 401, (path, value[:40])
            assert SECRET_TITLE.encode() not in response.body


async def test_the_cookie_expires_after_cookie_max_age(
    make_sharing: MakeSharing, clock: ManualClock
) -> None:
    client = await make_sharing(sharing=SharingSettings(cookie_max_age=600))
    key = (await protected(client, expires=0))["key"]
    headers = {"Cookie": f"snapshot_access={await access_cookie(client, key)}"}
    clock.advance(599)
    assert (await client.get(f"/api/snapshots/{key}", headers=headers)).status == 200
    clock.advance(1)
    assert (await client.get(f"/api/snapshots/{key}", headers=headers)).status == 401


async def test_wrong_passwords_are_limited_always_and_the_limit_recovers(
    make_sharing: MakeSharing, attempts_clock: ManualClock
) -> None:
    """[limits] is off (the API suite's default): the password limit applies all the same."""
    client = await make_sharing(sharing=SharingSettings(password_attempts="3/minute"))
    assert client.app[CONFIG].limits.enabled is False
    key = (await protected(client))["key"]
    other = (await protected(client))["key"]
    for _ in range(3):
        response = await client.get(f"/api/snapshots/{key}", headers=with_password("nope nope"))
        assert response.status == 401
    # Now even the right password is refused: a guesser learns nothing more.
    refused = await client.get(f"/api/snapshots/{key}", headers=with_password())
    assert refused.status == 429
    assert "wrong passwords" in (await refused.json())["message"]
    assert refused.headers["Cache-Control"] == "private, no-store"
    assert 1 <= int(refused.headers["Retry-After"]) <= 61
    # Per snapshot: another one is not affected.
    assert (await client.get(f"/api/snapshots/{other}", headers=with_password())).status == 200
    attempts_clock.advance(61)
    assert (await client.get(f"/api/snapshots/{key}", headers=with_password())).status == 200


async def test_a_worker_counting_alone_allows_its_share_of_the_limit(
    make_sharing: MakeSharing,
) -> None:
    """One of `serve --workers 2`'s processes, counting wrong passwords in its own memory (no
    Redis rate-limit storage): it allows half the rate, so both together allow the rate."""
    client = await make_sharing(sharing=SharingSettings(password_attempts="4/minute"), workers=2)
    key = (await protected(client))["key"]
    statuses = [
        (await client.get(f"/api/snapshots/{key}", headers=with_password("nope nope"))).status
        for _ in range(4)
    ]
    assert statuses == [401, 401, 429, 429]


async def test_the_default_hasher_is_argon2id_at_full_cost() -> None:
    passwords = Passwords()
    phc = await passwords.hash(PASSWORD)
    assert phc.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert await passwords.verify(phc, PASSWORD)
    assert not await passwords.verify(phc, PASSWORD + "!")
    assert not await passwords.verify("not a hash", PASSWORD)
    assert PasswordHasher().check_needs_rehash(phc) is False


async def test_concurrent_guesses_cannot_pass_the_limit_together(
    make_sharing: MakeSharing, attempts_clock: ManualClock
) -> None:
    client = await make_sharing(sharing=SharingSettings(password_attempts="3/minute"))
    key = (await protected(client))["key"]
    guesses = [
        client.get(f"/api/snapshots/{key}", headers=with_password(f"guess {i:04d}"))
        for i in range(10)
    ]
    statuses = sorted(r.status for r in await asyncio.gather(*guesses))
    assert statuses == [401] * 3 + [429] * 7


async def test_deleting_a_protected_snapshot_answers_private(sharing_client: Client) -> None:
    key = (await protected(sharing_client))["key"]
    response = await sharing_client.delete(f"/api/snapshots/{key}", headers=auth("editor"))
    assert response.status == 200
    assert response.headers["Cache-Control"] == "private, no-store"
    plain = (await create(sharing_client))["deleteKey"]
    response = await sharing_client.get(f"/api/snapshots-delete/{plain}")
    assert response.headers["Cache-Control"] == "no-store"  # as before


async def test_an_external_snapshot_cannot_have_a_password(make_sharing: MakeSharing) -> None:
    client = await make_sharing(
        external_enabled=True, external_snapshot_url="http://127.0.0.1:9/unreachable"
    )
    data = await create(client, status=400, external=True, password=PASSWORD)
    assert data == {"message": "password cannot protect an external snapshot"}
