"""Profiles and their immutable versions. Every query is scoped by the Slack team id."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import asyncpg

from bot.domain.knowledge import EXAMPLE, KnowledgeItem
from bot.domain.profile import Profile, ProfileFields, ProfileVersion, ResponseStyle
from storage import knowledge as knowledge_repo
from storage.errors import (
    NoProfileYet,
    ProfileNameTaken,
    ProfileNotFound,
    VersionIdNotFound,
    VersionNotFound,
)
from storage.scenarios import seed_workspace

Conn: TypeAlias = asyncpg.Pool | asyncpg.Connection

_VERSION_COLUMNS = """
    v.id, v.team_id, v.profile_id, p.name AS profile_name, v.version, v.bot_name,
    v.avatar_emoji, v.formality, v.enthusiasm, v.technical_depth, v.empathy,
    v.response_style, v.custom_instructions, v.model, v.note, v.created_by, v.created_at
"""

_PROFILE_COLUMNS = """
    p.id, p.team_id, p.name, p.current_version, p.created_at,
    (w.default_profile_id IS NOT DISTINCT FROM p.id) AS is_default
"""


def _version(row: Any) -> ProfileVersion:
    return ProfileVersion(
        id=row["id"],
        team_id=row["team_id"],
        profile_id=row["profile_id"],
        profile_name=row["profile_name"],
        version=row["version"],
        fields=ProfileFields(
            bot_name=row["bot_name"],
            avatar_emoji=row["avatar_emoji"],
            formality=row["formality"],
            enthusiasm=row["enthusiasm"],
            technical_depth=row["technical_depth"],
            empathy=row["empathy"],
            response_style=ResponseStyle(row["response_style"]),
            custom_instructions=row["custom_instructions"],
            model=row["model"],
        ),
        created_by=row["created_by"],
        created_at=row["created_at"],
        note=row["note"],
    )


def _profile(row: Any) -> Profile:
    return Profile(
        id=row["id"],
        team_id=row["team_id"],
        name=row["name"],
        current_version=row["current_version"],
        is_default=row["is_default"],
        created_at=row["created_at"],
    )


async def _insert_version(
    con: asyncpg.Connection,
    *,
    team_id: str,
    profile_id: int,
    version: int,
    fields: ProfileFields,
    user_id: str,
    note: str | None,
) -> int:
    version_id: int = await con.fetchval(
        """
        INSERT INTO profile_versions (
            team_id, profile_id, version, bot_name, avatar_emoji, formality, enthusiasm,
            technical_depth, empathy, response_style, custom_instructions, model, note, created_by
        ) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
        RETURNING id
        """,
        team_id,
        profile_id,
        version,
        fields.bot_name,
        fields.avatar_emoji,
        fields.formality,
        fields.enthusiasm,
        fields.technical_depth,
        fields.empathy,
        fields.response_style.value,
        fields.custom_instructions,
        fields.model,
        note,
        user_id,
    )
    await con.execute(
        "UPDATE profiles SET current_version = $3 WHERE team_id = $1 AND id = $2",
        team_id,
        profile_id,
        version,
    )
    return version_id


async def create_profile(
    pool: asyncpg.Pool, *, team_id: str, name: str, fields: ProfileFields, user_id: str
) -> ProfileVersion:
    """Create a profile with version 1; the workspace's first profile becomes its default."""
    async with pool.acquire() as con, con.transaction():
        await seed_workspace(con, team_id=team_id)
        try:
            profile_id = await con.fetchval(
                "INSERT INTO profiles (team_id, name, created_by) VALUES ($1, $2, $3) RETURNING id",
                team_id,
                name,
                user_id,
            )
        except asyncpg.UniqueViolationError:
            raise ProfileNameTaken(name) from None
        version_id = await _insert_version(
            con,
            team_id=team_id,
            profile_id=profile_id,
            version=1,
            fields=fields,
            user_id=user_id,
            note="created",
        )
        became_default = await con.execute(
            """
            UPDATE workspaces SET default_profile_id = $2
            WHERE team_id = $1 AND default_profile_id IS NULL
            """,
            team_id,
            profile_id,
        )
        if became_default == "UPDATE 1":
            # the workspace's first profile starts with the example knowledge, marked as such
            await knowledge_repo.insert_items(
                con, team_id=team_id, version_id=version_id, items=EXAMPLE
            )
        return await _current(con, team_id=team_id, profile_id=profile_id)


async def save_version(
    pool: asyncpg.Pool,
    *,
    team_id: str,
    profile_id: int,
    fields: ProfileFields,
    user_id: str,
    note: str | None = None,
    knowledge: Sequence[KnowledgeItem] | None = None,
    knowledge_from_version: int | None = None,
) -> ProfileVersion:
    """Append a version. The row lock serialises concurrent saves so both land, numbered apart.

    The new version's knowledge is `knowledge` when given, else a copy of version
    `knowledge_from_version` (a rollback), else a copy of the version it follows."""
    async with pool.acquire() as con, con.transaction():
        current = await con.fetchval(
            "SELECT current_version FROM profiles WHERE team_id = $1 AND id = $2 FOR UPDATE",
            team_id,
            profile_id,
        )
        if current is None:
            raise ProfileNotFound(str(profile_id))
        new_id = await _insert_version(
            con,
            team_id=team_id,
            profile_id=profile_id,
            version=current + 1,
            fields=fields,
            user_id=user_id,
            note=note,
        )
        if knowledge is not None:
            await knowledge_repo.insert_items(
                con, team_id=team_id, version_id=new_id, items=knowledge
            )
        else:
            source = await con.fetchval(
                """
                SELECT id FROM profile_versions
                WHERE team_id = $1 AND profile_id = $2 AND version = $3
                """,
                team_id,
                profile_id,
                knowledge_from_version or current,
            )
            if source is not None:
                await knowledge_repo.copy_items(
                    con, team_id=team_id, from_version_id=source, to_version_id=new_id
                )
        return await _current(con, team_id=team_id, profile_id=profile_id)


@dataclass(frozen=True, slots=True)
class Edit:
    """What a read-modify-write saves on top of the current version."""

    fields: ProfileFields
    note: str | None = None
    # None carries the current version's knowledge over unchanged
    knowledge: Sequence[KnowledgeItem] | None = None


@dataclass(frozen=True, slots=True)
class Edited:
    """The outcome of `edit_current`: the version the change was computed from (read under the
    profile's row lock, so nobody saved in between) and the version saved, if any."""

    base: ProfileVersion
    base_knowledge: list[KnowledgeItem]
    saved: ProfileVersion | None


# Computes the new version from the current one and its knowledge; None saves nothing. It runs
# while the profile's row is locked, so it must be quick and must not touch the database.
Change: TypeAlias = Callable[[ProfileVersion, list[KnowledgeItem]], Edit | None]


async def edit_current(
    pool: asyncpg.Pool, *, team_id: str, profile_id: int, user_id: str, change: Change
) -> Edited:
    """Read the current version, apply `change` and save the result, all under the profile's
    row lock: two edits at the same moment are applied one on top of the other, never side by
    side from the same base (where the second would silently undo the first)."""
    async with pool.acquire() as con, con.transaction():
        locked = await con.fetchval(
            "SELECT current_version FROM profiles WHERE team_id = $1 AND id = $2 FOR UPDATE",
            team_id,
            profile_id,
        )
        if locked is None:
            raise ProfileNotFound(str(profile_id))
        base = await _current(con, team_id=team_id, profile_id=profile_id)
        base_knowledge = await knowledge_repo.items(con, team_id=team_id, version_id=base.id)
        edit = change(base, base_knowledge)
        if edit is None:
            return Edited(base, base_knowledge, None)
        new_id = await _insert_version(
            con,
            team_id=team_id,
            profile_id=profile_id,
            version=base.version + 1,
            fields=edit.fields,
            user_id=user_id,
            note=edit.note,
        )
        if edit.knowledge is not None:
            await knowledge_repo.insert_items(
                con, team_id=team_id, version_id=new_id, items=edit.knowledge
            )
        else:
            await knowledge_repo.copy_items(
                con, team_id=team_id, from_version_id=base.id, to_version_id=new_id
            )
        saved = await _current(con, team_id=team_id, profile_id=profile_id)
        return Edited(base, base_knowledge, saved)


async def _current(con: Conn, *, team_id: str, profile_id: int) -> ProfileVersion:
    row = await con.fetchrow(
        f"""
        SELECT {_VERSION_COLUMNS}
        FROM profiles p
        JOIN profile_versions v
          ON v.team_id = p.team_id AND v.profile_id = p.id AND v.version = p.current_version
        WHERE p.team_id = $1 AND p.id = $2
        """,
        team_id,
        profile_id,
    )
    if row is None:
        raise ProfileNotFound(str(profile_id))
    return _version(row)


async def current_version(pool: Conn, *, team_id: str, profile_id: int) -> ProfileVersion:
    return await _current(pool, team_id=team_id, profile_id=profile_id)


async def get_version(pool: Conn, *, team_id: str, profile_id: int, version: int) -> ProfileVersion:
    row = await pool.fetchrow(
        f"""
        SELECT {_VERSION_COLUMNS}
        FROM profile_versions v
        JOIN profiles p ON p.team_id = v.team_id AND p.id = v.profile_id
        WHERE v.team_id = $1 AND v.profile_id = $2 AND v.version = $3
        """,
        team_id,
        profile_id,
        version,
    )
    if row is None:
        name = await pool.fetchval(
            "SELECT name FROM profiles WHERE team_id = $1 AND id = $2", team_id, profile_id
        )
        if name is None:
            raise ProfileNotFound(str(profile_id))
        raise VersionNotFound(name, version)
    return _version(row)


async def get_version_by_id(pool: Conn, *, team_id: str, version_id: int) -> ProfileVersion:
    row = await pool.fetchrow(
        f"""
        SELECT {_VERSION_COLUMNS}
        FROM profile_versions v
        JOIN profiles p ON p.team_id = v.team_id AND p.id = v.profile_id
        WHERE v.team_id = $1 AND v.id = $2
        """,
        team_id,
        version_id,
    )
    if row is None:
        raise VersionIdNotFound(version_id)
    return _version(row)


async def history(
    pool: Conn, *, team_id: str, profile_id: int, before_version: int | None, limit: int
) -> list[ProfileVersion]:
    """Versions newest first, plus one older row so the caller can diff the page's last entry."""
    rows = await pool.fetch(
        f"""
        SELECT {_VERSION_COLUMNS}
        FROM profile_versions v
        JOIN profiles p ON p.team_id = v.team_id AND p.id = v.profile_id
        WHERE v.team_id = $1 AND v.profile_id = $2 AND ($3::int IS NULL OR v.version < $3)
        ORDER BY v.version DESC
        LIMIT $4
        """,
        team_id,
        profile_id,
        before_version,
        limit + 1,
    )
    return [_version(r) for r in rows]


async def list_profiles(pool: Conn, *, team_id: str) -> list[Profile]:
    rows = await pool.fetch(
        f"""
        SELECT {_PROFILE_COLUMNS}
        FROM profiles p JOIN workspaces w ON w.team_id = p.team_id
        WHERE p.team_id = $1
        ORDER BY lower(p.name)
        """,
        team_id,
    )
    return [_profile(r) for r in rows]


async def find_profile(pool: Conn, *, team_id: str, name: str) -> Profile:
    row = await pool.fetchrow(
        f"""
        SELECT {_PROFILE_COLUMNS}
        FROM profiles p JOIN workspaces w ON w.team_id = p.team_id
        WHERE p.team_id = $1 AND lower(p.name) = lower($2)
        """,
        team_id,
        name,
    )
    if row is None:
        raise ProfileNotFound(name)
    return _profile(row)


async def get_profile(pool: Conn, *, team_id: str, profile_id: int) -> Profile:
    row = await pool.fetchrow(
        f"""
        SELECT {_PROFILE_COLUMNS}
        FROM profiles p JOIN workspaces w ON w.team_id = p.team_id
        WHERE p.team_id = $1 AND p.id = $2
        """,
        team_id,
        profile_id,
    )
    if row is None:
        raise ProfileNotFound(str(profile_id))
    return _profile(row)


async def channel_pin(pool: Conn, *, team_id: str, channel_id: str) -> int | None:
    pinned: int | None = await pool.fetchval(
        "SELECT profile_id FROM channel_profiles WHERE team_id = $1 AND channel_id = $2",
        team_id,
        channel_id,
    )
    return pinned


async def resolve_profile(
    pool: Conn, *, team_id: str, channel_id: str, name: str | None
) -> Profile:
    """The named profile, else the channel's pin, else the workspace default."""
    if name is not None:
        return await find_profile(pool, team_id=team_id, name=name)
    row = await pool.fetchrow(
        f"""
        SELECT {_PROFILE_COLUMNS}
        FROM workspaces w
        LEFT JOIN channel_profiles c ON c.team_id = w.team_id AND c.channel_id = $2
        JOIN profiles p ON p.team_id = w.team_id
                       AND p.id = COALESCE(c.profile_id, w.default_profile_id)
        WHERE w.team_id = $1
        """,
        team_id,
        channel_id,
    )
    if row is None:
        raise NoProfileYet()
    return _profile(row)


async def pin_channel(
    pool: Conn, *, team_id: str, channel_id: str, profile_id: int, user_id: str
) -> None:
    await pool.execute(
        """
        INSERT INTO channel_profiles (team_id, channel_id, profile_id, pinned_by)
        VALUES ($1, $2, $3, $4)
        ON CONFLICT (team_id, channel_id)
        DO UPDATE SET profile_id = EXCLUDED.profile_id, pinned_by = EXCLUDED.pinned_by,
                      pinned_at = now()
        """,
        team_id,
        channel_id,
        profile_id,
        user_id,
    )


async def set_default(pool: Conn, *, team_id: str, profile_id: int) -> None:
    done = await pool.execute(
        """
        UPDATE workspaces SET default_profile_id = p.id
        FROM profiles p
        WHERE workspaces.team_id = $1 AND p.team_id = $1 AND p.id = $2
        """,
        team_id,
        profile_id,
    )
    if done == "UPDATE 0":
        raise ProfileNotFound(str(profile_id))
