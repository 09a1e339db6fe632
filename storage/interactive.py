"""Interactive answers as jobs: the stored request, the claims that make its answer go out once,
and the beats of the processes that answer them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum

import asyncpg

# a conversation's turns as (role, content), oldest first, ending with the question
Turns = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class NewRequest:
    team_id: str
    channel_id: str
    thread_ts: str
    user_id: str
    kind: str  # "test" or "followup"
    profile_version_id: int
    turns: Turns
    writing_status: bool = False  # a DM: "is writing…" shows while the worker writes


@dataclass(frozen=True, slots=True)
class Request:
    id: int
    team_id: str
    channel_id: str
    thread_ts: str
    user_id: str
    kind: str
    profile_version_id: int
    turns: Turns
    writing_status: bool


class Claim(Enum):
    """What the job of a request may do now."""

    ANSWER = "answer"  # nobody started it: this job answers
    INTERRUPTED = "interrupted"  # started before and not finished: say so once, do not answer
    DONE = "done"  # finished, or its interruption (or failure) already told
    GONE = "gone"  # the request went with its profile version (a cascade): say so, once


class GaveUp(Enum):
    """What the thread of a request whose job failed for good still needs."""

    TELL = "tell"  # nothing yet: that it could not be answered, and why
    TOLD = "told"  # its answer, or a message about it, is there
    GONE = "gone"  # the request went with its profile version: say so, once


async def insert_request(con: asyncpg.Connection, request: NewRequest) -> int:
    """Stored inside the caller's transaction, with its job."""
    turns = [{"role": role, "content": content} for role, content in request.turns]
    value: int = await con.fetchval(
        """
        INSERT INTO interactive_answers
            (team_id, channel_id, thread_ts, user_id, kind, profile_version_id, turns,
             writing_status)
        VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8)
        RETURNING id
        """,
        request.team_id,
        request.channel_id,
        request.thread_ts,
        request.user_id,
        request.kind,
        request.profile_version_id,
        json.dumps(turns),
        request.writing_status,
    )
    return value


async def claim(
    pool: asyncpg.Pool, *, team_id: str, request_id: int
) -> tuple[Claim, Request | None]:
    """Claim the request's answer before anything is posted (row lock: one job at a time)."""
    async with pool.acquire() as con, con.transaction():
        row = await con.fetchrow(
            """
            SELECT id, team_id, channel_id, thread_ts, user_id, kind, profile_version_id, turns,
                   writing_status, started_at IS NOT NULL AS started,
                   finished_at IS NOT NULL AS finished, notice_at IS NOT NULL AS noticed
            FROM interactive_answers WHERE team_id = $1 AND id = $2 FOR UPDATE
            """,
            team_id,
            request_id,
        )
        if row is None:
            return Claim.GONE, None
        if row["finished"] or row["noticed"]:
            return Claim.DONE, None
        request = _request(row)
        column = "notice_at" if row["started"] else "started_at"
        await con.execute(
            f"UPDATE interactive_answers SET {column} = now() WHERE team_id = $1 AND id = $2",
            team_id,
            request_id,
        )
        return (Claim.INTERRUPTED if row["started"] else Claim.ANSWER), request


def _request(row: asyncpg.Record) -> Request:
    return Request(
        id=row["id"],
        team_id=row["team_id"],
        channel_id=row["channel_id"],
        thread_ts=row["thread_ts"],
        user_id=row["user_id"],
        kind=row["kind"],
        profile_version_id=row["profile_version_id"],
        turns=tuple((t["role"], t["content"]) for t in json.loads(row["turns"])),
        writing_status=row["writing_status"],
    )


async def claim_gone_notice(pool: asyncpg.Pool, *, team_id: str, request_id: int) -> bool:
    """True for the first caller only: it posts the notice that the request's version was
    deleted (the request itself went with it, so the claim is kept apart)."""
    claimed = await pool.fetchval(
        """
        INSERT INTO interactive_gone_notices (team_id, request_id) VALUES ($1, $2)
        ON CONFLICT DO NOTHING RETURNING true
        """,
        team_id,
        request_id,
    )
    return bool(claimed)


async def give_up(pool: asyncpg.Pool, *, team_id: str, request_id: int) -> GaveUp:
    """The request's job failed on its last try: the request is done, so nothing answers it
    later. TELL when its thread has heard nothing (the job never claimed it): the caller says
    why, once."""
    async with pool.acquire() as con, con.transaction():
        row = await con.fetchrow(
            """
            SELECT started_at IS NOT NULL AS started,
                   finished_at IS NOT NULL OR notice_at IS NOT NULL AS over
            FROM interactive_answers WHERE team_id = $1 AND id = $2 FOR UPDATE
            """,
            team_id,
            request_id,
        )
        if row is None:
            return GaveUp.GONE
        if row["over"]:
            return GaveUp.TOLD
        await con.execute(
            """
            UPDATE interactive_answers
            SET finished_at = now(), notice_at = CASE WHEN started_at IS NULL THEN now() END
            WHERE team_id = $1 AND id = $2
            """,
            team_id,
            request_id,
        )
        # claimed, its answer ended every failure with a message (what failed came after it)
        return GaveUp.TOLD if row["started"] else GaveUp.TELL


async def finish(pool: asyncpg.Pool, *, team_id: str, request_id: int) -> None:
    await pool.execute(
        "UPDATE interactive_answers SET finished_at = now() WHERE team_id = $1 AND id = $2",
        team_id,
        request_id,
    )


async def started(pool: asyncpg.Pool, *, team_id: str, request_id: int) -> bool:
    """True once a worker claimed the request, or gave up on it, or it is gone: nothing left
    to wait for."""
    value = await pool.fetchval(
        """
        SELECT started_at IS NOT NULL OR finished_at IS NOT NULL
        FROM interactive_answers WHERE team_id = $1 AND id = $2
        """,
        team_id,
        request_id,
    )
    return value is None or bool(value)


async def beat(pool: asyncpg.Pool, *, worker_id: str, forget_after_s: float) -> None:
    """This process serves interactive answers now; rows of processes silent for
    `forget_after_s` (killed without stopping) are deleted on the way."""
    async with pool.acquire() as con, con.transaction():
        await con.execute(
            """
            INSERT INTO interactive_workers (worker_id) VALUES ($1)
            ON CONFLICT (worker_id) DO UPDATE SET beat_at = now()
            """,
            worker_id,
        )
        await con.execute(
            "DELETE FROM interactive_workers WHERE beat_at < now() - make_interval(secs => $1)",
            forget_after_s,
        )


async def gone(pool: asyncpg.Pool, *, worker_id: str) -> None:
    await pool.execute("DELETE FROM interactive_workers WHERE worker_id = $1", worker_id)


async def live_workers(pool: asyncpg.Pool, *, within_s: float) -> int:
    """Processes that beat within the last `within_s` seconds."""
    value: int = await pool.fetchval(
        "SELECT count(*) FROM interactive_workers"
        " WHERE beat_at >= now() - make_interval(secs => $1)",
        within_s,
    )
    return value
