"""A/B tests over simulated customers, end to end: the real app driven by signed requests, the
real job queue, the fake Slack and the fake model (a scripted customer that answers from the
seed it is sent, and bots of two versions with different names)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

import asyncpg
import pytest

from bot import ids
from bot.jobs import simulation as simulation_job
from bot.jobs.slack_clients import SlackClients
from bot.jobs.worker import Worker, options_from
from bot.model.llm import LLM
from bot.simulation import ab as simulation_ab
from bot.startup.settings import Settings
from storage import ab as ab_repo
from storage import ab_jobs
from tests.fake_openai import FakeOpenAI
from tests.fake_slack import Call, FakeSlack
from tests.slack_driver import CHANNEL, OTHER_TEAM, TEAM, SlackDriver
from tests.test_ab import last_parent
from tests.test_ab_blind import OTHER_CHANNEL, home, normal, reply, since

SIMULATOR_SCHEMA = "simulated_customer"
CHARGED_TWICE = "Charged twice (simulated)"
# the two versions' bot names: neither may appear anywhere before voting closes
NAME_A = "ROMASHKA Assistant"
NAME_B = "Ava"


def schema_name(body: dict[str, Any]) -> str | None:
    fmt = body.get("response_format") or {}
    return (fmt.get("json_schema") or {}).get("name")


def seeded_customer(body: dict[str, Any]) -> str | None:
    """The customer's next message from the seed of the request (absent: "none") and the
    number of bot turns so far: the same seed and transcript give the same customer."""
    if schema_name(body) != SIMULATOR_SCHEMA:
        return None
    user = "\n".join(str(m.get("content", "")) for m in body["messages"] if m["role"] == "user")
    bot_turns = user.count("Support bot:")
    seed = body.get("seed", "none")
    if bot_turns == 0:
        return json.dumps({"message": f"I was charged twice, ref {seed}", "state": "continue"})
    if bot_turns == 1:
        return json.dumps({"message": "When do I get my money back?", "state": "continue"})
    return json.dumps({"message": "Thanks, that is all.", "state": "goal_met"})


def simulator_requests(model: FakeOpenAI) -> list[dict[str, Any]]:
    return [b for b in model.requests if schema_name(b) == SIMULATOR_SCHEMA]


async def two_versions(live: SlackDriver) -> None:
    await live.reply_text("new Support")
    await live.reply_text("set @Support name Ava")


async def wait_status(pool: asyncpg.Pool, status: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        row = await pool.fetchrow("SELECT * FROM ab_tests ORDER BY id DESC LIMIT 1")
        if row is not None and row["status"] == status:
            return dict(row)
        assert time.monotonic() < deadline, f"the A/B test never became {status}"
        await asyncio.sleep(0.05)


def pair_posts(slack: FakeSlack, parent_ts: str) -> list[Call]:
    found = [
        c
        for c in slack.of("chat.postMessage")
        if c.args.get("thread_ts") == parent_ts and "which conversation" in str(c.args["text"])
    ]
    return sorted(found, key=lambda c: str(c.args["text"]))


def value_of(post: Call, action_id: str) -> str:
    for block in post.args["blocks"]:
        for element in block.get("elements", []) if block["type"] == "actions" else []:
            if element["action_id"] == action_id:
                return str(element["value"])
    raise AssertionError(action_id)


def transcript_value(post: Call, number: str) -> str:
    for block in post.args["blocks"]:
        for element in block.get("elements", []) if block["type"] == "actions" else []:
            if element["action_id"] == ids.AB_TRANSCRIPT and json.loads(element["value"])["c"] == (
                number
            ):
                return str(element["value"])
    raise AssertionError(number)


def everything_seen(slack: FakeSlack, calls: int, responses: int) -> list[str]:
    """Every Slack call and ephemeral reply after the first `calls` and `responses`, as text."""
    return [
        json.dumps(c.args, ensure_ascii=False)
        for c in [*slack.calls[calls:], *slack.responses[responses:]]
    ]


async def test_an_ab_over_a_simulation_is_blind_seeded_and_shown_side_by_side(
    live: SlackDriver, model: FakeOpenAI
) -> None:
    model.json_hook = seeded_customer
    await two_versions(live)
    before = len(live.slack.calls), len(live.slack.responses)
    await live.command(f"ab Support@1 Support@2 simulation {CHARGED_TWICE} repeat 2")
    test = await wait_status(live.pool, "open")
    ab_id, parent_ts = test["id"], test["parent_ts"]
    [sim] = await live.pool.fetch("SELECT * FROM simulation_ab_tests")
    # two quiet runs, each sample i of both with seed base + i
    convs = await live.pool.fetch("SELECT * FROM simulation_conversations ORDER BY run_id, sample")
    assert len(convs) == 4 and all(c["ending"] == "goal_met" for c in convs)
    by_run: dict[int, list[int]] = {}
    for c in convs:
        by_run.setdefault(c["run_id"], []).append(c["seed"])
    base = sim["seed_base"]
    assert by_run == {sim["run_a_id"]: [base, base + 1], sim["run_b_id"]: [base, base + 1]}
    assert all(c["seed_honoured"] is True for c in convs)
    # the simulator was sent each seed, by both sides; the same seed gave the same customer
    sent = [b.get("seed") for b in simulator_requests(model)]
    assert set(sent) == {base, base + 1} and sent.count(base) == sent.count(base + 1)
    assert all(b["temperature"] == pytest.approx(0.7) for b in simulator_requests(model))
    firsts = await live.pool.fetch(
        """
        SELECT c.run_id, c.sample, t.text FROM simulation_turns t
        JOIN simulation_conversations c ON c.id = t.conversation_id WHERE t.turn = 0
        ORDER BY c.sample, c.run_id
        """
    )
    assert [f["text"] for f in firsts] == [
        f"I was charged twice, ref {base}",
        f"I was charged twice, ref {base}",
        f"I was charged twice, ref {base + 1}",
        f"I was charged twice, ref {base + 1}",
    ]
    # the bots' answers are A/B answers of the test's thread (left out of stats while open)
    kinds = await live.pool.fetch(
        "SELECT DISTINCT kind, thread_ts FROM test_results WHERE scenario_name = $1",
        CHARGED_TWICE,
    )
    assert [(k["kind"], k["thread_ts"]) for k in kinds] == [("ab", parent_ts)]

    posts = pair_posts(live.slack, parent_ts)
    assert len(posts) == 2
    assert {p.args["username"] for p in posts} == {"ROMASHKA A/B"}

    # votes: one per person per pair, changeable
    m1 = json.loads(value_of(posts[0], ids.AB_SIM_VOTE_1))["m"]
    await live.click(ids.AB_SIM_VOTE_1, value_of(posts[0], ids.AB_SIM_VOTE_1), user="U1")
    await live.click(ids.AB_SIM_VOTE_2, value_of(posts[1], ids.AB_SIM_VOTE_2), user="U1")
    await live.click(ids.AB_SIM_VOTE_2, value_of(posts[0], ids.AB_SIM_VOTE_2), user="U2")
    await live.click(ids.AB_SIM_VOTE_1, value_of(posts[0], ids.AB_SIM_VOTE_1), user="U2")
    replies = [await live.next_reply() for _ in range(4)]
    # (acknowledged in whatever order the clicks were handled)
    assert any("your vote for Conversation 1 on pair 1" in r["text"] for r in replies)
    assert any("your vote for Conversation 2 on pair 2" in r["text"] for r in replies)
    assert await live.pool.fetchval("SELECT count(*) FROM ab_votes") == 3
    [row] = await live.pool.fetch("SELECT a_first FROM ab_messages WHERE id = $1", m1)
    choices = await live.pool.fetch("SELECT choice FROM ab_votes WHERE ab_message_id = $1", m1)
    expected = "a" if row["a_first"] else "b"
    assert [c["choice"] for c in choices] == [expected, expected]

    # the transcript of a pair's conversation, without the version's bot name
    await live.click(ids.AB_TRANSCRIPT, transcript_value(posts[0], "2"))
    [view_call] = await live.slack.wait_calls("views.open")
    view = json.dumps(view_call.args["view"], ensure_ascii=False)
    assert "Conversation 2" in view and "I was charged twice, ref" in view
    assert "*Customer*" in view and "*Bot*" in view

    # blind before closing: no bot name, no side's label, no goal verdict anywhere
    seen_before_close = everything_seen(live.slack, *before)
    assert len(seen_before_close) > 10
    for seen in seen_before_close:
        for leak in (NAME_A, NAME_B, "A: Support", "B: Support", "goal: yes", "Goal reached"):
            assert leak not in seen, (leak, seen[:300])

    await live.command(f"ab close {ab_id}")
    told = await live.next_reply()
    assert f"Closed A/B test #{ab_id}" in told["text"]
    closed = await live.pool.fetchrow("SELECT * FROM ab_tests WHERE id = $1", ab_id)
    assert closed["status"] == "closed" and closed["verdict_code"] is not None
    figures = closed["verdict"]["simulation"]["figures"]
    assert [f["goal_a"]["passed"] for f in figures] == [2]
    assert [f["goal_b"]["passed"] for f in figures] == [2]
    assert figures[0]["goal_difference"]["diff"] == 0
    results = [
        c.args
        for c in live.slack.of("chat.postMessage")
        if "Result of A/B test" in str(c.args.get("text"))
    ]
    assert len(results) == 1
    text = json.dumps(results[0]["blocks"], ensure_ascii=False)
    assert "A: Support v1 · B: Support v2" in text
    assert "Goal reached · A 2/2 (100%, 95% CI 34%–100%) · B 2/2 (100%, 95% CI 34%–100%)" in text
    assert "B − A: +0 points (95% CI" in text
    assert "Drift Enthusiasm (trend)" in text
    assert "Mean alignment of the bot's turns · A " in text
    assert "took it" in text and "not honoured" not in text
    # every pair revealed in the thread
    reveals = [
        c.args
        for c in live.slack.of("chat.update")
        if "revealed" in str(c.args.get("text")) and "Pair" in str(c.args.get("text"))
    ]
    assert len(reveals) == 2
    assert all("A: Support v1" in json.dumps(r["blocks"]) for r in reveals)


async def test_a_refused_seed_is_retried_without_and_reported(
    live: SlackDriver, model: FakeOpenAI
) -> None:
    model.json_hook = seeded_customer
    model.reject_params = {"seed"}
    await two_versions(live)
    await live.command(f"ab Support@1 Support@2 simulation {CHARGED_TWICE}")
    test = await wait_status(live.pool, "open")
    convs = await live.pool.fetch("SELECT * FROM simulation_conversations")
    assert len(convs) == 2 and all(c["ending"] == "goal_met" for c in convs)
    assert all(c["seed_honoured"] is False for c in convs)
    sent = simulator_requests(model)
    # Refused (the 400), then never sent again to that model. A and B play at once, so each
    # side's first request may be built before the other's refusal is known: at most one seeded
    # request per conversation, every one of them refused, and none after either side's retry.
    refused = [i for i, b in enumerate(sent) if "seed" in b]
    assert 1 <= len(refused) <= len(convs)
    assert all(model.replies[model.requests.index(sent[i])] is None for i in refused)

    def opening(body: dict[str, Any]) -> bool:
        return "<conversation>" not in body["messages"][-1]["content"]

    assert all(opening(sent[i]) for i in refused)
    assert any(not opening(b) for b in sent)
    await live.command(f"ab close {test['id']}")
    await live.next_reply()
    [result] = [
        c.args
        for c in live.slack.of("chat.postMessage")
        if "Result of A/B test" in str(c.args.get("text"))
    ]
    assert "Seed not honoured" in json.dumps(result["blocks"], ensure_ascii=False)


async def test_slack_refusing_the_parent_fails_the_test_and_stops_both_runs(
    live: SlackDriver, model: FakeOpenAI
) -> None:
    model.json_hook = seeded_customer
    await two_versions(live)
    live.slack.fail_next("chat.postMessage", error="not_in_channel")
    text = await live.reply_text(f"ab Support@1 Support@2 simulation {CHARGED_TWICE} repeat 2")
    test = await wait_status(live.pool, "failed")
    assert text == (
        f"A/B test #{test['id']} failed before it started: Slack refused my message in this "
        "conversation (`not_in_channel`). Invite me with `/invite @ROMASHKA` (or start it in a "
        "channel I am in) and start it again."
    )
    assert test["failure_reason"] == "Slack refused its first message (`not_in_channel`)"
    assert test["parent_ts"] is None
    # nothing is played for a test nobody can vote on: both runs stopped, no job queued
    runs = await live.pool.fetch("SELECT status FROM simulation_runs")
    assert [r["status"] for r in runs] == ["stopped", "stopped"]
    assert await live.pool.fetchval("SELECT count(*) FROM pgqueuer") == 0
    assert simulator_requests(model) == []


async def test_conversation_jobs_run_twice_play_and_post_once(
    settings: Settings, pool: asyncpg.Pool, slack: FakeSlack, llm: LLM, model: FakeOpenAI
) -> None:
    idle = SlackDriver.build(settings=settings, pool=pool, slack=slack, llm=llm)
    model.json_hook = seeded_customer
    await two_versions(idle)
    await idle.command(f"ab Support@1 Support@2 simulation {CHARGED_TWICE}")
    deadline = time.monotonic() + 5
    while await pool.fetchval("SELECT count(*) FROM pgqueuer") < 2:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    payloads = [r["payload"] for r in await pool.fetch("SELECT payload FROM pgqueuer ORDER BY id")]
    clients = SlackClients(idle.deps.settings, pool)
    for payload in payloads:
        await simulation_job.handle(idle.deps, clients, payload)
    requests, posts = len(model.requests), len(slack.of("chat.postMessage"))
    assert await pool.fetchval("SELECT status FROM ab_tests") == "open"
    # a retry of each (its worker died before the queue heard) adds nothing
    for payload in payloads:
        await simulation_job.handle(idle.deps, clients, payload)
    assert len(model.requests) == requests and len(slack.of("chat.postMessage")) == posts
    assert len(pair_posts(slack, await pool.fetchval("SELECT parent_ts FROM ab_tests"))) == 1
    assert await pool.fetchval("SELECT count(*) FROM simulation_conversations") == 2
    assert await pool.fetchval("SELECT count(*) FROM simulation_turns") == 10


async def test_cancelling_stops_both_runs(
    settings: Settings, pool: asyncpg.Pool, slack: FakeSlack, llm: LLM, model: FakeOpenAI
) -> None:
    idle = SlackDriver.build(settings=settings, pool=pool, slack=slack, llm=llm)
    model.json_hook = seeded_customer
    await two_versions(idle)
    await idle.command(f"ab Support@1 Support@2 simulation {CHARGED_TWICE} repeat 2")
    deadline = time.monotonic() + 5
    while await pool.fetchval("SELECT count(*) FROM pgqueuer") < 4:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    ab_id = await pool.fetchval("SELECT id FROM ab_tests")
    # its conversations wait in the queue: the stuck-test sweep leaves it answering
    assert await ab_repo.mark_stale_tests_interrupted(pool, stale_after_s=0) == 0
    assert await pool.fetchval("SELECT status FROM ab_tests") == "answering"
    await idle.command(f"ab cancel {ab_id}")
    assert "Cancelled" in (await idle.next_reply())["text"]
    assert await pool.fetchval("SELECT count(*) FROM pgqueuer") == 0
    statuses = await pool.fetch("SELECT status FROM simulation_runs")
    assert [s["status"] for s in statuses] == ["stopped", "stopped"]


async def run_blind(
    live: SlackDriver, monkeypatch: pytest.MonkeyPatch, *, team: str, channel: str, a_first: bool
) -> dict[str, Any]:
    for text in ("new Support", "set formality 95"):
        await live.reply_text(text, team=team, channel=channel)
    monkeypatch.setattr(simulation_ab, "draw_a_first", lambda: a_first)
    monkeypatch.setattr(simulation_ab, "draw_seed_base", lambda: 1000)
    await live.command(
        f"ab Support@1 Support@2 simulation {CHARGED_TWICE} repeat 2", team=team, channel=channel
    )
    # a conversation job that found a pair's post claimed by another is asked again once that
    # claim would lapse (the heartbeat timeout, 30 s): it may edit the parent then
    deadline = time.monotonic() + 120
    while True:
        row = await live.pool.fetchrow(
            "SELECT * FROM ab_tests WHERE team_id = $1 AND status = 'open'", team
        )
        # open, and every job of the test done with its last edit of the parent (a parent read
        # while such an edit is in flight differed between the two workspaces by timing)
        if row is not None and not await live.pool.fetchval("SELECT count(*) FROM pgqueuer"):
            return dict(row)
        assert time.monotonic() < deadline, "the A/B test never opened"
        await asyncio.sleep(0.05)


async def seen_by_voters(
    live: SlackDriver, *, team: str, channel: str, test: dict[str, Any]
) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    thread = pair_posts(live.slack, test["parent_ts"])
    seen["thread"] = [c.args["blocks"] for c in thread]
    confirmations = []
    for voter, position, action in (
        ("U1", 0, ids.AB_SIM_VOTE_1),
        ("U2", 1, ids.AB_SIM_VOTE_2),
        ("U1", 1, ids.AB_SIM_VOTE_TIE),
        ("U1", 0, ids.AB_SIM_VOTE_2),
    ):
        await live.click(
            action, value_of(thread[position], action), user=voter, team=team, channel=channel
        )
        confirmations.append((await live.next_reply())["text"])
    seen["confirmations"] = confirmations
    seen["parent"] = last_parent(live, test["parent_ts"])
    opened = len(live.slack.of("views.open"))
    clicked = 0
    for post in thread:
        for number in ("1", "2"):
            await live.click(
                ids.AB_TRANSCRIPT, transcript_value(post, number), team=team, channel=channel
            )
            # each modal opened before the next click: the views are compared in order, and
            # two listeners in flight may open theirs in either order
            clicked += 1
            await live.slack.wait_calls("views.open", opened + clicked)
    await live.slack.wait_calls("views.open", opened + 2 * len(thread))
    seen["transcripts"] = [a["view"] for a in since(live.slack.of("views.open"), opened)]
    seen["home"] = await home(live, team=team)
    for command in ("stats Support", "leaderboard", "export"):
        seen[command] = await reply(live, command, team=team, channel=channel)
    seen["files"] = [
        (name, data.decode("utf-8-sig"))
        for name, data, args in live.slack.files_posted()
        if args.get("channel_id") == channel
    ]
    return seen


async def test_nothing_a_voter_sees_depends_on_which_conversation_is_a(
    live: SlackDriver, model: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same test in two workspaces, identical but for the hidden order (Conversation 1 is A
    in every pair of one, B in the other), both versions answering the same text: every surface
    a voter can see comes out the same, ids and times aside; once closed, they differ."""
    model.json_hook = seeded_customer
    model.answer_text = "Sorry about that: the duplicate charge is refunded within 5 days."
    first = await run_blind(live, monkeypatch, team=TEAM, channel=CHANNEL, a_first=True)
    second = await run_blind(
        live, monkeypatch, team=OTHER_TEAM, channel=OTHER_CHANNEL, a_first=False
    )
    orders = await live.pool.fetch("SELECT ab_test_id, a_first FROM ab_messages")
    assert {(r["ab_test_id"], r["a_first"]) for r in orders} == {
        (first["id"], True),
        (second["id"], False),
    }
    one = await seen_by_voters(live, team=TEAM, channel=CHANNEL, test=first)
    other = await seen_by_voters(live, team=OTHER_TEAM, channel=OTHER_CHANNEL, test=second)
    assert one.keys() == other.keys()
    for surface in one:
        assert normal(one[surface]) == normal(other[surface]), surface
    for team, channel, test in ((TEAM, CHANNEL, first), (OTHER_TEAM, OTHER_CHANNEL, second)):
        await live.command(f"ab close {test['id']}", team=team, channel=channel)
        await live.next_reply()
    revealed = {
        c.args["channel"]: json.dumps(c.args["blocks"])
        for c in live.slack.of("chat.update")
        if str(c.args.get("text")).startswith("Pair 1 of 2: revealed")
    }
    # the check can see the order once it is shown
    assert "Conversation 1 was *A: Support v1*" in revealed[CHANNEL]
    assert "Conversation 1 was *B: Support v2*" in revealed[OTHER_CHANNEL]
    assert normal(revealed[CHANNEL]) != normal(revealed[OTHER_CHANNEL])


async def test_a_pair_posting_job_killed_half_way_is_carried_on_and_opens_with_every_pair_once(
    settings: Settings,
    pool: asyncpg.Pool,
    slack: FakeSlack,
    llm: LLM,
    model: FakeOpenAI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Worker A plays the last conversation and starts posting the pairs; it posts the first,
    claims the second's post and stops there for good (as if killed: nothing after the claim
    runs). The queue hands the job to a real worker once A's heartbeat is a timeout old: it
    carries on (the second pair looked for in the thread, not found, posted) and opens voting,
    with every pair in the thread exactly once."""
    quick = settings.model_copy(update={"job_heartbeat_timeout_s": 2.0})
    idle = SlackDriver.build(settings=quick, pool=pool, slack=slack, llm=llm)
    model.json_hook = seeded_customer
    await two_versions(idle)
    await idle.command(f"ab Support@1 Support@2 simulation {CHARGED_TWICE} repeat 3")
    deadline = time.monotonic() + 5
    while await pool.fetchval("SELECT count(*) FROM pgqueuer") < 6:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    payloads = [r["payload"] for r in await pool.fetch("SELECT payload FROM pgqueuer ORDER BY id")]
    clients = SlackClients(idle.deps.settings, pool)
    for payload in payloads[:-1]:
        await simulation_job.handle(idle.deps, clients, payload)
    assert await pool.fetchval("SELECT status FROM ab_tests") == "answering"
    real_claim = ab_jobs.claim_post
    claims = 0
    stopped = asyncio.Event()

    async def stops_after_the_second_claim(*args: Any, **kwargs: Any) -> Any:
        nonlocal claims
        claims += 1
        state = await real_claim(*args, **kwargs)
        if claims == 2:
            stopped.set()
            await asyncio.Event().wait()  # never wakes: A is gone
        return state

    monkeypatch.setattr(ab_jobs, "claim_post", stops_after_the_second_claim)
    a = asyncio.create_task(simulation_job.handle(idle.deps, clients, payloads[-1]))
    try:
        await asyncio.wait_for(stopped.wait(), timeout=30)
        parent_ts = str(await pool.fetchval("SELECT parent_ts FROM ab_tests"))
        assert len(pair_posts(slack, parent_ts)) == 1
        async with Worker(idle.deps, options=options_from(idle.deps)):
            await wait_status(pool, "open", timeout=60)
    finally:
        a.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await a
    rows = await pool.fetch("SELECT id, message_ts, failure FROM ab_messages ORDER BY position")
    assert len(rows) == 3 and all(r["message_ts"] and r["failure"] is None for r in rows)
    posts = pair_posts(slack, parent_ts)
    marked = sorted(p.args["metadata"]["event_payload"]["message_id"] for p in posts)
    assert marked == sorted(r["id"] for r in rows)  # every pair once
    assert slack.of("conversations.replies")  # the second pair was looked for before posting
