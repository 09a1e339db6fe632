"""Background upkeep every process runs: interrupted scenario runs, and A/B tests left answering
with no job of theirs in the queue, are marked as such; OAuth states nobody came back with are
deleted, and the data of workspaces that uninstalled the app is deleted after the retention
period."""

from __future__ import annotations

import asyncio
import logging
from typing import Final

import asyncpg

from storage import ab as ab_repo
from storage import installations as installations_repo
from storage import scenarios as scenarios_repo
from storage import workspaces as workspaces_repo

log = logging.getLogger(__name__)

EVERY_S: Final = 60.0


async def run_once(pool: asyncpg.Pool, *, retention_days: int | None) -> None:
    stale = await scenarios_repo.mark_stale_runs_interrupted(pool)
    if stale:
        log.info("marked %d scenario runs interrupted (their process stopped)", stale)
    expired = await installations_repo.sweep_expired_states(pool)
    if expired:
        log.info("deleted %d expired OAuth states", expired)
    stuck = await ab_repo.mark_stale_tests_interrupted(pool)
    if stuck:
        log.info("marked %d A/B tests interrupted (no job of theirs left in the queue)", stuck)
    if retention_days is not None:
        purged = await workspaces_repo.sweep_uninstalled(pool, older_than_days=retention_days)
        if purged:
            log.info("deleted the data of %d uninstalled workspaces", len(purged))


async def maintain(pool: asyncpg.Pool, *, retention_days: int | None) -> None:
    while True:
        try:
            await run_once(pool, retention_days=retention_days)
        except Exception:
            log.exception("maintenance pass failed; trying again later")
        await asyncio.sleep(EVERY_S)
