"""Each judge's agreement with the people of a workspace, read from their labels.

The traits and behaviours figures are counted over every stored answer of the workspace (one
pass each, hundreds of ms at 100,000 answers on a busy 2-core machine), and they are shown on
every scenario thread post, `/bot stats` and the Home tab. So each process keeps them for
`CACHE_S` seconds; a flag clears its workspace's behaviours figure in the process that took it.
The pairwise figure is cheap (closed A/B tests only) and always read fresh, so a verdict
includes its own test.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Final

import asyncpg

from bot.metrics import judges
from bot.metrics.judges import Judge, JudgeAgreement
from storage import judges as repo

CACHE_S: Final = 60.0
CACHE_ENTRIES: Final = 10_000  # workspaces × judges kept before the cache starts over
CACHED: Final = frozenset({Judge.TRAITS, Judge.BEHAVIOURS})
_cache: dict[tuple[str, Judge], tuple[float, JudgeAgreement]] = {}


def forget(team_id: str, judge: Judge) -> None:
    _cache.pop((team_id, judge), None)


def clear() -> None:
    _cache.clear()


async def _read(pool: asyncpg.Pool, *, team_id: str, judge: Judge) -> JudgeAgreement:
    if judge is Judge.PAIRWISE:
        return judges.pairwise(await repo.pairwise_labels(pool, team_id=team_id))
    if judge is Judge.TRAITS:
        cells = await repo.traits_cells(pool, team_id=team_id, on_target=judges.ON_TARGET)
        return judges.traits_from_cells(cells)
    flagged, verdicts = await repo.behaviour_counts(pool, team_id=team_id)
    return judges.behaviours(flagged=flagged, verdicts=verdicts)


async def one(pool: asyncpg.Pool, *, team_id: str, judge: Judge) -> JudgeAgreement:
    if judge not in CACHED or CACHE_S <= 0:
        return await _read(pool, team_id=team_id, judge=judge)
    now = time.monotonic()
    kept = _cache.get((team_id, judge))
    if kept is not None and now - kept[0] < CACHE_S:
        return kept[1]
    found = await _read(pool, team_id=team_id, judge=judge)
    if len(_cache) >= CACHE_ENTRIES:
        _cache.clear()
    _cache[(team_id, judge)] = (now, found)
    return found


async def every(pool: asyncpg.Pool, *, team_id: str) -> list[JudgeAgreement]:
    """The three judges, read on separate pooled connections at once."""
    return list(await asyncio.gather(*(one(pool, team_id=team_id, judge=j) for j in Judge)))


async def some(
    pool: asyncpg.Pool, *, team_id: str, which: Sequence[Judge]
) -> dict[Judge, JudgeAgreement]:
    """The named judges only, by judge."""
    found = await asyncio.gather(*(one(pool, team_id=team_id, judge=j) for j in which))
    return {a.judge: a for a in found}
