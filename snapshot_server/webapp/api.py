"""The JSON API's handlers: parse and validate the request, call the service, shape the response.

Nothing here decides permissions or expiry (the service does); nothing here catches errors (the
error middleware maps them).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .. import __version__
from ..abuse import checks as limits
from ..auth import Identity
from ..capture.model import CaptureStats
from ..clock import rfc3339
from ..creating import PreparedCreate
from ..errors import StorageUnavailable, Unauthorized
from ..models import SnapshotMeta
from .appkeys import ACCESS, ANSWERS, CONFIG, METRICS, SERVICE, UPLOADS
from .parsing import parse_create_request, parse_list_query, read_json_object
from .request_body import reservation
from .requests import identity_of, route_template
from .responses import NO_STORE, PRIVATE_NO_STORE, json_response


async def create_snapshot(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    identity = identity_of(request)
    # Before a byte of the body is read (or invited with 100 Continue): a caller who may not
    # create is answered at once, whatever it is about to upload.
    service.authorize_create(identity)
    await limits.check_create(request, identity)  # a limited caller does not get to upload
    config = request.app[CONFIG]
    max_bytes, wait = config.server.max_body_bytes, config.limits.body_timeout
    # Held until the answer: the dashboard's stored bytes live that long too.
    gate = request.app[UPLOADS]
    async with gate.hold(reservation(request, max_bytes), wait=wait, body=request.content):
        # In a function of its own: the body's parsed objects are dropped once serialised,
        # before the wait on storage (a 1 MB dashboard parses to several MB of objects).
        prepared, captured = await _prepare_create(request, identity, max_bytes, wait)
        created = await service.store_create(prepared)
    key = created.snapshot.key
    answer: dict[str, Any] = {
        "deleteKey": created.delete_key,
        "deleteUrl": service.delete_url(created.delete_key),
        "key": key,
        # An external snapshot is viewed where it was published.
        "url": created.snapshot.external_url or service.view_url(key),
        "id": created.snapshot.id,
    }
    if captured is not None:  # only then: otherwise exactly Grafana's five fields
        answer["capture"] = captured.as_json()
    return json_response(answer, cache_control=NO_STORE)


async def _prepare_create(
    request: web.Request, identity: Identity, max_bytes: int, wait: float
) -> tuple[PreparedCreate, CaptureStats | None]:
    """The body read and parsed, its capture run (before scrubbing, which may strip the
    targets it reads), then checked and serialised: only the serialised bytes outlive it."""
    service = request.app[SERVICE]
    parsed = parse_create_request(await read_json_object(request, max_bytes, within=wait))
    parsed, captured = await service.capture_create(identity, parsed)
    return service.prepare_create(identity, parsed), captured


async def get_snapshot(request: web.Request) -> web.StreamResponse:
    service = request.app[SERVICE]
    service.authorize_view(identity_of(request))  # who is asking comes before any answer, cached
    key = request.match_info.get("key", "")
    answers = request.app[ANSWERS]
    # Every lookup passes the rate limit, a cache hit too: a refused address stays refused.
    answer = await limits.lookup(request, lambda: answers.find(key))
    if answer.protected:
        await request.app[ACCESS].require(request, answer.meta, key)
    return answer.respond(request, service.clock())


async def delete_snapshot(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    deleted = await service.delete_by_key(identity_of(request), request.match_info.get("key", ""))
    return _deleted(request, deleted)


async def delete_by_delete_key(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    await limits.check_delete(request)  # every attempt counts, found or not
    deleted = await service.delete_by_delete_key(request.match_info.get("delete_key", ""))
    return _deleted(request, deleted)


def _deleted(request: web.Request, deleted: SnapshotMeta) -> web.Response:
    message = request.app[SERVICE].deleted_message()
    # A protected snapshot's answers are private on every route, its delete's too.
    cache_control = PRIVATE_NO_STORE if deleted.password_hash else NO_STORE
    return json_response({"message": message, "id": deleted.id}, cache_control=cache_control)


async def list_snapshots(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    identity = identity_of(request)
    service.authorize_list(identity)  # who is asking comes before what they ask
    items = await service.list(identity, parse_list_query(request.query))
    return json_response(
        [list_item(service.shown_expiry(m), m) for m in items], cache_control=PRIVATE_NO_STORE
    )


def list_item(shown_expiry: float, meta: SnapshotMeta) -> dict[str, Any]:
    """A snapshot as the list shows it (and PATCH answers it)."""
    return {
        "id": meta.id,
        "name": meta.name,
        "key": meta.key,
        "orgId": meta.org_id,
        "userId": meta.user_id,
        "external": meta.external,
        "externalUrl": meta.external_url,
        "expires": rfc3339(shown_expiry),
        "created": rfc3339(meta.created),
        "updated": rfc3339(meta.updated),
        "passwordProtected": bool(meta.password_hash),
    }


async def shared_options(request: web.Request) -> web.Response:
    config = request.app[CONFIG].snapshots
    if identity_of(request).anonymous and not config.public_mode:
        raise Unauthorized()
    return json_response(
        {
            "snapshotEnabled": config.enabled,
            "externalSnapshotURL": config.external_snapshot_url,
            "externalSnapshotName": config.external_snapshot_name,
            "externalEnabled": config.external_enabled,
        },
        cache_control=PRIVATE_NO_STORE,
    )


async def health(request: web.Request) -> web.Response:
    try:
        await request.app[SERVICE].store.ping()
    except StorageUnavailable:
        request.app[METRICS].count_storage_error(route_template(request))
        return json_response(
            {"database": "failing", "version": __version__, "message": "Storage unavailable"},
            status=503,
            cache_control=NO_STORE,
        )
    return json_response({"database": "ok", "version": __version__}, cache_control=NO_STORE)
