"""The app's DM (the Messages tab): a person's message is a customer's message to the profile,
answered in its thread; `use <profile>[@<version>]` switches who answers. Opening the tab
offers suggested prompts. Edits, bots and our own messages are ignored."""

from __future__ import annotations

from typing import Any, Final

from slack_sdk.web.async_client import AsyncWebClient

from bot.answers import dm, follow_up
from bot.answers import thread as answering
from bot.answers.pipeline import RunContext
from bot.messages import DM_PICK_UNREADABLE
from bot.startup.deps import Deps
from commands.listen import Click
from commands.replies import run_guarded
from commands.request import Reply

IM: Final = "im"
MESSAGES_TAB: Final = "messages"


def is_dm(event: dict[str, Any]) -> bool:
    return event.get("channel_type") == IM


def is_human_message(event: dict[str, Any], *, bot_user_id: str | None) -> bool:
    if event.get("subtype") or event.get("bot_id") or event.get("bot_profile"):
        return False  # edits, deletions, the thread's root being retitled, bots (us too)
    user = event.get("user")
    return bool(user) and bool(event.get("ts")) and user != bot_user_id


async def on_message(
    deps: Deps,
    client: AsyncWebClient,
    *,
    event: dict[str, Any],
    team_id: str,
    bot_user_id: str | None,
) -> None:
    if not is_human_message(event, bot_user_id=bot_user_id):
        return
    ctx = RunContext.of(deps.pool, deps.llm, deps.settings, streams=deps.streams)
    channel, ts, user_id = str(event["channel"]), str(event["ts"]), str(event["user"])
    # a message outside a thread starts a conversation in its own thread
    thread_ts = str(event.get("thread_ts") or ts)
    text = follow_up.strip_mentions(str(event.get("text", "")))
    spec = dm.switch_spec(text)
    name = dm.save_name(text)

    async def work() -> Reply | None:
        told: str | None = None
        if name is not None:
            told = await dm.save_as_scenario(
                ctx,
                team_id=team_id,
                channel=channel,
                thread_ts=thread_ts,
                ts=ts,
                user_id=user_id,
                name=name,
            )
        elif spec is not None:
            told = await dm.switch(
                ctx,
                client,
                team_id=team_id,
                channel=channel,
                thread_ts=thread_ts,
                ts=ts,
                user_id=user_id,
                spec=spec,
            )
        else:
            await dm.converse(
                ctx,
                client,
                team_id=team_id,
                channel=channel,
                thread_ts=thread_ts,
                ts=ts,
                user_id=user_id,
                text=text,
                # a worker writes it (in this process by default, or `romashka worker`)
                queue=deps.answers,
            )
        return None if told is None else Reply(told)

    reply = await run_guarded(work)
    if reply is not None:
        await answering.post_notice(client, channel=channel, thread_ts=thread_ts, text=reply.text)


async def on_tab_opened(
    deps: Deps, client: AsyncWebClient, *, event: dict[str, Any], team_id: str
) -> None:
    """The Messages tab opened (the agent view's start of a conversation): offer prompts."""
    channel = event.get("channel")
    if event.get("tab") != MESSAGES_TAB or not channel:
        return

    async def offer() -> Reply | None:
        await dm.offer_prompts(deps.pool, client, team_id=team_id, channel=str(channel))
        return None

    await run_guarded(offer)


async def pick_profile(deps: Deps, click: Click) -> Reply | None:
    """The select under the profiles list in a DM thread: that thread answers as the picked
    profile and version from now on, as with `use Support@3`."""
    action = (click.body.get("actions") or [{}])[0]
    spec = str((action.get("selected_option") or {}).get("value", ""))
    message = click.body.get("message") or {}
    thread_ts = str(message.get("thread_ts") or message.get("ts") or "")
    if not spec or not thread_ts:
        return Reply(DM_PICK_UNREADABLE)
    await dm.pick(
        RunContext.of(deps.pool, deps.llm, deps.settings, streams=deps.streams),
        click.client,
        team_id=click.team_id,
        channel=click.channel_id,
        thread_ts=thread_ts,
        user_id=click.user_id,
        spec=spec,
    )
    return None
