"""Scenarios end to end: list, the form, edit, delete, runs (one, all, failing, compared)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import asyncpg
import pytest

from bot import ids
from bot.jobs.worker import Worker, options_from
from bot.startup.settings import Settings
from storage import scenarios as repo
from tests.fake_openai import Failure, FakeOpenAI
from tests.slack_driver import CHANNEL, TEAM, SlackDriver


def form(name: str, messages: str, behaviours: str = "", description: str = "") -> dict[str, Any]:
    values = {
        ids.SCENARIO_NAME: name,
        ids.SCENARIO_DESCRIPTION: description,
        ids.SCENARIO_MESSAGES: messages,
        ids.SCENARIO_BEHAVIOURS: behaviours,
    }
    return {
        k: {k + ids.INPUT_SUFFIX: {"type": "plain_text_input", "value": v}}
        for k, v in values.items()
    }


async def run_done(pool: asyncpg.Pool, count: int = 1, timeout: float = 20.0) -> list[Any]:
    deadline = time.monotonic() + timeout
    while True:
        rows = await pool.fetch("SELECT * FROM scenario_runs WHERE status <> 'running' ORDER BY id")
        if len(rows) >= count:
            return list(rows)
        if time.monotonic() > deadline:
            raise AssertionError("scenario run did not finish")
        await asyncio.sleep(0.05)


async def posted(pool: asyncpg.Pool, timeout: float = 20.0) -> None:
    """Until the queue is empty: thread posts are jobs of their own, which may trail the run's
    summary by a moment (or, in a big run, by Slack's pace)."""
    deadline = time.monotonic() + timeout
    while await pool.fetchval("SELECT count(*) FROM pgqueuer WHERE status <> 'failed'"):
        assert time.monotonic() < deadline, "queued work did not finish"
        await asyncio.sleep(0.05)


def _summaries(live: SlackDriver, parent_ts: str) -> list[dict[str, Any]]:
    # progress updates carry blocks too (the Resume button); only the summary has a header
    return [
        c.args
        for c in live.slack.of("chat.update")
        if c.args["ts"] == parent_ts
        and any(b.get("type") == "header" for b in c.args.get("blocks") or [])
    ]


async def summary_of(live: SlackDriver, parent_ts: str) -> str:
    await live.slack.wait_for(lambda _: bool(_summaries(live, parent_ts)))
    return json.dumps(_summaries(live, parent_ts)[-1]["blocks"], ensure_ascii=False)


async def test_workspace_starts_with_the_seed_scenarios(driver: SlackDriver) -> None:
    await driver.command("scenarios")
    reply = await driver.next_reply()
    blocks = reply["blocks"]
    sections = [b for b in blocks if b["type"] == "section"]
    names = [s["text"]["text"].split("*")[1] for s in sections]
    assert names == ["Product inquiry", "Technical support", "Billing questions"]
    assert "• Why was I charged twice this month?" in sections[2]["text"]["text"]
    assert "_Expected:_ careful, policy-aware, empathetic" in sections[2]["text"]["text"]
    assert "_Last run:_ never run" in sections[0]["text"]["text"]
    assert all(s["accessory"]["action_id"] == ids.SCENARIO_RUN for s in sections)
    assert blocks[-1]["elements"][0]["action_id"] == ids.SCENARIO_RUN_ALL


async def test_seeding_happens_once_even_when_racing(pool: asyncpg.Pool) -> None:
    await asyncio.gather(*(repo.ensure_seeded(pool, team_id=TEAM) for _ in range(5)))
    assert await pool.fetchval("SELECT count(*) FROM scenarios") == 3


async def open_form(driver: SlackDriver, text: str) -> dict[str, Any]:
    await driver.command(text)
    view: dict[str, Any] = (await driver.slack.wait_calls("views.open"))[-1].args["view"]
    return view


async def test_create_a_scenario_through_the_form(driver: SlackDriver) -> None:
    view = await open_form(driver, "scenario new")
    assert view["callback_id"] == ids.SCENARIO_MODAL
    response = await driver.submit_view(
        view,
        form(
            "Refunds 💸", "I want my money back\n\n  Where is my refund?  ", "calm, clear\npolite"
        ),
    )
    assert response.status == 200 and response.body == ""
    assert (
        "Created scenario *Refunds 💸*: 2 messages, 3 expected behaviours"
        in (await driver.next_reply())["text"]
    )
    created = await repo.find_scenario(driver.pool, team_id=TEAM, name="refunds 💸")
    assert created.messages == ("I want my money back", "Where is my refund?")
    assert created.behaviours == ("calm", "clear", "polite")


@pytest.mark.parametrize(
    ("values", "field", "fragment"),
    [
        (form("", "hi"), ids.SCENARIO_NAME, "needs a name"),
        (form("all", "hi"), ids.SCENARIO_NAME, "reserved"),
        (form("x" * 61, "hi"), ids.SCENARIO_NAME, "At most 60"),
        (form("Empty", "  \n  "), ids.SCENARIO_MESSAGES, "at least one"),
        (form("Many", "\n".join(f"m{i}" for i in range(21))), ids.SCENARIO_MESSAGES, "At most 20"),
        (
            form("B", "hi", ",".join(f"b{i}" for i in range(11))),
            ids.SCENARIO_BEHAVIOURS,
            "At most 10",
        ),
        (form("B", "hi", "y" * 61), ids.SCENARIO_BEHAVIOURS, "short phrase"),
        (form("Billing questions", "hi"), ids.SCENARIO_NAME, "already exists"),
    ],
)
async def test_bad_scenario_input_comes_back_inline(
    driver: SlackDriver, values: dict[str, Any], field: str, fragment: str
) -> None:
    view = await open_form(driver, "scenario new")
    response = await driver.submit_view(view, values)
    body = json.loads(response.body)
    assert body["response_action"] == "errors" and fragment in body["errors"][field]
    assert await driver.pool.fetchval("SELECT count(*) FROM scenarios") == 3


async def test_edit_prefills_and_saves(driver: SlackDriver) -> None:
    view = await open_form(driver, "scenario edit billing QUESTIONS")
    blocks = {b["block_id"]: b for b in view["blocks"]}
    assert blocks[ids.SCENARIO_MESSAGES]["element"]["initial_value"].splitlines()[0] == (
        "Why was I charged twice this month?"
    )
    await driver.submit_view(view, form("Billing", "Why was I charged twice?", "careful"))
    assert "Saved scenario *Billing*" in (await driver.next_reply())["text"]
    names = [s.name for s in await repo.list_scenarios(driver.pool, team_id=TEAM)]
    assert names == ["Product inquiry", "Technical support", "Billing"]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("scenario", "Usage: `/bot scenarios`"),
        ("scenario frob", "Usage"),
        ("scenario edit Nope", "no scenario named *Nope*"),
        ("scenario delete", "Usage"),
        ("scenario new extra", "takes no arguments"),
    ],
)
async def test_bad_scenario_commands(driver: SlackDriver, text: str, fragment: str) -> None:
    assert fragment in await driver.reply_text(text)


# ---- runs ---------------------------------------------------------------------------------------


async def test_run_one_scenario_posts_answers_and_summary(
    live: SlackDriver, model: FakeOpenAI
) -> None:
    await live.reply_text("new Support")
    await live.command("scenario run Billing questions")
    [run] = await run_done(live.pool)
    assert run["status"] == "completed"
    parent_ts = run["parent_ts"]
    parent = live.slack.of("chat.postMessage")[0].args
    assert "Scenario run #1 on *Support v1*: Billing questions — 0/3 answered" in parent["text"]
    await posted(live.pool)
    thread = [
        c.args for c in live.slack.of("chat.postMessage") if c.args.get("thread_ts") == parent_ts
    ]
    assert len(thread) == 3
    assert {t["username"] for t in thread} == {"ROMASHKA Assistant"}
    first = json.dumps(thread[0]["blocks"], ensure_ascii=False)
    assert "✅ careful (80)" in first and "alignment" in first
    rows = await live.pool.fetch("SELECT * FROM test_results WHERE run_id = $1", run["id"])
    assert len(rows) == 3 and all(r["kind"] == "scenario" for r in rows)
    assert all(len(r["behaviour_results"]) == 3 for r in rows)
    text = await summary_of(live, parent_ts)
    assert "*Billing questions*" in text and "9/9 behaviours passed" in text
    assert "first run of this scenario on this profile" in text
    assert run["totals"]["overall"]["messages"] == 3


async def test_pass_is_decided_in_code_at_the_threshold(
    live: SlackDriver, model: FakeOpenAI
) -> None:
    model.behaviour_scores = {"careful": 69, "policy-aware": 70}
    await live.reply_text("new Support")
    await live.command("scenario run billing questions")
    [run] = await run_done(live.pool)
    rows = await live.pool.fetch(
        "SELECT behaviour_results FROM test_results WHERE run_id = $1", run["id"]
    )
    verdicts = {v["behaviour"]: v["passed"] for v in rows[0]["behaviour_results"]}
    assert verdicts == {"careful": False, "policy-aware": True, "empathetic": True}
    assert "6/9 behaviours passed" in await summary_of(live, run["parent_ts"])


@pytest.fixture
def narrow(settings: Settings) -> Settings:
    return settings.model_copy(update={"scenario_concurrency": 2})


async def test_run_all_is_concurrent_within_the_limit(
    narrow: Settings, pool: asyncpg.Pool, slack: Any, llm: Any, model: FakeOpenAI
) -> None:
    live = SlackDriver.build(settings=narrow, pool=pool, slack=slack, llm=llm)
    model.ttft_s = 0.2
    await live.reply_text("new Support")
    await live.command("scenario run all")
    async with Worker(live.deps, options=options_from(live.deps)):
        [run] = await run_done(live.pool)
    assert (
        await live.pool.fetchval("SELECT count(*) FROM test_results WHERE run_id = $1", run["id"])
        == 9
    )
    assert model.max_in_flight == 2  # concurrent, and never more than the setting


async def test_unbounded_enough_runs_all_messages_at_once(
    live: SlackDriver, model: FakeOpenAI
) -> None:
    model.ttft_s = 0.3
    await live.reply_text("new Support")
    started = time.monotonic()
    await live.command("scenario run all")
    await run_done(live.pool)
    elapsed = time.monotonic() - started
    assert model.max_in_flight == 4  # the default limit
    assert elapsed < 9 * 0.3  # gross: far from one after another


async def test_one_failing_message_does_not_stop_the_run(
    live: SlackDriver, model: FakeOpenAI
) -> None:
    await live.reply_text("new Support")
    model.fail_next(Failure("auth"))  # the first answer request fails for good (401)
    await live.command("scenario run Technical support")
    [run] = await run_done(live.pool)
    rows = await live.pool.fetch(
        "SELECT error_kind, answer FROM test_results WHERE run_id = $1 ORDER BY id", run["id"]
    )
    assert sorted(r["error_kind"] or "ok" for r in rows) == ["auth", "ok", "ok"]
    text = await summary_of(live, run["parent_ts"])
    assert "3 messages (1 failed)" in text and "6/6 behaviours passed" in text


async def test_second_run_is_compared_with_the_first(live: SlackDriver, model: FakeOpenAI) -> None:
    await live.reply_text("new Support")
    await live.command("scenario run Billing questions")
    await run_done(live.pool)
    await live.reply_text("set formality 90")
    model.behaviour_scores = {"careful": 10}
    await live.command("scenario run Billing questions")
    _, second = await run_done(live.pool, 2)
    text = await summary_of(live, second["parent_ts"])
    assert "vs run #1 on Support v1" in text
    # one behaviour of three failing is within what chance gives with one sample each
    assert "pass rate: no detectable change (100% → 67%)" in text


async def test_repeated_runs_show_intervals_and_a_detectable_change(
    live: SlackDriver, model: FakeOpenAI
) -> None:
    await live.reply_text("new Support")
    await live.command("scenario run Billing questions repeat 5")
    [first] = await run_done(live.pool)
    assert first["plan"][0]["repeat"] == 5
    rows = await live.pool.fetchval("SELECT count(*) FROM test_results WHERE run_id = $1", 1)
    assert rows == 5 * len(first["plan"][0]["messages"])
    text = await summary_of(live, first["parent_ts"])
    assert "5 samples per message" in text
    assert "pass^5 100%" in text
    model.behaviour_scores = {"careful": 10}
    await live.command("scenario run Billing questions repeat 5")
    _, second = await run_done(live.pool, 2)
    text = await summary_of(live, second["parent_ts"])
    # 15/15 then 10/15: Newcombe's interval of the difference excludes zero
    assert "pass rate ▼ (100% → 67%)" in text
    assert "pass^5 67%" in text
    assert "[" in text  # the pass rate's interval


async def test_repeat_is_bounded(live: SlackDriver) -> None:
    await live.reply_text("new Support")
    assert "from 1 to 20" in await live.reply_text("scenario run all repeat 21")
    assert "from 1 to 20" in await live.reply_text("scenario run all repeat 0")


async def test_a_costly_run_is_said_and_waits_for_confirm(
    live: SlackDriver, model: FakeOpenAI
) -> None:
    await live.reply_text("new Support")
    # 9 messages × 20 samples, each an answer, a trait judge and a behaviour judge
    text = await live.reply_text("scenario run all repeat 20")
    assert "This run makes 540 model calls (180 answers and their judges)" in text
    assert "limit of 200" in text and "`confirm`" in text
    assert await live.pool.fetchval("SELECT count(*) FROM scenario_runs") == 0
    assert model.requests == []
    await live.command("scenario run Product inquiry repeat 2 confirm")
    [run] = await run_done(live.pool)
    assert run["plan"][0]["repeat"] == 2


async def test_run_a_specific_version_and_bad_specs(live: SlackDriver) -> None:
    await live.reply_text("new Support")
    await live.reply_text("set formality 90")
    await live.command("scenario run Product inquiry Support@1")
    [run] = await run_done(live.pool)
    version = await live.pool.fetchval(
        "SELECT version FROM profile_versions WHERE id = $1", run["profile_version_id"]
    )
    assert version == 1
    assert "no scenario named *Nope*" in await live.reply_text("scenario run Nope")
    assert "has no version 7" in await live.reply_text("scenario run all Support@7")
    assert "not a version number" in await live.reply_text("scenario run all Support@x")
    assert "no profile named *Ghost*" in await live.reply_text("scenario run all Ghost")


async def test_run_buttons(live: SlackDriver) -> None:
    await live.reply_text("new Support")
    scenario = await repo.find_scenario(live.pool, team_id=TEAM, name="Product inquiry")
    await live.click(ids.SCENARIO_RUN, str(scenario.id))
    [run] = await run_done(live.pool)
    assert [p["name"] for p in run["plan"]] == ["Product inquiry"]
    await live.click(ids.SCENARIO_RUN_ALL, "all", team="T0002")
    assert "no bot profile yet" in (await live.next_reply())["text"]


async def test_delete_hides_but_past_runs_keep_what_they_ran(live: SlackDriver) -> None:
    await live.reply_text("new Support")
    await live.command("scenario run Product inquiry")
    [run] = await run_done(live.pool)
    assert "Deleted scenario *Product inquiry*" in await live.reply_text(
        "scenario delete product inquiry"
    )
    names = [s.name for s in await repo.list_scenarios(live.pool, team_id=TEAM)]
    assert "Product inquiry" not in names
    kept = await live.pool.fetch(
        "SELECT scenario_name, question FROM test_results WHERE run_id = $1", run["id"]
    )
    assert {r["scenario_name"] for r in kept} == {"Product inquiry"}
    assert len(kept) == 3


async def test_a_run_whose_process_died_shows_as_interrupted(driver: SlackDriver) -> None:
    await driver.reply_text("new Support")
    version_id = await driver.pool.fetchval("SELECT id FROM profile_versions")
    await driver.pool.execute(
        """
        INSERT INTO scenario_runs (team_id, profile_version_id, started_by, concurrency, plan,
                                   heartbeat_at)
        VALUES ($1, $2, 'U1', 4, '[]', now() - interval '5 minutes')
        """,
        TEAM,
        version_id,
    )
    await driver.reply_text("scenarios")
    assert await driver.pool.fetchval("SELECT status FROM scenario_runs") == "interrupted"


async def test_run_without_model_says_what_to_set(driver: SlackDriver) -> None:
    await driver.reply_text("new Support")
    assert "OPENAI_API_KEY" in await driver.reply_text("scenario run all")
    assert CHANNEL not in [c.args.get("channel") for c in driver.slack.of("chat.postMessage")]


async def test_small_model_run_judges_every_behaviour_and_marks_cut_answers(
    live: SlackDriver, model: FakeOpenAI
) -> None:
    # answers that run to their limit, a judge that writes as long as it is allowed to
    model.ramble_answers = True
    model.judge_mode = "ramble"
    model.ramble_integer = 75
    await live.reply_text("new Support")
    await repo.create_scenario(
        live.pool,
        team_id=TEAM,
        name="Refunds",
        description="",
        messages=["Can I get my money back?"],
        behaviours=["empathetic", "complete answer"],
        user_id="U1",
    )
    await live.command("scenario run Refunds")
    [run] = await run_done(live.pool)
    await posted(live.pool)
    [row] = await live.pool.fetch("SELECT * FROM test_results WHERE run_id = $1", run["id"])
    assert (row["finish_reason"], row["token_limit"]) == ("length", 300)
    assert row["judge_outcomes"] == {"traits": "ok", "behaviours": "ok"}
    assert [(v["behaviour"], v["passed"]) for v in row["behaviour_results"]] == [
        ("empathetic", True),
        ("complete answer", False),
    ]
    assert row["proxies"]["reading_grade"] is not None  # complete sentences were measured
    [message] = [
        c.args
        for c in live.slack.of("chat.postMessage")
        if c.args.get("thread_ts") == run["parent_ts"]
    ]
    shown = json.dumps(message["blocks"], ensure_ascii=False)
    assert "❌ complete answer: cut at the conversational style's 300-token limit" in shown
    assert "✂️ cut at the conversational style's 300-token limit" in shown
    assert "1/2 behaviours passed" in await summary_of(live, run["parent_ts"])
    # a run shows alignment only: the trait judge is asked for levels, not reasons
    [traits] = [
        r["response_format"]["json_schema"]["schema"]
        for r in model.requests
        if (r.get("response_format") or {}).get("json_schema", {}).get("name")
        == "personality_analysis"
    ]
    assert "suggestions" not in traits["properties"]


async def test_judge_that_gives_up_leaves_behaviours_not_judged_and_counted(
    live: SlackDriver, model: FakeOpenAI
) -> None:
    model.judge_reply = "I think the reply is fine."  # not JSON, whatever the mode
    await live.reply_text("new Support")
    await live.command("scenario run Billing questions")
    [run] = await run_done(live.pool)
    rows = await live.pool.fetch("SELECT * FROM test_results WHERE run_id = $1", run["id"])
    assert all(r["judge_outcomes"] == {"traits": "invalid", "behaviours": "invalid"} for r in rows)
    assert all(v["passed"] is None for r in rows for v in r["behaviour_results"])
    text = await summary_of(live, run["parent_ts"])
    assert "no behaviours judged" in text
    await live.command("stats Support")
    stats = json.dumps(await live.next_reply(), ensure_ascii=False)
    assert "judge unavailable 6 times" in stats
