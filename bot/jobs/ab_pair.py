"""The jobs of an A/B test: one per pair writes it (both versions answer, the judge compares the
two in both orders) and schedules its thread post, a job of its own at the channel's pace; the
post job posts it in the stored blind order, and the job that finishes the test's last pair
opens voting (or fails the test with its reason), decided by a compare-and-set on the test row.

Every step is safe to repeat, because a job can run again (its worker was killed, or a retry
after an error on our side): a side already answered is not answered again, a pair already
judged is not judged again, the thread post is claimed before it is sent, and the test opens
once. Answers go through the model endpoint's shared budget as batch work: interactive answers
come first, and a 429 puts the job back in the queue instead of failing the pair."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from pgqueuer import RetryRequested
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.ab.pairs import (
    INTERNAL_ERROR,
    NOTHING_POSTED,
    Answer,
    Judge,
    find_pair_post,
    judge_with,
    post_written,
    slack_error,
    write_pair,
)
from bot.ab.parent import refresh
from bot.answers.pipeline import RunContext, answer_and_judge
from bot.domain.ab import AbMessage, AbTest
from bot.domain.profile import ProfileVersion
from bot.domain.results import TestResult
from bot.jobs.budget import ModelBudget
from bot.jobs.enqueue import enqueue_ab_post
from bot.jobs.payloads import AbPairJob, AbPostJob
from bot.jobs.post_fence import ClaimLost, PostFence, SendLate, retry_when_rate_limited
from bot.jobs.slack_clients import SlackClients
from bot.model.llm import LLMError, LLMErrorKind
from bot.startup.deps import Deps
from storage import ab as repo
from storage import ab_jobs as jobs_repo
from storage import jobs as pace_repo
from storage import profiles as profiles_repo
from storage.ab import AbTestNotFound
from storage.errors import VersionIdNotFound
from storage.jobs import PostClaim
from storage.post_claims import ClaimTable
from storage.results import NewResult

log = logging.getLogger(__name__)

# chat.update is Tier 3: one progress edit of the parent a second, all workers together
PROGRESS_EVERY_S: Final = 1.0
# chat.postMessage: about one message a second per channel, short bursts allowed; a test's
# pairs go out at that pace, sharing the channel's budget with scenario thread posts
POST_INTERVAL_S: Final = 1.0
POST_BURST: Final = 10
# a pair answered 429 goes back in the queue this many times, then its side is stored as failed
RATE_LIMIT_RETRIES: Final = 20
# a pair picked before its test's parent message is recorded (it is posted right after the
# test is stored) waits this long and asks again; a test whose parent never came is failed
PARENT_WAIT_S: Final = 0.2
PARENT_GIVE_UP_S: Final = 60.0
PARENT_NEVER_POSTED: Final = "the app stopped before posting its first message"
VERSION_GONE: Final = "a version it compares was deleted"
POST_LOST: Final = (
    "could not be posted (the app stopped while posting it and could not read the thread to "
    "check; it is left out rather than risk posting it twice)"
)
# to the starter, when the job opening the test failed on every try and once more after
VOTING_NOT_SHOWN: Final = (
    "A/B test #{ab_id}: voting could not be opened or shown on its message ({reason}). "
    "`/bot ab cancel {ab_id}` ends it; if its pairs take votes, `/bot ab close {ab_id}` gives "
    "the verdict."
)
NO_INSTALLATION: Final = "could not be posted (the app has no installation in this workspace)"


async def handle(
    deps: Deps,
    slack: SlackClients,
    payload: bytes | None,
    *,
    attempts: int = 0,
    budget: ModelBudget | None = None,
) -> None:
    """Write one pair. `attempts`: how often the job was retried already; `budget`: the model
    endpoint's shared budget (None answers at once, and a 429 is stored as a failed side)."""
    job = AbPairJob.loads(payload)
    pool = deps.pool
    try:
        test = await repo.get(pool, team_id=job.team_id, ab_id=job.ab_id)
        row = await repo.message(pool, team_id=job.team_id, message_id=job.message_id)
    except AbTestNotFound:
        # the workspace's data was deleted while the job waited: nothing left to answer for
        log.info("A/B test %d is gone; dropping its pair job", job.ab_id)
        return
    if test.status != "answering":
        return  # cancelled or failed meanwhile: its pairs are not written
    if test.parent_ts is None:
        if datetime.now(UTC) - test.started_at < timedelta(seconds=PARENT_GIVE_UP_S):
            # the pair's answers belong to the parent's thread (that is how stats keep them
            # hidden until voting ends): wait for it
            raise RetryRequested(delay=timedelta(seconds=PARENT_WAIT_S), reason="no parent yet")
        await _fail_test(deps, slack, test, reason=PARENT_NEVER_POSTED)
        return
    if row.post_claimed_at is None and row.failure is None and row.judge_verdict is None:
        try:
            version_a = await profiles_repo.get_version_by_id(
                pool, team_id=test.team_id, version_id=test.version_a_id
            )
            version_b = await profiles_repo.get_version_by_id(
                pool, team_id=test.team_id, version_id=test.version_b_id
            )
        except VersionIdNotFound:
            await _fail_test(deps, slack, test, reason=VERSION_GONE)
            return
        try:
            await write_pair(
                pool,
                test=test,
                row=row,
                version_a=version_a,
                version_b=version_b,
                answer=_answerer(deps, attempts=attempts, budget=budget),
                judge=_judge(deps, budget=budget),
            )
        except (RetryRequested, asyncio.CancelledError):
            raise
        except Exception:
            log.exception("A/B test %d: message %d failed", test.id, row.position + 1)
            # if the database is what failed, this raises too and the job is retried later
            await jobs_repo.fail_pair(
                pool, team_id=test.team_id, message_id=row.id, reason=INTERNAL_ERROR
            )
    if row.post_claimed_at is None:
        await jobs_repo.touch(pool, team_id=test.team_id, ab_id=test.id)
        post = AbPostJob(team_id=test.team_id, ab_id=test.id, message_id=row.id)
        wait_s = await pace_repo.pace_post(
            pool,
            team_id=test.team_id,
            channel_id=test.channel_id,
            interval_s=POST_INTERVAL_S,
            burst=POST_BURST,
        )
        await enqueue_ab_post(pool, post, after_s=wait_s)
    client = await slack.for_team(test.team_id)
    if client is not None:
        await _progress(deps, client, test)


async def handle_post(
    deps: Deps, slack: SlackClients, payload: bytes | None, *, lease_s: float | None = None
) -> None:
    """Post one written pair (or the note saying why it failed) exactly once: the claim comes
    first, and the message carries the pair's id in its metadata. A claim older than `lease_s`
    (the queue's heartbeat timeout by default: PgQueuer runs a job again only after that) with
    no ts recorded belongs to a job that died before or after Slack took the message, so the
    thread is read first and the pair posted only if it is not there."""
    job = AbPostJob.loads(payload)
    pool = deps.pool
    if lease_s is None:
        lease_s = deps.settings.job_heartbeat_timeout_s
    try:
        test = await repo.get(pool, team_id=job.team_id, ab_id=job.ab_id)
        row = await repo.message(pool, team_id=job.team_id, message_id=job.message_id)
    except AbTestNotFound:
        return
    client = await slack.for_team(test.team_id)
    if row.done_at is not None:
        # an earlier run of this job got this far and stopped: finish what it left
        await _finish_or_progress(deps, client, test, again=True)
        return
    if test.status != "answering" or test.parent_ts is None:
        return
    total = len(await repo.messages(pool, team_id=test.team_id, ab_id=test.id))
    ts: str | None = None
    if client is None:
        await jobs_repo.fail_pair(
            pool, team_id=test.team_id, message_id=row.id, reason=NO_INSTALLATION
        )
    else:
        state = await jobs_repo.claim_post(
            pool, team_id=test.team_id, message_id=row.id, lease_s=lease_s
        )
        if state.claim is PostClaim.WAIT:
            # another worker holds the claim, or held it and died: asked again once it lapses
            raise RetryRequested(delay=timedelta(seconds=state.wait_s), reason="post claimed")
        if state.claim is PostClaim.DONE:
            ts = row.message_ts
        else:
            assert state.token is not None
            fence = PostFence(
                pool,
                table=ClaimTable.AB_PAIRS,
                team_id=test.team_id,
                row_id=row.id,
                token=state.token,
                lease_s=lease_s,
            )
            try:
                if state.claim is PostClaim.LOOK_FIRST:
                    ts = await _recover_post(deps, client, fence, test=test, row=row, total=total)
                else:
                    ts = await post_written(
                        pool, fence.client(client), test=test, row=row, total=total
                    )
            except ClaimLost:
                return  # another worker took the claim over after it lapsed: it posts
            except SendLate:
                raise RetryRequested(delay=timedelta(seconds=lease_s), reason="post late") from None
            except SlackApiError as exc:
                retry_when_rate_limited(exc, lease_s=lease_s)
                raise
    await jobs_repo.mark_done(pool, team_id=test.team_id, message_id=row.id, ts=ts)
    await _finish_or_progress(deps, client, test, again=False)


async def _recover_post(
    deps: Deps,
    client: AsyncWebClient,
    fence: PostFence,
    *,
    test: AbTest,
    row: AbMessage,
    total: int,
) -> str | None:
    """A dead job's claim: the pair's message if it is in the thread, else post it now."""
    try:
        found = await find_pair_post(client, test=test, message_id=row.id)
    except SlackApiError as exc:
        # without the thread we cannot know whether it went out: never post twice
        log.warning("A/B test %d: could not read its thread: %s", test.id, slack_error(exc))
        await jobs_repo.fail_pair(
            deps.pool, team_id=test.team_id, message_id=row.id, reason=POST_LOST
        )
        return None
    if found is not None:
        return found
    return await post_written(deps.pool, fence.client(client), test=test, row=row, total=total)


async def gave_up(deps: Deps, slack: SlackClients, payload: bytes | None, *, reason: str) -> None:
    """A pair's post job failed on its last try. When it was the one to open the test (every
    pair done), opening it is tried once more (a compare-and-set: at most once) and the parent
    refreshed; if that fails too, the starter is told why, and what still works. A pair left
    not done keeps the test answering: the sweep shows it as interrupted, with Cancel test."""
    job = AbPostJob.loads(payload)
    try:
        test = await repo.get(deps.pool, team_id=job.team_id, ab_id=job.ab_id)
    except AbTestNotFound:
        return
    client = await slack.for_team(test.team_id)
    try:
        await _finish_or_progress(deps, client, test, again=True)
    except Exception:
        log.exception("A/B test %d: could not open it after its job failed", test.id)
        if client is None:
            return
        try:
            await client.chat_postEphemeral(
                channel=test.channel_id,
                user=test.started_by,
                text=VOTING_NOT_SHOWN.format(ab_id=test.id, reason=reason),
            )
        except SlackApiError as exc:
            log.warning("could not tell the starter of A/B test %d: %s", test.id, exc)


def _answerer(deps: Deps, *, attempts: int, budget: ModelBudget | None) -> Answer:
    llm = deps.llm
    ctx = RunContext(
        deps.pool,
        llm,
        deps.settings.context_budget_tokens,
        deps.settings.knowledge_budget_tokens,
    )

    async def answer(version: ProfileVersion, base: NewResult) -> TestResult:
        if budget is None or llm is None or not llm.configured:
            # no model: the pipeline stores the side as failed, saying why
            return await answer_and_judge(ctx, version=version, base=base)
        # after this many 429s the side is stored as rate-limited, like any model error
        retry = attempts < RATE_LIMIT_RETRIES
        async with budget.lease(version.fields.model or llm.default_model) as lease:
            try:
                return await answer_and_judge(
                    ctx,
                    version=version,
                    base=base,
                    raise_kinds=frozenset({LLMErrorKind.RATE_LIMITED}) if retry else frozenset(),
                )
            except LLMError as err:
                lease.rate_limited(err.retry_after_s)
                pause = lease.rate_limited_for_s or 0.0
        # nothing stored for this side: the job goes back to the queue (the other side, if it
        # was answered, is stored and not asked again)
        raise RetryRequested(delay=timedelta(seconds=pause), reason="model rate-limited")

    return answer


def _judge(deps: Deps, *, budget: ModelBudget | None) -> Judge | None:
    llm = deps.llm
    if llm is None:
        return None

    async def judge(question: str, answer_a: str, answer_b: str) -> tuple[str, dict[str, Any]]:
        if budget is None:
            return await judge_with(llm, question, answer_a, answer_b)
        async with budget.lease(llm.judge_model):
            return await judge_with(llm, question, answer_a, answer_b)

    return judge


async def _fail_test(deps: Deps, slack: SlackClients, test: AbTest, *, reason: str) -> None:
    """The test cannot go on: failed with the reason (its queued jobs deleted), shown on the
    parent message."""
    if await repo.stop_answering(
        deps.pool, team_id=test.team_id, ab_id=test.id, status="failed", reason=reason
    ):
        log.warning("A/B test %d failed: %s", test.id, reason)
    client = await slack.for_team(test.team_id)
    if client is not None:
        async with jobs_repo.parent_message_lock(deps.pool, ab_id=test.id, wait=True):
            await refresh(deps.pool, client, test.id, team_id=test.team_id)


async def _finish_or_progress(
    deps: Deps, client: AsyncWebClient | None, test: AbTest, *, again: bool
) -> None:
    """Open the test (or fail it) when this was its last pair, exactly once; otherwise show
    the progress. `again`: a rerun of a job that got this far before, which shows the test's
    state even when an earlier run already opened it (it may have stopped before the edit)."""
    pool = deps.pool
    status = await jobs_repo.finish_answering(
        pool, team_id=test.team_id, ab_id=test.id, nothing_posted=NOTHING_POSTED
    )
    if status is None and not again:
        if client is not None:
            await _progress(deps, client, test)
        return
    if status is None:
        current = await repo.get(pool, team_id=test.team_id, ab_id=test.id)
        if current.status == "answering":
            if client is not None:
                await _progress(deps, client, test)
            return
    if client is None:
        return
    # waits for a progress edit in flight, so the opening (or failure) is the parent's last edit
    async with jobs_repo.parent_message_lock(pool, ab_id=test.id, wait=True):
        await refresh(pool, client, test.id, team_id=test.team_id)
    if status == "failed":
        current = await repo.get(pool, team_id=test.team_id, ab_id=test.id)
        try:
            await client.chat_postEphemeral(
                channel=test.channel_id,
                user=test.started_by,
                text=f"A/B test #{test.id} did not open for voting: {current.failure_reason}.",
            )
        except SlackApiError as exc:
            log.warning("could not tell the starter of A/B test %d: %s", test.id, exc)


async def _progress(deps: Deps, client: AsyncWebClient, test: AbTest) -> None:
    """The parent's progress, edited by one job about once a second."""
    pool = deps.pool
    if not await jobs_repo.claim_progress(
        pool, team_id=test.team_id, ab_id=test.id, every_s=PROGRESS_EVERY_S
    ):
        return
    async with jobs_repo.parent_message_lock(pool, ab_id=test.id, wait=False) as held:
        if not held:
            return
        current = await repo.get(pool, team_id=test.team_id, ab_id=test.id)
        if current.status != "answering":
            return  # the test opened or ended: that edit is the last word
        await refresh(pool, client, test.id, team_id=test.team_id)
