"""Assembling the Bolt app from its dependencies: one workspace (a bot token) or many (OAuth)."""

from __future__ import annotations

import logging
from typing import Final

from slack_bolt.async_app import AsyncApp
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.authorize_cache import CachedAuthorize
from bot.slack.signature import StrictRequestVerification
from bot.startup.deps import Deps
from commands import register_listeners
from storage.installations import PostgresInstallationStore, PostgresOAuthStateStore

log = logging.getLogger(__name__)

# keep in step with manifest.yml
BOT_SCOPES: Final = (
    "commands",
    "chat:write",
    "chat:write.customize",
    "chat:write.public",
    "app_mentions:read",
    "channels:history",
    "groups:history",
    "users:read",
    "files:write",
    "im:history",
    "assistant:write",
)
INSTALL_PATH: Final = "/slack/install"
REDIRECT_PATH: Final = "/slack/oauth_redirect"


def build_web_client(deps: Deps) -> AsyncWebClient:
    settings = deps.settings
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    client = AsyncWebClient(
        token=token, base_url=settings.slack_api_base or AsyncWebClient.BASE_URL
    )
    # Slack answers 429 with Retry-After; the SDK's handler waits and retries instead of failing.
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=2))
    return client


def build_app(deps: Deps) -> AsyncApp:
    settings = deps.settings
    oauth_settings = None
    if settings.oauth_enabled:
        assert settings.slack_client_id is not None and settings.slack_client_secret is not None
        oauth_settings = AsyncOAuthSettings(
            client_id=settings.slack_client_id,
            client_secret=settings.slack_client_secret.get_secret_value(),
            scopes=list(BOT_SCOPES),
            installation_store=PostgresInstallationStore(deps.pool),
            state_store=PostgresOAuthStateStore(deps.pool),
            install_path=INSTALL_PATH,
            redirect_uri_path=REDIRECT_PATH,
        )
    authorize = CachedAuthorize(oauth_settings.authorize) if oauth_settings else None
    signing_secret = settings.slack_signing_secret.get_secret_value()
    logger = logging.getLogger("slack_bolt")
    app = AsyncApp(
        signing_secret=signing_secret,
        client=build_web_client(deps),
        oauth_settings=oauth_settings,
        # an installation read and an auth.test call before every ack, kept for a few seconds
        # (Bolt takes an AsyncAuthorize as is; its hint names only functions returning a result)
        authorize=authorize,  # type: ignore[arg-type]
        logger=logger,
        # Bolt's own check, in its place (before authorize), but refusing malformed headers
        request_verification_enabled=False,
        before_authorize=StrictRequestVerification(signing_secret, base_logger=logger),
    )
    if oauth_settings is not None:
        # a revoked token is deleted at once; app_uninstalled is handled with the listeners
        app.event("tokens_revoked")(app.default_tokens_revoked_event_listener())
    register_listeners(
        app, deps, forget_authorization=authorize.forget if authorize is not None else None
    )
    return app
