"""The leaderboard: Bradley–Terry ratings fitted on every vote of closed A/B tests, kept with a
fingerprint of the votes so it is fitted again only when they changed. A fit takes from a
quarter of a second to seconds, so it runs off the event loop."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from typing import Any

import asyncpg

from bot.ab import statistics as ab_stats
from bot.blocks import ab as blocks
from bot.blocks.common import Block
from bot.domain.verdict import Ranked
from bot.metrics.versions import leaderboard_comparisons
from storage import ab as ab_repo
from storage import stats as repo


def ranked_from(raw: list[dict[str, Any]]) -> list[Ranked] | None:
    try:
        return [Ranked(**r) for r in raw]
    except TypeError:
        # written by a release with another shape: as good as no cache
        return None


async def refresh_leaderboard(
    pool: asyncpg.Pool, *, team_id: str, fingerprint: str
) -> list[Ranked]:
    """Fit the leaderboard on every vote and keep it. `fingerprint` is read before the votes,
    so a vote landing in between leaves the cache looking stale, never falsely fresh."""
    votes = await ab_repo.all_votes_by_version(pool, team_id=team_id)
    comparisons = leaderboard_comparisons(votes)
    if not comparisons:
        return []  # nothing to keep: no vote yet (and maybe no workspace row either)
    ranked = await asyncio.to_thread(ab_stats.leaderboard, comparisons)
    await repo.store_leaderboard(
        pool, team_id=team_id, fingerprint=fingerprint, ranked=[asdict(r) for r in ranked]
    )
    return ranked


async def leaderboard_now(pool: asyncpg.Pool, *, team_id: str) -> list[Ranked]:
    """The kept leaderboard when no vote changed since it was fitted, else a fresh fit."""
    fingerprint, cached = await asyncio.gather(
        repo.votes_fingerprint(pool, team_id=team_id),
        repo.cached_leaderboard(pool, team_id=team_id),
    )
    if cached is not None and cached[0] == fingerprint:
        kept = ranked_from(cached[1])
        if kept is not None:
            return kept
    return await refresh_leaderboard(pool, team_id=team_id, fingerprint=fingerprint)


async def board(pool: asyncpg.Pool, *, team_id: str) -> tuple[str, list[Block], list[Block]]:
    """`/bot leaderboard`: the same board the Home tab shows, with each version's label: as
    Slack's table block, and the Home tab's layout for a workspace that refuses tables."""
    ranked = await leaderboard_now(pool, team_id=team_id)
    labels = await ab_repo.version_labels(pool, team_id=team_id, ids=[int(r.item) for r in ranked])
    named = {str(k): v for k, v in labels.items()}
    text, as_table = blocks.leaderboard_table(ranked, named)
    _, as_list = blocks.leaderboard(ranked, named)
    return text, as_table, as_list
