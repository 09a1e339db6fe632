"""The model endpoint's concurrency, shared by every process through the database: batch work
(scenario messages) waits for a lease within the adaptive limit, interactive answers take one
at once and so push batch work back. See storage/model_budget.py for the rules."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Final

import asyncpg

from bot.jobs.context import JobDeps
from bot.model.rate_signals import RateSignal
from bot.startup.deps import Deps
from storage import model_budget as repo

# how often a batch request that found the budget full asks again (with jitter); a lease given
# back in this process wakes its waiters at once (another process's, by this poll)
POLL_S: Final = 0.1
# a held lease is renewed this many times per its hold time: a live process keeps its leases
# through a slow request, a killed one's lapse one hold time after its last renewal
RENEWALS_PER_HOLD: Final = 3
# the pause after a 429 that named no Retry-After
DEFAULT_PAUSE_S: Final = 2.0
# a reset or Retry-After longer than this (a daily quota) pauses batch work this long at a time:
# the next request after it asks the endpoint again
MAX_PAUSE_S: Final = 60.0
# the budget's key when OPENAI_BASE_URL is not set
DEFAULT_ENDPOINT: Final = "https://api.openai.com/v1"


class Lease:
    def __init__(self) -> None:
        self.rate_limited_for_s: float | None = None

    def rate_limited(self, retry_after_s: float | None) -> None:
        """The endpoint answered 429: the budget halves and batch work pauses."""
        self.rate_limited_for_s = retry_after_s if retry_after_s is not None else DEFAULT_PAUSE_S


class ModelBudget:
    def __init__(self, pool: asyncpg.Pool, *, endpoint: str, ceiling: int, hold_s: float) -> None:
        self._pool = pool
        self._endpoint = endpoint
        self._ceiling = ceiling
        # a lease is renewed while its holder lives (an answer and its judges may take several
        # request timeouts); a SIGKILLed worker's leases lapse after `hold_s`, as its jobs do,
        # instead of holding the shared budget's slots for minutes
        self._lease_s = hold_s
        # set when this process gives a lease back: its waiters for a full budget ask again
        self._freed = asyncio.Event()

    @asynccontextmanager
    async def lease(self, model: str, *, interactive: bool = False) -> AsyncIterator[Lease]:
        while True:
            grant = await repo.acquire(
                self._pool,
                endpoint=self._endpoint,
                model=model,
                ceiling=self._ceiling,
                lease_s=self._lease_s,
                interactive=interactive,
            )
            if grant.lease_id is not None:
                break
            if grant.wait_s > 0:
                # paused after a 429: no lease before then, whatever is given back
                await asyncio.sleep(max(grant.wait_s, POLL_S * random.uniform(0.5, 1.5)))
                continue
            freed = self._freed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(freed.wait(), POLL_S * random.uniform(0.5, 1.5))
        lease = Lease()
        renewing = asyncio.create_task(self._renew(grant.lease_id))
        try:
            yield lease
        finally:
            renewing.cancel()
            await asyncio.shield(
                repo.release(
                    self._pool,
                    lease_id=grant.lease_id,
                    endpoint=self._endpoint,
                    model=model,
                    ceiling=self._ceiling,
                    rate_limited_for_s=lease.rate_limited_for_s,
                )
            )
            if lease.rate_limited_for_s is None:
                self._freed.set()
                self._freed = asyncio.Event()

    async def _renew(self, lease_id: int) -> None:
        while True:
            await asyncio.sleep(self._lease_s / RENEWALS_PER_HOLD)
            try:
                await repo.renew(self._pool, lease_id=lease_id, lease_s=self._lease_s)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                continue  # the next renewal may get through; the lease lapses otherwise

    async def observe(self, signal: RateSignal) -> None:
        """Every response of the endpoint that names a limit, from any code path (batch or
        interactive, answer or judge): a 429 halves the limit and pauses batch work for its
        Retry-After; requests or tokens remaining 0 pause it until the reset."""
        if signal.rate_limited:
            pause = signal.retry_after_s if signal.retry_after_s is not None else DEFAULT_PAUSE_S
        else:
            pause = signal.exhausted_for_s or 0.0
        await repo.rate_limited(
            self._pool,
            endpoint=self._endpoint,
            model=signal.model,
            ceiling=self._ceiling,
            pause_s=min(pause, MAX_PAUSE_S),
            halve=signal.rate_limited,
        )


def model_budget(deps: JobDeps) -> ModelBudget:
    """The budget of the configured endpoint; its ceiling is SCENARIO_CONCURRENCY. It hears
    every response of the process's model client (one listener per endpoint, however often
    this is called)."""
    settings = deps.settings
    endpoint = str(settings.openai_base_url or DEFAULT_ENDPOINT)
    budget = ModelBudget(
        deps.pool,
        endpoint=endpoint,
        ceiling=settings.scenario_concurrency,
        hold_s=settings.job_heartbeat_timeout_s,
    )
    if deps.llm is not None:
        deps.llm.rate_signals.subscribe(endpoint, budget.observe)
    return budget


def interactive_lease(deps: Deps) -> Callable[[str], AbstractAsyncContextManager[object]]:
    """For `RunContext.interactive_lease`: /bot test and follow-ups take a lease at once."""
    budget = model_budget(deps)

    def lease(model: str) -> AbstractAsyncContextManager[object]:
        return budget.lease(model, interactive=True)

    return lease
