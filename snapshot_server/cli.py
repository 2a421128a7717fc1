"""The ``snapshot-server`` command, and the composition root: the one place that imports
``backends`` and hands its opener to ``create_app``.

``serve`` binds its port before anything else (``listening.listen``), so a taken port is one line
and exit code 2, never a banner followed by a traceback; it prints the banner and the
``serving on`` line only once the store is open and every worker accepts connections.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import os
import secrets
import signal
import socket
import sys
from collections.abc import Callable, Sequence

from aiohttp import web

from backends import (
    backend_class,
    check_storage,
    describe_storage,
    open_store,
    shared_by_processes,
    shared_limits,
)

from . import heap, loops
from .config import ROLES, AuthConfig, Config, load_config, token_config
from .errors import ConfigError, StorageUnavailable
from .listening import ListenError, listen, urls
from .logs import LOG_FORMATS, setup_logging
from .metrics_sharing import shared_metrics
from .models import hash_secret
from .moving import commands as moving
from .sharing.secret import SecretSource, secret_source
from .webapp.app import create_app
from .webapp.protocol import SnapshotRunner
from .workers import WorkerLink, supervise

log = logging.getLogger("snapshot_server")
CONFIG_ENV = "SNAPSHOT_SERVER_CONFIG"
EXIT_USAGE = 2  # bad configuration, or cannot listen where told to
EXIT_STORAGE = 3  # the store could not be opened

DESCRIPTION = "A self-hosted, Grafana-compatible dashboard snapshot server."
EPILOG = f"""\
examples:
  snapshot-server serve                  SQLite in ./snapshots.db, a token for this run
  snapshot-server token --name grafana   a lasting token and its config entry
  snapshot-server serve --config FILE    every setting is described in config.example.toml
  snapshot-server migrate --from OLD --to NEW --checkpoint FILE
                                         copy every snapshot to another storage

exit status of serve: 0 stopped by SIGTERM or Ctrl+C, 1 a worker failed,
{EXIT_USAGE} bad configuration or the port cannot be used, {EXIT_STORAGE} storage unavailable.
"""


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "check-config":
        return check_config(args.file)
    if args.command == "token":
        print_token(args.name, args.role, args.org_id, args.user_id)
        return 0
    if args.command in moving.NAMES:
        return moving.run(args, moving.Backends(open_store, check_storage, describe_storage))
    return serve_command(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="snapshot-server",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=_Formatter,
    )
    commands = parser.add_subparsers(
        title="commands",
        dest="command",
        required=True,
        metavar="COMMAND",
        help="`snapshot-server COMMAND --help` explains one",
    )

    serve = commands.add_parser(
        "serve",
        formatter_class=_CommandFormatter,
        help="run the server",
        description="Run the server until SIGTERM or Ctrl+C. With no config file: SQLite in "
        "./snapshots.db and an Admin token for this run, printed on start.",
    )
    serve.add_argument(
        "--config",
        metavar="FILE",
        help=f"TOML config file (default: ${CONFIG_ENV}; if unset, no file)",
    )
    serve.add_argument("--host", help="address to listen on (overrides [server] host)")
    serve.add_argument("--port", type=int, help="port to listen on (overrides [server] port)")
    serve.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="processes serving the port (overrides [server] workers; not with memory storage)",
    )
    serve.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        help="log lines as words or as one JSON object each (overrides [server] log_format)",
    )

    check = commands.add_parser(
        "check-config",
        formatter_class=_CommandFormatter,
        help="validate a config file and exit",
        description="Validate a config file: print 'ok' and exit 0, or name the first bad key "
        "and exit 1.",
    )
    check.add_argument("file", metavar="FILE", help="the TOML config file to check")

    token = commands.add_parser(
        "token",
        formatter_class=_CommandFormatter,
        help="print a new API token and its config entry",
        description="Print a new random API token, and the [[auth.tokens]] entry (holding only "
        "its SHA-256) to put in the config file.",
    )
    token.add_argument(
        "--name", default="my-token", help="label of the token in the config (default: %(default)s)"
    )
    token.add_argument(
        "--role",
        choices=ROLES,
        default="Editor",
        help="Viewer lists and reads snapshots; Editor also creates them and deletes its own; "
        "Admin also sees and deletes every snapshot of its org (default: %(default)s)",
    )
    token.add_argument(
        "--org-id",
        type=int,
        default=1,
        metavar="ID",
        help="organisation the token's snapshots belong to (default: %(default)s)",
    )
    token.add_argument(
        "--user-id",
        type=int,
        default=1,
        metavar="ID",
        help="user recorded as the creator of the token's snapshots (default: %(default)s)",
    )
    moving.add_parsers(commands)
    return parser


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the epilog's layout (examples in columns)."""


class _CommandFormatter(argparse.HelpFormatter):
    """Room for ``--role {Viewer,Editor,Admin}`` beside its help."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32)


def check_config(path: str) -> int:
    try:
        config = load_config(path)
        check_storage(config.storage)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{path}: ok (storage: {config.storage.backend}, root_url: {config.server.public_root})")
    return 0


def print_token(name: str, role: str, org_id: int, user_id: int) -> None:
    token = secrets.token_urlsafe(32)
    print(f"token: {token}\n")
    print("Add this to your config file (only the hash is stored):\n")
    # A JSON string is a valid TOML basic string: quotes and backslashes in the name stay safe.
    print(
        f"[[auth.tokens]]\nname = {json.dumps(name)}\ntoken_sha256 = "
        f'"{hash_secret(token)}"\norg_id = {org_id}\nuser_id = {user_id}\nrole = "{role}"'
    )


def serve_command(args: argparse.Namespace) -> int:
    setup_logging()  # until the config says which format
    path = args.config or os.environ.get(CONFIG_ENV)
    try:
        config = load_config(path) if path else Config()
        check_storage(config.storage)
        config = _apply_overrides(config, args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    setup_logging(config.server.log_format)
    banner = ""
    if not path:
        config, banner = _newcomer_config(config)
    elif not config.auth.tokens and not config.snapshots.public_mode:
        log.warning(
            "no [[auth.tokens]] configured: nobody can create snapshots "
            "(`snapshot-server token` prints one)"
        )
    try:
        sockets = listen(config.server.host, config.server.port)
    except ListenError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    announce = _announcer(banner, _serving_line(config, sockets))
    if config.server.workers > 1:
        # /metrics of any worker answers for all of them (see metrics_sharing).
        with shared_metrics() as metrics:
            return supervise(
                _worker,
                sockets,
                (config,),
                config.server.workers,
                on_ready=announce,
                on_exit=metrics.worker_exited,
            )
    try:
        loops.run(serve_app(config, sockets, announce))
    except StorageUnavailable as exc:
        # A clear line for the operator instead of a traceback (e.g. Redis not running).
        print(f"error: storage unavailable: {exc.message}", file=sys.stderr)
        return EXIT_STORAGE
    return 0


def _apply_overrides(config: Config, args: argparse.Namespace) -> Config:
    server = config.server
    if args.host is not None:
        server = dataclasses.replace(server, host=args.host)
    if args.port is not None:
        if not 0 < args.port < 65536:
            raise ConfigError("--port: must be between 1 and 65535")
        server = dataclasses.replace(server, port=args.port)
    if args.log_format is not None:
        server = dataclasses.replace(server, log_format=args.log_format)
    if args.workers is not None:
        if not 1 <= args.workers <= 256:
            raise ConfigError("--workers: must be between 1 and 256")
        server = dataclasses.replace(server, workers=args.workers)
    if server.workers > 1 and not shared_by_processes(config.storage):
        raise ConfigError(
            f"server.workers: the {config.storage.backend} backend cannot be shared by "
            "several workers"
        )
    return dataclasses.replace(config, server=server)


def _newcomer_config(config: Config) -> tuple[Config, str]:
    """No config file: SQLite in the working directory (the default) and an Admin token for
    this run. Returns the config and the banner that shows the token."""
    token = secrets.token_urlsafe(24)
    dev = token_config("development", token, role="Admin")
    banner = (
        "\nNo config file given: snapshots are stored with SQLite in the working directory.\n"
        f"Development token for this run (Admin of org 1):\n\n    {token}\n\n"
        f"  curl -H 'Authorization: Bearer {token}' {config.server.public_root}"
        "api/dashboard/snapshots\n\n"
        "For lasting tokens run `snapshot-server token` and put its output in a config file\n"
        "(see config.example.toml), then `snapshot-server serve --config FILE`.\n"
    )
    return dataclasses.replace(config, auth=AuthConfig(tokens=(dev,))), banner


def _serving_line(config: Config, sockets: Sequence[socket.socket]) -> str:
    details = [f"storage: {describe_storage(config.storage)}"]
    if config.server.workers > 1:
        details.append(f"{config.server.workers} workers")
    listening = urls(sockets)
    if config.server.root_url and config.server.public_root not in listening:
        details.append(f"share links: {config.server.public_root}")
    return f"serving on {' and '.join(listening)} ({'; '.join(details)})"


def _announcer(banner: str, serving: str) -> Callable[[], None]:
    def announce() -> None:
        if banner:
            print(banner)
        print(serving, flush=True)

    return announce


async def serve_app(
    config: Config, sockets: Sequence[socket.socket], ready: Callable[[], None]
) -> None:
    """Serve the application on the listening ``sockets`` until SIGTERM or SIGINT, then shut
    down gracefully (``SnapshotRunner``: about 10 s at worst). ``ready()`` is called once the
    store is open and the sockets accept. ``StorageUnavailable`` from opening the store
    propagates. A second signal changes nothing: a supervisor and the terminal may both send
    one, and the first one's shutdown proceeds."""
    loop = asyncio.get_running_loop()
    log.info("event loop: %s", loops.describe(loop))
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    app = create_app(
        config,
        open_store,
        limiter_storage=shared_limits(config.storage),
        cookie_secret=cookie_secret_of(config),
    )
    runner = SnapshotRunner(app)
    try:
        await runner.setup()  # opens the store
        heap.settle()
        for sock in sockets:
            await web.SockSite(runner, sock).start()
        if not stop.is_set():
            ready()
        await stop.wait()
        log.info("stopping: no new connections; requests in flight finish or are cut short")
    finally:
        await runner.cleanup()
    log.info("stopped")


def cookie_secret_of(config: Config) -> SecretSource:
    """The deployment's cookie secret: ``[sharing] cookie_secret_file``, else kept beside the
    data that the storage backend's settings name (``sharing.secret``), so every worker and
    host on that storage signs and checks with the same one, across restarts."""
    storage = config.storage
    settings = backend_class(storage.backend).Settings.read(storage.section())
    return secret_source(config.sharing, storage.backend, settings)


def _worker(link: WorkerLink, sockets: list[socket.socket], config: Config) -> None:
    """One of ``serve --workers N``'s processes."""
    setup_logging(config.server.log_format)
    try:
        loops.run(serve_app(config, sockets, link.ready))
    except StorageUnavailable as exc:
        link.fail(f"storage unavailable: {exc.message}", EXIT_STORAGE)
