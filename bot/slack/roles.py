"""Who may change things. Anyone may test, run scenarios and vote; editing needs an editor:
a workspace admin or owner (asked of Slack each time, so a demotion takes effect at once),
someone an editor added, whoever installed the app through OAuth, or, with one workspace, the
person who created its first profile. `EVERYONE_CAN_EDIT` makes every member an editor."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final, Protocol

import asyncpg
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import UserError
from storage import editors as repo

log = logging.getLogger(__name__)


class EditSettings(Protocol):
    """The two settings that decide who edits."""

    @property
    def everyone_can_edit(self) -> bool: ...
    @property
    def oauth_enabled(self) -> bool: ...


class Deps(Protocol):
    """What the role checks read: the pool and those settings (the app's `Deps` has both)."""

    @property
    def pool(self) -> asyncpg.Pool: ...
    @property
    def settings(self) -> EditSettings: ...


NOT_AN_EDITOR = (
    "Only editors can save this: workspace admins and owners, and people an editor added with "
    "`/bot editors add @person`."
)
FIRST_EDITOR: Final = (
    "You are this workspace's first editor: you can create and edit profiles, knowledge and "
    "scenarios. Add the people who tune the bot with you with `/bot editors add @person` "
    "(`/bot editors list` shows who edits)."
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


async def is_editor(deps: Deps, client: AsyncWebClient, *, team_id: str, user_id: str) -> bool:
    if deps.settings.everyone_can_edit:
        return True
    if await repo.is_editor(deps.pool, team_id=team_id, user_id=user_id):
        return True
    return await is_admin(client, user_id, team_id=team_id)


def refusal(doing: str) -> str:
    return (
        f"Only editors can {doing}: workspace admins and owners, and people an editor added "
        "with `/bot editors add @person`. `/bot editors list` shows who they are."
    )


async def require_editor(
    deps: Deps, client: AsyncWebClient, *, team_id: str, user_id: str, doing: str
) -> None:
    if not await is_editor(deps, client, team_id=team_id, user_id=user_id):
        raise UserError(refusal(doing))


async def require_editor_or_first(
    deps: Deps, client: AsyncWebClient, *, team_id: str, user_id: str, doing: str
) -> str | None:
    """For creating a profile: like `require_editor`, except that with one workspace (no OAuth
    installer to start from) whoever creates its first profile, admin or not, becomes its first
    editor. Returns the notice telling them so, or None."""
    if deps.settings.everyone_can_edit or await repo.is_editor(
        deps.pool, team_id=team_id, user_id=user_id
    ):
        return None
    if not deps.settings.oauth_enabled and await repo.claim_first(
        deps.pool, team_id=team_id, user_id=user_id
    ):
        log.info("a workspace got its first editor with its first profile")
        return FIRST_EDITOR
    if await is_admin(client, user_id, team_id=team_id):
        return None
    raise UserError(refusal(doing))


async def editors_text(pool: asyncpg.Pool, *, team_id: str, settings: EditSettings) -> str:
    """Who edits, as `/bot editors list` says it."""
    if settings.everyone_can_edit:
        return "*Editors*: everyone in this workspace (the app runs with EVERYONE_CAN_EDIT)."
    editors = await repo.list_editors(pool, team_id=team_id)
    how = "installed the app" if settings.oauth_enabled else "first editor"
    added = (
        "\n".join(
            f"• <@{u}> ({how})" if by == u else f"• <@{u}> (added by <@{by}>)" for u, by in editors
        )
        or "_nobody yet_"
    )
    return "*Editors*: every workspace admin and owner, plus:\n" + added


async def add_editor(pool: asyncpg.Pool, *, team_id: str, user_id: str, added_by: str) -> str:
    if await repo.add(pool, team_id=team_id, user_id=user_id, added_by=added_by):
        return f"<@{user_id}> is now an editor."
    return f"<@{user_id}> is already an editor."


async def remove_editor(pool: asyncpg.Pool, *, team_id: str, user_id: str) -> str:
    if await repo.remove(pool, team_id=team_id, user_id=user_id):
        return f"<@{user_id}> is no longer an editor (admins and owners always are)."
    return f"<@{user_id}> was not on the editors list."
