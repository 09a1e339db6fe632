"""Slack's and the model endpoint's state for `/healthz`, checked at most once per
`HEALTH_CACHE_S` however often a load balancer probes, and never making a probe wait long."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Final

from openai import AsyncOpenAI

from bot.startup.daemons import DAEMON_PREFIX
from bot.startup.model_check import check_endpoint
from bot.startup.settings import Settings
from bot.startup.slack_check import TokenCheck, check_bot_token

log = logging.getLogger(__name__)

HEALTH_CACHE_S: Final = 30.0
# how long a probe waits for a refresh before answering with what was known
HEALTH_WAIT_S: Final = 1.0
OK: Final = "ok"
CHECKING: Final = "not checked yet"
# not waited for at shutdown
REFRESH_TASK: Final = f"{DAEMON_PREFIX}-health"


def slack_state(check: TokenCheck | None) -> str:
    if check is None:
        return "one token per workspace (OAuth): checked as each installs"
    if check.ok:
        return OK
    return f"refused: {check.error}" if check.refused else str(check.error)


class ExternalHealth:
    def __init__(
        self,
        settings: Settings,
        *,
        model: AsyncOpenAI | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._model = model
        self._clock = clock
        self._state = {"slack": CHECKING, "model": CHECKING}
        self._slack_refused = False
        self._checked_at: float | None = None
        self._refresh: asyncio.Task[None] | None = None

    def seed(self, bot_token: TokenCheck | None) -> None:
        """What start-up already asked Slack, so the first probes need not ask again."""
        self._state["slack"] = slack_state(bot_token)
        self._slack_refused = bot_token is not None and bot_token.refused

    @property
    def slack_refused(self) -> bool:
        """Slack refused the bot token: this process cannot do its work."""
        return self._slack_refused

    async def state(self) -> dict[str, str]:
        stale = self._checked_at is None or self._clock() - self._checked_at > HEALTH_CACHE_S
        if stale and (self._refresh is None or self._refresh.done()):
            self._refresh = asyncio.create_task(self._check(), name=REFRESH_TASK)
        if self._refresh is not None and not self._refresh.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._refresh), timeout=HEALTH_WAIT_S)
        return dict(self._state)

    async def _check(self) -> None:
        try:
            bot_token, model = await asyncio.gather(
                check_bot_token(self._settings), check_endpoint(self._model)
            )
        except Exception:
            log.exception("health check of Slack and the model failed")
            return
        self.seed(bot_token)
        self._state["model"] = model or OK
        self._checked_at = self._clock()
