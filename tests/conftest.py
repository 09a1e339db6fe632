"""Shared fixtures: a real PostgreSQL (embedded unless TEST_DATABASE_URL is set), one migrated
template database per session cloned for every test, a fake Slack Web API, and the real Bolt app."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from aiohttp import web
from openai import AsyncOpenAI

from bot.jobs.worker import Worker, options_from
from bot.metrics import judge_report
from bot.model.llm import LLM
from bot.startup.app import build_app
from bot.startup.deps import Deps
from bot.startup.server import http_app
from bot.startup.settings import Settings
from storage.db import create_pool
from storage.embedded import EmbeddedPostgres
from storage.migrate import migrate
from tests.fake_openai import FakeOpenAI
from tests.fake_slack import FakeSlack
from tests.slack_driver import SIGNING_SECRET, SlackDriver


def with_database(dsn: str, name: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def pg_admin_dsn() -> Iterator[str]:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
        return
    # a short path: the server's unix socket lives in its data directory
    root = Path(tempfile.mkdtemp(prefix="rpg-", dir="/tmp"))
    server = EmbeddedPostgres(root, cleanup_mode="delete")
    dsn = server.start()
    try:
        yield dsn
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


async def _admin(dsn: str, *statements: str) -> None:
    con = await asyncpg.connect(dsn)
    try:
        for sql in statements:
            await con.execute(sql)
    finally:
        await con.close()


@pytest.fixture(scope="session")
def template_db(pg_admin_dsn: str) -> Iterator[str]:
    name = f"romashka_tpl_{os.getpid()}"

    async def build() -> None:
        await _admin(pg_admin_dsn, f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"')
        con = await asyncpg.connect(with_database(pg_admin_dsn, name))
        try:
            await migrate(con)
        finally:
            await con.close()

    asyncio.run(build())
    yield name
    asyncio.run(_admin(pg_admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def db_dsn(pg_admin_dsn: str, template_db: str) -> AsyncIterator[str]:
    name = f"romashka_t_{uuid.uuid4().hex[:12]}"
    await _admin(pg_admin_dsn, f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    try:
        yield with_database(pg_admin_dsn, name)
    finally:
        await _admin(pg_admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def pool(db_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(db_dsn, min_size=1, max_size=5)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()
    # a payload Slack would refuse fails the test that sent it, even where the app coped
    assert not fake.violations, "payloads Slack would refuse:\n" + "\n".join(
        f"{v.method}: {p}" for v in fake.violations for p in v.problems
    )


@pytest.fixture
def settings(db_dsn: str, slack: FakeSlack) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        slack_bot_token="xoxb-test-token",  # type: ignore[arg-type]
        slack_signing_secret=SIGNING_SECRET,  # type: ignore[arg-type]
        slack_api_url=slack.api_url,  # type: ignore[arg-type]
        database_url=db_dsn,
    )


OAUTH_CLIENT_SECRET = "client-SECRET-4f9a1c"


@pytest.fixture
async def oauth_server(pool: asyncpg.Pool, slack: FakeSlack, db_dsn: str) -> AsyncIterator[str]:
    """The HTTP server of an app installed through OAuth (many workspaces); its base URL."""
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        slack_client_id="111.222",
        slack_client_secret=OAUTH_CLIENT_SECRET,  # type: ignore[arg-type]
        slack_signing_secret=SIGNING_SECRET,  # type: ignore[arg-type]
        slack_api_url=slack.api_url,  # type: ignore[arg-type]
        database_url=db_dsn,
    )
    deps = Deps(settings=settings, pool=pool)
    runner = web.AppRunner(http_app(build_app(deps), deps), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
def driver(settings: Settings, pool: asyncpg.Pool, slack: FakeSlack) -> SlackDriver:
    return SlackDriver.build(settings=settings, pool=pool, slack=slack)


@pytest.fixture
async def model() -> AsyncIterator[FakeOpenAI]:
    fake = FakeOpenAI()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
def llm(model: FakeOpenAI) -> LLM:
    client = AsyncOpenAI(
        api_key="sk-test-SECRET123", base_url=model.base_url, max_retries=1, timeout=5.0
    )
    return LLM(client=client, default_model="fake-model", judge_model=None)


@pytest.fixture
async def live(
    settings: Settings, pool: asyncpg.Pool, slack: FakeSlack, llm: LLM
) -> AsyncIterator[SlackDriver]:
    """The app with a model behind it, and its job worker running (as in every app process)."""
    driver = SlackDriver.build(settings=settings, pool=pool, slack=slack, llm=llm)
    async with Worker(driver.deps, options=options_from(driver.deps)):
        yield driver


@pytest.fixture(autouse=True)
def fresh_judge_figures() -> Iterator[None]:
    """Each test has its own database under the same team ids: no judge figure kept in this
    process (bot/metrics/judge_report.py) may carry over from one test to the next."""
    judge_report.clear()
    yield
    judge_report.clear()
