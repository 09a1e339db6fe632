"""Block Kit for `/bot purge`: the confirmation modal an admin types DELETE into. Pure."""

from __future__ import annotations

from typing import Any, Final

from bot import ids, limits
from bot.blocks.common import metadata, mrkdwn, plain

CONFIRM_WORD: Final = "DELETE"


def confirm_view(*, channel_id: str, response_url: str | None) -> dict[str, Any]:
    meta = metadata({"c": channel_id, "r": response_url})
    return {
        "type": "modal",
        "callback_id": ids.PURGE_MODAL,
        "title": plain("Purge workspace data", limits.MODAL_TITLE),
        "submit": plain("Delete everything", limits.MODAL_BUTTON),
        "close": plain("Cancel", limits.MODAL_BUTTON),
        "private_metadata": meta,
        "blocks": [
            {
                "type": "section",
                "text": mrkdwn(
                    "This deletes *all* of this workspace's ROMASHKA data: every profile and "
                    "version, knowledge, test result and rating, scenario and run, A/B test and "
                    "vote, and the editors list. It cannot be undone.",
                    limits.SECTION_TEXT,
                ),
            },
            {
                "type": "input",
                "block_id": ids.PURGE_CONFIRM,
                "label": plain(f"Type {CONFIRM_WORD} to confirm", limits.INPUT_LABEL),
                "element": {
                    "type": "plain_text_input",
                    "action_id": ids.PURGE_CONFIRM + ids.INPUT_SUFFIX,
                    "max_length": 20,
                },
            },
        ],
    }
