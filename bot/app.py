"""Assembling the Bolt app from its dependencies."""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.deps import Deps
from commands import register_listeners

log = logging.getLogger(__name__)


def build_web_client(deps: Deps) -> AsyncWebClient:
    settings = deps.settings
    client = AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_base or AsyncWebClient.BASE_URL,
    )
    # Slack answers 429 with Retry-After; the SDK's handler waits and retries instead of failing.
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=2))
    return client


def build_app(deps: Deps) -> AsyncApp:
    app = AsyncApp(
        signing_secret=deps.settings.slack_signing_secret.get_secret_value(),
        client=build_web_client(deps),
        logger=logging.getLogger("slack_bolt"),
    )
    register_listeners(app, deps)
    return app
