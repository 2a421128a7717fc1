"""What a user reads: ``--help``, the README and ``config.example.toml``. Every option is
explained, no text cites a document the repository does not hold, the README's walk-through runs
as written, and CI runs the README's test command as written."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

from snapshot_server.cli import build_parser, main
from tests.processes import Newcomer
from tests.support import skip_or_fail

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text()
# `dir/`, `file.ext`, `dir/file.ext` in backticks, or (file.ext) as a Markdown link target
REPOSITORY_PATH = re.compile(
    r"[`(]((?:[\w.-]+/)+|(?:[\w.-]+/)*[\w.-]+\.(?:py|toml|json|vcl|md))[`)]"
)
DELETED = "Snapshot deleted. It might take an hour before it's cleared from any CDN caches."


def parsers() -> dict[str, argparse.ArgumentParser]:
    """``snapshot-server`` and each of its commands, by name."""
    parser = build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return {"snapshot-server": parser, **commands.choices}


def help_text(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exited:
        main([*args, "--help"])
    assert exited.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize(
    "name",
    ["snapshot-server", "serve", "check-config", "token", "cleanup", "export", "import", "migrate"],
)
def test_every_option_has_help(name: str) -> None:
    parser = parsers()[name]
    for action in parser._actions:
        assert action.help, f"{name} {action.option_strings or action.dest}: no help text"
        assert action.help != argparse.SUPPRESS


def test_help_reads_as_prose(capsys: pytest.CaptureFixture[str]) -> None:
    top = help_text([], capsys)
    assert top.startswith("usage: snapshot-server [-h] COMMAND ...\n\n")
    assert "A self-hosted, Grafana-compatible dashboard snapshot server.\n" in top
    commands = ("serve", "check-config", "token", "cleanup", "export", "import", "migrate")
    for command in commands:
        assert re.search(rf"^    {command}\s+[a-z]", top, re.MULTILINE), f"{command} not listed"
    for text in [top] + [help_text([c], capsys) for c in commands]:
        assert "``" not in text  # reStructuredText from a docstring
        assert ":func:" not in text


@pytest.mark.parametrize("name", ["--help", "README.md", "config.example.toml"])
def test_user_facing_text_cites_no_document_outside_the_repository(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if name == "--help":
        text = "\n".join(help_text(args, capsys) for args in ([], ["serve"], ["token"]))
        text += help_text(["check-config"], capsys)
    else:
        text = (REPO / name).read_text()
    assert not re.search(r"\bSPEC\b|§", text)
    # Every repository file or directory it names, in `backticks` or as a (link), exists.
    for path in REPOSITORY_PATH.findall(text):
        assert (REPO / path).exists(), f"{name} names {path}, not in the repository"


def readme_first_block() -> list[str]:
    match = re.search(r"```sh\n(.*?)```", README, re.DOTALL)
    assert match is not None
    return match.group(1).splitlines()


def test_ci_runs_the_readme_test_command_once() -> None:
    command = readme_first_block()[1].split("  #")[0].strip()
    assert command == "pip install -e '.[test]' && python -m pytest -n 2"
    ci = (REPO / ".ci" / "run").read_text()
    assert command in ci.splitlines()
    # The project is installed by that line alone: no second install before or after it.
    assert len(re.findall(r"pip install[^\n]*-e", ci)) == 1


def walkthrough_blocks() -> list[str]:
    section = README.split("## A walk through with curl", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, re.DOTALL)


async def run_bash(script: str, cwd: Path) -> list[str]:
    """Run ``script``'s blocks (separated by ``# --- block``) in one bash; each block's
    output."""
    process = await asyncio.create_subprocess_exec(
        "bash", "-euo", "pipefail", "-c", script.replace("# --- block", "echo '=== block'"),
        cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"},
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    return out.decode().split("=== block\n")


@pytest.mark.parametrize("delete_with", ["token", "deleteKey"])
async def test_the_readme_walkthrough_runs_as_written(
    newcomer_server: Newcomer, tmp_path: Path, delete_with: str
) -> None:
    if shutil.which("curl") is None:
        skip_or_fail("curl not installed")
    serve, set_token, create, view, listing, delete_by_token, delete_by_key = walkthrough_blocks()
    assert serve.splitlines()[0] == "snapshot-server serve"
    # It shows the line the server prints, for the default port.
    assert "\n# serving on http://127.0.0.1:8080/ (storage: sqlite at /" in serve
    assert newcomer_server.output[-1].startswith(
        f"serving on {newcomer_server.base} (storage: sqlite at /"
    )
    assert set_token == "TOKEN=paste-the-printed-token-here\n"
    delete = delete_by_token if delete_with == "token" else delete_by_key
    blocks = [f"TOKEN={newcomer_server.token}\n", create, view, listing, delete]
    script = "# --- block\n".join(blocks).replace(
        "127.0.0.1:8080", newcomer_server.base.removeprefix("http://").rstrip("/")
    )
    _, created, viewed, listed, deleted, _ = await run_bash(script + "# --- block\n", cwd=tmp_path)
    made = json.loads(created)
    assert made["url"] == f"{newcomer_server.base}dashboard/snapshot/{made['key']}"
    assert json.loads(viewed)["dashboard"] == {"title": "Hello", "panels": []}
    assert [s["key"] for s in json.loads(listed)] == [made["key"]]
    assert json.loads(deleted) == {"message": DELETED, "id": made["id"]}
