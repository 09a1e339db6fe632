"""Buttons under an answer: Details (a modal with the full analysis) and 👍 / 👎 feedback."""

from __future__ import annotations

import logging

from bot.answers.thread import refresh_footer
from bot.blocks.answer import details_view
from bot.errors import UserError
from bot.startup.deps import Deps
from commands.listen import Click
from commands.replies import open_view
from commands.request import Reply
from storage import knowledge as knowledge_repo
from storage import profiles as repo
from storage import results as results_repo
from storage.results import ResultNotFound

log = logging.getLogger(__name__)


async def details(deps: Deps, click: Click) -> Reply | None:
    try:
        result = await results_repo.get_result(
            deps.pool, team_id=click.team_id, result_id=click.id_value()
        )
    except ResultNotFound:
        raise UserError("That answer does not exist in this workspace.") from None
    if result.kind == "ab":
        # naming an A/B reply's version here would unblind its test
        raise UserError("A/B replies have their own Details button under the pair.")
    version = await repo.get_version_by_id(
        deps.pool, team_id=click.team_id, version_id=result.profile_version_id
    )
    knowledge = await knowledge_repo.items(
        deps.pool, team_id=click.team_id, version_id=result.profile_version_id
    )
    return await open_view(
        click.client,
        trigger_id=click.trigger_id,
        view=details_view(result, label=version.label, knowledge=knowledge),
        what="details",
    )


async def thumbs_up(deps: Deps, click: Click) -> Reply:
    return await feedback(deps, click, rating=1)


async def thumbs_down(deps: Deps, click: Click) -> Reply:
    return await feedback(deps, click, rating=-1)


async def feedback(deps: Deps, click: Click, *, rating: int) -> Reply:
    user_id = click.user_id
    result_id = click.id_value()
    try:
        await results_repo.record_feedback(
            deps.pool, team_id=click.team_id, result_id=result_id, user_id=user_id, rating=rating
        )
    except ResultNotFound:
        raise UserError("That answer does not exist in this workspace.") from None
    result = await results_repo.get_result(deps.pool, team_id=click.team_id, result_id=result_id)
    channel = (click.body.get("channel") or {}).get("id")
    message_ts = (click.body.get("message") or {}).get("ts")
    if channel and message_ts:
        await refresh_footer(
            deps.pool, click.client, result, channel=str(channel), ts=str(message_ts)
        )
    mark, other = ("👍", "👎") if rating > 0 else ("👎", "👍")
    return Reply(f"Thanks, your {mark} is recorded. Changed your mind? Click {other}.")
