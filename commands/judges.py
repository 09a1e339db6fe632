"""The "Judge wrong" buttons under a scenario answer's verdicts."""

from __future__ import annotations

from bot.errors import UserError
from bot.scenarios import judge_flags
from bot.startup.deps import Deps
from commands import payload
from commands.listen import Click
from commands.request import Reply


async def judge_wrong(deps: Deps, click: Click) -> Reply:
    value = click.json_value()
    try:
        result_id = payload.parse_id(str(value["r"]))
        index = payload.parse_id(str(value["b"]))
    except KeyError:
        raise UserError(payload.OUT_OF_DATE) from None
    # anyone in the workspace may flag, as anyone may run scenarios; the team is the signed one
    told = await judge_flags.toggle(
        deps.pool,
        team_id=click.team_id,
        user_id=click.user_id,
        result_id=result_id,
        index=index,
    )
    return Reply(told)
