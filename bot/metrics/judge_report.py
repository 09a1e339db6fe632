"""Each judge's agreement with the people of a workspace, read from their labels."""

from __future__ import annotations

import asyncio

import asyncpg

from bot.metrics import judges
from bot.metrics.judges import Judge, JudgeAgreement
from storage import judges as repo


async def one(pool: asyncpg.Pool, *, team_id: str, judge: Judge) -> JudgeAgreement:
    if judge is Judge.PAIRWISE:
        return judges.pairwise(await repo.pairwise_labels(pool, team_id=team_id))
    if judge is Judge.TRAITS:
        return judges.traits(await repo.traits_labels(pool, team_id=team_id))
    flagged, verdicts = await repo.behaviour_counts(pool, team_id=team_id)
    return judges.behaviours(flagged=flagged, verdicts=verdicts)


async def every(pool: asyncpg.Pool, *, team_id: str) -> list[JudgeAgreement]:
    """The three judges, read on separate pooled connections at once."""
    return list(await asyncio.gather(*(one(pool, team_id=team_id, judge=j) for j in Judge)))
