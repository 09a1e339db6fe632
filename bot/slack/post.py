"""Posting long, block-rich messages so that Slack's size limits never lose them."""

from __future__ import annotations

import logging
from typing import Any, Final

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot import limits
from bot.blocks.common import truncate

log = logging.getLogger(__name__)

TRUNCATED_NOTE: Final = "\n\n_(shortened: Slack refused the full message as too long)_"


async def post_message(client: AsyncWebClient, **kwargs: Any) -> AsyncSlackResponse:
    """chat.postMessage; on `msg_too_long` (or blocks Slack rejects as too large) posts the
    text alone, shortened, so the content still arrives in the thread."""
    try:
        return await client.chat_postMessage(**kwargs)
    except SlackApiError as exc:
        code = exc.response.get("error") if exc.response is not None else None
        if code not in {"msg_too_long", "invalid_blocks", "msg_blocks_too_long"}:
            raise
        log.warning("Slack refused a message (%s); posting it shortened", code)
        text = str(kwargs.get("text") or "")
        short = truncate(text, limits.READABLE_MESSAGE_TEXT - len(TRUNCATED_NOTE)) + TRUNCATED_NOTE
        retry = {k: v for k, v in kwargs.items() if k != "blocks"}
        retry["text"] = short
        return await client.chat_postMessage(**retry)
