"""A token bucket per key (a client address), kept in this process's memory.

Enough to stop one client from filling a table through a public page; not shared between
processes, so N processes allow N times the rate, and forgotten on restart.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

# idle buckets are dropped past this many keys, so memory stays bounded whoever calls
MAX_KEYS: Final = 10_000


class TokenBuckets:
    def __init__(
        self,
        *,
        capacity: int,
        refill_per_s: float,
        max_keys: int = MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._capacity = float(capacity)
        self._refill_per_s = refill_per_s
        self._max_keys = max_keys
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def take(self, key: str) -> float:
        """Spend a token of `key`'s bucket: 0.0 if there was one, else the seconds until one."""
        now = self._clock()
        tokens, at = self._buckets.pop(key, (self._capacity, now))
        tokens = min(self._capacity, tokens + (now - at) * self._refill_per_s)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            self._forget_some()
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / self._refill_per_s

    def _forget_some(self) -> None:
        if len(self._buckets) <= self._max_keys:
            return
        # the least recently used first (a key is re-inserted on every take)
        for key in list(self._buckets)[: len(self._buckets) - self._max_keys]:
            del self._buckets[key]
