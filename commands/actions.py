"""Buttons on profile messages: History's "More", and the card's Edit and History."""

from __future__ import annotations

from bot.errors import UserError
from bot.startup.deps import Deps
from commands import config, payload, profiles
from commands.deadlines import require_editor_in_time
from commands.listen import Click
from commands.permissions import EDITING
from commands.request import Reply


async def history_more(deps: Deps, click: Click) -> Reply:
    value = click.json_value()
    try:
        profile_id, before = int(value["p"]), int(value["before"])
    except (ValueError, KeyError, TypeError):
        raise UserError(payload.OUT_OF_DATE) from None
    return await profiles.history(deps, team_id=click.team_id, profile_id=profile_id, before=before)


async def card_history(deps: Deps, click: Click) -> Reply:
    # from the App Home tab there is no response_url: the history comes as a DM
    profile_id = click.id_value()
    return await profiles.history(deps, team_id=click.team_id, profile_id=profile_id)


async def card_edit(deps: Deps, click: Click) -> Reply | None:
    profile_id = click.id_value()
    # refused here, not only on Save: nobody fills in a form they cannot save
    await require_editor_in_time(
        deps,
        click.client,
        team_id=click.team_id,
        user_id=click.user_id,
        doing=EDITING["config"],
    )
    return await config.open_modal(
        deps,
        click.client,
        team_id=click.team_id,
        profile_id=profile_id,
        trigger_id=click.trigger_id,
        channel_id=click.channel_id,
        response_url=click.response_url,
    )
