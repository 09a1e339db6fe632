"""The job of one scenario message: answer and judge it, schedule its post in the run's thread
(a job of its own, at the channel's pace), edit the run's progress, and, for the job that
finishes the run's last result, post the summary.

Every step is safe to repeat, because a job can run again (its worker died after a step, or a
retry after an error on our side): the answer is stored once per (run, scenario, position) and
a job finding it stored does not answer again; the thread post is claimed before it is sent;
the summary is claimed by a compare-and-set on the run."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import timedelta
from typing import Final

from pgqueuer import RetryRequested
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.answers.pipeline import RunContext, answer_and_judge, judge_again, needs_judging
from bot.blocks.plan import SUMMARY_NOT_WRITTEN, finished_text
from bot.blocks.scenarios import (
    item_message,
    progress_message,
    report_failed_message,
    samples_message,
)
from bot.blocks.stats import without_table
from bot.domain.profile import ProfileVersion
from bot.domain.results import TestResult
from bot.domain.scenarios import ScenarioRun
from bot.jobs.budget import ModelBudget
from bot.jobs.context import JobDeps
from bot.jobs.enqueue import enqueue_thread_post
from bot.jobs.payloads import ScenarioMessageJob, ThreadPostJob
from bot.jobs.post_fence import ClaimLost, PostFence, SendLate, retry_when_rate_limited
from bot.jobs.slack_clients import SlackFor
from bot.metrics import judge_report
from bot.metrics.judges import Judge
from bot.model.llm import LLMError, LLMErrorKind
from bot.scenarios import plan_stream
from bot.scenarios.engine import INTERNAL_ERROR, PlanItem, base_result, plan_from_json
from bot.scenarios.figures import overall, per_scenario
from bot.scenarios.run import summary_message
from bot.slack import live_plan
from bot.slack.post import post_message
from bot.slack.run_summary import show_finished
from bot.slack.thread_marks import find_marked, mark
from storage import jobs as jobs_repo
from storage import plan_streams
from storage import profiles as profiles_repo
from storage import results as results_repo
from storage import scenarios as scenarios_repo
from storage.errors import VersionIdNotFound
from storage.jobs import PostClaim
from storage.post_claims import ClaimTable
from storage.results import ResultNotFound
from storage.scenarios import RunNotFound, RunTakenOver

log = logging.getLogger(__name__)

# chat.update is Tier 3; one progress edit a second (all processes together) looks live
PROGRESS_EVERY_S: Final = 1.0
# chat.postMessage allows about one message a second per channel, with short bursts: a run's
# thread posts go out at that pace, whichever processes answer them
THREAD_POST_INTERVAL_S: Final = 1.0
THREAD_POST_BURST: Final = 10
# a message answered 429 is put back in the queue this many times before it is stored as failed
RATE_LIMIT_RETRIES: Final = 20
# the metadata each thread post carries, so that a recovering job can find it in the thread
POST_EVENT_TYPE: Final = "romashka_scenario_result"
SCENARIO_DELETED: Final = (
    "This message was not run: its scenario was deleted after the run started."
)


async def handle(
    deps: JobDeps,
    slack: SlackFor,
    payload: bytes | None,
    *,
    attempts: int = 0,
    budget: ModelBudget | None = None,
) -> None:
    """`attempts`: how often the job was retried already; `budget`: the model endpoint's shared
    budget, when the answer is to wait for it (and a 429 is to be retried, not stored)."""
    job = ScenarioMessageJob.loads(payload)
    pool = deps.pool
    try:
        run = await scenarios_repo.get_run(pool, team_id=job.team_id, run_id=job.run_id)
        version = await profiles_repo.get_version_by_id(
            pool, team_id=job.team_id, version_id=run.profile_version_id
        )
    except (RunNotFound, VersionIdNotFound):
        # the workspace's data was deleted while the job waited: nothing left to answer for
        log.info("scenario run %d is gone; dropping its job", job.run_id)
        return
    if run.attempt != job.attempt:
        return  # a resume took the run over (it queued its own jobs)
    items = plan_from_json(run.plan)
    if run.status != "running":
        if run.status == "completed":
            # this job may have finished the run and stopped before its summary was shown
            client = await slack.for_team(run.team_id)
            await _progress_or_report(
                deps, client, run=run, version=version, total=len(items), reporter=job.reporter
            )
        return
    item = next(
        (i for i in items if (i.scenario_id, i.position) == (job.scenario_id, job.position)), None
    )
    if item is None:
        return
    result = await results_repo.run_item_result(
        pool,
        team_id=run.team_id,
        run_id=run.id,
        scenario_id=item.scenario_id,
        position=item.position,
    )
    if result is None:
        # the plan shows this message in progress (if a progress edit is due)
        client = await slack.for_team(run.team_id)
        await _progress_or_report(
            deps, client, run=run, version=version, total=len(items), reporter=job.reporter
        )
        try:
            result = await _answer(
                deps, run=run, version=version, item=item, attempts=attempts, budget=budget
            )
        except RunTakenOver:
            return
    elif result.done_at is None and needs_judging(result, behaviours=item.behaviours):
        # the answer was stored, then the job died while its judges ran: judged now, once
        result = await _judge_again(deps, version=version, result=result, item=item, budget=budget)
    await jobs_repo.mark_done(pool, team_id=run.team_id, result_id=result.id)
    has_thread = run.channel_id is not None and run.parent_ts is not None
    anchor = await _post_anchor(deps, run=run, item=item, result=result) if has_thread else None
    if run.channel_id is not None and anchor is not None:
        wait_s = await jobs_repo.pace_post(
            pool,
            team_id=run.team_id,
            channel_id=run.channel_id,
            interval_s=THREAD_POST_INTERVAL_S,
            burst=THREAD_POST_BURST,
        )
        post = ThreadPostJob(team_id=run.team_id, run_id=run.id, result_id=anchor)
        await enqueue_thread_post(pool, post, after_s=wait_s)
    client = await slack.for_team(run.team_id)
    if client is None:
        log.warning("scenario run %d: the workspace has no installation to post with", run.id)
    await _progress_or_report(
        deps, client, run=run, version=version, total=len(items), reporter=job.reporter
    )


async def handle_post(
    deps: JobDeps, slack: SlackFor, payload: bytes | None, *, lease_s: float | None = None
) -> None:
    """The thread post of one result: at most once, and sent even when a worker dies half-way.

    The post is claimed before it is sent and carries the result's id in its metadata; its ts
    is recorded once Slack took it. A claim without a ts older than `lease_s` belongs to a
    worker that died before or after Slack took the message: the job (run again by PgQueuer)
    looks for the message in the thread by its metadata, and posts only if it is not there.

    `lease_s` is the queue's heartbeat timeout by default: PgQueuer runs the job again only
    once its worker has stopped beating that long, so the claimant is dead (or stalled that
    long) and its last request had that long to reach Slack."""
    job = ThreadPostJob.loads(payload)
    pool = deps.pool
    if lease_s is None:
        lease_s = deps.settings.job_heartbeat_timeout_s
    try:
        run = await scenarios_repo.get_run(pool, team_id=job.team_id, run_id=job.run_id)
        version = await profiles_repo.get_version_by_id(
            pool, team_id=job.team_id, version_id=run.profile_version_id
        )
        result = await results_repo.get_result(pool, team_id=job.team_id, result_id=job.result_id)
    except (RunNotFound, VersionIdNotFound, ResultNotFound):
        return
    client = await slack.for_team(run.team_id)
    if client is None or run.channel_id is None or run.parent_ts is None:
        return
    state = await jobs_repo.claim_post(
        pool, team_id=run.team_id, result_id=result.id, lease_s=lease_s
    )
    if state.claim is PostClaim.DONE:
        return
    if state.claim is PostClaim.WAIT:
        # another worker holds the claim, or held it and died: asked again once it lapses
        raise RetryRequested(delay=timedelta(seconds=state.wait_s), reason="post claimed")
    if state.claim is PostClaim.LOOK_FIRST:
        try:
            found = await find_post(
                client, channel=run.channel_id, thread_ts=run.parent_ts, result_id=result.id
            )
        except SlackApiError as exc:
            # without the thread we cannot know whether it went out: never post twice, and
            # say so in the run's progress and summary (counted once per result)
            log.warning(
                "scenario run %d: could not read its thread to recover a post: %s",
                run.id,
                exc.response.get("error"),
            )
            await jobs_repo.mark_unconfirmed(pool, team_id=run.team_id, result_id=result.id)
            await refresh_summary(deps, client, run=run, version=version)
            return
        if found is not None:
            await jobs_repo.record_post(pool, team_id=run.team_id, result_id=result.id, ts=found)
            return
    positions = _sample_positions(run, scenario_id=result.scenario_id, position=result.position)
    if len(positions) > 1:
        samples = await results_repo.run_results_at(
            pool,
            team_id=run.team_id,
            run_id=run.id,
            scenario_id=result.scenario_id or 0,
            positions=positions,
        )
        text, blocks = samples_message(samples or [result])
    else:
        judges = await judge_report.some(
            pool, team_id=run.team_id, which=(Judge.BEHAVIOURS, Judge.TRAITS)
        )
        text, blocks = item_message(
            result, judge=judges[Judge.BEHAVIOURS], traits_judge=judges[Judge.TRAITS]
        )
    assert state.token is not None
    fence = PostFence(
        pool,
        table=ClaimTable.RESULTS,
        team_id=run.team_id,
        row_id=result.id,
        token=state.token,
        lease_s=lease_s,
    )
    try:
        response = await post_message(
            fence.client(client),
            channel=run.channel_id,
            thread_ts=run.parent_ts,
            text=text,
            blocks=blocks,
            username=version.fields.bot_name,
            icon_emoji=version.fields.avatar_emoji,
            metadata=post_metadata(result.id),
        )
    except ClaimLost:
        return  # another worker took the claim over after it lapsed: it posts
    except SendLate:
        raise RetryRequested(delay=timedelta(seconds=lease_s), reason="post late") from None
    except SlackApiError as exc:
        retry_when_rate_limited(exc, lease_s=lease_s)
        # Slack answered and refused it (not in the channel, say): settled, so no retry posts
        # it; its figures are in the summary, which counts it as not confirmed in the thread
        # (edited to, if it is already shown)
        log.warning("could not post a scenario answer: %s", exc.response.get("error"))
        await jobs_repo.mark_refused(pool, team_id=run.team_id, result_id=result.id)
        await refresh_summary(deps, client, run=run, version=version)
        return
    await jobs_repo.record_post(
        pool, team_id=run.team_id, result_id=result.id, ts=str(response.get("ts") or "")
    )


async def _answer(
    deps: JobDeps,
    *,
    run: ScenarioRun,
    version: ProfileVersion,
    item: PlanItem,
    attempts: int,
    budget: ModelBudget | None,
) -> TestResult:
    pool = deps.pool
    base = base_result(run, version, item)
    if not await scenarios_repo.scenario_exists(
        pool, team_id=run.team_id, scenario_id=item.scenario_id
    ):
        return await results_repo.insert_result(
            pool, replace(base, error_kind="internal", error=SCENARIO_DELETED)
        )
    if deps.llm is None or not deps.llm.configured:
        err = LLMError(LLMErrorKind.NOT_CONFIGURED)
        return await results_repo.insert_result(
            pool, replace(base, error_kind=err.kind.value, error=err.message)
        )
    ctx = RunContext(
        pool,
        deps.llm,
        deps.settings.context_budget_tokens,
        deps.settings.knowledge_budget_tokens,
    )
    try:
        if budget is None:
            return await answer_and_judge(
                ctx, version=version, base=base, behaviours=item.behaviours
            )
        # after this many 429s the message is stored as rate-limited, like any model error
        retry = attempts < RATE_LIMIT_RETRIES
        async with budget.lease(version.fields.model or deps.llm.default_model) as lease:
            try:
                return await answer_and_judge(
                    ctx,
                    version=version,
                    base=base,
                    behaviours=item.behaviours,
                    raise_kinds=frozenset({LLMErrorKind.RATE_LIMITED}) if retry else frozenset(),
                )
            except LLMError as err:
                lease.rate_limited(err.retry_after_s)
                pause = lease.rate_limited_for_s or 0.0
        # nothing stored: the job goes back to the queue until the endpoint takes requests again
        raise RetryRequested(delay=timedelta(seconds=pause), reason="model rate-limited")
    except (RunTakenOver, RetryRequested, asyncio.CancelledError):
        raise
    except Exception:
        log.exception("scenario run %d: message %r failed", run.id, item.message[:60])
        # if the database is what failed, this raises too and the job is retried later
        return await results_repo.insert_result(
            pool, replace(base, error_kind="internal", error=INTERNAL_ERROR)
        )


def _sample_positions(
    run: ScenarioRun, *, scenario_id: int | None, position: int | None
) -> list[int]:
    """The positions of every sample of the message at `position` (sample s of message i of n
    is at s·n + i, see bot.scenarios.engine), sample 0 first; one position without repeats."""
    if scenario_id is None or position is None:
        return [position or 0]
    for p in run.plan:
        if int(str(p["scenario_id"])) == scenario_id:
            n = len(p["messages"]) if isinstance(p["messages"], list) else 1
            repeat = int(str(p.get("repeat", 1)))
            i = position % max(1, n)
            return [s * n + i for s in range(repeat)]
    return [position]


async def _post_anchor(
    deps: JobDeps, *, run: ScenarioRun, item: PlanItem, result: TestResult
) -> int | None:
    """The result whose thread post this job queues: its own; with repeats, sample 0's once
    every sample of its message is done (one post for them all), else None. Each job marks its
    sample done before it looks, so the last of them to finish sees all done."""
    positions = _sample_positions(run, scenario_id=item.scenario_id, position=item.position)
    if len(positions) == 1:
        return result.id
    samples = await results_repo.run_results_at(
        deps.pool,
        team_id=run.team_id,
        run_id=run.id,
        scenario_id=item.scenario_id,
        positions=positions,
    )
    if len(samples) < len(positions) or any(r.done_at is None for r in samples):
        return None
    return samples[0].id


async def _judge_again(
    deps: JobDeps,
    *,
    version: ProfileVersion,
    result: TestResult,
    item: PlanItem,
    budget: ModelBudget | None,
) -> TestResult:
    ctx = RunContext(
        deps.pool,
        deps.llm,
        deps.settings.context_budget_tokens,
        deps.settings.knowledge_budget_tokens,
    )
    if budget is None or deps.llm is None:
        return await judge_again(ctx, version=version, result=result, behaviours=item.behaviours)
    async with budget.lease(deps.llm.judge_model):
        return await judge_again(ctx, version=version, result=result, behaviours=item.behaviours)


async def _progress_or_report(
    deps: JobDeps,
    client: AsyncWebClient | None,
    *,
    run: ScenarioRun,
    version: ProfileVersion,
    total: int,
    reporter: str,
) -> None:
    pool = deps.pool
    if await jobs_repo.claim_report(
        pool,
        team_id=run.team_id,
        run_id=run.id,
        attempt=run.attempt,
        total=total,
        reporter=reporter,
    ):
        try:
            await _report(deps, client, run=run, version=version)
        except BaseException:
            # a retry of this job reports instead
            await asyncio.shield(jobs_repo.release_report(pool, team_id=run.team_id, run_id=run.id))
            raise
        return
    if client is None or run.channel_id is None or run.parent_ts is None:
        return
    if not await jobs_repo.claim_progress(
        pool, team_id=run.team_id, run_id=run.id, every_s=PROGRESS_EVERY_S
    ):
        return
    async with jobs_repo.parent_message_lock(pool, run_id=run.id, wait=False) as held:
        if not held or await plan_streams.progress_closed(pool, team_id=run.team_id, run_id=run.id):
            return
        plan = plan_stream.plan_of(pool, run, version.label)
        if await live_plan.show(pool, client, deps.streams, plan):
            return
        progress = await jobs_repo.run_progress(
            pool, team_id=run.team_id, run_id=run.id, total=total
        )
        text, blocks = progress_message(
            run_id=run.id,
            label=version.label,
            names=[str(p["name"]) for p in run.plan],
            done=progress.done,
            total=total,
            failed=progress.failed,
            running=progress.running,
            waiting=progress.waiting,
            left_s=progress.left_s,
            unconfirmed=progress.unconfirmed,
        )
        try:
            await client.chat_update(
                channel=run.channel_id, ts=run.parent_ts, text=text, blocks=blocks
            )
        except SlackApiError as exc:
            log.warning("could not update run %d's progress: %s", run.id, exc.response.get("error"))


async def _report(
    deps: JobDeps, client: AsyncWebClient | None, *, run: ScenarioRun, version: ProfileVersion
) -> None:
    pool = deps.pool
    results = await results_repo.run_results(pool, team_id=run.team_id, run_id=run.id)
    totals = {
        "overall": overall(results).to_json(),
        "scenarios": {str(sid): f.to_json() for sid, f in per_scenario(results)},
    }
    await scenarios_repo.finish_run(
        pool, team_id=run.team_id, run_id=run.id, totals=totals, attempt=run.attempt
    )
    if client is None or run.channel_id is None or run.parent_ts is None:
        await jobs_repo.summary_shown(pool, team_id=run.team_id, run_id=run.id)
        return
    # waits for a progress edit in flight, so the summary is the parent's last edit; a post
    # marked unconfirmed meanwhile is counted here or edits the shown summary (refresh_summary)
    async with jobs_repo.parent_message_lock(pool, run_id=run.id, wait=True):
        text, blocks = await summary_message(pool, run_id=run.id, version=version, results=results)
        refused = await show_finished(
            pool,
            client,
            plan_stream.plan_of(pool, run, version.label),
            text=text,
            blocks=blocks,
            ending=finished_text(done=len(results), total=len(results)),
        )
        # shown, or refused twice (the warning says so): either way a retry would change
        # nothing
        await jobs_repo.summary_shown(pool, team_id=run.team_id, run_id=run.id)
    if refused is not None:
        log.warning("scenario run %d: %s", run.id, refused)


async def gave_up(deps: JobDeps, slack: SlackFor, payload: bytes | None, *, reason: str) -> None:
    """The message's job failed on its last try. When it was the job reporting the run (every
    result is stored, no summary shown), the run becomes interrupted with the `reason` and its
    parent says so, with Resume (which writes the summary, once: the report's claim is a
    compare-and-set). Otherwise its result is missing, and the run shows as interrupted once
    its work stops moving (the sweep), with Resume."""
    job = ScenarioMessageJob.loads(payload)
    pool = deps.pool
    try:
        run = await scenarios_repo.get_run(pool, team_id=job.team_id, run_id=job.run_id)
        version = await profiles_repo.get_version_by_id(
            pool, team_id=job.team_id, version_id=run.profile_version_id
        )
    except (RunNotFound, VersionIdNotFound):
        return
    total = len(plan_from_json(run.plan))
    if not await jobs_repo.report_failed(
        pool,
        team_id=run.team_id,
        run_id=run.id,
        attempt=job.attempt,
        total=total,
        reason=reason,
    ):
        return
    log.warning("scenario run %d: its summary could not be written: %s", run.id, reason)
    client = await slack.for_team(run.team_id)
    if client is None or run.channel_id is None or run.parent_ts is None:
        return
    text, blocks = report_failed_message(
        run_id=run.id,
        label=version.label,
        names=[str(p["name"]) for p in run.plan],
        total=total,
        reason=reason,
    )
    # waits for a progress edit in flight, so this is the parent's last edit
    async with jobs_repo.parent_message_lock(pool, run_id=run.id, wait=True):
        await live_plan.show_stopped(
            pool,
            client,
            plan_stream.plan_of(pool, run, version.label),
            text=text,
            blocks=blocks,
            ending=SUMMARY_NOT_WRITTEN,
        )


async def refresh_summary(
    deps: JobDeps, client: AsyncWebClient, *, run: ScenarioRun, version: ProfileVersion
) -> None:
    """A post was marked unconfirmed after the run's summary was shown: the summary on the
    parent is edited to count it (an edit, so doing it again changes nothing). Before the
    summary, the report counts it itself: both happen under the parent's lock."""
    pool = deps.pool
    if run.channel_id is None or run.parent_ts is None:
        return
    async with jobs_repo.parent_message_lock(pool, run_id=run.id, wait=True):
        if not await jobs_repo.summary_is_shown(pool, team_id=run.team_id, run_id=run.id):
            return
        results = await results_repo.run_results(pool, team_id=run.team_id, run_id=run.id)
        text, blocks = await summary_message(pool, run_id=run.id, version=version, results=results)
        for layout in (blocks, without_table(blocks)):
            try:
                await client.chat_update(
                    channel=run.channel_id, ts=run.parent_ts, text=text, blocks=layout
                )
                return
            except SlackApiError as exc:
                # a workspace refusing table blocks gets the sections alone, as show_summary
                log.warning(
                    "could not update run %d's summary: %s", run.id, exc.response.get("error")
                )


def post_metadata(result_id: int) -> dict[str, object]:
    return mark(POST_EVENT_TYPE, "result_id", result_id)


async def find_post(
    client: AsyncWebClient, *, channel: str, thread_ts: str, result_id: int
) -> str | None:
    """The ts of our thread post of `result_id`, if Slack has it."""
    return await find_marked(
        client,
        channel=channel,
        thread_ts=thread_ts,
        event_type=POST_EVENT_TYPE,
        key="result_id",
        value=result_id,
    )
