"""A Slack client for a workspace, for work done outside a request (a job has no Bolt context):
the bot token of a one-workspace install, or the team's stored installation under OAuth."""

from __future__ import annotations

from typing import Protocol

import asyncpg
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.startup.settings import Settings
from storage.installations import PostgresInstallationStore


class SlackFor(Protocol):
    async def for_team(self, team_id: str) -> AsyncWebClient | None: ...


class NoSlack:
    """For a process without Slack settings (the CI command): its runs have no channel."""

    async def for_team(self, team_id: str) -> AsyncWebClient | None:
        return None


class SlackClients:
    def __init__(self, settings: Settings, pool: asyncpg.Pool) -> None:
        self._settings = settings
        self._store = PostgresInstallationStore(pool)
        self._single: AsyncWebClient | None = None

    def _client(self, token: str) -> AsyncWebClient:
        client = AsyncWebClient(
            token=token, base_url=self._settings.slack_api_base or AsyncWebClient.BASE_URL
        )
        # Slack answers 429 with Retry-After; the SDK's handler waits and retries
        client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=2))
        return client

    async def for_team(self, team_id: str) -> AsyncWebClient | None:
        """None when the workspace has no usable installation (it uninstalled meanwhile)."""
        if self._settings.slack_bot_token is not None:
            if self._single is None:
                self._single = self._client(self._settings.slack_bot_token.get_secret_value())
            return self._single
        bot = await self._store.async_find_bot(enterprise_id=None, team_id=team_id)
        if bot is None or not bot.bot_token:
            return None
        return self._client(bot.bot_token)
