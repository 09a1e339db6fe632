"""Thread messages that carry a mark in their Slack message metadata, so that a job killed after
Slack took a post (and before the post's ts was stored) can find it again instead of posting it
twice. The mark names the stored row by id only: nothing a reader could learn from it."""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from bot import limits


def mark(event_type: str, key: str, value: int) -> dict[str, object]:
    """The `metadata` of a post that stands for row `value`."""
    return {"event_type": event_type, "event_payload": {key: value}}


async def find_marked(
    client: AsyncWebClient, *, channel: str, thread_ts: str, event_type: str, key: str, value: int
) -> str | None:
    """The ts of our thread post marked with (`event_type`, `key` = `value`), if Slack has it
    (conversations.replies with the messages' metadata, every page)."""
    cursor: str | None = None
    while True:
        page = await client.conversations_replies(
            channel=channel,
            ts=thread_ts,
            include_all_metadata=True,
            limit=limits.REPLIES_PAGE,
            cursor=cursor,
        )
        for message in page.get("messages") or []:
            meta = message.get("metadata") or {}
            payload = meta.get("event_payload") or {}
            if meta.get("event_type") == event_type and payload.get(key) == value:
                return str(message.get("ts"))
        cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
        if cursor is None:
            return None
