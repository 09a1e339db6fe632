"""The test suite's set-up, for benchmarks: a real migrated PostgreSQL, the fake Slack and OpenAI
servers, and the real Bolt app driven with signed requests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import uuid
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from openai import AsyncOpenAI

from bot.jobs.worker import Worker, options_from
from bot.model.llm import LLM
from bot.startup.settings import Settings
from storage.db import create_pool
from storage.embedded import EmbeddedPostgres
from storage.migrate import migrate
from tests.fake_openai import FakeOpenAI
from tests.fake_slack import FakeSlack
from tests.slack_driver import SIGNING_SECRET, SlackDriver


@dataclass(frozen=True)
class Harness:
    driver: SlackDriver
    slack: FakeSlack
    model: FakeOpenAI
    pool: asyncpg.Pool
    embedded: bool  # False when TEST_DATABASE_URL points at an external server


def _with_database(dsn: str, name: str) -> str:
    return urlunsplit(urlsplit(dsn)._replace(path=f"/{name}"))


async def _admin(dsn: str, sql: str) -> None:
    con = await asyncpg.connect(dsn)
    try:
        await con.execute(sql)
    finally:
        await con.close()


@asynccontextmanager
async def _server() -> AsyncIterator[tuple[str, bool]]:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url, False
        return
    # The filter pytest applies too: the embedded server's platformdirs warns about a variable
    # that does not matter here, and the warning would land in the middle of the output.
    warnings.filterwarnings("ignore", "XDG_RUNTIME_DIR is not set")
    # a short path: the server's unix socket lives in its data directory
    root = Path(tempfile.mkdtemp(prefix="rpg-", dir="/tmp"))
    server = EmbeddedPostgres(root, cleanup_mode="delete")
    dsn = await asyncio.to_thread(server.start)
    try:
        yield dsn, True
    finally:
        await asyncio.to_thread(server.stop)
        # "delete" removes the data directory but not the temporary directory around it
        with contextlib.suppress(OSError):
            await asyncio.to_thread(root.rmdir)


@asynccontextmanager
async def _database(admin_dsn: str) -> AsyncIterator[str]:
    # a database of its own, so an external server's other databases are never touched
    name = f"romashka_bench_{uuid.uuid4().hex[:12]}"
    await _admin(admin_dsn, f'CREATE DATABASE "{name}"')
    try:
        dsn = _with_database(admin_dsn, name)
        con = await asyncpg.connect(dsn)
        try:
            await migrate(con)
        finally:
            await con.close()
        yield dsn
    finally:
        await _admin(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@asynccontextmanager
async def harness(
    *,
    ttft_s: float = 0.0,
    token_interval_s: float = 0.0,
    scenario_concurrency: int = 4,
    worker: bool = True,
) -> AsyncIterator[Harness]:
    """Everything `/bot test` needs, built as tests/conftest.py builds the `live` fixture.
    `worker=False` leaves queued work to `romashka worker` processes the benchmark starts."""
    async with (
        _server() as (admin_dsn, embedded),
        _database(admin_dsn) as dsn,
        FakeOpenAI() as model,
    ):
        model.ttft_s = ttft_s
        model.token_interval_s = token_interval_s
        slack = FakeSlack()
        await slack.start()
        try:
            pool = await create_pool(dsn, min_size=1, max_size=10)
            try:
                settings = Settings(
                    _env_file=None,  # type: ignore[call-arg]
                    slack_bot_token="xoxb-test-token",  # type: ignore[arg-type]
                    slack_signing_secret=SIGNING_SECRET,  # type: ignore[arg-type]
                    slack_api_url=slack.api_url,  # type: ignore[arg-type]
                    database_url=dsn,
                    scenario_concurrency=scenario_concurrency,
                )
                client = AsyncOpenAI(
                    api_key="sk-bench",
                    base_url=model.base_url,
                    max_retries=1,
                    # the tests' 5 s would cut off benchmarks run with a slow simulated model
                    timeout=60.0,
                )
                llm = LLM(client=client, default_model="fake-model", judge_model=None)
                driver = SlackDriver.build(settings=settings, pool=pool, slack=slack, llm=llm)
                try:
                    h = Harness(
                        driver=driver, slack=slack, model=model, pool=pool, embedded=embedded
                    )
                    if worker:
                        # as in every app process: scenario runs are answered by its job worker
                        async with Worker(driver.deps, options=options_from(driver.deps)):
                            yield h
                    else:
                        yield h
                finally:
                    await client.close()
            finally:
                await pool.close()
        finally:
            await slack.stop()


@asynccontextmanager
async def fresh_database() -> AsyncIterator[tuple[str, bool]]:
    """A migrated database of its own, without the app around it: its DSN, and False when
    TEST_DATABASE_URL points at an external server. For benchmarks that run the app as a
    separate process, or that talk to the storage layer alone."""
    async with _server() as (admin_dsn, embedded), _database(admin_dsn) as dsn:
        yield dsn, embedded
