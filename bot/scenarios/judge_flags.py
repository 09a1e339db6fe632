"""People saying a behaviour verdict of the judge was wrong: one flag per person per verdict,
taken back by clicking again."""

from __future__ import annotations

import asyncpg

from bot import messages
from bot.blocks.common import escape
from bot.blocks.judges import flaggable
from bot.errors import UserError
from bot.metrics import judge_report
from bot.metrics.judges import Judge
from storage import judges as repo
from storage import results as results_repo
from storage.results import ResultNotFound


async def toggle(
    pool: asyncpg.Pool, *, team_id: str, user_id: str, result_id: int, index: int
) -> str:
    """Flag (or unflag) the `index`-th verdict of a scenario answer; what to tell the person."""
    try:
        result = await results_repo.get_result(pool, team_id=team_id, result_id=result_id)
    except ResultNotFound:
        raise UserError(messages.FLAG_OUT_OF_DATE) from None
    verdicts = result.behaviour_results or []
    if result.kind != "scenario" or not 0 <= index < len(verdicts):
        raise UserError(messages.FLAG_OUT_OF_DATE)
    verdict = verdicts[index]
    if not flaggable(verdict):
        raise UserError(messages.FLAG_NOT_A_VERDICT)
    behaviour = str(verdict.get("behaviour", ""))
    now = await repo.toggle_flag(
        pool,
        team_id=team_id,
        result_id=result_id,
        behaviour=behaviour,
        user_id=user_id,
        judged_passed=bool(verdict["passed"]),
    )
    judge_report.forget(team_id, Judge.BEHAVIOURS)
    count = await repo.flag_count(pool, team_id=team_id, result_id=result_id, behaviour=behaviour)
    others = count - 1 if now else count
    return messages.flag_recorded(escape(behaviour), flagged=now, others=others)
