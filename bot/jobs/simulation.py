"""The job of one simulated conversation (one per simulation and sample of a run): play it,
posting each turn in the run's thread at the channel's pace, judge it, and, for the job that
finishes the run's last conversation, post the summary and the drift chart.

Safe to repeat: the conversation row is unique per (run, simulation, sample) and its turns per
(conversation, turn), so a retried job continues from the stored turns; each turn's post is
claimed before it is sent through the post fence (bot.jobs.post_fence: a claim whose holder died
lapses, and the retry posts the turn only when the thread does not have it); the report is
claimed by a compare-and-set, and its drift chart's upload once more."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

import asyncpg
from pgqueuer import AsyncpgDriver, Queries, RetryRequested
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.answers.pipeline import RunContext
from bot.blocks.plan import finished_text
from bot.blocks.simulation import (
    CUSTOMER_ICON,
    CUSTOMER_NAME,
    progress_message,
    summary,
    turn_message,
)
from bot.domain.profile import ProfileVersion
from bot.domain.simulation import Simulation, SimulationRun, StoredTurn
from bot.jobs.budget import ModelBudget
from bot.jobs.enqueue import BATCH_PRIORITY
from bot.jobs.payloads import Payload
from bot.jobs.post_fence import ClaimLost, PostFence, SendLate, retry_when_rate_limited
from bot.jobs.slack_clients import SlackClients
from bot.model.llm import LLMError, LLMErrorKind
from bot.simulation import ab_voting, plan
from bot.simulation.chart import drift_chart
from bot.simulation.conversation import ConversationStopped, Lease, OnTurn, converse
from bot.simulation.figures import simulation_figures, summary_json
from bot.slack import live_plan
from bot.slack.post import post_message
from bot.slack.run_summary import show_finished
from bot.slack.thread_marks import find_marked, mark
from bot.slack.uploads import Upload, upload
from bot.startup.deps import Deps
from storage import ab as ab_repo
from storage import jobs as jobs_repo
from storage import plan_streams
from storage import profiles as profiles_repo
from storage import simulation_ab as sim_ab_repo
from storage import simulations as repo
from storage.ab import SIMULATION_JOB_PREFIX
from storage.errors import VersionIdNotFound
from storage.plan_streams import PlanTable
from storage.post_claims import ClaimTable, PostClaim
from storage.simulations import SimulationRunNotFound

log = logging.getLogger(__name__)

SIMULATION_CONVERSATION: Final = "simulation_conversation"
# chat.postMessage: about one message a second per channel, short bursts allowed; shared
# with the scenario runs' posts in the same channel (storage.jobs.pace_post)
THREAD_POST_INTERVAL_S: Final = 1.0
THREAD_POST_BURST: Final = 3
# a conversation hitting 429s is put back in the queue this many times before its rate-limited
# step ends it as a model error
RATE_LIMIT_RETRIES: Final = 20
# the run's progress (plan append or parent edit): all processes together about once a second
PROGRESS_EVERY_S: Final = 1.0
# the metadata mark of a turn's thread post (bot.slack.thread_marks): its row id only
TURN_EVENT_TYPE: Final = "romashka_simulated_turn"


@dataclass(frozen=True, slots=True)
class ConversationJob(Payload):
    """Play one simulated conversation (one sample of a simulation in a run), post its turns
    and judge it."""

    team_id: str
    run_id: int
    simulation_id: int
    sample: int

    @property
    def dedupe_key(self) -> str:
        prefix = job_prefix(team_id=self.team_id, run_id=self.run_id)
        return f"{prefix}{self.simulation_id}:{self.sample}"


def job_prefix(*, team_id: str, run_id: int) -> str:
    """What every conversation job of the run has its dedupe key start with (Stop deletes
    the queued ones by it)."""
    return f"{SIMULATION_JOB_PREFIX}{team_id}:{run_id}:"


async def enqueue(con: asyncpg.Connection, jobs: Sequence[ConversationJob]) -> int:
    if not jobs:
        return 0
    ids = await Queries(AsyncpgDriver(con)).enqueue(
        [SIMULATION_CONVERSATION] * len(jobs),
        [j.dumps() for j in jobs],
        [BATCH_PRIORITY] * len(jobs),
        dedupe_key=[j.dedupe_key for j in jobs],
        on_conflict="skip",
    )
    return sum(1 for i in ids if i is not None)


def jobs_for(run: SimulationRun) -> list[ConversationJob]:
    return [
        ConversationJob(run.team_id, run.id, s.id, sample)
        for s in run.simulations()
        for sample in range(run.repeat)
    ]


def simulator_model(deps: Deps) -> str:
    llm = deps.llm
    return deps.settings.simulator_model or (llm.judge_model if llm is not None else "")


def batch_lease(budget: ModelBudget | None) -> Lease:
    """The shared model budget as batch work: a lease per model call (a conversation does not
    hold a slot while it waits to post); a 429 inside tells the budget to back off."""

    @asynccontextmanager
    async def lease(model: str) -> AsyncIterator[None]:
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

    return lease


async def handle(
    deps: Deps,
    slack: SlackClients,
    payload: bytes | None,
    *,
    attempts: int = 0,
    budget: ModelBudget | None = None,
) -> None:
    job = ConversationJob.loads(payload)
    pool = deps.pool
    try:
        run = await repo.get_run(pool, team_id=job.team_id, run_id=job.run_id)
        version = await profiles_repo.get_version_by_id(
            pool, team_id=job.team_id, version_id=run.profile_version_id
        )
    except (SimulationRunNotFound, VersionIdNotFound):
        log.info("simulation run %d is gone; dropping its job", job.run_id)
        return
    if run.status == "stopped":
        return  # its Stop came while this job was picked
    # a side of an A/B test over simulations: played quietly (the run has no channel, so none
    # of its turns, progress or summary is posted), its answers stored in the test's thread
    sim_ab = await sim_ab_repo.for_run(pool, team_id=job.team_id, run_id=run.id)
    ab_thread: tuple[str, str] | None = None
    if sim_ab is not None:
        test = await ab_repo.get(pool, team_id=run.team_id, ab_id=sim_ab.ab_test_id)
        if test.status != "answering":
            return  # cancelled or failed meanwhile
        if test.parent_ts is not None:
            ab_thread = (test.channel_id, test.parent_ts)
    simulation = next((s for s in run.simulations() if s.id == job.simulation_id), None)
    if simulation is None:
        return
    client = await slack.for_team(run.team_id)
    if client is not None:
        # before any turn is posted: the plan is the thread's first message
        await _decide_plan(deps, client, run=run, version=version)
    conversation = await repo.conversation(
        pool,
        team_id=run.team_id,
        run_id=run.id,
        simulation_id=simulation.id,
        sample=job.sample,
    )
    if not conversation.done:
        on_turn: OnTurn | None = None
        if client is not None and run.channel_id is not None and run.parent_ts is not None:
            on_turn = _poster(
                deps,
                client,
                run=run,
                version=version,
                simulation=simulation,
                conversation_id=conversation.id,
                sample=job.sample,
            )
        lease = batch_lease(budget)

        async def stopped() -> bool:
            return await repo.is_stopped(pool, team_id=run.team_id, run_id=run.id)

        retry = budget is not None and attempts < RATE_LIMIT_RETRIES
        try:
            await converse(
                RunContext.of(pool, deps.llm, deps.settings),
                simulator_model=simulator_model(deps),
                version=version,
                simulation=simulation,
                conversation=conversation,
                user_id=run.started_by,
                lease=lease,
                on_turn=on_turn,
                raise_rate_limited=retry,
                stopped=stopped,
                temperature=deps.settings.simulator_temperature,
                ab_thread=ab_thread,
            )
        except ConversationStopped:
            log.info("simulation run %d was stopped; conversation %d ends", run.id, conversation.id)
            return
        except LLMError as err:
            if err.kind is not LLMErrorKind.RATE_LIMITED:
                raise
            pause = err.retry_after_s if err.retry_after_s is not None else 2.0
            raise RetryRequested(
                delay=timedelta(seconds=pause), reason="model rate-limited"
            ) from None
    await _progress_or_report(deps, client, run=run, version=version)
    if sim_ab is not None:
        await ab_voting.after_conversation(
            pool, client, sim=sim_ab, lease_s=deps.settings.job_heartbeat_timeout_s
        )


def _poster(
    deps: Deps,
    client: AsyncWebClient,
    *,
    run: SimulationRun,
    version: ProfileVersion,
    simulation: Simulation,
    conversation_id: int,
    sample: int,
) -> OnTurn:
    assert run.channel_id is not None and run.parent_ts is not None
    channel_id, parent_ts = run.channel_id, run.parent_ts

    lease_s = deps.settings.job_heartbeat_timeout_s

    async def post(turn: StoredTurn) -> None:
        # the channel's turn first (every process shares the pace), then the claim; a claim
        # whose holder died lapses after the queue's heartbeat timeout, and the job's retry
        # looks in the thread for the turn's mark before posting it (bot.jobs.post_fence)
        wait_s = await jobs_repo.pace_post(
            deps.pool,
            team_id=run.team_id,
            channel_id=channel_id,
            interval_s=THREAD_POST_INTERVAL_S,
            burst=THREAD_POST_BURST,
        )
        if wait_s > 0:
            await asyncio.sleep(wait_s)
        state = await repo.claim_turn_post(
            deps.pool, team_id=run.team_id, turn_id=turn.id, lease_s=lease_s
        )
        if state.claim is PostClaim.DONE:
            return
        if state.claim is PostClaim.WAIT:
            # another worker holds it (or held it and died): the job continues once it lapses
            raise RetryRequested(delay=timedelta(seconds=state.wait_s), reason="turn claimed")
        if state.claim is PostClaim.LOOK_FIRST:
            try:
                found = await find_marked(
                    client,
                    channel=channel_id,
                    thread_ts=parent_ts,
                    event_type=TURN_EVENT_TYPE,
                    key="turn_id",
                    value=turn.id,
                )
            except SlackApiError as exc:
                # without the thread we cannot know whether it went out: never post twice,
                # and count it in the run's summary
                log.warning(
                    "simulation run %d: could not read its thread to recover a turn: %s",
                    run.id,
                    exc.response.get("error"),
                )
                await repo.mark_turn_unconfirmed(deps.pool, team_id=run.team_id, turn_id=turn.id)
                return
            if found is not None:
                await repo.record_turn_post(
                    deps.pool, team_id=run.team_id, turn_id=turn.id, ts=found
                )
                return
        text, blocks = turn_message(
            name=simulation.name,
            sample=sample,
            repeat=run.repeat,
            turn=turn.turn,
            text=turn.text,
            customer=turn.is_customer,
        )
        name, icon = (
            (CUSTOMER_NAME, CUSTOMER_ICON)
            if turn.is_customer
            else (version.fields.bot_name, version.fields.avatar_emoji)
        )
        assert state.token is not None
        fence = PostFence(
            deps.pool,
            table=ClaimTable.SIMULATION_TURNS,
            team_id=run.team_id,
            row_id=turn.id,
            token=state.token,
            lease_s=lease_s,
        )
        try:
            response = await post_message(
                fence.client(client),
                channel=channel_id,
                thread_ts=parent_ts,
                text=text,
                blocks=blocks,
                username=name,
                icon_emoji=icon,
                metadata=mark(TURN_EVENT_TYPE, "turn_id", turn.id),
            )
        except ClaimLost:
            return  # another worker took the lapsed claim over: it posts
        except SendLate:
            raise RetryRequested(delay=timedelta(seconds=lease_s), reason="turn late") from None
        except SlackApiError as exc:
            retry_when_rate_limited(exc, lease_s=lease_s)
            # Slack answered and refused it: settled, so no retry sends it again
            log.warning("could not post a simulated turn: %s", exc.response.get("error"))
            await repo.record_turn_post(deps.pool, team_id=run.team_id, turn_id=turn.id, ts="")
            # counted in the summary with the turns that could not be confirmed
            await repo.mark_turn_unconfirmed(deps.pool, team_id=run.team_id, turn_id=turn.id)
        else:
            await repo.record_turn_post(
                deps.pool, team_id=run.team_id, turn_id=turn.id, ts=str(response.get("ts") or "")
            )
        await _progress(deps, client, run=run, version=version)

    return post


async def _progress_or_report(
    deps: Deps, client: AsyncWebClient | None, *, run: SimulationRun, version: ProfileVersion
) -> None:
    pool = deps.pool
    if await repo.claim_report(pool, team_id=run.team_id, run_id=run.id, total=run.total):
        try:
            await report(deps, client, run=run, version=version)
        except BaseException:
            await asyncio.shield(repo.release_report(pool, team_id=run.team_id, run_id=run.id))
            raise
        return
    if client is not None:
        await _progress(deps, client, run=run, version=version, claim=False)


async def _decide_plan(
    deps: Deps, client: AsyncWebClient, *, run: SimulationRun, version: ProfileVersion
) -> None:
    """Start the run's plan stream (or settle on editing the parent) once, whichever job comes
    first; the others wait for it under the parent lock, so no turn is posted before it."""
    if run.channel_id is None or run.parent_ts is None:
        return
    pool = deps.pool
    state = await plan_streams.plan_state(
        pool, team_id=run.team_id, run_id=run.id, table=PlanTable.SIMULATION_RUNS
    )
    if state.mode is not None:
        return
    async with repo.parent_lock(pool, run_id=run.id, wait=True):
        if not await plan_streams.progress_closed(
            pool, team_id=run.team_id, run_id=run.id, table=PlanTable.SIMULATION_RUNS
        ):
            await live_plan.show(pool, client, deps.streams, plan.plan_of(pool, run, version.label))


async def _progress(
    deps: Deps,
    client: AsyncWebClient,
    *,
    run: SimulationRun,
    version: ProfileVersion,
    claim: bool = True,
) -> None:
    """The run's progress: its plan stream appended, or (no stream) its parent edited. With
    `claim`, only when nobody showed it in the last second (a conversation's turns)."""
    if run.channel_id is None or run.parent_ts is None:
        return
    pool = deps.pool
    if claim and not await repo.claim_progress(
        pool, team_id=run.team_id, run_id=run.id, every_s=PROGRESS_EVERY_S
    ):
        return
    async with repo.parent_lock(pool, run_id=run.id, wait=False) as held:
        if not held or await plan_streams.progress_closed(
            pool, team_id=run.team_id, run_id=run.id, table=PlanTable.SIMULATION_RUNS
        ):
            return
        if await live_plan.show(pool, client, deps.streams, plan.plan_of(pool, run, version.label)):
            return
        done = await repo.done_count(pool, team_id=run.team_id, run_id=run.id)
        text, blocks = progress_message(
            run_id=run.id,
            label=version.label,
            names=[s.name for s in run.simulations()],
            done=done,
            total=run.total,
        )
        try:
            await client.chat_update(
                channel=run.channel_id, ts=run.parent_ts, text=text, blocks=blocks
            )
        except SlackApiError as exc:
            log.warning("could not update simulation run %d: %s", run.id, exc.response.get("error"))


async def figures_of(pool: asyncpg.Pool, run: SimulationRun) -> list[dict[str, object]]:
    conversations = await repo.conversations(pool, team_id=run.team_id, run_id=run.id)
    return [
        simulation_figures(
            s,
            [
                (c.ending, c.fault, dict(c.outcome or {}))
                for c in conversations
                if c.simulation_id == s.id
            ],
        )
        for s in run.simulations()
    ]


async def report(
    deps: Deps, client: AsyncWebClient | None, *, run: SimulationRun, version: ProfileVersion
) -> None:
    pool = deps.pool
    figures = await figures_of(pool, run)
    data = summary_json(figures)
    data["unconfirmed_posts"] = await repo.unconfirmed_turns(
        pool, team_id=run.team_id, run_id=run.id
    )
    await repo.finish_run(pool, team_id=run.team_id, run_id=run.id, summary=data)
    if client is None or run.channel_id is None or run.parent_ts is None:
        return
    text, blocks = summary(run_id=run.id, label=version.label, data=data)
    async with repo.parent_lock(pool, run_id=run.id, wait=True):
        refused = await show_finished(
            pool,
            client,
            plan.plan_of(pool, run, version.label),
            text=text,
            blocks=blocks,
            ending=finished_text(done=run.total, total=run.total, what="conversations played"),
        )
    if refused is not None:
        log.warning("simulation run %d: %s", run.id, refused)
    # claimed before the upload: a report retried after the chart was shown does not show it
    # again (one that died mid-upload leaves the run without it, never with two)
    if not await repo.claim_chart(pool, team_id=run.team_id, run_id=run.id):
        return
    png = await asyncio.to_thread(
        drift_chart, figures, title=f"Drift — simulation run #{run.id}, {version.label}"
    )
    problem = await upload(
        client,
        channel_id=run.channel_id,
        thread_ts=run.parent_ts,
        files=[Upload(f"drift-run-{run.id}.png", png, f"Drift, simulation run #{run.id}")],
        comment="Drift per trait: perceived − set level at each bot turn (band: tolerance).",
    )
    if problem is not None:
        log.warning("simulation run %d: drift chart not uploaded: %s", run.id, problem)
