"""Stop on a calibration sweep's parent message (issue #16): the sweep is marked stopped and its
waiting cell jobs deleted in one transaction, a cell being answered finishes but reports nothing,
a cell job that starts afterwards does nothing, the parent says who stopped it after how many
samples (once, as its last edit), and no figures are posted. Stop twice stops once; a click
from another workspace stops nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from bot import ids
from bot.jobs import calibration_cell
from bot.jobs.slack_clients import SlackClients
from bot.jobs.worker import Worker, options_from
from storage import calibration_runs as calibration_repo
from tests.fake_openai import FakeOpenAI
from tests.slack_driver import OTHER_TEAM, TEAM, USER, SlackDriver
from tests.test_calibration_jobs import cell_payloads, figure_posts, queued_sweep
from tests.test_jobs import idle, quick, until  # noqa: F401  (fixtures)


def parent_updates(driver: SlackDriver) -> list[dict[str, Any]]:
    """The parent's edits Slack accepted, oldest first (the sweep's only chat.update target)."""
    return [c.args for c in driver.slack.of("chat.update") if c.response.get("ok")]


def stop_buttons(update: dict[str, Any]) -> list[str]:
    return [
        str(e["value"])
        for b in update.get("blocks") or []
        if b.get("type") == "actions"
        for e in b["elements"]
        if e.get("action_id") == ids.CALIBRATION_STOP
    ]


def without_stop(update: dict[str, Any]) -> bool:
    """The edit replaces the parent's blocks (chat.update keeps them unless given others) with
    blocks that have no Stop."""
    return isinstance(update.get("blocks"), list) and stop_buttons(update) == []


def stopped_edits(driver: SlackDriver) -> list[dict[str, Any]]:
    return [u for u in parent_updates(driver) if "stopped by" in str(u.get("text"))]


async def stop_replies(driver: SlackDriver, *clicks: dict[str, Any]) -> list[str]:
    """Press Stop once per `clicks` (the click's arguments), all at once; what each was told."""
    before = len(driver.slack.responses)
    await asyncio.gather(*(driver.click(ids.CALIBRATION_STOP, **c) for c in clicks))
    await driver.slack.wait_responses(before + len(clicks))
    return [str(c.args.get("text")) for c in driver.slack.responses[before:]]


async def queued_jobs(pool: asyncpg.Pool, run_id: int) -> int:
    n: int = await pool.fetchval(
        "SELECT count(*) FROM pgqueuer WHERE dedupe_key LIKE $1 AND status = 'queued'",
        f"calibration-cell:{TEAM}:{run_id}:%",
    )
    return n


async def stored_cells(pool: asyncpg.Pool) -> int:
    n: int = await pool.fetchval("SELECT count(*) FROM calibration_cells")
    return n


async def test_the_parent_shows_a_stop_for_its_sweep(
    idle: SlackDriver,  # noqa: F811
) -> None:
    run_id = await queued_sweep(idle)
    [update] = parent_updates(idle)
    assert stop_buttons(update) == [str(run_id)]
    assert str(update["text"]).startswith("Calibrating formality on Support v1:")


async def test_stop_mid_sweep_runs_nothing_new_and_posts_no_figures(
    idle: SlackDriver,  # noqa: F811
    model: FakeOpenAI,
) -> None:
    model.ttft_s = 0.3  # 30 cells, a few at once: the Stop comes with cells in flight
    run_id = await queued_sweep(idle, samples=2)
    async with Worker(idle.deps, options=options_from(idle.deps)):

        async def some_done() -> bool:
            return await stored_cells(idle.pool) >= 3

        await until(some_done, what="the first cells")
        [reply] = await stop_replies(idle, {"value": str(run_id)})
        # nothing waits in the queue from the moment Stop answered
        assert await queued_jobs(idle.pool, run_id) == 0
        run = await idle.pool.fetchrow("SELECT * FROM calibration_runs WHERE id = $1", run_id)
        assert (run["status"], run["stopped_by"]) == ("stopped", USER)
        done_at_stop = int(reply.split(" after ")[1].split(" of ")[0])
        assert reply == f"Stopped calibration #{run_id} after {done_at_stop} of 30 samples."

        async def settled() -> bool:
            # the cells being answered when Stop came finish; nothing new is picked
            return not await idle.pool.fetchval(
                "SELECT count(*) FROM pgqueuer WHERE entrypoint = 'calibration_cell'"
            )

        await until(settled, what="the cells in flight")
        settled_cells, settled_calls = await stored_cells(idle.pool), len(model.requests)
        await asyncio.sleep(1.0)  # a worker that would still pick something has had the time
    after = await stored_cells(idle.pool)
    assert after == settled_cells and len(model.requests) == settled_calls
    # only the cells in flight at the Stop were answered after it, each once (answer + judge)
    assert 3 <= done_at_stop <= after < 30
    assert len(model.requests) == 2 * after
    # at most the cells running at once (SCENARIO_CONCURRENCY) were in flight
    assert after - done_at_stop <= options_from(idle.deps).scenario_concurrency
    # the parent: said stopped once, as its last edit, without the Stop; no figures anywhere
    [stopped] = stopped_edits(idle)
    assert parent_updates(idle)[-1] is stopped
    assert without_stop(stopped)
    assert stopped["text"] == (
        f"Calibration #{run_id} on *Support v1*: formality — stopped by <@{USER}> after "
        f"{done_at_stop} of 30 samples; no figures are posted for a stopped sweep."
    )
    assert figure_posts(idle) == [] and idle.slack.files_posted() == []
    assert await idle.pool.fetchval("SELECT count(*) FROM calibrations") == 0
    assert await idle.pool.fetchval("SELECT status FROM calibration_runs") == "stopped"


async def test_a_cell_in_flight_at_the_stop_finishes_but_the_sweep_is_not_reported(
    idle: SlackDriver,  # noqa: F811
    model: FakeOpenAI,
) -> None:
    """The last cell is being answered when Stop comes: once stored, every cell is there, and
    the report's claim must still not fire for a stopped sweep."""
    run_id = await queued_sweep(idle)  # 15 cells
    *first, last = await cell_payloads(idle.pool)
    clients = SlackClients(idle.deps.settings, idle.pool)
    for payload in first:
        await calibration_cell.handle(idle.deps, clients, payload)
    model.ttft_s = 1.0
    in_flight = asyncio.create_task(calibration_cell.handle(idle.deps, clients, last))
    await until(lambda: _true(len(model.requests) == 29), what="the last cell's answer call")
    assert await stop_replies(idle, {"value": str(run_id)}) == [
        f"Stopped calibration #{run_id} after 14 of 15 samples."
    ]
    edits_at_stop = len(parent_updates(idle))
    # the once-a-second progress edit is free when the cell ends: it must still edit nothing
    await idle.pool.execute("UPDATE calibration_runs SET progress_at = NULL")
    await in_flight
    assert await stored_cells(idle.pool) == 15  # it finished and was stored
    assert not await calibration_repo.claim_report(
        idle.pool, team_id=TEAM, run_id=run_id, total=15, reporter="anyone"
    )
    assert figure_posts(idle) == [] and idle.slack.files_posted() == []
    assert await idle.pool.fetchval("SELECT count(*) FROM calibrations") == 0
    assert await idle.pool.fetchval("SELECT status FROM calibration_runs") == "stopped"
    # it edited nothing after the Stop: the stopped parent is the last edit
    assert len(parent_updates(idle)) == edits_at_stop
    assert parent_updates(idle)[-1] is stopped_edits(idle)[0]


async def test_a_cell_job_that_starts_after_the_stop_does_nothing(
    idle: SlackDriver,  # noqa: F811
    model: FakeOpenAI,
) -> None:
    """A worker picked a cell just before the Stop deleted it, and starts it just after."""
    run_id = await queued_sweep(idle)
    [payload, *_] = await cell_payloads(idle.pool)
    assert await stop_replies(idle, {"value": str(run_id)}) == [
        f"Stopped calibration #{run_id} after 0 of 15 samples."
    ]
    edits = len(parent_updates(idle))
    await calibration_cell.handle(idle.deps, SlackClients(idle.deps.settings, idle.pool), payload)
    assert model.requests == []
    assert await stored_cells(idle.pool) == 0
    assert len(parent_updates(idle)) == edits
    # and a worker started now finds nothing of the sweep to run
    async with Worker(idle.deps, options=options_from(idle.deps)):
        await asyncio.sleep(0.5)
    assert model.requests == [] and await stored_cells(idle.pool) == 0


async def test_stop_twice_stops_once(
    idle: SlackDriver,  # noqa: F811
) -> None:
    run_id = await queued_sweep(idle)
    both = await stop_replies(idle, {"value": str(run_id)}, {"value": str(run_id)})
    assert sorted(both) == [
        f"Calibration #{run_id} was stopped already.",
        f"Stopped calibration #{run_id} after 0 of 15 samples.",
    ]
    assert len(stopped_edits(idle)) == 1
    assert await queued_jobs(idle.pool, run_id) == 0
    assert await stop_replies(idle, {"value": str(run_id)}) == [
        f"Calibration #{run_id} was stopped already."
    ]
    assert len(stopped_edits(idle)) == 1


async def test_stop_from_another_workspace_stops_nothing(
    idle: SlackDriver,  # noqa: F811
) -> None:
    run_id = await queued_sweep(idle)
    edits = len(parent_updates(idle))
    [reply] = await stop_replies(idle, {"value": str(run_id), "team": OTHER_TEAM})
    assert f"There is no calibration #{run_id} in this workspace." in reply
    assert await idle.pool.fetchval("SELECT status FROM calibration_runs") == "running"
    assert await queued_jobs(idle.pool, run_id) == 15
    assert len(parent_updates(idle)) == edits


async def test_stop_leaves_a_sweep_of_the_cli_to_the_cli(
    idle: SlackDriver,  # noqa: F811
) -> None:
    """`romashka calibrate` waits for its sweep's report: a forged click on its id stops
    nothing (its sweep has no parent message, so no Stop)."""
    run_id = await queued_sweep(idle)
    await idle.pool.execute("UPDATE calibration_runs SET channel_id = NULL, thread_ts = NULL")
    [reply] = await stop_replies(idle, {"value": str(run_id)})
    assert f"Calibration #{run_id} runs from `romashka calibrate`; stop it there." in reply
    assert await idle.pool.fetchval("SELECT status FROM calibration_runs") == "running"
    assert await queued_jobs(idle.pool, run_id) == 15


async def test_stop_after_the_sweep_finished_changes_nothing(
    idle: SlackDriver,  # noqa: F811
    model: FakeOpenAI,
) -> None:
    run_id = await queued_sweep(idle)
    clients = SlackClients(idle.deps.settings, idle.pool)
    for payload in await cell_payloads(idle.pool):
        await calibration_cell.handle(idle.deps, clients, payload)
    assert await idle.pool.fetchval("SELECT status FROM calibration_runs") == "completed"
    done = parent_updates(idle)[-1]
    assert "Calibrated formality" in str(done["text"]) and without_stop(done)
    assert await stop_replies(idle, {"value": str(run_id)}) == [
        f"Calibration #{run_id} has finished; nothing to stop."
    ]
    assert parent_updates(idle)[-1] is done
    assert len(figure_posts(idle)) == 1


async def _true(value: bool) -> bool:
    return value
