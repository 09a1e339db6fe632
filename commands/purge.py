"""`/bot purge`: a workspace admin deletes all of the workspace's data, after a confirmation."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Final

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bot import ids
from bot.blocks.purge import CONFIRM_WORD, confirm_view
from bot.errors import UserError
from bot.slack import workspace
from bot.slack.roles import is_admin
from bot.startup.deps import Deps
from commands.deadlines import ROLE_CHECK_S, ROLE_CHECK_TOO_SLOW
from commands.parse import Parsed
from commands.replies import confirm_text, open_view
from commands.request import Reply, SlashRequest

log = logging.getLogger(__name__)

ADMINS_ONLY: Final = (
    "Only a workspace admin or owner can purge the workspace's data (`/bot purge`)."
)


async def open_confirmation(
    deps: Deps, client: AsyncWebClient, req: SlashRequest, parsed: Parsed
) -> Reply | None:
    if parsed.rest or parsed.profile:
        raise UserError("Usage: `/bot purge` (it asks for a confirmation first).")
    if not await is_admin(client, req.user_id, team_id=req.team_id):
        raise UserError(ADMINS_ONLY)
    return await open_view(
        client,
        trigger_id=req.trigger_id,
        view=confirm_view(channel_id=req.channel_id, response_url=req.response_url),
        what="confirmation",
    )


async def handle_submit(
    deps: Deps, *, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, team_id: str
) -> None:
    view: dict[str, Any] = body["view"]
    user_id = str(body["user"]["id"])
    typed = (
        (
            (view.get("state", {}).get("values", {}).get(ids.PURGE_CONFIRM) or {}).get(
                ids.PURGE_CONFIRM + ids.INPUT_SUFFIX
            )
            or {}
        ).get("value")
        or ""
    ).strip()
    if typed != CONFIRM_WORD:
        await ack(
            response_action="errors",
            errors={ids.PURGE_CONFIRM: f"Type {CONFIRM_WORD} in capitals to confirm."},
        )
        return
    try:
        admin = await asyncio.wait_for(
            is_admin(client, user_id, team_id=team_id), timeout=ROLE_CHECK_S
        )
    except TimeoutError:
        log.warning("role check took too long; the purge form stays open")
        await ack(response_action="errors", errors={ids.PURGE_CONFIRM: ROLE_CHECK_TOO_SLOW})
        return
    if not admin:
        await ack(response_action="errors", errors={ids.PURGE_CONFIRM: ADMINS_ONLY})
        return
    await ack()
    told = await workspace.purge(deps.pool, team_id=team_id)
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        meta = {}
    await confirm_text(
        client,
        response_url=meta.get("r"),
        channel_id=str(meta.get("c", user_id)),
        user_id=user_id,
        text=told,
    )
