"""What people do with an answer: open its Details (the full analysis) and rate it 👍 / 👎."""

from __future__ import annotations

from typing import Any

import asyncpg
from slack_sdk.web.async_client import AsyncWebClient

from bot.answers.thread import refresh_footer
from bot.blocks.answer import details_view
from bot.errors import UserError
from bot.metrics import judge_report
from bot.metrics.judges import Judge
from storage import knowledge as knowledge_repo
from storage import profiles as repo
from storage import results as results_repo
from storage.results import ResultNotFound

NOT_HERE = "That answer does not exist in this workspace."


async def details(pool: asyncpg.Pool, *, team_id: str, result_id: int) -> dict[str, Any]:
    """The Details view of an answer: its metrics, the judge's analysis, the knowledge used."""
    try:
        result = await results_repo.get_result(pool, team_id=team_id, result_id=result_id)
    except ResultNotFound:
        raise UserError(NOT_HERE) from None
    if result.kind == "ab":
        # naming an A/B reply's version here would unblind its test
        raise UserError("A/B replies have their own Details button under the pair.")
    version = await repo.get_version_by_id(
        pool, team_id=team_id, version_id=result.profile_version_id
    )
    knowledge = await knowledge_repo.items(
        pool, team_id=team_id, version_id=result.profile_version_id
    )
    judge = await judge_report.one(pool, team_id=team_id, judge=Judge.TRAITS)
    return details_view(result, label=version.label, knowledge=knowledge, judge=judge)


async def rate(
    pool: asyncpg.Pool,
    client: AsyncWebClient,
    *,
    team_id: str,
    user_id: str,
    result_id: int,
    rating: int,
    footer: tuple[str, str] | None,
) -> str:
    """Record one person's rating of an answer (a new click replaces it) and update the
    counts on its footer (`footer`: channel and ts) when the click came from there."""
    try:
        await results_repo.record_feedback(
            pool, team_id=team_id, result_id=result_id, user_id=user_id, rating=rating
        )
    except ResultNotFound:
        raise UserError(NOT_HERE) from None
    result = await results_repo.get_result(pool, team_id=team_id, result_id=result_id)
    if footer is not None:
        channel, ts = footer
        await refresh_footer(pool, client, result, channel=channel, ts=ts)
    mark, other = ("👍", "👎") if rating > 0 else ("👎", "👍")
    return f"Thanks, your {mark} is recorded. Changed your mind? Click {other}."
