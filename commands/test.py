"""`/bot test [@profile] <message>`: a parent message in the channel, the answer in its thread."""

from __future__ import annotations

import logging
from typing import Final

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import answering
from bot.blocks.answer import parent_text
from bot.conversation import Turn
from bot.deps import Deps
from bot.errors import UserError
from bot.llm import LLMError, LLMErrorKind
from commands.parse import Parsed
from commands.profiles import resolve
from commands.request import Reply, SlashRequest
from storage import profiles as repo
from storage import results as results_repo

log = logging.getLogger(__name__)

MAX_TEST_MESSAGE: Final = 4000
USAGE: Final = (
    "Usage: `/bot test <message>` — for example `/bot test How do I cancel my subscription?`. "
    "To test another profile than this channel's, name it first: `/bot test @Support Where is my "
    "order?`"
)
# Slack's answers when the bot may not post where the command was typed
_CANNOT_POST: Final = frozenset(
    {"channel_not_found", "not_in_channel", "is_archived", "restricted_action"}
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
    profile = await resolve(deps, req, parsed.profile)
    version = await repo.current_version(deps.pool, team_id=req.team_id, profile_id=profile.id)
    try:
        parent = await client.chat_postMessage(
            channel=req.channel_id,
            text=parent_text(label=version.label, user_id=req.user_id, question=message),
        )
    except SlackApiError as exc:
        code = exc.response.get("error") if exc.response is not None else None
        if code in _CANNOT_POST:
            return Reply(
                "I can't post in this conversation. Invite me with `/invite @ROMASHKA` "
                "(or run the test in a channel I'm in) and try again."
            )
        raise
    thread_ts = str(parent["ts"])
    await results_repo.register_thread(
        deps.pool,
        team_id=req.team_id,
        channel_id=req.channel_id,
        thread_ts=thread_ts,
        profile_version_id=version.id,
        user_id=req.user_id,
    )
    await answering.answer(
        deps,
        client,
        answering.AnswerJob(
            team_id=req.team_id,
            channel_id=req.channel_id,
            thread_ts=thread_ts,
            user_id=req.user_id,
            kind="test",
            version=version,
            turns=[Turn(role="user", content=message)],
        ),
    )
    return None
