"""The long-lived resources every entry point opens: the database pool and the model client."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from openai import AsyncOpenAI

from bot.model.llm import LLM
from bot.startup.settings import CoreSettings
from storage.db import create_pool
from storage.embedded import EmbeddedPostgres
from storage.migrate import migrate

log = logging.getLogger("romashka")


@asynccontextmanager
async def database(
    settings: CoreSettings, *, applied_now: list[str] | None = None
) -> AsyncIterator[asyncpg.Pool]:
    """The configured server, or an embedded one whose data lives in ROMASHKA_DATA_DIR;
    migrated before use (the files applied now are added to `applied_now`), closed (and the
    embedded server stopped) after."""
    embedded: EmbeddedPostgres | None = None
    dsn = settings.database_url
    if dsn is None:
        embedded = EmbeddedPostgres(settings.romashka_data_dir)
        dsn = await asyncio.to_thread(embedded.start)
    try:
        pool = await create_pool(dsn, min_size=settings.db_pool_min, max_size=settings.db_pool_max)
        try:
            async with pool.acquire() as con:
                applied = await migrate(con)
            if applied:
                log.info("applied migrations: %s", ", ".join(applied))
            if applied_now is not None:
                applied_now.extend(applied)
            yield pool
        finally:
            await pool.close()
    finally:
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)


def build_model_client(settings: CoreSettings) -> AsyncOpenAI | None:
    """One client for the process, or None without a key or base URL: the app still runs and
    /bot test says what to set instead of failing at start-up."""
    if settings.openai_api_key is None and settings.openai_base_url is None:
        return None
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    return AsyncOpenAI(
        # local OpenAI-compatible servers take no key, but the client insists on one
        api_key=key or "no-key-needed",
        base_url=str(settings.openai_base_url) if settings.openai_base_url else None,
        timeout=settings.openai_timeout,
        max_retries=settings.openai_max_retries,
    )


def build_llm(settings: CoreSettings, *, client: AsyncOpenAI | None = None) -> LLM:
    return LLM(
        client=client if client is not None else build_model_client(settings),
        default_model=settings.openai_model,
        judge_model=settings.openai_judge_model,
        judge_max_tokens=settings.judge_max_tokens,
    )
