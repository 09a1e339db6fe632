"""`/bot test [@profile] <message>`: a parent message in the channel, the answer in its thread."""

from __future__ import annotations

from typing import Final

from slack_sdk.web.async_client import AsyncWebClient

from bot.answers.ask import ask
from bot.answers.pipeline import RunContext
from bot.errors import UserError
from bot.model.llm import LLMError, LLMErrorKind
from bot.startup.deps import Deps
from commands.parse import Parsed
from commands.replies import said
from commands.request import Reply, SlashRequest

MAX_TEST_MESSAGE: Final = 4000
USAGE: Final = (
    "Usage: `/bot test <message>` — for example `/bot test How do I cancel my subscription?`. "
    "To test another profile than this channel's, name it first: `/bot test @Support Where is my "
    "order?`"
)


async def run(
    deps: Deps, client: AsyncWebClient, req: SlashRequest, parsed: Parsed
) -> Reply | None:
    message = parsed.rest
    if not message:
        raise UserError(USAGE)
    if len(message) > MAX_TEST_MESSAGE:
        raise UserError(
            f"That message is {len(message):,} characters; a test message can be at most "
            f"{MAX_TEST_MESSAGE:,}. Please shorten it."
        )
    if deps.llm is None or not deps.llm.configured:
        return Reply(LLMError(LLMErrorKind.NOT_CONFIGURED).message)
    # other requests' acks first: in a burst of commands, posting the parent and queueing the
    # answer would otherwise run between them (bot/slack/ack_gate.py)
    await deps.acks.after_acks()
    # a worker writes the answer (in this process by default, or `romashka worker`): this
    # process's loop stays free for acks
    told = await ask(
        RunContext.of(deps.pool, deps.llm, deps.settings, streams=deps.streams),
        client,
        team_id=req.team_id,
        channel_id=req.channel_id,
        user_id=req.user_id,
        profile=parsed.profile,
        message=message,
        queue=deps.answers,
    )
    return said(told)
