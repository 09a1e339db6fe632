"""The Postgres installation and OAuth state stores Bolt uses in multi-workspace mode."""

from __future__ import annotations

import asyncpg
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation

from storage.installations import PostgresInstallationStore, PostgresOAuthStateStore


def installation(team: str, user: str, token: str) -> Installation:
    return Installation(
        app_id="A1",
        team_id=team,
        team_name="Team",
        user_id=user,
        bot_token=token,
        bot_id="B1",
        bot_user_id="UB1",
        bot_scopes=["chat:write", "commands"],
        bot_refresh_token="xoxe-1-refresh",
        bot_token_expires_in=43200,
    )


async def test_save_and_find_round_trip(pool: asyncpg.Pool) -> None:
    store = PostgresInstallationStore(pool)
    await store.async_save(installation("TA", "U1", "xoxb-a-1"))
    found = await store.async_find_installation(enterprise_id=None, team_id="TA")
    assert found is not None
    assert (found.team_id, found.user_id, found.bot_token) == ("TA", "U1", "xoxb-a-1")
    assert found.bot_scopes == ["chat:write", "commands"]
    assert found.bot_refresh_token == "xoxe-1-refresh" and found.bot_token_expires_at
    bot = await store.async_find_bot(enterprise_id=None, team_id="TA")
    assert bot is not None and bot.bot_token == "xoxb-a-1"
    assert await store.async_find_bot(enterprise_id=None, team_id="TB") is None
    assert await store.async_find_installation(enterprise_id=None, team_id="TB") is None


async def test_rotated_bot_token_wins_over_an_older_user_row(pool: asyncpg.Pool) -> None:
    store = PostgresInstallationStore(pool)
    await store.async_save(installation("TA", "U1", "xoxb-old"))
    rotated = Bot(
        app_id="A1",
        team_id="TA",
        bot_token="xoxb-new",
        bot_id="B1",
        bot_user_id="UB1",
        bot_refresh_token="xoxe-1-new",
        bot_token_expires_in=43200,
        installed_at=2e9,
    )
    await store.async_save_bot(rotated)
    found = await store.async_find_installation(enterprise_id=None, team_id="TA", user_id="U1")
    assert found is not None and found.bot_token == "xoxb-new"
    assert found.bot_refresh_token == "xoxe-1-new"


async def test_latest_installer_and_delete(pool: asyncpg.Pool) -> None:
    store = PostgresInstallationStore(pool)
    await store.async_save(installation("TA", "U1", "xoxb-1"))
    await store.async_save(installation("TA", "U2", "xoxb-2"))
    latest = await store.async_find_installation(enterprise_id=None, team_id="TA")
    assert latest is not None and latest.user_id == "U2"
    await store.async_delete_all(enterprise_id=None, team_id="TA")
    assert await store.async_find_installation(enterprise_id=None, team_id="TA") is None
    assert await store.async_find_bot(enterprise_id=None, team_id="TA") is None


async def test_oauth_state_is_consumed_once_and_expires(pool: asyncpg.Pool) -> None:
    states = PostgresOAuthStateStore(pool)
    state = await states.async_issue()
    other_process = PostgresOAuthStateStore(pool)
    assert await other_process.async_consume(state) is True
    assert await states.async_consume(state) is False
    expired = await PostgresOAuthStateStore(pool, ttl_s=-1).async_issue()
    assert await states.async_consume(expired) is False
    assert await states.async_consume("never-issued") is False
