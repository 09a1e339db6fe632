"""The app leaving a workspace: tokens go at once, the data stays until a purge or the
retention sweep."""

from __future__ import annotations

import logging

from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore

from bot.startup.deps import Deps
from storage import workspaces as repo

log = logging.getLogger(__name__)


async def uninstalled(
    deps: Deps, *, store: AsyncInstallationStore | None, context: AsyncBoltContext
) -> None:
    team_id = context.team_id or ""
    await repo.mark_uninstalled(deps.pool, team_id=team_id)
    if store is not None:
        await store.async_delete_all(enterprise_id=context.enterprise_id, team_id=team_id)
    log.info("app uninstalled from a workspace; its tokens were deleted, its data kept")
