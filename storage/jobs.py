"""What the job queue holds for a scenario run, and the claims that make a run's Slack messages
go out once however many processes work on it. PgQueuer owns its tables' writes (enqueue,
dequeue, heartbeats); this module reads them by the dedupe key our jobs carry, and deletes a
stopped run's jobs that no worker has picked yet (PgQueuer keeps no state for a queued job
outside its row)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg

from storage import post_claims, progress_claims
from storage.post_claims import ClaimTable
from storage.post_claims import PostClaim as PostClaim  # re-exported: the jobs import it here
from storage.post_claims import PostState as PostState
from storage.progress_claims import ProgressTable

# a scenario message job's dedupe key: SCENARIO_MESSAGE_KEY.format(...) (see bot.jobs.payloads)
SCENARIO_MESSAGE_PREFIX = "scenario-message:{team_id}:{run_id}:"


def scenario_run_prefix(*, team_id: str, run_id: int) -> str:
    return SCENARIO_MESSAGE_PREFIX.format(team_id=team_id, run_id=run_id)


@dataclass(frozen=True, slots=True)
class RunProgress:
    """A run's messages: stored (of which failed), being answered, waiting in the queue."""

    done: int
    failed: int
    running: int
    waiting: int
    total: int
    # seconds since the run started
    elapsed_s: float
    # thread posts that lapsed where the app could not read the thread to check them
    unconfirmed: int = 0

    @property
    def left_s(self) -> float | None:
        """The time left at the pace so far; None before the first answer or after the last."""
        if not self.done or self.done >= self.total:
            return None
        return self.elapsed_s / self.done * (self.total - self.done)


async def run_progress(pool: asyncpg.Pool, *, team_id: str, run_id: int, total: int) -> RunProgress:
    row = await pool.fetchrow(
        """
        SELECT
            (SELECT count(*) FROM test_results
              WHERE team_id = $1 AND run_id = $2 AND done_at IS NOT NULL) AS done,
            (SELECT count(*) FROM test_results
              WHERE team_id = $1 AND run_id = $2 AND error_kind IS NOT NULL) AS failed,
            (SELECT count(*) FROM pgqueuer
              WHERE left(dedupe_key, length($3)) = $3 AND status = 'picked') AS running,
            (SELECT count(*) FROM pgqueuer
              WHERE left(dedupe_key, length($3)) = $3 AND status = 'queued') AS waiting,
            (SELECT extract(epoch FROM now() - started_at)::float8 FROM scenario_runs
              WHERE team_id = $1 AND id = $2) AS elapsed_s,
            (SELECT count(*) FROM test_results
              WHERE team_id = $1 AND run_id = $2 AND post_unconfirmed) AS unconfirmed
        """,
        team_id,
        run_id,
        scenario_run_prefix(team_id=team_id, run_id=run_id),
    )
    assert row is not None
    return RunProgress(
        done=row["done"],
        failed=row["failed"],
        running=row["running"],
        waiting=row["waiting"],
        total=total,
        elapsed_s=float(row["elapsed_s"] or 0.0),
        unconfirmed=row["unconfirmed"],
    )


async def claim_post(
    pool: asyncpg.Pool, *, team_id: str, result_id: int, lease_s: float
) -> PostState:
    """Claim the result's thread post (see storage.post_claims)."""
    return await post_claims.claim(
        pool, table=ClaimTable.RESULTS, team_id=team_id, row_id=result_id, lease_s=lease_s
    )


async def mark_unconfirmed(pool: asyncpg.Pool, *, team_id: str, result_id: int) -> None:
    """The result's lapsed post could not be checked in its thread (the app cannot read it): it
    is not sent again, and the run's progress and summary count it as not confirmed."""
    await pool.execute(
        "UPDATE test_results SET post_unconfirmed = true WHERE team_id = $1 AND id = $2",
        team_id,
        result_id,
    )


async def mark_refused(pool: asyncpg.Pool, *, team_id: str, result_id: int) -> None:
    """Slack refused the result's post: settled with no ts (no job posts it again), and counted
    with the posts that could not be confirmed in the thread."""
    await pool.execute(
        "UPDATE test_results SET posted_ts = '', post_unconfirmed = true"
        " WHERE team_id = $1 AND id = $2",
        team_id,
        result_id,
    )


async def unconfirmed_posts(pool: asyncpg.Pool, *, team_id: str, run_id: int) -> int:
    """The run's results whose post could not be confirmed (each counted once)."""
    count = await pool.fetchval(
        "SELECT count(*) FROM test_results WHERE team_id = $1 AND run_id = $2 AND post_unconfirmed",
        team_id,
        run_id,
    )
    return int(count or 0)


async def summary_is_shown(pool: asyncpg.Pool, *, team_id: str, run_id: int) -> bool:
    shown = await pool.fetchval(
        "SELECT summary_at IS NOT NULL FROM scenario_runs WHERE team_id = $1 AND id = $2",
        team_id,
        run_id,
    )
    return bool(shown)


async def record_post(pool: asyncpg.Pool, *, team_id: str, result_id: int, ts: str) -> None:
    """The thread post is in Slack with this ts: no job posts it again (and it is confirmed,
    should an earlier look at the thread have failed)."""
    await pool.execute(
        "UPDATE test_results SET posted_ts = $3, post_unconfirmed = false"
        " WHERE team_id = $1 AND id = $2",
        team_id,
        result_id,
        ts,
    )


async def mark_done(pool: asyncpg.Pool, *, team_id: str, result_id: int) -> None:
    """The result's job is through with it: it counts towards its run's completion."""
    await pool.execute(
        "UPDATE test_results SET done_at = now() WHERE team_id = $1 AND id = $2"
        " AND done_at IS NULL",
        team_id,
        result_id,
    )


async def claim_progress(pool: asyncpg.Pool, *, team_id: str, run_id: int, every_s: float) -> bool:
    """True when nobody edited the run's progress in the last `every_s` seconds: this caller
    does it now. Also counts as the run's heartbeat (its work is moving)."""
    return await progress_claims.claim(
        pool, table=ProgressTable.SCENARIO_RUNS, team_id=team_id, row_id=run_id, every_s=every_s
    )


async def touch_run(pool: asyncpg.Pool, *, team_id: str, run_id: int) -> None:
    """The run's work is moving: the sweeper leaves it alone."""
    await pool.execute(
        "UPDATE scenario_runs SET heartbeat_at = now() WHERE team_id = $1 AND id = $2",
        team_id,
        run_id,
    )


async def claim_report(
    pool: asyncpg.Pool, *, team_id: str, run_id: int, attempt: int, total: int, reporter: str
) -> bool:
    """Compare-and-set: the run has all `total` results and nobody reported it yet. True for
    exactly one caller, which then stores the totals and posts the summary (`show_summary`).
    The same `reporter` (the job that claimed it, run again because its worker died before
    the summary showed) claims it again."""
    claimed = await pool.fetchval(
        """
        UPDATE scenario_runs SET reported_at = now(), reporter = $5
        WHERE team_id = $1 AND id = $2 AND attempt = $3
          AND (reported_at IS NULL OR (summary_at IS NULL AND reporter = $5))
          -- completed without its summary: the job reporting it stopped half-way
          AND status IN ('running', 'completed')
          AND (SELECT count(*) FROM test_results t
                WHERE t.team_id = $1 AND t.run_id = $2 AND t.done_at IS NOT NULL) >= $4
        RETURNING true
        """,
        team_id,
        run_id,
        attempt,
        total,
        reporter,
    )
    return bool(claimed)


async def summary_shown(pool: asyncpg.Pool, *, team_id: str, run_id: int) -> None:
    """The run's summary is on its parent (or there was nowhere to show it): nobody shows it
    again."""
    await pool.execute(
        "UPDATE scenario_runs SET summary_at = now() WHERE team_id = $1 AND id = $2",
        team_id,
        run_id,
    )


async def report_failed(
    pool: asyncpg.Pool, *, team_id: str, run_id: int, attempt: int, total: int, reason: str
) -> bool:
    """Compare-and-set, after the job that was to report the run failed on its last try: a
    run of this `attempt` with all `total` results and no summary shown becomes interrupted
    (for Resume, which writes the summary) with the `reason`. False when the run was reported,
    resumed or stopped meanwhile, or is not complete (a message's own job failed: the sweep
    marks such a run interrupted once its work stops moving)."""
    failed = await pool.fetchval(
        """
        UPDATE scenario_runs
        SET status = 'interrupted', finished_at = now(), report_failure = $5,
            reported_at = NULL, reporter = NULL
        WHERE team_id = $1 AND id = $2 AND attempt = $3 AND summary_at IS NULL
          -- another job reporting it now shows the summary (or fails and says so itself)
          AND reported_at IS NULL
          AND status IN ('running', 'completed')
          AND (SELECT count(*) FROM test_results t
                WHERE t.team_id = $1 AND t.run_id = $2 AND t.done_at IS NOT NULL) >= $4
        RETURNING true
        """,
        team_id,
        run_id,
        attempt,
        total,
        reason,
    )
    return bool(failed)


async def release_report(pool: asyncpg.Pool, *, team_id: str, run_id: int) -> None:
    """The claimed report could not be finished (the database went away, the worker stopped):
    a retry of the job claims it again. The summary is an edit of the parent, so showing it a
    second time changes nothing."""
    await pool.execute(
        "UPDATE scenario_runs SET reported_at = NULL, reporter = NULL"
        " WHERE team_id = $1 AND id = $2 AND summary_at IS NULL",
        team_id,
        run_id,
    )


async def queued_for_run(pool: asyncpg.Pool, *, team_id: str, run_id: int) -> int:
    """Jobs of the run still in the queue (waiting or being answered)."""
    count = await pool.fetchval(
        """
        SELECT count(*) FROM pgqueuer
        WHERE left(dedupe_key, length($1)) = $1 AND status IN ('queued', 'picked')
        """,
        scenario_run_prefix(team_id=team_id, run_id=run_id),
    )
    return int(count or 0)


# first half of the advisory-lock key of a run's parent message (the second is the run id)
_PARENT_LOCK = 0x52554E  # "RUN"


@asynccontextmanager
async def parent_message_lock(
    pool: asyncpg.Pool, *, run_id: int, wait: bool
) -> AsyncIterator[bool]:
    """Held while a process edits a run's parent message, so a progress edit in flight can
    never land after the summary. Yields False (without waiting) when `wait` is false and
    another process holds it."""
    async with pool.acquire() as con, con.transaction():
        if wait:
            await con.execute("SELECT pg_advisory_xact_lock($1, $2)", _PARENT_LOCK, run_id)
            yield True
        else:
            got = await con.fetchval(
                "SELECT pg_try_advisory_xact_lock($1, $2)", _PARENT_LOCK, run_id
            )
            yield bool(got)


@dataclass(frozen=True, slots=True)
class StoppedRun:
    """A run someone stopped: its messages stored when it stopped, of all it planned, and the
    queued jobs removed (a job being answered then finishes, and is stored, but shows nothing)."""

    done: int
    total: int
    cancelled: int
    channel_id: str | None
    parent_ts: str | None


async def stop_run(
    pool: asyncpg.Pool, *, team_id: str, run_id: int, user_id: str, total: int
) -> StoppedRun | None:
    """Compare-and-set: a running run that nobody reported yet becomes interrupted, marked as
    stopped by `user_id` (so it is never resumed), and its queued jobs are deleted in the same
    transaction. None when the run had already finished, been stopped or reported."""
    return await stop_and_count(
        pool,
        stop="""
            UPDATE scenario_runs
            SET status = 'interrupted', finished_at = now(),
                totals = jsonb_build_object('stopped_by', $3::text)
            WHERE team_id = $1 AND id = $2 AND status = 'running' AND reported_at IS NULL
            RETURNING channel_id, parent_ts
            """,
        done="SELECT count(*) FROM test_results"
        " WHERE team_id = $1 AND run_id = $2 AND done_at IS NOT NULL",
        team_id=team_id,
        run_id=run_id,
        user_id=user_id,
        prefix=scenario_run_prefix(team_id=team_id, run_id=run_id),
        total=total,
    )


async def stop_and_count(
    pool: asyncpg.Pool,
    *,
    stop: str,
    done: str,
    team_id: str,
    run_id: int,
    user_id: str,
    prefix: str,
    total: int,
) -> StoppedRun | None:
    """One transaction: `stop` (an UPDATE of the run taking $1 team, $2 run, $3 user and
    returning its channel_id and parent_ts, or nothing when it was not running), the run's
    queued jobs deleted, and `done` ($1 team, $2 run) counting what had finished."""
    async with pool.acquire() as con, con.transaction():
        row = await con.fetchrow(stop, team_id, run_id, user_id)
        if row is None:
            return None
        cancelled = await cancel_queued(con, prefix=prefix)
        finished = await con.fetchval(done, team_id, run_id)
    return StoppedRun(
        done=int(finished or 0),
        total=total,
        cancelled=cancelled,
        channel_id=row["channel_id"],
        parent_ts=row["parent_ts"],
    )


async def cancel_queued(con: asyncpg.Connection, *, prefix: str) -> int:
    """Delete a stopped run's jobs that no worker has picked yet (dedupe keys starting with
    `prefix`); a picked job finishes on its own. Call inside the stop's transaction."""
    deleted = await con.execute(
        "DELETE FROM pgqueuer WHERE left(dedupe_key, length($1)) = $1 AND status = 'queued'",
        prefix,
    )
    return int(deleted.split()[-1])


async def is_reported(pool: asyncpg.Pool, *, team_id: str, run_id: int) -> bool:
    reported = await pool.fetchval(
        "SELECT reported_at IS NOT NULL FROM scenario_runs WHERE team_id = $1 AND id = $2",
        team_id,
        run_id,
    )
    return bool(reported)


async def pace_post(
    pool: asyncpg.Pool, *, team_id: str, channel_id: str, interval_s: float, burst: int
) -> float:
    """Seconds to wait before posting in the channel so that every process together posts at
    most `burst` at once and then one every `interval_s` (GCRA: the row holds the theoretical
    arrival time of the next post)."""
    wait = await pool.fetchval(
        """
        INSERT INTO slack_post_pace AS p (team_id, channel_id, tat)
        VALUES ($1, $2, now() + make_interval(secs => $3))
        ON CONFLICT (team_id, channel_id)
        DO UPDATE SET tat = greatest(p.tat, now()) + make_interval(secs => $3)
        RETURNING greatest(0, extract(epoch FROM
            p.tat - make_interval(secs => $3 * $4) - now()))::float8
        """,
        team_id,
        channel_id,
        interval_s,
        burst,
    )
    return float(wait or 0.0)
