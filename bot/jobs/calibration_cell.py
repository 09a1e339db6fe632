"""The job of one calibration cell (one setting of one trait, one question, one sample of a
sweep): answer it and have the trait judge say what it perceived, store the cell once, and, for
the job that stores the sweep's last cell, report the sweep (bot.scenarios.calibration_report).

Safe to repeat: the cell's row is unique per (run, trait, setting, question, sample) and a job
that finds it stored answers nothing; the report is claimed by a compare-and-set, and what it
stores and posts is keyed and claimed. Answers and judges go through the model endpoint's
shared budget as batch work; a 429 puts the job back in the queue instead of losing the sample
(the answer is kept first, so a 429 from the judge has the retry judge that answer, not a new one).
A cell whose job keeps failing on our side is stored as failed on its last try, so the sweep
still reports (saying how many samples are missing)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Final

from pgqueuer import RetryRequested
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.calibration_runs import CalibrationRun, CellKey, CellOutcome
from bot.domain.profile import ProfileVersion
from bot.jobs.budget import DEFAULT_PAUSE_S, ModelBudget
from bot.jobs.context import JobDeps
from bot.jobs.payloads import CalibrationCellJob
from bot.jobs.slack_clients import SlackFor
from bot.model.llm import LLMError, LLMErrorKind
from bot.scenarios import calibration_report
from bot.scenarios.calibration import Levels, answer_once, at_setting, levels_of_text
from storage import calibration_runs as repo
from storage import profiles as profiles_repo
from storage.calibration_runs import CalibrationRunNotFound
from storage.errors import VersionIdNotFound

log = logging.getLogger(__name__)

# a cell whose answer or judge got 429 goes back in the queue this many times, then it is
# stored without levels
RATE_LIMIT_RETRIES: Final = 20
# chat.update is Tier 3: one progress edit of the parent a second, all workers together
PROGRESS_EVERY_S: Final = 1.0
INTERNAL_ERROR: Final = "internal error (see the app's log)"
EMPTY_ANSWER: Final = "the model's answer was empty"
NO_VERDICT: Final = "the judge gave no levels"
HELD: Final = "its job failed after the queue's retries: {reason}"


async def handle(
    deps: JobDeps,
    slack: SlackFor,
    payload: bytes | None,
    *,
    attempts: int = 0,
    max_attempts: int | None = None,
    budget: ModelBudget | None = None,
) -> None:
    """Answer and judge one cell. `attempts`: how often the job was tried already;
    `max_attempts`: the queue's limit, at which a failure on our side is stored as a failed
    cell instead of raised; `budget`: the model endpoint's shared budget (None answers at once,
    and a 429 is stored as a sample without levels)."""
    job = CalibrationCellJob.loads(payload)
    pool = deps.pool
    try:
        run = await repo.get_run(pool, team_id=job.team_id, run_id=job.run_id)
    except CalibrationRunNotFound:
        log.info("calibration %d is gone; dropping its cell job", job.run_id)
        return
    if run.status != "running":
        return  # failed or stopped meanwhile: its cells are not answered
    key = CellKey(job.trait, job.level, job.question_idx, job.sample)
    client = await slack.for_team(run.team_id) if run.channel_id is not None else None
    try:
        version = await profiles_repo.get_version_by_id(
            pool, team_id=run.team_id, version_id=run.profile_version_id
        )
    except VersionIdNotFound:
        reason = calibration_report.VERSION_GONE.format(label=run.label)
        await calibration_report.fail(pool, client, run=run, reason=reason)
        return
    if not await repo.has_cell(pool, team_id=run.team_id, run_id=run.id, key=key):
        try:
            await _answer(deps, run=run, version=version, key=key, attempts=attempts, budget=budget)
        except (RetryRequested, asyncio.CancelledError):
            raise
        except Exception:
            if max_attempts is None or attempts < max_attempts:
                raise  # the queue tries again later
            log.exception("calibration %d: cell %s failed on its last try", run.id, key)
            # if the database is what fails, this raises too and the job is held as failed
            await repo.store_cell(
                pool,
                team_id=run.team_id,
                run_id=run.id,
                key=key,
                outcome=CellOutcome.FAILED,
                error=INTERNAL_ERROR,
            )
    await _report_or_progress(deps, client, run=run, version=version, reporter=job.dedupe_key)


async def gave_up(deps: JobDeps, slack: SlackFor, payload: bytes | None, *, reason: str) -> None:
    """The cell's job failed on its last try and PgQueuer holds it as failed (`reason`: what
    kind of failure, bot.jobs.gave_up). The job stores a failed cell itself when answering is
    what failed; a failure before that (reading the run) or after it (the report) would leave
    the sweep "Calibrating…" for good. So the cell is stored as failed here if it is not, the
    sweep is reported if that was its last cell, and when the report is what keeps failing
    the sweep stops with the reason and what to do."""
    job = CalibrationCellJob.loads(payload)
    pool = deps.pool
    try:
        run = await repo.get_run(pool, team_id=job.team_id, run_id=job.run_id)
    except CalibrationRunNotFound:
        return
    if run.status != "running":
        return
    key = CellKey(job.trait, job.level, job.question_idx, job.sample)
    await repo.store_cell(
        pool,
        team_id=run.team_id,
        run_id=run.id,
        key=key,
        outcome=CellOutcome.FAILED,
        error=HELD.format(reason=reason),
    )
    client = await slack.for_team(run.team_id) if run.channel_id is not None else None
    try:
        version = await profiles_repo.get_version_by_id(
            pool, team_id=run.team_id, version_id=run.profile_version_id
        )
    except VersionIdNotFound:
        gone = calibration_report.VERSION_GONE.format(label=run.label)
        await calibration_report.fail(pool, client, run=run, reason=gone)
        return
    try:
        await _report_or_progress(deps, client, run=run, version=version, reporter=job.dedupe_key)
    except Exception:
        log.exception("calibration %d: its report failed after the queue's retries", run.id)
        stopped = calibration_report.REPORT_FAILED.format(reason=reason)
        await calibration_report.fail(pool, client, run=run, reason=stopped)


@asynccontextmanager
async def _lease(budget: ModelBudget | None, model: str) -> AsyncIterator[None]:
    """A batch lease on the shared budget for one model call; a 429 inside tells the budget
    to back off."""
    if budget is None:
        yield
        return
    async with budget.lease(model) as held:
        try:
            yield
        except LLMError as err:
            if err.kind is LLMErrorKind.RATE_LIMITED:
                held.rate_limited(err.retry_after_s)
            raise


async def _answer(
    deps: JobDeps,
    *,
    run: CalibrationRun,
    version: ProfileVersion,
    key: CellKey,
    attempts: int,
    budget: ModelBudget | None,
) -> None:
    pool = deps.pool
    llm = deps.llm
    fields = at_setting(version.fields, trait=key.trait, level=key.level)
    question = run.questions[key.question_idx]

    async def store(
        outcome: CellOutcome,
        *,
        error: str | None = None,
        answer: str | None = None,
        levels: Levels | None = None,
    ) -> None:
        await repo.store_cell(
            pool,
            team_id=run.team_id,
            run_id=run.id,
            key=key,
            outcome=outcome,
            answer=answer,
            perceived=None if levels is None else levels[0],
            proxies=None if levels is None else levels[1],
            error=error,
        )

    if llm is None or not llm.configured:
        await store(CellOutcome.NO_LEVELS, error=LLMError(LLMErrorKind.NOT_CONFIGURED).message)
        return
    retry = budget is not None and attempts < RATE_LIMIT_RETRIES
    answer_model = fields.model or llm.default_model
    # one lease for the answer and its judge when both go to the same model (the usual case):
    # a lease costs two transactions, which the queued bench showed as a fifth of a cell's time
    one_lease = answer_model == llm.judge_model

    async def judge(answer: repo.PendingAnswer) -> Levels | None:
        return await levels_of_text(
            llm,
            fields=fields,
            question=question,
            text=answer.text,
            cut_off=answer.cut_off,
            raise_rate_limited=retry,
        )

    # a retry after the judge's 429 judges the answer made before, not a new one
    answer = await repo.pending_answer(pool, team_id=run.team_id, run_id=run.id, key=key)
    try:
        async with _lease(budget, answer_model):
            if answer is None:
                completion = await answer_once(
                    llm,
                    fields=fields,
                    question=question,
                    context_budget_tokens=deps.settings.context_budget_tokens,
                )
                if not completion.text.strip():
                    await store(CellOutcome.NO_LEVELS, answer=completion.text, error=EMPTY_ANSWER)
                    return
                made = repo.PendingAnswer(completion.text, completion.cut_off)
                answer = await repo.store_answer(
                    pool, team_id=run.team_id, run_id=run.id, key=key, answer=made
                )
            if one_lease:
                levels = await judge(answer)
        if not one_lease:
            async with _lease(budget, llm.judge_model):
                levels = await judge(answer)
    except LLMError as err:
        if err.kind is LLMErrorKind.RATE_LIMITED and retry:
            pause = err.retry_after_s if err.retry_after_s is not None else DEFAULT_PAUSE_S
            raise RetryRequested(
                delay=timedelta(seconds=pause), reason="model rate-limited"
            ) from None
        await store(CellOutcome.NO_LEVELS, error=f"model error: {err.kind.value}")
        return
    # the judge's other failures (and a 429 after RATE_LIMIT_RETRIES) come back as no levels:
    # the sample says nothing, as in the in-process sweep
    if levels is None:
        await store(CellOutcome.NO_LEVELS, answer=answer.text, error=NO_VERDICT)
        return
    await store(CellOutcome.OK, answer=answer.text, levels=levels)


async def _report_or_progress(
    deps: JobDeps,
    client: AsyncWebClient | None,
    *,
    run: CalibrationRun,
    version: ProfileVersion,
    reporter: str,
) -> None:
    pool = deps.pool
    if await repo.claim_report(
        pool, team_id=run.team_id, run_id=run.id, total=run.total, reporter=reporter
    ):
        try:
            await calibration_report.report(pool, client, run=run, version=version)
        except BaseException:
            await asyncio.shield(repo.release_report(pool, team_id=run.team_id, run_id=run.id))
            raise
        return
    if client is not None:
        await calibration_report.progress(pool, client, run=run, every_s=PROGRESS_EVERY_S)
