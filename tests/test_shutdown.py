"""SIGTERM in both modes: an idle keep-alive connection or an open socket is not work, so an
idle process exits at once; an answer in flight is waited for; the jobs of a scenario run cut
off by the grace period go back to the queue while the database is still there. Timings are gross
ordering only: "well under the 30 s grace" against "waited the whole grace"."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from bot.jobs.worker import Worker, options_from
from bot.model.llm import LLM
from bot.startup.server import serve_socket_mode
from bot.startup.settings import Settings
from tests.fake_openai import FakeOpenAI
from tests.fake_slack import FakeSlack
from tests.slack_driver import CHANNEL, SIGNING_SECRET, TEAM, USER, SlackDriver
from tests.test_cli import CLEAN_ENV, free_port, post_command, start_app
from tests.test_scenarios import run_done

# the grace period is 30 s: an exit this much faster did not wait for an idle connection
WELL_UNDER_GRACE_S = 15.0


def app_env(slack: FakeSlack, db_dsn: str, model: FakeOpenAI, **extra: str) -> dict[str, str]:
    return {
        **CLEAN_ENV,
        "SLACK_BOT_TOKEN": "xoxb-stop-SECRET",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "DATABASE_URL": db_dsn,
        "OPENAI_BASE_URL": model.base_url,
        "OPENAI_API_KEY": "sk-stop-SECRET",
        **extra,
    }


async def sigterm(proc: asyncio.subprocess.Process) -> tuple[float, str]:
    """Seconds from SIGTERM to exit, and what the process printed."""
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=45)
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, out.decode()[-2000:]
    return elapsed, out.decode()


async def until(check: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def keep_alive_session() -> aiohttp.ClientSession:
    """A client that keeps its connection open and idle between requests for a minute, as a
    load balancer's pool does (aiohttp's own default gives up after 15 s)."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(keepalive_timeout=60))


async def stored_answer(db_dsn: str) -> str | None:
    con = await asyncpg.connect(db_dsn)
    try:
        answer: str | None = await con.fetchval("SELECT answer FROM test_results")
        return answer
    finally:
        await con.close()


# ---- HTTP mode --------------------------------------------------------------------------------


async def test_http_sigterm_with_an_idle_keep_alive_connection_exits_at_once(
    tmp_path: Path, slack: FakeSlack, db_dsn: str, model: FakeOpenAI
) -> None:
    port = free_port()
    proc = await start_app(app_env(slack, db_dsn, model, PORT=str(port)), port, tmp_path)
    async with keep_alive_session() as http:
        async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
            assert r.status == 200
        elapsed, out = await sigterm(proc)
    assert elapsed < 5.0, f"took {elapsed:.1f} s to stop with nothing to do"
    assert "waiting up to" not in out  # nothing was counted as work in flight


async def test_http_sigterm_waits_for_the_answer_in_flight_not_for_idle_connections(
    tmp_path: Path, slack: FakeSlack, db_dsn: str, model: FakeOpenAI
) -> None:
    port = free_port()
    proc = await start_app(app_env(slack, db_dsn, model, PORT=str(port)), port, tmp_path)
    async with keep_alive_session() as idle:
        async with idle.get(f"http://127.0.0.1:{port}/healthz") as r:
            assert r.status == 200  # this connection stays open, idle, through the shutdown
        assert await post_command(port, slack, "new Support") == 200
        await slack.wait_responses(1, timeout=10)
        model.ttft_s = 2.0
        assert await post_command(port, slack, "test Where is my order?") == 200
        await until(lambda: bool(model.requests))
        elapsed, out = await sigterm(proc)  # while the model is still thinking
    assert slack.of("chat.stopStream"), "the answer was cut off by the shutdown"
    assert await stored_answer(db_dsn)
    assert elapsed < WELL_UNDER_GRACE_S, f"took {elapsed:.1f} s: it waited for an idle connection"
    assert "finishing work in flight" in out


# ---- Socket Mode ------------------------------------------------------------------------------


async def start_socket_app(env: dict[str, str], slack: FakeSlack, cwd: Path) -> Any:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        env={**env, "SLACK_APP_TOKEN": "xapp-1-stop-SECRET"},
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        await slack.wait_for(lambda s: bool(s.sockets), timeout=30)
    except AssertionError:
        proc.kill()
        raise
    return proc


def command_payload(slack: FakeSlack, text: str, key: str) -> dict[str, str]:
    return {
        "token": "legacy-unused",
        "team_id": TEAM,
        "channel_id": CHANNEL,
        "user_id": USER,
        "command": "/bot",
        "text": text,
        "api_app_id": "A0001",
        "response_url": slack.response_url(key),
        "trigger_id": f"trigger-{key}",
    }


async def socket_command(slack: FakeSlack, text: str, key: str) -> None:
    envelope = await slack.send_envelope("slash_commands", command_payload(slack, text, key))
    await slack.wait_for(
        lambda s: any(a.get("envelope_id") == envelope for a in s.socket_acks), timeout=10
    )


async def test_socket_mode_sigterm_when_idle_exits_at_once(
    tmp_path: Path, slack: FakeSlack, db_dsn: str, model: FakeOpenAI
) -> None:
    proc = await start_socket_app(app_env(slack, db_dsn, model), slack, tmp_path)
    elapsed, out = await sigterm(proc)
    assert elapsed < 5.0, f"took {elapsed:.1f} s to stop with nothing to do"
    assert "waiting up to" not in out


async def test_socket_mode_sigterm_waits_for_the_answer_in_flight(
    tmp_path: Path, slack: FakeSlack, db_dsn: str, model: FakeOpenAI
) -> None:
    proc = await start_socket_app(app_env(slack, db_dsn, model), slack, tmp_path)
    await socket_command(slack, "new Support", "s1")
    await slack.wait_responses(1, timeout=10)
    model.ttft_s = 2.0
    await socket_command(slack, "test Where is my order?", "s2")
    await until(lambda: bool(model.requests))
    elapsed, out = await sigterm(proc)  # while the model is still thinking
    assert slack.of("chat.stopStream"), "the answer was cut off by the shutdown"
    assert await stored_answer(db_dsn)
    assert elapsed < WELL_UNDER_GRACE_S
    assert "finishing work in flight" in out


async def test_socket_mode_jobs_cut_off_by_the_grace_period_go_back_to_the_queue(
    settings: Settings, pool: asyncpg.Pool, slack: FakeSlack, llm: LLM, model: FakeOpenAI
) -> None:
    live = SlackDriver.build(settings=settings, pool=pool, slack=slack, llm=llm)
    worker = Worker(live.deps, options=options_from(live.deps))
    await worker.start()

    async def stop_worker(grace_s: float) -> None:
        await worker.stop(grace_s=grace_s)

    stop = asyncio.Event()
    serving = asyncio.create_task(
        serve_socket_mode(
            live.app, app_token="xapp-1-test", stop=stop, grace_s=0.5, stop_worker=stop_worker
        )
    )
    await live.slack.wait_for(lambda s: bool(s.sockets), timeout=10)
    await socket_command(live.slack, "new Support", "s1")
    await live.slack.wait_responses(1)
    model.ttft_s = 30.0  # far longer than the grace period
    await socket_command(live.slack, "scenario run all", "s2")
    await until(lambda: bool(model.requests))
    stop.set()
    await asyncio.wait_for(serving, timeout=15)
    # by the time serving returns (and the pool would be closed), every job is back in the
    # queue for another process: none is left picked by this one, none was lost
    jobs = await live.pool.fetch("SELECT status FROM pgqueuer")
    assert [j["status"] for j in jobs] == ["queued"] * 9
    assert await live.pool.fetchval("SELECT status FROM scenario_runs") == "running"
    # another process (here: a new worker) answers them, each once
    model.ttft_s = 0.0
    async with Worker(live.deps, options=options_from(live.deps)):
        [run] = await run_done(live.pool)
    assert run["status"] == "completed"
    assert await live.pool.fetchval("SELECT count(*) FROM test_results") == 9
