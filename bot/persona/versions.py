"""Which profile version a person means: `profile`, `profile@version` (`@v3` too), or nothing
for the channel's profile. The one reading of a version spec, for Slack and the CLI."""

from __future__ import annotations

import asyncpg

from bot.domain.profile import ProfileVersion
from bot.errors import UserError
from storage import profiles as repo


class NotAVersionNumber(UserError):
    def __init__(self, raw: str, name: str) -> None:
        super().__init__(f"`{raw}` is not a version number; write `{name}@3`.")
        self.raw = raw
        self.name = name


async def resolve_version(
    pool: asyncpg.Pool, *, team_id: str, spec: str | None, channel_id: str = ""
) -> ProfileVersion:
    """The version `spec` names in the workspace, current when it gives no number; with no
    spec, the current version of the channel's profile."""
    if spec is None:
        profile = await repo.resolve_profile(
            pool, team_id=team_id, channel_id=channel_id, name=None
        )
        return await repo.current_version(pool, team_id=team_id, profile_id=profile.id)
    name, _, raw_version = spec.lstrip("@").partition("@")
    profile = await repo.find_profile(pool, team_id=team_id, name=name)
    if not raw_version:
        return await repo.current_version(pool, team_id=team_id, profile_id=profile.id)
    number = raw_version.lower().lstrip("v")
    if not number.isdigit():
        raise NotAVersionNumber(raw_version, name)
    return await repo.get_version(pool, team_id=team_id, profile_id=profile.id, version=int(number))
