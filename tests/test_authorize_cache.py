"""An OAuth workspace's authorisation is looked up once for a burst of requests, not before
every ack, and forgotten when the workspace uninstalls."""

from __future__ import annotations

from typing import Any

from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.async_authorize import AsyncAuthorize
from slack_bolt.context.async_context import AsyncBoltContext

from bot.slack.authorize_cache import CachedAuthorize


class Counting(AsyncAuthorize):
    """Answers for T1 only, counting the lookups."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, **kwargs: Any) -> AuthorizeResult | None:
        self.calls += 1
        if kwargs["team_id"] != "T1":
            return None
        return AuthorizeResult(enterprise_id=None, team_id="T1", bot_token="xoxb-1")


async def ask(cache: CachedAuthorize, team_id: str, user_id: str = "U1") -> AuthorizeResult | None:
    return await cache(
        context=AsyncBoltContext(), enterprise_id=None, team_id=team_id, user_id=user_id
    )


async def test_kept_for_its_ttl_then_looked_up_again() -> None:
    now = [0.0]
    inner = Counting()
    cache = CachedAuthorize(inner, ttl_s=10.0, clock=lambda: now[0])
    for _ in range(100):
        assert (await ask(cache, "T1")) is not None
    assert inner.calls == 1
    now[0] = 10.5
    await ask(cache, "T1")
    assert inner.calls == 2


async def test_refusals_are_not_kept_and_users_are_apart() -> None:
    inner = Counting()
    cache = CachedAuthorize(inner)
    assert await ask(cache, "T0NEVER") is None
    assert await ask(cache, "T0NEVER") is None
    assert inner.calls == 2
    await ask(cache, "T1", "U1")
    await ask(cache, "T1", "U2")
    assert inner.calls == 4


async def test_an_uninstall_forgets_the_workspace() -> None:
    inner = Counting()
    cache = CachedAuthorize(inner)
    await ask(cache, "T1")
    cache.forget("T1")
    await ask(cache, "T1")
    assert inner.calls == 2


def test_bolt_hands_the_rotation_margin_on() -> None:
    inner = Counting()
    cache = CachedAuthorize(inner)
    cache.token_rotation_expiration_minutes = 30
    assert inner.token_rotation_expiration_minutes == 30  # type: ignore[attr-defined]
