"""The `romashka` entry point as a real process: configuration errors, HTTP serving, shutdown."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import asyncpg
import pytest

from tests.fake_openai import FakeOpenAI
from tests.fake_slack import FakeSlack
from tests.slack_driver import SIGNING_SECRET, signed_headers

CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "OPENAI_"))}
CLEAN_ENV.pop("DATABASE_URL", None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def run_cli(*args: str, env: dict[str, str], cwd: Path) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    return proc.returncode or 0, out.decode()


async def test_bad_configuration_exits_2_naming_every_problem(tmp_path: Path) -> None:
    env = {
        **CLEAN_ENV,
        "SLACK_BOT_TOKEN": "xoxp-user-token-SECRET42",
        "PORT": "70000",
        "OPENAI_TIMEOUT": "-1",
    }
    code, out = await run_cli(env=env, cwd=tmp_path)
    assert code == 2
    assert "SLACK_BOT_TOKEN: must be a bot token starting with 'xoxb-'" in out
    assert "SLACK_SIGNING_SECRET: is required but not set" in out
    assert "PORT:" in out and "OPENAI_TIMEOUT:" in out
    assert "README.md, section 'Settings'" in out
    assert "SECRET42" not in out and "Traceback" not in out


async def start_app(env: dict[str, str], port: int, cwd: Path) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        env=env,
        cwd=cwd,  # away from any developer's .env
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            try:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                    if r.status == 200:
                        return proc
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)
    proc.kill()
    raise AssertionError("the app did not become healthy")


async def post_command(port: int, slack: FakeSlack, text: str, *, bad: bool = False) -> int:
    body = urlencode(
        {
            "team_id": "T0001",
            "channel_id": "C1",
            "user_id": "U0001",  # an admin in the fake Slack, so an editor
            "command": "/bot",
            "text": text,
            "response_url": slack.response_url("cli"),
            "trigger_id": "t1",
        }
    )
    headers = {
        k: v[0]
        for k, v in signed_headers(body, content_type="application/x-www-form-urlencoded").items()
    }
    if bad:
        headers["x-slack-signature"] = "v0=" + "0" * 64
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"http://127.0.0.1:{port}/slack/events", data=body, headers=headers) as r,
    ):
        return r.status


async def stop_app(proc: asyncio.subprocess.Process, *, timeout: float = 40) -> str:
    proc.send_signal(signal.SIGTERM)
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=timeout)
    text = out.decode()
    assert proc.returncode == 0, text[-2000:]
    return text


async def serve_and_command(
    env: dict[str, str], port: int, slack: FakeSlack, text: str, cwd: Path
) -> None:
    replies_before = len(slack.responses)
    proc = await start_app(env, port, cwd)
    try:
        assert await post_command(port, slack, text) == 200
        assert await post_command(port, slack, text, bad=True) == 401
        await slack.wait_responses(replies_before + 1, timeout=10)
    finally:
        out = await stop_app(proc)
    assert "xoxb-cli-SECRET" not in out


@pytest.mark.parametrize("embedded", [False, True], ids=["database_url", "embedded"])
async def test_http_mode_serves_signed_commands_and_keeps_data(
    tmp_path: Path, slack: FakeSlack, db_dsn: str, embedded: bool
) -> None:
    port = free_port()
    env = {
        **CLEAN_ENV,
        "SLACK_BOT_TOKEN": "xoxb-cli-SECRET",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "PORT": str(port),
        "ROMASHKA_DATA_DIR": str(tmp_path / "data"),
        "LOG_LEVEL": "DEBUG",
    }
    if not embedded:
        env["DATABASE_URL"] = db_dsn
    await serve_and_command(env, port, slack, "new Support", tmp_path)
    assert "Created profile *Support*" in slack.responses[-1].args["text"]
    # a restart finds the profile again: it was stored, not kept in memory
    await serve_and_command(env, port, slack, "profiles", tmp_path)
    assert "Support" in str(slack.responses[-1].args["blocks"])


async def test_sigterm_lets_the_answer_in_flight_finish(
    tmp_path: Path, slack: FakeSlack, db_dsn: str, model: FakeOpenAI
) -> None:
    port = free_port()
    env = {
        **CLEAN_ENV,
        "SLACK_BOT_TOKEN": "xoxb-cli-SECRET",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "PORT": str(port),
        "DATABASE_URL": db_dsn,
        "OPENAI_BASE_URL": model.base_url,
        "OPENAI_API_KEY": "sk-cli-SECRET",
    }
    model.ttft_s = 1.0
    proc = await start_app(env, port, tmp_path)
    try:
        assert await post_command(port, slack, "new Support") == 200
        await slack.wait_responses(1, timeout=10)
        assert await post_command(port, slack, "test Where is my order?") == 200
        deadline = time.monotonic() + 10
        while not model.requests:
            assert time.monotonic() < deadline, "the answer never reached the model"
            await asyncio.sleep(0.02)
    finally:
        out = await stop_app(proc)  # SIGTERM while the model is still thinking
    assert slack.of("chat.stopStream"), "the answer was cut off by the shutdown"
    assert "finishing work in flight" in out
    con = await asyncpg.connect(db_dsn)
    try:
        answer = await con.fetchval("SELECT answer FROM test_results")
    finally:
        await con.close()
    assert answer == model.replies[0]  # the whole answer the model wrote, not a part
