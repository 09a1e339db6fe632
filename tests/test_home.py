"""The App Home tab: what it shows, its buttons (which arrive without a response_url), the
leaderboard kept between openings, and Slack's 100-block limit with lots of data."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg

from bot import ids, limits
from tests.slack_driver import OTHER_TEAM, TEAM, USER, SlackDriver
from tests.test_stats import (
    B_PREFERRED,
    add_result,
    closed_ab,
    profile_id,
    seed_support,
    version_ids,
)


def home_event(tab: str = "home", user: str = USER) -> dict[str, Any]:
    return {"type": "app_home_opened", "user": user, "channel": "D0001", "tab": tab}


async def open_home(driver: SlackDriver, *, publishes: int = 1, team: str = TEAM) -> dict[str, Any]:
    before = len(driver.slack.of("views.publish"))
    await driver.event(home_event(), team=team)
    calls = await driver.slack.wait_calls("views.publish", before + publishes)
    call = calls[before + publishes - 1]
    assert call.args["user_id"] == USER
    view: dict[str, Any] = call.args["view"]
    return view


def text_of(view: dict[str, Any]) -> str:
    return json.dumps(view["blocks"], ensure_ascii=False)


def section_after(view: dict[str, Any], header: str) -> str:
    blocks = view["blocks"]
    i = next(
        i for i, b in enumerate(blocks) if b["type"] == "header" and b["text"]["text"] == header
    )
    return str(blocks[i + 1]["text"]["text"])


async def add_vote_test(
    pool: asyncpg.Pool, a: int, b: int, choices: list[str], *, status: str = "closed"
) -> int:
    ab_id: int = await pool.fetchval(
        """
        INSERT INTO ab_tests (team_id, version_a_id, version_b_id, started_by, channel_id, status,
                              closed_at)
        VALUES ($1, $2, $3, 'U0001', 'C0001', $4, CASE WHEN $4 = 'closed' THEN now() END)
        RETURNING id
        """,
        TEAM,
        a,
        b,
        status,
    )
    message_id = await pool.fetchval(
        """
        INSERT INTO ab_messages (team_id, ab_test_id, position, message, a_first)
        VALUES ($1, $2, 0, 'Hi', true) RETURNING id
        """,
        TEAM,
        ab_id,
    )
    for n, choice in enumerate(choices):
        await pool.execute(
            "INSERT INTO ab_votes (team_id, ab_message_id, user_id, choice)"
            " VALUES ($1, $2, $3, $4)",
            TEAM,
            message_id,
            f"U{n:04d}",
            choice,
        )
    return ab_id


async def test_home_shows_profiles_tests_ab_and_definitions(driver: SlackDriver) -> None:
    v = await seed_support(driver)
    await driver.reply_text("set avatar :sparkles:")
    await add_result(driver.pool, v[2], question="Where is my parcel?", total_ms=1234, alignment=77)
    view = await open_home(driver)
    assert view["type"] == "home" and view["callback_id"] == ids.HOME_VIEW
    assert len(view["blocks"]) <= limits.BLOCKS_PER_VIEW
    profile = next(b for b in view["blocks"] if b["type"] == "section" and "fields" in b)
    assert profile["text"]["text"] == (
        ":sparkles: *ROMASHKA Assistant* — profile *Support* v3 · workspace default"
    )
    assert profile["fields"][0]["text"] == "*Formality*\n`████████░░ 80`"
    buttons = next(b for b in view["blocks"] if b["type"] == "actions")["elements"]
    pid = str(await profile_id(driver.pool, "Support"))
    assert [(b["action_id"], b["value"]) for b in buttons] == [
        (ids.CARD_EDIT, pid),
        (ids.CARD_HISTORY, pid),
    ]
    tests = section_after(view, "Last 10 tests").split("\n")
    assert len(tests) == 6  # test-kind answers only (not follow-ups etc.), newest first
    assert "*Support v2* — “Where is my parcel?” · alignment 77/100 · 1.23 s" in tests[0]
    assert "failed (timeout)" in section_after(view, "Last 10 tests")
    ab = section_after(view, "A/B tests: running and recent").split("\n")
    assert "open for votes, 0 votes" in ab[0]  # running tests come first
    assert any("closed <!date^" in line and "B is preferred" in line for line in ab)
    definitions = text_of(view).split("How are these numbers computed?")[1]
    for term in (
        "*Alignment*",
        "*Confidence*",
        "*Style proxies*",
        "*A/B verdict*",
        "*κ*",
        "*Bradley–Terry*",
        "*Satisfaction*",
        "*Behaviour pass rate*",
    ):
        assert term in definitions


async def test_other_tabs_are_left_alone(driver: SlackDriver) -> None:
    await driver.reply_text("new Support")
    await driver.event(home_event(tab="messages"))
    await driver.event(home_event())
    await driver.slack.wait_calls("views.publish", 1)
    assert len(driver.slack.of("views.publish")) == 1


async def test_leaderboard_is_fitted_once_and_kept_until_votes_change(driver: SlackDriver) -> None:
    v = await seed_support(driver)
    await add_vote_test(driver.pool, v[1], v[2], ["b", "b", "b", "a", "tie"])
    first = await open_home(driver, publishes=1)
    assert section_after(first, "Leaderboard").startswith("_Working out the leaderboard")
    calls = await driver.slack.wait_calls("views.publish", 2)
    board = section_after(calls[1].args["view"], "Leaderboard")
    assert board.startswith("1. *Support v2* — ") and "2. *Support v1* — " in board
    assert "5 votes · _preliminary_" in board

    # opened again with no new votes: one publish, straight from the kept leaderboard
    again = await open_home(driver, publishes=1)
    assert section_after(again, "Leaderboard") == board
    await driver.slack.wait_calls("views.publish", 3)
    assert len(driver.slack.of("views.publish")) == 3

    # votes of a test still open change nothing: the board would move with each vote
    await add_vote_test(driver.pool, v[1], v[2], ["a"] * 9, status="open")
    unchanged = await open_home(driver, publishes=1)
    assert section_after(unchanged, "Leaderboard") == board
    await asyncio.sleep(0.2)
    assert len(driver.slack.of("views.publish")) == 4

    # a newly closed test: the old board at once, marked as updating, then the new one
    await add_vote_test(driver.pool, v[1], v[2], ["a", "a", "a", "a", "a", "a", "a"])
    stale = await open_home(driver, publishes=1)
    assert "_Updating with the latest votes…_" in section_after(stale, "Leaderboard")
    calls = await driver.slack.wait_calls("views.publish", 6)
    fresh = section_after(calls[5].args["view"], "Leaderboard")
    assert fresh.startswith("1. *Support v1* — ") and "12 votes" in fresh


async def test_lots_of_data_stays_within_100_blocks(driver: SlackDriver) -> None:
    v = await seed_support(driver)
    await driver.pool.execute(
        """
        WITH p AS (
            INSERT INTO profiles (team_id, name, current_version, created_by)
            SELECT $1, 'Bulk' || n, 1, 'U0001' FROM generate_series(1, 300) AS n
            RETURNING id
        )
        INSERT INTO profile_versions (team_id, profile_id, version, bot_name, avatar_emoji,
            formality, enthusiasm, technical_depth, empathy, response_style, created_by)
        SELECT $1, id, 1, repeat('B', 80), ':robot_face:', 10, 20, 30, 40, 'concise', 'U0001'
        FROM p
        """,
        TEAM,
    )
    for n in range(40):
        await add_result(driver.pool, v[2], question="Long question " * 50, total_ms=n)
        await closed_ab(driver.pool, v[1], v[2], B_PREFERRED)
        await closed_ab(driver.pool, v[2], v[1], B_PREFERRED, status="open")
    view = await open_home(driver)
    blocks = view["blocks"]
    assert len(blocks) <= limits.BLOCKS_PER_VIEW
    assert blocks[2]["text"]["text"] == "Bot profiles (301)"
    note = next(b for b in blocks if b["type"] == "context" and "more" in json.dumps(b))
    assert "…and 276 more: `/bot profiles` lists them all." in note["elements"][0]["text"]
    assert len(section_after(view, "Last 10 tests").split("\n")) == 10
    ab_lines = section_after(view, "A/B tests: running and recent").split("\n")
    assert len(ab_lines) == 10 and all("open for votes" in line for line in ab_lines)
    for b in blocks:
        if b["type"] == "section":
            assert len(b["text"]["text"]) <= limits.SECTION_TEXT


async def test_home_of_an_empty_workspace(driver: SlackDriver) -> None:
    view = await open_home(driver)
    text = text_of(view)
    assert "No profiles yet" in text and "No tests yet" in text and "No A/B tests yet" in text
    assert "No votes from closed A/B tests yet" in text


async def test_home_shows_only_its_own_workspace(driver: SlackDriver) -> None:
    await seed_support(driver)
    await driver.reply_text("new Theirs", team=OTHER_TEAM)
    view = await open_home(driver, team=OTHER_TEAM)
    text = text_of(view)
    assert "*Theirs*" in text and "*Support" not in text and "No tests yet" in text


def home_click(action_id: str, value: str, n: int) -> dict[str, Any]:
    """A button on the Home tab: Slack sends the view as the container and no response_url."""
    return {
        "type": "block_actions",
        "team": {"id": TEAM, "domain": "example"},
        "user": {"id": USER, "team_id": TEAM},
        "api_app_id": "A0001",
        "trigger_id": f"trigger-home-{n}",
        "container": {"type": "view", "view_id": "V0001"},
        "view": {"id": "V0001", "type": "home", "callback_id": ids.HOME_VIEW},
        "actions": [{"action_id": action_id, "block_id": "b", "type": "button", "value": value}],
    }


async def test_history_from_home_arrives_as_a_direct_message(driver: SlackDriver) -> None:
    await driver.reply_text("new Support")
    await driver.reply_text("set formality 80")
    view = await open_home(driver)
    history = next(
        e for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]
        if e["action_id"] == ids.CARD_HISTORY
    )  # fmt: skip
    response = await driver.interact(home_click(ids.CARD_HISTORY, history["value"], 1))
    assert response.status == 200
    [dm] = await driver.slack.wait_calls("chat.postMessage")
    assert dm.args["channel"] == USER
    assert dm.args["text"] == "History of Support"
    assert "• formality: `50` → `80`" in json.dumps(dm.args["blocks"], ensure_ascii=False)


async def test_edit_from_home_opens_the_form(driver: SlackDriver) -> None:
    await driver.reply_text("new Support")
    pid = str(await profile_id(driver.pool, "Support"))
    await driver.interact(home_click(ids.CARD_EDIT, pid, 2))
    [opened] = await driver.slack.wait_calls("views.open")
    assert opened.args["trigger_id"] == "trigger-home-2"
    assert opened.args["view"]["callback_id"] == ids.CONFIG_MODAL


async def test_a_stale_home_button_explains_by_direct_message(driver: SlackDriver) -> None:
    await driver.reply_text("new Support")
    await driver.interact(home_click(ids.CARD_HISTORY, "999999", 3))
    [dm] = await driver.slack.wait_calls("chat.postMessage")
    assert dm.args["channel"] == USER and "does not exist" in dm.args["text"]


async def test_versions_of_another_workspace_are_not_labelled(driver: SlackDriver) -> None:
    # the cache is per workspace: another workspace's votes never reach this one's board
    v = await seed_support(driver)
    await add_vote_test(driver.pool, v[1], v[2], ["b"])
    await driver.reply_text("new Theirs", team=OTHER_TEAM)
    board = section_after(await open_home(driver, team=OTHER_TEAM), "Leaderboard")
    assert board.startswith("No votes from closed A/B tests yet")
    assert await version_ids(driver.pool, "Theirs", team=OTHER_TEAM)


async def test_home_shows_agreement_and_tests_that_need_someone(driver: SlackDriver) -> None:
    v = await seed_support(driver)
    await driver.pool.execute(
        """
        INSERT INTO ab_tests (team_id, version_a_id, version_b_id, started_by, channel_id, status,
                              closed_at, verdict_code, verdict, failure_reason)
        VALUES ($1, $2, $3, 'U0001', 'C0001', 'closed', now(), 'a_preferred', $4, NULL),
               ($1, $2, $3, 'U0001', 'C0001', 'interrupted', NULL, NULL, NULL,
                'the app stopped while writing the replies'),
               ($1, $2, $3, 'U0001', 'C0001', 'cancelled', now(), NULL, NULL, NULL)
        """,
        TEAM,
        v[1],
        v[2],
        {
            "voters_kappa": {"value": 0.3512, "items": 4},
            "judge_kappa": {"value": None, "items": 0},
        },
    )
    lines = section_after(await open_home(driver), "A/B tests: running and recent").split("\n")
    stuck = next(line for line in lines if "interrupted" in line)
    assert "⚠️ interrupted: the app stopped while writing the replies" in stuck
    assert "`/bot ab cancel " in stuck
    closed = next(line for line in lines if "A is preferred" in line)
    assert closed.endswith("A is preferred · κ voters 0.35 (4) ⚠️, judge n/a")
    assert any("cancelled" in line and "no verdict" in line for line in lines)
    # what needs someone comes before what has ended
    assert lines.index(stuck) < lines.index(closed)
