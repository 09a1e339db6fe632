"""The shared concurrency budget of a model endpoint (see migrations/0014_jobs.sql). Not
workspace data: one endpoint serves every workspace, so these rows have no team id."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg


@dataclass(frozen=True, slots=True)
class Grant:
    """A lease id when a request may start now; else how long to wait before asking again."""

    lease_id: int | None
    wait_s: float


async def acquire(
    pool: asyncpg.Pool,
    *,
    endpoint: str,
    model: str,
    ceiling: int,
    lease_s: float,
    interactive: bool,
) -> Grant:
    # every model call of a batch job goes through here and `release`: each round trip
    # counts (the queued calibration bench spent a fifth of a cell's time on them)
    async with pool.acquire() as con, con.transaction():
        # the budget row's lock orders every grant of this endpoint and model
        budget = await _locked_budget(con, endpoint=endpoint, model=model, ceiling=ceiling)
        if not interactive and budget["paused_s"] > 0:
            return Grant(None, budget["paused_s"])
        # a statement after the lock, so its snapshot counts every lease granted before;
        # lapsed leases (a killed holder's) go first
        lease_id = await con.fetchval(
            """
            WITH lapsed AS (
                DELETE FROM model_leases
                WHERE endpoint = $1 AND model = $2 AND expires_at < now()
            ), in_flight AS (
                SELECT count(*) AS n FROM model_leases
                WHERE endpoint = $1 AND model = $2 AND expires_at >= now()
            )
            INSERT INTO model_leases (endpoint, model, interactive, expires_at)
            SELECT $1, $2, $3, now() + make_interval(secs => $4)
            FROM in_flight WHERE $3 OR in_flight.n < $5
            RETURNING id
            """,
            endpoint,
            model,
            interactive,
            lease_s,
            max(1, int(budget["current_limit"])),
        )
        return Grant(None, 0.0) if lease_id is None else Grant(int(lease_id), 0.0)


async def _locked_budget(
    con: asyncpg.Connection, *, endpoint: str, model: str, ceiling: int
) -> asyncpg.Record:
    """The budget row, locked until the transaction ends (made the first time)."""
    query = """
        SELECT least(current_limit, $3) AS current_limit,
               greatest(0, extract(epoch FROM paused_until - now()))::float8 AS paused_s
        FROM model_budgets WHERE endpoint = $1 AND model = $2 FOR UPDATE
    """
    budget = await con.fetchrow(query, endpoint, model, float(ceiling))
    if budget is None:
        await con.execute(
            """
            INSERT INTO model_budgets (endpoint, model, current_limit) VALUES ($1, $2, $3)
            ON CONFLICT (endpoint, model) DO NOTHING
            """,
            endpoint,
            model,
            float(ceiling),
        )
        budget = await con.fetchrow(query, endpoint, model, float(ceiling))
    assert budget is not None
    return budget


async def renew(pool: asyncpg.Pool, *, lease_id: int, lease_s: float) -> None:
    """A live holder's lease lasts another `lease_s` (a lapsed and deleted one stays gone)."""
    await pool.execute(
        "UPDATE model_leases SET expires_at = now() + make_interval(secs => $2) WHERE id = $1",
        lease_id,
        lease_s,
    )


async def release(
    pool: asyncpg.Pool,
    *,
    lease_id: int,
    endpoint: str,
    model: str,
    ceiling: int,
    rate_limited_for_s: float | None,
) -> None:
    """Give the lease back. After a success the limit grows by 1/limit (about one a round of
    requests); after a 429 batch requests pause for `rate_limited_for_s` (the halving was
    done when the 429 arrived, see `rate_limited`). One statement: the lease goes and the
    budget changes together."""
    await pool.execute(
        """
        WITH gone AS (DELETE FROM model_leases WHERE id = $1)
        UPDATE model_budgets
        SET current_limit = CASE WHEN $4::float8 IS NULL
                                 THEN least($3, current_limit + 1 / current_limit)
                                 ELSE current_limit END,
            paused_until = CASE WHEN $4::float8 IS NULL THEN paused_until
                                ELSE greatest(paused_until, now() + make_interval(secs => $4))
                           END
        WHERE endpoint = $2 AND model = $5
        """,
        lease_id,
        endpoint,
        float(ceiling),
        rate_limited_for_s,
        model,
    )


async def rate_limited(
    pool: asyncpg.Pool,
    *,
    endpoint: str,
    model: str,
    ceiling: int,
    pause_s: float,
    halve: bool,
) -> None:
    """The endpoint refused a request (429, `halve`) or said it has nothing left for now
    (x-ratelimit-remaining 0): batch requests pause for `pause_s`; after a 429 the limit
    halves too. Whichever request met the limit, interactive or batch, answer or judge."""
    await pool.execute(
        """
        INSERT INTO model_budgets AS b (endpoint, model, current_limit, paused_until)
        VALUES ($1, $2, CASE WHEN $5 THEN greatest(1, $3 / 2) ELSE $3 END,
                now() + make_interval(secs => $4))
        ON CONFLICT (endpoint, model) DO UPDATE
        SET current_limit = CASE WHEN $5 THEN greatest(1, b.current_limit / 2)
                                 ELSE b.current_limit END,
            paused_until = greatest(b.paused_until, now() + make_interval(secs => $4))
        """,
        endpoint,
        model,
        float(ceiling),
        pause_s,
        halve,
    )


async def current_limit(pool: asyncpg.Pool, *, endpoint: str, model: str) -> float | None:
    value = await pool.fetchval(
        "SELECT current_limit FROM model_budgets WHERE endpoint = $1 AND model = $2",
        endpoint,
        model,
    )
    return None if value is None else float(value)


async def paused_for_s(pool: asyncpg.Pool, *, endpoint: str, model: str) -> float:
    value = await pool.fetchval(
        "SELECT greatest(0, extract(epoch FROM paused_until - now()))::float8"
        " FROM model_budgets WHERE endpoint = $1 AND model = $2",
        endpoint,
        model,
    )
    return float(value or 0.0)
