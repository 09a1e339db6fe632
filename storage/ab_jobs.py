"""What the job queue holds for an A/B test, and the claims that make its pairs' answers, thread
messages and opening happen once however many workers take part. PgQueuer owns its table's
writes (enqueue, dequeue, heartbeats); this module reads it by our jobs' dedupe keys, and
deletes a test's jobs no worker has picked yet when the test ends early."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal, TypeAlias

import asyncpg

from bot.domain.ab import AbMessage, PairProgress
from storage import post_claims, progress_claims
from storage.post_claims import ClaimTable, PostState
from storage.progress_claims import ProgressTable

Conn: TypeAlias = asyncpg.Pool | asyncpg.Connection
Side = Literal["a", "b"]

# dedupe-key prefixes of a test's jobs: one pair job and one post job per message
AB_PAIR_PREFIX = "ab-pair:{team_id}:{ab_id}:"
AB_POST_PREFIX = "ab-post:{team_id}:{ab_id}:"


def pair_prefix(*, team_id: str, ab_id: int) -> str:
    return AB_PAIR_PREFIX.format(team_id=team_id, ab_id=ab_id)


def post_prefix(*, team_id: str, ab_id: int) -> str:
    return AB_POST_PREFIX.format(team_id=team_id, ab_id=ab_id)


_MESSAGE_COLUMNS = """
    id, ab_test_id, position, message, a_first, result_a_id, result_b_id, message_ts,
    judge_verdict, judge_detail, failure, post_claimed_at, done_at
"""


def _message(row: Any) -> AbMessage:
    return AbMessage(**dict(row))


async def set_judge(
    pool: asyncpg.Pool, *, team_id: str, message_id: int, verdict: str, detail: dict[str, Any]
) -> None:
    await pool.execute(
        """
        UPDATE ab_messages SET judge_verdict = $3, judge_detail = $4
        WHERE team_id = $1 AND id = $2 AND judge_verdict IS NULL
        """,
        team_id,
        message_id,
        verdict,
        detail,
    )


async def fail_pair(pool: asyncpg.Pool, *, team_id: str, message_id: int, reason: str) -> None:
    """The pair takes no votes, and says why (the first reason recorded stays)."""
    await pool.execute(
        "UPDATE ab_messages SET failure = COALESCE(failure, $3) WHERE team_id = $1 AND id = $2",
        team_id,
        message_id,
        reason,
    )


async def claim_post(
    pool: asyncpg.Pool, *, team_id: str, message_id: int, lease_s: float
) -> PostState:
    """Claim the pair's thread message (or its failure note); see storage.post_claims."""
    return await post_claims.claim(
        pool, table=ClaimTable.AB_PAIRS, team_id=team_id, row_id=message_id, lease_s=lease_s
    )


async def mark_done(
    pool: asyncpg.Pool, *, team_id: str, message_id: int, ts: str | None = None
) -> AbMessage:
    """The pair's job is through with it (posted with `ts`, or failed): it counts towards the
    test's opening."""
    row = await pool.fetchrow(
        f"""
        UPDATE ab_messages
        SET message_ts = COALESCE(message_ts, $3), done_at = COALESCE(done_at, now())
        WHERE team_id = $1 AND id = $2
        RETURNING {_MESSAGE_COLUMNS}
        """,
        team_id,
        message_id,
        ts,
    )
    return _message(row)


async def finish_answering(
    pool: asyncpg.Pool, *, team_id: str, ab_id: int, nothing_posted: str
) -> str | None:
    """Compare-and-set, true for exactly one caller: once every pair is done, an answering test
    opens for voting when at least one pair was posted, else fails with `nothing_posted` and
    the first failed pair's reason. Returns the new status, None when it was not this call."""
    status = await pool.fetchval(
        """
        WITH pairs AS (
            SELECT count(*) FILTER (WHERE done_at IS NULL) AS open_pairs,
                   count(*) FILTER (WHERE message_ts IS NOT NULL AND failure IS NULL) AS posted,
                   (SELECT 'message ' || (position + 1) || ' ' || failure FROM ab_messages
                     WHERE team_id = $1 AND ab_test_id = $2 AND failure IS NOT NULL
                     ORDER BY position LIMIT 1) AS first_failure
            FROM ab_messages WHERE team_id = $1 AND ab_test_id = $2
        )
        UPDATE ab_tests t
        SET status = CASE WHEN p.posted > 0 THEN 'open' ELSE 'failed' END,
            failure_reason = CASE WHEN p.posted > 0 THEN NULL
                                  ELSE $3 || COALESCE(': ' || p.first_failure, '') END
        FROM pairs p
        WHERE t.team_id = $1 AND t.id = $2 AND t.status = 'answering' AND p.open_pairs = 0
        RETURNING t.status
        """,
        team_id,
        ab_id,
        nothing_posted,
    )
    return None if status is None else str(status)


async def claim_progress(pool: asyncpg.Pool, *, team_id: str, ab_id: int, every_s: float) -> bool:
    """True when nobody edited the answering test's progress in the last `every_s` seconds:
    this caller does it now. Also tells the sweep that the test's work is moving."""
    return await progress_claims.claim(
        pool, table=ProgressTable.AB_TESTS, team_id=team_id, row_id=ab_id, every_s=every_s
    )


async def touch(pool: asyncpg.Pool, *, team_id: str, ab_id: int) -> None:
    """The test's work is moving: the sweep leaves it alone."""
    await pool.execute(
        "UPDATE ab_tests SET heartbeat_at = now() WHERE team_id = $1 AND id = $2",
        team_id,
        ab_id,
    )


async def pair_progress(pool: Conn, *, team_id: str, ab_id: int) -> PairProgress:
    row = await pool.fetchrow(
        """
        SELECT
            (SELECT count(*) FROM ab_messages WHERE team_id = $1 AND ab_test_id = $2) AS total,
            (SELECT count(*) FROM ab_messages WHERE team_id = $1 AND ab_test_id = $2
               AND done_at IS NOT NULL AND failure IS NULL) AS posted,
            (SELECT count(*) FROM ab_messages WHERE team_id = $1 AND ab_test_id = $2
               AND failure IS NOT NULL) AS failed,
            (SELECT count(*) FROM pgqueuer
              WHERE left(dedupe_key, length($3)) = $3 AND status = 'picked') AS running,
            (SELECT count(*) FROM pgqueuer
              WHERE left(dedupe_key, length($3)) = $3 AND status = 'queued') AS waiting
        """,
        team_id,
        ab_id,
        pair_prefix(team_id=team_id, ab_id=ab_id),
    )
    assert row is not None
    return PairProgress(
        posted=row["posted"],
        failed=row["failed"],
        running=row["running"],
        waiting=row["waiting"],
        total=row["total"],
    )


async def delete_queued(con: Conn, *, team_id: str, ab_id: int) -> int:
    """Delete the test's jobs no worker has picked yet (it ended early); a job being run then
    finds the test ended and stops. Returns how many were deleted."""
    done = await con.execute(
        """
        DELETE FROM pgqueuer
        WHERE status = 'queued'
          AND (left(dedupe_key, length($1)) = $1 OR left(dedupe_key, length($2)) = $2)
        """,
        pair_prefix(team_id=team_id, ab_id=ab_id),
        post_prefix(team_id=team_id, ab_id=ab_id),
    )
    return int(done.split()[-1])


async def queued_for_test(pool: asyncpg.Pool, *, team_id: str, ab_id: int) -> int:
    """The test's jobs still in the queue (waiting or being run)."""
    count = await pool.fetchval(
        """
        SELECT count(*) FROM pgqueuer
        WHERE status IN ('queued', 'picked')
          AND (left(dedupe_key, length($1)) = $1 OR left(dedupe_key, length($2)) = $2)
        """,
        pair_prefix(team_id=team_id, ab_id=ab_id),
        post_prefix(team_id=team_id, ab_id=ab_id),
    )
    return int(count or 0)


# first half of the advisory-lock key of a test's parent message (the second is the test id)
_PARENT_LOCK = 0x4142  # "AB"


@asynccontextmanager
async def parent_message_lock(pool: asyncpg.Pool, *, ab_id: int, wait: bool) -> AsyncIterator[bool]:
    """Held while a job edits a test's parent message, so a progress edit in flight can never
    land after the edit that opens (or fails) the test. Yields False (without waiting) when
    `wait` is false and another process holds it."""
    async with pool.acquire() as con, con.transaction():
        if wait:
            await con.execute("SELECT pg_advisory_xact_lock($1, $2)", _PARENT_LOCK, ab_id)
            yield True
        else:
            got = await con.fetchval(
                "SELECT pg_try_advisory_xact_lock($1, $2)", _PARENT_LOCK, ab_id
            )
            yield bool(got)
