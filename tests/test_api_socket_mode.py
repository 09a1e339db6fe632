"""The read API in Socket Mode: the real process serves `/v1` on API_PORT (and nothing without
it), next to its Socket Mode connection."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
from pathlib import Path

import aiohttp

from tests.fake_slack import FakeSlack
from tests.test_startup import newcomer_env, plumbing


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_socket_mode_serves_the_api_on_api_port(
    tmp_path: Path, slack: FakeSlack, db_dsn: str
) -> None:
    newcomer_env(tmp_path)
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        env={**plumbing(slack, db_dsn), "API_PORT": str(port)},
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        await slack.wait_for(lambda s: bool(s.sockets), timeout=60)
        async with aiohttp.ClientSession() as session:
            base = f"http://127.0.0.1:{port}/v1"
            async with session.get(base + "/openapi.json") as response:
                assert response.status == 200
                assert (await response.json())["openapi"].startswith("3.")
            async with session.get(base + "/profiles/Support?label=production") as response:
                assert response.status == 401
                assert (await response.json())["error"]["code"] == "unauthorized"
    finally:
        proc.send_signal(signal.SIGTERM)
        out = (await asyncio.wait_for(proc.communicate(), timeout=40))[0].decode()
    assert proc.returncode == 0, out[-2000:]
    assert "read API listening" in out
