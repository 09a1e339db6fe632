"""A workspace's authorisation, remembered for a few seconds (OAuth installs only).

Bolt's installation-store authorize runs before every listener, so before every ack: a read of
the installation in PostgreSQL and an `auth.test` call to Slack, for each request. In a burst of
commands from one workspace that is the same answer a hundred times, on the ack's path.

Why a short cache is safe: an uninstalled workspace's entry is dropped at once (`forget`, from
the app_uninstalled listener), and Slack sends no requests for it anyway; a revoked token is
used at most CACHE_S longer, and a call with it fails like any refused Slack call; a rotating
token is refreshed when it is within Bolt's rotation margin (two hours) of expiry, so one taken
from the cache is never less than that margin minus CACHE_S from expiring. Only results are
kept: a workspace without an installation is looked up again every time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.async_authorize import AsyncAuthorize
from slack_bolt.context.async_context import AsyncBoltContext

CACHE_S: Final = 10.0
# bounded, so requests from many workspaces (or forged team ids) cannot grow it without limit
MAX_ENTRIES: Final = 10_000

_Key = tuple[str | None, str | None, str | None, bool]


class CachedAuthorize(AsyncAuthorize):
    def __init__(
        self,
        inner: AsyncAuthorize,
        *,
        ttl_s: float = CACHE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._inner = inner
        self._ttl_s = ttl_s
        self._clock = clock
        self._kept: dict[_Key, tuple[float, AuthorizeResult]] = {}
        # Bolt sets this on whatever authorize an OAuth app has; handed on to the inner one
        self.token_rotation_expiration_minutes = 120

    def __setattr__(self, name: str, value: object) -> None:
        super().__setattr__(name, value)
        if name == "token_rotation_expiration_minutes" and hasattr(self, "_inner"):
            setattr(self._inner, name, value)

    async def __call__(
        self,
        *,
        context: AsyncBoltContext,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None,
        actor_enterprise_id: str | None = None,
        actor_team_id: str | None = None,
        actor_user_id: str | None = None,
    ) -> AuthorizeResult | None:
        key = (enterprise_id, team_id, user_id, bool(context.is_enterprise_install))
        now = self._clock()
        kept = self._kept.get(key)
        if kept is not None and now - kept[0] < self._ttl_s:
            return kept[1]
        result: AuthorizeResult | None = await self._inner(
            context=context,
            enterprise_id=enterprise_id,
            team_id=team_id,
            user_id=user_id,
            actor_enterprise_id=actor_enterprise_id,
            actor_team_id=actor_team_id,
            actor_user_id=actor_user_id,
        )
        if result is None:
            self._kept.pop(key, None)
            return None
        if len(self._kept) >= MAX_ENTRIES:
            self._kept = {k: v for k, v in self._kept.items() if now - v[0] < self._ttl_s}
            if len(self._kept) >= MAX_ENTRIES:
                self._kept.clear()
        self._kept[key] = (now, result)
        return result

    def forget(self, team_id: str) -> None:
        """The workspace uninstalled: its next request is authorised afresh."""
        self._kept = {k: v for k, v in self._kept.items() if k[1] != team_id}
