"""The worker: PgQueuer's QueueManager with our entrypoints, started and stopped with the process
that hosts it (every app process by default, or `romashka worker`).

Recovery rests on PgQueuer: a picked job's worker beats every half `heartbeat_timeout`; a job
whose beats stop (the process was killed) is picked again by any worker once the timeout has
passed. Stopping cleanly hands the jobs still running back to the queue at once instead."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

from pgqueuer import Job, QueueManager, RetryRequested
from pgqueuer.adapters.drivers.asyncpg import AsyncpgPoolDriver
from pgqueuer.executors import DatabaseRetryEntrypointExecutor, EntrypointExecutorParameters
from pgqueuer.models import Context
from pgqueuer.queries import Queries

from bot.jobs import ab_pair, calibration_cell, interactive, scenario_message
from bot.jobs import simulation as simulation_job
from bot.jobs.budget import interactive_lease, model_budget
from bot.jobs.gave_up import GaveUp, failure_reason
from bot.jobs.payloads import (
    AB_PAIR,
    AB_POST,
    CALIBRATION_CELL,
    CALIBRATION_CELL_HEADLESS,
    INTERACTIVE_ANSWER,
    SCENARIO_MESSAGE,
    SCENARIO_MESSAGE_HEADLESS,
    THREAD_POST,
)
from bot.jobs.polling import dequeue_timeout
from bot.jobs.slack_clients import SlackClients
from bot.simulation import report_retry as simulation_report
from bot.startup.deps import Deps

log = logging.getLogger(__name__)

# a job failing on our side (the database away, a bug) is tried this many times in all, with
# backoff from RETRY_FIRST_DELAY_S doubling up to RETRY_MAX_DELAY_S; then it is held as failed
MAX_ATTEMPTS: Final = 5
RETRY_FIRST_DELAY_S: Final = 1.0
RETRY_MAX_DELAY_S: Final = 60.0
# how long a job's last failure may take to be shown (its hook reaches the database and Slack)
GAVE_UP_TIMEOUT_S: Final = 30.0
# a failed queue manager is started again after this pause, doubling up to RESTART_MAX_S
RESTART_FIRST_S: Final = 1.0
RESTART_MAX_S: Final = 30.0
# how long start() waits for the first beat of the interactive answers' worker
STARTUP_BEAT_WAIT_S: Final = 2.0
# names tasks that live as long as the process (bot.startup.daemons.DAEMON_PREFIX: drain skips them)
TASK_NAME: Final = "romashka-daemon-worker"


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    # jobs this process runs at once
    concurrency: int
    # a job whose worker has not beaten for this long is picked again by another
    heartbeat_timeout_s: float
    # scenario messages answered at once across every worker (the model's shared budget)
    scenario_concurrency: int
    # /bot test answers this process writes at once, on a queue manager of their own
    interactive_concurrency: int = 100


class Executor(DatabaseRetryEntrypointExecutor):
    """Retries with backoff, and hands a job back to the queue when this worker stops before
    the job is done (cancelled at the end of the shutdown grace period): another worker, or
    this process after a restart, answers it. Its results are idempotent, so it may have
    stored part of its work already."""

    def __init__(
        self,
        parameters: EntrypointExecutorParameters,
        *,
        running: set[asyncio.Task[Any]],
        handing_back: set[asyncio.Task[Any]],
        gave_up: GaveUp | None = None,
    ) -> None:
        super().__init__(
            parameters,
            max_attempts=MAX_ATTEMPTS,
            initial_delay=timedelta(seconds=RETRY_FIRST_DELAY_S),
            max_delay=timedelta(seconds=RETRY_MAX_DELAY_S),
        )
        self._running = running
        self._handing_back = handing_back
        self._gave_up = gave_up

    async def execute(self, job: Job, context: Context) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._running.add(task)
        try:
            await super().execute(job, context)
        except asyncio.CancelledError:
            if task not in self._handing_back:
                raise
            # deliberately not re-raised: PgQueuer logs a cancelled job as done and deletes
            # it, which would lose the message; a retry request puts it back at once
            task.uncancel()
            raise RetryRequested(delay=timedelta(0), reason="worker stopping") from None
        except RetryRequested:
            raise
        except Exception as exc:
            # DatabaseRetryEntrypointExecutor turns every failure before the last try into a
            # RetryRequested; what gets here is the last try's, and PgQueuer now holds the
            # job as failed (on_failure="hold"): the job kind's hook makes that visible
            if self._gave_up is not None:
                await self._tell_gave_up(job, exc)
            raise
        finally:
            self._running.discard(task)
            self._handing_back.discard(task)

    async def _tell_gave_up(self, job: Job, exc: Exception) -> None:
        assert self._gave_up is not None
        log.error(
            "job %s/%s failed on its last try (%d): held as failed",
            job.entrypoint,
            job.id,
            job.attempts,
        )
        try:
            # bounded: the database may still be away, and the job's slot is held meanwhile
            await asyncio.wait_for(self._gave_up(job, exc), timeout=GAVE_UP_TIMEOUT_S)
        except Exception:
            # the hook's own failure (the database still away): the sweeps show the run as
            # interrupted later, for Resume
            log.exception("could not show job %s/%s as failed", job.entrypoint, job.id)


class Worker:
    def __init__(self, deps: Deps, *, options: WorkerOptions) -> None:
        self._deps = deps
        self._options = options
        # the tasks running jobs, and those of them being handed back to the queue
        self._running: set[asyncio.Task[Any]] = set()
        self._handing_back: set[asyncio.Task[Any]] = set()
        self._task: asyncio.Task[None] | None = None
        self._interactive_task: asyncio.Task[None] | None = None
        self._beating: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        slack = SlackClients(deps.settings, deps.pool)
        budget = model_budget(deps)

        async def scenario_message_job(job: Job) -> None:
            await scenario_message.handle(
                deps, slack, job.payload, attempts=job.attempts, budget=budget
            )

        async def thread_post_job(job: Job) -> None:
            await scenario_message.handle_post(deps, slack, job.payload)

        async def scenario_message_gave_up(job: Job, exc: Exception) -> None:
            await scenario_message.gave_up(deps, slack, job.payload, reason=failure_reason(exc))

        self._handlers = (scenario_message_job, thread_post_job)
        self._scenario_gave_up = scenario_message_gave_up

        async def simulation_conversation_job(job: Job) -> None:
            await simulation_job.handle(
                deps, slack, job.payload, attempts=job.attempts, budget=budget
            )

        async def simulation_gave_up(job: Job, exc: Exception) -> None:
            await simulation_report.gave_up(deps, slack, job.payload, reason=failure_reason(exc))

        self._simulation_handler = simulation_conversation_job
        self._simulation_gave_up = simulation_gave_up

        async def ab_pair_job(job: Job) -> None:
            await ab_pair.handle(deps, slack, job.payload, attempts=job.attempts, budget=budget)

        async def ab_post_job(job: Job) -> None:
            await ab_pair.handle_post(deps, slack, job.payload)

        async def ab_post_gave_up(job: Job, exc: Exception) -> None:
            await ab_pair.gave_up(deps, slack, job.payload, reason=failure_reason(exc))

        self._ab_handlers = (ab_pair_job, ab_post_job)
        self._ab_post_gave_up = ab_post_gave_up

        async def calibration_cell_job(job: Job) -> None:
            await calibration_cell.handle(
                deps,
                slack,
                job.payload,
                attempts=job.attempts,
                max_attempts=MAX_ATTEMPTS,
                budget=budget,
            )

        async def calibration_cell_gave_up(job: Job, exc: Exception) -> None:
            await calibration_cell.gave_up(deps, slack, job.payload, reason=failure_reason(exc))

        self._calibration_handler = calibration_cell_job
        self._calibration_gave_up = calibration_cell_gave_up

        lease = interactive_lease(deps)

        async def interactive_answer_job(job: Job) -> None:
            await interactive.handle(deps, slack, job.payload, lease=lease)

        async def interactive_answer_gave_up(job: Job, exc: Exception) -> None:
            await interactive.gave_up(deps, slack, job.payload, reason=failure_reason(exc))

        self._interactive_handler = interactive_answer_job
        self._interactive_gave_up = interactive_answer_gave_up
        # both managers listen on one pooled connection (PgQueuer's driver counts its users), so
        # the second costs the pool nothing; one rebuilt after a failure gets a driver of its own
        shared = AsyncpgPoolDriver(deps.pool)
        self.queue = self._build_queue(shared)
        self.interactive_queue = self._build_interactive_queue(shared)

    def _build_interactive_queue(self, driver: AsyncpgPoolDriver | None = None) -> QueueManager:
        """/bot test answers on a queue manager of their own: PgQueuer caps the jobs one
        manager holds (`max_concurrent_tasks`), so batch work on the other one never takes
        their slots; their priority puts them first should they share one."""
        queue = QueueManager(Queries(driver or AsyncpgPoolDriver(self._deps.pool)))
        queue.register_executor(
            INTERACTIVE_ANSWER,
            Executor(
                EntrypointExecutorParameters(
                    func=self._interactive_handler, concurrency_limit=0, on_failure="hold"
                ),
                running=self._running,
                handing_back=self._handing_back,
                gave_up=self._interactive_gave_up,
            ),
        )
        return queue

    def _build_queue(self, driver: AsyncpgPoolDriver | None = None) -> QueueManager:
        scenario_message_job, thread_post_job = self._handlers
        queue = QueueManager(Queries(driver or AsyncpgPoolDriver(self._deps.pool)))
        # runs of `romashka scenarios run`: the same job, helped along by every app worker
        queue.register_executor(
            SCENARIO_MESSAGE_HEADLESS,
            Executor(
                EntrypointExecutorParameters(
                    func=scenario_message_job,
                    concurrency_limit=self._options.scenario_concurrency,
                    on_failure="hold",
                ),
                running=self._running,
                handing_back=self._handing_back,
                gave_up=self._scenario_gave_up,
            ),
        )
        self._register_ab(queue)
        self._register_calibration(queue)
        queue.register_executor(
            THREAD_POST,
            Executor(
                EntrypointExecutorParameters(
                    func=thread_post_job, concurrency_limit=0, on_failure="hold"
                ),
                running=self._running,
                handing_back=self._handing_back,
            ),
        )
        queue.register_executor(
            SCENARIO_MESSAGE,
            Executor(
                EntrypointExecutorParameters(
                    func=scenario_message_job,
                    # held in the database: every worker together answers at most this many
                    concurrency_limit=self._options.scenario_concurrency,
                    on_failure="hold",
                ),
                running=self._running,
                handing_back=self._handing_back,
                gave_up=self._scenario_gave_up,
            ),
        )
        queue.register_executor(
            simulation_job.SIMULATION_CONVERSATION,
            Executor(
                EntrypointExecutorParameters(
                    func=self._simulation_handler,
                    # conversations share the model's budget with scenario messages (each of
                    # their model calls takes a batch lease); this bounds the jobs themselves
                    concurrency_limit=self._options.scenario_concurrency,
                    on_failure="hold",
                ),
                running=self._running,
                handing_back=self._handing_back,
                gave_up=self._simulation_gave_up,
            ),
        )
        return queue

    def _register_ab(self, queue: QueueManager) -> None:
        """A/B pairs: written at most SCENARIO_CONCURRENCY at once across every worker (the
        model budget paces them further), posted at the channel's pace."""
        ab_pair_job, ab_post_job = self._ab_handlers
        queue.register_executor(
            AB_POST,
            Executor(
                EntrypointExecutorParameters(
                    func=ab_post_job, concurrency_limit=0, on_failure="hold"
                ),
                running=self._running,
                handing_back=self._handing_back,
                gave_up=self._ab_post_gave_up,
            ),
        )
        queue.register_executor(
            AB_PAIR,
            Executor(
                EntrypointExecutorParameters(
                    func=ab_pair_job,
                    concurrency_limit=self._options.scenario_concurrency,
                    on_failure="hold",
                ),
                running=self._running,
                handing_back=self._handing_back,
            ),
        )

    def _register_calibration(self, queue: QueueManager) -> None:
        """Calibration cells, from Slack and from `romashka calibrate` (whose own worker takes
        only the latter): at most SCENARIO_CONCURRENCY at once across every worker, the model
        budget pacing each model call further."""
        for entrypoint in (CALIBRATION_CELL, CALIBRATION_CELL_HEADLESS):
            queue.register_executor(
                entrypoint,
                Executor(
                    EntrypointExecutorParameters(
                        func=self._calibration_handler,
                        concurrency_limit=self._options.scenario_concurrency,
                        on_failure="hold",
                    ),
                    running=self._running,
                    handing_back=self._handing_back,
                    gave_up=self._calibration_gave_up,
                ),
            )

    async def _supervise(self, *, interactive: bool = False) -> None:
        """Run the queue manager until stopped; when it fails (the database restarted and its
        listening connection died), start a fresh one after a pause. `interactive`: the one
        for /bot test answers."""
        concurrency = (
            self._options.interactive_concurrency if interactive else self._options.concurrency
        )
        batch = max(1, min(concurrency // 2, 20))
        timeout = timedelta(seconds=self._options.heartbeat_timeout_s)
        delay = RESTART_FIRST_S
        while not self._stopping.is_set():
            started = time.monotonic()
            queue = self.interactive_queue if interactive else self.queue
            try:
                await queue.run(
                    batch_size=batch,
                    max_concurrent_tasks=max(concurrency, 2 * batch),
                    heartbeat_timeout=timeout,
                    dequeue_timeout=dequeue_timeout(timeout.total_seconds()),
                )
            except Exception:
                log.exception("the job worker stopped; starting it again in %.0f s", delay)
            if self._stopping.is_set():
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=delay)
            # a worker that ran a good while before failing starts again quickly next time
            ran_long = time.monotonic() - started > RESTART_MAX_S
            delay = RESTART_FIRST_S if ran_long else min(2 * delay, RESTART_MAX_S)
            if interactive:
                self.interactive_queue = self._build_interactive_queue()
            else:
                self.queue = self._build_queue()

    async def start(self) -> None:
        if self._task is not None:
            return
        self._stopping.clear()
        self._task = asyncio.create_task(self._supervise(), name=TASK_NAME)
        self._task.add_done_callback(_log_end)
        self._interactive_task = asyncio.create_task(
            self._supervise(interactive=True), name=f"{TASK_NAME}-interactive"
        )
        self._interactive_task.add_done_callback(_log_end)
        first = asyncio.Event()
        self._beating = asyncio.create_task(
            interactive.beating(self._deps.pool, first=first), name=f"{TASK_NAME}-beat"
        )
        # counted as serving before the app takes its first command, so that command is not
        # told that nobody answers
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(first.wait(), timeout=STARTUP_BEAT_WAIT_S)

    async def stop(self, *, grace_s: float) -> None:
        """No new jobs; those running get `grace_s` to finish, then go back to the queue."""
        task, self._task = self._task, None
        if task is None:
            return
        tasks = {task}
        if self._interactive_task is not None:
            tasks.add(self._interactive_task)
            self._interactive_task = None
        beating, self._beating = self._beating, None
        if beating is not None:
            # no longer counted as serving: an app asking now tells the person to start one
            beating.cancel()
            await asyncio.wait({beating})
        self._stopping.set()
        self.queue.shutdown.set()
        self.interactive_queue.shutdown.set()
        done, _ = await asyncio.wait(tasks, timeout=grace_s)
        if len(done) < len(tasks):
            log.info("handing %d unfinished jobs back to the queue", len(self._running))
            for job_task in list(self._running):
                self._handing_back.add(job_task)
                job_task.cancel()
            await asyncio.wait(tasks, timeout=10)
        for left in tasks:
            if not left.done():
                left.cancel()
                await asyncio.wait({left})

    async def __aenter__(self) -> Worker:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop(grace_s=0)


def _log_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("the job worker stopped", exc_info=task.exception())


def options_from(deps: Deps) -> WorkerOptions:
    s = deps.settings
    return WorkerOptions(
        concurrency=s.worker_concurrency,
        heartbeat_timeout_s=s.job_heartbeat_timeout_s,
        scenario_concurrency=s.scenario_concurrency,
        interactive_concurrency=s.interactive_concurrency,
    )
