"""The ``snapshot-server`` command (SPEC §8) and the composition root: the one place that
imports ``backends`` and hands its opener to ``create_app``.

    snapshot-server serve [--config FILE] [--host H] [--port P] [--workers N]
    snapshot-server check-config FILE
    snapshot-server token [--name N] [--role R] [--org-id O] [--user-id U]
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import multiprocessing
import os
import secrets
import signal
import sys
from collections.abc import Sequence

from aiohttp import web

from backends import check_storage, open_store

from .config import ROLES, AuthConfig, Config, load_config, token_config
from .errors import ConfigError, StorageUnavailable
from .models import hash_secret
from .webapp.app import create_app

log = logging.getLogger("snapshot_server")
CONFIG_ENV = "SNAPSHOT_SERVER_CONFIG"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="snapshot-server", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the server")
    serve.add_argument("--config", help=f"TOML config file (default: ${CONFIG_ENV}, or none)")
    serve.add_argument("--host", help="address to listen on (overrides server.host)")
    serve.add_argument("--port", type=int, help="port to listen on (overrides server.port)")
    serve.add_argument("--workers", type=int, help="worker processes (overrides server.workers)")

    check = commands.add_parser("check-config", help="validate a config file and exit")
    check.add_argument("file")

    token = commands.add_parser("token", help="print a new API token and its config entry")
    token.add_argument("--name", default="my-token")
    token.add_argument("--role", choices=ROLES, default="Editor")
    token.add_argument("--org-id", type=int, default=1)
    token.add_argument("--user-id", type=int, default=1)

    args = parser.parse_args(argv)
    if args.command == "check-config":
        return check_config(args.file)
    if args.command == "token":
        print_token(args.name, args.role, args.org_id, args.user_id)
        return 0
    return serve_command(args)


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
    print(
        f'[[auth.tokens]]\nname = "{name}"\ntoken_sha256 = "{hash_secret(token)}"\n'
        f'org_id = {org_id}\nuser_id = {user_id}\nrole = "{role}"'
    )


def serve_command(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    path = args.config or os.environ.get(CONFIG_ENV)
    try:
        config = load_config(path) if path else Config()
        check_storage(config.storage)
        config = _apply_overrides(config, args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not path:
        config = _newcomer_config(config)
    elif not config.auth.tokens and not config.snapshots.public_mode:
        log.warning(
            "no [[auth.tokens]] configured: nobody can create snapshots "
            "(`snapshot-server token` prints one)"
        )
    if config.server.workers == 1:
        run_worker(config, reuse_port=False)
    else:
        run_workers(config)
    return 0


def _apply_overrides(config: Config, args: argparse.Namespace) -> Config:
    server = config.server
    if args.host is not None:
        server = dataclasses.replace(server, host=args.host)
    if args.port is not None:
        if not 0 < args.port < 65536:
            raise ConfigError("--port: must be between 1 and 65535")
        server = dataclasses.replace(server, port=args.port)
    if args.workers is not None:
        if not 1 <= args.workers <= 256:
            raise ConfigError("--workers: must be between 1 and 256")
        server = dataclasses.replace(server, workers=args.workers)
    if server.workers > 1 and config.storage.backend == "memory":
        # Each worker would have its own memory: a snapshot made through one is unknown to others.
        raise ConfigError("server.workers: the memory backend cannot be shared by several workers")
    return dataclasses.replace(config, server=server)


def _newcomer_config(config: Config) -> Config:
    """No config file: SQLite in the working directory and a token for this run, printed."""
    from backends.sqlite import SQLiteSettings  # imported here: only a newcomer needs it

    token = secrets.token_urlsafe(24)
    dev = token_config("development", token, role="Admin")
    print(
        "\nNo config file given: serving SQLite at "
        f"{os.path.abspath(SQLiteSettings.read(config.storage.section()).path)}.\n"
        f"Development token for this run (Admin of org 1):\n\n    {token}\n\n"
        f"  curl -H 'Authorization: Bearer {token}' {config.server.public_root}"
        "api/dashboard/snapshots\n\n"
        "For lasting tokens run `snapshot-server token` and put its output in a config file\n"
        "(see config.example.toml), then `snapshot-server serve --config FILE`.\n",
        flush=True,
    )
    return dataclasses.replace(config, auth=AuthConfig(tokens=(dev,)))


def run_worker(config: Config, *, reuse_port: bool) -> None:
    """Serve in this process until SIGINT/SIGTERM."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = create_app(config, open_store)
    try:
        web.run_app(
            app,
            host=config.server.host,
            port=config.server.port,
            reuse_port=reuse_port,
            print=None,
            access_log=None,
        )
    except StorageUnavailable as exc:
        # A clear line for the operator instead of a traceback (e.g. Redis not running).
        print(f"error: storage unavailable: {exc.message}", file=sys.stderr)
        sys.exit(3)


def run_workers(config: Config) -> None:
    """N processes on one port (SO_REUSEPORT): the kernel spreads connections over them. All
    state lives in the shared store, so any request can land on any worker."""
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=run_worker, args=(config,), kwargs={"reuse_port": True})
        for _ in range(config.server.workers)
    ]
    for worker in workers:
        worker.start()
    log.info("serving on %s with %d workers", config.server.public_root, len(workers))

    def stop(signum: int, _frame: object) -> None:
        for worker in workers:
            if worker.is_alive() and worker.pid is not None:
                os.kill(worker.pid, signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for worker in workers:
        worker.join()
