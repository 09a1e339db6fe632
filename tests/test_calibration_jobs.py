"""Calibration sweeps as jobs on the queue: each cell's job safe to run twice, a sweep through the
real worker reported as the in-process sweep computes it, a killed worker's cells answered by
another process (0 lost, 0 duplicated), a cell failing on our side reported as missing, and a
deleted profile version ending the sweep with a clear message."""

from __future__ import annotations

import asyncio
import os
import re
import signal
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from pgqueuer import RetryRequested

from bot.blocks.common import escape
from bot.domain.calibration_runs import CellKey
from bot.jobs import calibration_cell, worker
from bot.jobs.budget import model_budget
from bot.jobs.slack_clients import SlackClients
from bot.jobs.worker import MAX_ATTEMPTS, Worker, options_from
from bot.metrics.calibration import calibrate, summary_lines, to_json
from bot.model.llm import LLM
from bot.persona.versions import resolve_version
from bot.scenarios import calibration_report
from bot.scenarios.calibration import sweep
from bot.scenarios.calibration_report import progress_words
from storage import calibration_runs as calibration_repo
from storage import scenarios as scenarios_repo
from storage.calibration_runs import CellProgress
from tests.fake_openai import FakeOpenAI
from tests.fake_slack import FakeSlack
from tests.slack_driver import TEAM, SlackDriver
from tests.test_jobs import idle, quick, start_worker, until  # noqa: F401  (fixtures)

SWEEP = "calibrate formality Support Product inquiry samples {samples}"


async def queued_sweep(driver: SlackDriver, *, samples: int = 1) -> int:
    """A sweep started from Slack whose cells wait in the queue (no worker runs yet)."""
    await driver.reply_text("new Support")
    await driver.command(SWEEP.format(samples=samples))

    async def queued() -> bool:
        return bool(
            await driver.pool.fetchval(
                "SELECT count(*) FROM pgqueuer WHERE entrypoint = 'calibration_cell'"
            )
        )

    await until(queued, what="the sweep's jobs")
    run_id: int = await driver.pool.fetchval("SELECT id FROM calibration_runs")
    return run_id


async def cell_payloads(pool: asyncpg.Pool) -> list[bytes]:
    rows = await pool.fetch(
        "SELECT payload FROM pgqueuer WHERE entrypoint = 'calibration_cell' ORDER BY id"
    )
    return [r["payload"] for r in rows]


async def finished(pool: asyncpg.Pool, *, timeout: float = 30.0) -> asyncpg.Record:
    async def done() -> bool:
        status = await pool.fetchval("SELECT status FROM calibration_runs")
        return status in {"completed", "failed"}

    await until(done, timeout=timeout, what="the sweep to end")
    row: asyncpg.Record = await pool.fetchrow("SELECT * FROM calibration_runs")
    return row


def figure_posts(driver: SlackDriver) -> list[str]:
    return [
        str(c.args["text"])
        for c in driver.slack.of("chat.postMessage")
        if c.args.get("thread_ts") is not None and "Spearman" in str(c.args.get("text"))
    ]


def parent_edits(driver: SlackDriver) -> list[str]:
    return [str(c.args.get("text")) for c in driver.slack.of("chat.update")]


async def test_a_cell_job_run_twice_answers_and_stores_once(
    idle: SlackDriver,  # noqa: F811
    model: FakeOpenAI,
) -> None:
    run_id = await queued_sweep(idle)
    first, second, *_ = await cell_payloads(idle.pool)
    clients = SlackClients(idle.deps.settings, idle.pool)
    await calibration_cell.handle(idle.deps, clients, first)
    assert len(model.requests) == 2  # the answer and the trait judge
    # a retry (its worker died after storing the cell, say) finds the cell stored
    await calibration_cell.handle(idle.deps, clients, first)
    assert len(model.requests) == 2
    # the same job picked twice at once: both may answer, the cell is stored once
    await asyncio.gather(
        calibration_cell.handle(idle.deps, clients, second),
        calibration_cell.handle(idle.deps, clients, second),
    )
    rows = await idle.pool.fetch(
        "SELECT trait, level, question_idx, sample FROM calibration_cells WHERE run_id = $1",
        run_id,
    )
    assert len(rows) == len({tuple(r) for r in rows}) == 2
    assert await idle.pool.fetchval("SELECT count(*) FROM calibrations") == 0


async def test_a_judge_429_retries_the_judge_on_the_kept_answer(
    idle: SlackDriver,  # noqa: F811
    model: FakeOpenAI,
) -> None:
    """The trait judge answers 429 (twice: the judge's own client retries once): the job goes
    back to the queue with the answer kept, and its retry judges that answer; one answer call."""
    run_id = await queued_sweep(idle)
    [payload, *_] = await cell_payloads(idle.pool)
    clients = SlackClients(idle.deps.settings, idle.pool)
    budget = model_budget(idle.deps)
    model.ttft_s = 0.3  # the answer is in flight while the judge's failures are queued
    first = asyncio.create_task(
        calibration_cell.handle(idle.deps, clients, payload, attempts=0, budget=budget)
    )
    await until(lambda: _true(len(model.requests) == 1), what="the answer request")
    model.fail_next("rate_limit", "rate_limit")
    with pytest.raises(RetryRequested):
        await first
    assert await idle.pool.fetchval("SELECT count(*) FROM calibration_cells") == 0
    kept = await idle.pool.fetchval("SELECT answer FROM calibration_answers")
    assert kept == model.replies[0]
    await calibration_cell.handle(idle.deps, clients, payload, attempts=1, budget=budget)
    row = await idle.pool.fetchrow(
        "SELECT outcome, answer, perceived FROM calibration_cells WHERE run_id = $1", run_id
    )
    assert row["outcome"] == "ok" and row["perceived"] is not None
    assert row["answer"] == kept
    answers = [r for r in model.requests if not model.is_judge_request(r)]
    judges = [r for r in model.requests if model.is_judge_request(r)]
    assert len(answers) == 1 and len(judges) == 3  # two 429s, then the judge that answered
    assert await idle.pool.fetchval("SELECT count(*) FROM calibration_answers") == 0


async def _true(value: bool) -> bool:
    return value


async def test_a_sweep_through_the_worker_reports_what_the_in_process_sweep_computes(
    live: SlackDriver, model: FakeOpenAI, llm: LLM
) -> None:
    model.ttft_s = 0.05
    await live.reply_text("new Support")
    await live.command(SWEEP.format(samples=2))
    run = await finished(live.pool)
    assert run["status"] == "completed"
    await live.slack.wait_for(
        lambda s: any("Calibrated formality" in t for t in parent_edits(live)), timeout=10
    )
    queued_requests = len(model.requests)
    assert queued_requests == 60  # each cell answered and judged once
    # the same sweep in this process, as before the queue
    version = await resolve_version(live.pool, team_id=TEAM, spec="Support")
    scenario = await scenarios_repo.find_scenario(live.pool, team_id=TEAM, name="Product inquiry")
    samples, lost = await sweep(
        llm,
        fields=version.fields,
        trait="formality",
        questions=list(dict.fromkeys(scenario.messages)),
        samples=2,
        concurrency=4,
        context_budget_tokens=live.deps.settings.context_budget_tokens,
    )
    expected = calibrate("formality", samples)
    assert lost == 0
    [post] = figure_posts(live)
    assert escape("\n".join(summary_lines(expected))) in post
    assert "First calibration of this trait, profile and scenario" in post
    [stored] = await live.pool.fetch("SELECT * FROM calibrations")
    assert stored["calibration_run_id"] == run["id"] and stored["lost"] == 0
    assert stored["result"] == to_json(expected) | {
        # JSON has lists where the dataclass has tuples
        "levels": stored["result"]["levels"],
        "dead_ranges": [list(r) for r in expected.dead_ranges],
    }
    assert [lv["samples"] for lv in stored["result"]["levels"]] == [6] * 5
    assert len(live.slack.files_posted()) == 1
    # the parent showed the progress before it said it was done
    assert any("samples done" in t for t in parent_edits(live)), parent_edits(live)
    assert "Calibrated formality" in parent_edits(live)[-1]


async def test_a_worker_killed_mid_sweep_loses_and_duplicates_nothing(
    idle: SlackDriver,  # noqa: F811
    model: FakeOpenAI,
    slack: FakeSlack,
    db_dsn: str,
    tmp_path: Path,
) -> None:
    """`romashka worker` in a subprocess, killed with SIGKILL while answering; the cells it
    held are picked again once their heartbeat is 2 s late, by a worker in this process."""
    # slow enough that cells are in flight whenever the kill comes (at 0.3 s + 0.2 s a busy CI
    # machine once saw every picked cell finish between the check and the kill)
    model.ttft_s = 1.0
    model.judge_delay_s = 0.5
    run_id = await queued_sweep(idle, samples=2)  # 3 messages × 5 settings × 2 = 30 cells
    proc = await start_worker(slack, db_dsn, model, tmp_path)
    try:

        async def some_done() -> bool:
            # some cells stored and others being answered: the kill comes mid-sweep
            done = await idle.pool.fetchval("SELECT count(*) FROM calibration_cells")
            picked = await idle.pool.fetchval(
                "SELECT count(*) FROM pgqueuer WHERE status = 'picked'"
            )
            return bool(done >= 3 and picked > 0)

        await until(some_done, timeout=30, what="the subprocess worker's first cells")
        os.kill(proc.pid, signal.SIGKILL)
        await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    held = await idle.pool.fetchval("SELECT count(*) FROM pgqueuer WHERE status = 'picked'")
    done_before = await idle.pool.fetchval("SELECT count(*) FROM calibration_cells")
    assert held > 0 and done_before < 30, "the kill did not come in the middle of the sweep"

    async with Worker(idle.deps, options=options_from(idle.deps)):
        run = await finished(idle.pool, timeout=60)
        await idle.slack.wait_for(
            lambda s: any("Calibrated formality" in t for t in parent_edits(idle)), timeout=10
        )
    assert run["status"] == "completed"
    rows = await idle.pool.fetch(
        "SELECT level, question_idx, sample, outcome FROM calibration_cells WHERE run_id = $1",
        run_id,
    )
    keys = [(r["level"], r["question_idx"], r["sample"]) for r in rows]
    assert len(keys) == len(set(keys)) == 30  # 0 lost, 0 duplicated
    assert all(r["outcome"] == "ok" for r in rows)
    assert await idle.pool.fetchval("SELECT count(*) FROM calibrations") == 1
    [post] = figure_posts(idle)
    assert "n=6" in post and "samples missing" not in post
    assert len(idle.slack.files_posted()) == 1


async def test_a_cell_failing_on_its_last_try_is_reported_as_missing(
    idle: SlackDriver,  # noqa: F811
    model: FakeOpenAI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await queued_sweep(idle)  # 15 cells
    [payload, *_] = await cell_payloads(idle.pool)
    clients = SlackClients(idle.deps.settings, idle.pool)

    async def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("a bug on our side")

    with monkeypatch.context() as patch:
        patch.setattr(calibration_cell, "answer_once", broken)
        # before its last try the failure is raised: the queue tries again later
        with pytest.raises(RuntimeError):
            await calibration_cell.handle(
                idle.deps, clients, payload, attempts=0, max_attempts=MAX_ATTEMPTS
            )
        assert await idle.pool.fetchval("SELECT count(*) FROM calibration_cells") == 0
        await calibration_cell.handle(
            idle.deps, clients, payload, attempts=MAX_ATTEMPTS, max_attempts=MAX_ATTEMPTS
        )
    assert await idle.pool.fetchval("SELECT outcome FROM calibration_cells") == "failed"
    await idle.pool.execute("DELETE FROM pgqueuer WHERE payload = $1", payload)
    async with Worker(idle.deps, options=options_from(idle.deps)):
        run = await finished(idle.pool)
        await idle.slack.wait_for(lambda s: bool(figure_posts(idle)), timeout=10)
    assert run["status"] == "completed"
    [post] = figure_posts(idle)
    assert "(1 of 15 samples missing: their jobs failed after the queue" in post
    # the figures come from the 14 samples there are
    assert sum(int(n) for n in re.findall(r"n=(\d+);", post)) == 14
    assert await idle.pool.fetchval("SELECT lost FROM calibrations") == 1


async def test_a_cell_held_failed_before_answering_is_reported_as_missing(
    idle: SlackDriver,  # noqa: F811
    model: FakeOpenAI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One cell's job fails on every try before it answers (reading its cell): PgQueuer holds
    it as failed, and its hook stores the cell as failed, so the sweep still reports."""
    monkeypatch.setattr(worker, "RETRY_FIRST_DELAY_S", 0.05)
    monkeypatch.setattr(worker, "RETRY_MAX_DELAY_S", 0.05)
    real_has_cell = calibration_repo.has_cell

    async def broken_for_one(*args: Any, key: CellKey, **kwargs: Any) -> bool:
        if (key.level, key.question_idx, key.sample) == (25, 0, 0):
            raise asyncpg.exceptions.ConnectionDoesNotExistError("gone")
        return await real_has_cell(*args, key=key, **kwargs)

    monkeypatch.setattr(calibration_repo, "has_cell", broken_for_one)
    await queued_sweep(idle)  # 15 cells
    async with Worker(idle.deps, options=options_from(idle.deps)):
        run = await finished(idle.pool)
        await idle.slack.wait_for(lambda s: bool(figure_posts(idle)), timeout=10)
    assert run["status"] == "completed"
    error = await idle.pool.fetchval(
        "SELECT error FROM calibration_cells WHERE outcome = 'failed' AND level = 25"
    )
    assert error == "its job failed after the queue's retries: the database did not answer"
    [post] = figure_posts(idle)
    assert "(1 of 15 samples missing" in post
    assert "Calibrated formality" in parent_edits(idle)[-1]


async def test_a_report_failing_on_every_try_stops_the_sweep_with_what_to_do(
    idle: SlackDriver,  # noqa: F811
    model: FakeOpenAI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The report of the last cell fails on every try: the sweep does not stay
    "Calibrating…"; it stops and its parent says why and what to do."""
    monkeypatch.setattr(worker, "RETRY_FIRST_DELAY_S", 0.05)
    monkeypatch.setattr(worker, "RETRY_MAX_DELAY_S", 0.05)

    async def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("a bug in the report")

    monkeypatch.setattr(calibration_report, "report", broken)
    await queued_sweep(idle)
    async with Worker(idle.deps, options=options_from(idle.deps)):
        run = await finished(idle.pool)
        await idle.slack.wait_for(
            lambda s: any("stopped" in t for t in parent_edits(idle)), timeout=10
        )
    assert run["status"] == "failed"
    assert await idle.pool.fetchval("SELECT count(*) FROM calibration_cells") == 15
    assert parent_edits(idle)[-1] == (
        "Calibration of formality on Support v1 stopped: its report could not be made after "
        "the queue's retries (an internal error (RuntimeError; the log has the details)); "
        "start the calibration again."
    )


async def test_a_deleted_profile_version_ends_the_sweep_clearly(
    idle: SlackDriver,  # noqa: F811
    model: FakeOpenAI,
) -> None:
    run_id = await queued_sweep(idle)
    # versions go only with their workspace's data; here the version alone goes
    async with idle.pool.acquire() as con, con.transaction():
        await con.execute(
            "UPDATE workspaces SET default_profile_id = NULL WHERE team_id = $1", TEAM
        )
        await con.execute("DELETE FROM profiles WHERE team_id = $1", TEAM)

    async def queue_empty() -> bool:
        left = await idle.pool.fetchval(
            "SELECT count(*) FROM pgqueuer WHERE dedupe_key LIKE $1",
            f"calibration-cell:{TEAM}:{run_id}:%",
        )
        return bool(left == 0)

    async with Worker(idle.deps, options=options_from(idle.deps)):
        run = await finished(idle.pool)
        await idle.slack.wait_for(
            lambda s: any("stopped" in t for t in parent_edits(idle)), timeout=10
        )
        # the waiting cells were deleted with the failure; those picked meanwhile end at once
        await until(queue_empty, what="the sweep's jobs to go")
    assert run["status"] == "failed"
    assert parent_edits(idle)[-1] == (
        "Calibration of formality on Support v1 stopped: "
        "its profile version (Support v1) was deleted."
    )
    assert parent_edits(idle).count(parent_edits(idle)[-1]) == 1  # said once
    assert model.requests == []
    assert await idle.pool.fetchval("SELECT count(*) FROM calibration_cells") == 0


@pytest.mark.parametrize(
    ("counts", "words"),
    [
        ((0, 0, 0, 0, 30), "0/30 samples done"),
        ((12, 0, 4, 14, 30), "12/30 samples done (4 running, 14 waiting)"),
        ((29, 1, 0, 0, 30), "29/30 samples done (1 failed)"),
    ],
)
def test_progress_words(counts: tuple[int, ...], words: str) -> None:
    done, failed, running, waiting, total = counts
    p = CellProgress(
        done=done, no_levels=0, failed=failed, running=running, waiting=waiting, total=total
    )
    assert progress_words(p) == words
