"""A signed slash command is acked before Bolt's dispatch (bot.slack.early_ack); everything else,
and anything Bolt would have said in the HTTP response, still reaches Slack or the person."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bot.messages import GENERIC_FAILURE
from bot.slack.early_ack import is_slash_command
from bot.startup.deps import Deps
from bot.startup.server import EVENTS_PATH, http_app
from bot.startup.settings import Settings
from tests.fake_slack import FakeSlack
from tests.slack_driver import SIGNING_SECRET, signed_headers

FORM = "application/x-www-form-urlencoded"


@pytest.mark.parametrize(
    ("body", "command"),
    [
        ("team_id=T1&command=%2Fbot&text=help", True),
        ("command=%2Fbot", True),
        ("text=command%3D&team_id=T1", False),  # "command=" inside a value is not the field
        ("ssl_check=1&command=%2Fbot", False),  # Slack's SSL check carries no command to run
        ("payload=%7B%7D", False),  # an interaction: its ack may carry a modal's errors
        ("", False),
    ],
)
def test_is_slash_command(body: str, command: bool) -> None:
    assert is_slash_command(body) is command


class Listener:
    """A `/bot` listener that acks only when the test lets it."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.acked = 0

    async def __call__(self, ack: AsyncAck) -> None:
        self.started.set()
        await self.release.wait()
        await ack()
        self.acked += 1


@pytest.fixture
async def served(
    settings: Settings, pool: asyncpg.Pool, slack: FakeSlack
) -> AsyncIterator[tuple[str, AsyncApp, Listener]]:
    app = AsyncApp(
        signing_secret=SIGNING_SECRET,
        client=AsyncWebClient(token="xoxb-test-token", base_url=slack.api_url),
    )
    listener = Listener()
    app.command("/bot")(listener)
    runner = web.AppRunner(http_app(app, Deps(settings=settings, pool=pool)), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}{EVENTS_PATH}", app, listener
    finally:
        listener.release.set()
        await runner.cleanup()


def command_body(slack: FakeSlack, command: str = "/bot") -> str:
    return urlencode(
        {
            "team_id": "T0001",
            "channel_id": "C1",
            "user_id": "U0001",
            "command": command,
            "text": "help",
            "response_url": slack.response_url("early"),
            "trigger_id": "t",
        }
    )


async def post(url: str, body: str, *, secret: str = SIGNING_SECRET) -> int:
    headers = {k: v[0] for k, v in signed_headers(body, content_type=FORM, secret=secret).items()}
    async with aiohttp.ClientSession() as http, http.post(url, data=body, headers=headers) as r:
        return r.status


async def test_a_command_is_acked_while_its_listener_has_not_acked(
    served: tuple[str, AsyncApp, Listener], slack: FakeSlack
) -> None:
    url, _, listener = served
    # Bolt would answer only once the listener acks: here the listener waits for the test
    assert await asyncio.wait_for(post(url, command_body(slack)), timeout=2) == 200
    await asyncio.wait_for(listener.started.wait(), timeout=2)
    assert listener.acked == 0
    listener.release.set()
    deadline = asyncio.get_running_loop().time() + 2
    while listener.acked == 0:
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.01)
    assert listener.acked == 1
    await asyncio.sleep(0.05)
    assert slack.responses == []  # an empty ack has nothing to tell the person


async def test_a_bad_signature_is_refused_and_never_dispatched(
    served: tuple[str, AsyncApp, Listener], slack: FakeSlack
) -> None:
    url, _, listener = served
    assert await post(url, command_body(slack), secret="not-the-secret") == 401
    await asyncio.sleep(0.1)
    assert not listener.started.is_set()


async def test_what_bolt_would_have_answered_goes_to_the_response_url(
    served: tuple[str, AsyncApp, Listener], slack: FakeSlack
) -> None:
    url, _, listener = served
    # no listener for this command: Bolt answers 404, which Slack would show as a failure
    assert await post(url, command_body(slack, "/other")) == 200
    [reply] = await slack.wait_responses(1)
    assert reply.args["text"] == GENERIC_FAILURE
    assert reply.args["response_type"] == "ephemeral"
    assert not listener.started.is_set()
