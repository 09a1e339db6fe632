"""A workspace that uses the app has not left it: any request from it cancels the retention
sweep that `app_uninstalled` scheduled (a reinstall by token, with no OAuth callback, is only
seen this way)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

import asyncpg
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.response import BoltResponse

from storage import workspaces as repo

log = logging.getLogger(__name__)

# the events that announce leaving are not use
LEAVING_EVENTS: Final = frozenset({"app_uninstalled", "tokens_revoked"})
# a workspace's use is written at most this often per process: one cheap UPDATE, not one a request
RECORD_EVERY_S: Final = 60.0


class WorkspaceActivity:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._recorded: dict[str, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def forget(self, team_id: str) -> None:
        """After an uninstall, the next request from the workspace is recorded at once."""
        self._recorded.pop(team_id, None)

    async def middleware(
        self,
        context: AsyncBoltContext,
        body: dict[str, Any],
        next: Callable[[], Awaitable[BoltResponse]],  # Bolt passes it by this name
    ) -> BoltResponse:
        team_id = context.team_id or context.enterprise_id
        event_type = (body.get("event") or {}).get("type")
        now = time.monotonic()
        if (
            team_id
            and event_type not in LEAVING_EVENTS
            and now - self._recorded.get(team_id, -RECORD_EVERY_S) >= RECORD_EVERY_S
        ):
            self._recorded[team_id] = now
            # off the ack's path: a slow database must not hold up Slack's three seconds
            task = asyncio.create_task(self._record(team_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await next()

    async def _record(self, team_id: str) -> None:
        try:
            if await repo.mark_in_use(self._pool, team_id=team_id):
                log.info("a workspace that had uninstalled the app uses it again; data kept")
        except Exception:
            self._recorded.pop(team_id, None)  # try again with the next request
            log.exception("could not record a workspace's use of the app")
