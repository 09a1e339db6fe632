"""A workspace that uninstalled the app and came back is in use: the retention sweep must not
delete its data, whether it came back through OAuth or simply went on using the app."""

from __future__ import annotations

import asyncio

import asyncpg
from slack_sdk.oauth.installation_store.models.installation import Installation

from bot.startup.maintenance import run_once
from storage.installations import PostgresInstallationStore
from tests.slack_driver import TEAM, SlackDriver


async def uninstalled_at_set(pool: asyncpg.Pool) -> bool:
    return bool(
        await pool.fetchval(
            "SELECT uninstalled_at IS NOT NULL FROM workspaces WHERE team_id = $1", TEAM
        )
    )


async def until(pool: asyncpg.Pool, want: bool) -> None:
    for _ in range(200):  # listeners and the activity record run after the ack
        if await uninstalled_at_set(pool) == want:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"uninstalled_at set: expected {want}")


async def uninstalled_long_ago(driver: SlackDriver) -> None:
    await driver.reply_text("new Support")
    await driver.event({"type": "app_uninstalled"})
    await until(driver.pool, True)
    await driver.pool.execute(
        "UPDATE workspaces SET uninstalled_at = now() - interval '40 days' WHERE team_id = $1",
        TEAM,
    )


async def profiles(pool: asyncpg.Pool) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM profiles WHERE team_id = $1", TEAM)
    return count


async def test_using_the_app_again_cancels_the_sweep(driver: SlackDriver) -> None:
    await uninstalled_long_ago(driver)
    # the uninstall event itself is not use: it stays scheduled
    await asyncio.sleep(0.2)
    assert await uninstalled_at_set(driver.pool)
    assert "1 bot profile" in await driver.reply_text("profiles")  # in use again
    await until(driver.pool, False)
    await run_once(driver.pool, retention_days=30)
    assert await profiles(driver.pool) == 1


async def test_reinstalling_through_oauth_cancels_the_sweep(driver: SlackDriver) -> None:
    await uninstalled_long_ago(driver)
    store = PostgresInstallationStore(driver.pool)
    await store.async_save(
        Installation(
            app_id="A0001",
            team_id=TEAM,
            user_id="U0001",
            bot_token="xoxb-again",
            bot_id="B1",
            bot_user_id="UBOT0001",
            bot_scopes="commands",
        )
    )
    assert not await uninstalled_at_set(driver.pool)
    await run_once(driver.pool, retention_days=30)
    assert await profiles(driver.pool) == 1


async def test_a_workspace_with_a_token_is_never_swept(driver: SlackDriver) -> None:
    """Belt and braces: whatever the timestamp says, a workspace holding a bot token again is
    installed."""
    await uninstalled_long_ago(driver)
    await driver.pool.execute(
        "INSERT INTO slack_bots (enterprise_id, team_id, data) VALUES ('', $1, '{}'::jsonb)", TEAM
    )
    await run_once(driver.pool, retention_days=30)
    assert await profiles(driver.pool) == 1
    await driver.pool.execute("DELETE FROM slack_bots")
    await run_once(driver.pool, retention_days=30)
    assert await profiles(driver.pool) == 0
