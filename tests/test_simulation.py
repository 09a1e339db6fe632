"""Simulated customers end to end: the fake model plays both sides (a scripted customer,
recognised by its request's JSON schema name, and a bot whose enthusiasm drifts by a known
amount per turn), through the real app, the real job queue and the fake Slack."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest
from scipy import stats as scipy_stats

from bot import ids
from bot.domain.simulation import Persona
from bot.jobs import simulation as simulation_job
from bot.jobs.slack_clients import SlackClients
from bot.jobs.worker import Worker, options_from
from bot.model.llm import LLM
from bot.simulation.library import SEEDS
from bot.slack import uploads
from bot.startup.settings import Settings
from storage import simulations as repo
from tests.fake_openai import Failure, FakeOpenAI, Leaning, rate, write_answer
from tests.fake_slack import FakeSlack
from tests.slack_driver import TEAM, SlackDriver

SIMULATOR_SCHEMA = "simulated_customer"
CHARGED_TWICE = "Charged twice (simulated)"
CUSTOMER_ICON = ":bust_in_silhouette:"
BOT_NAME = "ROMASHKA Assistant"


def schema_name(body: dict[str, Any]) -> str | None:
    fmt = body.get("response_format") or {}
    return (fmt.get("json_schema") or {}).get("name")


def scripted_customer(
    turns: list[tuple[str, str]], on_call: Callable[[int], None] | None = None
) -> Callable[[dict[str, Any]], str | None]:
    """Answers the simulator's requests from the script, in order; the last line repeats."""
    calls = 0

    def hook(body: dict[str, Any]) -> str | None:
        nonlocal calls
        if schema_name(body) != SIMULATOR_SCHEMA:
            return None
        message, state = turns[min(calls, len(turns) - 1)]
        calls += 1
        if on_call is not None:
            on_call(calls)
        return json.dumps({"message": message, "state": state})

    return hook


def drifting(levels: list[float]) -> Callable[[str], Leaning]:
    """A bot that leans livelier with each answer it writes (the turn count, not the prompt)."""
    answered = 0

    def leaning(_system_prompt: str) -> Leaning:
        nonlocal answered
        value = levels[min(answered, len(levels) - 1)]
        answered += 1
        return Leaning(lively=value)

    return leaning


REFUND_SCRIPT = [
    ("I was charged twice for order 48213! <!channel> fix it", "continue"),
    ("When will the refund arrive?", "continue"),
    ("Can you confirm the amount?", "continue"),
    ("And the date, please?", "continue"),
    ("Thanks, that's sorted.", "goal_met"),
]
# lively leanings of the bot's four answers
LIVELY = [0.65, 0.8, 0.95, 0.95]


async def run_finished(pool: asyncpg.Pool, timeout: float = 30.0) -> asyncpg.Record:
    deadline = time.monotonic() + timeout
    while True:
        row = await pool.fetchrow(
            "SELECT * FROM simulation_runs WHERE status = 'completed' ORDER BY id DESC LIMIT 1"
        )
        queued = await pool.fetchval("SELECT count(*) FROM pgqueuer WHERE status <> 'failed'")
        if row is not None and not queued:
            return row
        assert time.monotonic() < deadline, "the simulation run did not finish"
        await asyncio.sleep(0.05)


def thread_of(live: SlackDriver, parent_ts: str) -> list[dict[str, Any]]:
    return [
        c.args for c in live.slack.of("chat.postMessage") if c.args.get("thread_ts") == parent_ts
    ]


async def summary_blocks(live: SlackDriver, parent_ts: str) -> str:
    def summaries() -> list[dict[str, Any]]:
        return [
            c.args
            for c in live.slack.of("chat.update")
            if c.args["ts"] == parent_ts
            and any(b.get("type") == "header" for b in c.args.get("blocks") or [])
        ]

    await live.slack.wait_for(lambda _: bool(summaries()), timeout=10)
    return json.dumps(summaries()[-1]["blocks"], ensure_ascii=False)


def expected_enthusiasm_drift(target: int) -> tuple[list[float], float, float, float]:
    """The gaps the fake judge will see (its own rules) and their OLS slope with the t 95%
    interval, computed here from the textbook formulas."""
    perceived = [rate(write_answer(Leaning(lively=v)))["enthusiasm"] for v in LIVELY]
    gaps = [float(p - target) for p in perceived]
    xs = [1.0, 2.0, 3.0, 4.0]
    mx, my = sum(xs) / 4, sum(gaps) / 4
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, gaps, strict=True)) / sxx
    residuals = [y - (my + slope * (x - mx)) for x, y in zip(xs, gaps, strict=True)]
    se = math.sqrt(sum(r * r for r in residuals) / (len(xs) - 2) / sxx)
    half = float(scipy_stats.t.ppf(0.975, len(xs) - 2)) * se
    return gaps, slope, slope - half, slope + half


async def test_a_simulated_conversation_is_posted_judged_and_its_drift_measured(
    live: SlackDriver, model: FakeOpenAI
) -> None:
    model.json_hook = scripted_customer(REFUND_SCRIPT)
    model.leaning = drifting(LIVELY)
    await live.reply_text("new Support")
    await live.command(f"scenario run {CHARGED_TWICE}")
    run = await run_finished(live.pool)
    parent_ts = run["parent_ts"]
    thread = thread_of(live, parent_ts)
    # five customer turns (the last one ends it: goal met) and four bot turns, in order
    assert [t["username"] for t in thread] == [
        "Simulated customer",
        BOT_NAME,
    ] * 4 + ["Simulated customer"]
    assert {t["icon_emoji"] for t in thread[::2]} == {CUSTOMER_ICON}
    first = json.dumps(thread[0]["blocks"])
    assert "<!channel>" not in first and "&lt;!channel&gt;" in first
    assert "order 48213" in first
    # stored once per (conversation, turn), every one posted once
    turns = await live.pool.fetch("SELECT * FROM simulation_turns ORDER BY turn")
    assert [t["turn"] for t in turns] == list(range(9))
    assert all(t["posted_at"] is not None for t in turns)
    [conv] = await live.pool.fetch("SELECT * FROM simulation_conversations")
    assert conv["ending"] == "goal_met"
    assert conv["outcome"]["goal"]["verdict"] == "yes"
    assert [v["passed"] for v in conv["outcome"]["behaviours"]] == [True, True, True]

    gaps, slope, low, high = expected_enthusiasm_drift(target=50)
    [enthusiasm] = [d for d in conv["outcome"]["drift"] if d["trait"] == "enthusiasm"]
    assert [g for _, g in enthusiasm["gaps"]] == gaps
    assert enthusiasm["slope"] == pytest.approx(slope)
    assert enthusiasm["slope_low"] == pytest.approx(low)
    assert enthusiasm["slope_high"] == pytest.approx(high)
    first_outside = next(i + 1 for i, g in enumerate(gaps) if abs(g) > 15)
    assert enthusiasm["first_outside"] == first_outside == 2

    text = await summary_blocks(live, parent_ts)
    assert f"Simulation run #{run['id']}: Support v1" in text
    assert "Goal reached: 1/1 (100%) · yes 1, partly 0, no 0" in text
    assert (
        f"Enthusiasm: gap {gaps[-1]:+.0f} at turn 4 · trend {slope:+.1f}/turn "
        f"(95% CI {low:+.1f} to {high:+.1f}) · leaves ±15 at turn 2" in text
    )
    [(filename, png, args)] = live.slack.files_posted()
    assert filename == f"drift-run-{run['id']}.png" and png.startswith(b"\x89PNG")
    assert args["thread_ts"] == parent_ts


@pytest.mark.parametrize(
    ("script", "fault"),
    [
        ([("   ", "continue")], "the simulator returned an empty message"),
        (
            [("Refund please", "continue"), ("As an AI language model, I can't", "continue")],
            "the simulator broke character (“As an AI”)",
        ),
        ([("Still waiting", "continue")], "did not end the conversation within 3 turns"),
    ],
)
async def test_simulator_faults_are_reported_not_counted_against_the_bot(
    live: SlackDriver, model: FakeOpenAI, script: list[tuple[str, str]], fault: str
) -> None:
    model.json_hook = scripted_customer(script)
    await live.reply_text("new Support")
    await repo.ensure_seeded(live.pool, team_id=TEAM, seeds=SEEDS)
    await live.pool.execute("UPDATE simulation_scenarios SET turn_limit = 3")
    await live.command(f"scenario run {CHARGED_TWICE}")
    run = await run_finished(live.pool)
    [conv] = await live.pool.fetch("SELECT * FROM simulation_conversations")
    assert fault in conv["fault"]
    assert conv["ending"] in {"simulator_fault", "turn_limit"}
    summary = run["summary"]["simulations"][0]
    assert summary["counted"] == 0 and summary["goal"]["rate"]["n"] == 0
    assert run["summary"]["pass_rate"]["n"] == 0  # nothing held against the bot
    text = await summary_blocks(live, run["parent_ts"])
    assert "Goal reached: n/a (nothing judged)" in text
    assert "not counted against the bot" in text


async def test_a_model_error_mid_conversation_keeps_the_turns_so_far(
    live: SlackDriver, model: FakeOpenAI
) -> None:
    def fail_the_bots_second_answer(calls: int) -> None:
        if calls == 2:  # the request after the simulator's second turn is the bot's answer
            model.fail_next(Failure("auth"))

    model.json_hook = scripted_customer(REFUND_SCRIPT, on_call=fail_the_bots_second_answer)
    await live.reply_text("new Support")
    await live.command(f"scenario run {CHARGED_TWICE}")
    run = await run_finished(live.pool)
    [conv] = await live.pool.fetch("SELECT * FROM simulation_conversations")
    assert conv["ending"] == "model_error"
    assert "credentials" in conv["fault"] and "SECRET" not in conv["fault"]
    assert await live.pool.fetchval("SELECT count(*) FROM simulation_turns") == 3
    assert len(thread_of(live, run["parent_ts"])) == 3
    assert run["summary"]["simulations"][0]["endings"] == {"model_error": 1}


@pytest.fixture
async def quick_live(
    settings: Settings, pool: asyncpg.Pool, slack: FakeSlack, llm: LLM
) -> AsyncIterator[SlackDriver]:
    """With a worker that polls the queue every 2 s (a job put back with a delay is picked up
    by polling), as tests/test_jobs.py's `quick`."""
    quick = settings.model_copy(update={"job_heartbeat_timeout_s": 2.0})
    driver = SlackDriver.build(settings=quick, pool=pool, slack=slack, llm=llm)
    async with Worker(driver.deps, options=options_from(driver.deps)):
        yield driver


async def test_a_rate_limited_conversation_continues_without_repeating_a_turn(
    quick_live: SlackDriver, model: FakeOpenAI
) -> None:
    live = quick_live

    def rate_limit_the_next_answer(calls: int) -> None:
        if calls == 2:
            # the bot's second answer is refused until the client gives up (it retries once):
            # the job goes back to the queue and later continues from the stored turns
            model.fail_next(*(Failure("rate_limit", retry_after="0") for _ in range(2)))

    model.json_hook = scripted_customer(REFUND_SCRIPT, on_call=rate_limit_the_next_answer)
    await live.reply_text("new Support")
    await live.command(f"scenario run {CHARGED_TWICE}")
    run = await run_finished(live.pool, timeout=60)
    convs = await live.pool.fetch("SELECT * FROM simulation_conversations ORDER BY sample")
    turns = await live.pool.fetch(
        "SELECT conversation_id, turn FROM simulation_turns ORDER BY conversation_id, turn"
    )
    posts = thread_of(live, run["parent_ts"])
    assert len(posts) == len(turns)  # nothing posted twice
    assert len({(t["conversation_id"], t["turn"]) for t in turns}) == len(turns)
    # played to the end, continued from its stored turns: each turn once
    assert [c["ending"] for c in convs] == ["goal_met"]
    assert [t["turn"] for t in turns] == list(range(9))
    assert sum(1 for r in model.replies if r is None) >= 2  # the 429s were answered


async def test_a_conversation_job_run_twice_plays_and_posts_once(
    settings: Settings, pool: asyncpg.Pool, slack: FakeSlack, llm: LLM, model: FakeOpenAI
) -> None:
    idle = SlackDriver.build(settings=settings, pool=pool, slack=slack, llm=llm)
    model.json_hook = scripted_customer(REFUND_SCRIPT)
    await idle.reply_text("new Support")
    await idle.command(f"scenario run {CHARGED_TWICE}")
    await slack.wait_calls("chat.postMessage")
    deadline = time.monotonic() + 5
    while not await pool.fetchval("SELECT count(*) FROM pgqueuer"):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    payload = await pool.fetchval("SELECT payload FROM pgqueuer")
    clients = SlackClients(idle.deps.settings, pool)
    await simulation_job.handle(idle.deps, clients, payload)
    requests, posts = len(model.requests), len(slack.of("chat.postMessage"))
    # a retry of a finished conversation (its worker died before the queue heard) adds nothing
    await simulation_job.handle(idle.deps, clients, payload)
    assert len(model.requests) == requests and len(slack.of("chat.postMessage")) == posts
    assert await pool.fetchval("SELECT count(*) FROM simulation_turns") == 9
    assert await pool.fetchval("SELECT count(*) FROM simulation_conversations") == 1
    assert len(slack.files_posted()) == 1  # the report was claimed once


async def test_new_offers_the_kind_and_saves_a_simulated_customer(driver: SlackDriver) -> None:
    await driver.command("scenario new")
    view: dict[str, Any] = (await driver.slack.wait_calls("views.open"))[-1].args["view"]
    assert view["callback_id"] == ids.SCENARIO_MODAL
    assert view["blocks"][0]["block_id"] == ids.SCENARIO_KIND
    await driver.interact(
        {
            "type": "block_actions",
            "team": {"id": TEAM, "domain": "example"},
            "user": {"id": "U0001", "team_id": TEAM},
            "api_app_id": "A0001",
            "trigger_id": "t-1",
            "container": {"type": "view", "view_id": "V0001"},
            "view": {**view, "id": "V0001", "hash": "h1"},
            "actions": [
                {
                    "action_id": ids.SCENARIO_KIND,
                    "block_id": ids.SCENARIO_KIND,
                    "type": "radio_buttons",
                    "selected_option": {"value": ids.SCENARIO_KIND_SIMULATED},
                }
            ],
        }
    )
    [update] = await driver.slack.wait_calls("views.update")
    form_view = update.args["view"]
    assert form_view["callback_id"] == ids.SIMULATION_MODAL
    values = persona_values(who="A shop owner", name="Late parcel")
    response = await driver.submit_view(form_view, values)
    assert response.status == 200 and response.body == ""
    assert (
        "Created simulated customer *Late parcel*: up to 6 turns"
        in (await driver.next_reply())["text"]
    )
    saved = await repo.find_simulation(driver.pool, team_id=TEAM, name="late parcel")
    assert saved.persona.facts == "parcel 77" and saved.turn_limit == 6
    # a persona longer than the form allows is refused inline, naming the bound
    long = persona_values(who="x" * 1001, name="Too long")
    body = json.loads((await driver.submit_view(form_view, long)).body)
    assert "At most 1,000 characters (got 1,001)" in body["errors"][ids.SIMULATION_WHO]
    bad_limit = persona_values(who="ok", name="Limit", turn_limit="50")
    body = json.loads((await driver.submit_view(form_view, bad_limit)).body)
    assert "1 to 20" in body["errors"][ids.SIMULATION_TURN_LIMIT]
    taken = persona_values(who="ok", name="Billing questions")
    body = json.loads((await driver.submit_view(form_view, taken)).body)
    assert "already exists" in body["errors"][ids.SIMULATION_NAME]


def persona_values(*, who: str, name: str, turn_limit: str = "6") -> dict[str, Any]:
    values = {
        ids.SIMULATION_NAME: name,
        ids.SIMULATION_WHO: who,
        ids.SIMULATION_MOOD: "annoyed",
        ids.SIMULATION_EXPERTISE: "novice",
        ids.SIMULATION_WANTS: "the parcel",
        ids.SIMULATION_GIVES_UP: "no date",
        ids.SIMULATION_FACTS: "parcel 77",
        ids.SIMULATION_GOAL: "a delivery date",
        ids.SIMULATION_BEHAVIOURS: "empathetic",
        ids.SIMULATION_TURN_LIMIT: turn_limit,
    }
    return {
        k: {k + ids.INPUT_SUFFIX: {"type": "plain_text_input", "value": v}}
        for k, v in values.items()
    }


async def test_the_three_seeds_are_added_exactly_once(pool: asyncpg.Pool) -> None:
    await asyncio.gather(*(repo.ensure_seeded(pool, team_id=TEAM, seeds=SEEDS) for _ in range(5)))
    names = [s.name for s in await repo.list_simulations(pool, team_id=TEAM)]
    assert names == [
        "Charged twice (simulated)",
        "Cannot log in (simulated)",
        "API error codes (simulated)",
    ]
    # deleting one does not bring it back
    first = await repo.find_simulation(pool, team_id=TEAM, name=names[0])
    await repo.delete_simulation(pool, team_id=TEAM, simulation_id=first.id)
    await repo.ensure_seeded(pool, team_id=TEAM, seeds=SEEDS)
    assert len(await repo.list_simulations(pool, team_id=TEAM)) == 2
    assert isinstance(first.persona, Persona) and "48213" in first.persona.facts


@pytest.mark.parametrize("readable", [True, False])
async def test_a_turn_whose_claimant_died_is_posted_once_by_the_retry(
    readable: bool,
    settings: Settings,
    pool: asyncpg.Pool,
    slack: FakeSlack,
    llm: LLM,
    model: FakeOpenAI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Worker A claims the first turn's post and dies before its request leaves (its task is
    cancelled at the send: nothing after the claim runs, as with SIGKILL). The queue hands the
    job to a real worker once A's claim is a heartbeat timeout old: it looks in the thread,
    does not find the turn, and posts it; every turn is in the thread exactly once. When the
    thread cannot be read, the turn is not risked: it is counted as not confirmed."""
    quick = settings.model_copy(update={"job_heartbeat_timeout_s": 2.0})
    idle = SlackDriver.build(settings=quick, pool=pool, slack=slack, llm=llm)
    model.json_hook = scripted_customer(REFUND_SCRIPT)
    await idle.reply_text("new Support")
    await idle.command(f"scenario run {CHARGED_TWICE}")
    deadline = time.monotonic() + 5
    while not await pool.fetchval("SELECT count(*) FROM pgqueuer"):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    payload = await pool.fetchval("SELECT payload FROM pgqueuer")
    sending = asyncio.Event()

    async def dies_at_the_send(*_args: Any, **_kwargs: Any) -> Any:
        sending.set()
        await asyncio.Event().wait()

    monkeypatch.setattr(simulation_job, "post_message", dies_at_the_send)
    a = asyncio.create_task(
        simulation_job.handle(idle.deps, SlackClients(idle.deps.settings, pool), payload)
    )
    await asyncio.wait_for(sending.wait(), timeout=10)
    a.cancel()
    with pytest.raises(asyncio.CancelledError):
        await a
    monkeypatch.undo()
    claimed = await pool.fetchrow(
        "SELECT posted_at, posted_ts FROM simulation_turns WHERE turn = 0"
    )
    assert claimed["posted_at"] is not None and claimed["posted_ts"] is None
    assert thread_of(idle, str(await pool.fetchval("SELECT parent_ts FROM simulation_runs"))) == []
    if not readable:
        slack.fail_next("conversations.replies", error="not_in_channel")
    async with Worker(idle.deps, options=options_from(idle.deps)):
        run = await run_finished(pool, timeout=60)
    turns = await pool.fetch("SELECT id, turn FROM simulation_turns ORDER BY turn")
    posts = thread_of(idle, run["parent_ts"])
    marked = [(p.get("metadata") or {}).get("event_payload", {}).get("turn_id") for p in posts]
    assert [t["turn"] for t in turns] == list(range(9))
    assert slack.of("conversations.replies")  # the retry looked before posting
    if readable:
        # every turn once, the dead claimant's first turn among them
        assert sorted(marked) == sorted(t["id"] for t in turns)
        assert run["summary"].get("unconfirmed_posts") == 0
        return
    # every other turn once; the first neither posted again nor forgotten
    assert sorted(marked) == sorted(t["id"] for t in turns[1:])
    assert run["summary"]["unconfirmed_posts"] == 1
    assert "1 turn post not confirmed" in await summary_blocks(idle, run["parent_ts"])


async def test_a_report_retried_after_its_chart_was_shown_does_not_upload_it_again(
    settings: Settings,
    pool: asyncpg.Pool,
    slack: FakeSlack,
    llm: LLM,
    model: FakeOpenAI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The chart's upload reaches Slack but its answer does not (a timeout, say): the report
    fails and is released, and its retry shows the summary again, but not a second chart."""
    idle = SlackDriver.build(settings=settings, pool=pool, slack=slack, llm=llm)
    model.json_hook = scripted_customer(REFUND_SCRIPT)
    await idle.reply_text("new Support")
    await idle.command(f"scenario run {CHARGED_TWICE}")
    deadline = time.monotonic() + 5
    while not await idle.pool.fetchval("SELECT count(*) FROM pgqueuer"):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    payload = await idle.pool.fetchval("SELECT payload FROM pgqueuer")
    real_upload = uploads.upload

    async def uploads_then_times_out(*args: Any, **kwargs: Any) -> Any:
        await real_upload(*args, **kwargs)
        raise TimeoutError("the upload's answer never came")

    monkeypatch.setattr(simulation_job, "upload", uploads_then_times_out)
    clients = SlackClients(idle.deps.settings, idle.pool)
    with pytest.raises(TimeoutError):
        await simulation_job.handle(idle.deps, clients, payload)
    assert len(idle.slack.files_posted()) == 1
    monkeypatch.undo()
    await simulation_job.handle(idle.deps, clients, payload)
    assert await idle.pool.fetchval("SELECT reported_at IS NOT NULL FROM simulation_runs")
    assert len(idle.slack.files_posted()) == 1
