"""The rules the layout relies on (README, "Design"): every registered backend runs the
contract suite; ``backends`` imports only the contract; ``snapshot_server`` imports ``backends``
only in its composition root; a deployment imports only the drivers its config names."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from backends import REGISTRY
from tests.conftest import ALL_BACKENDS, REPO

CONTRACT = {
    "snapshot_server.storage",
    "snapshot_server.models",
    "snapshot_server.errors",
    "snapshot_server.config",
    "snapshot_server.config_reader",
}
COMPOSITION_ROOT = REPO / "snapshot_server" / "cli.py"


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports by absolute name (relative imports stay in its package)."""
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
    return modules


def sources(package: str) -> list[Path]:
    return sorted((REPO / package).rglob("*.py"))


@pytest.mark.parametrize("name", REGISTRY)
def test_every_registered_backend_has_a_fixture_module(name: str) -> None:
    """So a new backend cannot skip the contract and API suites."""
    assert name in ALL_BACKENDS, f"add tests/stores/{name}.py defining {name}_storage_config"


@pytest.mark.parametrize("name", ALL_BACKENDS)
def test_every_fixture_module_defines_its_fixture(name: str) -> None:
    module = importlib.import_module(f"tests.stores.{name}")
    assert hasattr(module, f"{name}_storage_config")


@pytest.mark.parametrize("path", sources("backends"), ids=lambda p: str(p.relative_to(REPO)))
def test_backends_import_only_the_contract(path: Path) -> None:
    ours = {m for m in imported_modules(path) if m.split(".")[0] == "snapshot_server"}
    assert ours <= CONTRACT, f"{path.name} imports {sorted(ours - CONTRACT)}"


@pytest.mark.parametrize("path", sources("snapshot_server"), ids=lambda p: str(p.relative_to(REPO)))
def test_only_the_composition_root_imports_backends(path: Path) -> None:
    if path != COMPOSITION_ROOT:
        assert not {m for m in imported_modules(path) if m.split(".")[0] == "backends"}


def test_a_sqlite_deployment_never_imports_redis(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[storage]\nbackend = "sqlite"\n[storage.sqlite]\npath = "{tmp_path}/s.db"\n'
    )
    script = f"""
import asyncio, sys
from backends import check_storage, open_store
from snapshot_server import cli
from snapshot_server.config import load_config

async def main():
    storage = load_config({str(config)!r}).storage
    check_storage(storage)
    store = await open_store(storage)
    await store.ping()
    await store.aclose()

asyncio.run(main())
print(sorted(m for m in sys.modules if m.split(".")[0] == "redis"))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"
