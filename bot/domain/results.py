"""One stored answer and the feedback on it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class TestResult:
    __test__ = False  # a row type, not a pytest test class

    id: int
    team_id: str
    profile_version_id: int
    kind: str
    channel_id: str | None
    thread_ts: str | None
    message_ts: str | None
    user_id: str
    question: str
    answer: str
    model: str | None
    total_ms: float | None
    ttft_ms: float | None
    prompt_tokens: int | None
    completion_tokens: int | None
    confidence: float | None
    proxies: dict[str, float | None] | None
    analysis: dict[str, object] | None
    alignment: float | None
    analysis_error: str | None
    interrupted: bool
    error_kind: str | None
    error: str | None
    dropped_turns: int
    created_at: datetime
    run_id: int | None = None
    scenario_id: int | None = None
    scenario_name: str | None = None
    position: int | None = None
    behaviour_results: list[dict[str, object]] | None = None
    knowledge_given: list[str] | None = None
    knowledge_used: list[str] | None = None
    finish_reason: str | None = None
    token_limit: int | None = None
    judge_outcomes: dict[str, str] | None = None
    # when the run's job was through with it (answer and judges stored); None outside runs
    done_at: datetime | None = None
    # when it was claimed for posting in the run's thread (at most once)
    posted_at: datetime | None = None
    # the ts of that thread post once Slack took it ("" for posts made before it was kept)
    posted_ts: str | None = None
    # its claim lapsed where the app could not read the thread to check it: not sent again
    post_unconfirmed: bool = False

    @property
    def cut_off(self) -> bool:
        """The answer stopped at its output limit rather than where the model ended it."""
        return self.finish_reason == "length"


@dataclass(frozen=True, slots=True)
class FeedbackTally:
    up: int
    down: int
