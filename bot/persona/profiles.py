"""Profiles as people manage them: create, list, pin to a channel, make the default, show,
page through the history, roll back and set one field. Each edit saves a new version."""

from __future__ import annotations

import asyncpg

from bot.blocks.common import Block, escape
from bot.blocks.labels import moves_section
from bot.blocks.profile import (
    applied_on_top,
    change_lines,
    history_page,
    profile_card,
    profiles_list,
)
from bot.domain.knowledge import KnowledgeItem
from bot.domain.profile import DEFAULT_FIELDS, Profile, ProfileVersion
from bot.persona import validation
from bot.persona.diff import diff
from storage import knowledge as knowledge_repo
from storage import labels as labels_repo
from storage import profiles as repo
from storage.profiles import Edit

HISTORY_PAGE_SIZE = 10


async def resolve(
    pool: asyncpg.Pool, *, team_id: str, channel_id: str, name: str | None
) -> Profile:
    """The named profile, else the channel's pin, else the workspace default."""
    return await repo.resolve_profile(pool, team_id=team_id, channel_id=channel_id, name=name)


async def create(pool: asyncpg.Pool, *, team_id: str, user_id: str, name: str) -> str:
    name = validation.profile_name(name)
    version = await repo.create_profile(
        pool, team_id=team_id, name=name, fields=DEFAULT_FIELDS, user_id=user_id
    )
    profile = await repo.get_profile(pool, team_id=team_id, profile_id=version.profile_id)
    default = " It is the workspace default." if profile.is_default else ""
    return (
        f"Created profile *{escape(name)}* (v1) from the defaults.{default} "
        f"Edit it with `/bot config {name}` or `/bot set formality 80 {name}`."
    )


async def listing(pool: asyncpg.Pool, *, team_id: str, channel_id: str) -> tuple[str, list[Block]]:
    profiles = await repo.list_profiles(pool, team_id=team_id)
    pinned = await repo.channel_pin(pool, team_id=team_id, channel_id=channel_id)
    return profiles_list(profiles, pinned_id=pinned)


async def pin(pool: asyncpg.Pool, *, team_id: str, channel_id: str, user_id: str, name: str) -> str:
    profile = await repo.find_profile(pool, team_id=team_id, name=name)
    await repo.pin_channel(
        pool, team_id=team_id, channel_id=channel_id, profile_id=profile.id, user_id=user_id
    )
    return f"This channel now uses *{escape(profile.name)}* (v{profile.current_version})."


async def make_default(pool: asyncpg.Pool, *, team_id: str, name: str) -> str:
    profile = await repo.find_profile(pool, team_id=team_id, name=name)
    await repo.set_default(pool, team_id=team_id, profile_id=profile.id)
    return f"*{escape(profile.name)}* is now the workspace default."


async def card(
    pool: asyncpg.Pool, *, team_id: str, channel_id: str, name: str | None
) -> tuple[str, list[Block]]:
    profile = await resolve(pool, team_id=team_id, channel_id=channel_id, name=name)
    version = await repo.current_version(pool, team_id=team_id, profile_id=profile.id)
    pinned = await repo.channel_pin(pool, team_id=team_id, channel_id=channel_id)
    return profile_card(version, is_default=profile.is_default, pinned_here=pinned == profile.id)


async def history(
    pool: asyncpg.Pool, *, team_id: str, profile_id: int, before: int | None = None
) -> tuple[str, list[Block]]:
    """One page of versions, newest first, each with what it changed."""
    profile = await repo.get_profile(pool, team_id=team_id, profile_id=profile_id)
    rows = await repo.history(
        pool,
        team_id=team_id,
        profile_id=profile_id,
        before_version=before,
        limit=HISTORY_PAGE_SIZE,
    )
    page = rows[:HISTORY_PAGE_SIZE]
    entries = []
    for i, version in enumerate(page):
        older = rows[i + 1] if i + 1 < len(rows) else None
        entries.append((version, diff(older.fields, version.fields) if older else None))
    more = page[-1].version if len(rows) > HISTORY_PAGE_SIZE else None
    text, blocks = history_page(
        entries, profile_name=profile.name, profile_id=profile.id, next_before=more
    )
    if before is None:
        # the latest label moves head the first page: which version is live is history too
        moved = moves_section(
            await labels_repo.moves(
                pool, team_id=team_id, profile_id=profile_id, limit=HISTORY_PAGE_SIZE
            )
        )
        if moved is not None:
            blocks.insert(1, moved)
    return text, blocks


async def rollback(
    pool: asyncpg.Pool,
    *,
    team_id: str,
    channel_id: str,
    user_id: str,
    name: str | None,
    target: int,
) -> str:
    profile = await resolve(pool, team_id=team_id, channel_id=channel_id, name=name)
    # versions never change, so the target can be read before taking the lock
    old = await repo.get_version(pool, team_id=team_id, profile_id=profile.id, version=target)
    old_knowledge = await knowledge_repo.items(pool, team_id=team_id, version_id=old.id)

    def restore(current: ProfileVersion, knowledge: list[KnowledgeItem]) -> Edit | None:
        if not diff(current.fields, old.fields) and knowledge == old_knowledge:
            return None
        return Edit(old.fields, note=f"rollback to v{target}", knowledge=old_knowledge)

    edited = await repo.edit_current(
        pool, team_id=team_id, profile_id=profile.id, user_id=user_id, change=restore
    )
    base, saved = edited.base, edited.saved
    if saved is None:
        return (
            f"v{target} of *{escape(profile.name)}* is identical to the current "
            f"v{base.version}; nothing was saved."
        )
    changes = diff(base.fields, old.fields)
    lines = change_lines(changes) if changes else ""
    if edited.base_knowledge != old_knowledge:
        lines += ("\n" if lines else "") + f"• knowledge: as in v{target}"
    text = (
        f"Rolled *{escape(profile.name)}* back to v{target}, saved as v{saved.version}:\n" + lines
    )
    return text + _moved_on(profile, base)


def _moved_on(seen: Profile, base: ProfileVersion) -> str:
    """The notice for an edit applied on a newer version than the one the command read."""
    if base.version == seen.current_version:
        return ""
    return "\n" + applied_on_top(profile_name=seen.name, version=base.version, replaced=[])


async def set_field(
    pool: asyncpg.Pool,
    *,
    team_id: str,
    channel_id: str,
    user_id: str,
    name: str | None,
    key: str,
    value: str,
) -> str:
    """Save one field's new value as the next version; nothing when it already has it."""
    profile = await resolve(pool, team_id=team_id, channel_id=channel_id, name=name)

    def apply(current: ProfileVersion, _: list[KnowledgeItem]) -> Edit | None:
        updated = validation.apply_field(current.fields, key, value)
        return Edit(updated) if updated != current.fields else None

    edited = await repo.edit_current(
        pool, team_id=team_id, profile_id=profile.id, user_id=user_id, change=apply
    )
    base, saved = edited.base, edited.saved
    if saved is None:
        return f"Nothing changed: *{escape(profile.name)}* v{base.version} already has that."
    changes = diff(base.fields, saved.fields)
    return (
        f"Saved *{escape(profile.name)}* v{saved.version}:\n"
        + change_lines(changes)
        + _moved_on(profile, base)
    )
