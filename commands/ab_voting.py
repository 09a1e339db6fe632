"""The buttons under a blind pair: a vote, and Details with both replies in full."""

from __future__ import annotations

from bot.ab import voting
from bot.errors import UserError
from bot.startup.deps import Deps
from commands import payload
from commands.listen import Click
from commands.replies import open_view
from commands.request import Reply


async def vote(deps: Deps, click: Click) -> Reply:
    value = click.json_value()
    try:
        message_id, picked = int(value["m"]), str(value["c"])
    except (ValueError, KeyError, TypeError):
        raise UserError(payload.OUT_OF_DATE) from None
    if picked not in voting.PICKED:
        raise UserError(payload.OUT_OF_DATE)
    told = await voting.vote(
        deps.pool,
        click.client,
        team_id=click.team_id,
        user_id=click.user_id,
        message_id=message_id,
        picked=picked,
    )
    return Reply(told)


async def details(deps: Deps, click: Click) -> Reply | None:
    view = await voting.details(deps.pool, team_id=click.team_id, message_id=click.id_value())
    return await open_view(click.client, trigger_id=click.trigger_id, view=view, what="details")
