"""Profile subcommands of `/bot`: each takes the request and returns the ephemeral reply."""

from __future__ import annotations

from bot.blocks.common import escape
from bot.blocks.profile import (
    applied_on_top,
    change_lines,
    history_page,
    profile_card,
    profiles_list,
)
from bot.domain.knowledge import KnowledgeItem
from bot.domain.profile import DEFAULT_FIELDS, Profile, ProfileVersion
from bot.errors import UserError
from bot.messages import usage
from bot.persona import validation
from bot.persona.diff import diff
from bot.startup.deps import Deps
from commands.parse import Parsed, parse_version, split_words
from commands.request import Reply, SlashRequest
from storage import knowledge as knowledge_repo
from storage import profiles as repo
from storage.errors import ProfileNotFound
from storage.profiles import Edit

HISTORY_PAGE_SIZE = 10


def _one_optional_name(parsed: Parsed, sub: str) -> str | None:
    words = split_words(parsed.rest)
    if parsed.profile and words:
        raise UserError(usage(f"{sub} [profile]", f"{sub} Support"))
    if len(words) > 1:
        raise UserError(usage(f"{sub} [profile]", f"{sub} Support"))
    return parsed.profile or (words[0] if words else None)


async def resolve(deps: Deps, req: SlashRequest, name: str | None) -> Profile:
    return await repo.resolve_profile(
        deps.pool, team_id=req.team_id, channel_id=req.channel_id, name=name
    )


async def new(deps: Deps, req: SlashRequest, parsed: Parsed) -> Reply:
    words = split_words(parsed.rest)
    if parsed.profile or len(words) != 1:
        if len(words) > 1:
            raise UserError(
                "Profile names are one word (e.g. `Support` or `sales-v2`); "
                "set the bot's display name afterwards with `/bot set name …`."
            )
        raise UserError(usage("new <name>", "new Support"))
    name = validation.profile_name(words[0])
    version = await repo.create_profile(
        deps.pool, team_id=req.team_id, name=name, fields=DEFAULT_FIELDS, user_id=req.user_id
    )
    profile = await repo.get_profile(deps.pool, team_id=req.team_id, profile_id=version.profile_id)
    default = " It is the workspace default." if profile.is_default else ""
    return Reply(
        f"Created profile *{escape(name)}* (v1) from the defaults.{default} "
        f"Edit it with `/bot config {name}` or `/bot set formality 80 {name}`."
    )


async def list_all(deps: Deps, req: SlashRequest, parsed: Parsed) -> Reply:
    if parsed.rest or parsed.profile:
        raise UserError(usage("profiles", "profiles"))
    profiles = await repo.list_profiles(deps.pool, team_id=req.team_id)
    pinned = await repo.channel_pin(deps.pool, team_id=req.team_id, channel_id=req.channel_id)
    text, blocks = profiles_list(profiles, pinned_id=pinned)
    return Reply(text, blocks)


async def use(deps: Deps, req: SlashRequest, parsed: Parsed) -> Reply:
    name = _one_optional_name(parsed, "use")
    if name is None:
        raise UserError(usage("use <profile>", "use Support"))
    profile = await repo.find_profile(deps.pool, team_id=req.team_id, name=name)
    await repo.pin_channel(
        deps.pool,
        team_id=req.team_id,
        channel_id=req.channel_id,
        profile_id=profile.id,
        user_id=req.user_id,
    )
    return Reply(f"This channel now uses *{escape(profile.name)}* (v{profile.current_version}).")


async def make_default(deps: Deps, req: SlashRequest, parsed: Parsed) -> Reply:
    name = _one_optional_name(parsed, "default")
    if name is None:
        raise UserError(usage("default <profile>", "default Support"))
    profile = await repo.find_profile(deps.pool, team_id=req.team_id, name=name)
    await repo.set_default(deps.pool, team_id=req.team_id, profile_id=profile.id)
    return Reply(f"*{escape(profile.name)}* is now the workspace default.")


async def show(deps: Deps, req: SlashRequest, parsed: Parsed) -> Reply:
    profile = await resolve(deps, req, _one_optional_name(parsed, "show"))
    version = await repo.current_version(deps.pool, team_id=req.team_id, profile_id=profile.id)
    pinned = await repo.channel_pin(deps.pool, team_id=req.team_id, channel_id=req.channel_id)
    text, blocks = profile_card(
        version, is_default=profile.is_default, pinned_here=pinned == profile.id
    )
    return Reply(text, blocks)


async def history(deps: Deps, *, team_id: str, profile_id: int, before: int | None = None) -> Reply:
    profile = await repo.get_profile(deps.pool, team_id=team_id, profile_id=profile_id)
    rows = await repo.history(
        deps.pool,
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
    return Reply(text, blocks)


async def history_command(deps: Deps, req: SlashRequest, parsed: Parsed) -> Reply:
    profile = await resolve(deps, req, _one_optional_name(parsed, "history"))
    return await history(deps, team_id=req.team_id, profile_id=profile.id)


async def rollback(deps: Deps, req: SlashRequest, parsed: Parsed) -> Reply:
    words = split_words(parsed.rest)
    if not words or len(words) > 2 or (parsed.profile and len(words) > 1):
        raise UserError(usage("rollback <version> [profile]", "rollback 3 Support"))
    target = parse_version(words[0])
    if target is None:
        raise UserError(
            f"`{escape(words[0])}` is not a version number. "
            + usage("rollback <version> [profile]", "rollback 3 Support")
        )
    profile = await resolve(deps, req, parsed.profile or (words[1] if len(words) > 1 else None))
    # versions never change, so the target can be read before taking the lock
    old = await repo.get_version(
        deps.pool, team_id=req.team_id, profile_id=profile.id, version=target
    )
    old_knowledge = await knowledge_repo.items(deps.pool, team_id=req.team_id, version_id=old.id)

    def restore(current: ProfileVersion, knowledge: list[KnowledgeItem]) -> Edit | None:
        if not diff(current.fields, old.fields) and knowledge == old_knowledge:
            return None
        return Edit(old.fields, note=f"rollback to v{target}", knowledge=old_knowledge)

    edited = await repo.edit_current(
        deps.pool, team_id=req.team_id, profile_id=profile.id, user_id=req.user_id, change=restore
    )
    base, saved = edited.base, edited.saved
    if saved is None:
        return Reply(
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
    return Reply(text + _moved_on(profile, base))


def _moved_on(seen: Profile, base: ProfileVersion) -> str:
    """The notice for an edit applied on a newer version than the one the command read."""
    if base.version == seen.current_version:
        return ""
    return "\n" + applied_on_top(profile_name=seen.name, version=base.version, replaced=[])


def _split_set(parsed: Parsed) -> tuple[str, str, str | None]:
    """`<field> <value> [profile]`; a trailing profile only for one-word values."""
    example = usage("set <field> <value> [profile]", "set formality 80")
    key, _, value = parsed.rest.partition(" ")
    value = value.strip()
    if not key:
        raise UserError(example)
    attr = validation.SETTABLE.get(key.lower())
    if attr is None:
        validation.apply_field(DEFAULT_FIELDS, key, value)  # raises the unknown-field message
    if attr in validation.FREE_TEXT_FIELDS or parsed.profile:
        return key, value, parsed.profile
    words = value.split()
    if len(words) == 2:
        return key, words[0], words[1]
    if len(words) > 2:
        raise UserError(example)
    return key, value, None


async def set_field(deps: Deps, req: SlashRequest, parsed: Parsed) -> Reply:
    key, value, name = _split_set(parsed)
    if not value and validation.SETTABLE[key.lower()] not in {"custom_instructions", "model"}:
        raise UserError(usage(f"set {key} <value> [profile]", f"set {key} {_example(key)}"))
    validation.apply_field(DEFAULT_FIELDS, key, value)  # a bad value is reported before a bad name
    profile = await resolve(deps, req, name)

    def apply(current: ProfileVersion, _: list[KnowledgeItem]) -> Edit | None:
        updated = validation.apply_field(current.fields, key, value)
        return Edit(updated) if updated != current.fields else None

    edited = await repo.edit_current(
        deps.pool, team_id=req.team_id, profile_id=profile.id, user_id=req.user_id, change=apply
    )
    base, saved = edited.base, edited.saved
    if saved is None:
        return Reply(f"Nothing changed: *{escape(profile.name)}* v{base.version} already has that.")
    changes = diff(base.fields, saved.fields)
    return Reply(
        f"Saved *{escape(profile.name)}* v{saved.version}:\n"
        + change_lines(changes)
        + _moved_on(profile, base)
    )


def _example(key: str) -> str:
    examples = {"style": "concise", "name": "Ava", "avatar": ":sparkles:", "model": "gpt-4o-mini"}
    return examples.get(key.lower(), "80")


async def require_profile(deps: Deps, *, team_id: str, profile_id: int) -> Profile:
    try:
        return await repo.get_profile(deps.pool, team_id=team_id, profile_id=profile_id)
    except ProfileNotFound:
        raise UserError("That profile no longer exists in this workspace.") from None
