"""Drives the real Bolt app with signed requests, the way Slack would, and reads what it sent."""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import asyncpg
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.signature import SignatureVerifier

from bot.model.llm import LLM
from bot.slack.stream_budget import StreamBudget
from bot.startup.app import build_app
from bot.startup.deps import Deps
from bot.startup.settings import Settings
from tests.fake_slack import FakeSlack

SIGNING_SECRET = "test-signing-secret-0123456789"
TEAM = "T0001"
OTHER_TEAM = "T0002"
USER = "U0001"
OTHER_USER = "U0002"  # who types in OTHER_TEAM unless a test says otherwise
CHANNEL = "C0001"


def signed_headers(body: str, *, content_type: str, secret: str = SIGNING_SECRET) -> dict[str, Any]:
    timestamp = str(int(time.time()))
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    return {
        "content-type": [content_type],
        "x-slack-request-timestamp": [timestamp],
        "x-slack-signature": [signature],
    }


def _user_in(team: str, user: str | None) -> str:
    # a Slack user belongs to one workspace: the fake Slack's users.info says which
    return user if user is not None else (OTHER_USER if team == OTHER_TEAM else USER)


@dataclass
class SlackDriver:
    app: AsyncApp
    slack: FakeSlack
    pool: asyncpg.Pool
    deps: Deps
    _n: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    replies_read: int = 0
    # the response_url key of the last command sent, for `reply_to`
    last_command_key: str = ""
    # the response_url key of the last message shortcut used, for `reply_for`
    last_shortcut_key: str = ""

    @classmethod
    def build(
        cls,
        *,
        settings: Settings,
        pool: asyncpg.Pool,
        slack: FakeSlack,
        llm: LLM | None = None,
        streams: StreamBudget | None = None,
    ) -> SlackDriver:
        deps = Deps(settings=settings, pool=pool, llm=llm, streams=streams)
        return cls(app=build_app(deps), slack=slack, pool=pool, deps=deps)

    async def dispatch(
        self, body: str, content_type: str, secret: str = SIGNING_SECRET
    ) -> BoltResponse:
        headers = signed_headers(body, content_type=content_type, secret=secret)
        return await self.app.async_dispatch(AsyncBoltRequest(body=body, headers=headers))

    async def command(
        self,
        text: str,
        *,
        team: str = TEAM,
        user: str | None = None,
        channel: str = CHANNEL,
        secret: str = SIGNING_SECRET,
    ) -> BoltResponse:
        user = _user_in(team, user)
        n = next(self._n)
        self.last_command_key = f"cmd{n}"
        body = urlencode(
            {
                "token": "legacy-unused",
                "team_id": team,
                "team_domain": "example",
                "channel_id": channel,
                "channel_name": "playground",
                "user_id": user,
                "user_name": "ana",
                "command": "/bot",
                "text": text,
                "api_app_id": "A0001",
                "response_url": self.slack.response_url(f"cmd{n}"),
                "trigger_id": f"trigger-{n}",
            }
        )
        return await self.dispatch(body, "application/x-www-form-urlencoded", secret)

    async def event(
        self,
        event: dict[str, Any],
        *,
        team: str = TEAM,
        event_id: str | None = None,
        retry_num: int | None = None,
    ) -> BoltResponse:
        n = next(self._n)
        body = json.dumps(
            {
                "token": "legacy-unused",
                "team_id": team,
                "api_app_id": "A0001",
                "type": "event_callback",
                "event_id": event_id or f"Ev{n:06d}",
                "event_time": int(time.time()),
                "event": event,
                "authorizations": [{"team_id": team, "user_id": "UBOT0001", "is_bot": True}],
            }
        )
        headers = signed_headers(body, content_type="application/json")
        if retry_num is not None:
            headers["x-slack-retry-num"] = [str(retry_num)]
            headers["x-slack-retry-reason"] = ["http_timeout"]
        return await self.app.async_dispatch(AsyncBoltRequest(body=body, headers=headers))

    async def interact(self, payload: dict[str, Any]) -> BoltResponse:
        body = urlencode({"payload": json.dumps(payload)})
        return await self.dispatch(body, "application/x-www-form-urlencoded")

    async def click(
        self,
        action_id: str,
        value: str,
        *,
        team: str = TEAM,
        user: str | None = None,
        channel: str = CHANNEL,
        message: dict[str, Any] | None = None,
    ) -> BoltResponse:
        user = _user_in(team, user)
        n = next(self._n)
        return await self.interact(
            {
                "type": "block_actions",
                "team": {"id": team, "domain": "example"},
                "user": {"id": user, "team_id": team},
                "api_app_id": "A0001",
                "trigger_id": f"trigger-{n}",
                "channel": {"id": channel},
                "container": {"type": "message", "channel_id": channel, "is_ephemeral": True},
                "message": message or {"ts": "1.0", "text": ""},
                "response_url": self.slack.response_url(f"act{n}"),
                "actions": [
                    {"action_id": action_id, "block_id": "b", "type": "button", "value": value}
                ],
            }
        )

    async def shortcut(
        self,
        callback_id: str,
        message: dict[str, Any],
        *,
        team: str = TEAM,
        user: str | None = None,
        channel: str = CHANNEL,
    ) -> BoltResponse:
        """A message shortcut used on `message` (as Slack sends it: `message_action`, with the
        whole message, its channel, a trigger_id and a response_url)."""
        user = _user_in(team, user)
        n = next(self._n)
        self.last_shortcut_key = f"sc{n}"
        return await self.interact(
            {
                "type": "message_action",
                "token": "legacy-unused",
                "action_ts": f"{time.time():.6f}",
                "team": {"id": team, "domain": "example"},
                "user": {"id": user, "name": "ana", "team_id": team},
                "channel": {"id": channel, "name": "playground"},
                "is_enterprise_install": False,
                "enterprise": None,
                "callback_id": callback_id,
                "trigger_id": f"trigger-{n}",
                "response_url": self.slack.response_url(f"sc{n}"),
                "message_ts": message.get("ts", ""),
                "message": {"type": "message", **message},
            }
        )

    async def submit_view(
        self,
        view: dict[str, Any],
        values: dict[str, Any],
        *,
        team: str = TEAM,
        user: str | None = None,
    ) -> BoltResponse:
        user = _user_in(team, user)
        return await self.interact(
            {
                "type": "view_submission",
                "team": {"id": team, "domain": "example"},
                "user": {"id": user, "team_id": team},
                "api_app_id": "A0001",
                "view": {**view, "id": "V0001", "team_id": team, "state": {"values": values}},
            }
        )

    # ---- reading what the app sent -----------------------------------------------------------
    async def next_reply(self, *, timeout: float = 5.0) -> dict[str, Any]:
        """The next ephemeral reply sent through a response_url, in the order they arrived."""
        await self.slack.wait_responses(self.replies_read + 1, timeout=timeout)
        self.replies_read += 1
        return self.slack.responses[self.replies_read - 1].args

    async def reply_for(self, key: str, *, timeout: float = 5.0) -> str:
        """The text of the reply sent to one command's own response_url, whenever it came and
        whatever else arrived meanwhile."""
        method = f"response_url/{key}"
        await self.slack.wait_for(
            lambda s: any(c.method == method for c in s.responses), timeout=timeout
        )
        return str(next(c for c in self.slack.responses if c.method == method).args.get("text"))

    async def reply_to(self, text: str, **kwargs: Any) -> str:
        """Send a command and return the text of its own reply (see `reply_for`)."""
        response = await self.command(text, **kwargs)
        assert response.status == 200, response.body
        return await self.reply_for(self.last_command_key)

    async def reply_text(self, text: str, **kwargs: Any) -> str:
        """Send a command and return the text of its ephemeral reply."""
        response = await self.command(text, **kwargs)
        assert response.status == 200, response.body
        reply = await self.next_reply()
        return str(reply.get("text", ""))
