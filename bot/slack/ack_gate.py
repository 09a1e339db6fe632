"""Acks before the work that follows them.

An HTTP request from Slack waits for its ack; the work a command starts after acking (posting
the parent message, storing and queueing the answer, the ephemeral reply) can wait a moment.
On one event loop both compete for the same CPU: in a burst of 100 commands, the work of the
first ones ran between the acks of the last ones and pushed those towards Slack's 3 s. Here
that work waits while requests are still waiting for their ack, at most MAX_WAIT_S, so a steady
stream of requests cannot starve it."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable, Iterator
from typing import Final

# the longest work after an ack waits for other requests' acks
MAX_WAIT_S: Final = 0.5
# A burst's requests arrive a few ms apart, and each is acked in well under a millisecond
# (bot.slack.early_ack): between two of them no request waits, yet the burst is not over. Work
# waits until no request has been acked for this long, so it runs after the burst, not between
# its acks. Short beside anything a person notices.
QUIET_S: Final = 0.01


class AckGate:
    """Counts the requests of this process that wait for their ack (HTTP mode); work after an
    ack waits until there are none. One per process and event loop."""

    def __init__(
        self,
        *,
        max_wait_s: float = MAX_WAIT_S,
        quiet_s: float = QUIET_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_wait_s = max_wait_s
        self._quiet_s = quiet_s
        self._clock = clock
        self._last_ack = -math.inf
        self._waiting = 0
        self._quiet = asyncio.Event()
        self._quiet.set()

    @property
    def waiting(self) -> int:
        return self._waiting

    @contextlib.contextmanager
    def acking(self) -> Iterator[None]:
        """Around a request, from its arrival until its ack is ready to send."""
        self._waiting += 1
        self._quiet.clear()
        try:
            yield
        finally:
            self._waiting -= 1
            self._last_ack = self._clock()
            if self._waiting == 0:
                self._quiet.set()

    async def after_acks(self) -> None:
        """Return once no request waits for its ack and none was acked in the last `quiet_s`,
        or after `max_wait_s`."""
        deadline = self._clock() + self._max_wait_s
        while (now := self._clock()) < deadline:
            if self._waiting:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._quiet.wait(), timeout=deadline - now)
                continue
            calm_in = self._last_ack + self._quiet_s - now
            if calm_in <= 0:
                return
            await asyncio.sleep(min(calm_in, deadline - now))
