"""No A/B test left hanging: every way a test can get stuck ends in a state a person can see and
act on (failed with its reason, interrupted, cancelled), and a pair too long for one message
keeps its replies readable and its buttons."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import asyncpg
import pytest

from bot import ids, limits
from bot.ab import pairs as ab_pairs
from bot.jobs.enqueue import enqueue_ab_pairs
from bot.jobs.payloads import AbPairJob
from bot.jobs.worker import Worker, options_from
from bot.model.llm import LLM
from bot.model.pair_judge import judge as pairwise_judge
from bot.startup.maintenance import run_once
from bot.startup.settings import Settings
from tests.fake_openai import FakeOpenAI
from tests.fake_slack import FakeSlack
from tests.slack_driver import TEAM, SlackDriver
from tests.test_ab import button, last_parent, open_test, pairs


@pytest.fixture
async def two_versions(live: SlackDriver) -> None:
    await live.reply_text("new Support")
    await live.reply_text("set formality 95")


async def status_of(live: SlackDriver, *, becomes: str | None = None) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while True:
        row = await live.pool.fetchrow("SELECT * FROM ab_tests ORDER BY id DESC LIMIT 1")
        if row is not None and (becomes is None or row["status"] == becomes):
            return dict(row)
        assert time.monotonic() < deadline, f"the test never became {becomes}"
        await asyncio.sleep(0.05)


def parent_text(live: SlackDriver, parent_ts: str) -> str:
    return json.dumps(last_parent(live, parent_ts)["blocks"], ensure_ascii=False)


@pytest.mark.usefixtures("two_versions")
async def test_slack_refusing_the_parent_fails_the_test_with_its_reason(
    live: SlackDriver,
) -> None:
    live.slack.fail_next("chat.postMessage", error="not_in_channel")
    text = await live.reply_text("ab Support@1 Support@2")
    test = await status_of(live)
    assert text == (
        f"A/B test #{test['id']} failed before it started: Slack refused my message in this "
        "conversation (`not_in_channel`). Invite me with `/invite @ROMASHKA` (or start it in a "
        "channel I am in) and start it again."
    )
    assert test["status"] == "failed"
    assert test["failure_reason"] == "Slack refused its first message (`not_in_channel`)"
    # it ends: closed (there is no verdict to give) or cancelled, by its starter
    reply = await live.reply_text(f"ab close {test['id']}")
    assert "never opened for voting (failed: Slack refused its first message" in reply
    assert "it is now cancelled" in reply
    assert (await status_of(live))["status"] == "cancelled"
    assert "already cancelled" in await live.reply_text(f"ab cancel {test['id']}")


@pytest.mark.usefixtures("two_versions")
async def test_a_pair_that_breaks_fails_alone(
    live: SlackDriver, monkeypatch: pytest.MonkeyPatch
) -> None:

    async def breaks_on_refunds(llm: Any, *, question: str, answer_a: str, answer_b: str) -> Any:
        if "refund" in question:
            raise RuntimeError("a bug in one pair")
        return await pairwise_judge(llm, question=question, answer_a=answer_a, answer_b=answer_b)

    monkeypatch.setattr(ab_pairs, "pairwise_judge", breaks_on_refunds)
    test = await open_test(live, 'ab Support@1 Support@2 "Where is my order?" "A refund?" "Hi"')
    failed = await live.pool.fetchrow("SELECT * FROM ab_messages WHERE position = 1")
    assert failed["failure"] == "could not be answered (internal error)"
    posted = pairs(live, test["parent_ts"])
    assert len(posted) == 2  # the other two, with their buttons
    note = next(
        c.args
        for c in live.slack.of("chat.postMessage")
        if c.args.get("text") == "Message 2 of 3: could not be answered"
    )
    assert "could not be answered (internal error), so it is left out of the vote" in json.dumps(
        note["blocks"]
    )
    assert "1 could not be answered" in parent_text(live, test["parent_ts"])
    # a (forged) vote on the failed message is refused clearly and stores nothing
    await live.click(ids.AB_VOTE_1, json.dumps({"m": failed["id"], "c": "1"}))
    assert (await live.next_reply())["text"] == (
        "Message 2 could not be answered (internal error), so it takes no votes."
    )
    await live.click(ids.AB_VOTE_1, button(posted[0], ids.AB_VOTE_1), user="U5")
    await live.next_reply()
    assert await live.pool.fetchval("SELECT count(*) FROM ab_votes") == 1
    assert "Closed A/B test" in await live.reply_text(f"ab close {test['id']}")


@pytest.mark.usefixtures("two_versions")
async def test_a_test_whose_every_pair_breaks_ends_failed_and_cancellable(
    live: SlackDriver, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("a bug in every pair")

    monkeypatch.setattr(ab_pairs, "pairwise_judge", broken)
    await live.command('ab Support@1 Support@2 "Where is my order?"')
    test = await status_of(live, becomes="failed")
    reason = "no message could be answered and posted: message 1 could not be answered"
    assert test["failure_reason"].startswith(reason)
    # the job that failed the test tells its starter (the command had replied long before)
    told = await live.slack.wait_calls("chat.postEphemeral")
    assert told[-1].args["user"] == "U0001"
    assert f"A/B test #{test['id']} did not open for voting: {reason}" in told[-1].args["text"]
    shown = parent_text(live, test["parent_ts"])
    assert "failed" in shown and "Nobody can vote on it" in shown and ids.AB_CANCEL in shown
    await live.click(ids.AB_CANCEL, str(test["id"]), user="U9")  # neither starter nor editor
    assert "Only <@U0001>, who started A/B test" in (await live.next_reply())["text"]
    await live.click(ids.AB_CANCEL, str(test["id"]))
    assert f"Cancelled A/B test #{test['id']}: no verdict" in (await live.next_reply())["text"]
    assert "Cancelled by <@U0001>" in parent_text(live, test["parent_ts"])


@pytest.fixture
def idle(settings: Settings, pool: asyncpg.Pool, slack: FakeSlack, llm: LLM) -> SlackDriver:
    """The app with a model but no worker running: a test's pairs wait in the queue."""
    quick = settings.model_copy(update={"job_heartbeat_timeout_s": 2.0})
    return SlackDriver.build(settings=quick, pool=pool, slack=slack, llm=llm)


async def test_a_stop_while_answering_hands_the_pairs_back_and_another_worker_ends_it(
    idle: SlackDriver, model: FakeOpenAI
) -> None:
    """A process stopping mid-test (its grace period over) no longer interrupts the test: its
    pair jobs go back to the queue and the next worker writes them, each once."""
    await idle.reply_text("new Support")
    await idle.reply_text("set formality 95")
    model.ttft_s = 3.0  # still answering when the worker stops
    await idle.command('ab Support@1 Support@2 "Where is my order?" "Hi"')
    test = await status_of(idle)
    worker = Worker(idle.deps, options=options_from(idle.deps))
    await worker.start()

    async def picked() -> bool:
        n = await idle.pool.fetchval("SELECT count(*) FROM pgqueuer WHERE status = 'picked'")
        return bool(n)

    deadline = time.monotonic() + 20
    while not await picked():
        assert time.monotonic() < deadline, "no pair was picked"
        await asyncio.sleep(0.05)
    await worker.stop(grace_s=0)
    assert (await status_of(idle))["status"] == "answering"
    back = await idle.pool.fetchval(
        "SELECT count(*) FROM pgqueuer WHERE entrypoint = 'ab_pair' AND status = 'queued'"
    )
    assert back == 2
    model.ttft_s = 0.0
    async with Worker(idle.deps, options=options_from(idle.deps)):
        opened = await status_of(idle, becomes="open")
    assert opened["id"] == test["id"]
    rows = await idle.pool.fetch("SELECT result_a_id, result_b_id, failure FROM ab_messages")
    assert all(r["failure"] is None for r in rows)
    results = await idle.pool.fetchval("SELECT count(*) FROM test_results WHERE kind = 'ab'")
    linked = {i for r in rows for i in (r["result_a_id"], r["result_b_id"])}
    # the answers the stopped worker had under way were cut off unstored: 4 results, 4 linked
    assert results == len(linked) == 4
    assert len(pairs(idle, opened["parent_ts"])) == 2


async def test_the_sweep_marks_a_test_left_answering_by_a_dead_process(
    live: SlackDriver,
) -> None:
    await live.reply_text("new Support")
    await live.reply_text("set formality 95")
    versions = [r["id"] for r in await live.pool.fetch("SELECT id FROM profile_versions")]
    stale = (
        "INSERT INTO ab_tests (team_id, version_a_id, version_b_id, started_by, channel_id, "
        "heartbeat_at) VALUES ($1, $2, $3, 'U0001', 'C0001', now() - interval '5 minutes') "
        "RETURNING id"
    )
    first = await live.pool.fetchval(stale, TEAM, *versions)
    fresh = await live.pool.fetchval(
        "INSERT INTO ab_tests (team_id, version_a_id, version_b_id, started_by, channel_id) "
        "VALUES ($1, $2, $3, 'U0001', 'C0001') RETURNING id",
        TEAM,
        *versions,
    )
    # a test as old, but whose pair still waits in the queue (behind other work), is left alone
    waiting = await live.pool.fetchval(stale, TEAM, *versions)
    async with live.pool.acquire() as con, con.transaction():
        await enqueue_ab_pairs(con, [AbPairJob(team_id=TEAM, ab_id=waiting, message_id=1)])
    await run_once(live.pool, retention_days=None)
    statuses = dict(await live.pool.fetch("SELECT id, status FROM ab_tests"))
    assert statuses == {first: "interrupted", fresh: "answering", waiting: "answering"}
    # one left answering that nobody swept yet is found when someone tries to close it
    await live.pool.execute(
        "UPDATE ab_tests SET heartbeat_at = now() - interval '5 minutes' WHERE id = $1", fresh
    )
    reply = await live.reply_text(f"ab close {fresh}")
    assert "never opened for voting (interrupted" in reply


@pytest.mark.usefixtures("two_versions")
async def test_closing_a_test_still_answering_says_what_to_do(
    live: SlackDriver, model: FakeOpenAI
) -> None:
    model.ttft_s = 1.0
    await live.command('ab Support@1 Support@2 "Where is my order?" "Hi" "Bye"')
    test = await status_of(live)
    reply = await live.reply_text(f"ab close {test['id']}")
    assert reply == (
        f"A/B test #{test['id']} is still writing its replies; voting opens when they are all "
        f"in, and then it can be closed. To stop it now: `/bot ab cancel {test['id']}`."
    )
    assert "Cancelled A/B test" in await live.reply_text(f"ab cancel {test['id']}")
    await asyncio.sleep(2.5)  # the answering finishes what it had started, and opens nothing
    assert (await status_of(live))["status"] == "cancelled"
    assert await live.pool.fetchval("SELECT count(*) FROM ab_votes") == 0


@pytest.mark.usefixtures("two_versions")
async def test_votes_on_an_ended_test_are_refused_clearly(live: SlackDriver) -> None:
    test = await open_test(live, "ab Support@1 Support@2")
    first = pairs(live)[0]
    await live.click(ids.AB_VOTE_1, button(first, ids.AB_VOTE_1), user="U5")
    await live.next_reply()
    await live.reply_text(f"ab cancel {test['id']}")
    await live.click(ids.AB_VOTE_2, button(first, ids.AB_VOTE_2), user="U5")
    assert (await live.next_reply())["text"] == (
        f"A/B test #{test['id']} was cancelled, so it takes no more votes."
    )
    kept = await live.pool.fetch("SELECT user_id, choice FROM ab_votes")
    assert len(kept) == 1  # the vote cast before is kept, not changed, not counted twice
    await live.pool.execute(
        "UPDATE ab_tests SET status = 'failed', failure_reason = 'a reason' WHERE id = $1",
        test["id"],
    )
    await live.click(ids.AB_VOTE_2, button(first, ids.AB_VOTE_2), user="U6")
    assert (await live.next_reply())["text"] == (
        f"A/B test #{test['id']} failed (a reason), so it takes no votes. "
        "Start a new one with `/bot ab <A> <B>`."
    )
    assert "no verdict to give" in await live.reply_text(f"ab close {test['id']}")


@pytest.mark.usefixtures("two_versions")
async def test_slack_refusing_one_pair_fails_that_pair(live: SlackDriver) -> None:
    live.slack.fail_next("chat.postMessage", error="internal_error", after=1)
    test = await open_test(live, 'ab Support@1 Support@2 "Where is my order?" "Hi"')
    failures = [r["failure"] for r in await live.pool.fetch("SELECT failure FROM ab_messages")]
    assert sorted(failures, key=lambda f: f or "") == [
        None,
        "could not be posted (Slack said `internal_error`)",
    ]
    assert test["status"] == "open"


def under_headers(blocks: list[dict[str, Any]]) -> dict[str, str]:
    """A modal's section texts joined under the header before them."""
    out: dict[str, str] = {}
    heading = ""
    for b in blocks:
        if b["type"] == "header":
            heading = b["text"]["text"]
            out[heading] = ""
        elif b["type"] == "section":
            out[heading] += b["text"]["text"]
    return out


def block_text(blocks: list[dict[str, Any]]) -> int:
    """Characters of text in a message's blocks, the way Slack counts them towards its total."""
    total = 0
    for b in blocks:
        for part in [b.get("text"), *b.get("elements", []), *b.get("fields", [])]:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                total += len(part["text"])
            elif isinstance(part, dict) and isinstance(part.get("text"), dict):
                total += len(part["text"]["text"])
    return total


@pytest.mark.usefixtures("two_versions")
async def test_a_pair_too_long_keeps_its_buttons_and_full_text_in_details(
    live: SlackDriver, model: FakeOpenAI
) -> None:
    model.answer_text = "Refunds <take> 5 days & arrive by card. " * 400  # 16,000 characters
    model.output_limits = False  # all of it, past any style's token limit
    question = "Why?" * 750
    # Slack refuses the first pair as too long; the second try is shorter and keeps its buttons
    live.slack.fail_next("chat.postMessage", error="msg_blocks_too_long", after=1)
    test = await open_test(live, f'ab Support@1 Support@2 "{question}" "Where is my refund?"')
    refused = [
        c for c in live.slack.of("chat.postMessage") if c.response.get("error")
    ]  # fmt: skip
    assert len(refused) == 1
    found = pairs(live, test["parent_ts"])
    assert len(found) == 2
    for pair in found:
        blocks = pair.args["blocks"]
        assert block_text(blocks) <= limits.BLOCKS_TEXT_TOTAL
        assert all(len(b["text"]["text"]) <= limits.SECTION_TEXT for b in blocks if "text" in b)
        shown = json.dumps(blocks, ensure_ascii=False)
        assert shown.count("(shortened; full text in Details)") >= 2
        assert "&lt;take&gt;" in shown and "<take>" not in shown
        labels = [e["text"]["text"] for e in blocks[-1]["elements"]]
        assert labels == ["1 is better", "2 is better", "Tie", "Both bad", "Details"]
    await live.click(ids.AB_DETAILS, button(found[0], ids.AB_DETAILS))
    [opened] = await live.slack.wait_calls("views.open")
    view = opened.args["view"]
    assert len(view["blocks"]) <= limits.BLOCKS_PER_VIEW
    texts = under_headers(view["blocks"])
    assert list(texts)[1:] == ["Reply 1", "Reply 2"]  # blind while voting is open
    escaped = model.answer_text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert texts["Reply 1"] == texts["Reply 2"] == escaped  # in full
    assert texts["Message 1 of 2"] == question
    # once closed the reveal keeps Details, which now names the sides
    await live.reply_text(f"ab close {test['id']}")
    revealed = [c for c in live.slack.of("chat.update") if "revealed" in c.args["text"]]
    assert all(block_text(c.args["blocks"]) <= limits.BLOCKS_TEXT_TOTAL for c in revealed)
    await live.click(ids.AB_DETAILS, button(found[0], ids.AB_DETAILS))
    calls = await live.slack.wait_calls("views.open", 2)
    headers = list(under_headers(calls[1].args["view"]["blocks"]))
    assert headers[1].startswith("Reply 1 (") and "Support v" in headers[1]


def verdicts_posted(live: SlackDriver) -> int:
    return sum(
        "Verdict of A/B" in str(c.args.get("text")) for c in live.slack.of("chat.postMessage")
    )


@pytest.mark.usefixtures("two_versions")
async def test_a_verdict_is_posted_once_however_closing_goes(live: SlackDriver) -> None:
    first = await open_test(live, 'ab Support@1 Support@2 "Where is my order?"')
    before = len(live.slack.responses)
    await asyncio.gather(*(live.click(ids.AB_CLOSE, str(first["id"])) for _ in range(3)))
    replies = [r.args["text"] for r in (await live.slack.wait_responses(before + 3))[before:]]
    live.replies_read = before + 3
    assert sum(t.startswith("Closed A/B test") for t in replies) == 1, replies
    assert verdicts_posted(live) == 1

    # a process that stopped between closing and its verdict leaves a closed test without one
    second = await open_test(live, 'ab Support@1 Support@2 "Hi"')
    await live.pool.execute(
        "UPDATE ab_tests SET status = 'closed', closed_at = now() WHERE id = $1", second["id"]
    )
    assert "is being closed; its verdict follows" in await live.reply_text(
        f"ab close {second['id']}"
    )
    await live.pool.execute(
        "UPDATE ab_tests SET closed_at = now() - interval '5 minutes' WHERE id = $1", second["id"]
    )
    before = len(live.slack.responses)
    await asyncio.gather(*(live.command(f"ab close {second['id']}") for _ in range(2)))
    replies = [r.args["text"] for r in (await live.slack.wait_responses(before + 2))[before:]]
    live.replies_read = before + 2
    assert sum(t.startswith("Closed A/B test") for t in replies) == 1, replies
    assert verdicts_posted(live) == 2
    assert (
        await live.pool.fetchval("SELECT verdict_code FROM ab_tests WHERE id = $1", second["id"])
        == "no_decisive_votes"
    )
