"""Interactive answers (`/bot test`) as jobs: the app that acked stores the request and queues
it (`InteractiveQueue`, above batch work), a worker answers it into the thread (`handle`).

Idempotent: the job claims its request before anything is posted; a job run again after a
claimed start (its worker was killed mid-answer) says once that the answer was interrupted,
and never answers twice. A request whose version was deleted (it went with it) is told so once,
claimed apart; a job that failed on every try marks its request done and tells an unanswered
thread why (`gave_up`). The DM's answers come this way too, showing "is writing…" when the
worker starts. Nobody waits in silence: an app whose answers no process serves
(`WORKER_IN_APP=false` and no `romashka worker` beating) says so in the thread at once, and a
request not picked within PICK_TIMEOUT_S is told it is still queued."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from typing import Final

import asyncpg
from slack_sdk.web.async_client import AsyncWebClient

from bot import messages
from bot.answers import thread as answering
from bot.answers.pipeline import RunContext
from bot.domain.profile import ProfileVersion
from bot.jobs.context import JobDeps
from bot.jobs.enqueue import enqueue_interactive_answer
from bot.jobs.payloads import InteractiveAnswerJob
from bot.jobs.slack_clients import SlackFor
from bot.persona.conversation import Turn
from storage import interactive as repo
from storage import profiles as profiles_repo
from storage.errors import VersionIdNotFound

log = logging.getLogger(__name__)

# a serving process writes its beat this often; it counts as alive for LIVE_WITHIN_S (three
# beats), so one slow write does not make the app say that nobody answers
BEAT_EVERY_S: Final = 5.0
LIVE_WITHIN_S: Final = 3 * BEAT_EVERY_S
# how long the app trusts what it last read of the beats: liveness changes on the scale of
# beats (seconds), and a stale "alive" only delays the notice to PICK_TIMEOUT_S, so a burst of
# commands reads the table once, not once each
LIVE_CACHE_S: Final = 1.0
# a request no worker picked in this long is told it is still queued (or that nobody answers)
PICK_TIMEOUT_S: Final = 10.0
# names the watch tasks so that a shutdown's drain does not wait for them
# (bot.startup.daemons.DAEMON_PREFIX)
WATCH_TASK: Final = "romashka-daemon-queued-answer"

Lease = Callable[[str], AbstractAsyncContextManager[object]]


class InteractiveQueue:
    """The app's side (`bot.answers.thread.AnswerQueue`): store the request and queue its job in
    one transaction, then watch that a worker picks it."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        pick_timeout_s: float = PICK_TIMEOUT_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pool = pool
        self._pick_timeout_s = pick_timeout_s
        self._clock = clock
        self._live: tuple[float, bool] | None = None  # (read at, any worker alive)
        self._watching: set[asyncio.Task[None]] = set()

    async def put(self, client: AsyncWebClient, job: answering.AnswerJob) -> None:
        request = repo.NewRequest(
            team_id=job.team_id,
            channel_id=job.channel_id,
            thread_ts=job.thread_ts,
            user_id=job.user_id,
            kind=job.kind,
            profile_version_id=job.version.id,
            turns=tuple((t.role, t.content) for t in job.turns),
            writing_status=job.writing_status,
        )
        async with self._pool.acquire() as con, con.transaction():
            request_id = await repo.insert_request(con, request)
            await enqueue_interactive_answer(
                con,
                InteractiveAnswerJob(
                    team_id=job.team_id,
                    request_id=request_id,
                    version_id=job.version.id,
                    channel_id=job.channel_id,
                    thread_ts=job.thread_ts,
                ),
            )
        if not await self._anyone_serving():
            await answering.post_notice(
                client,
                channel=job.channel_id,
                thread_ts=job.thread_ts,
                text=messages.ANSWER_NO_WORKER,
            )
            return
        task = asyncio.create_task(self._watch(client, job, request_id), name=WATCH_TASK)
        self._watching.add(task)
        task.add_done_callback(self._watching.discard)

    async def _anyone_serving(self, *, fresh: bool = False) -> bool:
        now = self._clock()
        if fresh or self._live is None or now - self._live[0] > LIVE_CACHE_S:
            alive = await repo.live_workers(self._pool, within_s=LIVE_WITHIN_S) > 0
            self._live = (now, alive)
        return self._live[1]

    async def _watch(
        self, client: AsyncWebClient, job: answering.AnswerJob, request_id: int
    ) -> None:
        try:
            await asyncio.sleep(self._pick_timeout_s)
            if await repo.started(self._pool, team_id=job.team_id, request_id=request_id):
                return
            text = (
                messages.answer_still_queued(self._pick_timeout_s)
                if await self._anyone_serving(fresh=True)
                else messages.ANSWER_NO_WORKER
            )
            await answering.post_notice(
                client, channel=job.channel_id, thread_ts=job.thread_ts, text=text
            )
        except Exception:
            log.exception("could not check on a queued answer")

    async def aclose(self) -> None:
        for task in list(self._watching):
            task.cancel()
        await asyncio.gather(*self._watching, return_exceptions=True)


async def handle(deps: JobDeps, slack: SlackFor, payload: bytes | None, *, lease: Lease) -> None:
    """The worker's side: answer the request in its thread, once."""
    job = InteractiveAnswerJob.loads(payload)
    client = await slack.for_team(job.team_id)
    if client is None:
        log.info("no Slack installation for an interactive answer's workspace; dropping it")
        return
    # read before the claim: once claimed, nothing but the answer (which ends every failure
    # with a message in the thread) may fail, or the thread would hear nothing
    try:
        version: ProfileVersion | None = await profiles_repo.get_version_by_id(
            deps.pool, team_id=job.team_id, version_id=job.version_id
        )
    except VersionIdNotFound:
        version = None
    claim, request = await repo.claim(deps.pool, team_id=job.team_id, request_id=job.request_id)
    if claim is repo.Claim.DONE:
        return
    # a version read as deleted took its request with it (one cascade): the claim found it gone
    if claim is repo.Claim.GONE or version is None or request is None:
        await _tell_gone(deps, client, job)
        return
    if claim is repo.Claim.INTERRUPTED:
        await answering.post_notice(
            client,
            channel=request.channel_id,
            thread_ts=request.thread_ts,
            text=messages.ANSWER_INTERRUPTED,
        )
        return
    ctx = replace(
        RunContext.of(deps.pool, deps.llm, deps.settings, streams=deps.streams),
        interactive_lease=lease,
    )
    await answering.answer(
        ctx,
        client,
        answering.AnswerJob(
            team_id=request.team_id,
            channel_id=request.channel_id,
            thread_ts=request.thread_ts,
            user_id=request.user_id,
            kind=request.kind,
            version=version,
            turns=[_turn(role, content) for role, content in request.turns],
            writing_status=request.writing_status,
        ),
    )
    await repo.finish(deps.pool, team_id=request.team_id, request_id=request.id)


async def gave_up(deps: JobDeps, slack: SlackFor, payload: bytes | None, *, reason: str) -> None:
    """The request's job failed on its last try (bot.jobs.gave_up): the request is marked done,
    so that nothing answers it later, and a thread that heard nothing is told why, once."""
    job = InteractiveAnswerJob.loads(payload)
    state = await repo.give_up(deps.pool, team_id=job.team_id, request_id=job.request_id)
    if state is repo.GaveUp.TOLD:
        return
    log.warning("interactive answer %d could not be written: %s", job.request_id, reason)
    client = await slack.for_team(job.team_id)
    if client is None:
        return
    if state is repo.GaveUp.GONE:
        await _tell_gone(deps, client, job)
        return
    await answering.post_notice(
        client,
        channel=job.channel_id,
        thread_ts=job.thread_ts,
        text=messages.answer_gave_up(reason),
    )


async def _tell_gone(deps: JobDeps, client: AsyncWebClient, job: InteractiveAnswerJob) -> None:
    """The request went with its profile version (the payload still names the thread): say
    so once, claimed first, so that a job run again after posting it does not repeat it."""
    if await repo.claim_gone_notice(deps.pool, team_id=job.team_id, request_id=job.request_id):
        await answering.post_notice(
            client,
            channel=job.channel_id,
            thread_ts=job.thread_ts,
            text=messages.ANSWER_VERSION_DELETED,
        )


def _turn(role: str, content: str) -> Turn:
    return Turn(role="assistant" if role == "assistant" else "user", content=content)


async def beating(
    pool: asyncpg.Pool, *, every_s: float = BEAT_EVERY_S, first: asyncio.Event | None = None
) -> None:
    """While it runs, this process counts as serving interactive answers; its row goes when it
    stops (a killed process's is ignored after LIVE_WITHIN_S and deleted later). `first` is set
    once the first beat was written (or failed)."""
    worker_id = uuid.uuid4().hex
    try:
        while True:
            try:
                await repo.beat(pool, worker_id=worker_id, forget_after_s=10 * LIVE_WITHIN_S)
            except Exception:
                log.exception("could not write the interactive worker's beat")
            if first is not None:
                first.set()
            await asyncio.sleep(every_s)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.shield(repo.gone(pool, worker_id=worker_id))
