"""Running scenarios from Slack: a parent message with live progress, one thread message per
answer, and the Block Kit summary with the change against the previous run."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import asyncpg
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.answers.pipeline import RunContext
from bot.blocks.plan import stopped_text
from bot.blocks.scenarios import RunComparison, progress_message, stopped_message, summary
from bot.domain.profile import ProfileVersion
from bot.domain.results import TestResult
from bot.domain.scenarios import Scenario, ScenarioRun
from bot.errors import UserError
from bot.jobs.enqueue import enqueue_scenario_messages
from bot.jobs.payloads import SCENARIO_MESSAGE, ScenarioMessageJob
from bot.scenarios import plan_stream
from bot.scenarios.engine import PlanItem, model_calls, plan_for, plan_from_json, plan_json
from bot.scenarios.figures import changes, figures, overall, per_scenario
from bot.slack import live_plan
from storage import jobs as jobs_repo
from storage import profiles as repo
from storage import results as results_repo
from storage import scenarios as scenarios_repo
from storage.scenarios import RunNotFound

log = logging.getLogger(__name__)


async def start(
    ctx: RunContext,
    client: AsyncWebClient,
    *,
    concurrency: int,
    team_id: str,
    channel_id: str,
    user_id: str,
    version: ProfileVersion,
    scenarios: Sequence[Scenario],
    repeat: int = 1,
    confirm_above: int | None = None,
    confirmed: bool = False,
) -> str | None:
    pool = ctx.pool
    if not scenarios:
        raise UserError("There are no scenarios to run. Create one with `/bot scenario new`.")
    items = plan_for(scenarios, repeat=repeat)
    calls = model_calls(items)
    if confirm_above is not None and calls > confirm_above and not confirmed:
        return (
            f"This run makes {calls} model calls ({len(items)} answers and their judges), above "
            f"this workspace's limit of {confirm_above}. Add `confirm` at the end to run it."
        )
    run = await scenarios_repo.create_run(
        pool,
        team_id=team_id,
        profile_version_id=version.id,
        user_id=user_id,
        concurrency=concurrency,
        plan=plan_json(scenarios, repeat=repeat),
        channel_id=channel_id,
    )
    names = [s.name for s in scenarios]
    text, blocks = progress_message(
        run_id=run.id, label=version.label, names=names, done=0, total=len(items)
    )
    try:
        parent = await client.chat_postMessage(channel=channel_id, text=text, blocks=blocks)
    except SlackApiError as exc:
        log.warning("could not post the run's parent message: %s", exc.response.get("error"))
        await scenarios_repo.finish_run(
            pool, team_id=team_id, run_id=run.id, totals={}, attempt=run.attempt
        )
        return (
            "I can't post in this conversation. Invite me with `/invite @ROMASHKA` and try again."
        )
    parent_ts = str(parent["ts"])
    await queue_items(pool, run=run, items=items, parent_ts=parent_ts)
    return None


async def queue_items(
    pool: asyncpg.Pool,
    *,
    run: ScenarioRun,
    items: Sequence[PlanItem],
    parent_ts: str | None,
    entrypoint: str = SCENARIO_MESSAGE,
) -> int:
    """One job per message, queued in the transaction that records the parent message: any
    process's worker answers them, and the last one posts the summary."""
    jobs = [
        ScenarioMessageJob(
            team_id=run.team_id,
            run_id=run.id,
            attempt=run.attempt,
            scenario_id=i.scenario_id,
            position=i.position,
        )
        for i in items
    ]
    async with pool.acquire() as con, con.transaction():
        if parent_ts is not None:
            await scenarios_repo.set_parent(
                con, team_id=run.team_id, run_id=run.id, parent_ts=parent_ts
            )
        return await enqueue_scenario_messages(con, jobs, entrypoint=entrypoint)


def calls_above(scenarios: Sequence[Scenario], *, limit: int, repeat: int = 1) -> int | None:
    """A run's model calls when they are above the workspace's limit (to confirm first)."""
    calls = model_calls(plan_for(scenarios, repeat=repeat))
    return calls if calls > limit else None


async def resume_calls_above(
    pool: asyncpg.Pool, *, team_id: str, run_id: int, limit: int
) -> int | None:
    """What resuming would cost (the messages not answered yet), when above the limit; None
    when within it or when there is nothing to resume (`resume` then says why)."""
    try:
        run = await scenarios_repo.get_run(pool, team_id=team_id, run_id=run_id)
    except RunNotFound:
        return None
    existing = await results_repo.run_results(pool, team_id=team_id, run_id=run_id)
    answered = {(r.scenario_id, r.position) for r in existing if r.done_at is not None}
    missing = [i for i in plan_from_json(run.plan) if (i.scenario_id, i.position) not in answered]
    calls = model_calls(missing)
    return calls if calls > limit else None


async def resume(
    ctx: RunContext, client: AsyncWebClient, *, team_id: str, run_id: int, channel_id: str
) -> str | None:
    """Answer what an interrupted run is missing, on the same run, and post its summary."""
    pool = ctx.pool
    await scenarios_repo.mark_stale_runs_interrupted(pool)
    try:
        current = await scenarios_repo.get_run(pool, team_id=team_id, run_id=run_id)
    except RunNotFound:
        raise UserError(f"There is no scenario run #{run_id} in this workspace.") from None
    if current.status == "completed":
        return f"Scenario run #{run_id} is complete; nothing to resume."
    if current.totals is not None and "stopped_by" in current.totals:
        return f"Scenario run #{run_id} was stopped; start a new run to answer the rest."
    run = await scenarios_repo.claim_resume(pool, team_id=team_id, run_id=run_id)
    if run is None:
        return f"Scenario run #{run_id} is still running."
    version = await repo.get_version_by_id(pool, team_id=team_id, version_id=run.profile_version_id)
    planned = plan_from_json(run.plan)
    existing = await results_repo.run_results(pool, team_id=team_id, run_id=run_id)
    # a result whose job stopped half-way (not done) gets a job again; it is not re-answered
    answered = {(r.scenario_id, r.position) for r in existing if r.done_at is not None}
    missing = [i for i in planned if (i.scenario_id, i.position) not in answered]
    names = [str(p["name"]) for p in run.plan]
    target = run.channel_id or channel_id
    parent_ts = run.parent_ts
    if parent_ts is None:
        text, blocks = progress_message(
            run_id=run.id,
            label=version.label,
            names=names,
            done=len(existing),
            total=len(planned),
        )
        parent = await client.chat_postMessage(channel=target, text=text, blocks=blocks)
        parent_ts = str(parent["ts"])
        await scenarios_repo.set_parent(pool, team_id=team_id, run_id=run.id, parent_ts=parent_ts)
    # nothing missing: the run only lacks its summary; the last message's job (its result
    # stored, so not answered again) reports it
    await queue_items(pool, run=run, items=missing or planned[-1:], parent_ts=None)
    if not missing:
        return f"Resumed scenario run #{run_id}: every message is answered; writing its summary."
    return f"Resumed scenario run #{run_id}: answering the {len(missing)} missing messages."


async def stop(
    pool: asyncpg.Pool, client: AsyncWebClient, *, team_id: str, run_id: int, user_id: str
) -> str:
    """Stop a running run: its queued jobs are deleted (a job being answered finishes and is
    stored, but edits nothing), and its parent says who stopped it and where."""
    try:
        run = await scenarios_repo.get_run(pool, team_id=team_id, run_id=run_id)
    except RunNotFound:
        raise UserError(f"There is no scenario run #{run_id} in this workspace.") from None
    total = len(plan_from_json(run.plan))
    stopped = await jobs_repo.stop_run(
        pool, team_id=team_id, run_id=run_id, user_id=user_id, total=total
    )
    if stopped is None:
        return f"Scenario run #{run_id} is not running; nothing to stop."
    if stopped.channel_id is not None and stopped.parent_ts is not None:
        version = await repo.get_version_by_id(
            pool, team_id=team_id, version_id=run.profile_version_id
        )
        text, blocks = stopped_message(
            run_id=run_id,
            label=version.label,
            names=[str(p["name"]) for p in run.plan],
            user_id=user_id,
            done=stopped.done,
            total=total,
        )
        # waits for a progress edit in flight (which then sees the run closed and stops), so
        # this is the parent's last edit
        async with jobs_repo.parent_message_lock(pool, run_id=run_id, wait=True):
            await live_plan.show_stopped(
                pool,
                client,
                plan_stream.plan_of(pool, run, version.label),
                text=text,
                blocks=blocks,
                ending=stopped_text(user_id=user_id, done=stopped.done, total=total),
            )
    return f"Stopped scenario run #{run_id} after {stopped.done} of {total} messages."


async def summary_message(
    pool: asyncpg.Pool, *, run_id: int, version: ProfileVersion, results: list[TestResult]
) -> tuple[str, list[dict[str, object]]]:
    scenarios = per_scenario(results)
    comparisons: dict[int, RunComparison] = {}
    for sid, now in scenarios:
        previous = await scenarios_repo.previous_run_id(
            pool,
            team_id=version.team_id,
            profile_id=version.profile_id,
            scenario_id=sid,
            before_run=run_id,
        )
        if previous is None:
            continue
        prev_run, prev_version = previous
        before_rows = [
            r
            for r in await results_repo.run_results(pool, team_id=version.team_id, run_id=prev_run)
            if r.scenario_id == sid
        ]
        before = figures(now.name, before_rows)
        comparisons[sid] = RunComparison(
            before=before,
            version_label=f"{version.profile_name} v{prev_version}",
            run_id=prev_run,
            arrows=changes(now, before),
        )
    return summary(
        run_id=run_id,
        label=version.label,
        scenarios=scenarios,
        total=overall(results),
        comparisons=comparisons,
        unconfirmed=await jobs_repo.unconfirmed_posts(pool, team_id=version.team_id, run_id=run_id),
    )
