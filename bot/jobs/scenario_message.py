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

from bot.answers.pipeline import RunContext, answer_and_judge
from bot.blocks.plan import finished_text
from bot.blocks.scenarios import item_message, progress_message
from bot.domain.profile import ProfileVersion
from bot.domain.results import TestResult
from bot.domain.scenarios import ScenarioRun
from bot.jobs.budget import ModelBudget
from bot.jobs.enqueue import enqueue_thread_post
from bot.jobs.payloads import ScenarioMessageJob, ThreadPostJob
from bot.jobs.slack_clients import SlackClients
from bot.metrics import judge_report
from bot.metrics.judges import Judge
from bot.model.llm import LLMError, LLMErrorKind
from bot.scenarios import plan_stream
from bot.scenarios.engine import INTERNAL_ERROR, PlanItem, base_result, plan_from_json
from bot.scenarios.figures import overall, per_scenario
from bot.scenarios.run import show_summary, summary_message
from bot.slack.post import post_message
from bot.startup.deps import Deps
from storage import jobs as jobs_repo
from storage import profiles as profiles_repo
from storage import results as results_repo
from storage import scenarios as scenarios_repo
from storage.errors import VersionIdNotFound
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
SCENARIO_DELETED: Final = (
    "This message was not run: its scenario was deleted after the run started."
)


async def handle(
    deps: Deps,
    slack: SlackClients,
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
            await _progress_or_report(deps, client, run=run, version=version, total=len(items))
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
        await _progress_or_report(deps, client, run=run, version=version, total=len(items))
        try:
            result = await _answer(
                deps, run=run, version=version, item=item, attempts=attempts, budget=budget
            )
        except RunTakenOver:
            return
    await jobs_repo.mark_done(pool, team_id=run.team_id, result_id=result.id)
    if run.channel_id is not None and run.parent_ts is not None and result.posted_at is None:
        wait_s = await jobs_repo.pace_post(
            pool,
            team_id=run.team_id,
            channel_id=run.channel_id,
            interval_s=THREAD_POST_INTERVAL_S,
            burst=THREAD_POST_BURST,
        )
        post = ThreadPostJob(team_id=run.team_id, run_id=run.id, result_id=result.id)
        await enqueue_thread_post(pool, post, after_s=wait_s)
    client = await slack.for_team(run.team_id)
    if client is None:
        log.warning("scenario run %d: the workspace has no installation to post with", run.id)
    await _progress_or_report(deps, client, run=run, version=version, total=len(items))


async def handle_post(deps: Deps, slack: SlackClients, payload: bytes | None) -> None:
    """The thread post of one result. At most once: the claim comes first, so a job that dies
    after it leaves the message unposted (its result is stored and in the summary) rather than
    posted twice."""
    job = ThreadPostJob.loads(payload)
    pool = deps.pool
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
    if not await jobs_repo.claim_post(pool, team_id=run.team_id, result_id=result.id):
        return
    judges = await judge_report.some(
        pool, team_id=run.team_id, which=(Judge.BEHAVIOURS, Judge.TRAITS)
    )
    text, blocks = item_message(
        result, judge=judges[Judge.BEHAVIOURS], traits_judge=judges[Judge.TRAITS]
    )
    try:
        await post_message(
            client,
            channel=run.channel_id,
            thread_ts=run.parent_ts,
            text=text,
            blocks=blocks,
            username=version.fields.bot_name,
            icon_emoji=version.fields.avatar_emoji,
        )
    except SlackApiError as exc:
        log.warning("could not post a scenario answer: %s", exc.response.get("error"))


async def _answer(
    deps: Deps,
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


async def _progress_or_report(
    deps: Deps,
    client: AsyncWebClient | None,
    *,
    run: ScenarioRun,
    version: ProfileVersion,
    total: int,
) -> None:
    pool = deps.pool
    if await jobs_repo.claim_report(
        pool, team_id=run.team_id, run_id=run.id, attempt=run.attempt, total=total
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
        if not held or await jobs_repo.progress_closed(pool, team_id=run.team_id, run_id=run.id):
            return
        if await plan_stream.show(pool, client, deps.streams, run=run, label=version.label):
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
        )
        try:
            await client.chat_update(
                channel=run.channel_id, ts=run.parent_ts, text=text, blocks=blocks
            )
        except SlackApiError as exc:
            log.warning("could not update run %d's progress: %s", run.id, exc.response.get("error"))


async def _report(
    deps: Deps, client: AsyncWebClient | None, *, run: ScenarioRun, version: ProfileVersion
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
        return
    text, blocks = await summary_message(pool, run_id=run.id, version=version, results=results)
    # waits for a progress edit in flight, so the summary is the parent's last edit
    async with jobs_repo.parent_message_lock(pool, run_id=run.id, wait=True):
        refused = await show_summary(
            client,
            run_id=run.id,
            channel_id=run.channel_id,
            parent_ts=run.parent_ts,
            text=text,
            blocks=blocks,
        )
        await plan_stream.close(
            pool,
            client,
            run=run,
            label=version.label,
            ending=finished_text(done=len(results), total=len(results)),
            stopped=False,
        )
    if refused is not None:
        log.warning("scenario run %d: %s", run.id, refused)
