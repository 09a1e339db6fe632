"""Gated promotion end to end: a label's gates refuse a version without the evidence, name the
gate and the command that gives it; passing gates are recorded with the move; an editor's
override is recorded with its reason; the promotion notice goes to the chosen channel."""

from __future__ import annotations

from typing import Any

import asyncpg

from storage import profiles as profiles_repo
from storage import scenarios as scenarios_repo
from tests.slack_driver import CHANNEL, TEAM, SlackDriver

BILLING = "Billing questions"


async def version_id(pool: asyncpg.Pool, version: int) -> int:
    support = await profiles_repo.find_profile(pool, team_id=TEAM, name="Support")
    found = await profiles_repo.get_version(
        pool, team_id=TEAM, profile_id=support.id, version=version
    )
    return found.id


async def completed_run(
    pool: asyncpg.Pool, *, version: int, passed: int, judged: int, failed: int = 0
) -> int:
    """A finished scenario run of Billing questions as the runner stores it."""
    scenario = await scenarios_repo.find_scenario(pool, team_id=TEAM, name=BILLING)
    figures: dict[str, Any] = {
        "name": BILLING,
        "messages": 3,
        "failed": failed,
        "passed": passed,
        "judged": judged,
        "mean_alignment": 80.0,
        "median_ms": 900.0,
        "slowest_ms": 1200.0,
        "tokens": 600,
        "unjudged": 0,
    }
    run_id: int = await pool.fetchval(
        """
        INSERT INTO scenario_runs (team_id, profile_version_id, started_by, status, concurrency,
                                   plan, totals, finished_at)
        VALUES ($1, $2, 'U0001', 'completed', 4, $3, $4, now())
        RETURNING id
        """,
        TEAM,
        await version_id(pool, version),
        [{"scenario_id": scenario.id, "name": BILLING}],
        {"overall": figures, "scenarios": {str(scenario.id): figures}},
    )
    return run_id


async def closed_ab(pool: asyncpg.Pool, *, a: int, b: int, verdict: str) -> int:
    ab_id: int = await pool.fetchval(
        """
        INSERT INTO ab_tests (team_id, version_a_id, version_b_id, started_by, channel_id, status,
                              closed_by, closed_at, verdict_code)
        VALUES ($1, $2, $3, 'U0001', $4, 'closed', 'U0001', now(), $5)
        RETURNING id
        """,
        TEAM,
        await version_id(pool, a),
        await version_id(pool, b),
        CHANNEL,
        verdict,
    )
    return ab_id


async def recorded(pool: asyncpg.Pool) -> list[tuple[int | None, int, str | None, str | None]]:
    rows = await pool.fetch(
        "SELECT from_version, to_version, gates, override_reason FROM label_moves ORDER BY id"
    )
    return [(r[0], r[1], r[2], r[3]) for r in rows]


async def test_scenario_gate_refuses_then_passes(driver: SlackDriver) -> None:
    await driver.reply_text("new Support")
    shown = await driver.reply_text(f"gate production scenario {BILLING}")
    assert f"the scenario *{BILLING}* passed on that version" in shown

    refused = await driver.reply_text("promote Support@1 production")
    assert refused.startswith("Not promoted: `production` has gates")
    assert f"{BILLING} scenarios: never run on Support v1" in refused
    assert f"`/bot scenario run {BILLING} Support@1`" in refused
    assert "override <reason>" in refused

    await completed_run(driver.pool, version=1, passed=2, judged=3)
    refused = await driver.reply_text("promote Support@1 production")
    assert f"{BILLING} scenarios 2/3" in refused
    assert await recorded(driver.pool) == []

    run_id = await completed_run(driver.pool, version=1, passed=3, judged=3)
    done = await driver.reply_text("promote Support@1 production")
    assert "v1 is now `production` (was not set)" in done
    assert f"Gates: {BILLING} scenarios 3/3 (run #{run_id})" in done
    assert await recorded(driver.pool) == [
        (None, 1, f"{BILLING} scenarios 3/3 (run #{run_id})", None)
    ]
    # other labels have no gates, and an override nothing needed is not recorded
    done = await driver.reply_text("promote Support@1 staging override just in case")
    assert "the override was not needed and was not recorded" in done
    assert (await recorded(driver.pool))[-1][3] is None


async def test_override_is_recorded_with_its_reason(driver: SlackDriver) -> None:
    await driver.reply_text("new Support")
    await driver.reply_text(f"gate production scenario {BILLING}")
    assert "needs a reason" in await driver.reply_text("promote Support@1 production override")
    done = await driver.reply_text("promote Support@1 production override refund bug hotfix")
    assert "Override recorded: _refund bug hotfix_" in done
    [(_, _, gates, reason)] = await recorded(driver.pool)
    assert (
        reason == "refund bug hotfix" and gates == f"{BILLING} scenarios: never run on Support v1"
    )
    await driver.command("history Support")
    moves = (await driver.next_reply())["blocks"][1]["text"]["text"]
    assert "_overridden: refund bug hotfix_" in moves


async def test_ab_gate_against_the_current_production_version(driver: SlackDriver) -> None:
    await driver.reply_text("new Support")
    await driver.reply_text("set formality 90 Support")  # v2
    await driver.reply_text("gate production ab on")
    # nothing in production yet: nothing to lose against
    first = await driver.reply_text("promote Support@1 production")
    assert "Gates: A/B: no production version yet to compare with" in first

    refused = await driver.reply_text("promote Support@2 production")
    assert "A/B: no closed test against production v1" in refused
    assert "`/bot ab Support@1 Support@2`, then close it" in refused

    lost = await closed_ab(driver.pool, a=1, b=2, verdict="a_preferred")
    assert f"A/B #{lost} lost to v1" in await driver.reply_text("promote Support@2 production")
    won = await closed_ab(driver.pool, a=2, b=1, verdict="a_preferred")
    done = await driver.reply_text("promote Support@2 production")
    assert f"v2 is now `production` (was v1).\nGates: A/B #{won} won" in done


async def test_promotion_notice_in_the_chosen_channel(driver: SlackDriver) -> None:
    await driver.reply_text("new Support")
    assert "Promotion notices are off" in await driver.reply_text("promotions")
    await driver.reply_text("promotions here", channel="C0NOTICE")
    await driver.reply_text("promote Support@1 production")
    await driver.reply_text("set formality 90 Support")
    await driver.reply_text("promote Support@2 production")
    posted = [c.args for c in driver.slack.of("chat.postMessage")]
    assert [p["channel"] for p in posted] == ["C0NOTICE", "C0NOTICE"]
    assert posted[1]["text"] == "*Support* v2 is now `production` (was v1), by <@U0001>"
    await driver.reply_text("promotions off")
    await driver.reply_text("promote Support@1 production")
    assert len(driver.slack.of("chat.postMessage")) == 2


async def test_gate_commands(driver: SlackDriver) -> None:
    await driver.reply_text("new Support")
    assert "has no gates" in await driver.reply_text("gate production")
    assert "no scenario named *Nope*" in await driver.reply_text("gate production scenario Nope")
    assert "Usage: `/bot gate" in await driver.reply_text("gate production maybe")
    assert "Label names are one word" in await driver.reply_text("gate Pro!duction")
    shown = await driver.reply_text("gate production ab on")
    assert "not lost a closed A/B test" in shown
    assert "has no gates" in await driver.reply_text("gate production off")
