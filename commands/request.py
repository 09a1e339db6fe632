"""The parts of a slash command payload the handlers use, and their reply type."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.blocks.common import Block


def unescape(text: str) -> str:
    """Slack sends &, < and > in typed text as entities; mentions stay as <@U…|name>."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


@dataclass(frozen=True, slots=True)
class SlashRequest:
    team_id: str
    channel_id: str
    user_id: str
    trigger_id: str
    response_url: str | None
    text: str

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> SlashRequest:
        return cls(
            team_id=str(body.get("team_id", "")),
            channel_id=str(body.get("channel_id", "")),
            user_id=str(body.get("user_id", "")),
            trigger_id=str(body.get("trigger_id", "")),
            response_url=body.get("response_url"),
            text=unescape(str(body.get("text", ""))),
        )


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    blocks: list[Block] = field(default_factory=list)
    # blocks to send instead when Slack refuses `blocks` (a table block the workspace lacks)
    fallback: list[Block] | None = None
