"""`/bot purge`, the uninstall event, and the retention sweep."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg

from bot import ids
from bot.startup.maintenance import run_once
from storage import workspaces as repo
from tests.slack_driver import OTHER_TEAM, TEAM, SlackDriver

TABLES = ("profiles", "profile_versions", "scenarios", "knowledge_items", "handled_messages")


async def counts(pool: asyncpg.Pool, team: str) -> dict[str, int]:
    return {
        t: await pool.fetchval(f"SELECT count(*) FROM {t} WHERE team_id = $1", team) for t in TABLES
    }


def confirm(word: str) -> dict[str, Any]:
    return {
        ids.PURGE_CONFIRM: {
            ids.PURGE_CONFIRM + ids.INPUT_SUFFIX: {"type": "plain_text_input", "value": word}
        }
    }


async def seeded(driver: SlackDriver, team: str) -> None:
    await driver.reply_text("new Support", team=team)
    await driver.event(
        {
            "type": "app_mention",
            "user": "U0001",
            "text": "<@UBOT0001> hi",
            "ts": "5.5",
            "channel": "C1",
        },
        team=team,
    )
    await driver.slack.wait_calls("chat.postMessage")


async def test_an_admin_purges_after_confirming(driver: SlackDriver) -> None:
    await seeded(driver, TEAM)
    await seeded(driver, OTHER_TEAM)
    await driver.command("purge")
    view = (await driver.slack.wait_calls("views.open"))[-1].args["view"]
    assert view["callback_id"] == ids.PURGE_MODAL
    response = await driver.submit_view(view, confirm("delete"))
    assert "Type DELETE in capitals" in json.loads(response.body)["errors"][ids.PURGE_CONFIRM]
    assert all(await counts(driver.pool, TEAM))
    response = await driver.submit_view(view, confirm("DELETE"))
    assert response.body == ""
    assert (
        "All of this workspace's ROMASHKA data was deleted" in (await driver.next_reply())["text"]
    )
    assert set((await counts(driver.pool, TEAM)).values()) == {0}
    assert 0 not in (await counts(driver.pool, OTHER_TEAM)).values()  # the other team is intact


async def test_only_admins_may_purge(driver: SlackDriver) -> None:
    driver.slack.users["U0NOBODY"] = {"id": "U0NOBODY", "is_admin": False}
    await seeded(driver, TEAM)
    assert "Only a workspace admin or owner" in await driver.reply_text("purge", user="U0NOBODY")
    assert driver.slack.of("views.open") == []
    assert "Usage: `/bot purge`" in await driver.reply_text("purge now")


async def test_uninstall_keeps_data_until_the_retention_sweep(driver: SlackDriver) -> None:
    await seeded(driver, TEAM)
    await driver.event({"type": "app_uninstalled"})
    for _ in range(100):  # the listener runs after the event is acknowledged
        if await driver.pool.fetchval(
            "SELECT uninstalled_at IS NOT NULL FROM workspaces WHERE team_id = $1", TEAM
        ):
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("app_uninstalled was not recorded")
    await run_once(driver.pool, retention_days=None)  # no retention set: kept
    assert all(await counts(driver.pool, TEAM))
    await run_once(driver.pool, retention_days=30)  # uninstalled just now: kept
    assert all(await counts(driver.pool, TEAM))
    await driver.pool.execute(
        "UPDATE workspaces SET uninstalled_at = now() - interval '31 days' WHERE team_id = $1", TEAM
    )
    await run_once(driver.pool, retention_days=30)
    assert set((await counts(driver.pool, TEAM)).values()) == {0}
    assert not await repo.purge(driver.pool, team_id=TEAM)  # nothing left to delete
