"""The `/bot` slash command: acknowledge at once, then route the subcommand."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.common import escape, truncate
from bot.deps import Deps
from bot.errors import UserError
from bot.messages import GENERIC_FAILURE, HELP
from commands import config, profiles, test
from commands.errors import storage_message
from commands.parse import Parsed, parse
from commands.request import Reply, SlashRequest
from storage.errors import StorageError

log = logging.getLogger(__name__)

Handler = Callable[[Deps, SlashRequest, Parsed], Awaitable[Reply]]

SUBCOMMANDS: dict[str, Handler] = {
    "new": profiles.new,
    "profiles": profiles.list_all,
    "use": profiles.use,
    "default": profiles.make_default,
    "set": profiles.set_field,
    "show": profiles.show,
    "history": profiles.history_command,
    "rollback": profiles.rollback,
}


async def run_guarded(work: Callable[[], Awaitable[Reply | None]]) -> Reply | None:
    """Every expected failure becomes a clear reply; anything else is logged, never echoed."""
    try:
        return await work()
    except UserError as exc:
        return Reply(str(exc))
    except StorageError as exc:
        message = storage_message(exc)
        if message is None:
            log.exception("storage failure")
            return Reply(GENERIC_FAILURE)
        return Reply(message)
    except Exception:
        log.exception("unexpected failure handling a request")
        return Reply(GENERIC_FAILURE)


async def send(respond: AsyncRespond, reply: Reply) -> None:
    try:
        await respond(
            text=reply.text,
            blocks=reply.blocks or None,
            response_type="ephemeral",
            replace_original=False,
        )
    except Exception:
        log.exception("could not deliver a reply through response_url")


async def handle(
    deps: Deps,
    *,
    ack: AsyncAck,
    body: dict[str, object],
    respond: AsyncRespond,
    client: AsyncWebClient,
) -> None:
    await ack()
    req = SlashRequest.from_body(body)
    parsed = parse(req.text)

    async def work() -> Reply | None:
        if parsed.sub == "help":
            return Reply(HELP)
        if parsed.sub == "config":
            return await config.open_from_command(deps, client, req, parsed)
        if parsed.sub == "test":
            return await test.run(deps, client, req, parsed)
        handler = SUBCOMMANDS.get(parsed.sub)
        if handler is None:
            shown = escape(truncate(parsed.sub, 40))
            return Reply(f"I don't know `/bot {shown}`.\n\n{HELP}")
        return await handler(deps, req, parsed)

    reply = await run_guarded(work)
    if reply is not None:
        await send(respond, reply)
