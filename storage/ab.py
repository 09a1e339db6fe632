"""A/B tests, their blind messages and votes. Every query is scoped by the Slack team id."""

from __future__ import annotations

from typing import Any, Final, Literal

import asyncpg

from bot.domain.ab import AbMessage, AbTest, Participation, Tally, Vote, VoteOutcome
from storage.ab_jobs import AB_PAIR_PREFIX, AB_POST_PREFIX, delete_queued
from storage.errors import NotFound

Choice = Literal["a", "b", "tie", "both_bad"]
Status = Literal["answering", "open", "closed", "failed", "interrupted", "cancelled"]
# voting has not ended: whatever depends on the hidden order stays out of sight
RUNNING: Final = ("answering", "open")
# a test in one of these can be cancelled by its starter or an editor
CANCELLABLE: Final = ("answering", "open", "failed", "interrupted")
# a test answering with no job in the queue and no progress for this long is interrupted
STALE_AFTER_S: Final = 60
INTERRUPTED_REASON: Final = "the app stopped while writing the replies"
# how a simulation conversation job's dedupe key starts (bot.jobs.simulation.job_prefix)
SIMULATION_JOB_PREFIX: Final = "simulation:"


class AbTestNotFound(NotFound):
    def __init__(self, ab_id: int) -> None:
        super().__init__(f"no A/B test {ab_id}")
        self.ab_id = ab_id


_TEST_COLUMNS = """
    id, team_id, version_a_id, version_b_id, started_by, started_at, channel_id, parent_ts,
    status, closed_by, closed_at, verdict, verdict_code, failure_reason
"""
_MESSAGE_COLUMNS = """
    id, ab_test_id, position, message, a_first, result_a_id, result_b_id, message_ts,
    judge_verdict, judge_detail, failure, post_claimed_at, done_at
"""


def _test(row: Any) -> AbTest:
    return AbTest(**dict(row))


def _message(row: Any) -> AbMessage:
    return AbMessage(**dict(row))


async def create(
    pool: asyncpg.Pool | asyncpg.Connection,
    *,
    team_id: str,
    version_a_id: int,
    version_b_id: int,
    user_id: str,
    channel_id: str,
    messages: list[tuple[str, bool]],
) -> tuple[AbTest, list[AbMessage]]:
    """Given a connection, inside the caller's transaction (its pair jobs are queued in it)."""
    if isinstance(pool, asyncpg.Pool):
        async with pool.acquire() as con:
            return await _create(
                con,
                team_id=team_id,
                version_a_id=version_a_id,
                version_b_id=version_b_id,
                user_id=user_id,
                channel_id=channel_id,
                messages=messages,
            )
    return await _create(
        pool,
        team_id=team_id,
        version_a_id=version_a_id,
        version_b_id=version_b_id,
        user_id=user_id,
        channel_id=channel_id,
        messages=messages,
    )


async def _create(
    con: asyncpg.Connection,
    *,
    team_id: str,
    version_a_id: int,
    version_b_id: int,
    user_id: str,
    channel_id: str,
    messages: list[tuple[str, bool]],
) -> tuple[AbTest, list[AbMessage]]:
    async with con.transaction():
        test = _test(
            await con.fetchrow(
                f"""
                INSERT INTO ab_tests (team_id, version_a_id, version_b_id, started_by, channel_id)
                VALUES ($1, $2, $3, $4, $5) RETURNING {_TEST_COLUMNS}
                """,
                team_id,
                version_a_id,
                version_b_id,
                user_id,
                channel_id,
            )
        )
        rows = []
        for position, (message, a_first) in enumerate(messages):
            rows.append(
                _message(
                    await con.fetchrow(
                        f"""
                        INSERT INTO ab_messages (team_id, ab_test_id, position, message, a_first)
                        VALUES ($1, $2, $3, $4, $5) RETURNING {_MESSAGE_COLUMNS}
                        """,
                        team_id,
                        test.id,
                        position,
                        message,
                        a_first,
                    )
                )
            )
        return test, rows


async def set_parent(pool: asyncpg.Pool, *, team_id: str, ab_id: int, parent_ts: str) -> None:
    await pool.execute(
        "UPDATE ab_tests SET parent_ts = $3 WHERE team_id = $1 AND id = $2",
        team_id,
        ab_id,
        parent_ts,
    )


async def open_voting(pool: asyncpg.Pool, *, team_id: str, ab_id: int) -> bool:
    """False when the test stopped answering meanwhile (cancelled, or marked interrupted)."""
    done = await pool.execute(
        """
        UPDATE ab_tests SET status = 'open'
        WHERE team_id = $1 AND id = $2 AND status = 'answering'
        """,
        team_id,
        ab_id,
    )
    return str(done) == "UPDATE 1"


async def stop_answering(
    pool: asyncpg.Pool,
    *,
    team_id: str,
    ab_id: int,
    status: Literal["failed", "interrupted"],
    reason: str,
) -> bool:
    """Mark a test that is still answering as failed or interrupted, with the reason, and
    delete its jobs still waiting in the queue; False when it was no longer answering (opened,
    cancelled, or already marked)."""
    async with pool.acquire() as con, con.transaction():
        done = await con.execute(
            """
            UPDATE ab_tests SET status = $3, failure_reason = $4
            WHERE team_id = $1 AND id = $2 AND status = 'answering'
            """,
            team_id,
            ab_id,
            status,
            reason,
        )
        if str(done) != "UPDATE 1":
            return False
        await delete_queued(con, team_id=team_id, ab_id=ab_id)
        return True


async def mark_stale_tests_interrupted(
    pool: asyncpg.Pool, *, stale_after_s: int = STALE_AFTER_S
) -> int:
    """Tests left answering with no job of theirs in the queue (waiting or being run) and no
    progress for `stale_after_s` are interrupted, in every workspace (the periodic sweep): a
    test answered before the queue by a process that died, or whose jobs failed for good. A
    test whose jobs wait behind other work is left alone, however long it waits."""
    done = await pool.execute(
        """
        UPDATE ab_tests t SET status = 'interrupted', failure_reason = $2
        WHERE t.status = 'answering'
          AND COALESCE(t.heartbeat_at, t.started_at) < now() - make_interval(secs => $1)
          AND NOT EXISTS (
              SELECT 1 FROM pgqueuer q
              WHERE q.status IN ('queued', 'picked')
                AND (left(q.dedupe_key, length($3 || t.team_id || ':' || t.id || ':'))
                         = $3 || t.team_id || ':' || t.id || ':'
                     OR left(q.dedupe_key, length($4 || t.team_id || ':' || t.id || ':'))
                         = $4 || t.team_id || ':' || t.id || ':'))
          -- an A/B over simulations answers through its two runs' conversation jobs
          AND NOT EXISTS (
              SELECT 1 FROM simulation_ab_tests s
              JOIN pgqueuer q ON q.status IN ('queued', 'picked')
                AND (left(q.dedupe_key, length($5 || s.team_id || ':' || s.run_a_id || ':'))
                         = $5 || s.team_id || ':' || s.run_a_id || ':'
                     OR left(q.dedupe_key, length($5 || s.team_id || ':' || s.run_b_id || ':'))
                         = $5 || s.team_id || ':' || s.run_b_id || ':')
              WHERE s.team_id = t.team_id AND s.ab_test_id = t.id)
        """,
        stale_after_s,
        INTERRUPTED_REASON,
        AB_PAIR_PREFIX.split("{")[0],
        AB_POST_PREFIX.split("{")[0],
        SIMULATION_JOB_PREFIX,
    )
    return int(done.split()[-1])


async def cancel(pool: asyncpg.Pool, *, team_id: str, ab_id: int, user_id: str) -> AbTest | None:
    """End a test without a verdict; None when it had already ended (closed or cancelled).
    Votes already cast are kept; none are taken afterwards (a vote locks the test row)."""
    async with pool.acquire() as con, con.transaction():
        row = await con.fetchrow(
            f"""
            UPDATE ab_tests SET status = 'cancelled', closed_by = $3, closed_at = now()
            WHERE team_id = $1 AND id = $2 AND status = ANY($4::text[])
            RETURNING {_TEST_COLUMNS}
            """,
            team_id,
            ab_id,
            user_id,
            list(CANCELLABLE),
        )
        if row is None:
            return None
        # pairs nobody started writing are not written (a pair being written finishes, sees
        # the test ended and posts nothing)
        await delete_queued(con, team_id=team_id, ab_id=ab_id)
    return _test(row)


async def get(pool: asyncpg.Pool, *, team_id: str, ab_id: int) -> AbTest:
    row = await pool.fetchrow(
        f"SELECT {_TEST_COLUMNS} FROM ab_tests WHERE team_id = $1 AND id = $2", team_id, ab_id
    )
    if row is None:
        raise AbTestNotFound(ab_id)
    return _test(row)


async def messages(pool: asyncpg.Pool, *, team_id: str, ab_id: int) -> list[AbMessage]:
    rows = await pool.fetch(
        f"""
        SELECT {_MESSAGE_COLUMNS} FROM ab_messages
        WHERE team_id = $1 AND ab_test_id = $2 ORDER BY position
        """,
        team_id,
        ab_id,
    )
    return [_message(r) for r in rows]


async def message(pool: asyncpg.Pool, *, team_id: str, message_id: int) -> AbMessage:
    row = await pool.fetchrow(
        f"SELECT {_MESSAGE_COLUMNS} FROM ab_messages WHERE team_id = $1 AND id = $2",
        team_id,
        message_id,
    )
    if row is None:
        raise AbTestNotFound(message_id)
    return _message(row)


async def vote(
    pool: asyncpg.Pool, *, team_id: str, message_id: int, user_id: str, choice: Choice
) -> VoteOutcome:
    """Record or change a vote, only while voting is open; the row lock on the test makes a
    vote and a close that race come out in one order or the other, never half of each."""
    async with pool.acquire() as con, con.transaction():
        row = await con.fetchrow(
            f"SELECT {_MESSAGE_COLUMNS} FROM ab_messages WHERE team_id = $1 AND id = $2",
            team_id,
            message_id,
        )
        if row is None:
            raise AbTestNotFound(message_id)
        message = _message(row)
        test = _test(
            await con.fetchrow(
                f"SELECT {_TEST_COLUMNS} FROM ab_tests WHERE team_id = $1 AND id = $2 FOR SHARE",
                team_id,
                message.ab_test_id,
            )
        )
        if test.status != "open" or message.failure is not None:
            return VoteOutcome(False, test.status, test, message)
        await con.execute(
            """
            INSERT INTO ab_votes (team_id, ab_message_id, user_id, choice) VALUES ($1, $2, $3, $4)
            ON CONFLICT (team_id, ab_message_id, user_id)
            DO UPDATE SET choice = EXCLUDED.choice, voted_at = now()
            """,
            team_id,
            message_id,
            user_id,
            choice,
        )
        return VoteOutcome(True, test.status, test, message)


async def tally(pool: asyncpg.Pool, *, team_id: str, ab_id: int) -> Tally:
    row = await pool.fetchrow(
        """
        SELECT count(*) FILTER (WHERE v.choice = 'a') AS a,
               count(*) FILTER (WHERE v.choice = 'b') AS b,
               count(*) FILTER (WHERE v.choice = 'tie') AS tie,
               count(*) FILTER (WHERE v.choice = 'both_bad') AS both_bad,
               count(DISTINCT v.user_id) AS voters
        FROM ab_votes v JOIN ab_messages m ON m.team_id = v.team_id AND m.id = v.ab_message_id
        WHERE v.team_id = $1 AND m.ab_test_id = $2
        """,
        team_id,
        ab_id,
    )
    return Tally(row["a"], row["b"], row["tie"], row["both_bad"], row["voters"])


async def participation(pool: asyncpg.Pool, *, team_id: str, ab_id: int) -> Participation:
    rows = await pool.fetch(
        """
        SELECT m.position, m.failure IS NOT NULL AS failed, count(v.user_id) AS votes
        FROM ab_messages m
        LEFT JOIN ab_votes v ON v.team_id = m.team_id AND v.ab_message_id = m.id
        WHERE m.team_id = $1 AND m.ab_test_id = $2
        GROUP BY m.id ORDER BY m.position
        """,
        team_id,
        ab_id,
    )
    voters = await pool.fetchval(
        """
        SELECT count(DISTINCT v.user_id)
        FROM ab_votes v JOIN ab_messages m ON m.team_id = v.team_id AND m.id = v.ab_message_id
        WHERE v.team_id = $1 AND m.ab_test_id = $2
        """,
        team_id,
        ab_id,
    )
    per_message = [int(r["votes"]) for r in rows]
    return Participation(
        votes=sum(per_message),
        voters=int(voters),
        per_message=per_message,
        unanswered=sum(1 for r in rows if r["failed"]),
    )


async def votes(pool: asyncpg.Pool, *, team_id: str, ab_id: int) -> list[Vote]:
    rows = await pool.fetch(
        """
        SELECT v.ab_message_id, v.user_id, v.choice
        FROM ab_votes v JOIN ab_messages m ON m.team_id = v.team_id AND m.id = v.ab_message_id
        WHERE v.team_id = $1 AND m.ab_test_id = $2 ORDER BY m.position, v.user_id
        """,
        team_id,
        ab_id,
    )
    return [Vote(r["ab_message_id"], r["user_id"], r["choice"]) for r in rows]


async def close(pool: asyncpg.Pool, *, team_id: str, ab_id: int, user_id: str) -> AbTest | None:
    """Close once: None when it was not open (already closed, or still answering)."""
    row = await pool.fetchrow(
        f"""
        UPDATE ab_tests SET status = 'closed', closed_by = $3, closed_at = now()
        WHERE team_id = $1 AND id = $2 AND status = 'open'
        RETURNING {_TEST_COLUMNS}
        """,
        team_id,
        ab_id,
        user_id,
    )
    return None if row is None else _test(row)


async def claim_unfinished_close(
    pool: asyncpg.Pool, *, team_id: str, ab_id: int, stale_after_s: int = STALE_AFTER_S
) -> AbTest | None:
    """A closed test whose verdict never came (its process stopped in between), taken over by
    one caller; None while the close may still be under way, so no verdict is posted twice."""
    row = await pool.fetchrow(
        f"""
        UPDATE ab_tests SET closed_at = now()
        WHERE team_id = $1 AND id = $2 AND status = 'closed' AND verdict_code IS NULL
          AND closed_at < now() - make_interval(secs => $3)
        RETURNING {_TEST_COLUMNS}
        """,
        team_id,
        ab_id,
        stale_after_s,
    )
    return None if row is None else _test(row)


async def set_verdict(
    pool: asyncpg.Pool, *, team_id: str, ab_id: int, code: str, verdict: dict[str, Any]
) -> None:
    await pool.execute(
        """
        UPDATE ab_tests SET verdict_code = $3, verdict = $4
        WHERE team_id = $1 AND id = $2 AND status = 'closed'
        """,
        team_id,
        ab_id,
        code,
        verdict,
    )


async def all_votes_by_version(pool: asyncpg.Pool, *, team_id: str) -> list[tuple[int, int, str]]:
    """Every vote of the workspace's closed tests as (version A id, version B id, choice), for
    the leaderboard. Votes of a test still open stay out until it closes: counted while open,
    the ranking would move with each vote and tell voters which reply is which."""
    rows = await pool.fetch(
        """
        SELECT t.version_a_id, t.version_b_id, v.choice
        FROM ab_votes v
        JOIN ab_messages m ON m.team_id = v.team_id AND m.id = v.ab_message_id
        JOIN ab_tests t ON t.team_id = m.team_id AND t.id = m.ab_test_id
        WHERE v.team_id = $1 AND t.status = 'closed'
        """,
        team_id,
    )
    return [(r["version_a_id"], r["version_b_id"], r["choice"]) for r in rows]


async def version_labels(pool: asyncpg.Pool, *, team_id: str, ids: list[int]) -> dict[int, str]:
    rows = await pool.fetch(
        """
        SELECT v.id, p.name || ' v' || v.version AS label
        FROM profile_versions v JOIN profiles p ON p.team_id = v.team_id AND p.id = v.profile_id
        WHERE v.team_id = $1 AND v.id = ANY($2::bigint[])
        """,
        team_id,
        ids,
    )
    return {r["id"]: r["label"] for r in rows}
