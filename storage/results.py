"""Answers (test results), their feedback, test threads and event de-duplication. Team-scoped."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from bot.domain.results import FeedbackTally, TestResult
from storage.errors import NotFound
from storage.scenarios import RunTakenOver

_RESULT_COLUMNS = """
    id, team_id, profile_version_id, kind, channel_id, thread_ts, message_ts, user_id, question,
    answer, model, total_ms, ttft_ms, prompt_tokens, completion_tokens, confidence, proxies,
    analysis, alignment, analysis_error, interrupted, error_kind, error, dropped_turns, created_at,
    run_id, scenario_id, scenario_name, position, behaviour_results, knowledge_given,
    knowledge_used, finish_reason, token_limit, judge_outcomes, done_at
"""


class ResultNotFound(NotFound):
    def __init__(self, result_id: int) -> None:
        super().__init__(f"no result {result_id}")
        self.result_id = result_id


@dataclass(frozen=True, slots=True)
class NewResult:
    """What an answer produced; everything optional is None when it was not measured."""

    team_id: str
    profile_version_id: int
    kind: str
    user_id: str
    question: str
    answer: str
    channel_id: str | None = None
    thread_ts: str | None = None
    message_ts: str | None = None
    model: str | None = None
    total_ms: float | None = None
    ttft_ms: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    confidence: float | None = None
    proxies: dict[str, float | None] | None = None
    interrupted: bool = False
    error_kind: str | None = None
    error: str | None = None
    dropped_turns: int = 0
    run_id: int | None = None
    scenario_id: int | None = None
    scenario_name: str | None = None
    position: int | None = None
    knowledge_given: list[str] | None = None
    # a scenario run's result is written only by the attempt that owns the run (see run_id)
    run_attempt: int | None = None
    finish_reason: str | None = None
    token_limit: int | None = None
    # one side ("a" or "b") of an A/B pair: stored and linked to its pair in one transaction,
    # once (a retried pair job finds the side answered and gets that row back)
    ab_message_id: int | None = None
    ab_side: str | None = None


# One judge's outcome merged into the others' (the two judges of an answer write separately);
# a NULL outcome (the judge was not asked) leaves the column as it is.
_WITH_OUTCOME = """
    CASE WHEN {param}::text IS NULL THEN judge_outcomes
         ELSE coalesce(judge_outcomes, '{{}}'::jsonb)
              || jsonb_build_object('{judge}', {param}::text)
    END"""


def _result(row: Any) -> TestResult:
    return TestResult(**dict(row))


_INSERT = """
    INSERT INTO test_results (
        team_id, profile_version_id, kind, channel_id, thread_ts, message_ts, user_id,
        question, answer, model, total_ms, ttft_ms, prompt_tokens, completion_tokens,
        confidence, proxies, interrupted, error_kind, error, dropped_turns, run_id,
        scenario_id, scenario_name, position, knowledge_given, finish_reason, token_limit
    ) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
              $18, $19, $20, $21, $22, $23, $24, $25, $26, $27)
"""


def _values(result: NewResult) -> tuple[Any, ...]:
    return (
        result.team_id,
        result.profile_version_id,
        result.kind,
        result.channel_id,
        result.thread_ts,
        result.message_ts,
        result.user_id,
        result.question,
        result.answer,
        result.model,
        result.total_ms,
        result.ttft_ms,
        result.prompt_tokens,
        result.completion_tokens,
        result.confidence,
        result.proxies,
        result.interrupted,
        result.error_kind,
        result.error,
        result.dropped_turns,
        result.run_id,
        result.scenario_id,
        result.scenario_name,
        result.position,
        result.knowledge_given,
        result.finish_reason,
        result.token_limit,
    )


async def insert_result(pool: asyncpg.Pool, result: NewResult) -> TestResult:
    if result.run_id is not None:
        return await _insert_run_result(pool, result)
    if result.ab_message_id is not None:
        return await _insert_ab_side(pool, result)
    row = await pool.fetchrow(f"{_INSERT} RETURNING {_RESULT_COLUMNS}", *_values(result))
    return _result(row)


async def _insert_run_result(pool: asyncpg.Pool, result: NewResult) -> TestResult:
    """Only the attempt that owns the run writes its results, and each message once. The share
    lock on the run makes a resume's take-over wait for a write under way, so the resume then
    sees that result and does not answer the message again."""
    assert result.run_id is not None and result.run_attempt is not None
    async with pool.acquire() as con, con.transaction():
        owner = await con.fetchval(
            "SELECT attempt FROM scenario_runs WHERE team_id = $1 AND id = $2 FOR SHARE",
            result.team_id,
            result.run_id,
        )
        if owner != result.run_attempt:
            raise RunTakenOver(result.run_id)
        row = await con.fetchrow(
            f"""
            {_INSERT}
            ON CONFLICT (team_id, run_id, scenario_id, position) WHERE run_id IS NOT NULL
            DO NOTHING
            RETURNING {_RESULT_COLUMNS}
            """,
            *_values(result),
        )
        if row is None:
            # this attempt stored the message already (e.g. its analysis failed afterwards and
            # the failure is being recorded): that row stays the message's one result
            row = await con.fetchrow(
                f"""
                SELECT {_RESULT_COLUMNS} FROM test_results
                WHERE team_id = $1 AND run_id = $2 AND scenario_id = $3 AND position = $4
                """,
                result.team_id,
                result.run_id,
                result.scenario_id,
                result.position,
            )
    return _result(row)


async def _insert_ab_side(pool: asyncpg.Pool, result: NewResult) -> TestResult:
    """The pair's row lock makes two runs of its job store one answer per side: the second
    finds the side linked and gets that row, and its own answer is not stored."""
    column = {"a": "result_a_id", "b": "result_b_id"}[result.ab_side or ""]
    async with pool.acquire() as con, con.transaction():
        linked = await con.fetchval(
            f"SELECT {column} FROM ab_messages WHERE team_id = $1 AND id = $2 FOR UPDATE",
            result.team_id,
            result.ab_message_id,
        )
        if linked is not None:
            row = await con.fetchrow(
                f"SELECT {_RESULT_COLUMNS} FROM test_results WHERE team_id = $1 AND id = $2",
                result.team_id,
                linked,
            )
            return _result(row)
        row = await con.fetchrow(f"{_INSERT} RETURNING {_RESULT_COLUMNS}", *_values(result))
        await con.execute(
            f"UPDATE ab_messages SET {column} = $3 WHERE team_id = $1 AND id = $2",
            result.team_id,
            result.ab_message_id,
            row["id"],
        )
    return _result(row)


async def set_analysis(
    pool: asyncpg.Pool,
    *,
    team_id: str,
    result_id: int,
    analysis: dict[str, Any] | None,
    alignment: float | None,
    analysis_error: str | None,
    knowledge_used: list[str] | None = None,
    outcome: str | None = None,
) -> TestResult:
    """`outcome` is the trait judge's (bot.model.judge_call.JudgeOutcome), kept under "traits"."""
    row = await pool.fetchrow(
        f"""
        UPDATE test_results
        SET analysis = $3, alignment = $4, analysis_error = $5, knowledge_used = $6,
            judge_outcomes = {_WITH_OUTCOME.format(judge="traits", param="$7")}
        WHERE team_id = $1 AND id = $2
        RETURNING {_RESULT_COLUMNS}
        """,
        team_id,
        result_id,
        analysis,
        alignment,
        analysis_error,
        knowledge_used,
        outcome,
    )
    if row is None:
        raise ResultNotFound(result_id)
    return _result(row)


async def set_behaviours(
    pool: asyncpg.Pool,
    *,
    team_id: str,
    result_id: int,
    verdicts: list[dict[str, Any]],
    outcome: str | None = None,
) -> TestResult:
    """`outcome` is the behaviour judge's, kept under "behaviours"; None when it was not asked."""
    row = await pool.fetchrow(
        f"""
        UPDATE test_results
        SET behaviour_results = $3,
            judge_outcomes = {_WITH_OUTCOME.format(judge="behaviours", param="$4")}
        WHERE team_id = $1 AND id = $2
        RETURNING {_RESULT_COLUMNS}
        """,
        team_id,
        result_id,
        verdicts,
        outcome,
    )
    if row is None:
        raise ResultNotFound(result_id)
    return _result(row)


async def run_results(pool: asyncpg.Pool, *, team_id: str, run_id: int) -> list[TestResult]:
    rows = await pool.fetch(
        f"""
        SELECT {_RESULT_COLUMNS} FROM test_results
        WHERE team_id = $1 AND run_id = $2
        ORDER BY scenario_id, position, id
        """,
        team_id,
        run_id,
    )
    return [_result(r) for r in rows]


async def run_item_result(
    pool: asyncpg.Pool, *, team_id: str, run_id: int, scenario_id: int, position: int
) -> TestResult | None:
    """A run's stored result for one message, if any (a retried job answers it only if not)."""
    row = await pool.fetchrow(
        f"""
        SELECT {_RESULT_COLUMNS} FROM test_results
        WHERE team_id = $1 AND run_id = $2 AND scenario_id = $3 AND position = $4
        """,
        team_id,
        run_id,
        scenario_id,
        position,
    )
    return None if row is None else _result(row)


async def run_results_at(
    pool: asyncpg.Pool, *, team_id: str, run_id: int, scenario_id: int, positions: Sequence[int]
) -> list[TestResult]:
    """The run's results of one scenario at these positions (the samples of one message), in
    position order."""
    rows = await pool.fetch(
        f"""
        SELECT {_RESULT_COLUMNS} FROM test_results
        WHERE team_id = $1 AND run_id = $2 AND scenario_id = $3 AND position = ANY($4::int[])
        ORDER BY position
        """,
        team_id,
        run_id,
        scenario_id,
        list(positions),
    )
    return [_result(r) for r in rows]


async def results_by_ids(
    pool: asyncpg.Pool, *, team_id: str, ids: list[int]
) -> dict[int, TestResult]:
    rows = await pool.fetch(
        f"SELECT {_RESULT_COLUMNS} FROM test_results WHERE team_id = $1 AND id = ANY($2::bigint[])",
        team_id,
        ids,
    )
    return {r["id"]: _result(r) for r in rows}


async def get_result(pool: asyncpg.Pool, *, team_id: str, result_id: int) -> TestResult:
    row = await pool.fetchrow(
        f"SELECT {_RESULT_COLUMNS} FROM test_results WHERE team_id = $1 AND id = $2",
        team_id,
        result_id,
    )
    if row is None:
        raise ResultNotFound(result_id)
    return _result(row)


async def thread_results(
    pool: asyncpg.Pool, *, team_id: str, channel_id: str, thread_ts: str
) -> list[TestResult]:
    rows = await pool.fetch(
        f"""
        SELECT {_RESULT_COLUMNS} FROM test_results
        WHERE team_id = $1 AND channel_id = $2 AND thread_ts = $3
        ORDER BY id
        """,
        team_id,
        channel_id,
        thread_ts,
    )
    return [_result(r) for r in rows]


async def record_feedback(
    pool: asyncpg.Pool, *, team_id: str, result_id: int, user_id: str, rating: int
) -> FeedbackTally:
    async with pool.acquire() as con, con.transaction():
        try:
            await con.execute(
                """
                INSERT INTO result_feedback (team_id, result_id, user_id, rating)
                VALUES ($1, $2, $3, $4)
                ON CONFLICT (team_id, result_id, user_id)
                DO UPDATE SET rating = EXCLUDED.rating, updated_at = now()
                """,
                team_id,
                result_id,
                user_id,
                rating,
            )
        except asyncpg.ForeignKeyViolationError:
            raise ResultNotFound(result_id) from None
        return await feedback_tally(con, team_id=team_id, result_id=result_id)


async def feedback_tally(
    con: asyncpg.Pool | asyncpg.Connection, *, team_id: str, result_id: int
) -> FeedbackTally:
    row = await con.fetchrow(
        """
        SELECT count(*) FILTER (WHERE rating = 1) AS up, count(*) FILTER (WHERE rating = -1) AS down
        FROM result_feedback WHERE team_id = $1 AND result_id = $2
        """,
        team_id,
        result_id,
    )
    return FeedbackTally(up=row["up"], down=row["down"])


async def register_thread(
    pool: asyncpg.Pool,
    *,
    team_id: str,
    channel_id: str,
    thread_ts: str,
    profile_version_id: int,
    user_id: str,
) -> None:
    await pool.execute(
        """
        INSERT INTO test_threads (team_id, channel_id, thread_ts, profile_version_id, started_by)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT DO NOTHING
        """,
        team_id,
        channel_id,
        thread_ts,
        profile_version_id,
        user_id,
    )


async def switch_thread(
    pool: asyncpg.Pool,
    *,
    team_id: str,
    channel_id: str,
    thread_ts: str,
    profile_version_id: int,
    user_id: str,
) -> None:
    """The thread answers as `profile_version_id` from now on (a DM conversation's `use`)."""
    await pool.execute(
        """
        INSERT INTO test_threads (team_id, channel_id, thread_ts, profile_version_id, started_by)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (team_id, channel_id, thread_ts)
        DO UPDATE SET profile_version_id = EXCLUDED.profile_version_id
        """,
        team_id,
        channel_id,
        thread_ts,
        profile_version_id,
        user_id,
    )


async def thread_version(
    pool: asyncpg.Pool, *, team_id: str, channel_id: str, thread_ts: str
) -> int | None:
    version_id: int | None = await pool.fetchval(
        """
        SELECT profile_version_id FROM test_threads
        WHERE team_id = $1 AND channel_id = $2 AND thread_ts = $3
        """,
        team_id,
        channel_id,
        thread_ts,
    )
    return version_id


async def claim_message(pool: asyncpg.Pool, *, team_id: str, channel_id: str, ts: str) -> bool:
    """True for the first caller only: the database, not process memory, decides."""
    async with pool.acquire() as con, con.transaction():
        await con.execute(
            "INSERT INTO workspaces (team_id) VALUES ($1) ON CONFLICT (team_id) DO NOTHING",
            team_id,
        )
        claimed = await con.fetchval(
            """
            INSERT INTO handled_messages (team_id, channel_id, ts) VALUES ($1, $2, $3)
            ON CONFLICT DO NOTHING RETURNING true
            """,
            team_id,
            channel_id,
            ts,
        )
    return bool(claimed)
