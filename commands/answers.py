"""Buttons under an answer: Details (a modal with the full analysis) and 👍 / 👎 feedback."""

from __future__ import annotations

from bot import ids
from bot.answers import feedback as answer_feedback
from bot.errors import UserError
from bot.startup.deps import Deps
from commands import payload
from commands.listen import Click
from commands.payload import OUT_OF_DATE
from commands.replies import open_view
from commands.request import Reply


async def details(deps: Deps, click: Click) -> Reply | None:
    view = await answer_feedback.details(
        deps.pool, team_id=click.team_id, result_id=click.id_value()
    )
    return await open_view(click.client, trigger_id=click.trigger_id, view=view, what="details")


async def thumbs_up(deps: Deps, click: Click) -> Reply:
    return await feedback(deps, click, rating=1)


async def thumbs_down(deps: Deps, click: Click) -> Reply:
    return await feedback(deps, click, rating=-1)


async def native_feedback(deps: Deps, click: Click) -> Reply:
    """Slack's feedback_buttons element: one action id, `<result id>:up` or `:down` as value."""
    raw_id, _, side = click.value.partition(":")
    if side not in (ids.FEEDBACK_UP, ids.FEEDBACK_DOWN):
        raise UserError(OUT_OF_DATE)
    rating = 1 if side == ids.FEEDBACK_UP else -1
    return await feedback(deps, click, rating=rating, result_id=payload.parse_id(raw_id))


async def feedback(deps: Deps, click: Click, *, rating: int, result_id: int | None = None) -> Reply:
    user_id = click.user_id
    result_id = click.id_value() if result_id is None else result_id
    channel = (click.body.get("channel") or {}).get("id")
    message_ts = (click.body.get("message") or {}).get("ts")
    told = await answer_feedback.rate(
        deps.pool,
        click.client,
        team_id=click.team_id,
        user_id=user_id,
        result_id=result_id,
        rating=rating,
        footer=(str(channel), str(message_ts)) if channel and message_ts else None,
    )
    return Reply(told)
