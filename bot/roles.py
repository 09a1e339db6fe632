"""Who may change things. Anyone may test, run scenarios and vote; editing needs an editor:
a workspace admin or owner (asked of Slack each time, so a demotion takes effect at once) or
someone an editor added."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import asyncpg
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import UserError
from storage import editors as repo

log = logging.getLogger(__name__)

NOT_AN_EDITOR = (
    "Only editors can save this: workspace admins and owners, and people an editor added with "
    "`/bot editors add @person`."
)


def counts_as_admin(
    user: Mapping[str, Any], *, team_id: str, enterprise_id: str | None = None
) -> bool:
    """A users.info user's admin flags speak for that user's own workspace: in a Slack Connect
    channel another organisation's admin is no admin here. Only a user of the request's own
    workspace (or enterprise) counts; a user Slack does not place there does not."""
    ours = {i for i in (team_id, enterprise_id) if i}
    enterprise = user.get("enterprise_user") or {}
    own = user.get("team_id") in ours or enterprise.get("enterprise_id") in ours
    if not own or user.get("is_stranger"):
        return False
    return bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))


async def is_admin(
    client: AsyncWebClient, user_id: str, *, team_id: str, enterprise_id: str | None = None
) -> bool:
    try:
        response = await client.users_info(user=user_id)
    except SlackApiError as exc:
        log.warning("users.info failed: %s", exc.response.get("error"))
        return False
    user = response.get("user") or {}
    return counts_as_admin(user, team_id=team_id, enterprise_id=enterprise_id)


async def is_editor(
    pool: asyncpg.Pool, client: AsyncWebClient, *, team_id: str, user_id: str
) -> bool:
    if await repo.is_editor(pool, team_id=team_id, user_id=user_id):
        return True
    return await is_admin(client, user_id, team_id=team_id)


async def require_editor(
    pool: asyncpg.Pool, client: AsyncWebClient, *, team_id: str, user_id: str, doing: str
) -> None:
    if not await is_editor(pool, client, team_id=team_id, user_id=user_id):
        raise UserError(
            f"Only editors can {doing}: workspace admins and owners, and people an editor added "
            "with `/bot editors add @person`. `/bot editors list` shows who they are."
        )
