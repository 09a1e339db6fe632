"""Messages in channels: a person's reply in a test thread is a follow-up; a mention elsewhere
is pointed to `/bot test`. Edits, deletions, bots and our own messages are ignored."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.answers import follow_up
from bot.answers.pipeline import RunContext
from bot.jobs.budget import interactive_lease
from bot.startup.deps import Deps


def is_human_thread_reply(event: dict[str, Any], *, bot_user_id: str | None) -> bool:
    if event.get("subtype") or event.get("bot_id") or event.get("bot_profile"):
        return False  # edits, deletions, joins, bots (including ourselves)
    thread_ts, ts = event.get("thread_ts"), event.get("ts")
    if not thread_ts or not ts or thread_ts == ts:
        return False
    user = event.get("user")
    return bool(user) and user != bot_user_id


async def on_message(
    deps: Deps,
    client: AsyncWebClient,
    *,
    event: dict[str, Any],
    team_id: str,
    bot_user_id: str | None,
) -> None:
    if not is_human_thread_reply(event, bot_user_id=bot_user_id):
        return
    await follow_up.answer(
        replace(
            RunContext.of(deps.pool, deps.llm, deps.settings, streams=deps.streams),
            interactive_lease=interactive_lease(deps),
        ),
        client,
        team_id=team_id,
        channel=str(event["channel"]),
        thread_ts=str(event["thread_ts"]),
        ts=str(event["ts"]),
        user_id=str(event["user"]),
        text=follow_up.strip_mentions(str(event.get("text", ""))),
        # a worker writes it (in this process by default, or `romashka worker`)
        queue=deps.answers,
    )


async def on_mention(
    deps: Deps,
    client: AsyncWebClient,
    *,
    event: dict[str, Any],
    team_id: str,
    bot_user_id: str | None,
) -> None:
    """In a test thread a mention is a follow-up; elsewhere, point to `/bot test`."""
    if event.get("thread_ts") and event.get("thread_ts") != event.get("ts"):
        await on_message(deps, client, event=event, team_id=team_id, bot_user_id=bot_user_id)
        return
    channel, ts = str(event.get("channel", "")), str(event.get("ts", ""))
    if not channel or not ts or event.get("bot_id"):
        return
    await follow_up.point_to_test(deps.pool, client, team_id=team_id, channel=channel, ts=ts)
