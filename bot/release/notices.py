"""Gate settings and promotion notices, as the `/bot gate` and `/bot promotions` listeners and
`/bot promote` use them: the listener parses, these look up and store."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import asyncpg
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.common import escape
from bot.blocks.labels import notice_text
from bot.domain.release import Gate, LabelMove
from bot.errors import UserError
from storage import gates as repo
from storage import scenarios as scenarios_repo
from storage.scenarios import ScenarioNotFound

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class GateChange:
    """What `/bot gate <label> …` asked for; None leaves that part as it is."""

    scenario: str | None = None  # a scenario's name to require
    drop_scenario: bool = False
    require_ab: bool | None = None


async def gate_of(pool: asyncpg.Pool, *, team_id: str, label: str) -> Gate | None:
    return await repo.gate_for(pool, team_id=team_id, label=label)


async def change_gate(
    pool: asyncpg.Pool, *, team_id: str, user_id: str, label: str, change: GateChange
) -> Gate | None:
    current = await repo.gate_for(pool, team_id=team_id, label=label)
    scenario_id = current.scenario_id if current is not None else None
    require_ab = current.require_ab if current is not None else False
    if change.drop_scenario:
        scenario_id = None
    if change.scenario is not None:
        try:
            found = await scenarios_repo.find_scenario(pool, team_id=team_id, name=change.scenario)
        except ScenarioNotFound:
            raise UserError(
                f"There is no scenario named *{escape(change.scenario)}*. "
                "`/bot scenarios` lists them."
            ) from None
        scenario_id = found.id
    if change.require_ab is not None:
        require_ab = change.require_ab
    await repo.set_gate(
        pool,
        team_id=team_id,
        label=label,
        scenario_id=scenario_id,
        require_ab=require_ab,
        user_id=user_id,
    )
    return await repo.gate_for(pool, team_id=team_id, label=label)


async def notice_channel(pool: asyncpg.Pool, *, team_id: str) -> str | None:
    return await repo.notice_channel(pool, team_id=team_id)


async def set_notice_channel(
    pool: asyncpg.Pool, *, team_id: str, user_id: str, channel_id: str | None
) -> None:
    await repo.set_notice_channel(pool, team_id=team_id, channel_id=channel_id, user_id=user_id)


async def announce(
    pool: asyncpg.Pool,
    client: AsyncWebClient,
    *,
    team_id: str,
    profile_name: str,
    move: LabelMove,
) -> str | None:
    """Post the promotion notice where the team asked for it. The channel it could not be
    posted in, or None (posted, or notices are off)."""
    channel = await repo.notice_channel(pool, team_id=team_id)
    if channel is None:
        return None
    try:
        await client.chat_postMessage(
            channel=channel, text=notice_text(profile_name=profile_name, move=move)
        )
    except SlackApiError as exc:
        log.warning("promotion notice not posted: %s", exc.response.get("error"))
        return channel
    return None
