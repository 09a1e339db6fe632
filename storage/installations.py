"""Slack installations and OAuth state in Postgres, for Bolt's OAuth flow across processes.

Rows hold the SDK's own objects as JSON (`Installation(**data)` round-trips, as in the SDK's
file store); the keys are what Bolt looks them up by. Tokens are secrets: they are never logged.
"""

from __future__ import annotations

import json
import logging
import secrets
from logging import Logger
from typing import Any, Final

import asyncpg
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore

from storage import editors, workspaces

log = logging.getLogger(__name__)

STATE_TTL_S: Final = 600


def _key(
    enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None
) -> tuple[str, str]:
    # an org-wide install is keyed by the enterprise alone, as the SDK's stores do
    return enterprise_id or "", "" if is_enterprise_install else (team_id or "")


def _dump(obj: Installation | Bot) -> str:
    return json.dumps(obj.__dict__, default=str)


class PostgresInstallationStore(AsyncInstallationStore):
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @property
    def logger(self) -> Logger:
        return log

    async def async_save(self, installation: Installation) -> None:
        e_id, t_id = _key(
            installation.enterprise_id, installation.team_id, installation.is_enterprise_install
        )
        async with self._pool.acquire() as con, con.transaction():
            await con.execute(
                """
                INSERT INTO slack_installations (enterprise_id, team_id, user_id, data)
                VALUES ($1, $2, $3, $4::jsonb)
                ON CONFLICT (enterprise_id, team_id, user_id)
                DO UPDATE SET data = EXCLUDED.data, installed_at = now()
                """,
                e_id,
                t_id,
                installation.user_id or "",
                _dump(installation),
            )
            bot = installation.to_bot()
            if bot.bot_token is not None:
                await self._save_bot(con, bot)
            if t_id and installation.user_id:
                await editors.add_installer(con, team_id=t_id, user_id=installation.user_id)
            # installed again after an uninstall: the workspace's data is in use, not to be swept
            await workspaces.mark_in_use(
                con, team_id=installation.team_id or installation.enterprise_id or ""
            )

    async def async_save_bot(self, bot: Bot) -> None:
        async with self._pool.acquire() as con:
            await self._save_bot(con, bot)

    async def _save_bot(self, con: Any, bot: Bot) -> None:
        e_id, t_id = _key(bot.enterprise_id, bot.team_id, bot.is_enterprise_install)
        await con.execute(
            """
            INSERT INTO slack_bots (enterprise_id, team_id, data) VALUES ($1, $2, $3::jsonb)
            ON CONFLICT (enterprise_id, team_id)
            DO UPDATE SET data = EXCLUDED.data, installed_at = now()
            """,
            e_id,
            t_id,
            _dump(bot),
        )

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        e_id, t_id = _key(enterprise_id, team_id, is_enterprise_install)
        data = await self._pool.fetchval(
            "SELECT data FROM slack_bots WHERE enterprise_id = $1 AND team_id = $2", e_id, t_id
        )
        return None if data is None else Bot(**_loaded(data))

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        e_id, t_id = _key(enterprise_id, team_id, is_enterprise_install)
        data = await self._pool.fetchval(
            """
            SELECT data FROM slack_installations
            WHERE enterprise_id = $1 AND team_id = $2 AND ($3::text IS NULL OR user_id = $3)
            ORDER BY installed_at DESC LIMIT 1
            """,
            e_id,
            t_id,
            user_id,
        )
        if data is None:
            return None
        installation = Installation(**_loaded(data))
        bot = await self.async_find_bot(
            enterprise_id=enterprise_id,
            team_id=team_id,
            is_enterprise_install=is_enterprise_install,
        )
        # a user's row can hold an older bot token than the latest rotation: prefer the bot's
        if bot is not None and bot.bot_token != installation.bot_token:
            installation.bot_id = bot.bot_id
            installation.bot_user_id = bot.bot_user_id
            installation.bot_token = bot.bot_token
            installation.bot_scopes = bot.bot_scopes
            installation.bot_refresh_token = bot.bot_refresh_token
            installation.bot_token_expires_at = bot.bot_token_expires_at
        return installation

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        e_id, t_id = _key(enterprise_id, team_id, False)
        await self._pool.execute(
            "DELETE FROM slack_bots WHERE enterprise_id = $1 AND team_id = $2", e_id, t_id
        )

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        e_id, t_id = _key(enterprise_id, team_id, False)
        await self._pool.execute(
            """
            DELETE FROM slack_installations
            WHERE enterprise_id = $1 AND team_id = $2 AND ($3::text IS NULL OR user_id = $3)
            """,
            e_id,
            t_id,
            user_id,
        )

    async def async_delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self.async_delete_bot(enterprise_id=enterprise_id, team_id=team_id)
        await self.async_delete_installation(enterprise_id=enterprise_id, team_id=team_id)


def _loaded(data: Any) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(data) if isinstance(data, str) else dict(data)
    return loaded


class PostgresOAuthStateStore(AsyncOAuthStateStore):
    """One-time OAuth states: issued by one process, consumed (once) by any."""

    def __init__(self, pool: asyncpg.Pool, *, ttl_s: int = STATE_TTL_S) -> None:
        self._pool = pool
        self._ttl_s = ttl_s

    @property
    def logger(self) -> Logger:
        return log

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        state = secrets.token_urlsafe(32)
        await self._pool.execute(
            """
            INSERT INTO slack_oauth_states (state, expires_at)
            VALUES ($1, now() + make_interval(secs => $2))
            """,
            state,
            self._ttl_s,
        )
        return state

    async def async_consume(self, state: str) -> bool:
        consumed = await self._pool.fetchval(
            "DELETE FROM slack_oauth_states WHERE state = $1 AND expires_at > now() RETURNING true",
            state,
        )
        await sweep_expired_states(self._pool)
        return bool(consumed)


async def sweep_expired_states(pool: asyncpg.Pool) -> int:
    """Delete the states nobody came back with; returns how many."""
    status = await pool.execute("DELETE FROM slack_oauth_states WHERE expires_at <= now()")
    return int(status.split()[-1])
