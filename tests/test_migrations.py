from __future__ import annotations

import asyncio

import asyncpg
import pytest

from storage.errors import MigrationError
from storage.migrate import Migration, load_migrations, migrate, pending


def test_migration_files_are_numbered_without_gaps() -> None:
    found = load_migrations()
    assert [m.version for m in found] == list(range(1, len(found) + 1))
    assert found[0].filename == "0001_profiles.sql"


async def test_template_has_every_migration_recorded(db_dsn: str) -> None:
    con = await asyncpg.connect(db_dsn)
    try:
        assert await pending(con) == []
        rows = await con.fetch("SELECT version, checksum FROM schema_migrations ORDER BY version")
        assert [(r["version"], r["checksum"]) for r in rows] == [
            (m.version, m.checksum) for m in load_migrations()
        ]
        # running again applies nothing
        assert await migrate(con) == []
    finally:
        await con.close()


async def test_edited_applied_migration_is_refused(db_dsn: str) -> None:
    edited = [
        Migration(m.version, m.name, m.sql + "\n-- edited") if m.version == 1 else m
        for m in load_migrations()
    ]
    con = await asyncpg.connect(db_dsn)
    try:
        with pytest.raises(MigrationError, match=r"0001_profiles\.sql was edited"):
            await migrate(con, edited)
    finally:
        await con.close()


async def test_two_processes_migrating_at_once_apply_each_file_once(db_dsn: str) -> None:
    extra = [*load_migrations(), Migration(99, "probe", "CREATE TABLE probe (id int);")]
    # 99 breaks the 1..n numbering rule only for load_migrations, which we bypass here
    cons = [await asyncpg.connect(db_dsn) for _ in range(4)]
    try:
        results = await asyncio.gather(*(migrate(c, extra) for c in cons))
        assert sorted(len(r) for r in results) == [0, 0, 0, 1]
        count = await cons[0].fetchval("SELECT count(*) FROM schema_migrations WHERE version = 99")
        assert count == 1
    finally:
        for c in cons:
            await c.close()


async def test_database_newer_than_code_is_refused(db_dsn: str) -> None:
    con = await asyncpg.connect(db_dsn)
    try:
        await con.execute(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES (500, 'future', 'x')"
        )
        with pytest.raises(MigrationError, match="newer release"):
            await migrate(con)
    finally:
        await con.close()
