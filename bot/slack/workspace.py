"""A workspace's lifecycle: the app leaving it (tokens go at once, the data stays until a purge
or the retention sweep), and an admin's purge of all its data."""

from __future__ import annotations

import logging

import asyncpg
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore

from storage import workspaces as repo

log = logging.getLogger(__name__)


async def uninstalled(
    pool: asyncpg.Pool,
    *,
    store: AsyncInstallationStore | None,
    team_id: str,
    enterprise_id: str | None,
) -> None:
    await repo.mark_uninstalled(pool, team_id=team_id)
    if store is not None:
        await store.async_delete_all(enterprise_id=enterprise_id, team_id=team_id)
    log.info("app uninstalled from a workspace; its tokens were deleted, its data kept")


async def purge(pool: asyncpg.Pool, *, team_id: str) -> str:
    """Delete every row of the workspace; what to tell the admin."""
    deleted = await repo.purge(pool, team_id=team_id)
    log.info("workspace data purged by an admin (anything deleted: %s)", deleted)
    return (
        "All of this workspace's ROMASHKA data was deleted."
        if deleted
        else "There was no data to delete."
    )
