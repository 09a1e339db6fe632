"""The read API against its own OpenAPI document, property-based (schemathesis): every generated
request, valid or not, with or without a token, must get an answer the document describes
(status, content type, headers, body schema) and never a server error."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Coroutine, Iterator
from concurrent.futures import Future
from typing import Any, TypeVar

import asyncpg
import pytest
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from bot.domain.profile import DEFAULT_FIELDS
from bot.release import api
from bot.release.api_spec import openapi_document
from bot.release.api_tokens import new_secret, token_hash
from bot.startup.deps import Deps
from bot.startup.settings import Settings
from storage import api_tokens as tokens_repo
from storage import labels as labels_repo
from storage import profiles as profiles_repo
from storage.db import create_pool
from tests.conftest import _admin, with_database
from tests.slack_driver import SIGNING_SECRET, TEAM, USER

T = TypeVar("T")
SCHEMA = schemathesis.openapi.from_dict(openapi_document())


async def _seed(pool: asyncpg.Pool) -> str:
    version = await profiles_repo.create_profile(
        pool, team_id=TEAM, name="Support", fields=DEFAULT_FIELDS, user_id=USER
    )
    await labels_repo.move_label(
        pool,
        team_id=TEAM,
        profile_id=version.profile_id,
        label="production",
        expected=None,
        to_version=1,
        user_id=USER,
    )
    secret = new_secret()
    await tokens_repo.create(
        pool, team_id=TEAM, name="schema", token_hash=token_hash(secret), user_id=USER
    )
    return secret


@pytest.fixture(scope="module")
def served(pg_admin_dsn: str, template_db: str) -> Iterator[tuple[str, str]]:
    """The API on its own event loop in a thread, since schemathesis calls it synchronously."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    name = f"romashka_t_{uuid.uuid4().hex[:12]}"
    dsn = with_database(pg_admin_dsn, name)

    def run(coro: Coroutine[Any, Any, T]) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, loop)
        return future.result(timeout=60)

    async def start() -> tuple[web.AppRunner, asyncpg.Pool, str, int]:
        await _admin(pg_admin_dsn, f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
        pool = await create_pool(dsn, min_size=1, max_size=4)
        secret = await _seed(pool)
        app_settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            slack_bot_token="xoxb-test-token",  # type: ignore[arg-type]
            slack_signing_secret=SIGNING_SECRET,  # type: ignore[arg-type]
            database_url=dsn,
            api_rate_limit_per_minute=100_000,
        )
        runner = web.AppRunner(api.api_app(Deps(settings=app_settings, pool=pool)))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return runner, pool, secret, port

    async def stop(runner: web.AppRunner, pool: asyncpg.Pool) -> None:
        await runner.cleanup()
        await pool.close()
        await _admin(pg_admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    runner, pool, secret, port = run(start())
    try:
        yield f"http://127.0.0.1:{port}", secret
    finally:
        run(stop(runner, pool))
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)


def exactly_one_is_accepted(
    ctx: object, response: Any, case: schemathesis.Case[Any]
) -> bool | None:
    """OpenAPI 3.0 cannot say "exactly one of ?label and ?version", so schemathesis' own
    positive_data_acceptance would count `?label=x&version=1` as valid data wrongly refused.
    This is that check with the rule: a request naming exactly one of them is never a 400."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return None  # schemathesis' negative_data_rejection judges the invalid requests
    query = case.query or {}
    if case.operation.path == "/v1/profiles/{name}" and ("label" in query) != ("version" in query):
        assert response.status_code != 400, f"a request with one selector was refused: {query}"
    return None


@SCHEMA.parametrize()
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_matches_its_openapi_document(
    case: schemathesis.Case[Any], served: tuple[str, str]
) -> None:
    base_url, secret = served
    case.call_and_validate(
        base_url=base_url,
        headers={"Authorization": f"Bearer {secret}"},
        excluded_checks=[positive_data_acceptance],
        additional_checks=[exactly_one_is_accepted],
    )
