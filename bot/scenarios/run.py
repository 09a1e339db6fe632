"""Running scenarios from Slack: a parent message with live progress, one thread message per
answer, and the Block Kit summary with the change against the previous run."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Final

import asyncpg
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.answers.pipeline import RunContext
from bot.blocks.scenarios import RunComparison, item_message, progress_message, summary
from bot.domain.profile import ProfileVersion
from bot.domain.results import TestResult
from bot.domain.scenarios import Scenario, ScenarioRun
from bot.errors import UserError
from bot.scenarios.engine import PlanItem, execute, plan_for, plan_from_json, plan_json
from bot.scenarios.figures import changes, figures, overall, per_scenario
from bot.slack.post import post_message
from storage import profiles as repo
from storage import results as results_repo
from storage import scenarios as scenarios_repo
from storage.scenarios import RunNotFound, RunTakenOver

log = logging.getLogger(__name__)

# chat.update is Tier 3; one progress edit a second is plenty to look live.
PROGRESS_UPDATE_S: Final = 1.0


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
) -> str | None:
    pool = ctx.pool
    if not scenarios:
        raise UserError("There are no scenarios to run. Create one with `/bot scenario new`.")
    items = plan_for(scenarios)
    run = await scenarios_repo.create_run(
        pool,
        team_id=team_id,
        profile_version_id=version.id,
        user_id=user_id,
        concurrency=concurrency,
        plan=plan_json(scenarios),
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
    await scenarios_repo.set_parent(pool, team_id=team_id, run_id=run.id, parent_ts=parent_ts)
    return await _run_and_report(
        ctx,
        client,
        run=run,
        version=version,
        items=items,
        names=names,
        channel_id=channel_id,
        parent_ts=parent_ts,
        done_before=0,
        total=len(items),
    )


async def _run_and_report(
    ctx: RunContext,
    client: AsyncWebClient,
    *,
    run: ScenarioRun,
    version: ProfileVersion,
    items: Sequence[PlanItem],
    names: Sequence[str],
    channel_id: str,
    parent_ts: str,
    done_before: int,
    total: int,
) -> str | None:
    """Answer `items`, posting each in the thread and the progress on the parent, then put the
    summary of everything the run holds (earlier answers included) on the parent. A run that
    stops half-way says how to resume it; one that a resume took over says nothing more."""
    last_progress = 0.0
    answered = done_before

    async def on_result(item: PlanItem, result: TestResult, done: int, _: int) -> None:
        nonlocal last_progress, answered
        answered = done_before + done
        text, blocks = item_message(result)
        try:
            await post_message(
                client,
                channel=channel_id,
                thread_ts=parent_ts,
                text=text,
                blocks=blocks,
                username=version.fields.bot_name,
                icon_emoji=version.fields.avatar_emoji,
            )
        except SlackApiError as exc:
            log.warning("could not post a scenario answer: %s", exc.response.get("error"))
        now = time.monotonic()
        if done_before + done < total and now - last_progress >= PROGRESS_UPDATE_S:
            last_progress = now
            text, blocks = progress_message(
                run_id=run.id,
                label=version.label,
                names=names,
                done=done_before + done,
                total=total,
            )
            await client.chat_update(channel=channel_id, ts=parent_ts, text=text, blocks=blocks)

    try:
        await execute(ctx, run=run, version=version, items=items, on_result=on_result)
    except RunTakenOver:
        return None  # the resume that took over answers the rest and posts the summary
    except Exception:
        log.exception("scenario run %d stopped", run.id)
        return stopped_text(run.id, answered=answered, total=total)
    results = await results_repo.run_results(ctx.pool, team_id=run.team_id, run_id=run.id)
    text, blocks = await summary_message(ctx.pool, run_id=run.id, version=version, results=results)
    return await _show_summary(
        client, run_id=run.id, channel_id=channel_id, parent_ts=parent_ts, text=text, blocks=blocks
    )


def stopped_text(run_id: int, *, answered: int, total: int) -> str:
    return (
        f"Scenario run #{run_id} stopped after {answered} of {total} answers because of an error "
        f"on our side. `/bot scenario rerun {run_id}` (or Resume on its message) answers the rest."
    )


async def _show_summary(
    client: AsyncWebClient,
    *,
    run_id: int,
    channel_id: str,
    parent_ts: str,
    text: str,
    blocks: list[dict[str, object]],
) -> str | None:
    """The summary replaces the progress on the parent; when Slack refuses that edit, it is
    posted as a new message instead, so a completed run's summary is never lost."""
    try:
        await client.chat_update(channel=channel_id, ts=parent_ts, text=text, blocks=blocks)
        return None
    except SlackApiError as exc:
        log.warning("could not update run %d's parent: %s", run_id, _code(exc))
    try:
        await post_message(client, channel=channel_id, text=text, blocks=blocks)
        return None
    except SlackApiError as exc:
        log.warning("could not post run %d's summary: %s", run_id, _code(exc))
    return (
        f"Scenario run #{run_id} is complete, but Slack did not take its summary. "
        "`/bot scenarios` shows each scenario's last result."
    )


def _code(exc: SlackApiError) -> str:
    return str(exc.response.get("error")) if exc.response is not None else "unknown"


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
    run = await scenarios_repo.claim_resume(pool, team_id=team_id, run_id=run_id)
    if run is None:
        return f"Scenario run #{run_id} is still running."
    version = await repo.get_version_by_id(pool, team_id=team_id, version_id=run.profile_version_id)
    planned = plan_from_json(run.plan)
    existing = await results_repo.run_results(pool, team_id=team_id, run_id=run_id)
    answered = {(r.scenario_id, r.position) for r in existing}
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
    stopped = await _run_and_report(
        ctx,
        client,
        run=run,
        version=version,
        items=missing,
        names=names,
        channel_id=target,
        parent_ts=parent_ts,
        done_before=len(existing),
        total=len(planned),
    )
    if stopped is not None:
        return stopped
    return f"Resumed scenario run #{run_id}: answered the {len(missing)} missing messages."


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
    )
