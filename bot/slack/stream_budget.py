"""How many answers a workspace may stream a minute.

chat.startStream and chat.stopStream are Tier 2 (about 20 calls a minute per workspace); each
streamed answer makes one of each. Past the budget an answer is posted and then edited
(chat.update, Tier 3) instead of streamed, so a busy workspace (a scenario run, a crowd in the
DM) gets every answer rather than rate-limit errors. The count is kept in this process's
memory: N processes spend up to N times the budget, which Slack's own limit then answers with
the same fallback.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

from bot.slack.rate_limit import TokenBuckets

# Slack's Tier 2: "20+ per minute"; the budget stays at the floor
STREAMS_PER_MINUTE: Final = 20


class StreamBudget:
    """A token bucket per workspace: `spend` is True when an answer may stream now."""

    def __init__(
        self,
        *,
        per_minute: int = STREAMS_PER_MINUTE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._buckets = TokenBuckets(capacity=per_minute, refill_per_s=per_minute / 60, clock=clock)

    def spend(self, team_id: str) -> bool:
        return self._buckets.take(team_id) == 0.0
