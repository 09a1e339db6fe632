"""An A/B test and its votes, as the repositories hand them out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class AbTest:
    id: int
    team_id: str
    version_a_id: int
    version_b_id: int
    started_by: str
    started_at: datetime
    channel_id: str
    parent_ts: str | None
    status: str
    closed_by: str | None
    closed_at: datetime | None
    verdict: dict[str, Any] | None
    verdict_code: str | None
    failure_reason: str | None


@dataclass(frozen=True, slots=True)
class AbMessage:
    id: int
    ab_test_id: int
    position: int
    message: str
    a_first: bool
    result_a_id: int | None
    result_b_id: int | None
    message_ts: str | None
    judge_verdict: str | None
    judge_detail: dict[str, Any] | None
    failure: str | None
    # claimed before its thread message is posted (at most once), and its job through with it
    post_claimed_at: datetime | None = None
    done_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Participation:
    """Who took part, and nothing about what they chose: safe to show while voting is open."""

    votes: int
    voters: int
    per_message: list[int]  # votes on each message, by position
    unanswered: int  # pairs that could not be answered or posted


@dataclass(frozen=True, slots=True)
class PairProgress:
    """A test's pairs while it answers, from its rows and the job queue: posted, failed, being
    written, waiting for a worker. Nothing in it depends on which reply is A."""

    posted: int
    failed: int
    running: int
    waiting: int
    total: int


@dataclass(frozen=True, slots=True)
class Tally:
    a: int
    b: int
    tie: int
    both_bad: int
    voters: int


@dataclass(frozen=True, slots=True)
class Vote:
    ab_message_id: int
    user_id: str
    choice: str


@dataclass(frozen=True, slots=True)
class VoteOutcome:
    """`recorded` False means the test is closed (or not open yet): nothing was written."""

    recorded: bool
    status: str
    test: AbTest
    message: AbMessage
