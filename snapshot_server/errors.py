"""The project's exceptions, and the HTTP status each one becomes.

    SnapshotError                 base of everything the service raises on purpose
    ├── SnapshotNotFound          404  unknown, expired or deleted key (one message for all)
    │   └── PublishedElsewhere    404  an external snapshot's key: its data lives remotely
    ├── InvalidSnapshot           400  the request is malformed; ``message`` says what is wrong
    ├── SnapshotExists            409  a client-chosen key or deleteKey is taken
    ├── Unauthorized              401  missing, malformed, unknown or revoked token
    │   └── PasswordRequired      401  a protected snapshot, without its right password
    ├── Forbidden                 403  authenticated, but not allowed; ``message`` says why
    ├── PayloadTooLarge           413  body above ``server.max_body_bytes`` (inflated), over
    │                                  an org's ``limits.max_bytes_per_org``, or a capture
    │                                  over one of ``[capture]``'s caps
    ├── UnsupportedEncoding       415  a request body Content-Encoding other than gzip/deflate
    ├── RequestTimeout            408  a request body slower than ``[limits] body_timeout``
    ├── ServerBusy                503  no room among the upload bytes in flight (Retry-After)
    ├── ShuttingDown              503  an upload cut short because the server is stopping
    ├── TooManyRequests           429  over a rate limit or an org's cap (``[limits]``)
    │   └── TooManyPasswords      429  too many wrong passwords for one snapshot (always on)
    ├── Conflict                  409  a change that cannot apply (rotate an external snapshot)
    ├── ExternalDeleteFailed      500  Grafana-compatible "Failed to get dashboard snapshot"
    ├── BadGateway                502  the external snapshot server failed (``external``), or
    │                                  a capture's Prometheus datasource did (``capture``)
    ├── GatewayTimeout            504  a capture's Prometheus queries took too long
    └── StorageUnavailable        503  the backend cannot be reached; raised by backends only

    ConfigError                   not an HTTP error: a bad config file, names the key
    StoreClosed                   not raised alone: the cause of a ``StorageUnavailable`` from a
                                  store used after ``aclose`` (so the operator's log says why)

Backends wrap their driver's exceptions (``aiosqlite.Error``, ``RedisError``, ``OSError``) into
``StorageUnavailable`` at their own boundary (``raise StorageUnavailable(...) from exc``), so the
service and the views never see a driver exception. One middleware maps ``SnapshotError`` to JSON.
"""

from __future__ import annotations


class SnapshotError(Exception):
    """Base class: ``status`` is the HTTP status, ``message`` the client-facing text, and
    ``retry_after`` (seconds, when set) is sent as ``Retry-After``."""

    status = 500
    default_message = "Internal server error"
    retry_after: int | None = None
    """Seconds the client should wait before trying again (``Retry-After``), if known."""

    def __init__(self, message: str | None = None, *, retry_after: int | None = None) -> None:
        self.message = message if message is not None else self.default_message
        self.retry_after = retry_after
        super().__init__(self.message)


class SnapshotNotFound(SnapshotError):
    status = 404
    default_message = "Snapshot not found"


class PublishedElsewhere(SnapshotNotFound):
    """The key names an external snapshot: its data lives at ``external_url``, not here. The
    API answers the plain 404; the viewer page links a person to ``external_url``."""

    def __init__(self, external_url: str) -> None:
        self.external_url = external_url
        super().__init__()


class InvalidSnapshot(SnapshotError):
    status = 400
    default_message = "bad request data"


class SnapshotExists(SnapshotError):
    """A client-chosen ``key`` or ``deleteKey`` is already in use; ``field`` names which."""

    status = 409

    def __init__(self, field: str) -> None:
        self.field = field
        super().__init__(f"A snapshot with this {field} already exists")


class Unauthorized(SnapshotError):
    status = 401
    default_message = "Unauthorized"


class PasswordRequired(Unauthorized):
    """A password-protected snapshot asked for without a valid access cookie or the right
    ``X-Snapshot-Password``. Answered ``private, no-store``, without a Bearer challenge (the
    token, if any, was fine)."""

    default_message = "Password required"


class Forbidden(SnapshotError):
    status = 403
    default_message = "forbidden"


class PayloadTooLarge(SnapshotError):
    status = 413
    default_message = "Request body too large"


class UnsupportedEncoding(SnapshotError):
    """A request body in a Content-Encoding the server does not read."""

    status = 415
    default_message = "Unsupported Content-Encoding"


class RequestTimeout(SnapshotError):
    """The request body did not arrive within ``[limits] body_timeout``."""

    status = 408
    default_message = "Request body took too long to arrive"


class ServerBusy(SnapshotError):
    """Too many bytes of other uploads are being received; try again after ``retry_after``."""

    status = 503
    default_message = "Too many uploads in progress: try again shortly"


class ShuttingDown(SnapshotError):
    """The server began to stop while this request's body was still arriving: nothing was
    stored; send it again (to this server once it is back, or to another)."""

    status = 503
    default_message = "The server is shutting down: nothing was stored, send the request again"


class TooManyRequests(SnapshotError):
    """Over a rate limit (``retry_after`` says when the window allows again) or a cap."""

    status = 429
    default_message = "Too many requests"


class TooManyPasswords(TooManyRequests):
    """Too many wrong passwords for one snapshot from one address; answered ``private,
    no-store`` like everything about a protected snapshot."""


class Conflict(SnapshotError):
    """The request cannot apply to this snapshot as it is; ``message`` says why."""

    status = 409
    default_message = "Conflict"


class ExternalDeleteFailed(SnapshotError):
    """The exact 500 Grafana reads as "already gone" when it deletes an external snapshot."""

    status = 500
    default_message = "Failed to get dashboard snapshot"


class BadGateway(SnapshotError):
    """The external snapshot server was unreachable, slow, or answered what it should not;
    ``message`` says which, and which setting to check."""

    status = 502
    default_message = "The external snapshot server failed"


class GatewayTimeout(SnapshotError):
    """A capture's queries did not finish within ``capture.timeout`` (or Prometheus itself gave
    up on one); ``message`` names the datasource."""

    status = 504
    default_message = "The datasource did not answer in time"


class StorageUnavailable(SnapshotError):
    status = 503
    default_message = "Storage unavailable"


class ConfigError(Exception):
    """A config file is invalid; the message starts with the dotted key (``server.port: ...``)."""


class StoreClosed(Exception):
    """A store was used after ``aclose``. Backends raise ``StorageUnavailable`` from it."""

    def __init__(self) -> None:
        super().__init__("the store is closed")
