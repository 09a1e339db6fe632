"""The `/bot` slash command: acknowledge at once, then route the subcommand."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.common import escape, truncate
from bot.errors import UserError
from bot.messages import HELP, NUL_IN_TEXT
from bot.slack.roles import require_editor, require_editor_or_first
from bot.startup.deps import Deps
from commands import (
    ab,
    api_tokens,
    calibrate,
    config,
    editors,
    knowledge,
    profiles,
    promote,
    purge,
    scenarios,
    test,
)
from commands import export as export_command
from commands import stats as stats_command
from commands.parse import Parsed, parse
from commands.permissions import editing
from commands.replies import reply_with
from commands.request import Reply, SlashRequest

log = logging.getLogger(__name__)

Handler = Callable[[Deps, SlashRequest, Parsed], Awaitable[Reply]]

SUBCOMMANDS: dict[str, Handler] = {
    "new": profiles.new,
    "profiles": profiles.list_all,
    "use": profiles.pin,
    "default": profiles.make_default,
    "set": profiles.set_field,
    "show": profiles.show,
    "history": profiles.history_command,
    "rollback": profiles.rollback,
    "scenarios": scenarios.list_all,
    "leaderboard": ab.leaderboard,
    "labels": promote.list_labels,
    "gate": promote.gate,
    "promotions": promote.promotions,
    "api-token": api_tokens.handle,
}

# subcommands that call Slack themselves (modals, posts, uploads) and may reply with nothing
SlackHandler = Callable[[Deps, AsyncWebClient, SlashRequest, Parsed], Awaitable[Reply | None]]
SLACK_SUBCOMMANDS: dict[str, SlackHandler] = {
    "purge": purge.open_confirmation,
    "editors": editors.handle,
    "config": config.open_from_command,
    "test": test.run,
    "knowledge": knowledge.handle,
    "ab": ab.handle,
    "scenario": scenarios.handle,
    "calibrate": calibrate.run,
    "stats": stats_command.run,
    "export": export_command.run,
    "promote": promote.promote,
}


async def _told(notice: str, reply: Awaitable[Reply]) -> Reply:
    """The reply with the notice after it, whether the command worked or not."""
    try:
        done = await reply
    except UserError as exc:
        raise UserError(f"{exc}\n\n{notice}") from None
    return Reply(f"{done.text}\n\n{notice}", done.blocks)


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
        if "\x00" in req.text:
            raise UserError(NUL_IN_TEXT)
        if parsed.sub == "help":
            return Reply(HELP)
        doing = editing(parsed)
        if parsed.sub == "new" and doing is not None:
            notice = await require_editor_or_first(
                deps, client, team_id=req.team_id, user_id=req.user_id, doing=doing
            )
            if notice is not None:
                return await _told(notice, profiles.new(deps, req, parsed))
        elif doing is not None:
            await require_editor(
                deps, client, team_id=req.team_id, user_id=req.user_id, doing=doing
            )
        with_client = SLACK_SUBCOMMANDS.get(parsed.sub)
        if with_client is not None:
            return await with_client(deps, client, req, parsed)
        handler = SUBCOMMANDS.get(parsed.sub)
        if handler is None:
            shown = escape(truncate(parsed.sub, 40))
            return Reply(f"I don't know `/bot {shown}`.\n\n{HELP}")
        return await handler(deps, req, parsed)

    await reply_with(respond, work)
