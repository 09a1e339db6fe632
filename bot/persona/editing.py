"""Editing a profile in its form (`/bot config`): the form as the current version fills it, and
saving what the person changed on top of whatever someone else saved meanwhile."""

from __future__ import annotations

from typing import Any

import asyncpg

from bot.blocks.common import escape
from bot.blocks.config_modal import ModalContext, config_modal
from bot.blocks.profile import applied_on_top, change_lines
from bot.domain.knowledge import KnowledgeItem
from bot.domain.profile import ProfileFields, ProfileVersion
from bot.persona.diff import diff
from bot.persona.merge import Merged, merge_fields
from storage import profiles as repo
from storage.errors import ProfileNotFound as ProfileNotFound
from storage.errors import VersionNotFound
from storage.profiles import Edit


async def form(
    pool: asyncpg.Pool,
    *,
    team_id: str,
    profile_id: int,
    channel_id: str,
    response_url: str | None,
) -> dict[str, Any]:
    """The profile's form, filled from its current version, which it carries as its base."""
    version = await repo.current_version(pool, team_id=team_id, profile_id=profile_id)
    context = ModalContext(profile_id, version.version, channel_id, response_url)
    return config_modal(version, context=context)


async def save(
    pool: asyncpg.Pool,
    *,
    team_id: str,
    user_id: str,
    context: ModalContext,
    fields: ProfileFields,
) -> str:
    """Apply the form on top of the current version: what the person changed relative to the
    version the form was opened on, keeping whatever someone else saved meanwhile. What to
    tell them. Raises ProfileNotFound when the profile is gone."""
    try:
        opened = await repo.get_version(
            pool, team_id=team_id, profile_id=context.profile_id, version=context.base_version
        )
        base: ProfileFields | None = opened.fields
    except VersionNotFound:
        base = None  # a form from before versions were carried: its values replace the current
    merged: Merged | None = None

    def apply(current: ProfileVersion, _: list[KnowledgeItem]) -> Edit | None:
        nonlocal merged
        merged = (
            Merged(fields, [])
            if base is None
            else merge_fields(base=base, ours=fields, current=current.fields)
        )
        return Edit(merged.fields) if merged.fields != current.fields else None

    edited = await repo.edit_current(
        pool, team_id=team_id, profile_id=context.profile_id, user_id=user_id, change=apply
    )
    assert merged is not None
    current, saved = edited.base, edited.saved
    name = escape(current.profile_name)
    if saved is None:
        return f"No changes: *{name}* stays at v{current.version}."
    text = f"Saved *{name}* v{saved.version}:\n{change_lines(diff(current.fields, saved.fields))}"
    if current.version != context.base_version:
        text += "\n" + applied_on_top(
            profile_name=current.profile_name, version=current.version, replaced=merged.replaced
        )
    return text
