"""`/bot ab`: starting a blind A/B test, routing `close` and `cancel`, and the leaderboard."""

from __future__ import annotations

import logging
from functools import partial
from typing import Final

from slack_sdk.web.async_client import AsyncWebClient

from bot.ab import closing
from bot.ab import leaderboard as ab_leaderboard
from bot.ab import start as ab_start
from bot.blocks.common import escape
from bot.errors import UserError
from bot.simulation import ab as simulation_ab
from bot.slack.roles import is_editor
from bot.startup.deps import Deps
from commands import payload
from commands.listen import Click
from commands.parse import Parsed, quoted
from commands.replies import answering, said
from commands.request import Reply, SlashRequest
from commands.scenarios import split_confirm, split_repeat

log = logging.getLogger(__name__)

MAX_MESSAGES: Final = 20
DEFAULT_SCENARIO: Final = "Product inquiry"
# `/bot ab <A> <B> simulation <name> [repeat k] [confirm]`: an A/B over a simulated customer
SIMULATION_WORD: Final = "simulation"
USAGE: Final = (
    'Usage: `/bot ab <A> <B> [scenario | "message one" "message two" …]` where A and B are '
    "`profile` or `profile@version`, e.g. `/bot ab Support@3 Support@4 Billing questions`; "
    "over a simulated customer: `/bot ab <A> <B> simulation <name | simulations> [repeat k]`. "
    "Close voting with `/bot ab close <id>` (or end a test without a verdict with "
    "`/bot ab cancel <id>`); `/bot leaderboard` ranks every version tested."
)


def parse_messages(raw: str) -> list[str] | None:
    """Quoted messages, or None when `raw` is not in quotes (then it names a scenario)."""
    usage = (
        "Put each message in its own quotes, e.g. "
        '`/bot ab Support@3 Support@4 "Where is my order?" "Can I get a refund?"`.'
    )
    parts = quoted(raw, usage=usage)
    if parts is None:
        return None
    messages, tail = parts
    if tail:
        raise UserError(usage)
    return messages


async def start(
    deps: Deps, client: AsyncWebClient, req: SlashRequest, parsed: Parsed
) -> Reply | None:
    words = parsed.rest.split(maxsplit=2)
    if parsed.profile is not None or len(words) < 2:
        raise UserError(USAGE)
    ctx = answering(deps)
    rest = words[2] if len(words) > 2 else ""
    head, _, tail = rest.partition(" ")
    if head.lower() == SIMULATION_WORD:
        return await start_simulation(deps, client, req, words[0], words[1], tail)
    messages = parse_messages(rest)
    told = await ab_start.start(
        ctx,
        client,
        team_id=req.team_id,
        channel_id=req.channel_id,
        user_id=req.user_id,
        spec_a=words[0],
        spec_b=words[1],
        messages=messages,
        scenario=rest.strip(),
    )
    return said(told)


async def start_simulation(
    deps: Deps, client: AsyncWebClient, req: SlashRequest, spec_a: str, spec_b: str, raw: str
) -> Reply | None:
    """`simulation <name | simulations> [repeat k] [confirm]`."""
    words, confirmed = split_confirm(raw.split())
    words, repeat = split_repeat(words)
    name = " ".join(words)
    if not name:
        raise UserError(USAGE)
    told = await simulation_ab.start(
        deps.pool,
        client,
        team_id=req.team_id,
        channel_id=req.channel_id,
        user_id=req.user_id,
        spec_a=spec_a,
        spec_b=spec_b,
        name=name,
        repeat=repeat,
        confirm_above=deps.settings.confirm_model_calls,
        confirmed=confirmed,
    )
    return said(told)


async def handle(
    deps: Deps, client: AsyncWebClient, req: SlashRequest, parsed: Parsed
) -> Reply | None:
    head, _, rest = parsed.rest.partition(" ")
    if parsed.profile is None and head.lower() == "close":
        return await close_command(deps, client, req, rest)
    if parsed.profile is None and head.lower() == "cancel":
        return await cancel_command(deps, client, req, rest)
    return await start(deps, client, req, parsed)


async def leaderboard(deps: Deps, req: SlashRequest, parsed: Parsed) -> Reply:
    if parsed.rest or parsed.profile:
        raise UserError("Usage: `/bot leaderboard`.")
    # fitted off the event loop and kept until the votes change (seconds of CPU with many
    # versions): the same board the Home tab shows
    text, board, fallback = await ab_leaderboard.board(deps.pool, team_id=req.team_id)
    return Reply(text, board, fallback=fallback)


def _id_from(raw: str, usage: str) -> int:
    number = raw.strip().lstrip("#")
    if not number.isdigit():
        raise UserError(usage)
    if len(number) > payload.MAX_ID_DIGITS:
        raise UserError(f"There is no A/B test #{escape(number[:20])} in this workspace.")
    return int(number)


async def _end(
    deps: Deps,
    client: AsyncWebClient,
    *,
    cancel: bool,
    team_id: str,
    user_id: str,
    ab_id: int,
) -> Reply:
    """Close or cancel: the use case asks whether the person is an editor only when they did
    not start the test (the answer may take a call to Slack)."""
    editor = partial(is_editor, deps, client, team_id=team_id, user_id=user_id)
    pool = deps.pool
    if cancel:
        told = await closing.cancel(
            pool, client, team_id=team_id, user_id=user_id, ab_id=ab_id, is_editor=editor
        )
    else:
        told = await closing.close(
            pool, client, team_id=team_id, user_id=user_id, ab_id=ab_id, is_editor=editor
        )
    return Reply(told)


async def close_command(deps: Deps, client: AsyncWebClient, req: SlashRequest, raw: str) -> Reply:
    ab_id = _id_from(raw, "Usage: `/bot ab close <id>`, e.g. `/bot ab close 12`.")
    return await _end(
        deps, client, cancel=False, team_id=req.team_id, user_id=req.user_id, ab_id=ab_id
    )


async def cancel_command(deps: Deps, client: AsyncWebClient, req: SlashRequest, raw: str) -> Reply:
    ab_id = _id_from(raw, "Usage: `/bot ab cancel <id>`, e.g. `/bot ab cancel 12`.")
    return await _end(
        deps, client, cancel=True, team_id=req.team_id, user_id=req.user_id, ab_id=ab_id
    )


async def close_button(deps: Deps, click: Click) -> Reply:
    return await _end(
        deps,
        click.client,
        cancel=False,
        team_id=click.team_id,
        user_id=click.user_id,
        ab_id=click.id_value(),
    )


async def cancel_button(deps: Deps, click: Click) -> Reply:
    return await _end(
        deps,
        click.client,
        cancel=True,
        team_id=click.team_id,
        user_id=click.user_id,
        ab_id=click.id_value(),
    )
