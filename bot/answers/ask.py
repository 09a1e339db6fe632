"""`/bot test`: a parent message in the channel naming the version and the question, and the
answer in its thread, where follow-ups continue the conversation."""

from __future__ import annotations

from typing import Final

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.answers import thread as answering
from bot.answers.pipeline import RunContext
from bot.blocks.answer import parent_text
from bot.domain.profile import ProfileVersion
from bot.persona.conversation import Turn
from storage import profiles as repo
from storage import results as results_repo

# Slack's answers when the bot may not post where the command was typed
_CANNOT_POST: Final = frozenset(
    {"channel_not_found", "not_in_channel", "is_archived", "restricted_action"}
)
CANNOT_POST: Final = (
    "I can't post in this conversation. Invite me with `/invite @ROMASHKA` "
    "(or run the test in a channel I'm in) and try again."
)


async def ask(
    ctx: RunContext,
    client: AsyncWebClient,
    *,
    team_id: str,
    channel_id: str,
    user_id: str,
    profile: str | None,
    message: str,
    queue: answering.AnswerQueue | None = None,
) -> str | None:
    """Answer `message` as the named profile (else the channel's) at its current version. None
    when the answer is in the thread (or queued for a worker to write there: `queue`);
    otherwise what the person should be told."""
    found = await repo.resolve_profile(
        ctx.pool, team_id=team_id, channel_id=channel_id, name=profile
    )
    version = await repo.current_version(ctx.pool, team_id=team_id, profile_id=found.id)
    try:
        parent = await client.chat_postMessage(
            channel=channel_id,
            text=parent_text(label=version.label, user_id=user_id, question=message),
        )
    except SlackApiError as exc:
        code = exc.response.get("error") if exc.response is not None else None
        if code in _CANNOT_POST:
            return CANNOT_POST
        raise
    thread_ts = str(parent["ts"])
    await first_answer(
        ctx,
        client,
        team_id=team_id,
        channel_id=channel_id,
        thread_ts=thread_ts,
        user_id=user_id,
        version=version,
        message=message,
        queue=queue,
    )
    return None


async def first_answer(
    ctx: RunContext,
    client: AsyncWebClient,
    *,
    team_id: str,
    channel_id: str,
    thread_ts: str,
    user_id: str,
    version: ProfileVersion,
    message: str,
    queue: answering.AnswerQueue | None = None,
    writing_status: bool = False,
) -> None:
    """A new conversation's first answer: the thread is registered with its version first, so
    the follow-ups in it (in a channel or the DM) continue with that version. With `queue`, a
    worker writes it (bot.jobs.interactive); without, it is written here. `writing_status`:
    the DM's "is writing…" shows once the writing starts."""
    await results_repo.register_thread(
        ctx.pool,
        team_id=team_id,
        channel_id=channel_id,
        thread_ts=thread_ts,
        profile_version_id=version.id,
        user_id=user_id,
    )
    job = answering.AnswerJob(
        team_id=team_id,
        channel_id=channel_id,
        thread_ts=thread_ts,
        user_id=user_id,
        kind="test",
        version=version,
        turns=[Turn(role="user", content=message)],
        writing_status=writing_status,
    )
    if queue is not None:
        await queue.put(client, job)
    else:
        await answering.answer(ctx, client, job)
