"""`/bot api-token create|list|revoke <name>`: the tokens the live bot reads its profile with."""

from __future__ import annotations

from typing import Final

from bot.blocks.api_tokens import created_text, tokens_list
from bot.blocks.common import escape
from bot.errors import UserError
from bot.messages import usage
from bot.release import api_tokens
from bot.startup.deps import Deps
from commands.parse import Parsed, split_words
from commands.request import Reply, SlashRequest

USAGE: Final = usage("api-token create|list|revoke <name>", "api-token create live-bot")


async def handle(deps: Deps, req: SlashRequest, parsed: Parsed) -> Reply:
    words = split_words(parsed.rest)
    action = words[0].lower() if words else ""
    if parsed.profile is not None or action not in {"create", "list", "revoke"}:
        raise UserError(USAGE)
    if action == "list":
        if len(words) != 1:
            raise UserError(USAGE)
        text, blocks = tokens_list(await api_tokens.live(deps, team_id=req.team_id))
        return Reply(text, blocks)
    if len(words) != 2:
        raise UserError(f"{api_tokens.NAME_RULES}\n{USAGE}")
    if action == "create":
        created = await api_tokens.create(
            deps, team_id=req.team_id, user_id=req.user_id, name=words[1]
        )
        return Reply(created_text(name=created.token.name, secret=created.secret))
    await api_tokens.revoke(deps, team_id=req.team_id, user_id=req.user_id, name=words[1])
    return Reply(f"API token `{escape(words[1])}` is revoked: requests with it now get 401.")
