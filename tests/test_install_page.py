"""The install page cannot be used to fill the OAuth state table: a client address gets a burst,
then a steady trickle; states nobody came back with are swept by the maintenance loop."""

from __future__ import annotations

import aiohttp
import asyncpg
import pytest

from bot.slack.rate_limit import TokenBuckets
from bot.startup import maintenance
from bot.startup.server import INSTALL_BURST, TOO_MANY_INSTALLS


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("steps", "answers"),
    [
        # (seconds to wait before taking, key) -> seconds to wait for a token (0 = granted)
        ([(0, "a"), (0, "a"), (0, "a")], [0, 0, 5.0]),
        ([(0, "a"), (0, "a"), (5, "a"), (0, "a")], [0, 0, 0, 5.0]),
        ([(0, "a"), (0, "a"), (2, "a")], [0, 0, 3.0]),
        ([(0, "a"), (0, "a"), (0, "b")], [0, 0, 0]),  # one address does not starve another
        ([(0, "a"), (0, "a"), (100, "a"), (0, "a"), (0, "a")], [0, 0, 0, 0, 5.0]),  # capped
    ],
)
def test_token_buckets(steps: list[tuple[float, str]], answers: list[float]) -> None:
    clock = Clock()
    buckets = TokenBuckets(capacity=2, refill_per_s=0.2, clock=clock)
    got = []
    for wait, key in steps:
        clock.now += wait
        got.append(round(buckets.take(key), 6))
    assert got == answers


def test_memory_stays_bounded() -> None:
    buckets = TokenBuckets(capacity=1, refill_per_s=1.0, max_keys=100)
    for i in range(1000):
        buckets.take(f"10.0.{i // 256}.{i % 256}")
    assert len(buckets._buckets) <= 100


async def test_the_install_page_is_rate_limited_per_address(
    oauth_server: str, pool: asyncpg.Pool
) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(INSTALL_BURST):
            async with http.get(f"{oauth_server}/slack/install", allow_redirects=False) as r:
                assert r.status in {200, 302}
        async with http.get(f"{oauth_server}/slack/install", allow_redirects=False) as r:
            assert r.status == 429
            assert int(r.headers["Retry-After"]) >= 1
            assert await r.text() == TOO_MANY_INSTALLS
    assert await pool.fetchval("SELECT count(*) FROM slack_oauth_states") == INSTALL_BURST


async def test_expired_states_are_swept(pool: asyncpg.Pool) -> None:
    await pool.execute(
        """
        INSERT INTO slack_oauth_states (state, expires_at)
        SELECT 'old' || i, now() - interval '1 minute' FROM generate_series(1, 3) i
        UNION ALL SELECT 'live' || i, now() + interval '5 minutes' FROM generate_series(1, 2) i
        """
    )
    await maintenance.run_once(pool, retention_days=None)
    left = await pool.fetch("SELECT state FROM slack_oauth_states ORDER BY state")
    assert [r["state"] for r in left] == ["live1", "live2"]
