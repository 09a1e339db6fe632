"""`/bot editors add|remove|list`: who may edit profiles, knowledge and scenarios."""

from __future__ import annotations

import re
from typing import Final

from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import UserError
from bot.slack.roles import add_editor, editors_text, remove_editor, require_editor
from bot.startup.deps import Deps
from commands.parse import Parsed
from commands.request import Reply, SlashRequest

USAGE: Final = (
    "Usage: `/bot editors add @person`, `/bot editors remove @person`, `/bot editors list`."
)
# Slack sends a mention as <@U123|name> (or <@U123>) when the command escapes users
_MENTION: Final = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")


def mentioned_user(raw: str) -> str:
    match = _MENTION.match(raw.strip())
    if match is None:
        raise UserError(
            "Name the person with an @mention, e.g. `/bot editors add @ana` (pick them from "
            "Slack's suggestions so the mention links to them)."
        )
    return match.group(1)


async def handle(deps: Deps, client: AsyncWebClient, req: SlashRequest, parsed: Parsed) -> Reply:
    action, _, rest = parsed.rest.partition(" ")
    action = action.lower()
    if action == "list" and not rest.strip():
        return Reply(await editors_text(deps.pool, team_id=req.team_id, settings=deps.settings))
    if action not in {"add", "remove"}:
        raise UserError(USAGE)
    user_id = mentioned_user(rest)
    await require_editor(
        deps, client, team_id=req.team_id, user_id=req.user_id, doing="change who edits"
    )
    if action == "add":
        return Reply(
            await add_editor(deps.pool, team_id=req.team_id, user_id=user_id, added_by=req.user_id)
        )
    return Reply(await remove_editor(deps.pool, team_id=req.team_id, user_id=user_id))
