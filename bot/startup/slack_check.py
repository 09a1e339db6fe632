"""Asking Slack whether it accepts our tokens: the bot token (`auth.test`, which also names the
token's scopes) and, for Socket Mode, the app-level token (`apps.connections.open`). Used at
start-up, by `/healthz` and by `romashka doctor`. Results name the setting, never the token."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Final

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.startup.settings import Settings

log = logging.getLogger(__name__)

CHECK_TIMEOUT_S: Final = 10
UNREACHABLE: Final = "unreachable"
BOT_TOKEN: Final = "SLACK_BOT_TOKEN"
APP_TOKEN: Final = "SLACK_APP_TOKEN"

# Slack's answers that mean "this token will never work as it is"; anything else (an outage, a
# rate limit) may pass, so it does not stop the app
REFUSALS: Final[dict[str, str]] = {
    "invalid_auth": "the token is not valid: it was copied incompletely or belongs to another app",
    "not_authed": "no token reached Slack",
    "account_inactive": "the app was uninstalled or the workspace deactivated the token",
    "token_revoked": "the token was revoked",
    "token_expired": "the token expired (token rotation is on for this app)",
    "not_allowed_token_type": "this is the wrong kind of token for this setting",
    "invalid_token": "the token is not valid",
}
WHERE_FROM: Final[dict[str, str]] = {
    BOT_TOKEN: "copy the Bot User OAuth Token (xoxb-…) from OAuth & Permissions (reinstall the "
    "app there if it shows none)",
    APP_TOKEN: "generate an app-level token with the connections:write scope under Basic "
    "Information → App-Level Tokens and copy it (xapp-…)",
}


@dataclass(frozen=True, slots=True)
class TokenCheck:
    setting: str
    error: str | None = None  # Slack's error code, or UNREACHABLE
    scopes: frozenset[str] | None = None  # what auth.test says the bot token holds
    team: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def refused(self) -> bool:
        """Slack said this token will not work (not merely that it could not answer now)."""
        return self.error in REFUSALS

    def problem(self) -> str:
        """One line: which token, what Slack said and why, and what to do."""
        if self.error == UNREACHABLE:
            return f"Slack could not be reached to check {self.setting} (network or SLACK_API_URL)"
        if not self.refused:
            return f"Slack answered {self.error} when asked about {self.setting}"
        why = REFUSALS[self.error or ""]
        return (
            f"Slack refused {self.setting} ({self.error}: {why}). "
            f"Fix: {WHERE_FROM.get(self.setting, 'check the value')}."
        )


def _client(settings: Settings, token: str | None = None) -> AsyncWebClient:
    return AsyncWebClient(
        token=token,
        base_url=settings.slack_api_base or AsyncWebClient.BASE_URL,
        timeout=CHECK_TIMEOUT_S,
        logger=log,
        # one question, one answer: a check reports, it does not wait for Slack to recover
        retry_handlers=[],
    )


def _scopes(header: str | list[str] | None) -> frozenset[str] | None:
    if header is None:
        return None
    raw = ",".join(header) if isinstance(header, list) else header
    return frozenset(s.strip() for s in raw.split(",") if s.strip())


async def check_bot_token(settings: Settings) -> TokenCheck | None:
    """None with OAuth: each workspace's token is checked as Slack hands it over."""
    if settings.slack_bot_token is None:
        return None
    client = _client(settings, settings.slack_bot_token.get_secret_value())
    try:
        response = await client.auth_test()
    except SlackApiError as exc:
        return TokenCheck(BOT_TOKEN, error=str(exc.response.get("error") or "unknown_error"))
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        log.warning("auth.test failed: %s", type(exc).__name__)
        return TokenCheck(BOT_TOKEN, error=UNREACHABLE)
    headers = {k.lower(): v for k, v in response.headers.items()}
    return TokenCheck(
        BOT_TOKEN,
        scopes=_scopes(headers.get("x-oauth-scopes")),
        team=str(response.get("team") or "") or None,
    )


async def check_app_token(settings: Settings) -> TokenCheck | None:
    """None in HTTP mode. Opening a connection URL is the one call that proves the app token
    (and its connections:write scope); the URL is not used."""
    if settings.slack_app_token is None:
        return None
    client = _client(settings)
    try:
        await client.apps_connections_open(app_token=settings.slack_app_token.get_secret_value())
    except SlackApiError as exc:
        return TokenCheck(APP_TOKEN, error=str(exc.response.get("error") or "unknown_error"))
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        log.warning("apps.connections.open failed: %s", type(exc).__name__)
        return TokenCheck(APP_TOKEN, error=UNREACHABLE)
    return TokenCheck(APP_TOKEN)


async def check_tokens(settings: Settings) -> list[TokenCheck]:
    checks = await asyncio.gather(check_bot_token(settings), check_app_token(settings))
    return [c for c in checks if c is not None]


def missing_scopes(check: TokenCheck, wanted: tuple[str, ...]) -> list[str]:
    if check.scopes is None:
        return []
    return [s for s in wanted if s not in check.scopes]
