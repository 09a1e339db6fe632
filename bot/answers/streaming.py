"""Showing a model's answer in a Slack thread while it is being written.

Slack's streaming methods (chat.startStream / appendStream / stopStream) are used where the
workspace allows them; where they are refused, the answer is posted once and then edited with
chat.update, no more often than Slack's rate limits allow.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Final

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import limits
from bot.slack.stream_budget import StreamBudget
from bot.slack.text import Dialect, neutralise, settled_length

log = logging.getLogger(__name__)

# appendStream is meant for frequent small appends; a quarter second keeps the text live
# without a call per token.
STREAM_FLUSH_S: Final = 0.25
# chat.update is Tier 3 (about 50 a minute per workspace): one edit a second per answer leaves
# room for several answers at once.
UPDATE_FLUSH_S: Final = 1.0
INTERRUPTED_MARK: Final = "\n\n_(interrupted: the model's stream broke off here)_"


class Mode(StrEnum):
    STREAM = "stream"
    UPDATE = "update"


def _markdown(text: str) -> str:
    return neutralise(text, dialect=Dialect.MARKDOWN)


def _mrkdwn(text: str) -> str:
    """The fallback path posts `text`, which Slack reads as mrkdwn."""
    return _fit(neutralise(text, dialect=Dialect.MRKDWN))


class AnswerStream:
    """One answer message in a thread, written piece by piece."""

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        channel: str,
        thread_ts: str,
        team_id: str,
        user_id: str,
        username: str,
        icon_emoji: str,
        budget: StreamBudget | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._channel = channel
        self._thread_ts = thread_ts
        self._team_id = team_id
        self._user_id = user_id
        self._username = username
        self._icon_emoji = icon_emoji
        self._budget = budget
        self._clock = clock
        self._pending = ""
        self._shown = ""
        self._last_flush = 0.0
        self._stream_broken = False
        self.mode: Mode | None = None
        self.ts: str | None = None
        self.first_visible_at: float | None = None

    async def append(self, text: str) -> None:
        self._pending += text
        interval = STREAM_FLUSH_S if self.mode is not Mode.UPDATE else UPDATE_FLUSH_S
        if self.ts is None or self._clock() - self._last_flush >= interval:
            await self._flush()

    async def _flush(self) -> None:
        # the streamed pieces are rendered as one text: a link or `@here` still being written
        # waits for the next piece, so that it is neutralised whole
        settled = settled_length(self._pending)
        if not settled:
            return
        if self.ts is None:
            await self._start(settled)
        elif self.mode is Mode.STREAM and not self._stream_broken:
            piece = self._pending[:settled]
            try:
                await self._client.chat_appendStream(
                    channel=self._channel, ts=self.ts, markdown_text=_markdown(piece)
                )
                self._shown += piece
                self._pending = self._pending[settled:]
            except SlackApiError as exc:
                # keep the text: it goes out with stopStream or a follow-up message at the end
                log.warning("appendStream failed (%s); holding text until the end", _code(exc))
                self._stream_broken = True
        elif self.mode is Mode.UPDATE:
            await self._update(self._shown + self._pending)
        self._last_flush = self._clock()

    async def _start(self, settled: int) -> None:
        try:
            if self._budget is not None and not await self._budget.spend(self._team_id):
                raise _BudgetSpent()
            response = await self._client.chat_startStream(
                channel=self._channel,
                thread_ts=self._thread_ts,
                markdown_text=_markdown(self._pending[:settled]),
                recipient_team_id=self._team_id,
                recipient_user_id=self._user_id,
                username=self._username,
                icon_emoji=self._icon_emoji,
            )
            self.mode = Mode.STREAM
        except (SlackApiError, _BudgetSpent) as exc:
            log.info("streaming refused (%s); posting and updating instead", _code(exc))
            # edits replace the whole text, so nothing needs holding back
            settled = len(self._pending)
            response = await self._client.chat_postMessage(
                channel=self._channel,
                thread_ts=self._thread_ts,
                text=_mrkdwn(self._pending),
                username=self._username,
                icon_emoji=self._icon_emoji,
            )
            self.mode = Mode.UPDATE
        self.ts = str(response["ts"])
        self.first_visible_at = self._clock()
        self._shown, self._pending = self._pending[:settled], self._pending[settled:]

    async def _update(self, full_text: str) -> None:
        assert self.ts is not None
        try:
            await self._client.chat_update(
                channel=self._channel, ts=self.ts, text=_mrkdwn(full_text)
            )
            self._shown, self._pending = full_text, ""
        except SlackApiError as exc:
            log.warning("chat.update failed (%s); will retry with the next text", _code(exc))

    async def finish(self, *, interrupted: bool = False) -> str | None:
        """Send whatever is still pending and close the message; returns its ts."""
        if interrupted:
            self._pending += INTERRUPTED_MARK
        if self.ts is None:
            if not self._pending:
                return None
            await self._start(len(self._pending))
        if self.mode is Mode.UPDATE:
            if self._pending:
                await self._update(self._shown + self._pending)
            return self.ts
        try:
            await self._client.chat_stopStream(
                channel=self._channel,
                ts=str(self.ts),
                markdown_text=_markdown(self._pending) if self._pending else None,
            )
            self._shown += self._pending
            self._pending = ""
        except SlackApiError as exc:
            log.warning("stopStream failed (%s); posting the rest as a new message", _code(exc))
            if self._pending:
                await self._client.chat_postMessage(
                    channel=self._channel,
                    thread_ts=self._thread_ts,
                    text=_mrkdwn(self._pending),
                    username=self._username,
                    icon_emoji=self._icon_emoji,
                )
                self._pending = ""
        return self.ts


def _fit(text: str) -> str:
    if len(text) <= limits.MESSAGE_TEXT:
        return text
    return text[: limits.MESSAGE_TEXT - 1] + "…"


class _BudgetSpent(Exception):
    """This workspace streamed its budget of answers this minute (`StreamBudget`)."""


def _code(exc: SlackApiError | _BudgetSpent) -> str:
    if isinstance(exc, _BudgetSpent):
        return "stream budget spent"
    return str(exc.response.get("error", "unknown")) if exc.response is not None else "unknown"
