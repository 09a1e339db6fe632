"""Forward-only, numbered SQL migrations with checksums, applied once under an advisory lock."""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from importlib import resources

import asyncpg

from storage.errors import MigrationError

log = logging.getLogger(__name__)

# An arbitrary constant that is the same in every process sharing a database.
_ADVISORY_LOCK_KEY = 0x524F4D41  # "ROMA"
_FILE_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    @property
    def filename(self) -> str:
        return f"{self.version:04d}_{self.name}.sql"


def load_migrations() -> list[Migration]:
    found: list[Migration] = []
    for entry in resources.files("migrations").iterdir():
        match = _FILE_RE.match(entry.name)
        if match is None:
            continue
        found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    numbers = [m.version for m in found]
    if numbers != list(range(1, len(found) + 1)):
        raise MigrationError(f"migration numbers must run 1, 2, 3... without gaps; found {numbers}")
    return found


async def migrate(con: asyncpg.Connection, migrations: list[Migration] | None = None) -> list[str]:
    """Apply what is missing; return the file names applied. Safe to call from many processes."""
    todo = load_migrations() if migrations is None else migrations
    applied_now: list[str] = []
    await con.execute("SELECT pg_advisory_lock($1)", _ADVISORY_LOCK_KEY)
    try:
        await con.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version    integer PRIMARY KEY,
                name       text NOT NULL,
                checksum   text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """
        )
        rows = await con.fetch("SELECT version, name, checksum FROM schema_migrations")
        recorded = {r["version"]: r for r in rows}
        known = {m.version for m in todo}
        newer = sorted(v for v in recorded if v not in known)
        if newer:
            raise MigrationError(
                f"the database has migrations {newer} that this code does not know: "
                "it was migrated by a newer release"
            )
        for m in todo:
            row = recorded.get(m.version)
            if row is not None:
                if row["checksum"] != m.checksum:
                    raise MigrationError(
                        f"migrations/{m.filename} was edited after it was applied "
                        "(checksum differs). Applied migrations are history: add a new "
                        "numbered file instead."
                    )
                continue
            async with con.transaction():
                await con.execute(m.sql)
                await con.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    m.version,
                    m.name,
                    m.checksum,
                )
            log.info("applied migration %s", m.filename)
            applied_now.append(m.filename)
    finally:
        await con.execute("SELECT pg_advisory_unlock($1)", _ADVISORY_LOCK_KEY)
    return applied_now


async def pending(con: asyncpg.Connection) -> list[str]:
    """Migrations not yet applied (for health checks); raises on an edited file like `migrate`."""
    exists = await con.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    todo = load_migrations()
    if not exists:
        return [m.filename for m in todo]
    rows = await con.fetch("SELECT version, checksum FROM schema_migrations")
    recorded = {r["version"]: r["checksum"] for r in rows}
    return [m.filename for m in todo if m.version not in recorded]
