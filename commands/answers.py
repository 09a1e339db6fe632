"""Buttons under an answer: Details (a modal with the full analysis) and 👍 / 👎 feedback."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.answering import refresh_footer
from bot.blocks.answer import details_view
from bot.deps import Deps
from bot.errors import UserError
from commands import payload
from commands.replies import reply_with
from commands.request import Reply
from storage import knowledge as knowledge_repo
from storage import profiles as repo
from storage import results as results_repo
from storage.results import ResultNotFound

log = logging.getLogger(__name__)


async def details(
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
        try:
            result = await results_repo.get_result(
                deps.pool, team_id=team_id, result_id=payload.id_value(body)
            )
        except ResultNotFound:
            raise UserError("That answer does not exist in this workspace.") from None
        if result.kind == "ab":
            # naming an A/B reply's version here would unblind its test
            raise UserError("A/B replies have their own Details button under the pair.")
        version = await repo.get_version_by_id(
            deps.pool, team_id=team_id, version_id=result.profile_version_id
        )
        knowledge = await knowledge_repo.items(
            deps.pool, team_id=team_id, version_id=result.profile_version_id
        )
        await client.views_open(
            trigger_id=str(body.get("trigger_id", "")),
            view=details_view(result, label=version.label, knowledge=knowledge),
        )
        return None

    await reply_with(respond, work)


async def feedback(
    deps: Deps,
    *,
    ack: AsyncAck,
    body: dict[str, Any],
    respond: AsyncRespond,
    client: AsyncWebClient,
    team_id: str,
    rating: int,
) -> None:
    await ack()
    user_id = payload.user_id(body)

    async def work() -> Reply:
        result_id = payload.id_value(body)
        try:
            await results_repo.record_feedback(
                deps.pool, team_id=team_id, result_id=result_id, user_id=user_id, rating=rating
            )
        except ResultNotFound:
            raise UserError("That answer does not exist in this workspace.") from None
        result = await results_repo.get_result(deps.pool, team_id=team_id, result_id=result_id)
        channel = (body.get("channel") or {}).get("id")
        message_ts = (body.get("message") or {}).get("ts")
        if channel and message_ts:
            await refresh_footer(deps, client, result, channel=str(channel), ts=str(message_ts))
        mark, other = ("👍", "👎") if rating > 0 else ("👎", "👍")
        return Reply(f"Thanks, your {mark} is recorded. Changed your mind? Click {other}.")

    await reply_with(respond, work)
