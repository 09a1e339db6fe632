"""Edits of one profile at the same moment: every read-modify-write is based on the version it
saves on top of, so no edit silently undoes another, and a person whose edit was applied on a
newer version than the one they started from is told so."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest

from bot import ids
from bot.domain.profile import ProfileVersion
from storage import knowledge as knowledge_repo
from storage import profiles as repo
from tests.slack_driver import TEAM, SlackDriver
from tests.test_config_modal import form as config_form
from tests.test_config_modal import open_modal
from tests.test_knowledge import open_form as open_knowledge_form
from tests.test_knowledge import values as knowledge_values

ON_TOP = "while you edited: your change was applied on top of it"
DEFAULTS = {
    "bot_name": "ROMASHKA Assistant",
    "avatar_emoji": ":robot_face:",
    "formality": "50",
    "enthusiasm": "50",
    "technical_depth": "50",
    "empathy": "50",
    "response_style": "conversational",
    "custom_instructions": None,
    "model": None,
}


async def current(driver: SlackDriver) -> ProfileVersion:
    profile = await repo.find_profile(driver.pool, team_id=TEAM, name="Support")
    return await repo.current_version(driver.pool, team_id=TEAM, profile_id=profile.id)


async def replies(driver: SlackDriver, count: int) -> list[str]:
    """The texts of the next `count` ephemeral replies, in whatever order they arrived."""
    await driver.slack.wait_responses(driver.replies_read + count, timeout=10)
    texts = [
        str(c.args.get("text", ""))
        for c in driver.slack.responses[driver.replies_read : driver.replies_read + count]
    ]
    driver.replies_read += count
    return texts


@asynccontextmanager
async def profile_locked(driver: SlackDriver) -> AsyncIterator[Any]:
    """Hold the profile's row lock, as a slow save would, so that edits sent meanwhile are
    certain to overlap; yields a coroutine function that waits until `n` of them are queued."""
    dsn = driver.deps.settings.database_url
    assert dsn is not None
    holder = await asyncpg.connect(dsn)
    watcher = await asyncpg.connect(dsn)
    tx = holder.transaction()
    await tx.start()
    await holder.execute("SELECT 1 FROM profiles WHERE team_id = $1 FOR UPDATE", TEAM)

    async def queued(n: int) -> None:
        deadline = time.monotonic() + 10
        while True:
            waiting = await watcher.fetchval(
                """
                SELECT count(*) FROM pg_stat_activity
                WHERE datname = current_database() AND wait_event_type = 'Lock'
                """
            )
            if waiting >= n:
                return
            assert time.monotonic() < deadline, f"only {waiting} of {n} edits reached the lock"
            await asyncio.sleep(0.02)

    try:
        yield queued
    finally:
        await tx.rollback()
        await holder.close()
        await watcher.close()


async def test_simultaneous_quick_edits_of_different_traits_both_land(driver: SlackDriver) -> None:
    await driver.reply_text("new Support")
    for round_ in range(20):
        formality, empathy = 60 + round_, 10 + round_
        await asyncio.gather(
            driver.command(f"set formality {formality}"), driver.command(f"set empathy {empathy}")
        )
        texts = await replies(driver, 2)
        assert all("Saved *Support*" in t for t in texts), texts
        fields = (await current(driver)).fields
        assert (fields.formality, fields.empathy) == (formality, empathy), f"round {round_}"
    assert (await current(driver)).version == 41


async def test_edits_queued_on_the_lock_apply_one_on_top_of_the_other(
    driver: SlackDriver,
) -> None:
    await driver.reply_text("new Support")
    async with profile_locked(driver) as queued:
        await driver.command("set formality 90")
        await driver.command("set empathy 20")
        await queued(2)
    texts = await replies(driver, 2)
    fields = (await current(driver)).fields
    assert (fields.formality, fields.empathy) == (90, 20)
    # both started from v1; the one saved second was saved on v2 and says so
    assert sum(f"*Support* changed to v2 {ON_TOP}" in t for t in texts) == 1, texts
    assert {t.split(":")[0] for t in texts} == {"Saved *Support* v2", "Saved *Support* v3"}


async def test_four_simultaneous_knowledge_adds_give_four_policies(driver: SlackDriver) -> None:
    await driver.reply_text("new Support")  # starts with the example's three policies
    async with profile_locked(driver) as queued:
        for n in range(4):
            await driver.command(f'knowledge add policy "Policy number {n}"')
        await queued(4)
    texts = await replies(driver, 4)
    added = sorted(t.split("`")[1] for t in texts)
    assert added == ["P4", "P5", "P6", "P7"], texts
    latest = await current(driver)
    items = await knowledge_repo.items(driver.pool, team_id=TEAM, version_id=latest.id)
    policies = [i.body for i in items if i.kind == "policy"]
    assert len(policies) == 7
    assert {f"Policy number {n}" for n in range(4)} <= set(policies)
    assert latest.version == 5


async def test_two_people_removing_the_same_item_remove_it_once(driver: SlackDriver) -> None:
    await driver.reply_text("new Support")
    async with profile_locked(driver) as queued:
        await driver.command("knowledge remove P1")
        await driver.command("knowledge remove P1")
        await queued(2)
    texts = await replies(driver, 2)
    assert sum("Removed `P1`" in t for t in texts) == 1, texts
    assert sum("is no longer in" in t for t in texts) == 1, texts
    latest = await current(driver)
    items = await knowledge_repo.items(driver.pool, team_id=TEAM, version_id=latest.id)
    # the second removal did not take the item that was P2 when they looked
    assert [i.body for i in items if i.kind == "policy"] == [
        "24/7 support",
        "Data privacy protection",
    ]


async def test_rollback_queued_behind_an_edit_is_applied_on_top_of_it(
    driver: SlackDriver,
) -> None:
    await driver.reply_text("new Support")
    await driver.reply_text("set formality 80")  # v2
    async with profile_locked(driver) as queued:
        await driver.command("set empathy 5")
        await queued(1)
        await driver.command("rollback 1")
        await queued(2)
    texts = await replies(driver, 2)
    rolled = next(t for t in texts if t.startswith("Rolled"))
    assert "saved as v4" in rolled and f"*Support* changed to v3 {ON_TOP}" in rolled
    fields = (await current(driver)).fields
    assert (fields.formality, fields.empathy) == (50, 50)
    assert "• empathy: `5` → `50`" in rolled  # the diff is against what it replaced


async def test_two_config_forms_saved_together_keep_both_changes(driver: SlackDriver) -> None:
    await driver.reply_text("new Support")
    first = await open_modal(driver)
    second = await open_modal(driver)
    async with profile_locked(driver) as queued:
        submits: list[Awaitable[Any]] = [
            driver.submit_view(first, config_form(**{**DEFAULTS, "formality": "90"})),
            driver.submit_view(second, config_form(**{**DEFAULTS, "empathy": "10"})),
        ]
        tasks = [asyncio.ensure_future(s) for s in submits]
        await queued(2)
    responses = await asyncio.gather(*tasks)
    assert [r.body for r in responses] == ["", ""]
    texts = await replies(driver, 2)
    fields = (await current(driver)).fields
    assert (fields.formality, fields.empathy) == (90, 10)
    assert sum(f"changed to v2 {ON_TOP}" in t for t in texts) == 1, texts


async def test_knowledge_form_is_applied_on_top_of_a_quick_add(driver: SlackDriver) -> None:
    await driver.reply_text("new Support")
    view = await open_knowledge_form(driver)
    assert json.loads(view["private_metadata"])["v"] == 1
    await driver.reply_text('knowledge add policy "Refunds within 14 days"')  # v2
    await driver.submit_view(
        view,
        knowledge_values(
            company="ROMASHKA",
            industry="Customer service technology",
            products="AI chat support\nCustomer service platform\nKnowledge base\nVoice bot",
            policies="30-day money-back guarantee\n24/7 support\nData privacy protection",
        ),
    )
    text = (await replies(driver, 1))[0]
    assert "Saved the knowledge as *Support v3*" in text and f"changed to v2 {ON_TOP}" in text
    latest = await current(driver)
    items = await knowledge_repo.items(driver.pool, team_id=TEAM, version_id=latest.id)
    assert "Voice bot" in [i.body for i in items if i.kind == "product"]
    assert "Refunds within 14 days" in [i.body for i in items if i.kind == "policy"]


@pytest.mark.parametrize("bad", [2**31, -1, "3", True, 1.5])
async def test_a_forged_form_version_is_out_of_date(driver: SlackDriver, bad: Any) -> None:
    await driver.reply_text("new Support")
    view = await open_modal(driver)
    meta = {**json.loads(view["private_metadata"]), "v": bad}
    response = await driver.submit_view(
        {**view, "private_metadata": json.dumps(meta)}, config_form(**DEFAULTS)
    )
    assert "out of date" in json.loads(response.body)["errors"][ids.FIELD_BOT_NAME]
    knowledge = await open_knowledge_form(driver)
    meta = {**json.loads(knowledge["private_metadata"]), "v": bad}
    response = await driver.submit_view(
        {**knowledge, "private_metadata": json.dumps(meta)}, knowledge_values(company="x")
    )
    assert json.loads(response.body)["response_action"] == "errors"
    assert await driver.pool.fetchval("SELECT count(*) FROM profile_versions") == 1
