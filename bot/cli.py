"""The `romashka` command: run the app (default) or apply migrations."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from openai import AsyncOpenAI

from bot.app import build_app
from bot.deps import Deps
from bot.llm import LLM
from bot.server import serve_http, serve_socket_mode
from bot.settings import Settings, SettingsError, load_settings
from storage.db import create_pool
from storage.embedded import EmbeddedPostgres
from storage.errors import MigrationError
from storage.migrate import migrate

log = logging.getLogger("romashka")

EXIT_CONFIG = 2


@asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    """The configured server, or an embedded one whose data lives in ROMASHKA_DATA_DIR."""
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
            yield pool
        finally:
            await pool.close()
    finally:
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)


async def run(settings: Settings) -> None:
    async with database(settings) as pool:
        deps = Deps(settings=settings, pool=pool, llm=build_llm(settings))
        app = build_app(deps)
        if settings.slack_app_token is not None:
            await serve_socket_mode(app, app_token=settings.slack_app_token.get_secret_value())
        else:
            await serve_http(app, deps, port=settings.port)


def build_llm(settings: Settings) -> LLM:
    """One client for the process. Without a key or base URL the app still runs: /bot test
    then says what to set instead of failing at start-up."""
    client = None
    if settings.openai_api_key is not None or settings.openai_base_url is not None:
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        client = AsyncOpenAI(
            # local OpenAI-compatible servers take no key, but the client insists on one
            api_key=key or "no-key-needed",
            base_url=str(settings.openai_base_url) if settings.openai_base_url else None,
            timeout=settings.openai_timeout,
            max_retries=settings.openai_max_retries,
        )
    return LLM(
        client=client,
        default_model=settings.openai_model,
        judge_model=settings.openai_judge_model,
    )


async def run_migrations(settings: Settings) -> None:
    async with database(settings):
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="romashka", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="run the Slack app (the default)")
    sub.add_parser("migrate", help="apply database migrations and exit")
    args = parser.parse_args(argv)

    try:
        settings = load_settings()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return EXIT_CONFIG
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        if args.command == "migrate":
            asyncio.run(run_migrations(settings))
        else:
            asyncio.run(run(settings))
    except MigrationError as exc:
        print(f"ROMASHKA cannot start: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        pass
    return 0
