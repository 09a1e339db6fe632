"""An ephemeral that states a run's cost and asks to confirm it, for buttons that would start
model calls above the workspace's limit (slash commands take a trailing `confirm`). Pure."""

from __future__ import annotations

from bot import limits
from bot.blocks.common import Block, mrkdwn, plain


def confirm_prompt(text: str, *, action_id: str, value: str) -> tuple[str, list[Block]]:
    return text, [
        {"type": "section", "text": mrkdwn(text, limits.SECTION_TEXT)},
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "style": "primary",
                    "action_id": action_id,
                    "text": plain("Confirm and run", limits.BUTTON_TEXT),
                    "value": value[: limits.BUTTON_VALUE],
                }
            ],
        },
    ]
