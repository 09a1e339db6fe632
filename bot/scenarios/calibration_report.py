"""The report of a queued calibration sweep, made once by the job that stores its last cell:
each trait's figures computed from the stored cells, kept and compared with the last
calibration (bot.scenarios.calibration_history), and, for a sweep started in Slack, posted
with its chart in the sweep's thread as the in-process sweep posted them. Each post is claimed
before it is sent, so a report done again (its job retried) posts nothing twice."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import asyncpg
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import limits
from bot.blocks.calibration import ended_parent
from bot.blocks.common import escape, truncate
from bot.domain.calibration_runs import CalibrationRun, Cell, CellOutcome
from bot.domain.profile import ProfileVersion
from bot.metrics.calibration import Calibration, Sample, calibrate, summary_lines
from bot.metrics.charts import calibration_chart
from bot.scenarios import calibration_history
from bot.scenarios.calibration import (
    PROXIES,
    chart_name,
    done_text,
    running_text,
    show_running,
    trait_names,
)
from bot.slack.post import post_message
from bot.slack.uploads import Upload, upload
from storage import calibration_runs as runs_repo
from storage import calibrations as calibrations_repo
from storage.calibration_runs import CellProgress

log = logging.getLogger(__name__)

NO_LEVELS: Final = "({n} samples gave no levels: model error or no judge verdict)"
MISSING: Final = (
    "({n} of {total} samples missing: their jobs failed after the queue's retries; "
    "the figures are from the rest)"
)
VERSION_GONE: Final = "its profile version ({label}) was deleted"
REPORT_FAILED: Final = (
    "its report could not be made after the queue's retries ({reason}); start the calibration again"
)


@dataclass(frozen=True, slots=True)
class TraitFigures:
    result: Calibration
    no_levels: int  # answered, but the sample gave no levels
    failed: int  # no sample: the cell's job failed on our side
    planned: int

    @property
    def lost(self) -> int:
        return self.no_levels + self.failed


def figures(run: CalibrationRun, cells: Sequence[Cell], trait: str) -> TraitFigures:
    """One trait's calibration from the cells stored, in the order the in-process sweep
    answered them (setting, question, sample)."""
    mine = sorted(
        (c for c in cells if c.key.trait == trait),
        key=lambda c: (c.key.level, c.key.question_idx, c.key.sample),
    )
    samples = [
        Sample(
            setting=c.key.level,
            perceived=dict(c.perceived),
            # in the sweep's order (jsonb keeps keys in an order of its own): the lines list
            # the proxies as the in-process sweep did
            proxies={n: c.proxies[n] for n in PROXIES if c.proxies and n in c.proxies},
        )
        for c in mine
        if c.outcome is CellOutcome.OK and c.perceived is not None
    ]
    planned = len(run.levels) * len(run.questions) * run.samples
    failed = sum(1 for c in mine if c.outcome is CellOutcome.FAILED)
    return TraitFigures(
        result=calibrate(trait, samples),
        no_levels=sum(1 for c in mine if c.outcome is CellOutcome.NO_LEVELS),
        # a cell not stored at all counts as missing too (the report runs once all are)
        failed=failed + planned - len(mine),
        planned=planned,
    )


def figure_lines(f: TraitFigures, *, indent: str = "") -> list[str]:
    """The summary of one trait and what it lacks (`indent`: the CLI's table indents the
    notes)."""
    lines = summary_lines(f.result)
    if f.no_levels:
        lines.append(indent + NO_LEVELS.format(n=f.no_levels))
    if f.failed:
        lines.append(indent + MISSING.format(n=f.failed, total=f.planned))
    return lines


def progress_words(p: CellProgress) -> str:
    """How far a sweep is, for its parent message."""
    parts = [
        f"{n} {what}"
        for n, what in (
            (p.failed, "failed"),
            (p.running, "running"),
            (p.waiting, "waiting"),
            (p.held, "held by the queue after failing"),
        )
        if n
    ]
    return f"{p.done}/{p.total} samples done" + (f" ({', '.join(parts)})" if parts else "")


def _where(run: CalibrationRun, client: AsyncWebClient | None) -> tuple[str, str] | None:
    if client is None or run.channel_id is None or run.thread_ts is None:
        return None
    return run.channel_id, run.thread_ts


async def report(
    pool: asyncpg.Pool,
    client: AsyncWebClient | None,
    *,
    run: CalibrationRun,
    version: ProfileVersion,
) -> None:
    """Keep every trait's calibration (once), post its figures and chart (once each), then
    mark the run completed and say so on the parent."""
    cells = await runs_repo.cells(pool, team_id=run.team_id, run_id=run.id)
    where = _where(run, client)
    for trait in run.traits:
        f = figures(run, cells, trait)
        calibration_id, recorded = await calibration_history.record_run(
            pool, run=run, version=version, lost=f.lost, result=f.result
        )
        if where is None or client is None:
            continue
        channel_id, thread_ts = where
        if await calibrations_repo.claim_post(
            pool, team_id=run.team_id, calibration_id=calibration_id, chart=False
        ):
            text = truncate(
                "```" + escape("\n".join(figure_lines(f) + recorded.lines)) + "```",
                limits.READABLE_MESSAGE_TEXT,
            )
            try:
                await post_message(client, channel=channel_id, thread_ts=thread_ts, text=text)
            except SlackApiError as exc:
                log.warning("calibration %d: figures not posted: %s", run.id, exc.response)
        if await calibrations_repo.claim_post(
            pool, team_id=run.team_id, calibration_id=calibration_id, chart=True
        ):
            title = f"{trait.replace('_', ' ')} on {run.label}"
            png = await asyncio.to_thread(calibration_chart, f.result, title=title)
            error = await upload(
                client,
                channel_id=channel_id,
                thread_ts=thread_ts,
                files=[Upload(chart_name(trait, run.label), png, title)],
                comment=f"Set against perceived {escape(title)}: the dashed line is the ideal.",
            )
            if error is not None:
                await _tell(client, run, error)
    await runs_repo.finish_run(pool, team_id=run.team_id, run_id=run.id)
    if where is not None and client is not None:
        await _edit_parent(pool, client, run, done_text(run.traits, label=run.label, cost=run.cost))


async def fail(
    pool: asyncpg.Pool, client: AsyncWebClient | None, *, run: CalibrationRun, reason: str
) -> None:
    """The sweep cannot go on: failed with its reason (its queued cells deleted), once, and
    said on the parent message."""
    if not await runs_repo.fail_run(pool, team_id=run.team_id, run_id=run.id, failure=reason):
        return
    log.warning("calibration %d failed: %s", run.id, reason)
    if _where(run, client) is not None and client is not None:
        text = f"Calibration of {trait_names(run.traits)} on {run.label} stopped: {reason}."
        await _edit_parent(pool, client, run, text)


async def progress(
    pool: asyncpg.Pool, client: AsyncWebClient, *, run: CalibrationRun, every_s: float
) -> None:
    """The parent's progress, edited by one job about every `every_s` seconds."""
    if _where(run, client) is None or run.thread_ts is None or run.channel_id is None:
        return
    if not await runs_repo.claim_progress(
        pool, team_id=run.team_id, run_id=run.id, every_s=every_s
    ):
        return
    async with runs_repo.parent_lock(pool, run_id=run.id, wait=False) as held:
        # the report claims the run before it takes the lock: a progress edit that gets the
        # lock after the final edit sees the claim and leaves the parent alone
        if not held or not await runs_repo.in_progress(pool, team_id=run.team_id, run_id=run.id):
            return
        p = await runs_repo.progress(pool, team_id=run.team_id, run_id=run.id, total=run.total)
        text = running_text(run.traits, label=run.label, cost=run.cost, progress=progress_words(p))
        await show_running(client, run, text)


async def _edit_parent(
    pool: asyncpg.Pool, client: AsyncWebClient, run: CalibrationRun, text: str
) -> None:
    """The sweep ended (`text`: how, unescaped): its last edit, without the Stop."""
    assert run.channel_id is not None and run.thread_ts is not None
    # waits for a progress edit in flight, so this is the parent's last edit
    async with runs_repo.parent_lock(pool, run_id=run.id, wait=True):
        try:
            await client.chat_update(
                channel=run.channel_id,
                ts=run.thread_ts,
                text=escape(text),
                blocks=ended_parent(text),
            )
        except SlackApiError as exc:
            log.warning("could not update calibration %d: %s", run.id, exc.response.get("error"))


async def _tell(client: AsyncWebClient, run: CalibrationRun, text: str) -> None:
    assert run.channel_id is not None
    try:
        await client.chat_postEphemeral(channel=run.channel_id, user=run.created_by, text=text)
    except SlackApiError as exc:
        log.warning("could not tell the starter of calibration %d: %s", run.id, exc)
