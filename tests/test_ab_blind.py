"""Blind means blind: while a test is open, nothing anyone can see depends on which reply is A.

Two workspaces run the same A/B test, identical but for the hidden order (Reply 1 is A on every
message in one, B in the other), both sides answering the same text. The same people then vote
for the same reply positions. Every surface a voter can see (the parent, the thread, the vote
confirmations, Details, App Home, `/bot stats`, `/bot leaderboard`, `/bot export`) must come out
the same in both, ids and times aside. Once the tests close, the two must differ: the check is
able to see the order when it is shown."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from dataclasses import dataclass, field
from typing import Any

import pytest

from bot import ids
from bot.ab import start as ab_start
from tests.fake_openai import FakeOpenAI
from tests.fake_slack import Call
from tests.slack_driver import CHANNEL, OTHER_TEAM, TEAM, SlackDriver
from tests.test_ab import button, last_parent, open_test, pairs
from tests.test_home import home_event

OTHER_CHANNEL = "C0002"
# long enough to be shortened in the thread, so Details is part of what is compared
ANSWER = "Please select Forgot password on the sign-in page & follow the link we send. " * 50
MESSAGES = '"Where is my order?" "Can I get a refund?" "The app crashes on start"'
# (voter, message position, button): the same reply positions in both workspaces
BALLOTS = [
    ("U1", 0, ids.AB_VOTE_1),
    ("U1", 1, ids.AB_VOTE_2),
    ("U1", 2, ids.AB_VOTE_TIE),
    ("U2", 0, ids.AB_VOTE_1),
    ("U2", 1, ids.AB_VOTE_1),
    ("U3", 0, ids.AB_VOTE_2),
    ("U3", 2, ids.AB_VOTE_BOTH_BAD),
    ("U2", 0, ids.AB_VOTE_2),  # a change of mind
]


@dataclass
class Seen:
    """Everything one workspace's people saw, in order."""

    surfaces: dict[str, Any] = field(default_factory=dict)


def normal(value: Any) -> str:
    """JSON with what differs between any two tests taken out: ids, Slack ts and times."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    text = re.sub(r"\d{10}\.\d{6}", "<ts>", text)
    text = re.sub(r"<!date\^\d+\^", "<!date^<t>^", text)
    text = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", "<when>", text)
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d", "<iso>", text)
    text = re.sub(r"#\d+", "#<id>", text)
    text = re.sub(r'\\"m\\": \d+', r'\\"m\\": <id>', text)
    text = re.sub(r'"value": "\d+"', '"value": "<id>"', text)
    text = re.sub(r"\d{8}\.csv", "<date>.csv", text)
    return text.replace(OTHER_TEAM, TEAM).replace(OTHER_CHANNEL, CHANNEL)


async def three_versions(live: SlackDriver, *, team: str, channel: str) -> None:
    for text in ("new Support", "set formality 95", "set style detailed"):
        await live.reply_text(text, team=team, channel=channel)


async def reply(live: SlackDriver, text: str, *, team: str, channel: str) -> dict[str, Any]:
    await live.command(text, team=team, channel=channel)
    return await live.next_reply()


def since(calls: list[Call], before: int) -> list[dict[str, Any]]:
    return [c.args for c in calls[before:]]


async def home(live: SlackDriver, *, team: str) -> dict[str, Any]:
    before = len(live.slack.of("views.publish"))
    await live.event(home_event(), team=team)
    await live.slack.wait_calls("views.publish", before + 1)
    await asyncio.sleep(0.3)  # a second publish follows when the leaderboard is refitted
    view: dict[str, Any] = live.slack.of("views.publish")[-1].args["view"]
    return view


async def everything_seen(
    live: SlackDriver, *, team: str, channel: str, test: dict[str, Any]
) -> Seen:
    seen = Seen()
    thread = pairs(live, test["parent_ts"])
    seen.surfaces["thread"] = [c.args["blocks"] for c in thread]
    confirmations = []
    for voter, position, action in BALLOTS:
        await live.click(
            action, button(thread[position], action), user=voter, team=team, channel=channel
        )
        confirmations.append((await live.next_reply())["text"])
    seen.surfaces["confirmations"] = confirmations
    seen.surfaces["parent"] = last_parent(live, test["parent_ts"])
    opened = len(live.slack.of("views.open"))
    for pair in thread:
        await live.click(ids.AB_DETAILS, button(pair, ids.AB_DETAILS), team=team, channel=channel)
    await live.slack.wait_calls("views.open", opened + len(thread))
    views = [a["view"] for a in since(live.slack.of("views.open"), opened)]
    seen.surfaces["details"] = sorted(views, key=lambda v: str(v["title"]["text"]))
    seen.surfaces["home"] = await home(live, team=team)
    for command in ("stats Support", "leaderboard", "export"):
        seen.surfaces[command] = await reply(live, command, team=team, channel=channel)
    seen.surfaces["files"] = [
        (name, data.decode("utf-8-sig"))
        for name, data, args in live.slack.files_posted()
        if args.get("channel_id") == channel
    ]
    return seen


async def run_test(
    live: SlackDriver, monkeypatch: pytest.MonkeyPatch, *, team: str, channel: str, a_first: bool
) -> dict[str, Any]:
    await three_versions(live, team=team, channel=channel)
    monkeypatch.setattr(ab_start, "draw_a_first", lambda: a_first)
    return await open_test(live, f"ab Support@1 Support@3 {MESSAGES}", team=team, channel=channel)


async def test_nothing_a_voter_sees_depends_on_the_hidden_order(
    live: SlackDriver, model: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    model.answer_text = ANSWER
    model.output_limits = False  # the whole long answer, to be shortened for Slack
    a_first = await run_test(live, monkeypatch, team=TEAM, channel=CHANNEL, a_first=True)
    b_first = await run_test(
        live, monkeypatch, team=OTHER_TEAM, channel=OTHER_CHANNEL, a_first=False
    )
    orders = await live.pool.fetch("SELECT ab_test_id, a_first FROM ab_messages")
    assert {(r["ab_test_id"], r["a_first"]) for r in orders} == {
        (a_first["id"], True),
        (b_first["id"], False),
    }
    one = await everything_seen(live, team=TEAM, channel=CHANNEL, test=a_first)
    other = await everything_seen(live, team=OTHER_TEAM, channel=OTHER_CHANNEL, test=b_first)

    # the same positions are different sides: the stored votes really are opposite
    choices = await live.pool.fetch(
        """
        SELECT m.ab_test_id, v.user_id, m.position, v.choice FROM ab_votes v
        JOIN ab_messages m ON m.id = v.ab_message_id ORDER BY v.user_id, m.position
        """
    )
    mine, theirs = (
        [(r["user_id"], r["position"], r["choice"]) for r in choices if r["ab_test_id"] == t["id"]]
        for t in (a_first, b_first)
    )
    swap = {"a": "b", "b": "a", "tie": "tie", "both_bad": "both_bad"}
    assert theirs == [(u, p, swap[c]) for u, p, c in mine] and mine != theirs

    for surface in one.surfaces:
        assert normal(one.surfaces[surface]) == normal(other.surfaces[surface]), surface
    shown = normal([one.surfaces["parent"], one.surfaces["thread"], one.surfaces["details"]])
    assert "judge" not in shown.lower()  # the judge's opinion stays hidden too
    assert "(shortened; full text in Details)" in shown
    # and the export left the open test out, saying so
    assert "still open (#" in one.surfaces["export"]["text"]

    # closing reveals: the same check now sees the order
    for team, channel, test in ((TEAM, CHANNEL, a_first), (OTHER_TEAM, OTHER_CHANNEL, b_first)):
        assert (
            "Closed A/B test"
            in (await reply(live, f"ab close {test['id']}", team=team, channel=channel))["text"]
        )
    assert normal(last_parent(live, a_first["parent_ts"])) != normal(
        last_parent(live, b_first["parent_ts"])
    )
    # and the export now has the test: every answer, and every vote with which reply was A
    exported = await reply(live, "export", team=TEAM, channel=CHANNEL)
    assert "(6 answers)" in exported["text"] and "(7 votes)" in exported["text"]
    assert "still open" not in exported["text"]
    votes_csv = next(
        data.decode("utf-8-sig")
        for name, data, args in live.slack.files_posted()
        if name.startswith("romashka-ab-votes-") and args.get("channel_id") == CHANNEL
    )
    rows = list(csv.DictReader(io.StringIO(votes_csv)))
    assert {r["reply_1_was"] for r in rows} == {"A"} and {r["status"] for r in rows} == {"closed"}
    assert [r["choice"] for r in rows if r["user_id"] == "U2"] == ["b", "a"]
