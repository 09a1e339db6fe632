"""Installing in a new workspace through OAuth, over real HTTP, with Postgres-backed stores;
then that workspace's requests are authorised with its own token, until it uninstalls."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import aiohttp
import asyncpg
import pytest
from aiohttp import web

from bot.startup.app import build_app
from bot.startup.deps import Deps
from bot.startup.server import http_app
from bot.startup.settings import Settings
from tests.fake_slack import FakeSlack
from tests.slack_driver import SIGNING_SECRET, signed_headers


@pytest.fixture
async def server(pool: asyncpg.Pool, slack: FakeSlack, db_dsn: str) -> AsyncIterator[str]:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        slack_client_id="111.222",
        slack_client_secret="client-SECRET",  # type: ignore[arg-type]
        slack_signing_secret=SIGNING_SECRET,  # type: ignore[arg-type]
        slack_api_url=slack.api_url,  # type: ignore[arg-type]
        database_url=db_dsn,
    )
    deps = Deps(settings=settings, pool=pool)
    runner = web.AppRunner(http_app(build_app(deps), deps), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_install_then_use_then_uninstall(
    server: str, slack: FakeSlack, pool: asyncpg.Pool
) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{server}/slack/install", allow_redirects=False) as r:
            assert r.status in {200, 302}
            page = await r.text()
            location = r.headers.get("Location", "") + page
            # the state cookie is Secure; over plain HTTP in a test it has to be carried by hand
            cookie = r.headers["Set-Cookie"].split(";")[0]
        state = re.search(r"state=([\w-]+)", location)
        assert state is not None and "client_id=111.222" in location
        assert "scope=commands" in location
        async with http.get(
            f"{server}/slack/oauth_redirect?code=the-code&state={state.group(1)}",
            headers={"Cookie": cookie},
        ) as r:
            assert r.status == 200, await r.text()
        assert slack.of("oauth.v2.access")[0].args["code"] == "the-code"
        # the state was used up: replaying the redirect fails
        async with http.get(
            f"{server}/slack/oauth_redirect?code=again&state={state.group(1)}",
            headers={"Cookie": cookie},
        ) as r:
            assert r.status != 200
        stored = await pool.fetchval("SELECT count(*) FROM slack_bots WHERE team_id = 'T0NEW'")
        assert stored == 1

        # the new workspace's command is authorised with its own token
        body = urlencode(
            {
                "team_id": "T0NEW",
                "channel_id": "C1",
                "user_id": "U0001",
                "command": "/bot",
                "text": "help",
                "response_url": slack.response_url("oauth"),
                "trigger_id": "t",
            }
        )
        headers = {
            k: v[0]
            for k, v in signed_headers(
                body, content_type="application/x-www-form-urlencoded"
            ).items()
        }
        async with http.post(f"{server}/slack/events", data=body, headers=headers) as r:
            assert r.status == 200
        await slack.wait_responses(1)
        assert "/bot new" in str(slack.responses[-1].args["text"])

        # a workspace that never installed is refused
        other = body.replace("T0NEW", "T0NEVER")
        headers = {
            k: v[0]
            for k, v in signed_headers(
                other, content_type="application/x-www-form-urlencoded"
            ).items()
        }
        async with http.post(f"{server}/slack/events", data=other, headers=headers) as r:
            assert r.status in {200, 401}
        await slack.wait_responses(2)
        assert "reinstall this app" in str(slack.responses[-1].args["text"])

    # uninstalling deletes the tokens
    event = json.dumps(
        {
            "team_id": "T0NEW",
            "api_app_id": "A0001",
            "type": "event_callback",
            "event_id": "EvUninstall",
            "event_time": int(time.time()),
            "event": {"type": "app_uninstalled"},
        }
    )
    headers = {k: v[0] for k, v in signed_headers(event, content_type="application/json").items()}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{server}/slack/events", data=event, headers=headers) as r,
    ):
        assert r.status == 200
    for _ in range(100):
        if not await pool.fetchval("SELECT count(*) FROM slack_bots WHERE team_id = 'T0NEW'"):
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the tokens were not deleted")
    assert await pool.fetchval(
        "SELECT uninstalled_at IS NOT NULL FROM workspaces WHERE team_id = 'T0NEW'"
    )
