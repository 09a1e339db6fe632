"""Delivering replies: guarded handler bodies, ephemeral responses and modal confirmations."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.answers.pipeline import RunContext
from bot.errors import UserError
from bot.messages import GENERIC_FAILURE
from bot.model.llm import LLMError, LLMErrorKind
from bot.startup.deps import Deps
from commands import payload
from commands.errors import storage_message
from commands.request import Reply
from storage.errors import StorageError

log = logging.getLogger(__name__)

OUT_OF_DATE = "That doesn't match anything in this workspace; the message may be out of date."


def answering(deps: Deps) -> RunContext:
    """What a use case that answers needs; a clear reply when no model is configured."""
    if deps.llm is None or not deps.llm.configured:
        raise UserError(LLMError(LLMErrorKind.NOT_CONFIGURED).message)
    return RunContext.of(deps.pool, deps.llm, deps.settings, streams=deps.streams)


def said(text: str | None) -> Reply | None:
    """A use case's answer for the person, if it has one, as an ephemeral reply."""
    return None if text is None else Reply(text)


async def run_guarded(work: Callable[[], Awaitable[Reply | None]]) -> Reply | None:
    """Every expected failure becomes a clear reply; anything else is logged, never echoed."""
    try:
        return await work()
    except UserError as exc:
        return Reply(str(exc))
    except StorageError as exc:
        message = storage_message(exc)
        if message is None:
            log.exception("storage failure")
            return Reply(GENERIC_FAILURE)
        return Reply(message)
    except asyncpg.DataError:
        # a value from the request that no column can hold (a forged or mangled button value,
        # an id with thirty digits): nothing can match it
        log.warning("request carried a value out of range")
        return Reply(OUT_OF_DATE)
    except Exception:
        log.exception("unexpected failure handling a request")
        return Reply(GENERIC_FAILURE)


async def reply_with(respond: AsyncRespond, work: Callable[[], Awaitable[Reply | None]]) -> None:
    """Run a handler's work guarded and send its reply, if any, ephemerally."""
    reply = await run_guarded(work)
    if reply is not None:
        await send(respond, reply)


async def open_view(
    client: AsyncWebClient, *, trigger_id: str, view: dict[str, Any], what: str = "form"
) -> Reply | None:
    """Open a modal. When Slack refuses (most often a trigger older than its 3 seconds), the
    reply says what to do, the same way for every form; the reason is logged."""
    try:
        await client.views_open(trigger_id=trigger_id, view=view)
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else None
        log.warning("views.open failed: %s", error)
        if error == "expired_trigger_id":
            return Reply(f"The {what} took too long to open. Please run the command again.")
        return Reply(f"Slack did not open the {what}. Please try again in a moment.")
    return None


async def send(respond: AsyncRespond, reply: Reply) -> None:
    try:
        response = await respond(
            text=reply.text,
            blocks=reply.blocks or None,
            response_type="ephemeral",
            replace_original=False,
        )
        if response.status_code != 200 and reply.fallback is not None:
            # response_url answers refused blocks with 400 and the error as plain text
            log.info("reply blocks refused (%s); sending the fallback layout", response.body)
            await respond(
                text=reply.text,
                blocks=reply.fallback,
                response_type="ephemeral",
                replace_original=False,
            )
    except Exception:
        log.exception("could not deliver a reply through response_url")


async def confirm_text(
    client: AsyncWebClient,
    *,
    response_url: str | None,
    channel_id: str,
    user_id: str,
    text: str,
) -> None:
    """Tell a person what their form did: through the command's response_url, else ephemerally,
    else (the bot is not in that channel) by direct message."""
    if response_url:
        try:
            response = await AsyncWebhookClient(response_url).send(
                text=text, response_type="ephemeral", replace_original=False
            )
            if response.status_code == 200:
                return
        except Exception:
            log.warning("response_url confirmation failed; falling back to postEphemeral")
    try:
        await client.chat_postEphemeral(channel=channel_id, user=user_id, text=text)
    except SlackApiError:
        await client.chat_postMessage(channel=user_id, text=text)


async def deliver(
    client: AsyncWebClient, respond: AsyncRespond, *, body: dict[str, Any], reply: Reply
) -> None:
    """Answer a button: ephemerally where it was clicked, or by direct message when the click
    came from somewhere without a response_url (the App Home tab)."""
    if body.get("response_url"):
        await send(respond, reply)
        return
    user_id = payload.user_id(body)
    try:
        await client.chat_postMessage(channel=user_id, text=reply.text, blocks=reply.blocks or None)
    except SlackApiError:
        log.exception("could not deliver a reply by direct message")
