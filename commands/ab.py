"""`/bot ab`: starting a blind A/B test, routing `close` and `cancel`, and the leaderboard."""

from __future__ import annotations

import logging
import secrets
from typing import Final

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.batch_answer import RunContext
from bot.blocks import ab as blocks
from bot.blocks.common import escape
from bot.deps import Deps
from bot.domain.ab import Participation
from bot.errors import UserError
from bot.llm import LLMError, LLMErrorKind
from commands.ab_closing import cancel_command, close_command
from commands.ab_pairs import answer_all, slack_error
from commands.home import leaderboard_now
from commands.parse import Parsed, quoted
from commands.request import Reply, SlashRequest
from commands.scenario_run import resolve_version
from storage import ab as repo
from storage import scenarios as scenarios_repo
from storage.scenarios import ScenarioNotFound

log = logging.getLogger(__name__)

MAX_MESSAGES: Final = 20
DEFAULT_SCENARIO: Final = "Product inquiry"
USAGE: Final = (
    'Usage: `/bot ab <A> <B> [scenario | "message one" "message two" …]` where A and B are '
    "`profile` or `profile@version`, e.g. `/bot ab Support@3 Support@4 Billing questions`. "
    "Close voting with `/bot ab close <id>` (or end a test without a verdict with "
    "`/bot ab cancel <id>`); `/bot leaderboard` ranks every version tested."
)


def draw_a_first() -> bool:
    """The blind order of one message, from the OS's randomness: True when Reply 1 is A."""
    return secrets.randbelow(2) == 0


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
    if deps.llm is None or not deps.llm.configured:
        return Reply(LLMError(LLMErrorKind.NOT_CONFIGURED).message)
    spec_a, spec_b = words[0], words[1]
    version_a = await resolve_version(
        deps, team_id=req.team_id, channel_id=req.channel_id, spec=spec_a
    )
    version_b = await resolve_version(
        deps, team_id=req.team_id, channel_id=req.channel_id, spec=spec_b
    )
    if version_a.id == version_b.id:
        raise UserError(
            f"A and B are the same version ({escape(version_a.label)}). Compare two versions, "
            "e.g. `Support@3 Support@4`, or two profiles."
        )
    rest = words[2] if len(words) > 2 else ""
    messages = parse_messages(rest)
    if messages is None:
        await scenarios_repo.ensure_seeded(deps.pool, team_id=req.team_id)
        name = rest.strip() or DEFAULT_SCENARIO
        try:
            scenario = await scenarios_repo.find_scenario(deps.pool, team_id=req.team_id, name=name)
        except ScenarioNotFound:
            raise UserError(
                f"There is no scenario named *{escape(name)}*. Name one from `/bot scenarios`, "
                "or give the messages in quotes."
            ) from None
        messages = list(scenario.messages)
    if len(messages) > MAX_MESSAGES:
        raise UserError(f"An A/B test takes at most {MAX_MESSAGES} messages (got {len(messages)}).")
    test, rows = await repo.create(
        deps.pool,
        team_id=req.team_id,
        version_a_id=version_a.id,
        version_b_id=version_b.id,
        user_id=req.user_id,
        channel_id=req.channel_id,
        messages=[(m, draw_a_first()) for m in messages],
    )
    text, parent_blocks = blocks.parent(
        ab_id=test.id,
        label_a=version_a.label,
        label_b=version_b.label,
        messages=len(rows),
        status="answering",
        participation=Participation(0, 0, [0] * len(rows), 0),
    )
    try:
        parent = await client.chat_postMessage(
            channel=req.channel_id, text=text, blocks=parent_blocks
        )
    except SlackApiError as exc:
        code = slack_error(exc)
        log.warning("could not post the A/B parent: %s", code)
        # kept, failed with its reason, rather than left answering with nowhere to answer
        await repo.stop_answering(
            deps.pool,
            team_id=req.team_id,
            ab_id=test.id,
            status="failed",
            reason=f"Slack refused its first message (`{code}`)",
        )
        return Reply(
            f"A/B test #{test.id} failed before it started: Slack refused my message in this "
            f"conversation (`{code}`). Invite me with `/invite @ROMASHKA` (or start it in a "
            "channel I am in) and start it again."
        )
    parent_ts = str(parent["ts"])
    await repo.set_parent(deps.pool, team_id=req.team_id, ab_id=test.id, parent_ts=parent_ts)
    ctx = RunContext(
        deps.pool,
        deps.llm,
        deps.settings.context_budget_tokens,
        deps.settings.knowledge_budget_tokens,
    )
    why = await answer_all(
        deps,
        client,
        ctx=ctx,
        test=test,
        rows=rows,
        version_a=version_a,
        version_b=version_b,
        parent_ts=parent_ts,
    )
    if why is not None:
        return Reply(f"A/B test #{test.id} did not open for voting: {why}.")
    return None


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
    ranked = await leaderboard_now(deps, team_id=req.team_id)
    labels = await repo.version_labels(
        deps.pool, team_id=req.team_id, ids=[int(r.item) for r in ranked]
    )
    text, board = blocks.leaderboard(ranked, {str(k): v for k, v in labels.items()})
    return Reply(text, board)
