"""Saving a conversation as a scenario: the "Save as scenario" message shortcut and the button
of the same name under each answer. Both open the modal the use case fills
(bot/scenarios/from_thread.py); its Save is the scenario form's (commands/scenarios.py), or the
simulated customer's (commands/simulations.py) when that kind is chosen on the modal."""

from __future__ import annotations

from bot.errors import UserError
from bot.scenarios import from_thread
from bot.startup.deps import Deps
from commands.listen import Click
from commands.replies import said
from commands.request import Reply


async def from_message(deps: Deps, click: Click) -> Reply | None:
    """The message shortcut: the thread of the message it was used on (its own ts when it is
    a thread's first message or in no thread)."""
    message = click.body.get("message") or {}
    thread_ts = str(message.get("thread_ts") or message.get("ts") or "")
    channel_id = click.channel_id
    if not thread_ts or not channel_id:
        raise UserError(from_thread.NOT_A_CONVERSATION)
    return await _open(deps, click, channel_id=channel_id, thread_ts=thread_ts)


async def from_answer(deps: Deps, click: Click) -> Reply | None:
    """The footer's button: the answer's own thread, read from the stored answer."""
    channel_id, thread_ts = await from_thread.thread_of_answer(
        deps.pool, team_id=click.team_id, result_id=click.id_value()
    )
    return await _open(deps, click, channel_id=channel_id, thread_ts=thread_ts)


async def _open(deps: Deps, click: Click, *, channel_id: str, thread_ts: str) -> Reply | None:
    told = await from_thread.open_draft(
        deps.pool,
        deps.llm,
        click.client,
        team_id=click.team_id,
        channel_id=channel_id,
        thread_ts=thread_ts,
        trigger_id=click.trigger_id,
        response_url=click.response_url,
    )
    return said(told)


async def kind_changed(deps: Deps, click: Click) -> Reply | None:
    """The kind choice on the drafted modal: the form of that kind, drafted from the thread."""
    view: dict[str, object] = click.body.get("view") or {}
    actions = click.body.get("actions") or [{}]
    kind = str((actions[0].get("selected_option") or {}).get("value", ""))
    await from_thread.redraft(
        deps.pool, deps.llm, click.client, team_id=click.team_id, view=view, kind=kind
    )
    return None
