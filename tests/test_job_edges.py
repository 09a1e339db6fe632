"""The edges of scenario jobs whose worker dies half-way (issue #16): a thread post claimed but
not sent, a summary not shown after the totals were stored, an answer stored but not judged; and
429s / x-ratelimit-* headers from any model call (interactive answers, judges) reaching the
shared budget. A kill is what the database holds after one: the step's write is there, the
next step's is not (SIGKILL runs no clean-up), then the job runs again as PgQueuer would."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
import pytest
from pgqueuer import RetryRequested

from bot import ids
from bot.jobs import gave_up, scenario_message, worker
from bot.jobs.budget import model_budget
from bot.jobs.payloads import ScenarioMessageJob, ThreadPostJob
from bot.jobs.slack_clients import SlackClients
from bot.jobs.worker import Worker, options_from
from bot.model.llm import LLM
from bot.model.rate_signals import parse_duration_s
from bot.scenarios import run as scenario_run
from bot.startup.settings import Settings
from storage import jobs as jobs_repo
from storage import plan_streams
from storage.jobs import PostClaim
from tests.fake_openai import Failure, FakeOpenAI
from tests.fake_slack import FakeSlack
from tests.slack_driver import TEAM, SlackDriver
from tests.test_jobs import idle, queued_run, quick, until  # noqa: F401  (fixtures)
from tests.test_run_takeover import summaries, thread_posts
from tests.test_scenarios import posted, run_done, summary_of

# a claim whose job died (or froze) an hour ago: lapsed under any lease the tests use
LAPSE = (
    "UPDATE test_results SET posted_at = posted_at - interval '1 hour'"
    " WHERE posted_at IS NOT NULL AND posted_ts IS NULL"
)


class Killed(BaseException):
    """The process died here: nothing after it runs, no except clause catches it."""


async def _one_message(driver: SlackDriver) -> tuple[bytes, SlackClients]:
    await queued_run(driver, "Billing questions")
    payload: bytes = await driver.pool.fetchval(
        "SELECT payload FROM pgqueuer WHERE entrypoint = 'scenario_message' ORDER BY id LIMIT 1"
    )
    return payload, SlackClients(driver.deps.settings, driver.pool)


async def _post_job(driver: SlackDriver) -> tuple[bytes, str]:
    post: bytes = await driver.pool.fetchval(
        "SELECT payload FROM pgqueuer WHERE entrypoint = 'scenario_thread_post'"
    )
    parent_ts: str = await driver.pool.fetchval("SELECT parent_ts FROM scenario_runs")
    return post, parent_ts


async def test_a_post_claimed_by_a_worker_killed_before_sending_is_sent_once(
    idle: SlackDriver,  # noqa: F811
) -> None:
    payload, clients = await _one_message(idle)
    await scenario_message.handle(idle.deps, clients, payload)
    post, parent_ts = await _post_job(idle)
    result_id = ThreadPostJob.loads(post).result_id
    # the worker claimed the post and was killed before chat.postMessage
    claim = await jobs_repo.claim_post(idle.pool, team_id=TEAM, result_id=result_id, lease_s=60)
    assert claim.claim is PostClaim.POST
    # run again while the claim may still be live: it comes back later, posting nothing
    with pytest.raises(RetryRequested):
        await scenario_message.handle_post(idle.deps, clients, post, lease_s=60)
    assert thread_posts(idle, parent_ts) == []
    # once the claim has lapsed: not in the thread, so it is posted, once
    await idle.pool.execute(LAPSE)
    await scenario_message.handle_post(idle.deps, clients, post, lease_s=60)
    await scenario_message.handle_post(idle.deps, clients, post, lease_s=60)
    [sent] = thread_posts(idle, parent_ts)
    assert sent["metadata"]["event_payload"] == {"result_id": result_id}
    assert await idle.pool.fetchval(
        "SELECT posted_ts FROM test_results WHERE id = $1", result_id
    ) == str(idle.slack.of("chat.postMessage")[-1].response["ts"])


async def test_a_post_sent_by_a_worker_killed_before_recording_it_is_not_sent_again(
    idle: SlackDriver,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    payload, clients = await _one_message(idle)
    await scenario_message.handle(idle.deps, clients, payload)
    post, parent_ts = await _post_job(idle)
    result_id = ThreadPostJob.loads(post).result_id

    async def killed(*_: object, **__: object) -> None:
        raise Killed

    with monkeypatch.context() as patch:
        patch.setattr(jobs_repo, "record_post", killed)
        with pytest.raises(Killed):
            await scenario_message.handle_post(idle.deps, clients, post, lease_s=60)
    [sent] = thread_posts(idle, parent_ts)
    await idle.pool.execute(LAPSE)
    await scenario_message.handle_post(idle.deps, clients, post, lease_s=60)
    # found in the thread by its metadata (Slack sends that only when asked): not posted again
    assert thread_posts(idle, parent_ts) == [sent]
    [look] = idle.slack.of("conversations.replies")
    assert look.args["include_all_metadata"] in {True, "true", "1"}
    ts = idle.slack.of("chat.postMessage")[-1].response["ts"]
    assert await idle.pool.fetchval(
        "SELECT posted_ts FROM test_results WHERE id = $1", result_id
    ) == str(ts)


async def test_a_post_is_not_risked_when_the_thread_cannot_be_read(
    idle: SlackDriver,  # noqa: F811
) -> None:
    payload, clients = await _one_message(idle)
    await scenario_message.handle(idle.deps, clients, payload)
    post, parent_ts = await _post_job(idle)
    result_id = ThreadPostJob.loads(post).result_id
    await jobs_repo.claim_post(idle.pool, team_id=TEAM, result_id=result_id, lease_s=60)
    await idle.pool.execute(LAPSE)
    idle.slack.fail_next("conversations.replies", error="missing_scope")
    await scenario_message.handle_post(idle.deps, clients, post, lease_s=60)
    assert thread_posts(idle, parent_ts) == []  # at most once wins over eventually sent


async def test_an_unconfirmed_post_is_marked_and_counted_once_in_the_summary(
    idle: SlackDriver,  # noqa: F811
) -> None:
    """A lapsed claim in a thread the app cannot read: not posted (never twice), but marked on
    its plan item and counted in the summary, once however often its job runs; one marked after
    the summary was shown edits the summary to count it."""
    payload, clients = await _one_message(idle)
    await scenario_message.handle(idle.deps, clients, payload)
    post, parent_ts = await _post_job(idle)
    result_id = ThreadPostJob.loads(post).result_id
    # both jobs were run here rather than by a worker: their queued rows go
    await idle.pool.execute(
        "DELETE FROM pgqueuer WHERE entrypoint = 'scenario_thread_post' OR payload = $1", payload
    )
    await jobs_repo.claim_post(idle.pool, team_id=TEAM, result_id=result_id, lease_s=60)
    for _ in range(2):  # the job, and a retry of it
        await idle.pool.execute(LAPSE)
        idle.slack.fail_next("conversations.replies", error="not_in_channel")
        await scenario_message.handle_post(idle.deps, clients, post, lease_s=60)
    assert thread_posts(idle, parent_ts) == []
    assert await idle.pool.fetchval("SELECT count(*) FROM test_results WHERE post_unconfirmed") == 1
    states = await plan_streams.item_states(idle.pool, team_id=TEAM, run_id=await _run_id(idle))
    assert [s.unconfirmed for s in states] == [True]
    async with Worker(idle.deps, options=options_from(idle.deps)):
        await run_done(idle.pool)
        await posted(idle.pool)
    summary = await summary_of(idle, parent_ts)
    assert "1 answer could not be confirmed" in summary
    assert len(thread_posts(idle, parent_ts)) == 2  # the run's other two messages
    # after the summary: another post's job was killed before it recorded its post, and its
    # retry cannot read the thread either
    other = await idle.pool.fetchval(
        "SELECT id FROM test_results WHERE id <> $1 ORDER BY id LIMIT 1", result_id
    )
    await idle.pool.execute(
        "UPDATE test_results SET posted_ts = NULL, posted_at = now() - interval '1 hour'"
        " WHERE id = $1",
        other,
    )
    idle.slack.fail_next("conversations.replies", error="missing_scope")
    repost = ThreadPostJob(team_id=TEAM, run_id=await _run_id(idle), result_id=other)
    await scenario_message.handle_post(idle.deps, clients, repost.dumps(), lease_s=60)
    assert "2 answers could not be confirmed" in await summary_of(idle, parent_ts)
    assert len(summaries(idle)) == 2  # the summary, edited once more: nothing posted twice
    assert len(thread_posts(idle, parent_ts)) == 2


async def test_a_post_slack_refuses_is_not_retried_and_counted_in_the_summary(
    idle: SlackDriver,  # noqa: F811
) -> None:
    """Slack answers a thread post with a refusal (the app was removed from the channel, say):
    the post is settled (a retry of its job sends nothing) and the summary says that an
    answer is not confirmed in the thread, its figures counted."""
    payload, clients = await _one_message(idle)
    await scenario_message.handle(idle.deps, clients, payload)
    post, parent_ts = await _post_job(idle)
    await idle.pool.execute(
        "DELETE FROM pgqueuer WHERE entrypoint = 'scenario_thread_post' OR payload = $1", payload
    )
    idle.slack.fail_next("chat.postMessage", error="not_in_channel")
    tried = len(idle.slack.of("chat.postMessage"))
    await scenario_message.handle_post(idle.deps, clients, post, lease_s=60)
    await scenario_message.handle_post(idle.deps, clients, post, lease_s=60)  # a retry
    assert len(idle.slack.of("chat.postMessage")) == tried + 1
    assert thread_posts(idle, parent_ts) == []
    assert await idle.pool.fetchval("SELECT count(*) FROM test_results WHERE post_unconfirmed") == 1
    async with Worker(idle.deps, options=options_from(idle.deps)):
        await run_done(idle.pool)
        await posted(idle.pool)
    summary = await summary_of(idle, parent_ts)
    assert "1 answer could not be confirmed in the thread: Slack refused the post" in summary
    assert len(thread_posts(idle, parent_ts)) == 2  # the run's other two messages


async def _run_id(driver: SlackDriver) -> int:
    run_id: int = await driver.pool.fetchval("SELECT id FROM scenario_runs")
    return run_id


async def _reported(live: SlackDriver) -> str:
    """The reporting job's name, once it has recorded the summary as shown."""

    async def shown() -> bool:
        return bool(await live.pool.fetchval("SELECT summary_at IS NOT NULL FROM scenario_runs"))

    await until(shown, what="the summary recorded as shown")
    reporter: str = await live.pool.fetchval("SELECT reporter FROM scenario_runs")
    return reporter


async def test_a_summary_not_shown_after_the_totals_were_stored_is_shown_by_the_retry(
    live: SlackDriver,
) -> None:
    """The reporting job stored the totals (the run is completed) and was killed before it
    edited the parent: its retry shows the summary, once; other jobs of the run do not."""
    await live.reply_text("new Support")
    await live.command("scenario run Billing questions")
    [run] = await run_done(live.pool)
    await summary_of(live, run["parent_ts"])
    reporter = await _reported(live)
    # as the kill left it: reported and completed, the summary never shown
    await live.pool.execute("UPDATE scenario_runs SET summary_at = NULL")
    before = len(summaries(live))
    clients = SlackClients(live.deps.settings, live.pool)
    attempt, scenario_id, position = (int(p) for p in reporter.split(":"))
    jobs = [
        ScenarioMessageJob(
            team_id=TEAM, run_id=run["id"], attempt=attempt, scenario_id=scenario_id, position=p
        )
        for p in range(3)
    ]
    others = [j for j in jobs if j.position != position]
    [mine] = [j for j in jobs if j.position == position]
    for job in others:
        await scenario_message.handle(live.deps, clients, job.dumps())
    assert len(summaries(live)) == before
    await scenario_message.handle(live.deps, clients, mine.dumps())
    await scenario_message.handle(live.deps, clients, mine.dumps())
    assert len(summaries(live)) == before + 1
    assert await live.pool.fetchval("SELECT summary_at IS NOT NULL FROM scenario_runs")


async def test_a_summary_not_shown_before_the_totals_were_stored_is_shown_by_the_retry(
    live: SlackDriver,
) -> None:
    """Killed after claiming the report, before storing the totals: the run is still
    'running' with its report claimed; the retry completes it and shows the summary."""
    await live.reply_text("new Support")
    await live.command("scenario run Billing questions")
    [run] = await run_done(live.pool)
    await summary_of(live, run["parent_ts"])
    reporter = await _reported(live)
    await live.pool.execute(
        "UPDATE scenario_runs SET summary_at = NULL, status = 'running', totals = NULL"
    )
    before = len(summaries(live))
    attempt, scenario_id, position = (int(p) for p in reporter.split(":"))
    job = ScenarioMessageJob(
        team_id=TEAM, run_id=run["id"], attempt=attempt, scenario_id=scenario_id, position=position
    )
    await scenario_message.handle(
        live.deps, SlackClients(live.deps.settings, live.pool), job.dumps()
    )
    row = await live.pool.fetchrow("SELECT status, totals FROM scenario_runs")
    assert row["status"] == "completed" and row["totals"] is not None
    assert len(summaries(live)) == before + 1


async def test_a_message_whose_job_died_mid_judging_is_judged_on_retry(
    idle: SlackDriver,  # noqa: F811
    model: FakeOpenAI,
) -> None:
    payload, clients = await _one_message(idle)
    await scenario_message.handle(idle.deps, clients, payload)
    judged = await idle.pool.fetchrow("SELECT analysis, behaviour_results FROM test_results")
    assert judged["analysis"] is not None and judged["behaviour_results"] is not None
    # as a kill while the judges ran leaves it: the answer stored, no verdicts, not done
    await idle.pool.execute(
        "UPDATE test_results SET analysis = NULL, alignment = NULL, analysis_error = NULL,"
        " behaviour_results = NULL, judge_outcomes = NULL, done_at = NULL"
    )
    answers = [r for r in model.requests if not r.get("response_format")]
    judges = len(model.requests) - len(answers)
    await scenario_message.handle(idle.deps, clients, payload)
    row = await idle.pool.fetchrow("SELECT * FROM test_results")
    assert await idle.pool.fetchval("SELECT count(*) FROM test_results") == 1
    assert row["analysis"] is not None and row["behaviour_results"] is not None
    assert row["done_at"] is not None
    assert len([r for r in model.requests if not r.get("response_format")]) == len(answers)
    # the same judges, asked once more
    assert judges > 0 and len(model.requests) == len(answers) + 2 * judges
    # judged and done: a further retry asks nobody
    await scenario_message.handle(idle.deps, clients, payload)
    assert len(model.requests) == len(answers) + 2 * judges


async def test_a_failed_answer_is_not_judged_on_retry(
    idle: SlackDriver,  # noqa: F811
    model: FakeOpenAI,
) -> None:
    payload, clients = await _one_message(idle)
    model.fail_next(Failure("server_error"), Failure("server_error"))
    await scenario_message.handle(idle.deps, clients, payload)
    row = await idle.pool.fetchrow("SELECT error_kind, analysis FROM test_results")
    assert row["error_kind"] == "server"
    await idle.pool.execute("UPDATE test_results SET done_at = NULL")
    asked = len(model.requests)
    await scenario_message.handle(idle.deps, clients, payload)
    assert len(model.requests) == asked


# ---- 429s and x-ratelimit-* from every model call reach the shared budget ------------------


@pytest.fixture
def talking(settings: Settings, pool: asyncpg.Pool, slack: FakeSlack, llm: LLM) -> SlackDriver:
    """The app with a model and no worker: a test starts one when it needs answers."""
    return SlackDriver.build(settings=settings, pool=pool, slack=slack, llm=llm)


async def _budget(driver: SlackDriver) -> tuple[float, float]:
    row = await driver.pool.fetchrow(
        "SELECT current_limit, extract(epoch FROM paused_until - now())::float8 AS paused_s"
        " FROM model_budgets WHERE model = 'fake-model'"
    )
    assert row is not None, "the budget heard nothing"
    return float(row["current_limit"]), float(row["paused_s"])


async def test_a_429_met_by_an_interactive_answer_shrinks_the_budget(
    talking: SlackDriver, model: FakeOpenAI
) -> None:
    """/bot test's answer meets a 429 (Retry-After 5 s); the client retries and answers. The
    budget heard it: halved, batch work paused."""
    # /bot test's answer is a job: a worker writes it
    async with Worker(talking.deps, options=options_from(talking.deps)):
        await talking.reply_text("new Support")
        model.fail_next(Failure("rate_limit", retry_after="5", retry_after_ms=None))
        await talking.command("test Why was I charged twice?")

        async def halved() -> bool:
            limit = await talking.pool.fetchval(
                "SELECT current_limit FROM model_budgets WHERE model = 'fake-model'"
            )
            return limit is not None and limit < talking.deps.settings.scenario_concurrency

        # heard as the 429 arrived, while the client still waits to retry
        await until(halved, what="the budget to hear the 429")
        limit, paused_s = await _budget(talking)
        assert limit == talking.deps.settings.scenario_concurrency / 2
        assert 3 < paused_s <= 5

        async def answered() -> bool:
            return bool(await talking.pool.fetchval("SELECT count(*) FROM test_results"))

        await until(answered, what="the answer")
        limit, _ = await _budget(talking)
        # grown back a little by the answer that succeeded on the client's retry
        assert limit < talking.deps.settings.scenario_concurrency


async def test_a_429_met_by_a_judge_shrinks_the_budget(
    talking: SlackDriver, model: FakeOpenAI
) -> None:
    model_budget(talking.deps)  # what the worker and the listeners do at start
    llm = talking.deps.llm
    assert llm is not None
    # the judge retries after the Retry-After (10 ms) and succeeds
    model.fail_next(Failure("rate_limit"))
    await llm.complete_json(
        messages=[{"role": "user", "content": "rate this"}],
        schema_name="traits",
        schema={"type": "object", "properties": {}},
        model=None,
        max_tokens=50,
    )
    limit, _ = await _budget(talking)
    assert limit == talking.deps.settings.scenario_concurrency / 2


async def test_ratelimit_headers_pause_batch_work_without_halving(
    talking: SlackDriver, model: FakeOpenAI
) -> None:
    model_budget(talking.deps)
    model_budget(talking.deps)  # subscribing twice reports once
    model.extra_headers = {
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "6s",
        "x-ratelimit-remaining-tokens": "900",
    }
    assert talking.deps.llm is not None
    await talking.deps.llm.complete_json(
        messages=[{"role": "user", "content": "rate this"}],
        schema_name="traits",
        schema={"type": "object", "properties": {}},
        model=None,
        max_tokens=50,
    )
    limit, paused_s = await _budget(talking)
    assert limit == talking.deps.settings.scenario_concurrency
    assert 4 < paused_s <= 6


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("1s", 1.0),
        ("6m0s", 360.0),
        ("20ms", 0.02),
        ("1h2m3.5s", 3723.5),
        ("2.5", 2.5),
        ("", None),
        ("soon", None),
        ("5x", None),
    ],
)
def test_reset_durations(value: str, seconds: float | None) -> None:
    parsed = parse_duration_s(value)
    assert parsed == (None if seconds is None else pytest.approx(seconds))


def test_post_metadata_names_the_result() -> None:
    meta = scenario_message.post_metadata(42)
    assert json.loads(json.dumps(meta)) == {
        "event_type": scenario_message.POST_EVENT_TYPE,
        "event_payload": {"result_id": 42},
    }


async def test_a_report_failing_on_every_try_shows_why_and_resume_writes_it_once(
    idle: SlackDriver,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The job finishing the run's last message cannot write the summary (the database fails
    under it each time): after its last try PgQueuer holds it as failed, and the run's parent
    says the summary could not be written and why, with Resume; Resume writes it, once."""
    monkeypatch.setattr(worker, "RETRY_FIRST_DELAY_S", 0.05)
    monkeypatch.setattr(worker, "RETRY_MAX_DELAY_S", 0.05)
    broken = True
    real_summary = scenario_run.summary_message

    async def summary_or_fail(*args: Any, **kwargs: Any) -> Any:
        if broken:
            raise asyncpg.exceptions.ConnectionDoesNotExistError("gone, with a secret: xoxb-1")
        return await real_summary(*args, **kwargs)

    monkeypatch.setattr(scenario_message, "summary_message", summary_or_fail)
    run_id = await queued_run(idle, "Billing questions")
    async with Worker(idle.deps, options=options_from(idle.deps)):

        async def shown_failed() -> bool:
            return bool(
                await idle.pool.fetchval(
                    "SELECT report_failure IS NOT NULL FROM scenario_runs WHERE id = $1", run_id
                )
            )

        await until(shown_failed, timeout=30, what="the report's last try to fail")
        run = await idle.pool.fetchrow("SELECT * FROM scenario_runs WHERE id = $1", run_id)
        assert run["status"] == "interrupted" and run["summary_at"] is None
        assert run["report_failure"] == gave_up.DATABASE

        async def held() -> bool:
            # PgQueuer records job statuses in batches, a moment after the job ends
            n = await idle.pool.fetchval("SELECT count(*) FROM pgqueuer WHERE status = 'failed'")
            return bool(n == 1)

        await until(held, what="the job held as failed")
        parent = [
            c.args
            for c in idle.slack.of("chat.update")
            if c.args.get("ts") == run["parent_ts"] and c.response.get("ok")
        ][-1]
        shown = json.dumps(parent["blocks"])
        assert "the summary could not be written: the database did not answer" in shown
        assert "xoxb" not in shown and "gone" not in shown
        assert parent["blocks"][-1]["elements"][0]["action_id"] == ids.SCENARIO_RERUN
        assert summaries(idle) == []
        # the database is back: Resume (pressed twice at once) writes the summary, once
        broken = False
        await asyncio.gather(
            idle.click(ids.SCENARIO_RERUN, str(run_id)),
            idle.click(ids.SCENARIO_RERUN, str(run_id)),
        )
        await summary_of(idle, run["parent_ts"])
        await posted(idle.pool)
    assert len(summaries(idle)) == 1
    assert await idle.pool.fetchval(
        "SELECT status = 'completed' AND report_failure IS NULL FROM scenario_runs"
    )
    # no message was answered again, and each went to the thread once
    assert await idle.pool.fetchval("SELECT count(*) FROM test_results") == 3
    assert len(thread_posts(idle, run["parent_ts"])) == 3
