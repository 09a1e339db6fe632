"""Connection pool creation. Whoever calls `create_pool` owns the pool and closes it."""

from __future__ import annotations

import json
from typing import Any

import asyncpg


async def _init_connection(con: Any) -> None:
    # jsonb columns come back as Python objects and go in from dicts, not hand-dumped strings
    await con.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    await con.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    pool: asyncpg.Pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=_init_connection, command_timeout=30
    )
    return pool
