"""Bounding what a form submission does before it answers Slack.

A submission can only keep its form open with inline errors if it answers within Slack's three
seconds, so the role check and the save happen before the ack. Either can take longer than that:
`users.info` waits behind the SDK's 429 handler for as long as Retry-After says, and the
database may be slow or unreachable. Everything before the ack shares one budget; what does not
finish in it ends in an inline message asking to press Save again."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Final, TypeVar

from slack_sdk.web.async_client import AsyncWebClient

from bot import limits
from bot.errors import UserError
from bot.slack.roles import require_editor
from bot.startup.deps import Deps

T = TypeVar("T")

# what a submission may spend before its ack; the rest of Slack's 3 s is for the network
ACK_BUDGET_S: Final = limits.ACK_DEADLINE_S - 0.5
# the most of it the role check may take, so that a slow users.info leaves room to save
ROLE_CHECK_S: Final = 1.0

ROLE_CHECK_TOO_SLOW: Final = (
    "Couldn't check your role with Slack just now, so nothing was changed. Please submit again."
)
ROLE_CHECK_TOO_SLOW_REPLY: Final = (
    "Couldn't check your role with Slack just now. Please try again in a moment."
)
SAVE_TOO_SLOW: Final = (
    "Saving took too long and may not have finished. Press Save again: a change that was "
    "already saved is not saved twice."
)


class AckBudget:
    """The time left before a submission must be acknowledged."""

    def __init__(self, seconds: float = ACK_BUDGET_S) -> None:
        self._ends = time.monotonic() + seconds

    @property
    def left(self) -> float:
        return max(0.0, self._ends - time.monotonic())

    async def run(self, work: Awaitable[T], *, at_most: float | None = None) -> T:
        """`work`'s result, or TimeoutError once the budget (or `at_most`) is spent."""
        timeout = self.left if at_most is None else min(at_most, self.left)
        return await asyncio.wait_for(work, timeout=timeout)


async def require_editor_in_time(
    deps: Deps, client: AsyncWebClient, *, team_id: str, user_id: str, doing: str
) -> None:
    """Refuse non-editors before a form opens. A button's trigger_id expires three seconds
    after the click, so the check may not wait for as long as Slack's Retry-After says."""
    try:
        await asyncio.wait_for(
            require_editor(deps, client, team_id=team_id, user_id=user_id, doing=doing),
            timeout=ROLE_CHECK_S,
        )
    except TimeoutError:
        raise UserError(ROLE_CHECK_TOO_SLOW_REPLY) from None
