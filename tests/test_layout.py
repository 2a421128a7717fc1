"""Rules about the code's shape that no behaviour test would notice breaking."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_the_json_error_path_does_not_import_the_html_renderer() -> None:
    # The API's error handling must work (and load) without the viewer's templating.
    code = (
        "import sys, snapshot_server.webapp.middlewares\n"
        "html = ('jinja2', 'snapshot_server.viewer')\n"
        "print(sorted(m for m in sys.modules if m.startswith(html)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_module_with_tests_is_one_pytest_collects() -> None:
    # A test module named anything but test_*.py is silently never run.
    stray = []
    for path in TESTS.rglob("*.py"):
        if path.name.startswith("test_") or path.name == "conftest.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = [
            node.name
            for node in tree.body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            and node.name.lower().startswith("test")
        ]
        if names:
            stray.append(f"{path.relative_to(TESTS)}: {names}")
    assert stray == []
