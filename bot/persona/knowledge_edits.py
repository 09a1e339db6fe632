"""Editing a profile's company knowledge: the form, quick add and remove, the listing. Every
change saves a new profile version, like any other edit."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import asyncpg

from bot.blocks.common import Block, escape
from bot.blocks.knowledge import FormContext, form, listing, read_form
from bot.blocks.profile import applied_on_top
from bot.domain.knowledge import Knowledge, KnowledgeItem, validate
from bot.domain.profile import Profile, ProfileVersion
from bot.errors import UserError
from bot.persona.merge import MergedKnowledge, merge_knowledge
from bot.persona.profiles import resolve
from storage import knowledge as repo
from storage import profiles as profiles_repo
from storage.errors import ProfileNotFound as ProfileNotFound
from storage.errors import VersionNotFound
from storage.profiles import Edit, Edited


async def show(
    pool: asyncpg.Pool, *, team_id: str, channel_id: str, name: str | None
) -> tuple[str, list[Block]]:
    """The knowledge of the named profile (else the channel's) at its current version."""
    profile = await resolve(pool, team_id=team_id, channel_id=channel_id, name=name)
    version = await profiles_repo.current_version(pool, team_id=team_id, profile_id=profile.id)
    items = await repo.items(pool, team_id=team_id, version_id=version.id)
    return listing(items, label=version.label)


def _knowledge_edit(current: ProfileVersion, knowledge: Knowledge, *, note: str) -> Edit:
    return Edit(current.fields, note=note, knowledge=knowledge.items())


def _moved_on(seen: Profile, edited: Edited) -> str:
    if edited.base.version == seen.current_version:
        return ""
    return " " + applied_on_top(profile_name=seen.name, version=edited.base.version, replaced=[])


async def add(
    pool: asyncpg.Pool,
    *,
    team_id: str,
    channel_id: str,
    user_id: str,
    name: str | None,
    kind: str,
    values: list[str],
) -> str:
    """Add an FAQ (question, answer) or a policy (text) as the next version's last item."""
    profile = await resolve(pool, team_id=team_id, channel_id=channel_id, name=name)

    def added_ref(current: Knowledge) -> str:
        if kind == "faq":
            return f"F{len(current.faqs) + 1}"
        return f"P{len(current.policies) + 1}"

    def append(version: ProfileVersion, items: list[KnowledgeItem]) -> Edit:
        # numbered on the current knowledge, read under the lock: four people adding at once
        # get four items, P4 to P7, not four claims of P4 with one survivor
        current = Knowledge.of(items)
        if kind == "faq":
            updated = replace(current, faqs=[*current.faqs, (values[0], values[1])])
        else:
            updated = replace(current, policies=[*current.policies, values[0]])
        return _knowledge_edit(version, updated, note=f"knowledge: added {added_ref(current)}")

    edited = await profiles_repo.edit_current(
        pool, team_id=team_id, profile_id=profile.id, user_id=user_id, change=append
    )
    assert edited.saved is not None
    added = added_ref(Knowledge.of(edited.base_knowledge))
    return f"Added `{added}` to the knowledge of *{escape(edited.saved.label)}*." + _moved_on(
        profile, edited
    )


async def remove(
    pool: asyncpg.Pool,
    *,
    team_id: str,
    channel_id: str,
    user_id: str,
    name: str | None,
    ref: str,
) -> str:
    """Remove the item `ref` names in the current version; the others are renumbered."""
    profile = await resolve(pool, team_id=team_id, channel_id=channel_id, name=name)
    version = await profiles_repo.current_version(pool, team_id=team_id, profile_id=profile.id)
    seen = {i.ref: i for i in await repo.items(pool, team_id=team_id, version_id=version.id)}
    if ref not in seen:
        raise UserError(
            f"*{escape(version.label)}* has no knowledge item `{escape(ref)}`. "
            "`/bot knowledge show` lists them."
        )
    target = seen[ref]

    def drop(current: ProfileVersion, items: list[KnowledgeItem]) -> Edit:
        # the id names an item of the version read above; someone may have renumbered the
        # items since, so the item is found again by what it says, not by its id
        index = next((n for n, i in enumerate(items) if _same_item(i, target)), None)
        if index is None:
            raise UserError(
                f"`{ref}` of {escape(version.label)} is no longer in *{escape(current.label)}*: "
                "someone removed or changed it meanwhile. `/bot knowledge show` lists the items."
            )
        kept = [i for n, i in enumerate(items) if n != index]
        return _knowledge_edit(current, Knowledge.of(kept), note=f"knowledge: removed {ref}")

    edited = await profiles_repo.edit_current(
        pool, team_id=team_id, profile_id=profile.id, user_id=user_id, change=drop
    )
    assert edited.saved is not None
    seen_profile = replace(profile, current_version=version.version)
    return (
        f"Removed `{ref}` from the knowledge of *{escape(edited.saved.label)}*; the other items "
        "were renumbered (`/bot knowledge show`)." + _moved_on(seen_profile, edited)
    )


def _same_item(a: KnowledgeItem, b: KnowledgeItem) -> bool:
    return (a.kind, a.body, a.question) == (b.kind, b.body, b.question)


async def edit_form(
    pool: asyncpg.Pool,
    *,
    team_id: str,
    channel_id: str,
    response_url: str | None,
    name: str | None,
) -> dict[str, Any]:
    """The knowledge form of the named profile (else the channel's), filled from its current
    version, which it carries as its base."""
    profile = await resolve(pool, team_id=team_id, channel_id=channel_id, name=name)
    version = await profiles_repo.current_version(pool, team_id=team_id, profile_id=profile.id)
    knowledge = Knowledge.of(await repo.items(pool, team_id=team_id, version_id=version.id))
    return form(
        knowledge,
        profile_name=profile.name,
        context=FormContext(profile.id, channel_id, response_url, version.version),
    )


async def _opened_on(pool: asyncpg.Pool, *, team_id: str, context: FormContext) -> Knowledge | None:
    """The knowledge the form showed, or None for a form that does not say which version."""
    if context.base_version <= 0:
        return None
    try:
        opened = await profiles_repo.get_version(
            pool, team_id=team_id, profile_id=context.profile_id, version=context.base_version
        )
    except VersionNotFound:
        return None
    return Knowledge.of(await repo.items(pool, team_id=team_id, version_id=opened.id))


async def save_form(
    pool: asyncpg.Pool, *, team_id: str, user_id: str, context: FormContext, view: dict[str, Any]
) -> tuple[str | None, dict[str, str]]:
    """Validate the form against the knowledge it was opened on and apply what the person
    changed on top of the current version: what to tell them, or the inline errors when it is
    invalid. Raises ProfileNotFound when the profile is gone."""
    opened = await _opened_on(pool, team_id=team_id, context=context)
    if opened is None:
        current_version = await profiles_repo.current_version(
            pool, team_id=team_id, profile_id=context.profile_id
        )
        opened = Knowledge.of(
            await repo.items(pool, team_id=team_id, version_id=current_version.id)
        )
    # fields left out of the form (too long for an input) are the opened version's, unchanged
    ours, errors = validate(read_form(view), keep=opened)
    if ours is None:
        return None, errors
    merged: MergedKnowledge | None = None

    def apply(current: ProfileVersion, items: list[KnowledgeItem]) -> Edit | None:
        nonlocal merged
        assert ours is not None and opened is not None
        now = Knowledge.of(items)
        merged = merge_knowledge(base=opened, ours=ours, current=now)
        if merged.knowledge == now:
            return None
        return Edit(current.fields, note="knowledge edited", knowledge=merged.knowledge.items())

    edited = await profiles_repo.edit_current(
        pool, team_id=team_id, profile_id=context.profile_id, user_id=user_id, change=apply
    )
    assert merged is not None
    base, saved = edited.base, edited.saved
    if saved is None:
        return f"No changes: *{escape(base.label)}* keeps its knowledge.", {}
    text = (
        f"Saved the knowledge as *{escape(saved.label)}*: "
        f"{len(merged.knowledge.items())} items (`/bot knowledge show` lists them)."
    )
    if context.base_version and base.version != context.base_version:
        text += "\n" + applied_on_top(
            profile_name=base.profile_name, version=base.version, replaced=[]
        )
        if merged.both_changed:
            text += (
                f"\nYou and v{base.version} both changed: {', '.join(merged.both_changed)}. "
                "Lines you added or removed were applied to its lines; a name you changed "
                "replaced its."
            )
    return text, {}
