"""Texts and blocks for `/bot api-token`."""

from __future__ import annotations

from collections.abc import Sequence

from bot import limits
from bot.blocks.common import Block, escape, mrkdwn, plain, slack_date
from bot.domain.release import ApiToken

NO_TOKENS = "No API tokens yet. Create one with `/bot api-token create live-bot`."


def created_text(*, name: str, secret: str) -> str:
    return (
        f"API token `{escape(name)}` created. Copy it now: it is shown only this once, and only "
        f"its hash is kept.\n```{secret}```\n"
        "Send it as `Authorization: Bearer <token>` to `GET /v1/profiles/<name>?label=production`. "
        f"Revoke it with `/bot api-token revoke {escape(name)}`."
    )


def token_line(token: ApiToken) -> str:
    used = slack_date(token.last_used_at) if token.last_used_at is not None else "never"
    return (
        f"• `{escape(token.name)}` · created by <@{token.created_by}> "
        f"{slack_date(token.created_at)} · last used {used}"
    )


def tokens_list(tokens: Sequence[ApiToken]) -> tuple[str, list[Block]]:
    if not tokens:
        return NO_TOKENS, []
    blocks: list[Block] = [{"type": "header", "text": plain("API tokens", limits.HEADER_TEXT)}]
    # 40 lines of at most ~120 characters stay inside one section's 3,000
    lines = [token_line(t) for t in tokens[:40]]
    if len(tokens) > 40:
        lines.append(f"… and {len(tokens) - 40} more")
    blocks.append({"type": "section", "text": mrkdwn("\n".join(lines), limits.SECTION_TEXT)})
    return "API tokens", blocks
