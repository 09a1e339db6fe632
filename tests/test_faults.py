"""Faults that must not lose data or answer twice: Slack rate limits and size limits, model
error storms, redelivery, and fuzzed command text."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from typing import Any

import asyncpg
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import ids
from bot.domain.profile import DEFAULT_FIELDS
from bot.errors import UserError
from bot.messages import GENERIC_FAILURE
from bot.persona import validation
from commands.ab import parse_messages
from commands.parse import parse, parse_version
from commands.scenarios import split_run_args
from tests.fake_openai import Failure, FakeOpenAI
from tests.slack_driver import SlackDriver
from tests.test_ab import button, last_parent, open_test, pairs
from tests.test_scenarios import posted, summary_of


async def finished_run(pool: asyncpg.Pool, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        row = await pool.fetchrow("SELECT * FROM scenario_runs WHERE status <> 'running'")
        if row is not None:
            return row
        assert time.monotonic() < deadline, "the run never finished"
        await asyncio.sleep(0.05)


async def test_tally_ends_correct_when_slack_rate_limits_updates(live: SlackDriver) -> None:
    await live.reply_text("new Support")
    await live.reply_text("set formality 95")
    test = await open_test(live, "ab Support@1 Support@2")
    # Slack answers 429 to the next updates; the SDK's handler waits Retry-After and retries
    live.slack.fail_next(
        "chat.update", error="ratelimited", status=429, times=2, headers={"Retry-After": "0"}
    )
    first = pairs(live)[0]
    for user in ("U1", "U2", "U3"):
        await live.click(ids.AB_VOTE_1, button(first, ids.AB_VOTE_1), user=user)
        await live.next_reply()
    await asyncio.sleep(0.3)
    tally = last_parent(live, test["parent_ts"])["blocks"][0]["text"]["text"]
    assert "from *3* voters" in tally
    rejected = [c for c in live.slack.of("chat.update") if c.response.get("error") == "ratelimited"]
    assert len(rejected) == 2  # they happened, and the tally still ended right


async def test_message_too_long_is_shortened_not_lost(live: SlackDriver) -> None:
    await live.reply_text("new Support")
    # the parent goes through; the first answer in the thread is refused as too long
    live.slack.fail_next("chat.postMessage", error="msg_too_long", after=1)
    await live.command("scenario run Billing questions")
    run = await finished_run(live.pool)
    await posted(live.pool)
    thread = [
        c for c in live.slack.of("chat.postMessage") if c.args.get("thread_ts") == run["parent_ts"]
    ]
    refused = [c for c in thread if c.response.get("error") == "msg_too_long"]
    shortened = [c for c in thread if "shortened: Slack refused" in str(c.args.get("text"))]
    delivered = [c for c in thread if c.response.get("ok")]
    assert len(delivered) == 3  # every answer arrived, one of them shortened
    assert len(refused) == len(shortened) == 1
    assert "blocks" not in shortened[0].args


async def test_model_error_storm_during_run_all(live: SlackDriver, model: FakeOpenAI) -> None:
    await live.reply_text("new Support")
    storm = [Failure("server_error"), Failure("rate_limit")] * 6  # beyond the client's retries
    model.fail_next(*storm)
    await live.command("scenario run all")
    run = await finished_run(live.pool)
    assert run["status"] == "completed"
    rows = await live.pool.fetch(
        "SELECT error_kind, answer FROM test_results WHERE run_id = $1", run["id"]
    )
    assert len(rows) == 9  # every message has a row: answered or marked failed
    failed = [r for r in rows if r["error_kind"]]
    assert failed and all(r["answer"] == "" for r in failed)
    assert f"({len(failed)} failed)" in await summary_of(live, run["parent_ts"])


async def test_forged_button_values_get_a_clear_answer(live: SlackDriver) -> None:
    await live.reply_text("new Support")
    out_of_date = "This button is out of date."  # a value that cannot be an id
    no_match = "That doesn't match anything in this workspace; the message may be out of date."
    for action_id, value, expected in [
        (ids.AB_VOTE_1, json.dumps({"m": 10**30, "c": "1"}), no_match),
        (ids.AB_VOTE_1, "not json", out_of_date),
        (ids.ANSWER_UP, str(10**30), out_of_date),
        (ids.ANSWER_DETAILS, "-1", out_of_date),
        (ids.CARD_HISTORY, "9" * 40, out_of_date),
        (ids.HISTORY_MORE, json.dumps({"p": "x"}), out_of_date),
        (ids.SCENARIO_RUN, "9" * 40, no_match),
        (ids.AB_CLOSE, "9" * 40, out_of_date),
    ]:
        response = await live.click(action_id, value)
        assert response.status == 200
        assert (await live.next_reply())["text"] == expected, (action_id, value)


async def test_redelivered_interactions_count_once(live: SlackDriver) -> None:
    await live.reply_text("new Support")
    await live.reply_text("set formality 95")
    await open_test(live, "ab Support@1 Support@2")
    first = pairs(live)[0]
    await asyncio.gather(
        *(live.click(ids.AB_VOTE_2, button(first, ids.AB_VOTE_2), user="U7") for _ in range(5))
    )
    await live.slack.wait_responses(5)
    assert await live.pool.fetchval("SELECT count(*) FROM ab_votes") == 1


NASTY = [
    "",
    " ",
    "\u0000",
    "\n\n\n",
    "🌼" * 500,
    "<@U1|x> <#C1|y> <!channel>",
    '"""',
    "“",
    "”",
    "set",
    "set formality",
    "set formality 1e9",
    "set formality 99999999999999999999",
    "set name " + "\u202e" * 10,
    "rollback -1",
    "rollback v",
    "rollback 99999999999",
    "ab a b c",
    "ab @ @",
    'ab x y "',
    "ab close -1",
    "ab close 9999999999999999999",
    "scenario run",
    "scenario run all @@",
    "scenario edit \t",
    'knowledge add faq "" ""',
    "knowledge remove ''",
    "test " + "x" * 5000,
    "stats --days",
    "stats --days 0",
    "stats --days 99999",
    "export --days -5",
    "editors add <@>",
    "use ../../etc",
    "new 🌼🌼",
    "new " + "a" * 10_000,
    "default \\",
    "history %s%s%s",
    "show '; DROP TABLE profiles; --",
]


async def test_fuzzed_command_text_never_crashes_or_half_writes(live: SlackDriver) -> None:
    await live.reply_text("new Support")
    rng = random.Random(7)
    alphabet = "abc @#<>|\"“”'\\/;:-_.,0123456789 \t\n🌼ёß\u200b"
    corpus = NASTY + [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60))) for _ in range(60)
    ]
    versions_before = await live.pool.fetchval("SELECT count(*) FROM profile_versions")
    for text in corpus:
        response = await live.command(text)
        assert response.status == 200, text
    await live.slack.wait_for(lambda s: len(s.responses) >= 1 + len(corpus), timeout=30)
    texts = [str(c.args.get("text", "")) for c in live.slack.responses]
    assert GENERIC_FAILURE not in texts
    # whatever the text, the database holds only whole versions, numbered without gaps
    rows = await live.pool.fetch("SELECT profile_id, version FROM profile_versions ORDER BY 1, 2")
    by_profile: dict[int, list[int]] = {}
    for r in rows:
        by_profile.setdefault(r["profile_id"], []).append(r["version"])
    assert all(v == list(range(1, len(v) + 1)) for v in by_profile.values())
    assert versions_before == 1
    # No command in the corpus is a valid edit (`set name` with ten right-to-left overrides is
    # refused: nothing visible), so nothing was saved beyond the first version.
    assert list(by_profile.values()) == [[1]]
    assert "The bot name needs at least one visible character." in texts


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_parsing_any_text_raises_only_user_errors(text: str) -> None:
    parsed = parse(text)
    assert parsed.sub == parsed.sub.lower()
    parse_version(text)
    split_run_args(text.split(), ["Billing questions", "Product inquiry"])
    for call in (
        lambda: parse_messages(text),
        lambda: validation.profile_name(text),
        lambda: validation.apply_field(DEFAULT_FIELDS, text.split(" ")[0] or "x", text),
    ):
        with contextlib.suppress(UserError):
            call()


async def test_database_connections_dropped_mid_run(live: SlackDriver, model: FakeOpenAI) -> None:
    """What a Postgres restart looks like to the app: every connection dies at once. The run's
    jobs are retried (the worker starts listening again), so it ends completed with each
    message once, and the pool recovers."""
    await live.reply_text("new Support")
    model.ttft_s = 0.3
    await live.command("scenario run all")
    await live.slack.wait_calls("chat.postMessage")  # the run is under way
    await asyncio.sleep(0.4)
    admin = await asyncpg.connect(live.deps.settings.database_url)
    try:
        killed = await admin.fetchval(
            """
            SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid()
            """
        )
    finally:
        await admin.close()
    assert killed >= 1
    deadline = time.monotonic() + 30
    while True:
        # a connection of our own: the app's pool is what is under test
        watcher = await asyncpg.connect(live.deps.settings.database_url)
        try:
            status = await watcher.fetchval("SELECT status FROM scenario_runs")
        finally:
            await watcher.close()
        if status == "completed":
            break
        assert time.monotonic() < deadline, f"the run is stuck as {status!r}"
        await asyncio.sleep(0.1)
    keys = await live.pool.fetch("SELECT DISTINCT scenario_id, position FROM test_results")
    assert len(keys) == await live.pool.fetchval("SELECT count(*) FROM test_results") == 9
    # the pool recovers: a request that meets a dead pooled connection fails cleanly (asyncpg
    # then drops that connection), and a retry gets a fresh one
    # at most one failure per pooled connection (the test pool holds 5). Each reply is read
    # from its own command's response_url: the run's reply can arrive at any moment, and taken
    # for the next command's it let two edits overlap (which before edits were made under the
    # profile's lock also lost one of them)
    replies = [await live.reply_to("set formality 70") for _ in range(6)]
    assert all(r == GENERIC_FAILURE or "Support* v2" in r for r in replies), replies
    assert any("Saved *Support* v2" in r for r in replies), replies
