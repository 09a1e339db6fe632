"""The buttons under a blind pair: a vote, and Details with both replies in full."""

from __future__ import annotations

from bot.ab import voting
from bot.errors import UserError
from bot.simulation import ab_voting as sim_ab_voting
from bot.startup.deps import Deps
from commands import payload
from commands.listen import Click
from commands.replies import open_view
from commands.request import Reply


async def vote(deps: Deps, click: Click) -> Reply:
    return await _vote(deps, click)


async def simulation_vote(deps: Deps, click: Click) -> Reply:
    """A vote on a pair of whole conversations (A/B over simulated customers)."""
    return await _vote(deps, click, side="Conversation", item="pair")


async def _vote(deps: Deps, click: Click, *, side: str = "Reply", item: str = "message") -> Reply:
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
        side=side,
        item=item,
    )
    return Reply(told)


async def transcript(deps: Deps, click: Click) -> Reply | None:
    """Conversation 1 or 2 of a pair in a modal."""
    value = click.json_value()
    try:
        message_id, number = int(value["m"]), str(value["c"])
    except (ValueError, KeyError, TypeError):
        raise UserError(payload.OUT_OF_DATE) from None
    view = await sim_ab_voting.transcript(
        deps.pool, team_id=click.team_id, message_id=message_id, number=number
    )
    return await open_view(click.client, trigger_id=click.trigger_id, view=view, what="transcript")


async def details(deps: Deps, click: Click) -> Reply | None:
    view = await voting.details(deps.pool, team_id=click.team_id, message_id=click.id_value())
    return await open_view(click.client, trigger_id=click.trigger_id, view=view, what="details")
