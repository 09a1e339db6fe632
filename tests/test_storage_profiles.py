from __future__ import annotations

import asyncio
import dataclasses

import asyncpg
import pytest

from bot.domain.profile import DEFAULT_FIELDS
from storage import profiles as repo
from storage.errors import (
    NoProfileYet,
    ProfileNameTaken,
    ProfileNotFound,
    VersionIdNotFound,
    VersionNotFound,
)

A, B = "TA", "TB"


async def test_first_profile_becomes_default_and_starts_at_v1(pool: asyncpg.Pool) -> None:
    first = await repo.create_profile(
        pool, team_id=A, name="Support", fields=DEFAULT_FIELDS, user_id="U1"
    )
    second = await repo.create_profile(
        pool, team_id=A, name="Sales", fields=DEFAULT_FIELDS, user_id="U1"
    )
    assert (first.version, second.version) == (1, 1)
    listed = {p.name: p for p in await repo.list_profiles(pool, team_id=A)}
    assert listed["Support"].is_default and not listed["Sales"].is_default
    assert first.fields == DEFAULT_FIELDS


async def test_names_are_unique_per_workspace_ignoring_case(pool: asyncpg.Pool) -> None:
    await repo.create_profile(pool, team_id=A, name="Support", fields=DEFAULT_FIELDS, user_id="U")
    with pytest.raises(ProfileNameTaken):
        await repo.create_profile(
            pool, team_id=A, name="SUPPORT", fields=DEFAULT_FIELDS, user_id="U"
        )
    # another workspace may use the same name
    await repo.create_profile(pool, team_id=B, name="support", fields=DEFAULT_FIELDS, user_id="U")
    assert await pool.fetchval("SELECT count(*) FROM profiles") == 2


async def test_concurrent_saves_both_become_versions(pool: asyncpg.Pool) -> None:
    v1 = await repo.create_profile(
        pool, team_id=A, name="Support", fields=DEFAULT_FIELDS, user_id="U"
    )
    edits = [dataclasses.replace(DEFAULT_FIELDS, formality=i) for i in range(10)]
    saved = await asyncio.gather(
        *(
            repo.save_version(pool, team_id=A, profile_id=v1.profile_id, fields=f, user_id="U")
            for f in edits
        )
    )
    assert sorted(s.version for s in saved) == list(range(2, 12))
    rows = await pool.fetch(
        "SELECT version, formality FROM profile_versions WHERE profile_id = $1", v1.profile_id
    )
    assert sorted(r["formality"] for r in rows if r["version"] > 1) == list(range(10))
    current = await repo.current_version(pool, team_id=A, profile_id=v1.profile_id)
    assert current.version == 11


async def test_workspace_b_cannot_read_or_change_workspace_a(pool: asyncpg.Pool) -> None:
    a = await repo.create_profile(
        pool, team_id=A, name="Secret", fields=DEFAULT_FIELDS, user_id="U"
    )
    await repo.create_profile(pool, team_id=B, name="Mine", fields=DEFAULT_FIELDS, user_id="U")
    with pytest.raises(ProfileNotFound):
        await repo.find_profile(pool, team_id=B, name="Secret")
    with pytest.raises(ProfileNotFound):
        await repo.current_version(pool, team_id=B, profile_id=a.profile_id)
    with pytest.raises(ProfileNotFound):
        await repo.get_version(pool, team_id=B, profile_id=a.profile_id, version=1)
    with pytest.raises(VersionIdNotFound):
        await repo.get_version_by_id(pool, team_id=B, version_id=a.id)
    with pytest.raises(ProfileNotFound):
        await repo.save_version(
            pool, team_id=B, profile_id=a.profile_id, fields=DEFAULT_FIELDS, user_id="U"
        )
    with pytest.raises(ProfileNotFound):
        await repo.set_default(pool, team_id=B, profile_id=a.profile_id)
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await repo.pin_channel(
            pool, team_id=B, channel_id="C", profile_id=a.profile_id, user_id="U"
        )
    assert (
        await repo.history(pool, team_id=B, profile_id=a.profile_id, before_version=None, limit=10)
        == []
    )
    assert [p.name for p in await repo.list_profiles(pool, team_id=B)] == ["Mine"]
    # and A is untouched
    assert (await repo.current_version(pool, team_id=A, profile_id=a.profile_id)).version == 1


async def test_versions_are_immutable(pool: asyncpg.Pool) -> None:
    v = await repo.create_profile(pool, team_id=A, name="S", fields=DEFAULT_FIELDS, user_id="U")
    with pytest.raises(asyncpg.RestrictViolationError, match="immutable"):
        await pool.execute("UPDATE profile_versions SET formality = 1 WHERE id = $1", v.id)


async def test_database_rejects_out_of_range_values(pool: asyncpg.Pool) -> None:
    v = await repo.create_profile(pool, team_id=A, name="S", fields=DEFAULT_FIELDS, user_id="U")
    bad = dataclasses.replace(DEFAULT_FIELDS, empathy=101)
    with pytest.raises(asyncpg.CheckViolationError):
        await repo.save_version(pool, team_id=A, profile_id=v.profile_id, fields=bad, user_id="U")
    # the failed save left nothing behind: no version, pointer unchanged
    assert (await repo.current_version(pool, team_id=A, profile_id=v.profile_id)).version == 1
    assert await pool.fetchval("SELECT count(*) FROM profile_versions") == 1


async def test_resolution_prefers_name_then_channel_pin_then_default(pool: asyncpg.Pool) -> None:
    with pytest.raises(NoProfileYet):
        await repo.resolve_profile(pool, team_id=A, channel_id="C1", name=None)
    s = await repo.create_profile(pool, team_id=A, name="S", fields=DEFAULT_FIELDS, user_id="U")
    t = await repo.create_profile(pool, team_id=A, name="T", fields=DEFAULT_FIELDS, user_id="U")
    assert (await repo.resolve_profile(pool, team_id=A, channel_id="C1", name=None)).name == "S"
    await repo.pin_channel(pool, team_id=A, channel_id="C1", profile_id=t.profile_id, user_id="U")
    assert (await repo.resolve_profile(pool, team_id=A, channel_id="C1", name=None)).name == "T"
    assert (await repo.resolve_profile(pool, team_id=A, channel_id="C2", name=None)).name == "S"
    assert (await repo.resolve_profile(pool, team_id=A, channel_id="C1", name="s")).id == (
        s.profile_id
    )


async def test_history_pages_newest_first_with_one_extra_row(pool: asyncpg.Pool) -> None:
    v = await repo.create_profile(pool, team_id=A, name="S", fields=DEFAULT_FIELDS, user_id="U")
    for i in range(12):
        await repo.save_version(
            pool,
            team_id=A,
            profile_id=v.profile_id,
            fields=dataclasses.replace(DEFAULT_FIELDS, formality=i),
            user_id="U",
        )
    page = await repo.history(
        pool, team_id=A, profile_id=v.profile_id, before_version=None, limit=10
    )
    assert [p.version for p in page] == list(range(13, 2, -1))
    rest = await repo.history(pool, team_id=A, profile_id=v.profile_id, before_version=4, limit=10)
    assert [p.version for p in rest] == [3, 2, 1]
    with pytest.raises(VersionNotFound):
        await repo.get_version(pool, team_id=A, profile_id=v.profile_id, version=14)
