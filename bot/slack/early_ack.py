"""Slash commands acknowledged before Bolt's dispatch (HTTP mode).

Every `/bot` command acks with an empty body first thing (`commands.router.handle`): its replies
go to `response_url` or the Web API. Bolt's dispatch before that ack costs about twice the
request's own handling (its middleware chain, building the context, matching listeners), and
Bolt notices the listener's `ack()` only at its next 10 ms poll (slack_bolt's
`AsyncioListenerRunner`). In a burst of 100 commands on one event loop, every ack waited for
the dispatch of the commands that came before it.

So a slash command whose signature is good is answered at once with the empty 200 the listener
would have sent, and Bolt's dispatch runs after, once no other request waits for its ack
(`AckGate.after_acks`). Bolt still checks the signature itself; everything else (interactions,
events, a bad or stale signature) goes through Bolt as before, since a modal's `errors` and a
401 must be in the HTTP response. What Bolt would have put in the HTTP response of a command
(a workspace that never installed the app gets Bolt's "please install" text; an error) is sent
to the command's `response_url` instead, so the person still reads it."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Final
from urllib.parse import parse_qs

from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.messages import GENERIC_FAILURE
from bot.slack.ack_gate import AckGate
from bot.slack.signature import well_formed

log = logging.getLogger(__name__)

FORM: Final = "application/x-www-form-urlencoded"
# Slack's own replay window for a signed request (slack_sdk's SignatureVerifier uses the same)
MAX_AGE_S: Final = 60 * 5
# the longest the reply to response_url may take when Bolt's dispatch had something to say
RESPOND_TIMEOUT_S: Final = 10
# names the dispatch tasks (they are work in flight: shutdown's drain waits for them)
DISPATCH_TASK: Final = "romashka-command-dispatch"


def is_slash_command(body: str) -> bool:
    """A slash command's form has `command`; Slack's SSL check and interactions (`payload`) do
    not. Field by field: the request is not parsed in full before it is acked."""
    fields = {part.split("=", 1)[0] for part in body.split("&")}
    return "command" in fields and "ssl_check" not in fields and "payload" not in fields


class EarlyAck:
    def __init__(self, app: AsyncApp, *, signing_secret: str, acks: AckGate) -> None:
        self._app = app
        self._verifier = SignatureVerifier(signing_secret)
        self._acks = acks
        self._dispatching: set[asyncio.Task[None]] = set()

    def takes(self, headers: Mapping[str, str], body: str) -> bool:
        """Whether this request is a slash command signed by Slack, so that it may be acked
        before Bolt sees it."""
        if not headers.get("content-type", "").startswith(FORM) or not is_slash_command(body):
            return False
        timestamp = headers.get("x-slack-request-timestamp", "")
        signature = headers.get("x-slack-signature", "")
        if not well_formed(timestamp=timestamp, signature=signature):
            return False
        if abs(time.time() - int(timestamp)) > MAX_AGE_S:
            return False
        return self._verifier.is_valid(body=body, timestamp=timestamp, signature=signature)

    def dispatch_later(self, *, body: str, query: str, headers: Mapping[str, str]) -> None:
        # a copy: the dispatch runs after the HTTP request is done with
        copied: dict[str, str | Sequence[str]] = dict(headers)
        task = asyncio.create_task(
            self._dispatch(body=body, query=query, headers=copied), name=DISPATCH_TASK
        )
        self._dispatching.add(task)
        task.add_done_callback(self._dispatching.discard)

    async def _dispatch(
        self, *, body: str, query: str, headers: dict[str, str | Sequence[str]]
    ) -> None:
        await self._acks.after_acks()
        request = AsyncBoltRequest(body=body, query=query, headers=headers)
        try:
            response = await self._app.async_dispatch(request)
        except Exception:
            log.exception("a slash command failed in dispatch")
            response = BoltResponse(status=500, body="")
        text = _told(response)
        if text is None:
            return
        url = _first(parse_qs(body).get("response_url"))
        if url is None:
            log.warning("a slash command's reply had nowhere to go (no response_url)")
            return
        try:
            await AsyncWebhookClient(url, timeout=RESPOND_TIMEOUT_S).send(
                text=text, response_type="ephemeral"
            )
        except Exception:
            log.exception("could not send a slash command's reply to its response_url")


def _told(response: BoltResponse) -> str | None:
    """What the person must read of Bolt's HTTP response: its text, or that it failed. A
    failure there came before the listener acked, which it does before changing anything."""
    if response.status >= 400:
        log.warning("a slash command's dispatch answered %d", response.status)
        return GENERIC_FAILURE
    body = response.body.strip()
    if body.startswith("{"):
        try:
            text = json.loads(body).get("text")
        except (ValueError, AttributeError):
            text = None
        return text if isinstance(text, str) and text.strip() else None
    return body or None


def _first(values: list[str] | None) -> str | None:
    return values[0] if values else None
