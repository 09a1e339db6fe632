"""Buttons on profile messages: History's "More", and the card's Edit and History."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.deps import Deps
from bot.errors import UserError
from commands import config, payload, profiles
from commands.deadlines import require_editor_in_time
from commands.permissions import EDITING
from commands.replies import deliver, reply_with, run_guarded
from commands.request import Reply


async def history_more(
    deps: Deps, *, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, team_id: str
) -> None:
    await ack()

    async def work() -> Reply:
        value = payload.json_value(body)
        try:
            profile_id, before = int(value["p"]), int(value["before"])
        except (ValueError, KeyError, TypeError):
            raise UserError(payload.OUT_OF_DATE) from None
        return await profiles.history(deps, team_id=team_id, profile_id=profile_id, before=before)

    await reply_with(respond, work)


async def card_history(
    deps: Deps,
    *,
    ack: AsyncAck,
    body: dict[str, Any],
    respond: AsyncRespond,
    client: AsyncWebClient,
    team_id: str,
) -> None:
    await ack()

    async def work() -> Reply:
        profile_id = payload.id_value(body)
        return await profiles.history(deps, team_id=team_id, profile_id=profile_id)

    reply = await run_guarded(work)
    if reply is not None:
        # from the App Home tab there is no response_url: the history comes as a DM
        await deliver(client, respond, body=body, reply=reply)


async def card_edit(
    deps: Deps,
    *,
    ack: AsyncAck,
    body: dict[str, Any],
    respond: AsyncRespond,
    client: AsyncWebClient,
    team_id: str,
) -> None:
    await ack()

    async def work() -> Reply | None:
        profile_id = payload.id_value(body)
        # refused here, not only on Save: nobody fills in a form they cannot save
        await require_editor_in_time(
            deps,
            client,
            team_id=team_id,
            user_id=payload.user_id(body),
            doing=EDITING["config"],
        )
        return await config.open_modal(
            deps,
            client,
            team_id=team_id,
            profile_id=profile_id,
            trigger_id=str(body.get("trigger_id", "")),
            channel_id=payload.channel_id(body),
            response_url=body.get("response_url"),
        )

    reply = await run_guarded(work)
    if reply is not None:
        await deliver(client, respond, body=body, reply=reply)
