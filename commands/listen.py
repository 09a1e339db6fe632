"""The listener boilerplate, written once: acknowledge first, read the payload, run the handler
guarded, reply. Handlers are plain coroutines of (deps, what was clicked or submitted), so each
is called directly in a test and the Bolt signature lives only here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import asyncpg
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.startup.deps import Deps
from commands import payload
from commands.replies import deliver, run_guarded, said, send
from commands.request import Reply


def team_of(context: AsyncBoltContext) -> str:
    # Bolt derives the team from the signed payload; handlers never trust ids from button values
    return context.team_id or context.enterprise_id or ""


@dataclass(frozen=True, slots=True)
class Click:
    """A button click: the signed team, the raw payload and the client to answer with. Values
    are read on demand, inside the guarded handler, so a malformed one becomes a clear reply."""

    team_id: str
    body: dict[str, Any]
    client: AsyncWebClient

    @property
    def user_id(self) -> str:
        return payload.user_id(self.body)

    @property
    def channel_id(self) -> str:
        return payload.channel_id(self.body)

    @property
    def trigger_id(self) -> str:
        return str(self.body.get("trigger_id", ""))

    @property
    def response_url(self) -> str | None:
        url = self.body.get("response_url")
        return None if url is None else str(url)

    @property
    def value(self) -> str:
        return payload.value(self.body)

    def id_value(self) -> int:
        return payload.id_value(self.body)

    def json_value(self) -> dict[str, Any]:
        return payload.json_value(self.body)


ClickHandler = Callable[[Deps, Click], Awaitable[Reply | None]]
Listener = Callable[..., Awaitable[None]]


def button(deps: Deps, handler: ClickHandler, *, direct_message: bool = False) -> Listener:
    """A Bolt action listener for `handler`. Its reply goes ephemerally where the button was
    clicked; with `direct_message`, by DM when the click has no response_url (App Home)."""

    async def listener(
        ack: AsyncAck,
        body: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
        context: AsyncBoltContext,
    ) -> None:
        await ack()
        click = Click(team_id=team_of(context), body=body, client=client)
        reply = await run_guarded(lambda: handler(deps, click))
        if reply is None:
            return
        if direct_message:
            await deliver(client, respond, body=body, reply=reply)
        else:
            await send(respond, reply)

    listener.__name__ = getattr(handler, "__name__", "button")
    return listener


class SubmitHandler(Protocol):
    async def __call__(
        self,
        deps: Deps,
        *,
        ack: AsyncAck,
        body: dict[str, Any],
        client: AsyncWebClient,
        team_id: str,
    ) -> None: ...


def submission(deps: Deps, handler: SubmitHandler) -> Listener:
    """A Bolt view listener for a modal's Save: the handler acks itself, with errors or not."""

    async def listener(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        await handler(deps, ack=ack, body=body, client=client, team_id=team_of(context))

    listener.__name__ = getattr(handler, "__name__", "submission")
    return listener


class StopRun(Protocol):
    """A run kind's Stop use case (bot.scenarios.run.stop, bot.simulation.run.stop)."""

    async def __call__(
        self, pool: asyncpg.Pool, client: AsyncWebClient, *, team_id: str, run_id: int, user_id: str
    ) -> str: ...


def stop_click(stop: StopRun) -> ClickHandler:
    """The Stop button on a run's progress: anyone who sees it may press it."""

    async def on_click(deps: Deps, click: Click) -> Reply | None:
        stopped = await stop(
            deps.pool,
            click.client,
            team_id=click.team_id,
            run_id=click.id_value(),
            user_id=click.user_id,
        )
        return said(stopped)

    return on_click
