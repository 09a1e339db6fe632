"""Profile subcommands of `/bot`: each reads the request, calls the use case in
`bot.persona.profiles` and returns the ephemeral reply."""

from __future__ import annotations

from bot.blocks.common import escape
from bot.domain.profile import DEFAULT_FIELDS, Profile
from bot.errors import UserError
from bot.messages import usage
from bot.persona import profiles as use
from bot.persona import validation
from bot.startup.deps import Deps
from commands.parse import Parsed, parse_version, split_words
from commands.request import Reply, SlashRequest


def _one_optional_name(parsed: Parsed, sub: str) -> str | None:
    words = split_words(parsed.rest)
    if parsed.profile and words:
        raise UserError(usage(f"{sub} [profile]", f"{sub} Support"))
    if len(words) > 1:
        raise UserError(usage(f"{sub} [profile]", f"{sub} Support"))
    return parsed.profile or (words[0] if words else None)


async def resolve(deps: Deps, req: SlashRequest, name: str | None) -> Profile:
    return await use.resolve(deps.pool, team_id=req.team_id, channel_id=req.channel_id, name=name)


async def new(deps: Deps, req: SlashRequest, parsed: Parsed) -> Reply:
    words = split_words(parsed.rest)
    if parsed.profile or len(words) != 1:
        if len(words) > 1:
            raise UserError(
                "Profile names are one word (e.g. `Support` or `sales-v2`); "
                "set the bot's display name afterwards with `/bot set name …`."
            )
        raise UserError(usage("new <name>", "new Support"))
    return Reply(
        await use.create(deps.pool, team_id=req.team_id, user_id=req.user_id, name=words[0])
    )


async def list_all(deps: Deps, req: SlashRequest, parsed: Parsed) -> Reply:
    if parsed.rest or parsed.profile:
        raise UserError(usage("profiles", "profiles"))
    text, blocks = await use.listing(deps.pool, team_id=req.team_id, channel_id=req.channel_id)
    return Reply(text, blocks)


async def pin(deps: Deps, req: SlashRequest, parsed: Parsed) -> Reply:
    name = _one_optional_name(parsed, "use")
    if name is None:
        raise UserError(usage("use <profile>", "use Support"))
    told = await use.pin(
        deps.pool, team_id=req.team_id, channel_id=req.channel_id, user_id=req.user_id, name=name
    )
    return Reply(told)


async def make_default(deps: Deps, req: SlashRequest, parsed: Parsed) -> Reply:
    name = _one_optional_name(parsed, "default")
    if name is None:
        raise UserError(usage("default <profile>", "default Support"))
    return Reply(await use.make_default(deps.pool, team_id=req.team_id, name=name))


async def show(deps: Deps, req: SlashRequest, parsed: Parsed) -> Reply:
    text, blocks = await use.card(
        deps.pool,
        team_id=req.team_id,
        channel_id=req.channel_id,
        name=_one_optional_name(parsed, "show"),
    )
    return Reply(text, blocks)


async def history(deps: Deps, *, team_id: str, profile_id: int, before: int | None = None) -> Reply:
    text, blocks = await use.history(
        deps.pool, team_id=team_id, profile_id=profile_id, before=before
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
    told = await use.rollback(
        deps.pool,
        team_id=req.team_id,
        channel_id=req.channel_id,
        user_id=req.user_id,
        name=parsed.profile or (words[1] if len(words) > 1 else None),
        target=target,
    )
    return Reply(told)


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
    told = await use.set_field(
        deps.pool,
        team_id=req.team_id,
        channel_id=req.channel_id,
        user_id=req.user_id,
        name=name,
        key=key,
        value=value,
    )
    return Reply(told)


def _example(key: str) -> str:
    examples = {"style": "concise", "name": "Ava", "avatar": ":sparkles:", "model": "gpt-4o-mini"}
    return examples.get(key.lower(), "80")
