"""Claims on a thread post, shared by every job that posts a stored row in a run's thread
(a scenario result, an A/B pair): claimed before it is sent, renewed by compare-and-set right
before the send, recorded once Slack took it. The claim's timestamp is its token: a caller that
took over a lapsed claim wrote a new one, so the old holder's renewal finds it changed.

The tables and their columns come from a fixed allow-list (ClaimTable): the only names ever put
into the SQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum, StrEnum

import asyncpg


class ClaimTable(StrEnum):
    """The rows whose thread post is claimed."""

    RESULTS = "test_results"
    AB_PAIRS = "ab_messages"
    SIMULATION_TURNS = "simulation_turns"


@dataclass(frozen=True, slots=True)
class _Columns:
    # when the claim was taken (NULL: free)
    claimed_at: str
    # what makes the post done (its ts recorded, or the row finished some other way)
    done: str


_COLUMNS = {
    ClaimTable.RESULTS: _Columns(claimed_at="posted_at", done="posted_ts IS NOT NULL"),
    ClaimTable.AB_PAIRS: _Columns(
        claimed_at="post_claimed_at", done="message_ts IS NOT NULL OR done_at IS NOT NULL"
    ),
    ClaimTable.SIMULATION_TURNS: _Columns(
        claimed_at="posted_at", done="posted_ts IS NOT NULL OR post_unconfirmed"
    ),
}


class PostClaim(Enum):
    """What a thread post's job may do now."""

    # nobody claimed it: this caller posts
    POST = "post"
    # claimed longer than the lease ago and no ts recorded: the claimant died (or froze) before
    # or after Slack took the message; this caller looks for it in the thread before posting
    LOOK_FIRST = "look_first"
    # claimed less than the lease ago, no ts yet: ask again later (`wait_s`)
    WAIT = "wait"
    # posted (its ts is recorded)
    DONE = "done"


@dataclass(frozen=True, slots=True)
class PostState:
    claim: PostClaim
    wait_s: float = 0.0
    # the claim's timestamp (POST and LOOK_FIRST): what `renew` compares against
    token: datetime | None = None


async def claim(
    pool: asyncpg.Pool, *, table: ClaimTable, team_id: str, row_id: int, lease_s: float
) -> PostState:
    """Claim the row's thread post (row lock: one caller at a time). A claim older than
    `lease_s` without a recorded post is taken again, with LOOK_FIRST."""
    t, cols = ClaimTable(table).value, _COLUMNS[ClaimTable(table)]
    async with pool.acquire() as con, con.transaction():
        row = await con.fetchrow(
            f"""
            SELECT {cols.done} AS done, {cols.claimed_at} IS NULL AS free,
                   extract(epoch FROM now() - {cols.claimed_at})::float8 AS age_s
            FROM {t} WHERE team_id = $1 AND id = $2 FOR UPDATE
            """,
            team_id,
            row_id,
        )
        if row is None or row["done"]:
            return PostState(PostClaim.DONE)
        if not row["free"] and row["age_s"] < lease_s:
            return PostState(PostClaim.WAIT, wait_s=lease_s - row["age_s"])
        token = await con.fetchval(
            f"UPDATE {t} SET {cols.claimed_at} = clock_timestamp()"
            f" WHERE team_id = $1 AND id = $2 RETURNING {cols.claimed_at}",
            team_id,
            row_id,
        )
        return PostState(PostClaim.POST if row["free"] else PostClaim.LOOK_FIRST, token=token)


class Renewal(Enum):
    RENEWED = "renewed"
    # another caller took the claim over, or the post is done: this caller must not send
    TAKEN = "taken"
    # still this caller's but older than the lease: nobody took it over yet, but someone may
    # at any moment; this caller must not send now (its job asks again, and looks first)
    LAPSED = "lapsed"


@dataclass(frozen=True, slots=True)
class Renewed:
    outcome: Renewal
    token: datetime | None = None


async def renew(
    pool: asyncpg.Pool,
    *,
    table: ClaimTable,
    team_id: str,
    row_id: int,
    token: datetime,
    lease_s: float,
) -> Renewed:
    """Compare-and-set: the claim is still this caller's (`token`), younger than `lease_s` and
    not posted; its lease starts again now, under a new token."""
    t, cols = ClaimTable(table).value, _COLUMNS[ClaimTable(table)]
    async with pool.acquire() as con, con.transaction():
        row = await con.fetchrow(
            f"""
            SELECT {cols.claimed_at} IS NOT DISTINCT FROM $3 AND NOT ({cols.done}) AS mine,
                   {cols.claimed_at} > clock_timestamp() - make_interval(secs => $4) AS live
            FROM {t} WHERE team_id = $1 AND id = $2 FOR UPDATE
            """,
            team_id,
            row_id,
            token,
            lease_s,
        )
        if row is None or not row["mine"]:
            return Renewed(Renewal.TAKEN)
        if not row["live"]:
            return Renewed(Renewal.LAPSED)
        renewed: datetime = await con.fetchval(
            f"UPDATE {t} SET {cols.claimed_at} = clock_timestamp()"
            f" WHERE team_id = $1 AND id = $2 RETURNING {cols.claimed_at}",
            team_id,
            row_id,
        )
        return Renewed(Renewal.RENEWED, renewed)
