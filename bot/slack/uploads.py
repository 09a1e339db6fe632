"""Posting files into a channel with `files_upload_v2`, and what to tell the person when Slack
refuses."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.common import escape

log = logging.getLogger(__name__)

NOT_IN_CHANNEL: Final = (
    "I can't post files here because I'm not in this channel. Invite me with "
    "`/invite @ROMASHKA` and run the command again."
)
# Slack's own error codes are safe to show; anything unexpected is named by its code only.
UPLOAD_ERRORS: Final = {
    "not_in_channel": NOT_IN_CHANNEL,
    "channel_not_found": (
        "I can't post files in this conversation: private channels and direct messages need me "
        "invited first (`/invite @ROMASHKA`), or run the command in a channel I'm in."
    ),
    "is_archived": "This channel is archived, so nothing can be posted in it.",
    "missing_scope": (
        "This installation lacks the `files:write` permission. Reinstall the app from "
        "`manifest.yml` to grant it."
    ),
    "restricted_action": "This workspace does not allow apps to post files in this channel.",
}


@dataclass(frozen=True, slots=True)
class Upload:
    filename: str
    content: bytes
    title: str


async def upload(
    client: AsyncWebClient,
    *,
    channel_id: str,
    files: Sequence[Upload],
    comment: str,
    thread_ts: str | None = None,
) -> str | None:
    """Post the files in one message (in a thread when `thread_ts` is given); None when they
    were posted, else what went wrong."""
    try:
        await client.files_upload_v2(
            file_uploads=[
                {"filename": f.filename, "content": f.content, "title": f.title} for f in files
            ],
            channel=channel_id,
            initial_comment=comment,
            thread_ts=thread_ts,
        )
    except SlackApiError as exc:
        error = str(exc.response.get("error", "")) if exc.response is not None else ""
        log.warning("file upload refused: %s", error)
        return UPLOAD_ERRORS.get(
            error, f"Slack refused the upload (`{escape(error or 'unknown error')}`)."
        )
    except SlackRequestError:
        log.exception("file upload failed")
        return "The upload to Slack failed half-way. Please try again in a moment."
    return None
