"""A/B tests end to end: blind pairs in a thread, votes, the parent's participation counts,
closing, the verdict, the leaderboard, and every bad input. (Blindness across every surface,
stuck tests and long pairs: test_ab_blind.py, test_ab_stuck.py.)"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from bot import ids
from bot.blocks.ab import NEUTRAL_NAME
from tests.fake_openai import FakeOpenAI
from tests.fake_slack import Call
from tests.slack_driver import CHANNEL, TEAM, SlackDriver


async def open_test(
    live: SlackDriver,
    text: str = "ab Support@1 Support@3",
    *,
    team: str = TEAM,
    channel: str = CHANNEL,
) -> dict[str, Any]:
    await live.command(text, team=team, channel=channel)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        row = await live.pool.fetchrow(
            "SELECT * FROM ab_tests WHERE team_id = $1 ORDER BY id DESC LIMIT 1", team
        )
        if row is not None and row["status"] == "open":
            await wait_closable(live, row["parent_ts"])
            return dict(row)
        await asyncio.sleep(0.05)
    raise AssertionError("the A/B test never opened")


async def wait_closable(live: SlackDriver, parent_ts: str) -> None:
    """Until the parent shows its Close voting button."""
    await live.slack.wait_for(
        lambda s: any(_has_close(c) and c.args["ts"] == parent_ts for c in s.of("chat.update"))
    )


def _has_close(call: Call) -> bool:
    return any(
        e.get("action_id") == ids.AB_CLOSE
        for b in call.args.get("blocks") or []
        for e in b.get("elements", [])
    )


def pairs(live: SlackDriver, parent_ts: str | None = None) -> list[Call]:
    found = [
        c
        for c in live.slack.of("chat.postMessage")
        if c.args.get("username") == NEUTRAL_NAME
        and c.response.get("ok")
        and "which reply is better" in str(c.args.get("text"))
        and (parent_ts is None or c.args.get("thread_ts") == parent_ts)
    ]
    return sorted(found, key=lambda c: c.args["text"])


def button(pair: Call, action_id: str) -> str:
    actions = next(b for b in pair.args["blocks"] if b["type"] == "actions")
    for element in actions["elements"]:
        if element["action_id"] == action_id:
            return str(element["value"])
    raise AssertionError(action_id)


def last_parent(live: SlackDriver, parent_ts: str) -> dict[str, Any]:
    updates = [c for c in live.slack.of("chat.update") if c.args["ts"] == parent_ts]
    return updates[-1].args


@pytest.fixture
async def two_versions(live: SlackDriver) -> None:
    await live.reply_text("new Support")
    await live.reply_text("set formality 95")
    await live.reply_text("set style detailed")


@pytest.mark.usefixtures("two_versions")
async def test_blind_pairs_in_the_thread(live: SlackDriver, model: FakeOpenAI) -> None:
    test = await open_test(live)
    parent = live.slack.of("chat.postMessage")[0].args
    assert (
        parent["text"]
        == f"A/B test #{test['id']}: Support v1 vs Support v3, 3 messages, answering…"
    )
    found = pairs(live)
    assert len(found) == 3
    assert all(p.args["thread_ts"] == test["parent_ts"] for p in found)
    assert {p.args["icon_emoji"] for p in found} == {":scales:"}
    rows = await live.pool.fetch(
        "SELECT * FROM ab_messages WHERE ab_test_id = $1 ORDER BY position", test["id"]
    )
    for row, pair in zip(rows, found, strict=True):
        a = await live.pool.fetchrow("SELECT * FROM test_results WHERE id = $1", row["result_a_id"])
        b = await live.pool.fetchrow("SELECT * FROM test_results WHERE id = $1", row["result_b_id"])
        assert a["kind"] == b["kind"] == "ab"
        reply_1 = pair.args["blocks"][1]["text"]["text"]
        first = a if row["a_first"] else b
        assert reply_1.startswith("*Reply 1*\n")
        assert first["answer"][:100].replace("&", "&amp;") in reply_1
        shown = json.dumps(pair.args["blocks"])
        assert "Support" not in shown  # nothing names a side
        assert "judge" not in shown.lower()  # nor says what the judge thinks
        assert row["judge_verdict"] in {"a", "b", "tie"}  # consistent fake judge
        assert row["message_ts"] == pair.response["ts"]
    labels = [e["text"]["text"] for e in found[0].args["blocks"][-1]["elements"]]
    assert labels == ["1 is better", "2 is better", "Tie", "Both bad"]  # short: no Details
    final = last_parent(live, test["parent_ts"])
    assert "voting open" in final["text"]
    assert "Votes *0* from *0* voters · per message 1: *0* · 2: *0* · 3: *0*" in json.dumps(
        final["blocks"], ensure_ascii=False
    )


@pytest.mark.usefixtures("two_versions")
async def test_votes_change_and_the_parent_counts_participation_only(live: SlackDriver) -> None:
    test = await open_test(live)
    first = pairs(live)[0]
    await live.click(ids.AB_VOTE_1, button(first, ids.AB_VOTE_1), user="U1")
    assert (await live.next_reply())["text"] == (
        "Thanks: your vote for Reply 1 on message 1 is recorded. Click another button to change it."
    )
    await live.click(ids.AB_VOTE_2, button(first, ids.AB_VOTE_2), user="U2")
    assert "your vote for Reply 2 on message 1" in (await live.next_reply())["text"]
    await live.click(ids.AB_VOTE_TIE, button(first, ids.AB_VOTE_TIE), user="U1")  # changes
    assert "your vote (a tie) on message 1" in (await live.next_reply())["text"]
    rows = await live.pool.fetch("SELECT user_id, choice FROM ab_votes ORDER BY user_id")
    a_first = await live.pool.fetchval(
        "SELECT a_first FROM ab_messages WHERE ab_test_id = $1 AND position = 0", test["id"]
    )
    assert [(r["user_id"], r["choice"]) for r in rows] == [
        ("U1", "tie"),
        ("U2", "b" if a_first else "a"),
    ]
    tally = last_parent(live, test["parent_ts"])["blocks"][0]["text"]["text"]
    assert "Votes *2* from *2* voters · per message 1: *2* · 2: *0* · 3: *0*" in tally
    # no split by side or by reply while voting is open
    for word in ("A wins", "B wins", "ties", "Reply", "Verdict"):
        assert word not in json.dumps(last_parent(live, test["parent_ts"])["blocks"])


@pytest.mark.usefixtures("two_versions")
async def test_simultaneous_votes_are_all_counted_once(live: SlackDriver) -> None:
    test = await open_test(live)
    value = button(pairs(live)[1], ids.AB_VOTE_2)
    users = [f"U{i:03d}" for i in range(12)]
    await asyncio.gather(*(live.click(ids.AB_VOTE_2, value, user=u) for u in users))
    await asyncio.gather(*(live.click(ids.AB_VOTE_2, value, user=u) for u in users))  # doubles
    await live.slack.wait_responses(24)
    assert await live.pool.fetchval("SELECT count(*) FROM ab_votes") == 12
    await asyncio.sleep(0.3)
    tally = last_parent(live, test["parent_ts"])["blocks"][0]["text"]["text"]
    assert "Votes *12* from *12* voters · per message 1: *0* · 2: *12* · 3: *0*" in tally


@pytest.mark.usefixtures("two_versions")
async def test_close_reveals_and_gives_an_honest_verdict(live: SlackDriver) -> None:
    test = await open_test(live)
    rows = await live.pool.fetch(
        "SELECT a_first FROM ab_messages WHERE ab_test_id = $1 ORDER BY position", test["id"]
    )
    # five people prefer B on every message
    for pair, row in zip(pairs(live), rows, strict=True):
        action = ids.AB_VOTE_2 if row["a_first"] else ids.AB_VOTE_1
        for u in range(5):
            await live.click(action, button(pair, action), user=f"U{u}")
            await live.next_reply()
    await live.click(ids.AB_CLOSE, str(test["id"]), user="U9")  # not the starter
    assert "Only <@U0001>, who started A/B test" in (await live.next_reply())["text"]
    await live.click(ids.AB_CLOSE, str(test["id"]))
    assert "Closed A/B test" in (await live.next_reply())["text"]
    verdict = next(
        c.args for c in live.slack.of("chat.postMessage") if "Verdict of A/B" in c.args["text"]
    )
    text = json.dumps(verdict["blocks"], ensure_ascii=False)
    assert "*B is preferred*" in text
    assert "A 0 · B 15 · ties 0 · both bad 0" in text
    assert "E = 2,048" in text  # 2^15 / 16
    assert "_Descriptive only:_" in text and "sign test p = 6.1e-05" in text  # 2 * 0.5**15
    # three messages, each unanimous: E = 2^3 / 4 = 2, not enough on its own
    assert (
        "*Per message* (majority of each message's votes): A 0 · B 3 · ties 0 · both bad 0 → "
        "Not enough votes to tell yet: about" in text
    )
    # everyone chose the same on every message: agreement is perfect but κ is undefined
    assert "voters with each other, Fleiss' κ n/a (3 messages)" in text
    assert "agreed with the people on" in text
    # the pairwise judge's standing over the workspace's closed tests: 3 labels so far
    assert "not enough labels to rate the judge (3 of 20)" in text
    revealed = [
        c for c in live.slack.of("chat.update") if "Reply 1 was" in json.dumps(c.args["blocks"])
    ]
    assert len(revealed) == 3
    stored = await live.pool.fetchrow(
        "SELECT verdict, verdict_code FROM ab_tests WHERE id = $1", test["id"]
    )
    assert stored["verdict_code"] == "b_preferred"
    assert stored["verdict"]["per_person"]["b_wins"] == 15
    parent = json.dumps(last_parent(live, test["parent_ts"])["blocks"], ensure_ascii=False)
    assert "A wins *0* · B wins *15*" in parent and "*Verdict:* B is preferred" in parent
    # after closing
    await live.click(ids.AB_VOTE_1, button(pairs(live)[0], ids.AB_VOTE_1), user="U7")
    assert "Voting has closed" in (await live.next_reply())["text"]
    assert await live.pool.fetchval("SELECT count(*) FROM ab_votes WHERE user_id = 'U7'") == 0
    assert "already closed" in await live.reply_text(f"ab close {test['id']}")


@pytest.mark.usefixtures("two_versions")
async def test_few_votes_say_not_enough(live: SlackDriver) -> None:
    test = await open_test(live)
    first = pairs(live)[0]
    await live.click(ids.AB_VOTE_1, button(first, ids.AB_VOTE_1), user="U1")
    await live.next_reply()
    await live.click(ids.AB_VOTE_2, button(first, ids.AB_VOTE_2), user="U2")
    await live.next_reply()
    assert "Not enough votes to tell yet: about" in await live.reply_text(f"ab close #{test['id']}")


@pytest.mark.usefixtures("two_versions")
async def test_position_biased_judge_is_inconsistent(live: SlackDriver, model: FakeOpenAI) -> None:
    model.pairwise_mode = "first"
    test = await open_test(live)
    verdicts = await live.pool.fetch(
        "SELECT judge_verdict FROM ab_messages WHERE ab_test_id = $1", test["id"]
    )
    assert {r["judge_verdict"] for r in verdicts} == {"inconsistent"}


@pytest.mark.usefixtures("two_versions")
async def test_quoted_messages_and_leaderboard(live: SlackDriver) -> None:
    test = await open_test(live, 'ab Support@1 Support "Where is my order?" “Refund please”')
    messages = await live.pool.fetch(
        "SELECT message FROM ab_messages WHERE ab_test_id = $1 ORDER BY position", test["id"]
    )
    assert [m["message"] for m in messages] == ["Where is my order?", "Refund please"]
    rows = await live.pool.fetch(
        "SELECT a_first FROM ab_messages WHERE ab_test_id = $1 ORDER BY position", test["id"]
    )
    for pair, row in zip(pairs(live), rows, strict=True):
        action = ids.AB_VOTE_2 if row["a_first"] else ids.AB_VOTE_1
        for u in range(6):
            await live.click(action, button(pair, action), user=f"U{u}")
            await live.next_reply()
    # while the test is open its votes stay off the board: the ranking would unblind it
    assert "No votes from closed A/B tests yet" in await live.reply_text("leaderboard")
    await live.reply_text(f"ab close {test['id']}")
    await live.command("leaderboard")
    blocks = (await live.next_reply())["blocks"]
    [table] = [b for b in blocks if b["type"] == "table"]  # Slack's table block
    rows = [[cell["text"] for cell in row] for row in table["rows"]]
    assert rows[0] == ["#", "Version", "Rating", "95% interval", "Votes"]
    assert [row[1] for row in rows[1:]] == ["Support v3", "Support v1"]
    assert rows[1][4] == "12"
    # a workspace that refuses tables gets the list instead
    live.slack.unsupported_blocks.add("table")
    await live.command("leaderboard")
    refused = await live.next_reply()
    assert any(b["type"] == "table" for b in refused["blocks"])
    board = json.dumps((await live.next_reply())["blocks"], ensure_ascii=False)
    assert board.index("*Support v3*") < board.index("*Support v1*")
    assert "12 votes" in board


@pytest.mark.usefixtures("two_versions")
@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("ab", "Usage: `/bot ab <A> <B>"),
        ("ab Support", "Usage"),
        ("ab Support@3 Support", "same version (Support v3)"),
        ("ab Support@3 Support simulation Charged twice (simulated)", "same version (Support v3)"),
        ("ab Support@1 Ghost", "no profile named *Ghost*"),
        ("ab Support@1 Support@9", "has no version 9"),
        ("ab Support@1 Support@3 Nope scenario", "no scenario named *Nope scenario*"),
        ("ab Support@1 Support@3 " + " ".join(f'"m{i}"' for i in range(21)), "at most 20"),
        ('ab Support@1 Support@3 "one" two', "own quotes"),
        ("ab close", "Usage: `/bot ab close <id>`"),
        ("ab close 999", "no A/B test #999"),
        ("ab cancel", "Usage: `/bot ab cancel <id>`"),
        ("ab cancel #999", "no A/B test #999"),
    ],
)
async def test_bad_ab_input(live: SlackDriver, text: str, fragment: str) -> None:
    assert fragment in await live.reply_text(text)
    assert await live.pool.fetchval("SELECT count(*) FROM ab_tests") == 0


@pytest.mark.usefixtures("two_versions")
async def test_votes_from_another_workspace_are_refused(live: SlackDriver) -> None:
    await open_test(live)
    first = pairs(live)[0]
    await live.click(ids.AB_VOTE_1, button(first, ids.AB_VOTE_1), team="T0002")
    assert "does not exist in this workspace" in (await live.next_reply())["text"]
    assert await live.pool.fetchval("SELECT count(*) FROM ab_votes") == 0


async def test_empty_leaderboard(live: SlackDriver) -> None:
    assert "No votes from closed A/B tests yet" in await live.reply_text("leaderboard")
