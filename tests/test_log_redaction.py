"""No token, key, secret or password in the logs at any level, from our code or any library."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import aiohttp
import pytest

from bot.startup.log_redaction import REDACTED, Redactor, install, secret_values
from bot.startup.settings import Settings
from tests.conftest import OAUTH_CLIENT_SECRET
from tests.fake_openai import FakeOpenAI
from tests.fake_slack import FakeSlack
from tests.slack_driver import SIGNING_SECRET, SlackDriver

CLIENT_SECRET = OAUTH_CLIENT_SECRET
INSTALLED_TOKEN = "xoxb-installed-token"  # what the fake Slack's oauth.v2.access hands out
BOT_TOKEN = "xoxb-test-token"  # the `settings` fixture's
OPENAI_KEY = "sk-test-SECRET123"  # the `llm` fixture's


@pytest.mark.parametrize(
    ("line", "gone"),
    [
        ("body: {'ok': True, 'access_token': 'xoxb-1-2-abc'}", "xoxb-1-2-abc"),
        ('{"refresh_token": "xoxe-1-abcdef", "x": 1}', "xoxe-1-abcdef"),
        ("token rotated to xoxe.xoxp-1-Mi0yLTE", "xoxe.xoxp-1-Mi0yLTE"),
        ("app token xapp-1-A0-123-abc", "xapp-1-A0-123-abc"),
        ("user token xoxp-123-456-789-abc", "xoxp-123-456-789-abc"),
        ("data: {'client_id': '1.2', 'client_secret': 'f00ba4'}", "f00ba4"),
        ("client_id=1.2&client_secret=f00ba4&code=c", "f00ba4"),
        ("headers: {'Authorization': 'Bearer abc.def'}", "abc.def"),
        ("authorization: Basic dXNlcjpwYXNz", "dXNlcjpwYXNz"),
        ("key sk-proj-AbC_123-xyz used", "sk-proj-AbC_123-xyz"),
        ("cannot connect to postgresql://app:hunter2@db:5432/romashka", "hunter2"),
        ("api_key=abcdef123 rejected", "abcdef123"),
        ("body: token=legacy-verif&team_id=T1", "legacy-verif"),
        ("posting to https://hooks.slack.com/commands/T1/2/abcSECRET", "abcSECRET"),
        ("the configured one: my-signing-secret-value", "my-signing-secret-value"),
    ],
)
def test_redactor(line: str, gone: str) -> None:
    redacted = Redactor(["my-signing-secret-value"]).redact(line)
    assert gone not in redacted
    assert REDACTED in redacted


@pytest.mark.parametrize(
    "line",
    [
        "token_type: bot, scope: commands",
        "POST https://slack.com/api/chat.postMessage ok",
        "asked for task-force",
        "answered in 1.2 s",
    ],
)
def test_ordinary_lines_stay(line: str) -> None:
    assert Redactor([]).redact(line) == line


def test_secret_values_come_from_settings(db_dsn: str) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        slack_bot_token=BOT_TOKEN,  # type: ignore[arg-type]
        slack_signing_secret=SIGNING_SECRET,  # type: ignore[arg-type]
        openai_api_key=OPENAI_KEY,  # type: ignore[arg-type]
        database_url="postgresql://app:hunter2-pw@db:5432/romashka",
    )
    found = secret_values(settings)
    assert {BOT_TOKEN, SIGNING_SECRET, OPENAI_KEY, "hunter2-pw"} <= set(found)


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every logger at DEBUG, scrubbed as `configure_logging` does in production."""
    undo = install(Redactor([CLIENT_SECRET, SIGNING_SECRET, BOT_TOKEN, OPENAI_KEY]))
    caplog.set_level(logging.DEBUG)
    try:
        yield caplog
    finally:
        undo()


def _leaks(caplog: pytest.LogCaptureFixture, secrets: list[str]) -> list[str]:
    text = caplog.text + "\n".join(
        f"{r.getMessage()} {r.exc_text or ''} {r.stack_info or ''}" for r in caplog.records
    )
    found = [s for s in secrets if s in text]
    # and nothing shaped like a Slack token or an OpenAI key, whoever's it is
    found += re.findall(r"\bxox[a-z]-[A-Za-z0-9-]+|\bsk-[A-Za-z0-9_-]{6,}", text)
    return found


async def test_the_oauth_flow_at_debug_logs_no_secret(
    debug_logs: pytest.LogCaptureFixture, oauth_server: str, slack: FakeSlack
) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{oauth_server}/slack/install", allow_redirects=False) as r:
            location = r.headers.get("Location", "") + await r.text()
            cookie = r.headers["Set-Cookie"].split(";")[0]
        state = re.search(r"state=([\w-]+)", location)
        assert state is not None
        async with http.get(
            f"{oauth_server}/slack/oauth_redirect?code=the-code&state={state.group(1)}",
            headers={"Cookie": cookie},
        ) as r:
            assert r.status == 200
    assert slack.of("oauth.v2.access"), "the token was exchanged"
    assert _leaks(debug_logs, [CLIENT_SECRET, INSTALLED_TOKEN]) == []
    # the SDK did log the exchange, body and all: only the secrets are gone
    assert "oauth.v2.access" in debug_logs.text and REDACTED in debug_logs.text


async def test_a_bot_test_at_debug_logs_no_secret(
    debug_logs: pytest.LogCaptureFixture, live: SlackDriver, model: FakeOpenAI
) -> None:
    await live.reply_text("new Support")
    await live.command("test How do I reset my password?")
    await live.slack.wait_calls("chat.stopStream")
    # a request whose signature fails is logged with its body
    await live.command("help", secret="not-the-signing-secret")
    assert "chat.startStream" in debug_logs.text
    assert _leaks(debug_logs, [BOT_TOKEN, SIGNING_SECRET, OPENAI_KEY]) == []
