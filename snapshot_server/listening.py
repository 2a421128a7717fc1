"""Where the server listens: ``listen`` binds in the calling process (the parent, before any
worker starts), without ``SO_REUSEPORT``, so a port that anything else already serves (another
``snapshot-server``, any program) fails to bind with one clear ``ListenError``, and two servers
can never silently split one port's requests between them."""

from __future__ import annotations

import errno
import socket
from collections.abc import Sequence
from typing import Any

BACKLOG = 128  # aiohttp's default listen backlog
CHOOSE_PORT = "choose another with --port or [server] port"
CHOOSE_HOST = "check --host or [server] host"


class ListenError(Exception):
    """The server cannot listen where it was told to; ``message`` says where and why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def listen(host: str, port: int) -> list[socket.socket]:
    """Listening TCP sockets for every address ``host`` resolves to (as asyncio would bind
    them), or ``ListenError``. ``SO_REUSEADDR`` (restart while old connections linger) but never
    ``SO_REUSEPORT``: a port someone else listens on is refused, not shared."""
    try:
        infos = socket.getaddrinfo(
            host or None, port, family=socket.AF_UNSPEC, type=socket.SOCK_STREAM,
            flags=socket.AI_PASSIVE,
        )  # fmt: skip
    except (socket.gaierror, UnicodeError) as exc:
        # UnicodeError: a name IDNA cannot encode ("a..b"), refused before any lookup.
        reason = exc.strerror if isinstance(exc, socket.gaierror) else "not a valid host name"
        raise ListenError(
            f"cannot listen on {host}:{port}: cannot resolve {host!r}: {reason} ({CHOOSE_HOST})"
        ) from None
    sockets: list[socket.socket] = []
    try:
        for family, type_, proto, _name, address in dict.fromkeys(infos):
            sock = socket.socket(family, type_, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                # One socket per family, as asyncio does: "::" must not also claim IPv4.
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(address)
                # Listening at once: Linux lets two SO_REUSEADDR sockets bind one port as
                # long as neither listens, and the port must be ours from here on.
                sock.listen(BACKLOG)
            except OSError as exc:
                raise ListenError(
                    f"cannot listen on {_host_port(address)}: {_explain(exc)}"
                ) from None
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def _explain(exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return f"address already in use (another server is running there; {CHOOSE_PORT})"
    if exc.errno == errno.EACCES:
        return f"permission denied (ports below 1024 need privileges; {CHOOSE_PORT})"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"no such address on this machine ({CHOOSE_HOST})"
    return exc.strerror or str(exc)


def _host_port(address: Any) -> str:
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def urls(sockets: Sequence[socket.socket]) -> list[str]:
    """``http://HOST:PORT/`` for each listening socket (the port the OS gave, if it chose)."""
    return [f"http://{_host_port(sock.getsockname())}/" for sock in sockets]
