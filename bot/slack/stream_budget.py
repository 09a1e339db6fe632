"""How many streams (chat.startStream … stopStream) a workspace may start a minute.

chat.startStream and chat.stopStream are Tier 2 (about 20 calls a minute per workspace); each
streamed answer, and each scenario run's live plan, makes one of each. Past the budget an answer
is posted and then edited (chat.update, Tier 3) instead of streamed, and a run's progress edits
its parent, so a busy workspace gets everything rather than rate-limit errors.

The budget lives in PostgreSQL (a row per workspace, updated in one atomic statement), so N
processes together stay within it. Without a pool (unit tests) it is kept in this process's
memory.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

import asyncpg

from bot.slack.rate_limit import TokenBuckets
from storage import stream_budget as repo

# Slack's Tier 2: "20+ per minute"; the budget stays at the floor
STREAMS_PER_MINUTE: Final = 20


class StreamBudget:
    """`spend` is True when the workspace may start a stream now. `clock`: seconds (epoch
    seconds when shared through `pool`; the database's clock when None)."""

    def __init__(
        self,
        *,
        pool: asyncpg.Pool | None = None,
        per_minute: int = STREAMS_PER_MINUTE,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._pool = pool
        self._per_minute = per_minute
        self._clock = clock
        self._buckets = TokenBuckets(
            capacity=per_minute, refill_per_s=per_minute / 60, clock=clock or time.monotonic
        )

    async def spend(self, team_id: str) -> bool:
        if self._pool is None:
            return self._buckets.take(team_id) == 0.0
        now = self._clock() if self._clock is not None else None
        return await repo.spend(self._pool, team_id=team_id, per_minute=self._per_minute, now=now)
