"""Several stateless workers over one store: any request may land on any worker.

Two independent server processes share a backend (as two hosts would), and one
``serve --workers 2`` serves one port from two processes that its parent supervises: a second
server cannot join that port, a dead worker stops the server with a non-zero exit, and killing
the parent takes its workers with it."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import aiohttp

from tests.processes import ADMIN_TOKEN, EDITOR_TOKEN, ServerProcess

EDITOR = {"Authorization": f"Bearer {EDITOR_TOKEN}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def test_two_servers_share_one_store(shared_storage: str, tmp_path: Path) -> None:
    first = ServerProcess(tmp_path, shared_storage)
    second = ServerProcess(tmp_path, shared_storage)
    await first.start()
    await second.start()
    a, b = first.base_url, second.base_url
    try:
        async with aiohttp.ClientSession() as http:
            made = []
            for base in (a, b, a, b):
                async with http.post(
                    f"{base}api/snapshots", json={"dashboard": {"from": base}}, headers=EDITOR
                ) as response:
                    assert response.status == 200
                    made.append(await response.json())
            ids = [m["id"] for m in made]
            assert ids == sorted(ids)
            assert len(set(ids)) == 4  # one id sequence across processes

            async with http.get(f"{b}api/snapshots/{made[0]['key']}") as response:
                assert (await response.json())["dashboard"] == {"from": a}
            async with http.get(f"{a}api/dashboard/snapshots", headers=EDITOR) as response:
                assert [i["id"] for i in await response.json()] == ids

            async with http.delete(f"{b}api/snapshots/{made[0]['key']}", headers=ADMIN) as r:
                assert r.status == 200
            async with http.get(f"{b}api/snapshots-delete/{made[1]['deleteKey']}") as r:
                assert r.status == 200
            for key in (made[0]["key"], made[1]["key"]):
                async with http.get(f"{a}api/snapshots/{key}") as response:
                    assert response.status == 404
            async with http.post(
                f"{a}api/snapshots",
                json={"dashboard": {}, "key": made[2]["key"]},
                headers=EDITOR,
            ) as response:
                assert response.status == 409  # a key taken through b is taken for a too
    finally:
        await first.stop()
        await second.stop()


def worker_pids(pid: int) -> list[int]:
    """The serving children of ``pid`` (multiprocessing's resource tracker is a child too)."""
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    children = [int(p) for p in text.split()]
    return [c for c in children if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]


def running(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "zombie" not in status


async def test_workers_option_runs_processes_on_one_port(tmp_path: Path) -> None:
    storage = f'[storage]\nbackend = "sqlite"\n[storage.sqlite]\npath = "{tmp_path}/s.db"'
    server = ServerProcess(tmp_path, storage, workers=2)
    await server.start()
    try:
        assert server.process is not None
        workers = worker_pids(server.process.pid)
        assert len(workers) == 2
        # Fresh connections are spread by the kernel; every answer must be consistent anyway.
        connector = aiohttp.TCPConnector(force_close=True)
        async with aiohttp.ClientSession(connector=connector) as http:
            keys = []
            for n in range(20):
                async with http.post(
                    f"{server.base_url}api/snapshots", json={"dashboard": {"n": n}}, headers=EDITOR
                ) as response:
                    assert response.status == 200
                    keys.append((await response.json())["key"])
            for n, key in enumerate(keys):
                async with http.get(f"{server.base_url}api/snapshots/{key}") as response:
                    assert (await response.json())["dashboard"] == {"n": n}
        assert (
            f"serving on {server.base_url} (storage: sqlite at {tmp_path}/s.db; 2 workers)"
            in server.log()
        )
    finally:
        assert await server.stop() == 0
    assert not any(running(pid) for pid in workers)  # SIGTERM reached every worker


def sqlite_toml(path: Path) -> str:
    return f'[storage]\nbackend = "sqlite"\n[storage.sqlite]\npath = "{path}"'


async def test_a_second_server_cannot_share_the_port(tmp_path: Path) -> None:
    first = ServerProcess(tmp_path, sqlite_toml(tmp_path / "first.db"), workers=2)
    await first.start()
    try:
        # Another deployment (its own database and tokens) told to use the same port.
        second = tmp_path / "second.toml"
        second.write_text(
            f'[server]\nhost = "127.0.0.1"\nport = {first.port}\nworkers = 2\n'
            f"{sqlite_toml(tmp_path / 'second.db')}\n"
            '[[auth.tokens]]\nname = "second"\ntoken = "second-token"\nrole = "Editor"\n'
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "snapshot_server", "serve", "--config", str(second),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            start_new_session=True,  # its own process group: all of it can be killed below
        )  # fmt: skip
        try:
            out, err = await asyncio.wait_for(process.communicate(), 30)
        finally:
            if process.returncode is None:  # it started serving: the defect under test
                os.killpg(process.pid, signal.SIGKILL)  # its workers hold our pipes too
                await process.wait()
        assert process.returncode == 2
        assert b"serving on" not in out
        assert (
            f"error: cannot listen on 127.0.0.1:{first.port}: address already in use".encode()
            in err
        )
        # Every fresh connection still reaches the first server: the second never took any.
        connector = aiohttp.TCPConnector(force_close=True)
        async with aiohttp.ClientSession(connector=connector) as http:
            for _ in range(20):
                async with http.get(
                    f"{first.base_url}api/dashboard/snapshots", headers=EDITOR
                ) as response:
                    assert response.status == 200
    finally:
        assert await first.stop() == 0


async def wait_until_gone(pids: list[int], within: float = 20) -> None:
    """Return once every process in ``pids`` has exited (a pidfd turns readable then)."""
    loop = asyncio.get_running_loop()
    exits: list[asyncio.Future[None]] = []
    descriptors: list[int] = []

    def on_exit(fd: int, exited: asyncio.Future[None]) -> None:
        loop.remove_reader(fd)
        exited.set_result(None)

    try:
        for pid in pids:
            try:
                fd = os.pidfd_open(pid)
            except ProcessLookupError:
                continue  # gone already
            descriptors.append(fd)
            exits.append(exited := loop.create_future())
            loop.add_reader(fd, on_exit, fd, exited)
        await asyncio.wait_for(asyncio.gather(*exits), within)
    finally:
        for fd in descriptors:
            loop.remove_reader(fd)
            os.close(fd)


async def test_a_dead_worker_stops_the_server_with_an_error(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, sqlite_toml(tmp_path / "s.db"), workers=2)
    await server.start()
    assert server.process is not None
    process = server.process
    dead, other = worker_pids(process.pid)
    try:
        os.kill(dead, signal.SIGKILL)  # as the OOM killer would
        assert await asyncio.wait_for(process.wait(), 30) == 1
        assert re.search(
            rf"^error: worker [12] of 2 \(pid {dead}\) was killed by SIGKILL; "
            r"stopping the server$",
            server.log(),
            re.MULTILINE,
        )
        await wait_until_gone([other])  # the parent stopped the rest before it exited
    finally:
        await server.stop()


async def test_workers_exit_when_the_parent_is_killed(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, sqlite_toml(tmp_path / "s.db"), workers=2)
    await server.start()
    assert server.process is not None
    workers = worker_pids(server.process.pid)
    try:
        await server.kill()
        await wait_until_gone(workers)
    finally:
        for pid in workers:  # orphans left by the defect under test
            if running(pid):
                os.kill(pid, signal.SIGKILL)


async def test_a_second_signal_kills_workers_that_do_not_stop(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, sqlite_toml(tmp_path / "s.db"), workers=2)
    await server.start()
    assert server.process is not None
    process = server.process
    stuck, other = workers = worker_pids(process.pid)
    try:
        os.kill(stuck, signal.SIGSTOP)  # cannot act on SIGTERM: it never stops by itself
        process.send_signal(signal.SIGTERM)
        await wait_until_gone([other])
        assert running(stuck)
        assert process.returncode is None  # waiting for it, within its stop timeout
        process.send_signal(signal.SIGINT)  # a second Ctrl+C
        assert await asyncio.wait_for(process.wait(), 20) == 1
        assert re.search(
            rf"^error: worker [12] of 2 \(pid {stuck}\) killed: a second signal asked to stop "
            "at once$",
            server.log(),
            re.MULTILINE,
        )
        await wait_until_gone(workers)
    finally:
        for pid in workers:
            if running(pid):
                os.kill(pid, signal.SIGKILL)
        await server.stop()


async def test_ctrl_c_while_workers_start_is_a_clean_stop(tmp_path: Path) -> None:
    """Ctrl+C reaches the terminal's whole process group: parent and workers, the workers
    possibly still importing. The parent stops them; none prints a traceback."""
    config = tmp_path / "c.toml"
    config.write_text(f"[server]\nport = 0\nworkers = 2\n{sqlite_toml(tmp_path / 's.db')}\n")
    log = tmp_path / "c.log"
    with log.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "snapshot_server", "serve", "--config", str(config),
            stdout=output, stderr=output, start_new_session=True,  # a group of its own
        )  # fmt: skip
    try:
        # As soon as both workers exist: they are still starting their interpreters.
        async with asyncio.timeout(20):
            while len(worker_pids(process.pid)) < 2:  # noqa: ASYNC110 (no event: read /proc)
                await asyncio.sleep(0.005)
        os.killpg(process.pid, signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), 30) == 0, log.read_text()
    finally:
        if process.returncode is None:
            os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
    text = log.read_text()
    assert "Traceback" not in text
    assert "error" not in text
