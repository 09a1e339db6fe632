"""The job that opens an A/B test for voting failing on every try (issue #16): after its last
try, and one more attempt, the starter is told why and what still works."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from bot.jobs import ab_pair, gave_up, worker
from bot.jobs.worker import Worker, options_from
from storage import ab_jobs as ab_jobs_repo
from tests.slack_driver import SlackDriver
from tests.test_ab_jobs import idle, queued_test, quick  # noqa: F401  (fixtures)
from tests.test_jobs import until


async def test_a_test_that_cannot_be_opened_tells_its_starter_why(
    idle: SlackDriver,  # noqa: F811
    pool: asyncpg.Pool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(worker, "RETRY_FIRST_DELAY_S", 0.05)
    monkeypatch.setattr(worker, "RETRY_MAX_DELAY_S", 0.05)

    async def finish_fails(*_: Any, **__: Any) -> str | None:
        raise asyncpg.exceptions.ConnectionDoesNotExistError("closed; password=hunter2")

    monkeypatch.setattr(ab_jobs_repo, "finish_answering", finish_fails)
    test = await queued_test(idle, 1)
    async with Worker(idle.deps, options=options_from(idle.deps)):

        def told() -> list[Any]:
            return [
                c
                for c in idle.slack.of("chat.postEphemeral")
                if f"A/B test #{test['id']}: voting could not be" in str(c.args.get("text"))
            ]

        async def starter_told() -> bool:
            return bool(told())

        await until(starter_told, timeout=30, what="the starter to be told")
    [note] = told()
    assert note.args["user"] == test["started_by"]
    assert note.args["text"] == ab_pair.VOTING_NOT_SHOWN.format(
        ab_id=test["id"], reason=gave_up.DATABASE
    )
    assert "hunter2" not in note.args["text"]
    # the pair itself was posted once; the test did not open behind anyone's back
    assert await pool.fetchval("SELECT status FROM ab_tests") == "answering"
